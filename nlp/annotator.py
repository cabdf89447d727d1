"""A note in, mentions out: sentences, term matches, assertions, candidate codes."""

from collections.abc import Iterable

from nlp.assertions import assert_mention
from nlp.mentions import CandidateCode, Mention
from nlp.term_matcher import LexiconTerm, TermMatch, TermMatcher
from nlp.tokens import split_sentences


class Annotator:
    def __init__(self, terms: Iterable[LexiconTerm]) -> None:
        self._matcher = TermMatcher(terms)

    @property
    def lexicon_size(self) -> int:
        return self._matcher.size

    def annotate(self, text: str) -> list[Mention]:
        """Mentions in text order; one per distinct span, holding every code it matched."""
        by_span: dict[tuple[int, int], list[TermMatch]] = {}
        sentence_of: dict[tuple[int, int], int] = {}
        sentences = split_sentences(text)
        for index, sentence in enumerate(sentences):
            for match in self._matcher.match(sentence):
                span = (match.start, match.end)
                by_span.setdefault(span, []).append(match)
                sentence_of[span] = index
        mentions = []
        for (start, end), matches in sorted(by_span.items()):
            best: dict[tuple[str, str], CandidateCode] = {}
            for m in matches:
                key = (m.term.system.value, m.term.code)
                candidate = CandidateCode(m.term.system, m.term.code, m.quality, m.term.text)
                if key not in best or candidate.similarity > best[key].similarity:
                    best[key] = candidate
            candidates = sorted(best.values(), key=lambda c: (-c.similarity, c.system, c.code))
            tokens = sentences[sentence_of[(start, end)]].tokens
            mentions.append(
                Mention(
                    start=start,
                    end=end,
                    text=text[start:end],
                    section=None,
                    assertion=assert_mention(tokens, start),
                    candidates=tuple(candidates),
                )
            )
        return mentions
