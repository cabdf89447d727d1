"""Bodies of /annotate: the note reader's view, for data scientists and debugging."""

from pydantic import BaseModel

from codes.systems import CodeSystem
from nlp.mentions import Assertion, CandidateCode, CandidateSource, Mention


class CandidateOut(BaseModel):
    system: CodeSystem
    code: str
    similarity: float
    term: str
    source: CandidateSource


class MentionOut(BaseModel):
    start: int
    end: int
    text: str
    section: str | None
    assertion: Assertion
    candidates: list[CandidateOut]


class AnnotateResponse(BaseModel):
    model_version: str
    note_id: str | None = None
    mentions: list[MentionOut]


def candidate_out(candidate: CandidateCode) -> CandidateOut:
    return CandidateOut(
        system=candidate.system,
        code=candidate.code,
        similarity=round(candidate.similarity, 6),
        term=candidate.term,
        source=candidate.source,
    )


def mention_out(mention: Mention, candidates: list[CandidateOut]) -> MentionOut:
    return MentionOut(
        start=mention.start,
        end=mention.end,
        text=mention.text,
        section=mention.section,
        assertion=mention.assertion,
        candidates=candidates,
    )
