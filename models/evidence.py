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
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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


@dataclass
class NoteEvidence:
    """The evidence spans of one note, indexed by code."""

    facts: CodeFacts
    # Spans of official terms, with the similarity of exact terms (0 for near matches:
    # an approximate match shows where the code comes from but names it less surely).
    official: dict[CodeKey, list[tuple[EvidenceSpan, float]]] = field(default_factory=dict)
    composed: dict[CodeKey, float] = field(default_factory=dict)
    learned: dict[CodeKey, list[tuple[EvidenceSpan, str]]] = field(default_factory=dict)
    by_category: dict[CodeKey, list[EvidenceSpan]] = field(default_factory=dict)
    anchors: dict[CodeKey, list[EvidenceSpan]] = field(default_factory=dict)

    def evidence(self, key: CodeKey) -> tuple[tuple[EvidenceSpan, ...], float]:
        """The spans naming `key` and the best similarity of an official term among them."""
        spans: dict[EvidenceSpan, None] = {}
        named = 0.0
        for holder in (key, *_headings_above(key)):
            for span, similarity in self.official.get(holder, ()):
                spans[span] = None
                # A term the note denies names nothing the note says: "no
                # choledocholithiasis" leaves K80.50 to be documented by other words.
                if holder == key and span.assertion is not Assertion.NEGATED:
                    named = max(named, similarity)
        vocabulary = None
        for span, phrase in self.learned.get(key, ()):
            if span in spans:
                continue
            vocabulary = vocabulary if vocabulary is not None else self.facts.vocabulary(key)
            if about(phrase, vocabulary):
                spans[span] = None
        return tuple(sorted(spans, key=lambda s: (s.start, s.end))), named

    def related(self, key: CodeKey) -> tuple[EvidenceSpan, ...]:
        found = {*self.by_category.get(category(key), ()), *self.anchors.get(key, ())}
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
    strength: dict[CodeKey, float] = defaultdict(float)
    spans_of: dict[CodeKey, list[EvidenceSpan]] = defaultdict(list)
    for mention in mentions:
        span = EvidenceSpan(
            mention.start, mention.end, mention.text, mention.section, mention.assertion
        )
        for candidate in mention.candidates:
            key = (candidate.system.value, candidate.code)
            strength[key] = max(strength[key], candidate.similarity)
            spans_of[key].append(span)
            if candidate.similarity < MIN_EVIDENCE_SIMILARITY:
                continue
            if candidate.source is CandidateSource.LEARNED:
                found.learned.setdefault(key, []).append((span, candidate.term))
                continue
            exact = 0.0 if candidate.source is CandidateSource.NEAR else candidate.similarity
            found.official.setdefault(key, []).append((span, exact))
            found.by_category.setdefault(category(key), []).append(span)
            if candidate.source is CandidateSource.COMPOSED:
                found.composed[key] = max(found.composed.get(key, 0.0), candidate.similarity)
            default = facts.default_code(key)
            if default is not None:
                found.official.setdefault(default, []).append((span, exact))
    for anchor, value in strength.items():
        if value < HIERARCHY_MIN_SIMILARITY:
            continue
        for partner in partners.get(anchor, {}):
            found.anchors.setdefault(partner, []).extend(spans_of[anchor])
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
