"""The catalog every other part asks: what a code means, whether it is valid, search."""

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from codes.errors import CatalogNotBuiltError, SystemNotLoadedError, UnknownCodeError
from codes.folders import read_built_json
from codes.normalize import normalize_code
from codes.pcs_structure import PcsStructure, load_pcs_structure
from codes.records import CodeRecord
from codes.search import SearchIndex
from codes.store import CatalogStore
from codes.systems import CodeSystem

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DATABASE = "catalog.sqlite"
FORMAT_VERSION = 1


def search_index_path(folder: Path, system: CodeSystem) -> Path:
    return folder / f"search-{system.value}.npz"


@dataclass(frozen=True, slots=True)
class CodeSummary:
    system: CodeSystem
    code: str
    description: str
    billable: bool
    kind: str
    parent: str | None


def _default_rank(child: "CodeSummary") -> int:
    """How surely a child is its heading's catch-all code (0: not at all)."""
    lowered = child.description.lower()
    if lowered.endswith("unspecified"):
        return 3
    if ", unspecified" in lowered and child.code.endswith("9"):  # .9 is the usual catch-all
        return 2
    return 1 if ", unspecified" in lowered or "without complication" in lowered else 0


class Validity(StrEnum):
    BILLABLE = "billable"
    NOT_BILLABLE = "valid_not_billable"  # a real header: chapter, block, category, table
    INVALID = "invalid"  # well-formed, but no such code
    MALFORMED = "malformed"  # not even shaped like a code of the system


@dataclass(frozen=True, slots=True)
class Validation:
    system: CodeSystem
    input: str
    code: str | None
    validity: Validity
    reason: str


class CodeTable:
    """One system's codes as parallel columns: fast to load, summaries made on demand."""

    def __init__(self, system: CodeSystem, columns: dict[str, list[Any]]) -> None:
        self.system = system
        self.codes: list[str] = columns["codes"]
        self.descriptions: list[str] = columns["descriptions"]
        self.billable: list[bool] = columns["billable"]
        self.kinds: list[str] = columns["kinds"]
        self.parents: list[str | None] = columns["parents"]
        self.position = {code: i for i, code in enumerate(self.codes)}
        self._children: dict[str, list[str]] | None = None
        # Summaries made so far: ranking asks for the same few thousand codes on every
        # note, hundreds of times per note. Bounded by the table's size.
        self._summaries: dict[str, CodeSummary] = {}

    def __len__(self) -> int:
        return len(self.codes)

    def get(self, code: str) -> CodeSummary | None:
        summary = self._summaries.get(code)
        if summary is not None:
            return summary
        i = self.position.get(code)
        if i is None:
            return None
        summary = CodeSummary(
            self.system,
            code,
            self.descriptions[i],
            self.billable[i],
            self.kinds[i],
            self.parents[i],
        )
        self._summaries[code] = summary
        return summary

    def children(self, code: str) -> list[str]:
        if self._children is None:  # built on first use; rebuilding twice is harmless
            children: dict[str, list[str]] = {}
            for child, parent in zip(self.codes, self.parents, strict=True):
                if parent:
                    children.setdefault(parent, []).append(child)
            self._children = children
        return sorted(self._children.get(code, []))

    @staticmethod
    def columns(summaries: list[CodeSummary]) -> dict[str, list[Any]]:
        return {
            "codes": [s.code for s in summaries],
            "descriptions": [s.description for s in summaries],
            "billable": [s.billable for s in summaries],
            "kinds": [s.kind for s in summaries],
            "parents": [s.parent for s in summaries],
        }


def table_path(folder: Path, system: CodeSystem) -> Path:
    return folder / f"codes-{system.value}.json"


class Catalog:
    def __init__(
        self,
        folder: Path,
        manifest: dict[str, Any],
        tables: dict[CodeSystem, CodeTable],
        search_indexes: dict[CodeSystem, SearchIndex],
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self._store = CatalogStore(folder / DATABASE)
        self._tables = tables
        self._search = search_indexes

    @classmethod
    def open(cls, folder: Path) -> "Catalog":
        """Load a catalog built by `medcode codes import`."""
        manifest = read_built_json(
            folder / MANIFEST, "code-set catalog", FORMAT_VERSION, CatalogNotBuiltError
        )
        systems = [CodeSystem(name) for name in manifest["systems"]]
        tables = {
            s: CodeTable(s, json.loads(table_path(folder, s).read_text(encoding="utf-8")))
            for s in systems
        }
        search = {s: SearchIndex.load(search_index_path(folder, s)) for s in systems}
        return cls(folder, manifest, tables, search)

    @property
    def systems(self) -> tuple[CodeSystem, ...]:
        return tuple(s for s in CodeSystem if s in self._tables)

    def size(self, system: CodeSystem) -> int:
        return len(self._table(system))

    def has(self, system: CodeSystem) -> bool:
        return system in self._tables

    def _table(self, system: CodeSystem) -> CodeTable:
        try:
            return self._tables[system]
        except KeyError:
            raise SystemNotLoadedError(system) from None

    def get(self, system: CodeSystem, code: str) -> CodeSummary | None:
        """The summary of a canonical code, or None. Cheap: for hot paths."""
        return self._table(system).get(code)

    def summary(self, system: CodeSystem, raw: str) -> CodeSummary:
        """The summary of a code as typed; Malformed/UnknownCodeError otherwise."""
        code = normalize_code(system, raw)
        found = self._table(system).get(code)
        if found is None:
            raise UnknownCodeError(system, code)
        return found

    def record(self, system: CodeSystem, raw: str) -> CodeRecord:
        """Everything known about a code: terms, notes, attributes."""
        code = self.summary(system, raw).code
        record = self._store.record(system, code)
        if record is None:  # the SQLite file changed under a running service
            raise UnknownCodeError(system, code)
        return record

    def records(self, system: CodeSystem) -> list[CodeRecord]:
        """Every record of a system, for building lexicons and models."""
        self._table(system)
        return self._store.records(system)

    def ancestors(self, system: CodeSystem, code: str) -> list[CodeSummary]:
        """Parent first, up to the top of the hierarchy."""
        chain: list[CodeSummary] = []
        summary = self.get(system, code)
        seen = {code}
        while summary is not None and summary.parent and summary.parent not in seen:
            seen.add(summary.parent)
            summary = self.get(system, summary.parent)
            if summary is not None:
                chain.append(summary)
        return chain

    def children(self, system: CodeSystem, code: str) -> list[CodeSummary]:
        table = self._table(system)
        return [s for c in table.children(code) if (s := table.get(c)) is not None]

    def default_code(self, system: CodeSystem, code: str) -> str | None:
        """For a heading, the billable code used when nothing more specific is documented:
        its "unspecified" (or "without complications") child, followed down to a code."""
        summary = self.get(system, code)
        while summary is not None and not summary.billable and summary.kind != "chapter":
            ranked = sorted(
                ((-_default_rank(c), c.code, c) for c in self.children(system, summary.code)),
                key=lambda r: (r[0], r[1]),
            )
            summary = ranked[0][2] if ranked and ranked[0][0] < 0 else None
        return summary.code if summary is not None and summary.code != code else None

    def seventh_characters(self, code: str) -> list[tuple[str, str]]:
        """The 7th-character values that apply to an ICD-10-CM code (its own or inherited)."""
        for summary in [
            self.get(CodeSystem.ICD10CM, code),
            *self.ancestors(CodeSystem.ICD10CM, code),
        ]:
            if summary is None or summary.kind in ("block", "chapter"):
                break
            rules = [
                tuple(value.split("=", 1))
                for name, value in self._store.attributes(CodeSystem.ICD10CM, summary.code)
                if name == "seventh_character"
            ]
            if rules:
                return [(char, meaning) for char, meaning in rules]
        return []

    def validate(self, system: CodeSystem, raw: str) -> Validation:
        try:
            code = normalize_code(system, raw)
        except Exception as exc:  # MalformedCodeError carries the message
            return Validation(system, raw, None, Validity.MALFORMED, str(exc))
        summary = self._table(system).get(code)
        if summary is None:
            return Validation(
                system, raw, code, Validity.INVALID, f"{code} is not a {system.label} code"
            )
        if summary.billable:
            return Validation(system, raw, code, Validity.BILLABLE, f"{code} is billable")
        return Validation(system, raw, code, Validity.NOT_BILLABLE, self._why_not_billable(summary))

    def _why_not_billable(self, summary: CodeSummary) -> str:
        code, system = summary.code, summary.system
        if system is CodeSystem.ICD10CM and summary.kind in ("category", "subcategory"):
            sevenths = self.seventh_characters(code)
            children = self.children(system, code)
            only_extensions = children and all(len(c.code.replace(".", "")) == 7 for c in children)
            if sevenths and only_extensions:
                letters = ", ".join(char for char, _ in sevenths)
                placeholder = "X" * (6 - len(code.replace(".", "")))
                return f"{code} needs a 7th character ({letters})" + (
                    f" after the placeholder {placeholder}" if placeholder else ""
                )
            return f"{code} is a {summary.kind}: pick one of its more specific codes"
        if system is CodeSystem.ICD10PCS:
            return (
                f"{code} is a {summary.kind.replace('_', ' ')} prefix: a PCS code has 7 characters"
            )
        return f"{code} is a {summary.kind} heading, not a code to assign"

    def pcs_structure(self) -> PcsStructure:
        """The ICD-10-PCS tables as data (rows, axis synonyms, operation terms), read anew."""
        return load_pcs_structure(self.folder)

    def search(self, system: CodeSystem, query: str, limit: int = 20) -> list[CodeSummary]:
        table = self._table(system)
        index = self._search[system]
        found = (table.get(str(index.codes[i])) for i in index.search(query, limit))
        return [s for s in found if s is not None]
