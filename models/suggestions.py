"""What a ranker returns: small frozen records the service turns into JSON."""

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
class ScoredCode:
    system: CodeSystem
    code: str
    description: str
    score: float
    recommended: bool
    billable: bool
    evidence: tuple[EvidenceSpan, ...]
