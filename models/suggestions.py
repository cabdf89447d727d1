"""What a ranker returns and what the service answers with: small frozen records."""

from dataclasses import dataclass

from codes.systems import CodeSystem
from nlp.mentions import Assertion


@dataclass(frozen=True, slots=True)
class EvidenceSpan:
    start: int
    end: int
    text: str
    section: str | None
    assertion: Assertion


@dataclass(frozen=True, slots=True)
class RankedCode:
    """One candidate code of a note as the model sees it, before the coding conventions.

    evidence: spans that name the code (an official term of it or of a heading above it,
        or a learned phrase whose words are about it); what a coder is shown.
    related: for a code without evidence of its own, the spans of the mentions it was
        derived from (codes of its category, codes it co-occurs with in training): a code
        derived only from denied mentions is denied too.
    above_threshold: the model's own decision for its system (gate and threshold).
    named: the best similarity of an official term naming the code (0 if none): how
        plainly the note names it.
    composed: the best similarity of a complete PCS code composed from a procedure
        statement (0 if none).
    """

    system: CodeSystem
    code: str
    score: float
    above_threshold: bool
    evidence: tuple[EvidenceSpan, ...] = ()
    related: tuple[EvidenceSpan, ...] = ()
    named: float = 0.0
    composed: float = 0.0


@dataclass(frozen=True, slots=True)
class ScoredCode:
    system: CodeSystem
    code: str
    description: str
    score: float
    recommended: bool
    billable: bool
    evidence: tuple[EvidenceSpan, ...]
    notes: tuple[str, ...] = ()
