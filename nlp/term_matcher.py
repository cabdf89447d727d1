"""Find lexicon phrases in a note: every content word of a phrase inside one sentence.

Phrases are grouped by their content stems (many aliases share them) and indexed by
their rarest stem, so a sentence only checks the few phrases that could match it. A
match must also be compact (its words close together), and its evidence is the smallest
window of tokens that holds all of them.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nlp.aliases import Alias
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


def group_phrases(aliases: Iterable[Alias]) -> list[Phrase]:
    grouped: dict[tuple[str, ...], list[Alias]] = {}
    for alias in aliases:
        stems = content_stems(alias.text)
        if 0 < len(stems) <= MAX_PHRASE_STEMS:
            grouped.setdefault(tuple(sorted(stems)), []).append(alias)
    return [Phrase(stems, tuple(found)) for stems, found in sorted(grouped.items())]


class TermMatcher:
    """Phrases indexed by their two rarest stems.

    A sentence looks up each of its stems as a phrase's rarest one, then only the second
    stems it also holds: most phrases are never touched. Single-stem phrases sit apart.
    """

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        kept = list(phrases)
        frequency = Counter(s for p in kept for s in p.stems)
        self._single: dict[str, list[Phrase]] = {}
        self._by_pair: dict[str, dict[str, list[tuple[frozenset[str], Phrase]]]] = {}
        for phrase in kept:
            rarest = sorted(phrase.stems, key=lambda s: (frequency[s], s))
            if len(rarest) == 1:
                self._single.setdefault(rarest[0], []).append(phrase)
            else:
                seconds = self._by_pair.setdefault(rarest[0], {})
                seconds.setdefault(rarest[1], []).append((frozenset(phrase.stems), phrase))
        self.phrase_count = len(kept)
        self.alias_count = sum(len(p.aliases) for p in kept)

    @classmethod
    def from_aliases(cls, aliases: Iterable[Alias]) -> "TermMatcher":
        return cls(group_phrases(aliases))

    def match(
        self, tokens: Sequence[Token], extra_stems: Sequence[tuple[int, str]] = ()
    ) -> list[PhraseMatch]:
        """Phrases found in one sentence's tokens.

        `extra_stems` adds (token index, stem) pairs that the text does not spell out,
        e.g. the words of an abbreviation's expansion at the abbreviation's position.
        """
        positions: dict[str, list[int]] = {}
        for i, token in enumerate(tokens):
            positions.setdefault(stem(token.norm), []).append(i)
        for i, extra in extra_stems:
            positions.setdefault(extra, []).append(i)
        matches = [
            PhraseMatch(phrase, positions[phrase.stems[0]][0], positions[phrase.stems[0]][0], 1)
            for word in positions
            for phrase in self._single.get(word, ())
        ]
        for phrase in self._found_multiword(positions):
            first, last = _smallest_window(phrase.stems, positions)
            if last - first + 1 <= len(phrase.stems) * _SPREAD + _SLACK:
                words = sum(1 for t in tokens[first : last + 1] if t.norm.isalnum())
                matches.append(PhraseMatch(phrase, first, last, max(words, 1)))
        return matches

    def _found_multiword(self, positions: dict[str, list[int]]) -> list[Phrase]:
        present = positions.keys()
        found: list[Phrase] = []
        for word in present:
            seconds = self._by_pair.get(word)
            if not seconds:
                continue
            shared = (
                [w for w in present if w in seconds]
                if len(seconds) > len(present)
                else [w for w in seconds if w in present]
            )
            for second in shared:
                found.extend(p for stems, p in seconds[second] if present >= stems)
        return found


def _smallest_window(stems: Sequence[str], positions: dict[str, list[int]]) -> tuple[int, int]:
    """The shortest token range holding every stem (sentences are short: a sliding window)."""
    events = sorted({(p, s) for s in stems for p in positions[s]})
    needed = len(stems)
    best = (events[0][0], events[-1][0])
    counts: Counter[str] = Counter()
    left = 0
    for position, word in events:
        counts[word] += 1
        while len(counts) == needed:
            left_position, left_word = events[left]
            if position - left_position < best[1] - best[0]:
                best = (left_position, position)
            counts[left_word] -= 1
            if counts[left_word] == 0:
                del counts[left_word]
            left += 1
    return best
