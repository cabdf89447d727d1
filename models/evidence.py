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

A code keeps a sample of its spans, not all of them (`NoteEvidence.keep`): a long note that says
"pneumonia" five hundred times would otherwise give each of the dozens of codes under it
five hundred spans, and the work per note would grow with the square of its length. The
sample holds the first spans, then only spans of a wording and assertion it does
not hold yet, so what the conventions judge by (is any span present? which words are
said, which denied?) is what all the spans would tell them.
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.features import (
    HIERARCHY_MIN_SIMILARITY,
    SYSTEM_VALUE,
    CodeFacts,
    CodeKey,
    category,
)
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
# Spans a code keeps before it keeps only new wordings: notes of ordinary length stay
# under it, and a coder checks a handful of spans, not hundreds.
SPANS_PER_CODE = 16


class Sample(list[int]):
    """A code's spans, as indices of the note's mentions, in the order they came."""

    __slots__ = ("kinds",)
    kinds: set[int]  # the wordings and assertions held, set once it is full


@dataclass
class NoteEvidence:
    """The evidence spans of one note, indexed by code. Codes hold indices into `spans`
    (one per mention); `kinds` gives each mention's wording and assertion as a number."""

    facts: CodeFacts
    spans: list[EvidenceSpan] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    # Spans of official terms of the code or of a code it is the default of.
    official: defaultdict[CodeKey, Sample] = field(default_factory=lambda: defaultdict(Sample))
    # The best similarity of an official term of the code that the note does not deny
    # (0 for near matches: an approximate match names the code less surely).
    named: dict[CodeKey, float] = field(default_factory=dict)
    composed: dict[CodeKey, float] = field(default_factory=dict)
    # Spans of learned phrases about the code (`about`).
    learned: defaultdict[CodeKey, Sample] = field(default_factory=lambda: defaultdict(Sample))
    # For `related`, whose spans count only by their assertion: the first span of each
    # assertion naming a code of a category, and naming an anchor (a code named surely
    # enough to stand for the codes it co-occurs with in training).
    by_category: defaultdict[CodeKey, dict[Assertion, int]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    anchor_spans: dict[CodeKey, dict[Assertion, int]] = field(default_factory=dict)
    anchors_of: defaultdict[CodeKey, list[CodeKey]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def keep(self, sample: Sample, mention: int) -> None:
        """Add a mention's span to a code's sample: any while it holds fewer than
        SPANS_PER_CODE, after that only the first of a wording and assertion it does not
        hold yet. So every wording and assertion is kept (what the hard rules judge by),
        and a note that repeats one term five hundred times gives each code under it
        sixteen spans, not five hundred."""
        if sample and sample[-1] == mention:  # a mention's candidates come one after another
            return
        if len(sample) < SPANS_PER_CODE:
            sample.append(mention)
            return
        kinds = getattr(sample, "kinds", None)
        if kinds is None:
            kinds = sample.kinds = {self.kinds[i] for i in sample}
        if self.kinds[mention] not in kinds:
            kinds.add(self.kinds[mention])
            sample.append(mention)

    def evidence(self, key: CodeKey) -> tuple[tuple[EvidenceSpan, ...], float]:
        """The spans naming `key` and the best similarity of an official term among them."""
        official = self.official
        samples = [official[h] for h in _key_and_headings(key) if h in official]
        if key in self.learned:
            samples.append(self.learned[key])
        if not samples:  # most candidates (kNN, hierarchy) have no span of their own
            return (), self.named.get(key, 0.0)
        held = {i for sample in samples for i in sample}
        return self._in_order(held, (lambda s: (s.start, s.end))), self.named.get(key, 0.0)

    def add_official(self, key: CodeKey, mention: int, similarity: float) -> None:
        self.keep(self.official[key], mention)
        # A term the note denies names nothing the note says: "no choledocholithiasis"
        # leaves K80.50 to be documented by other words.
        if self.spans[mention].assertion is not Assertion.NEGATED:
            self.named[key] = max(self.named.get(key, 0.0), similarity)

    def related(self, key: CodeKey) -> tuple[EvidenceSpan, ...]:
        """A span of each assertion among the mentions `key` was derived from: what the
        hard rules need to know of a code without evidence of its own."""
        held = set(self.by_category.get(category(key), {}).values())
        for anchor in self.anchors_of.get(key, ()):
            held.update(self.anchor_spans[anchor].values())
        if not held:
            return ()
        return self._in_order(held, (lambda s: (s.start, s.end, s.assertion)))

    def _in_order(
        self, held: set[int], order: Callable[[EvidenceSpan], tuple[Any, ...]]
    ) -> tuple[EvidenceSpan, ...]:
        return tuple(sorted({self.spans[i] for i in held}, key=order))


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
    kind_numbers: dict[tuple[str, Assertion], int] = {}
    strength: dict[CodeKey, float] = defaultdict(float)
    spans_of: defaultdict[CodeKey, dict[Assertion, int]] = defaultdict(dict)
    for index, mention in enumerate(mentions):
        found.spans.append(
            EvidenceSpan(
                mention.start, mention.end, mention.text, mention.section, mention.assertion
            )
        )
        kind = (mention.text.lower(), mention.assertion)
        found.kinds.append(kind_numbers.setdefault(kind, len(kind_numbers)))
        for candidate in mention.candidates:
            key = (SYSTEM_VALUE[candidate.system], candidate.code)
            strength[key] = max(strength[key], candidate.similarity)
            spans_of[key].setdefault(mention.assertion, index)
            if candidate.similarity < MIN_EVIDENCE_SIMILARITY:
                continue
            if candidate.source is CandidateSource.LEARNED:
                # Filtered before sampling: the sample keeps spans that can be shown.
                if _about_code(candidate.term, key, facts, said_about):
                    found.keep(found.learned[key], index)
                continue
            exact = 0.0 if candidate.source is CandidateSource.NEAR else candidate.similarity
            found.add_official(key, index, exact)
            found.by_category[category(key)].setdefault(mention.assertion, index)
            if candidate.source is CandidateSource.COMPOSED:
                found.composed[key] = max(found.composed.get(key, 0.0), candidate.similarity)
            default = facts.default_code(key)
            if default is not None:
                found.add_official(default, index, exact)
    for anchor, value in strength.items():
        if value < HIERARCHY_MIN_SIMILARITY:
            continue
        found.anchor_spans[anchor] = spans_of[anchor]
        for partner in partners.get(anchor, {}):
            found.anchors_of[partner].append(anchor)
    return found


def _about_code(
    phrase: str, key: CodeKey, facts: CodeFacts, known: dict[tuple[str, CodeKey], bool]
) -> bool:
    """`about`, once per phrase and code of a note: a note repeats its phrases."""
    found = known.get((phrase, key))
    if found is None:
        found = known[(phrase, key)] = about(phrase, facts.vocabulary(key))
    return found


@functools.lru_cache(maxsize=100_000)
def _key_and_headings(key: CodeKey) -> tuple[CodeKey, ...]:
    """`key`, then the codes a heading above it would carry: "E11" and "E11.6" above
    "E11.65", "0DT" to "0DTN4Z" above "0DTN4ZZ"."""
    system, code = key
    compact = code.replace(".", "")
    heads = [key]
    for length in range(3, len(compact)):
        head = compact[:length]
        if "." in code and length > 3:
            head = f"{head[:3]}.{head[3:]}"
        heads.append((system, head))
    return tuple(heads)
