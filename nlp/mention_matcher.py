"""`medcode_mentions`: the lexicon's phrases found in each sentence, as mention spans.

Spans go to doc.spans["medcode_mentions"] (they may overlap: "fracture of the femur" and
"femur"); each carries its candidate codes, best first, in span._.medcode_candidates. The
codes are kept per note in plain data (`candidates_by_window`), which the reader reads for
every mention without making spaCy objects.

Two sets of phrases are matched: the lexicon's official terms, fixed when the pipeline is
built, and optionally the phrases a trained model learned from coded evidence, handed in
per document (doc.user_data[LEARNED_PHRASES]) so that one pipeline serves any model and
switching models never rebuilds it. Learned matches become mentions like any other, so
sections and ConText assertions apply to them too.

Every occurrence of a phrase is a mention of its own (one per token window), and no
mention straddles a cue that ends or negates an assertion's scope (the rules file's
"mention_barriers"): each mention then gets one assertion that holds for all its words.
"""

import bisect
from collections.abc import Iterable

from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp import budget
from nlp.abbreviations import expansion_stems
from nlp.aliases import Alias
from nlp.context import RULES_FILE, CueFinder, mention_barriers
from nlp.lexicon import load_lexicon
from nlp.mention_spans import MENTIONS_KEY as MENTIONS_KEY  # where tests and tools import it
from nlp.mention_spans import Window, set_mention_spans
from nlp.mentions import CandidateCode, CandidateSource, best_first
from nlp.sentences import sentence_ranges
from nlp.term_matcher import Cue, Phrase, PhraseMatch, TermMatcher
from nlp.tokens import Token, doc_tokens

CANDIDATES_ATTR = "medcode_candidates"
LEARNED_PHRASES = "medcode_learned_phrases"
# doc.user_data: (first token, end token) of each mention -> its candidate codes.
_CANDIDATES_KEY = "medcode_candidates_by_window"
# Candidate lists kept for the phrases matched most recently: most mentions are one
# phrase found at one quality, and notes repeat the same phrases: 1,500 CodiEsp notes
# matched 19,000 (phrase, quality) pairs, kept in 11 MB.
CANDIDATE_CACHE_SIZE = 20_000


@Language.factory(
    "medcode_mentions",
    assigns=["doc.spans", f"span._.{CANDIDATES_ATTR}"],
    requires=["token.is_sent_start"],
    default_config={"lexicon_dir": None, "rules_file": RULES_FILE},
)
def make_mention_matcher(
    nlp: Language, name: str, lexicon_dir: str | None, rules_file: str
) -> "MentionMatcher":
    phrases: list[Phrase] = []
    if lexicon_dir is not None:
        from pathlib import Path

        phrases, _ = load_lexicon(Path(lexicon_dir))
    cues, barriers = mention_barriers(nlp, rules_file)
    return MentionMatcher(phrases, cues, barriers)


def candidates_by_window(doc: Doc) -> dict[Window, tuple[CandidateCode, ...]]:
    """The candidate codes of each mention the matcher found, by token window."""
    found: dict[Window, tuple[CandidateCode, ...]] = doc.user_data.get(_CANDIDATES_KEY, {})
    return found


def _span_candidates(span: Span) -> tuple[CandidateCode, ...]:
    return candidates_by_window(span.doc).get((span.start, span.end), ())


class MentionMatcher:
    def __init__(
        self,
        phrases: Iterable[Phrase],
        cues: CueFinder | None = None,
        barriers: Iterable[str] = (),
    ) -> None:
        """`cues` finds the ConText cues of a Doc; those of the `barriers` categories
        split mentions."""
        if not Span.has_extension(CANDIDATES_ATTR):
            Span.set_extension(CANDIDATES_ATTR, getter=_span_candidates)
        self.cues = cues
        self.barriers = frozenset(barriers)
        # (source, id of a phrase, match quality) -> (the phrase, its candidates). The
        # phrase is kept with its entry so that its id is never another phrase's.
        self._candidates: dict[
            tuple[CandidateSource, int, float], tuple[Phrase, tuple[CandidateCode, ...]]
        ] = {}
        self.use_phrases(phrases)

    def use_phrases(self, phrases: Iterable[Phrase]) -> None:
        self.matcher = TermMatcher(phrases)

    def __call__(self, doc: Doc) -> Doc:
        budget.check()
        matchers = [(CandidateSource.LEXICON, self.matcher)]
        learned = doc.user_data.get(LEARNED_PHRASES)
        if learned is not None:
            matchers.append((CandidateSource.LEARNED, learned))
        tokens = doc_tokens(doc)
        expansions = expansion_stems(doc)
        expanded_at = sorted(expansions)
        barriers = [
            (start, end)
            for rule, start, end in (self.cues(doc) if self.cues is not None else ())
            if rule.category in self.barriers
        ]
        found: dict[Window, list[tuple[CandidateSource, PhraseMatch]]] = {}
        for start, end in budget.checked(sentence_ranges(doc), every=1):
            words = tokens[start:end]
            expanded = expanded_at[
                bisect.bisect_left(expanded_at, start) : bisect.bisect_left(expanded_at, end)
            ]
            extra = [(i - start, s) for i in expanded for s in expansions[i]]
            cues = _cues_in(start, end, barriers, words)
            for source, matcher in matchers:
                for match in matcher.match(words, extra, cues):
                    window = (start + match.first, start + match.last + 1)
                    if not _part_of_an_expansion(match, window, expansions):
                        found.setdefault(window, []).append((source, match))
        candidates = {window: self._candidates_of(found[window]) for window in sorted(found)}
        doc.user_data[_CANDIDATES_KEY] = candidates
        label = doc.vocab.strings.add("MENTION")  # a number: faster to make spans with
        set_mention_spans(doc, [Span(doc, start, end, label=label) for start, end in candidates])
        return doc

    def _candidates_of(
        self, matched: list[tuple[CandidateSource, PhraseMatch]]
    ) -> tuple[CandidateCode, ...]:
        """The candidates of one window, best first: of each source's phrases matched
        there, the best-scored candidate per code."""
        if len(matched) == 1:  # most windows: one phrase, whose candidates are kept
            source, match = matched[0]
            key = (source, id(match.phrase), match.quality)
            kept = self._candidates.get(key)
            if kept is None:
                kept = (match.phrase, candidates_of([match], source))
                if len(self._candidates) >= CANDIDATE_CACHE_SIZE:
                    self._candidates.clear()  # another thread may miss an entry: no harm
                self._candidates[key] = kept
            return kept[1]
        by_source: dict[CandidateSource, list[PhraseMatch]] = {}
        for source, match in matched:
            by_source.setdefault(source, []).append(match)
        found = [candidates_of(matches, source) for source, matches in by_source.items()]
        return found[0] if len(found) == 1 else best_first(c for cs in found for c in cs)


def _cues_in(
    start: int, end: int, barriers: list[tuple[int, int]], tokens: list[Token]
) -> list[Cue]:
    """The barrier cues inside the sentence of tokens start..end - 1, in its token indexes
    (`barriers` is sorted)."""
    low = bisect.bisect_left(barriers, (start, start))
    high = bisect.bisect_left(barriers, (end, end))
    cues = []
    for cue_start, cue_end in barriers[low:high]:
        first, last = cue_start - start, min(cue_end, end) - 1 - start
        cues.append(Cue(first, last, tuple(t.norm for t in tokens[first : last + 1])))
    return cues


def _part_of_an_expansion(
    match: PhraseMatch, window: tuple[int, int], expansions: dict[int, tuple[str, ...]]
) -> bool:
    """A phrase found in an abbreviation alone must name all it stands for: "AKI" is
    acute kidney injury, not an unspecified "injury"."""
    start, end = window
    expansion = expansions.get(start)
    return (
        end - start == 1 and expansion is not None and not set(expansion) <= set(match.phrase.stems)
    )


def candidates_of(
    matches: Iterable[PhraseMatch], source: CandidateSource = CandidateSource.LEXICON
) -> tuple[CandidateCode, ...]:
    """The best-scored candidate per code over the phrases matched at one span, best first."""
    best: dict[tuple[str, str], tuple[float, Alias]] = {}
    for match in matches:
        quality = match.quality
        for alias in match.phrase.aliases:
            key = (alias.system.value, alias.code)
            score = quality * alias.weight
            if key not in best or score > best[key][0]:
                best[key] = (score, alias)
    # The order of best_first: one source, so no two share a code.
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    return tuple(
        CandidateCode(alias.system, alias.code, score, alias.text, source)
        for _, (score, alias) in ranked
    )
