"""Find lexicon phrases in a note: every content word of a phrase inside one sentence.

Phrases are grouped by their content stems (many aliases share them) and indexed by
their rarest stem, so a sentence only checks the few phrases that could match it. A
match must also be compact (its words close together), and its evidence is a smallest
window of tokens that holds all of them. Every occurrence is a match of its own: "No
pneumonia on admission; pneumonia developed on day 3" names pneumonia twice, and only
the second is present.

A window never holds a scope-ending cue (a ConText terminator or negation, see
`Cue`) that is not one of the phrase's own words: in "hypertension but no diabetes" the
two words are asserted differently and cannot make one mention.
"""

import heapq
import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

from codes.text import words
from nlp import budget
from nlp.aliases import Alias
from nlp.term_index import Bucket, TermIndex
from nlp.terms import content_stems, stem
from nlp.tokens import Token

# A phrase of n content words may spread over at most n * _SPREAD + _SLACK tokens.
_SPREAD, _SLACK = 2, 2
MAX_PHRASE_STEMS = 8


@dataclass(frozen=True, slots=True)
class Phrase:
    """The aliases that share one set of content stems."""

    stems: tuple[str, ...]
    aliases: tuple[Alias, ...]


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    phrase: Phrase
    first: int  # token indexes into the sentence, inclusive
    last: int
    word_tokens: int  # alphanumeric tokens in the window

    @property
    def quality(self) -> float:
        """0..1: longer phrases found in tighter windows are surer matches."""
        n = len(self.phrase.stems)
        specificity = n / (n + 1.0)
        compactness = n / max(n, self.word_tokens)
        return specificity * compactness


@dataclass(frozen=True, slots=True)
class Cue:
    """Tokens that end or negate an assertion's scope ("but", ";", "no", "denies"): a
    phrase's window may not hold one unless its words are the phrase's own, as "without"
    is in "Type 2 diabetes mellitus without complications"."""

    first: int  # token indexes into the sentence, inclusive
    last: int
    words: tuple[str, ...]  # folded, as Token.norm


def group_phrases(aliases: Iterable[Alias]) -> list[Phrase]:
    grouped: dict[tuple[str, ...], list[Alias]] = {}
    for alias in aliases:
        stems = alias.stems if alias.stems is not None else tuple(sorted(content_stems(alias.text)))
        if 0 < len(stems) <= MAX_PHRASE_STEMS:
            grouped.setdefault(stems, []).append(alias)
    return [Phrase(stems, tuple(found)) for stems, found in sorted(grouped.items())]


class TermMatcher:
    """Phrases indexed by their two rarest stems (nlp/term_index.py).

    A sentence looks up each of its stems as a phrase's rarest one, then only the second
    stems it also holds: most phrases are never touched. Single-stem phrases sit apart.

    Built from phrases in memory (a model's learned phrases, tests), or `over` an index
    saved at build time, whose phrases are made only once a note matches them.
    """

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        kept = list(phrases)
        self._use(
            TermIndex.build([p.stems for p in kept]),
            kept.__getitem__,
            sum(len(p.aliases) for p in kept),
        )

    @classmethod
    def from_aliases(cls, aliases: Iterable[Alias]) -> "TermMatcher":
        return cls(group_phrases(aliases))

    @classmethod
    def over(
        cls, index: TermIndex, phrase: Callable[[int], Phrase], alias_count: int
    ) -> "TermMatcher":
        """A matcher on a built index; `phrase(id)` makes a phrase the first time it
        matches, and must give an equal one each time."""
        matcher = cls(())
        matcher._use(index, phrase, alias_count)
        return matcher

    def _use(self, index: TermIndex, phrase: Callable[[int], Phrase], alias_count: int) -> None:
        self._index = index
        self._phrase = phrase
        # A stem's bucket is made the first time a sentence holds it, a pair's group the
        # first time a sentence holds both. Words no phrase holds are not kept, so these
        # grow to the lexicon's size at most.
        self._buckets: dict[str, Bucket] = {}
        self._groups: dict[int, list[tuple[frozenset[str], int]]] = {}
        self.phrase_count = index.phrase_count
        self.alias_count = alias_count

    def match(
        self,
        tokens: Sequence[Token],
        extra_stems: Sequence[tuple[int, str]] = (),
        cues: Sequence[Cue] = (),
    ) -> list[PhraseMatch]:
        """Every occurrence of a phrase in one sentence's tokens.

        `extra_stems` adds (token index, stem) pairs that the text does not spell out,
        e.g. the words of an abbreviation's expansion at the abbreviation's position.
        `cues` are the scope-ending cues of the sentence, which no window may straddle.

        The work is linear in the occurrences of the stems of the phrases found, never in
        pairs of them: long run-on "sentences" stay cheap. A phrase reads only the tokens
        near its rarest stem, so a common word ("acute", "disease") in a long sentence is
        not read again for every phrase it is part of.
        """
        positions = _positions(tokens, extra_stems)
        buckets = self._buckets_of(positions)
        phrase = self._phrase
        matches = [
            PhraseMatch(phrase(single), i, i, 1)
            for word, bucket in buckets
            for single in bucket.singles
            for i in positions[word]
        ]
        multiword = self._found_multiword(positions, buckets)
        if not multiword:
            return matches
        # Alphanumeric tokens before each index, and the cues as flags: O(1) window tests.
        alnum_before = list(itertools.accumulate((t.norm.isalnum() for t in tokens), initial=0))
        barriers = _Barriers(cues, len(tokens))
        for found in budget.checked(multiword):
            width = len(found.stems) * _SPREAD + _SLACK
            for first, last in _occurrences(found, positions, width, barriers):
                words_in = alnum_before[last + 1] - alnum_before[first]
                matches.append(PhraseMatch(found, first, last, max(words_in, 1)))
        return matches

    def _buckets_of(self, positions: dict[str, list[int]]) -> list[tuple[str, Bucket]]:
        """The buckets of the sentence's words that phrases hold, in the sentence's order."""
        known = self._buckets
        found = []
        for word in positions:
            bucket = known.get(word)
            if bucket is None:
                bucket = self._index.bucket(word)
                if bucket is None:
                    continue
                known[word] = bucket
            found.append((word, bucket))
        return found

    def _found_multiword(
        self, positions: dict[str, list[int]], buckets: list[tuple[str, Bucket]]
    ) -> list[Phrase]:
        present = positions.keys()
        found: list[Phrase] = []
        for _, bucket in buckets:
            seconds = bucket.seconds
            if not seconds:
                continue
            shared = (
                [w for w in present if w in seconds]
                if len(seconds) > len(present)
                else [w for w in seconds if w in present]
            )
            for second in shared:
                group = self._groups.get(seconds[second])
                if group is None:
                    group = self._groups[seconds[second]] = self._index.group(seconds[second])
                found.extend(self._phrase(p) for stems, p in group if present >= stems)
        return found


def _positions(
    tokens: Sequence[Token], extra_stems: Sequence[tuple[int, str]]
) -> dict[str, list[int]]:
    """Stem -> the sorted token indexes where the sentence holds it."""
    positions: dict[str, list[int]] = {}
    for i, token in enumerate(tokens):
        positions.setdefault(stem(token.norm), []).append(i)
    if extra_stems:
        for i, extra in extra_stems:
            positions.setdefault(extra, []).append(i)
        for word in {extra for _, extra in extra_stems}:
            positions[word] = sorted(set(positions[word]))
    return positions


class _Barriers:
    """The cues of a sentence, and which token indexes they cover."""

    def __init__(self, cues: Sequence[Cue], length: int) -> None:
        self.cues = sorted(cues, key=lambda c: (c.first, c.last))
        # The furthest any cue up to each one reaches: the cues before the first that
        # reaches `first` all end before it. (A longest-cue bound instead let one long cue,
        # "no prior prior ... history of", send every test back to the first cue.)
        self._reach = list(itertools.accumulate((c.last for c in self.cues), max))
        self._covered_before: list[int] = []
        if self.cues:
            covered = [False] * length
            for cue in self.cues:
                for i in range(max(cue.first, 0), min(cue.last + 1, length)):
                    covered[i] = True
            self._covered_before = list(itertools.accumulate(covered, initial=0))
        # (phrase id, cue words) -> whether the phrase's own wording holds the cue's words.
        self._owned: dict[tuple[int, tuple[str, ...]], bool] = {}

    def block(self, phrase: Phrase, first: int, last: int) -> bool:
        """Whether a cue that is not the phrase's own wording stands in first..last."""
        if not self.cues or self._covered_before[last + 1] == self._covered_before[first]:
            return False
        for i in range(bisect_left(self._reach, first), len(self.cues)):
            cue = self.cues[i]
            if cue.first > last:
                break
            if cue.last < first:
                continue
            key = (id(phrase), cue.words)
            owned = self._owned.get(key)
            if owned is None:
                owned = self._owned[key] = _owns(phrase, cue.words)
            if not owned:
                return True
        return False


def _owns(phrase: Phrase, cue_words: tuple[str, ...]) -> bool:
    """Whether every word of a cue is one of the phrase's: a word of its aliases or a stem."""
    own = set(phrase.stems)
    for alias in phrase.aliases:
        own.update(words(alias.text))
    return all(w in own or stem(w) in own for w in cue_words)


def _occurrences(
    phrase: Phrase, positions: dict[str, list[int]], width: int, barriers: _Barriers
) -> list[tuple[int, int]]:
    """The phrase's compact occurrences as (first, last) token indexes, in text order.

    Candidates are the minimal windows (holding every stem, with no smaller window inside
    that does), one per start, found in one left-to-right pass over the stems'
    positions. A window that is too wide or holds a cue is dropped, and so is any larger
    one around it, which is no better. Of windows sharing a token (one occurrence of a
    word cannot serve two occurrences of the phrase), the tightest wins, as the smallest
    window did when a phrase was matched once per sentence.

    A window narrow enough holds an occurrence of the stem the sentence holds least
    often, and lies within `width` tokens of it: the pass reads only those stretches (a
    minimal window is minimal whatever lies outside it).
    """
    found_at = [positions[s] for s in phrase.stems]
    if all(len(at) == 1 for at in found_at):
        # Each stem once, as in most sentences: the one minimal window spans them all.
        first, last = min(at[0] for at in found_at), max(at[0] for at in found_at)
        if last - first < width and not barriers.block(phrase, first, last):
            return [(first, last)]
        return []
    windows: list[tuple[int, int]] = []
    for low, high in _stretches(min(found_at, key=len), width):
        windows.extend(_minimal_windows(phrase, found_at, low, high, width, barriers))
    if len(windows) < 2:
        return windows
    chosen: list[tuple[int, int]] = []
    taken: set[int] = set()
    for first, last in sorted(windows, key=lambda w: (w[1] - w[0], w[0])):
        if taken.isdisjoint(range(first, last + 1)):
            chosen.append((first, last))
            taken.update(range(first, last + 1))
    return sorted(chosen)


def _stretches(anchors: list[int], width: int) -> list[tuple[int, int]]:
    """The token ranges (inclusive, in text order, apart) within `width` - 1 tokens of an
    anchor: every window of fewer than `width` tokens holding an anchor lies in one."""
    stretches: list[tuple[int, int]] = []
    for anchor in anchors:
        low, high = anchor - width + 1, anchor + width - 1
        if stretches and low <= stretches[-1][1]:
            stretches[-1] = (stretches[-1][0], high)
        else:
            stretches.append((low, high))
    return stretches


def _minimal_windows(
    phrase: Phrase,
    found_at: list[list[int]],
    low: int,
    high: int,
    width: int,
    barriers: _Barriers,
) -> list[tuple[int, int]]:
    """The minimal windows within tokens low..high narrower than `width` and free of
    cues, in text order."""
    inside = [p[bisect_left(p, low) : bisect_left(p, high + 1)] for p in found_at]
    if not all(inside):
        return []  # a stem missing from the stretch, as most are in a long sentence
    events = heapq.merge(*([(p, k) for p in at] for k, at in enumerate(inside)))
    last_seen = [-1] * len(found_at)
    windows: list[tuple[int, int]] = []
    previous_start = -1
    for position, at_position in itertools.groupby(events, key=itemgetter(0)):
        for _, k in at_position:
            last_seen[k] = position
        start = min(last_seen)
        if start > previous_start:  # every stem seen, and the first window from `start`
            previous_start = start
            if position - start < width and not barriers.block(phrase, start, position):
                windows.append((start, position))
    return windows
