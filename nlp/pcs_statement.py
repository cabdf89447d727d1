"""A procedure statement as the PCS composer reads it.

The words of a sentence (or of a window of a long one) become stems by token position; a
position may hold more stems than its word: an abbreviation's expansion ("ORIF": open,
reduction, internal, fixation) and the body part inside a surgical word ("colectomy":
colon). On top of the stems sit the cue words of the rules (approaches, devices,
qualifiers, operations) and the side words, each with where it was found, so that the
composer can say which words chose which value.
"""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nlp.pcs_rules import Cue, CueSet, PcsRules, Suffix
from nlp.terms import stem

# Cue words may have this many tokens between them ("reduction of the fracture").
MAX_GAP = 3


@functools.lru_cache(maxsize=65_536)
def word_stem(word: str) -> str:
    """nlp.terms.stem, remembered: a note's words recur, and every sentence is tested."""
    return stem(word)


@dataclass(frozen=True, slots=True)
class CueHit:
    cue: Cue
    first: int  # token positions, inclusive
    last: int


@dataclass(frozen=True, slots=True)
class WordPart:
    """A surgical word taken apart: 'colectomy' is colon + -ectomy."""

    position: int
    suffix: Suffix
    body: tuple[str, ...]  # stems of the body part named by the word's root; may be empty


class Statement:
    def __init__(
        self, words: Sequence[str], rules: PcsRules, extra: Iterable[tuple[int, str]] = ()
    ) -> None:
        """`words`: the folded words (tokens) in order; `extra`: (position, stem) pairs the
        words do not spell out, e.g. an abbreviation's expansion."""
        self.words = list(words)
        self.memo: dict[str, Any] = {}  # what the composer read once for every focus
        self._where: dict[str, list[int]] = {}
        self.plurals: set[int] = set()  # "kidneys": both sides, unless a side is said
        for position, word in enumerate(self.words):
            if word.isalnum():  # function words too: cues may need "without", "no"
                found = word_stem(word)
                self._add(position, found)
                if word.endswith("s") and found != word and not word.endswith("'s"):
                    self.plurals.add(position)
        for position, extra_stem in extra:
            self._add(position, extra_stem)
        self.word_parts = [p for i, w in enumerate(self.words) if (p := _word_part(i, w, rules))]
        hits = self._find_all(rules.cue_book)
        self.operation_cues = hits.get("operation", [])
        self.preferences = hits.get("preference", [])
        blocked = _positions(hits.get("approach_not", []))
        self.approach_cues = _outermost(
            [h for h in hits.get("approach", []) if not _covers(h, blocked)]
        )
        self.value_cues = {axis: hits.get(f"value:{axis}", []) for axis in rules.value_cues}
        self.blocked = {axis: _positions(hits.get(f"blocked:{axis}", [])) for axis in rules.blocked}
        # The body parts the words imply, once the cues are found on the words themselves.
        for part in self.word_parts:
            for body_stem in part.body:
                self._add(part.position, body_stem)
        for hit in self.operation_cues:
            for body_stem in hit.cue.body:
                self._add(hit.first, body_stem)
        self.sides = sorted(
            (position, side)
            for side, stems in rules.sides.items()
            for s in stems
            for position in self._where.get(s, ())
        )
        self.has_context = (
            any(s in self._where for s in rules.context_words)
            or bool(self.approach_cues)
            or bool(self.value_cues.get("device"))
        )

    def _add(self, position: int, word_stem: str) -> None:
        positions = self._where.get(word_stem)
        if positions is None:
            self._where[word_stem] = [position]
        elif position not in positions:
            positions.append(position)
            if positions[-2] > position:  # an expansion or a body part, added late
                positions.sort()

    @property
    def stems(self) -> frozenset[str]:
        if "stems" not in self.memo:
            self.memo["stems"] = frozenset(self._where)
        found: frozenset[str] = self.memo["stems"]
        return found

    def positions(self, word_stem: str) -> list[int]:
        return self._where.get(word_stem, [])

    def text(self, first: int, last: int) -> str:
        """The words at positions first..last, for a coder to read."""
        return " ".join(self.words[first : last + 1])

    def find(self, cues: CueSet) -> list[CueHit]:
        """Where each cue's words stand in order, at most MAX_GAP tokens apart."""
        found = []
        for word_stem in self._where:
            for order, cue in cues.by_first.get(word_stem, ()):
                for first, last in self._spans(cue.stems):
                    found.append((first, order, CueHit(cue, first, last)))
        return [hit for _, _, hit in sorted(found, key=lambda f: (f[0], f[1]))]

    def _find_all(self, book: dict[str, list[tuple[str, int, Cue]]]) -> dict[str, list[CueHit]]:
        """find() for every cue set of the rules at once, by set name."""
        found: dict[str, list[tuple[int, int, CueHit]]] = {}
        for word_stem in list(self._where):
            for name, order, cue in book.get(word_stem, ()):
                for first, last in self._spans(cue.stems):
                    found.setdefault(name, []).append((first, order, CueHit(cue, first, last)))
        return {
            name: [hit for _, _, hit in sorted(hits, key=lambda f: (f[0], f[1]))]
            for name, hits in found.items()
        }

    def _spans(self, stems: tuple[str, ...]) -> list[tuple[int, int]]:
        return [
            (first, last)
            for first in self._where.get(stems[0], ())
            if (last := self._extend(stems, 1, first)) is not None
        ]

    def _extend(self, stems: tuple[str, ...], index: int, previous: int) -> int | None:
        if index == len(stems):
            return previous
        for position in self._where.get(stems[index], ()):
            if previous <= position <= previous + MAX_GAP:
                found = self._extend(stems, index + 1, position)
                if found is not None:
                    return found
        return None

    def nearest(self, stems: Iterable[str], focus: tuple[int, int]) -> int | None:
        """The token distance from the focus to the nearest of these stems."""
        distances = [_distance(p, focus) for s in stems for p in self._where.get(s, ())]
        return min(distances) if distances else None


def distance(hit: CueHit, focus: tuple[int, int]) -> int:
    return min(_distance(hit.first, focus), _distance(hit.last, focus))


def _distance(position: int, focus: tuple[int, int]) -> int:
    first, last = focus
    if position < first:
        return first - position
    return max(0, position - last)


def _positions(hits: Iterable[CueHit]) -> set[int]:
    return {p for hit in hits for p in range(hit.first, hit.last + 1)}


def _covers(hit: CueHit, blocked: set[int]) -> bool:
    return any(p in blocked for p in range(hit.first, hit.last + 1))


def _outermost(hits: list[CueHit]) -> list[CueHit]:
    """Drop a cue found inside a longer one: 'laparoscopic assisted vaginal' is neither
    'laparoscopic' nor 'vaginal'."""
    return [
        hit
        for hit in hits
        if not any(
            other is not hit
            and len(other.cue.stems) > len(hit.cue.stems)
            and other.first <= hit.first
            and hit.last <= other.last
            for other in hits
        )
    ]


def _word_part(position: int, word: str, rules: PcsRules) -> WordPart | None:
    if len(word) < 6 or not rules.suffix_pattern.search(word):
        return None
    for suffix in rules.suffixes:
        if word.endswith(suffix.suffix) and len(word) > len(suffix.suffix) + 1:
            root = word[: -len(suffix.suffix)]
            return WordPart(position, suffix, _body_of(root, rules))
    return None


def _body_of(root: str, rules: PcsRules) -> tuple[str, ...]:
    """The body stems a root is built of ('esophagogastroduoden': esophagus, stomach,
    duodenum), or () when part of it is no known combining form."""
    for prefix in rules.ignored_prefixes:
        if root.startswith(prefix) and len(root) > len(prefix) + 2:
            root = root[len(prefix) :]
            break
    body: list[str] = []
    while root:
        form = max((f for f in rules.combining_forms if root.startswith(f)), key=len, default=None)
        if form is None and root.startswith("o"):  # the linking vowel: gastr-o-duoden
            root = root[1:]
            continue
        if form is None:
            return ()
        body.extend(rules.combining_forms[form])
        root = root[len(form) :]
    return tuple(body)
