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
from operator import attrgetter, itemgetter
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from codes.systems import CodeSystem
from codes.text import words
from nlp.abbreviations import expansion_stems
from nlp.mention_matcher import candidates_by_window
from nlp.mention_spans import MENTIONS_KEY, Window, mention_windows, set_mention_spans
from nlp.mentions import CandidateCode, CandidateSource
from nlp.pcs_composer import PcsComposer
from nlp.pcs_statement import Statement
from nlp.sentences import sentence_ranges
from nlp.tokens import doc_tokens, note_text

OPERATION_ATTR = "medcode_pcs_operation"  # span._: the span names a root operation
# doc.user_data: the statements read, as (first tokens, [(first, end, Statement)]) in order
STATEMENTS_KEY = "medcode_pcs_statements"
# doc.user_data: the token windows of the mentions that name a root operation
_OPERATIONS_KEY = "medcode_pcs_operation_windows"
STATEMENT_TOKENS = 60
_system = attrgetter("system")


@Language.factory(
    "medcode_pcs_operations",
    assigns=["doc.spans", f"span._.{OPERATION_ATTR}"],
    requires=["token.is_sent_start"],
)
def make_operation_marker(nlp: Language, name: str) -> "OperationMarker":
    return OperationMarker()


def operation_windows(doc: Doc) -> set[Window]:
    """(first token, end token) of each mention that names a root operation."""
    found: set[Window] = doc.user_data.get(_OPERATIONS_KEY, set())
    return found


def _names_operation(span: Span) -> bool:
    return (span.start, span.end) in operation_windows(span.doc)


class OperationMarker:
    def __init__(self) -> None:
        if not Span.has_extension(OPERATION_ATTR):
            Span.set_extension(OPERATION_ATTR, getter=_names_operation)
        self.composer: PcsComposer | None = None

    def use_composer(self, composer: PcsComposer | None) -> None:
        self.composer = composer

    def __call__(self, doc: Doc) -> Doc:
        if self.composer is None:
            return doc
        expansions = expansion_stems(doc)
        statements: list[tuple[int, int, Statement]] = []
        found: list[tuple[int, int]] = []  # token ranges of operation words
        note = note_text(doc)
        tokens = doc_tokens(doc)
        for first, end in _pieces(doc):
            extra = [(i - first, s) for i in range(first, end) for s in expansions.get(i, ())]
            # A first look at the words of the text alone: most sentences name no procedure.
            text = note[tokens[first].start : tokens[end - 1].end]
            if not self.composer.may_name_operation(words(text), [s for _, s in extra]):
                continue
            statement = self.composer.statement([t.norm for t in tokens[first:end]], extra)
            statements.append((first, end, statement))
            found.extend(
                (first + h.first, first + h.last + 1) for h in self.composer.operations(statement)
            )
        doc.user_data[STATEMENTS_KEY] = ([first for first, _, _ in statements], statements)
        if found:
            set_mention_spans(doc, _with_operations(doc, found))
        return doc


def _with_operations(doc: Doc, found: list[Window]) -> list[Span]:
    """The mentions and a mention for each operation words no PCS term covers, in
    (first token, end token) order."""
    group = doc.spans.get(MENTIONS_KEY)
    spans = list(group) if group is not None else []
    windows = mention_windows(doc)
    order = sorted(range(len(windows)), key=windows.__getitem__)  # stable, as spans were
    mentions = [windows[i] for i in order]
    starts = [start for start, _ in mentions]
    longest = max((end - start for start, end in mentions), default=0)
    taken: set[int] = set()
    added: list[Window] = []
    candidates = candidates_by_window(doc)
    operations = doc.user_data.setdefault(_OPERATIONS_KEY, set())
    for start, stop in found:
        near = mentions[
            bisect.bisect_left(starts, start - longest) : bisect.bisect_left(starts, stop)
        ]
        covered = any(end > start and _names_pcs(candidates.get((s, end), ())) for s, end in near)
        if not covered and taken.isdisjoint(range(start, stop)):
            operations.add((start, stop))
            # A mention of these very words (a learned phrase) becomes the operation's own.
            if (start, stop) not in near:
                added.append((start, stop))
            taken.update(range(start, stop))
    label = doc.vocab.strings.add("MENTION")
    merged = [(windows[i], spans[i]) for i in order]
    merged.extend((window, Span(doc, *window, label=label)) for window in added)
    merged.sort(key=itemgetter(0))
    return [span for _, span in merged]


def composed_candidates(
    composer: PcsComposer,
    doc: Doc,
    window: Window,
    candidates: Sequence[CandidateCode],
    cache: dict[Any, list[CandidateCode]],
    names_operation: bool,
) -> list[CandidateCode]:
    """Complete codes for the mention at `window` (its first and end tokens) with PCS
    headings or naming a root operation (`names_operation`), composed from its
    statement; none for other mentions. `cache` lives for one note."""
    # Most mentions name no PCS code: one pass in C over their systems tells.
    if not names_operation and CodeSystem.ICD10PCS not in map(_system, candidates):
        return []
    # Official headings only: a model's learned phrase is a correlation ("scan", "biopsy"
    # seen beside a CT heading in training), not a statement of what was done.
    headings = tuple(
        (c.code, _support(c), c.term)
        for c in candidates
        if c.system is CodeSystem.ICD10PCS
        and len(c.code) < 7
        and c.source is not CandidateSource.LEARNED
    )
    if not headings and not names_operation:
        return []
    start, stop = window
    found = _statement_of(doc, start) or _read_statement(composer, doc, start, stop)
    first, end, statement = found
    focus = (start - first, min(stop, end) - 1 - first)
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
    """How surely a heading is named: an official term surely; a near match as closely as
    it matched."""
    return candidate.similarity if candidate.source is CandidateSource.NEAR else 1.0


def _names_pcs(candidates: Sequence[CandidateCode]) -> bool:
    """An official term named PCS codes here: its operation words need no mention of their
    own. A learned phrase ("colectomy" seen beside 0DBE) does not stand for them."""
    return any(
        c.system is CodeSystem.ICD10PCS and c.source is not CandidateSource.LEARNED
        for c in candidates
    )


def _read_statement(
    composer: PcsComposer, doc: Doc, start: int, stop: int
) -> tuple[int, int, Statement]:
    """The statement of a heading mention (tokens start..stop - 1) whose words the first
    look passed by (rare: a lexicon term naming a PCS heading holds an operation word),
    read now and kept."""
    sentence = doc[start:stop].sent
    first = sentence.start + (start - sentence.start) // STATEMENT_TOKENS * STATEMENT_TOKENS
    end = min(first + STATEMENT_TOKENS, sentence.end)
    expansions = expansion_stems(doc)
    extra = [(i - first, s) for i in range(first, end) for s in expansions.get(i, ())]
    statement = composer.statement([t.norm for t in doc_tokens(doc)[first:end]], extra)
    firsts, statements = doc.user_data.setdefault(STATEMENTS_KEY, ([], []))
    at = bisect.bisect_left(firsts, first)
    firsts.insert(at, first)
    statements.insert(at, (first, end, statement))
    return first, end, statement


def _statement_of(doc: Doc, start: int) -> tuple[int, int, Statement] | None:
    """The statement holding the token at `start`."""
    firsts, statements = doc.user_data.get(STATEMENTS_KEY, ([], []))
    at = bisect.bisect_right(firsts, start) - 1
    if at < 0:
        return None
    found: tuple[int, int, Statement] = statements[at]
    return found if start < found[1] else None


def _pieces(doc: Doc) -> list[tuple[int, int]]:
    """Token ranges to read as statements: sentences, cut into STATEMENT_TOKENS pieces."""
    pieces = []
    for start, end in sentence_ranges(doc):
        for first in range(start, end, STATEMENT_TOKENS):
            pieces.append((first, min(first + STATEMENT_TOKENS, end)))
    return pieces
