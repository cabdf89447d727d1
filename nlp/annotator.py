"""A note in, mentions out: sentences, phrase matches, assertions, candidate codes."""

from collections.abc import Iterable

from nlp.aliases import Alias
from nlp.assertions import assert_mention
from nlp.mentions import CandidateCode, Mention
from nlp.term_matcher import Phrase, PhraseMatch, TermMatcher, group_phrases
from nlp.tokens import Sentence, split_sentences


class Annotator:
    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self._matcher = TermMatcher(phrases)

    @classmethod
    def from_aliases(cls, aliases: Iterable[Alias]) -> "Annotator":
        return cls(group_phrases(aliases))

    @property
    def lexicon_size(self) -> int:
        return self._matcher.alias_count

    def annotate(self, text: str) -> list[Mention]:
        """Mentions in text order; one per distinct span, holding every code it matched."""
        by_span: dict[tuple[int, int], tuple[Sentence, list[PhraseMatch]]] = {}
        for sentence in split_sentences(text):
            for match in self._matcher.match(sentence.tokens):
                span = (sentence.tokens[match.first].start, sentence.tokens[match.last].end)
                by_span.setdefault(span, (sentence, []))[1].append(match)
        mentions = []
        for (start, end), (sentence, matches) in sorted(by_span.items()):
            mentions.append(
                Mention(
                    start=start,
                    end=end,
                    text=text[start:end],
                    section=None,
                    assertion=assert_mention(sentence.tokens, start),
                    candidates=candidates_of(matches),
                )
            )
        return mentions


def candidates_of(matches: Iterable[PhraseMatch]) -> tuple[CandidateCode, ...]:
    """The best-scored candidate per code over the phrases matched at one span."""
    best: dict[tuple[str, str], CandidateCode] = {}
    for match in matches:
        for alias in match.phrase.aliases:
            key = (alias.system.value, alias.code)
            candidate = CandidateCode(
                alias.system, alias.code, match.quality * alias.weight, alias.text
            )
            if key not in best or candidate.similarity > best[key].similarity:
                best[key] = candidate
    return tuple(sorted(best.values(), key=lambda c: (-c.similarity, c.system, c.code)))
