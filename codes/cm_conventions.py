"""What the ICD-10-CM index and tabular say about coding conditions together, built once.

Three facts the coding conventions (models/conventions) need, read at `medcode codes
import` time and saved beside the catalog (`cm_conventions.json`):

- combinations: the index's "with" and "in" subterms (I.A.15): "Diabetes, type 2, with,
  foot ulcer" is E11.621 when type 2 diabetes (E11.9) and a foot ulcer are both documented;
- groups: tabular categories that include "any condition in <codes> due to / with ...":
  I12 holds any condition in N18 and N26 due to hypertension, I13 any condition in I11
  with any condition in I12;
- history: the Z80-Z87 codes and the conditions each is for ("Conditions classifiable to
  C50.-" under Z85.3), to turn a past or a relative's condition into its history code.
"""

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from codes.cm_index import Combination, IsCode, find_cm_tables, read_index_csv, with_combinations
from codes.errors import CatalogNotBuiltError
from codes.instructions import CodeRange, code_references, covered
from codes.records import CodeRecord

FILE = "cm_conventions.json"
FORMAT_VERSION = 1

_ANY_CONDITION = re.compile(
    r"^any condition (?:listed )?in (?P<codes>.+?)\s*-?\s+(?P<link>due to|with)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_CLASSIFIABLE = re.compile(r"conditions classifiable to", re.IGNORECASE)
_HISTORY_CATEGORIES = ("Z80", "Z81", "Z82", "Z83", "Z84", "Z85", "Z86", "Z87")
_FAMILY_CATEGORIES = ("Z80", "Z81", "Z82", "Z83", "Z84")


@dataclass(frozen=True, slots=True)
class ConditionGroup:
    """A category that holds conditions of `members` when linked to a second condition,
    named by codes (`partner_codes`) or by words (`partner_words`): I12 is any condition in
    N18 and N26 due to hypertension."""

    code: str
    members: tuple[CodeRange, ...]
    partner_codes: tuple[CodeRange, ...]
    partner_words: str


@dataclass(frozen=True, slots=True)
class HistoryTarget:
    """A history code and the conditions it stands for once past (or a relative's)."""

    code: str
    conditions: tuple[CodeRange, ...]
    family: bool


def build_cm_conventions(
    records: Sequence[CodeRecord], data_dir: Path, is_code: IsCode
) -> dict[str, Any]:
    """The JSON-able facts, from the tabular records and the index in `data_dir`."""
    index = find_cm_tables(data_dir).get("index")
    combinations = with_combinations(read_index_csv(index), is_code) if index else []
    return {
        "format": FORMAT_VERSION,
        "combinations": [[c.base, c.partner, c.code, c.path] for c in combinations],
        "groups": [
            [
                g.code,
                [str(r) for r in g.members],
                [str(r) for r in g.partner_codes],
                g.partner_words,
            ]
            for g in _groups(records)
        ],
        "history": [
            [h.code, [str(r) for r in h.conditions], h.family] for h in _history_targets(records)
        ],
    }


def _groups(records: Iterable[CodeRecord]) -> list[ConditionGroup]:
    found = []
    for record in records:
        includes = [n.text for n in record.notes if n.kind == "includes"]
        for text in [*includes, *record.terms]:
            match = _ANY_CONDITION.match(text.strip())
            if match is None:
                continue
            partner_codes = code_references(match["rest"])
            found.append(
                ConditionGroup(
                    record.code,
                    code_references(match["codes"]),
                    partner_codes,
                    "" if partner_codes else match["rest"],
                )
            )
    return found


def _history_targets(records: Iterable[CodeRecord]) -> list[HistoryTarget]:
    found = []
    for record in records:
        if not record.code.startswith(_HISTORY_CATEGORIES):
            continue
        conditions = tuple(
            r for term in record.terms if _CLASSIFIABLE.search(term) for r in code_references(term)
        )
        if conditions:
            family = record.code.startswith(_FAMILY_CATEGORIES)
            found.append(HistoryTarget(record.code, conditions, family))
    return found


def save_cm_conventions(folder: Path, facts: dict[str, Any]) -> None:
    (folder / FILE).write_text(json.dumps(facts, ensure_ascii=False), encoding="utf-8")


def _ranges(texts: Iterable[str]) -> tuple[CodeRange, ...]:
    return tuple(r for text in texts for r in code_references(text))


class CmConventions:
    """The saved facts, loaded for the coding conventions."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self._facts = facts

    @classmethod
    def load(cls, catalog_folder: Path) -> "CmConventions":
        path = catalog_folder / FILE
        try:
            facts = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CatalogNotBuiltError(
                f"{path} is missing: rebuild the catalog with `medcode codes import`"
            ) from None
        if facts.get("format") != FORMAT_VERSION:
            raise CatalogNotBuiltError(
                f"{path} was built by another medcode: rebuild with `medcode codes import`"
            )
        return cls(facts)

    @cached_property
    def combinations(self) -> tuple[Combination, ...]:
        return tuple(Combination(*row) for row in self._facts["combinations"])

    @cached_property
    def groups(self) -> tuple[ConditionGroup, ...]:
        return tuple(
            ConditionGroup(code, _ranges(members), _ranges(partners), words)
            for code, members, partners, words in self._facts["groups"]
        )

    @cached_property
    def history(self) -> tuple[HistoryTarget, ...]:
        return tuple(
            HistoryTarget(code, _ranges(conditions), family)
            for code, conditions, family in self._facts["history"]
        )

    def history_targets(self, condition: str, family: bool) -> list[HistoryTarget]:
        """The history headings or codes for a condition, narrowest first."""
        found = [h for h in self.history if h.family == family and covered(condition, h.conditions)]
        return sorted(found, key=lambda h: (min(_width(r) for r in h.conditions), -len(h.code)))


def _width(reference: CodeRange) -> int:
    """How many categories a range spans (0 for a single category or narrower): narrower
    ranges are more specific history targets."""
    if reference.low[:3] == reference.high[:3]:
        return -len(reference.low)
    low, high = reference.low, reference.high
    return (ord(high[0]) - ord(low[0])) * 100 + int(high[1:3], 36) - int(low[1:3], 36)
