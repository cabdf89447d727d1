"""The code references inside ICD-10-CM instructional notes, as ranges a code can fall in.

Tabular notes name other codes in parentheses: "gestational diabetes (O24.4-)",
"insulin (Z79.4)", "migraine and other headache syndromes (G43-G44)", "Conditions
classifiable to C40-C41; C45-C49". `code_references` reads them; `CodeRange.covers` says
whether a code is one of them (or beneath one: a category reference covers its codes).
`Instruction` pairs a note's words (what a coder must look for) with its references.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from codes.records import CodeNote

# A code as the notes write it: "E11", "O24.4-", "N18.1", "I5A", "C7A.022", "L97.4-".
_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_REFERENCE = re.compile(rf"({_CODE})(?:\s*-\s*({_CODE}))?\.?-?")
_PARENTHESES = re.compile(r"\(([^()]*)\)")
# Instruction kinds that name codes to add, replace or keep apart, as the catalog stores them.
EXCLUDES1 = "excludes1"
USE_ADDITIONAL = "use_additional_code"
CODE_ALSO = "code_also"
CODE_FIRST = "code_first"


def compact(code: str) -> str:
    return code.replace(".", "").upper()


@dataclass(frozen=True, slots=True)
class CodeRange:
    """Codes from `low` to `high` (compact, inclusive, each covering its descendants)."""

    low: str
    high: str

    def covers(self, code: str) -> bool:
        key = compact(code)
        return self.low <= key[: len(self.low)] and key[: len(self.high)] <= self.high

    def __str__(self) -> str:
        return self.low if self.low == self.high else f"{self.low}-{self.high}"


def code_references(text: str) -> tuple[CodeRange, ...]:
    """Every code or range named in `text`: "N18.1-N18.4, N18.9" is two references."""
    found = []
    for match in _REFERENCE.finditer(text):
        low, high = match.groups()
        found.append(CodeRange(compact(low), compact(high or low)))
    return tuple(found)


def covered(code: str, ranges: Iterable[CodeRange]) -> bool:
    return any(r.covers(code) for r in ranges)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One line of an instructional note: what it names in words, and which codes."""

    kind: str
    words: str  # the line without its parenthesised codes: "insulin", "site of ulcer"
    codes: tuple[CodeRange, ...]


def instructions(notes: Iterable[CodeNote], kinds: frozenset[str]) -> tuple[Instruction, ...]:
    """The instruction lines of the wanted kinds that name codes."""
    found = []
    for note in notes:
        if note.kind not in kinds:
            continue
        inside = [r for inner in _PARENTHESES.findall(note.text) for r in code_references(inner)]
        # Some notes name codes bare: "code also, if applicable, peritonitis K65.-".
        references = tuple(inside) or code_references(note.text)
        if references:
            words = " ".join(_PARENTHESES.sub(" ", note.text).split()).rstrip(":")
            found.append(Instruction(note.kind, words, references))
    return tuple(found)
