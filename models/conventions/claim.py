"""The working state of the conventions: one draft per code, the note, and the rule book.

Rules read and change drafts: whether a code is recommended, why (notes a coder reads),
and codes they add (a combination code, a history code, a complete PCS code). A draft
keeps the model's score; a code a rule puts in another's place takes that code's score.
"""

import bisect
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, TypeVar

from codes.instructions import CodeRange, compact
from codes.systems import CodeSystem
from models.features import CodeKey
from models.guidelines import Setting
from models.suggestions import EvidenceSpan, RankedCode
from nlp.mentions import Assertion, CandidateSource, Mention
from nlp.terms import content_stems, stem

T = TypeVar("T")
PACKAGE = "models.conventions"


def load_data(name: str) -> Any:
    return json.loads(resources.files(PACKAGE).joinpath(name).read_text("utf-8"))


@dataclass(frozen=True)
class Rule:
    id: str
    guideline: str
    profiles: tuple[str, ...]
    note: str

    def says(self, detail: str = "") -> str:
        """A note for a coder: "integral to J18.9 (I.B.5)"."""
        text = f"{self.note}: {detail}" if detail else self.note
        return f"{text} ({self.guideline})" if self.guideline else text


@functools.cache
def rule_book() -> dict[str, Rule]:
    return {
        r["id"]: Rule(r["id"], r["guideline"], tuple(r["profiles"]), r["note"])
        for r in load_data("rules.json")["rules"]
    }


def rule(rule_id: str) -> Rule:
    return rule_book()[rule_id]


@dataclass(eq=False)
class Draft:
    system: CodeSystem
    code: str
    score: float
    above_threshold: bool
    evidence: tuple[EvidenceSpan, ...] = ()
    related: tuple[EvidenceSpan, ...] = ()
    named: float = 0.0
    composed: float = 0.0
    supported: bool = True
    recommended: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, ranked: RankedCode) -> "Draft":
        return cls(
            ranked.system,
            ranked.code,
            ranked.score,
            ranked.above_threshold,
            ranked.evidence,
            ranked.related,
            ranked.named,
            ranked.composed,
        )

    @property
    def key(self) -> CodeKey:
        return (self.system.value, self.code)

    @property
    def diagnosis(self) -> bool:
        return self.system is CodeSystem.ICD10CM

    def assertions(self) -> set[Assertion]:
        return {s.assertion for s in self.evidence}

    def say(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def drop(self, note: str) -> None:
        """Not recommended, and why."""
        self.recommended = False
        self.say(note)


@dataclass
class Claim:
    """Every code of the note, by (system, code), in the model's order."""

    drafts: dict[CodeKey, Draft]
    thresholds: Mapping[str, float]
    _index: list[tuple[str, int, CodeKey]] = field(default_factory=list)

    @classmethod
    def of(cls, ranked: Iterable[RankedCode], thresholds: Mapping[str, float]) -> "Claim":
        drafts = {(r.system.value, r.code): Draft.of(r) for r in ranked}
        return cls(drafts, thresholds)

    def __iter__(self) -> Iterator[Draft]:
        return iter(list(self.drafts.values()))

    def get(self, system: CodeSystem, code: str) -> Draft | None:
        return self.drafts.get((system.value, code))

    def recommended(self, system: CodeSystem | None = None) -> list[Draft]:
        return [
            d
            for d in self.drafts.values()
            if d.recommended and (system is None or d.system is system)
        ]

    def covered_by(self, system: CodeSystem, ranges: Iterable[CodeRange]) -> list[Draft]:
        """The drafts of `system` inside any of the ranges, in the claim's order; found in
        a sorted index of codes, so asking for every instruction of every code does not
        walk the whole claim each time."""
        if len(self._index) != len(self.drafts):  # drafts are only ever added
            self._index = sorted(
                (compact(key[1]), order, key) for order, key in enumerate(self.drafts)
            )
        found = []
        for codes in ranges:
            # Every code a range covers sorts between its low end and its high end's last
            # descendant; the range itself says which of those it covers.
            i = bisect.bisect_left(self._index, (codes.low,))
            while i < len(self._index) and self._index[i][0][: len(codes.high)] <= codes.high:
                code, order, key = self._index[i]
                if key[0] == system.value and codes.covers(code):
                    found.append((order, key))
                i += 1
        return [self.drafts[key] for _, key in sorted(set(found))]

    def put(self, system: CodeSystem, code: str, source: Draft, note: str) -> Draft:
        """Recommend `code` in place of (or beside) `source`: it takes at least the source's
        score and the threshold of its system, and the source's evidence. A code the hard
        rules found denied stays unrecommended: no convention overrides them."""
        floor = max(source.score, self.thresholds.get(system.value, 0.0))
        draft = self.drafts.get((system.value, code))
        if draft is not None and not draft.supported:
            return draft
        if draft is None:
            draft = Draft(system, code, round(floor, 6), True)
            self.drafts[draft.key] = draft
        draft.score = max(draft.score, round(floor, 6))
        draft.named = max(draft.named, source.named)
        draft.evidence = tuple(sorted({*draft.evidence, *source.evidence}, key=_span_order))
        draft.supported = True
        draft.recommended = True
        draft.say(note)
        return draft


def _span_order(span: EvidenceSpan) -> tuple[int, int, str]:
    return (span.start, span.end, span.assertion)


_WORD = re.compile(r"[A-Za-z0-9]+")
_ABSENT = re.compile(
    r"\b(?:without|no|not|denies|negative for)\b(?:(?!\b(?:but|however)\b)[^,;.])*", re.I
)
# Sentence ends for reading words around evidence: end punctuation, semicolons, line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
# Words that deny or put off what follows in a sentence, for checks made on raw sentences
# (instructional-note words such as "insulin" are not mentions ConText has read).
_NOT_NOW = frozenset(
    "no not denies denied deny without never stopped discontinued held hold if should".split()
)


@dataclass
class NoteView:
    """What the rules read of the note besides the ranked codes."""

    text: str
    mentions: Sequence[Mention]
    setting: Setting
    _sentences: list[tuple[int, int, frozenset[str]]] | None = None
    _memo: dict[str, Any] = field(default_factory=dict)

    def memo(self, name: str, compute: Callable[[], T]) -> T:
        """What a rule reads of the whole note, read once."""
        if name not in self._memo:
            self._memo[name] = compute()
        value: T = self._memo[name]
        return value

    def stem_positions(self) -> dict[str, list[int]]:
        """Each word's stem with the character offsets it stands at."""

        def positions() -> dict[str, list[int]]:
            found: dict[str, list[int]] = {}
            for match in _WORD.finditer(self.text):
                found.setdefault(stem(match.group().lower()), []).append(match.start())
            return found

        return self.memo("stem_positions", positions)

    def sentences(self) -> list[tuple[int, int, frozenset[str]]]:
        if self._sentences is None:
            found = []
            start = 0
            for match in _SENTENCE_END.finditer(self.text):
                found.append((start, match.start()))
                start = match.end()
            found.append((start, len(self.text)))
            # What a sentence says is absent ("migraine without aura") documents nothing.
            self._sentences = [
                (s, e, frozenset(content_stems(_ABSENT.sub(" ", self.text[s:e]), False)))
                for s, e in found
                if e > s
            ]
        return self._sentences

    def _holding(self, spans: Iterable[EvidenceSpan]) -> list[tuple[int, int, frozenset[str]]]:
        """The sentences the spans overlap, in note order: found by bisection, so a rule
        asking for every code costs the spans it names, not the note's length again."""
        sentences = self.sentences()
        starts = self.memo("sentence_starts", lambda: [start for start, _, _ in sentences])
        held: set[int] = set()
        for span in spans:
            i = max(bisect.bisect_right(starts, span.start) - 1, 0)
            while i < len(sentences) and sentences[i][0] < span.end:
                if span.start < sentences[i][1]:
                    held.add(i)
                i += 1
        return [sentences[i] for i in sorted(held)]

    def words_around(self, spans: Iterable[EvidenceSpan]) -> frozenset[str]:
        """The stems of the sentences holding the spans."""
        words: set[str] = set()
        for _, _, stems in self._holding(spans):
            words |= stems
        return frozenset(words)

    def absent_words(self, spans: Iterable[EvidenceSpan]) -> frozenset[str]:
        """The stems the sentences holding the spans say are absent ("without hematuria")
        and none of them says plainly ("no pneumonia on admission; pneumonia on day 3")."""
        wanted = list(spans)
        absent: set[str] = set()
        said_absent = self.memo("absent_by_sentence", dict[int, frozenset[str]])
        for start, end, _ in self._holding(wanted):
            if start not in said_absent:  # read once per sentence, however many codes ask
                said_absent[start] = frozenset(
                    stem
                    for clause in _ABSENT.finditer(self.text, start, end)
                    for stem in content_stems(clause.group(), False)
                )
            absent |= said_absent[start]
        return frozenset(absent) - self.words_around(wanted)

    def term_words(self, spans: Iterable[EvidenceSpan]) -> frozenset[str]:
        """The words of the official terms the reader matched at these spans: an
        abbreviation's span ("CKD") is documented in the words of what it stands for."""

        def by_span() -> dict[tuple[int, int], frozenset[str]]:
            found: dict[tuple[int, int], set[str]] = {}
            for mention in self.mentions:
                words = found.setdefault((mention.start, mention.end), set())
                for candidate in mention.candidates:
                    if candidate.source is CandidateSource.LEXICON:
                        words.update(content_stems(_ABSENT.sub(" ", candidate.term)))
            return {k: frozenset(v) for k, v in found.items()}

        terms = self.memo("term_words", by_span)
        return frozenset().union(*(terms.get((s.start, s.end), frozenset()) for s in spans))

    def says_plainly(self, stems: frozenset[str]) -> bool:
        """Whether one sentence holds all `stems` with no denial or condition in it."""
        return any(
            stems <= found
            and not set(re.findall(r"[a-z]+", self.text[start:end].lower())) & _NOT_NOW
            for start, end, found in self.sentences()
        )
