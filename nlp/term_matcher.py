"""Find catalog terms in a note: every content word of a term inside one sentence.

Terms are indexed by their rarest stem, so a sentence only checks the few terms that
could possibly match it. A match must also be compact (its words close together), and
its evidence is the smallest window of tokens that holds all of them.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from codes.systems import CodeSystem
from nlp.terms import content_stems, stem
from nlp.tokens import Sentence, Token

# A term of n content words may spread over at most n * _SPREAD + _SLACK tokens.
_SPREAD, _SLACK = 2, 2
_MAX_TERM_STEMS = 8


@dataclass(frozen=True, slots=True)
class LexiconTerm:
    system: CodeSystem
    code: str
    text: str
    stems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TermMatch:
    term: LexiconTerm
    tokens: tuple[Token, ...]  # the matched window, first to last token

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    @property
    def quality(self) -> float:
        """0..1: longer terms found in tighter windows are surer matches."""
        n = len(self.term.stems)
        specificity = n / (n + 1.0)
        compactness = n / max(n, len([t for t in self.tokens if t.norm.isalnum()]))
        return specificity * compactness


class TermMatcher:
    def __init__(self, terms: Iterable[LexiconTerm]) -> None:
        kept = [t for t in terms if 0 < len(t.stems) <= _MAX_TERM_STEMS]
        frequency = Counter(s for t in kept for s in t.stems)
        self._by_anchor: dict[str, list[LexiconTerm]] = {}
        for term in kept:
            anchor = min(term.stems, key=lambda s: (frequency[s], s))
            self._by_anchor.setdefault(anchor, []).append(term)
        self.size = len(kept)

    def match(self, sentence: Sentence) -> list[TermMatch]:
        positions: dict[str, list[int]] = {}
        for i, token in enumerate(sentence.tokens):
            positions.setdefault(stem(token.norm), []).append(i)
        matches = []
        for anchor in positions:
            for term in self._by_anchor.get(anchor, ()):
                if all(s in positions for s in term.stems):
                    window = _smallest_window(term.stems, positions)
                    lo, hi = window
                    if hi - lo + 1 <= len(term.stems) * _SPREAD + _SLACK:
                        matches.append(TermMatch(term, sentence.tokens[lo : hi + 1]))
        return matches


def _smallest_window(stems: Sequence[str], positions: dict[str, list[int]]) -> tuple[int, int]:
    """The shortest token range holding every stem (sentences are short: brute force)."""
    events = sorted((p, s) for s in stems for p in positions[s])
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


def lexicon_term(system: CodeSystem, code: str, text: str) -> LexiconTerm:
    return LexiconTerm(system, code, text, content_stems(text))
