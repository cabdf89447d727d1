"""Which spans of a note are evidence for a code, and which mentions a derived code came from.

A coder checks evidence, so a span is shown for a code only when it names the code: an
official term of the code (catalog names, Alphabetic Index, PCS index, a composed PCS
statement), of a heading the code is the default of, or of a heading above it; or a
phrase the model learned whose words are about the code (they share a meaningful word
with the code's names). Learned phrases that merely correlate ("chest pain" with an
ECG code) stay ranking signals and are not shown.

Codes proposed without a span of their own (siblings seen in training, codes that
co-occur with a named code, kNN) keep the spans they were derived from as `related`:
the conventions never recommend a code derived only from denied mentions.

A code keeps a sample of its spans, not all of them (`SpanSample`): a long note that says
"pneumonia" five hundred times would otherwise give each of the dozens of codes under it
five hundred spans, and the work per note would grow with the square of its length. The
sample keeps the first span of each wording and assertion (up to its size) before any
repeat, so what the conventions judge by (is any span present? which words are said,
which denied?) is what all the spans would tell them.
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from models.features import HIERARCHY_MIN_SIMILARITY, CodeFacts, CodeKey, category
from models.suggestions import EvidenceSpan
from nlp.mentions import Assertion, CandidateSource, Mention
from nlp.terms import content_stems

# Weaker matches (loose learned phrases, far near matches) inform the ranker but are not
# shown as evidence: "pain" once named hypertension in a training note.
MIN_EVIDENCE_SIMILARITY = 0.3
# Words too common in code titles to make a learned phrase about a code on their own.
GENERIC_STEMS = frozenset(
    """acute chronic left right bilateral unilateral disease disorder syndrome condition
    finding abnormal approach open external percutaneous endoscopic type stage
    primary secondary initial encounter subsequent sequela part region""".split()
)
_OFFICIAL = (CandidateSource.LEXICON, CandidateSource.NEAR, CandidateSource.COMPOSED)
# Spans kept per code: the first of each wording and assertion, then the earliest others.
# Notes of ordinary length stay under it; a coder checks a handful of spans, not hundreds.
SPANS_PER_CODE = 16
_T = TypeVar("_T")


class SpanSample(Generic[_T]):
    """At most SPANS_PER_CODE spans, each with what came with it (a similarity, a learned
    phrase; a span may come more than once): the first span of each wording and
    assertion, then repeats in the order they came."""

    __slots__ = ("_firsts", "_kinds", "_repeats")

    def __init__(self) -> None:
        self._firsts: dict[EvidenceSpan, list[_T]] = {}
        self._repeats: dict[EvidenceSpan, list[_T]] = {}
        self._kinds: set[tuple[str, Assertion]] = set()

    def add(self, span: EvidenceSpan, extra: _T) -> None:
        held = self._firsts.get(span)
        if held is None:
            held = self._repeats.get(span)
        if held is not None:
            if extra not in held:
                held.append(extra)
            return
        kind = (span.text.lower(), span.assertion)
        if kind not in self._kinds:
            if len(self._firsts) < SPANS_PER_CODE:
                self._firsts[span] = [extra]
                self._kinds.add(kind)
        elif len(self._repeats) < SPANS_PER_CODE:
            self._repeats[span] = [extra]

    def __iter__(self) -> Iterator[tuple[EvidenceSpan, _T]]:
        room = SPANS_PER_CODE - len(self._firsts)
        for spans in (self._firsts.items(), list(self._repeats.items())[:room]):
            for span, extras in spans:
                for extra in extras:
                    yield span, extra


@dataclass
class NoteEvidence:
    """The evidence spans of one note, indexed by code."""

    facts: CodeFacts
    # Spans of official terms, with the similarity of exact terms (0 for near matches:
    # an approximate match shows where the code comes from but names it less surely).
    official: defaultdict[CodeKey, SpanSample[None]] = field(
        default_factory=lambda: defaultdict(SpanSample)
    )
    # The best similarity of an official term of the code that the note does not deny.
    named: dict[CodeKey, float] = field(default_factory=dict)
    composed: dict[CodeKey, float] = field(default_factory=dict)
    # Spans of learned phrases about the code (`about`), by code.
    learned: defaultdict[CodeKey, SpanSample[None]] = field(
        default_factory=lambda: defaultdict(SpanSample)
    )
    by_category: defaultdict[CodeKey, SpanSample[None]] = field(
        default_factory=lambda: defaultdict(SpanSample)
    )
    anchors: defaultdict[CodeKey, SpanSample[None]] = field(
        default_factory=lambda: defaultdict(SpanSample)
    )

    def evidence(self, key: CodeKey) -> tuple[tuple[EvidenceSpan, ...], float]:
        """The spans naming `key` and the best similarity of an official term among them."""
        spans: dict[EvidenceSpan, None] = {}
        for holder in (key, *_headings_above(key)):
            for span, _ in self.official.get(holder, SpanSample()):
                spans[span] = None
        for span, _ in self.learned.get(key, SpanSample()):
            spans[span] = None
        return tuple(sorted(spans, key=lambda s: (s.start, s.end))), self.named.get(key, 0.0)

    def add_official(self, key: CodeKey, span: EvidenceSpan, similarity: float) -> None:
        self.official[key].add(span, None)
        # A term the note denies names nothing the note says: "no choledocholithiasis"
        # leaves K80.50 to be documented by other words.
        if span.assertion is not Assertion.NEGATED:
            self.named[key] = max(self.named.get(key, 0.0), similarity)

    def related(self, key: CodeKey) -> tuple[EvidenceSpan, ...]:
        found = {
            span
            for sample in (self.by_category.get(category(key)), self.anchors.get(key))
            if sample is not None
            for span, _ in sample
        }
        return tuple(sorted(found, key=lambda s: (s.start, s.end, s.assertion)))


def about(phrase: str, vocabulary: frozenset[str]) -> bool:
    """Whether a learned phrase is about a code: at least half of its meaningful words
    are words of the code's names ("ECG" for an electrocardiogram code; not "low back
    pain" for a lower back strain, which shares only "back")."""
    words = [s for s in content_stems(phrase) if s not in GENERIC_STEMS]
    shared = sum(1 for s in words if s in vocabulary)
    return shared > 0 and 2 * shared >= len(words)


def note_evidence(
    mentions: Sequence[Mention],
    facts: CodeFacts,
    partners: Mapping[CodeKey, Mapping[CodeKey, int]],
) -> NoteEvidence:
    found = NoteEvidence(facts)
    said_about: dict[tuple[str, CodeKey], bool] = {}
    strength: dict[CodeKey, float] = defaultdict(float)
    spans_of: defaultdict[CodeKey, SpanSample[None]] = defaultdict(SpanSample)
    for mention in mentions:
        span = EvidenceSpan(
            mention.start, mention.end, mention.text, mention.section, mention.assertion
        )
        for candidate in mention.candidates:
            key = (candidate.system.value, candidate.code)
            strength[key] = max(strength[key], candidate.similarity)
            spans_of[key].add(span, None)
            if candidate.similarity < MIN_EVIDENCE_SIMILARITY:
                continue
            if candidate.source is CandidateSource.LEARNED:
                # Filtered before sampling: the sample keeps spans that can be shown.
                if _about_code(candidate.term, key, facts, said_about):
                    found.learned[key].add(span, None)
                continue
            exact = 0.0 if candidate.source is CandidateSource.NEAR else candidate.similarity
            found.add_official(key, span, exact)
            found.by_category[category(key)].add(span, None)
            if candidate.source is CandidateSource.COMPOSED:
                found.composed[key] = max(found.composed.get(key, 0.0), candidate.similarity)
            default = facts.default_code(key)
            if default is not None:
                found.add_official(default, span, exact)
    for anchor, value in strength.items():
        if value < HIERARCHY_MIN_SIMILARITY:
            continue
        for partner in partners.get(anchor, {}):
            for span, _ in spans_of[anchor]:
                found.anchors[partner].add(span, None)
    return found


def _about_code(
    phrase: str, key: CodeKey, facts: CodeFacts, known: dict[tuple[str, CodeKey], bool]
) -> bool:
    """`about`, once per phrase and code of a note: a note repeats its phrases."""
    found = known.get((phrase, key))
    if found is None:
        found = known[(phrase, key)] = about(phrase, facts.vocabulary(key))
    return found


def _headings_above(key: CodeKey) -> list[CodeKey]:
    """The codes a heading above `key` would carry: "E11" and "E11.6" above "E11.65",
    "0DT" to "0DTN4Z" above "0DTN4ZZ"."""
    system, code = key
    compact = code.replace(".", "")
    heads = []
    for length in range(3, len(compact)):
        head = compact[:length]
        if "." in code and length > 3:
            head = f"{head[:3]}.{head[3:]}"
        heads.append((system, head))
    return heads
