"""Procedure statements in a note: where the PCS composer reads, and what it adds.

`medcode_pcs_operations`, a spaCy component placed after the mention matcher and before
ConText, marks the words that name a root operation ("colectomy", "biopsy", "open
reduction") as mentions when no lexicon term covers them, so that sections and assertions
apply to them like to any mention ("no colectomy was performed" is negated). It keeps each
sentence's statement (its stems, cues and operation words) for the reader.

`composed_candidates` then gives a mention its complete codes, read from its statement.
Sentences longer than STATEMENT_TOKENS are read in pieces of that many tokens: the words of a
procedure stand close together, and the cost of reading stays linear in the note's length.
"""

import bisect
from collections.abc import Sequence
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from codes.systems import CodeSystem
from codes.text import fold
from nlp.abbreviations import abbreviation_uses
from nlp.mention_matcher import CANDIDATES_ATTR, MENTIONS_KEY
from nlp.mentions import CandidateCode, CandidateSource
from nlp.pcs_composer import PcsComposer
from nlp.pcs_statement import Statement
from nlp.terms import content_stems

OPERATION_ATTR = "medcode_pcs_operation"  # span._: the span names a root operation
# doc.user_data: the statements read, as (first tokens, [(first, end, Statement)]) in order
STATEMENTS_KEY = "medcode_pcs_statements"
STATEMENT_TOKENS = 60


@Language.factory(
    "medcode_pcs_operations",
    assigns=["doc.spans", f"span._.{OPERATION_ATTR}"],
    requires=["token.is_sent_start"],
)
def make_operation_marker(nlp: Language, name: str) -> "OperationMarker":
    return OperationMarker()


class OperationMarker:
    def __init__(self) -> None:
        if not Span.has_extension(OPERATION_ATTR):
            Span.set_extension(OPERATION_ATTR, default=False)
        self.composer: PcsComposer | None = None

    def use_composer(self, composer: PcsComposer | None) -> None:
        self.composer = composer

    def __call__(self, doc: Doc) -> Doc:
        if self.composer is None:
            return doc
        mentions = list(doc.spans.get(MENTIONS_KEY, ()))
        covered = {
            i
            for m in mentions
            if any(c.system is CodeSystem.ICD10PCS for c in m._.get(CANDIDATES_ATTR))
            for i in range(m.start, m.end)
        }
        statements: list[tuple[int, int, Statement]] = []
        expansions = _expansion_stems(doc)
        for first, end in _pieces(doc):
            statement = self.composer.statement(
                [fold(t.text) for t in doc[first:end]],
                [(i - first, s) for i in range(first, end) for s in expansions.get(i, ())],
            )
            statements.append((first, end, statement))
            for hit in self.composer.operations(statement):
                start, stop = first + hit.first, first + hit.last + 1
                if not any(i in covered for i in range(start, stop)):
                    span = Span(doc, start, stop, label="MENTION")
                    span._.set(OPERATION_ATTR, True)
                    mentions.append(span)
                    covered.update(range(start, stop))
        doc.spans[MENTIONS_KEY] = sorted(mentions, key=lambda s: (s.start, s.end))
        doc.user_data[STATEMENTS_KEY] = ([first for first, _, _ in statements], statements)
        return doc


def composed_candidates(
    composer: PcsComposer,
    span: Span,
    candidates: Sequence[CandidateCode],
    cache: dict[Any, list[CandidateCode]],
) -> list[CandidateCode]:
    """Complete codes for a mention with PCS headings or naming a root operation, composed
    from its statement; none for other mentions. `cache` lives for one note."""
    headings = tuple(
        (c.code, _support(c), c.term)
        for c in candidates
        if c.system is CodeSystem.ICD10PCS and len(c.code) < 7
    )
    if not headings and not span._.get(OPERATION_ATTR):
        return []
    found = _statement_of(span)
    if found is None:
        return []
    first, end, statement = found
    focus = (span.start - first, min(span.end, end) - 1 - first)
    key = (first, focus, headings)
    if key not in cache:
        have = {c.code for c in candidates if c.system is CodeSystem.ICD10PCS}
        cache[key] = [
            CandidateCode(
                CodeSystem.ICD10PCS, c.code, c.similarity, c.reason, CandidateSource.COMPOSED
            )
            for c in composer.compose(statement, focus, headings)
            if c.code not in have
        ]
    return cache[key]


def _support(candidate: CandidateCode) -> float:
    """How surely a heading is named: an official or learned term surely; a near match as
    closely as it matched."""
    return candidate.similarity if candidate.source is CandidateSource.NEAR else 1.0


def _statement_of(span: Span) -> tuple[int, int, Statement] | None:
    """The statement holding the span's first token."""
    firsts, statements = span.doc.user_data.get(STATEMENTS_KEY, ([], []))
    at = bisect.bisect_right(firsts, span.start) - 1
    if at < 0:
        return None
    found: tuple[int, int, Statement] = statements[at]
    return found if span.start < found[1] else None


def _pieces(doc: Doc) -> list[tuple[int, int]]:
    """Token ranges to read as statements: sentences, cut into STATEMENT_TOKENS pieces."""
    pieces = []
    for sentence in doc.sents:
        for first in range(sentence.start, sentence.end, STATEMENT_TOKENS):
            pieces.append((first, min(first + STATEMENT_TOKENS, sentence.end)))
    return pieces


def _expansion_stems(doc: Doc) -> dict[int, tuple[str, ...]]:
    """Token index -> stems of what the abbreviation at that token stands for ("ORIF")."""
    stems: dict[int, tuple[str, ...]] = {}
    for use in abbreviation_uses(doc):
        span = doc.char_span(use.start, use.end, alignment_mode="expand")
        if span is not None and len(span):
            stems[span.start] = stems.get(span.start, ()) + content_stems(use.expansion)
    return stems
