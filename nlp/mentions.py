"""What nlp/ hands to the rest of medcode: small frozen records, never spaCy objects."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from codes.systems import CodeSystem


class Assertion(StrEnum):
    PRESENT = "present"
    NEGATED = "negated"
    POSSIBLE = "possible"
    HISTORICAL = "historical"
    FAMILY = "family"
    HYPOTHETICAL = "hypothetical"


class CandidateSource(StrEnum):
    LEXICON = "lexicon"  # an official term (catalog, Alphabetic Index and its tables)
    NEAR = "near"  # an official term found by approximate linking
    LEARNED = "learned"  # a phrase a trained model learned from coded evidence
    # A complete ICD-10-PCS code composed from a procedure statement's words: root
    # operation, body part, approach, device and qualifier read from the sentence.
    COMPOSED = "composed"


class CandidateCode(NamedTuple):
    """Immutable like the other records; a NamedTuple because a note makes hundreds of
    these and a frozen dataclass costs several times more to create."""

    system: CodeSystem
    code: str
    similarity: float  # 0..1: how closely the mention matches the term for this code
    term: str  # the term that matched
    source: CandidateSource = CandidateSource.LEXICON


@dataclass(frozen=True, slots=True)
class Mention:
    """A span of the note that names a condition or procedure.

    `start`/`end` index the original note string: note[start:end] == text.
    """

    start: int
    end: int
    text: str
    section: str | None
    assertion: Assertion
    candidates: tuple[CandidateCode, ...]


def best_first(candidates: Iterable[CandidateCode]) -> tuple[CandidateCode, ...]:
    """Candidates in the order a mention holds them: the most similar first, ties by
    system, code and source (so a code named twice keeps one order)."""
    return tuple(sorted(candidates, key=lambda c: (-c.similarity, c.system, c.code, c.source)))
