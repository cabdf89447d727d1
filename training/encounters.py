"""Labelled encounters for training and evaluation: one reader interface, several sources.

A source reads notes and their gold codes into an `EncounterSet`: encounters sorted by id,
every code in canonical spelling and present in the catalog, plus the codes that were left
out (malformed, or not in the catalog) as `problems`, so that nothing is dropped silently.
The set's `fingerprint` hashes exactly the data a model would see; it goes into a model
artifact's metadata as the data hash.

Sources:
- `CodiEspSource`: the CodiEsp corpus folder (`<split>/text_files_en`, `<split>D.tsv`,
  `<split>P.tsv`, optional `<split>X_en.tsv` evidence). The held-out `test` split is refused.
- `JsonlSource`: one encounter per line, described in docs/jsonl-format.md.
- Later: a database source of the encounters coders reviewed in the app. It will live in
  `app/` (training never imports app) or read an export in the JSONL format.

`open_source(spec)` turns a command-line spec into a source; `evidence_rows(encounters)`
gives their evidence as the rows phrase mining (nlp.evidence_phrases) takes.

Notes are patient data: logs carry counts and ids, never note text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from codes.errors import MalformedCodeError
from codes.normalize import normalize_code
from codes.systems import CodeSystem
from nlp.evidence_phrases import EvidenceRow

logger = logging.getLogger(__name__)

Known = Callable[[CodeSystem, str], bool]

MALFORMED = "malformed"
UNKNOWN = "unknown"

# Bump when the fingerprint's serialisation changes, so old and new hashes never collide.
_FINGERPRINT_VERSION = "medcode-encounters-v1"


@dataclass(frozen=True, slots=True)
class LabelledCode:
    system: CodeSystem
    code: str  # canonical (codes.normalize.normalize_code)


@dataclass(frozen=True, slots=True)
class Encounter:
    id: str
    text: str
    codes: tuple[LabelledCode, ...]  # distinct, in file order
    # (code, English evidence sentence) when the source has it (CodiEsp X_en); distinct pairs
    evidence: tuple[tuple[LabelledCode, str], ...] = ()
    setting: str | None = None  # inpatient / outpatient, when the source says


@dataclass(frozen=True, slots=True)
class CodeProblem:
    encounter_id: str
    system: str
    raw_code: str
    reason: str  # MALFORMED | UNKNOWN (not in the catalog)


@dataclass(frozen=True, slots=True)
class EncounterSet:
    encounters: tuple[Encounter, ...]  # sorted by id
    problems: tuple[CodeProblem, ...]  # sorted by encounter id, then as read
    source: str  # e.g. "codiesp:/path [train]" or "jsonl:/path"
    fingerprint: str  # sha256 hex over ids, texts, codes and evidence

    def problem_counts(self) -> dict[str, int]:
        """reason -> number of codes left out for it."""
        return dict(Counter(problem.reason for problem in self.problems))


class EncounterFileError(ValueError):
    """A source file is missing or wrong. The message names the file, the line and the problem."""

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class EncounterSource(Protocol):
    def read(self, known: Known) -> EncounterSet: ...


# ---------------------------------------------------------------- shared assembly


@dataclass(slots=True)
class _Draft:
    """One encounter while its codes are being checked."""

    id: str
    text: str
    setting: str | None = None
    codes: dict[LabelledCode, None] = field(default_factory=dict)  # an ordered set
    problems: dict[CodeProblem, None] = field(default_factory=dict)
    evidence: dict[tuple[LabelledCode, str], None] = field(default_factory=dict)
    left_out: set[tuple[CodeSystem, str]] = field(default_factory=set)  # keys of problems

    def add_code(self, system: CodeSystem, raw: str, known: Known) -> None:
        """Add a gold code; a malformed or unknown one becomes a problem instead."""
        try:
            code = normalize_code(system, raw)
        except MalformedCodeError:
            self._leave_out(system, raw, MALFORMED)
            return
        if not known(system, code):
            self._leave_out(system, raw, UNKNOWN)
            return
        self.codes[LabelledCode(system, code)] = None

    def _leave_out(self, system: CodeSystem, raw: str, reason: str) -> None:
        self.problems[CodeProblem(self.id, system.value, raw, reason)] = None
        self.left_out.add((system, _key(system, raw)))

    def add_evidence(self, system: CodeSystem, raw: str, sentence: str) -> bool:
        """Attach evidence to its gold code; False when the code is not among the codes.

        Evidence of a left-out code is left out with it (the code is already a problem).
        """
        key = _key(system, raw)
        code = LabelledCode(system, key)
        if code in self.codes:
            self.evidence[(code, sentence)] = None
            return True
        return (system, key) in self.left_out

    def finish(self) -> Encounter:
        return Encounter(self.id, self.text, tuple(self.codes), tuple(self.evidence), self.setting)


def fingerprint(encounters: Iterable[Encounter]) -> str:
    """sha256 hex of the encounters' ids, texts, codes and evidence, in the given order.

    Evidence counts too: a model trained on evidence sentences changes when they change.
    One JSON line per encounter: JSON escapes newlines, so the lines cannot run together.
    """
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode() + b"\n")
    for encounter in encounters:
        record = [
            encounter.id,
            encounter.text,
            [[code.system.value, code.code] for code in encounter.codes],
            [[code.system.value, code.code, sentence] for code, sentence in encounter.evidence],
        ]
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def evidence_rows(encounters: Iterable[Encounter]) -> list[EvidenceRow]:
    """One row per (code, evidence sentence) pair, in encounter order, then as read."""
    return [
        EvidenceRow(encounter.id, code.system, code.code, sentence)
        for encounter in encounters
        for code, sentence in encounter.evidence
    ]


def _assemble(drafts: Iterable[_Draft], source: str) -> EncounterSet:
    ordered = sorted(drafts, key=lambda draft: draft.id)
    encounters = tuple(draft.finish() for draft in ordered)
    problems = tuple(problem for draft in ordered for problem in draft.problems)
    result = EncounterSet(encounters, problems, source, fingerprint(encounters))
    n_codes = sum(len(encounter.codes) for encounter in encounters)
    logger.info("%s: %d encounters, %d codes", source, len(encounters), n_codes)
    if problems:
        by_reason = result.problem_counts()
        by_system = Counter(problem.system for problem in problems)
        logger.warning(
            "%s: %d codes left out of %d encounters (%s; %s); see EncounterSet.problems",
            source,
            len(problems),
            len({problem.encounter_id for problem in problems}),
            ", ".join(f"{count} {reason}" for reason, count in sorted(by_reason.items())),
            ", ".join(f"{count} {system}" for system, count in sorted(by_system.items())),
        )
    return result


def _decode(path: Path, data: bytes, line: int | None = None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EncounterFileError(path, f"not UTF-8 ({error.reason})", line) from None


# ---------------------------------------------------------------- CodiEsp

_CODIESP_SYSTEMS = {"D": CodeSystem.ICD10CM, "P": CodeSystem.ICD10PCS}
_SPLIT_NAME = re.compile(r"[A-Za-z0-9_-]+")
_HELD_OUT = "test"


def _checked_splits(splits: Sequence[str]) -> tuple[str, ...]:
    if isinstance(splits, str):
        raise TypeError("splits is a sequence of split names, e.g. ['train', 'dev']")
    if not splits:
        raise ValueError("no CodiEsp split given: name one or more of train, dev")
    for split in splits:
        if split.strip().lower() == _HELD_OUT:
            raise ValueError(
                "the CodiEsp test split is the held-out benchmark: it is never read here; "
                "train on train (+dev) and report dev figures"
            )
        if not _SPLIT_NAME.fullmatch(split):
            raise ValueError(f"{split!r} is not a CodiEsp split name (e.g. train, dev)")
    if len(set(splits)) != len(splits):
        raise ValueError(f"a CodiEsp split is named twice in {list(splits)}")
    return tuple(splits)


class CodiEspSource:
    """The CodiEsp corpus: English notes, ICD-10-CM (D) and ICD-10-PCS (P) gold codes.

    Some P codes are 4-character PCS prefixes (e.g. `bn20`); they are checked against the
    catalog like any other code. Evidence sentences come from `<split>X_en.tsv` when present.
    """

    def __init__(self, folder: Path, splits: Sequence[str]) -> None:
        self.splits = _checked_splits(splits)
        self.folder = Path(folder)

    @property
    def description(self) -> str:
        return f"codiesp:{self.folder.absolute()} [{','.join(self.splits)}]"

    def read(self, known: Known) -> EncounterSet:
        drafts: dict[str, _Draft] = {}
        first_split: dict[str, str] = {}
        for split in self.splits:
            split_drafts = self._read_split(split, known)
            for case_id, draft in split_drafts.items():
                if case_id in drafts:
                    raise EncounterFileError(
                        self.folder / split / "text_files_en" / f"{case_id}.txt",
                        f"case {case_id} is also in split {first_split[case_id]}: "
                        "case ids must be unique across splits",
                    )
                drafts[case_id] = draft
                first_split[case_id] = split
        return _assemble(drafts.values(), self.description)

    def _read_split(self, split: str, known: Known) -> dict[str, _Draft]:
        root = self.folder / split
        text_dir = root / "text_files_en"
        if not text_dir.is_dir():
            raise EncounterFileError(text_dir, f"no such folder: is this the {split} split?")
        drafts: dict[str, _Draft] = {}
        for path in sorted(text_dir.glob("*.txt")):
            text = _decode(path, path.read_bytes())
            if not text.strip():
                raise EncounterFileError(path, "the note is empty")
            drafts[path.stem] = _Draft(path.stem, text)
        for kind, system in _CODIESP_SYSTEMS.items():
            path = root / f"{split}{kind}.tsv"
            for number, (case_id, raw) in _tsv_rows(path, 2, code_column=1):
                self._draft(drafts, case_id, path, number).add_code(system, raw, known)
        self._read_evidence(root / f"{split}X_en.tsv", drafts)
        return drafts

    @staticmethod
    def _draft(drafts: dict[str, _Draft], case_id: str, path: Path, line: int) -> _Draft:
        try:
            return drafts[case_id]
        except KeyError:
            raise EncounterFileError(
                path, f"case {case_id} has no note text_files_en/{case_id}.txt", line
            ) from None

    def _read_evidence(self, path: Path, drafts: dict[str, _Draft]) -> None:
        if not path.is_file():
            logger.info("%s: no evidence file; encounters carry no evidence", path)
            return
        ungrounded = 0
        for number, fields in _tsv_rows(path, 6, code_column=2):
            case_id, kind, raw, _spanish, _index, sentence = fields
            if kind not in _CODIESP_SYSTEMS:
                raise EncounterFileError(path, f"type {kind!r} is neither D nor P", number)
            draft = self._draft(drafts, case_id, path, number)
            if not draft.add_evidence(_CODIESP_SYSTEMS[kind], raw, sentence):
                ungrounded += 1
        if ungrounded:
            logger.warning("%s: %d evidence rows name a code not in D/P", path, ungrounded)


def _tsv_rows(path: Path, width: int, code_column: int) -> Iterable[tuple[int, list[str]]]:
    """(line number, fields) of a tab-separated file without header; blank lines skipped.

    The case id and the code may not be empty.
    """
    if not path.is_file():
        raise EncounterFileError(path, "no such file")
    for number, line in enumerate(_decode(path, path.read_bytes()).split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != width:
            raise EncounterFileError(
                path, f"expected {width} tab-separated fields, found {len(fields)}", number
            )
        fields[0] = fields[0].strip()
        if not fields[0] or not fields[code_column].strip():
            raise EncounterFileError(path, "empty case id or code", number)
        yield number, fields


# ---------------------------------------------------------------- JSONL

_SYSTEM_NAMES = ", ".join(system.value for system in CodeSystem)


@dataclass(frozen=True, slots=True)
class _Shape:
    """The keys a JSON object must and may have."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()


_ENCOUNTER = _Shape(frozenset({"id", "text", "codes"}), frozenset({"evidence", "setting"}))
# Notes to be coded (`medcode encounters import`): codes are optional.
_UNLABELLED = _Shape(frozenset({"id", "text"}), frozenset({"codes", "evidence", "setting"}))
_SETTINGS = ("inpatient", "outpatient")
_CODE = _Shape(frozenset({"system", "code"}))
_EVIDENCE = _Shape(frozenset({"system", "code", "text"}))


class JsonlSource:
    """One encounter per line of a JSON Lines file (format: docs/jsonl-format.md)."""

    def __init__(self, path: Path, codes_required: bool = True) -> None:
        self.path = Path(path)
        self.shape = _ENCOUNTER if codes_required else _UNLABELLED

    @property
    def description(self) -> str:
        return f"jsonl:{self.path.absolute()}"

    def read(self, known: Known) -> EncounterSet:
        if not self.path.is_file():
            raise EncounterFileError(self.path, "no such file")
        drafts: dict[str, _Draft] = {}
        first_line: dict[str, int] = {}
        # Split on \n only: str.splitlines would also split on \u2028 inside JSON strings.
        for number, raw_line in enumerate(self.path.read_bytes().split(b"\n"), 1):
            line = _decode(self.path, raw_line, number)
            if number == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            draft = _JsonlLine(self.path, number).parse(line, known, self.shape)
            if draft.id in drafts:
                raise EncounterFileError(
                    self.path,
                    f"duplicate id {draft.id!r} (first on line {first_line[draft.id]})",
                    number,
                )
            drafts[draft.id] = draft
            first_line[draft.id] = number
        return _assemble(drafts.values(), self.description)


@dataclass(frozen=True, slots=True)
class _JsonlLine:
    """Parses one line; every error names the file, the line and what is wrong.

    Messages name keys, types, systems and codes, never the note text.
    """

    path: Path
    number: int

    def error(self, problem: str) -> EncounterFileError:
        return EncounterFileError(self.path, problem, self.number)

    def parse(self, line: str, known: Known, shape: _Shape = _ENCOUNTER) -> _Draft:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise self.error(f"not valid JSON: {error.msg} at column {error.colno}") from None
        obj = self.object(record, shape, "the line")
        encounter_id = obj["id"]
        if not isinstance(encounter_id, str) or not encounter_id.strip():
            raise self.error(f'"id" must be a non-empty string, got {_type(encounter_id)}')
        text = obj["text"]
        if not isinstance(text, str) or not text.strip():
            raise self.error(
                f'"text" of {encounter_id!r} must be a non-empty string, got {_type(text)}'
            )
        setting = obj.get("setting")
        if setting is not None and setting not in _SETTINGS:
            raise self.error(
                f'"setting" must be "inpatient", "outpatient" or null, got {setting!r}'
            )
        draft = _Draft(encounter_id, text, setting)
        for where, entry in self.objects(obj, "codes", _CODE):
            system, raw = self.code(entry, where)
            draft.add_code(system, raw, known)
        for where, entry in self.objects(obj, "evidence", _EVIDENCE):
            system, raw = self.code(entry, where)
            sentence = entry["text"]
            if not isinstance(sentence, str) or not sentence.strip():
                raise self.error(
                    f'{where}."text" must be a non-empty string, got {_type(sentence)}'
                )
            if not draft.add_evidence(system, raw, sentence):
                raise self.error(f'{where} names {system.value} {raw!r}, which is not in "codes"')
        return draft

    def objects(
        self, obj: dict[str, Any], key: str, shape: _Shape
    ) -> Iterable[tuple[str, dict[str, Any]]]:
        items = obj.get(key, [])
        if not isinstance(items, list):
            raise self.error(f'"{key}" must be a list (may be empty), got {_type(items)}')
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            yield where, self.object(item, shape, where)

    def object(self, value: object, shape: _Shape, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"{where} must be a JSON object, got {_type(value)}")
        missing = sorted(shape.required - value.keys())
        if missing:
            raise self.error(f"{where} lacks {_names(missing)}")
        extra = sorted(value.keys() - shape.required - shape.optional)
        if extra:
            allowed = sorted(shape.required | shape.optional)
            raise self.error(f"{where} has unexpected {_names(extra)} (allowed: {_names(allowed)})")
        return value

    def code(self, entry: dict[str, Any], where: str) -> tuple[CodeSystem, str]:
        name, raw = entry["system"], entry["code"]
        if not isinstance(name, str):
            raise self.error(f'{where}."system" must be a string, got {_type(name)}')
        try:
            system = CodeSystem(name)
        except ValueError:
            raise self.error(
                f"{where} has unknown system {name!r} (known: {_SYSTEM_NAMES})"
            ) from None
        if not isinstance(raw, str):
            raise self.error(f'{where}."code" must be a string, got {_type(raw)}')
        return system, raw


def _names(keys: Iterable[str]) -> str:
    return ", ".join(f'"{key}"' for key in keys)


def _key(system: CodeSystem, raw: str) -> str:
    """How evidence finds its code among the listed ones, malformed or not."""
    try:
        return normalize_code(system, raw)
    except MalformedCodeError:
        return raw.strip().upper()


def _type(value: object) -> str:
    """A JSON value's type in JSON words; never the value itself, which may be note text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class EncounterRecord:
    """A labelled encounter from outside the files: a coder's review, say."""

    id: str
    text: str
    codes: tuple[tuple[CodeSystem, str], ...]
    setting: str | None = None


class RecordsSource:
    """Encounters handed over in memory (the reviewed encounters of the review database),
    checked against the catalog like the file sources."""

    def __init__(self, records: Iterable[EncounterRecord], description: str) -> None:
        self.records = list(records)
        self.description = description

    def read(self, known: Known) -> EncounterSet:
        drafts: dict[str, _Draft] = {}
        for record in self.records:
            if record.id in drafts:
                raise ValueError(f"{self.description}: duplicate id {record.id!r}")
            draft = _Draft(record.id, record.text, record.setting)
            for system, raw in record.codes:
                draft.add_code(system, raw, known)
            drafts[record.id] = draft
        return _assemble(drafts.values(), self.description)


# ---------------------------------------------------------------- specs


def open_source(spec: str) -> EncounterSource:
    """A source from a spec: `codiesp:<folder>[:train,dev]` (default train,dev), or a path
    ending in `.jsonl` (optionally written `jsonl:<path>`)."""
    if spec.startswith("codiesp:"):
        rest = spec.removeprefix("codiesp:")
        folder, splits = rest, ["train", "dev"]
        head, sep, tail = rest.rpartition(":")
        if sep and "/" not in tail and "\\" not in tail:  # else the colon is in the path
            folder, splits = head, [split.strip() for split in tail.split(",")]
        if not folder:
            raise ValueError(f"{spec!r}: no CodiEsp folder (write codiesp:<folder>[:train,dev])")
        return CodiEspSource(Path(folder), splits)
    path = spec.removeprefix("jsonl:")
    if path.lower().endswith(".jsonl"):
        return JsonlSource(Path(path))
    raise ValueError(
        f"{spec!r} is not an encounter source: write codiesp:<folder>[:train,dev] "
        "or a path ending in .jsonl"
    )
