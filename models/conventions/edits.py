"""Claim edits: what a coder's final code set breaks, checked before it is submitted.

A hard stop must be fixed; a warning may be right in context and needs the coder's
acknowledgement. Every edit names its guideline section:

- not a complete code (a heading, a missing 7th character or placeholder): hard stop (I.B.2,
  I.A.5);
- an external-cause code (V00-Y99) or a manifestation code ("in diseases classified
  elsewhere", or one whose notes say "code first") sequenced first: hard stop (I.C.20,
  I.A.13);
- a manifestation code whose "code first" condition is not on the claim: warning (I.A.13);
- a code whose "use additional code" note names codes none of which is on the claim, when
  the note is about a condition the claim must identify (the infectious agent, the stage):
  warning (I.A.13, I.A.17);
- two codes whose Excludes1 notes keep them apart: warning, since I.A.12.a allows both when
  the conditions are unrelated.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from codes.catalog import Validity
from codes.instructions import CODE_FIRST, EXCLUDES1, USE_ADDITIONAL, covered
from codes.systems import CodeSystem
from models.conventions.knowledge import CodingKnowledge

CM = CodeSystem.ICD10CM
_EXTERNAL_CAUSE = ("V", "W", "X", "Y")
# Manifestation titles: "... in diseases classified elsewhere", "in other diseases ...".
_MANIFESTATION = "classified elsewhere"


class Severity(StrEnum):
    HARD_STOP = "hard_stop"
    WARNING = "warning"


@dataclass(frozen=True)
class ClaimEdit:
    kind: str  # incomplete, sequencing, code_first, use_additional, excludes1
    severity: Severity
    codes: tuple[str, ...]
    message: str
    guideline: str


@dataclass(frozen=True)
class ClaimCode:
    system: CodeSystem
    code: str


def claim_edits(knowledge: CodingKnowledge, codes: Sequence[ClaimCode]) -> list[ClaimEdit]:
    """The edits of a final code set, in the order the codes are sequenced (the first
    diagnosis is the principal or first-listed one). Codes the catalog does not know are
    the caller's to refuse; they are skipped here."""
    edits: list[ClaimEdit] = []
    known = [c for c in codes if knowledge.summary(c.system, c.code) is not None]
    for claim_code in known:
        edits += _incomplete(knowledge, claim_code)
    diagnoses = [c.code for c in known if c.system is CM]
    if diagnoses:
        edits += _sequencing(knowledge, diagnoses[0])
    for code in diagnoses:
        edits += _code_first(knowledge, code, diagnoses)
        edits += _use_additional(knowledge, code, diagnoses)
    edits += _excludes1(knowledge, diagnoses)
    return edits


def _incomplete(knowledge: CodingKnowledge, claim_code: ClaimCode) -> list[ClaimEdit]:
    checked = knowledge.catalog.validate(claim_code.system, claim_code.code)
    if checked.validity is Validity.BILLABLE:
        return []
    return [
        ClaimEdit(
            "incomplete", Severity.HARD_STOP, (claim_code.code,), checked.reason, "I.A.5, I.B.2"
        )
    ]


def _sequencing(knowledge: CodingKnowledge, first: str) -> list[ClaimEdit]:
    if first.startswith(_EXTERNAL_CAUSE):
        why = "an external-cause code is never sequenced first"
        return [ClaimEdit("sequencing", Severity.HARD_STOP, (first,), why, "I.C.20")]
    if _is_manifestation(knowledge, first):
        why = "a manifestation code is never sequenced first: code the underlying condition first"
        return [ClaimEdit("sequencing", Severity.HARD_STOP, (first,), why, "I.A.13")]
    return []


def _is_manifestation(knowledge: CodingKnowledge, code: str) -> bool:
    titles = [code, *(a.code for a in knowledge.catalog.ancestors(CM, code))]
    for head in titles:
        summary = knowledge.summary(CM, head)
        if summary is None or summary.kind in ("block", "chapter"):
            break
        if _MANIFESTATION in summary.description.lower():
            return True
    return False


def _code_first(knowledge: CodingKnowledge, code: str, claim: list[str]) -> list[ClaimEdit]:
    if not _is_manifestation(knowledge, code):
        return []  # a "code first" note on an etiology code is a sequencing hint, not a must
    wanted = [r for i in knowledge.instructions(code, frozenset({CODE_FIRST})) for r in i.codes]
    if not wanted or any(covered(other, wanted) for other in claim if other != code):
        return []
    named = ", ".join(_dotted(r.low, r.high) for r in wanted[:6])
    message = f"{code} needs its underlying condition coded first ({named})"
    return [ClaimEdit("code_first", Severity.WARNING, (code,), message, "I.A.13")]


def _use_additional(knowledge: CodingKnowledge, code: str, claim: list[str]) -> list[ClaimEdit]:
    edits = []
    for instruction in knowledge.instructions(code, frozenset({USE_ADDITIONAL})):
        words = " ".join(instruction.words.replace(" ,", ",").split()).rstrip(".")
        # Notes that ask to identify a property of this condition (the site of the ulcer,
        # the stage of CKD, the infectious agent) want a code; the lists of conditions
        # to add "if applicable" (insulin use, tobacco exposure) only when documented.
        if "identify" not in words.lower() or "if applicable" in words.lower():
            continue
        if any(covered(other, instruction.codes) for other in claim if other != code):
            continue
        named = ", ".join(_dotted(r.low, r.high) for r in instruction.codes[:6])
        asked = words.removeprefix("code").strip(" ,:")
        message = f"{code}: use additional code {asked} ({named})"
        edits.append(
            ClaimEdit("use_additional", Severity.WARNING, (code,), message, "I.A.13, I.A.17")
        )
    return edits


def _excludes1(knowledge: CodingKnowledge, claim: list[str]) -> list[ClaimEdit]:
    edits = []
    seen: set[frozenset[str]] = set()
    for code in claim:
        excluded = [
            r for i in knowledge.instructions(code, frozenset({EXCLUDES1})) for r in i.codes
        ]
        for other in claim:
            pair = frozenset({code, other})
            if other == code or pair in seen or not covered(other, excluded):
                continue
            seen.add(pair)
            message = (
                f"Excludes1: {code} and {other} are not coded together unless the conditions"
                " are unrelated"
            )
            edits.append(
                ClaimEdit("excludes1", Severity.WARNING, (code, other), message, "I.A.12.a")
            )
    return edits


def _dotted(low: str, high: str) -> str:
    """A compact code range as the Tabular writes it: "N18.1-N18.4"."""

    def dot(code: str) -> str:
        return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"

    return dot(low) if low == high else f"{dot(low)}-{dot(high)}"
