"""How well the served suggestions follow the coding conventions on hand-coded notes.

The notes (tests/data/us_notes/README.md gives the format) carry the codes a coder puts on
the claim, codes that may go either way, and codes that must not be recommended, each
tagged with the convention rules it exercises. A check reports, overall, per rule and per
kind of note: recall of the claim codes, precision of the recommended set (acceptable
codes count neither way), and how many forbidden codes were recommended; plus the two
hard failures: a heading recommended, and a code recommended whose every span the note
denies or only imagines.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codes.normalize import normalize_code
from codes.systems import CodeSystem
from models.suggestions import ScoredCode
from nlp.mentions import Assertion

_KEYS = frozenset({"id", "kind", "setting", "text", "codes", "acceptable", "forbidden"})
_DENIED = frozenset({Assertion.NEGATED, Assertion.HYPOTHETICAL})
CodeKey = tuple[str, str]


class CodedNoteError(ValueError):
    """A line of a coded-notes file that is not a coded note; the message names it."""


@dataclass(frozen=True)
class CodedNote:
    id: str
    kind: str
    setting: str | None
    text: str
    claim: Mapping[CodeKey, tuple[str, ...]]  # code -> the rules it exercises
    acceptable: frozenset[CodeKey]
    forbidden: Mapping[CodeKey, tuple[str, ...]]


def read_coded_notes(path: Path) -> list[CodedNote]:
    notes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            notes.append(_note(json.loads(line)))
        except (ValueError, KeyError, TypeError) as error:
            raise CodedNoteError(f"{path}:{number}: {error}") from None
    return notes


def _note(row: dict[str, Any]) -> CodedNote:
    unknown = set(row) - _KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")

    def codes(entries: Iterable[dict[str, Any]]) -> dict[CodeKey, tuple[str, ...]]:
        found = {}
        for entry in entries:
            system = CodeSystem(entry["system"])
            found[(system.value, normalize_code(system, entry["code"]))] = tuple(
                entry.get("rules", ())
            )
        return found

    return CodedNote(
        id=str(row["id"]),
        kind=str(row["kind"]),
        setting=row.get("setting"),
        text=str(row["text"]),
        claim=codes(row["codes"]),
        acceptable=frozenset(codes(row.get("acceptable", []))),
        forbidden=codes(row.get("forbidden", [])),
    )


@dataclass
class Tally:
    expected: int = 0
    found: int = 0
    recommended: int = 0  # recommended codes outside `acceptable`
    correct: int = 0
    forbidden: int = 0
    forbidden_recommended: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 0.0

    @property
    def precision(self) -> float:
        return self.correct / self.recommended if self.recommended else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim_codes": self.expected,
            "recall": round(self.recall, 3),
            "recommended": self.recommended,
            "precision": round(self.precision, 3),
            "forbidden": self.forbidden,
            "forbidden_recommended": self.forbidden_recommended,
        }


@dataclass
class ConventionsReport:
    overall: Tally = field(default_factory=Tally)
    by_rule: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    headings: list[tuple[str, str]] = field(default_factory=list)  # (note, code)
    denied: list[tuple[str, str]] = field(default_factory=list)
    forbidden_hits: Counter[str] = field(default_factory=Counter)  # "note code (rules)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "by_rule": {r: t.as_dict() for r, t in sorted(self.by_rule.items())},
            "by_kind": {k: t.as_dict() for k, t in sorted(self.by_kind.items())},
            "headings_recommended": [f"{n} {c}" for n, c in self.headings],
            "denied_recommended": [f"{n} {c}" for n, c in self.denied],
            "forbidden_recommended": sorted(self.forbidden_hits),
        }


Suggest = Callable[[CodedNote], Sequence[ScoredCode]]


def check(notes: Sequence[CodedNote], suggest: Suggest) -> ConventionsReport:
    report = ConventionsReport()
    for note in notes:
        suggestions = suggest(note)
        recommended = {(s.system.value, s.code): s for s in suggestions if s.recommended}
        _tally_note(report, note, set(recommended))
        for key, suggestion in recommended.items():
            if not suggestion.billable:
                report.headings.append((note.id, key[1]))
            assertions = {e.assertion for e in suggestion.evidence}
            if assertions and assertions <= _DENIED:
                report.denied.append((note.id, key[1]))
    return report


def _tally_note(report: ConventionsReport, note: CodedNote, recommended: set[CodeKey]) -> None:
    counted = recommended - note.acceptable
    tallies = [report.overall, report.by_kind[note.kind]]
    for tally in tallies:
        tally.expected += len(note.claim)
        tally.found += len(recommended & note.claim.keys())
        tally.recommended += len(counted)
        tally.correct += len(counted & note.claim.keys())
        tally.forbidden += len(note.forbidden)
        tally.forbidden_recommended += len(recommended & note.forbidden.keys())
    for key, rules in note.claim.items():
        for rule in rules:
            report.by_rule[rule].expected += 1
            report.by_rule[rule].found += key in recommended
    for key, rules in note.forbidden.items():
        for rule in rules:
            report.by_rule[rule].forbidden += 1
            report.by_rule[rule].forbidden_recommended += key in recommended
        if key in recommended:
            report.forbidden_hits[f"{note.id} {key[1]} ({', '.join(rules)})"] += 1


def format_report(report: ConventionsReport) -> str:
    lines = [f"{'':22} {'recall':>7} {'precision':>9} {'forbidden':>12}"]

    def row(name: str, tally: Tally) -> str:
        forbidden = f"{tally.forbidden_recommended}/{tally.forbidden}"
        precision = f"{tally.precision:.3f}" if tally.recommended else "-"
        recall = f"{tally.recall:.3f}" if tally.expected else "-"
        return f"{name:22} {recall:>7} {precision:>9} {forbidden:>12}"

    lines.append(row("all notes", report.overall))
    lines += [row(f"kind {k}", t) for k, t in sorted(report.by_kind.items())]
    lines += [row(f"rule {r}", t) for r, t in sorted(report.by_rule.items())]
    lines.append(
        f"headings recommended: {len(report.headings)}; denied codes recommended:"
        f" {len(report.denied)}"
    )
    return "\n".join(lines)
