"""`medcode_mentions`: the lexicon's phrases found in each sentence, as mention spans.

Spans go to doc.spans["medcode_mentions"] (they may overlap: "fracture of the femur" and
"femur"); each carries its candidate codes in span._.medcode_candidates.

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

from codes.text import fold
from nlp import budget
from nlp.aliases import Alias
from nlp.context import RULES_FILE, CueFinder, mention_barriers
from nlp.lexicon import load_lexicon
from nlp.mentions import CandidateCode, CandidateSource
from nlp.term_matcher import Cue, Phrase, PhraseMatch, TermMatcher
from nlp.terms import content_stems
from nlp.tokens import Token

MENTIONS_KEY = "medcode_mentions"
CANDIDATES_ATTR = "medcode_candidates"
LEARNED_PHRASES = "medcode_learned_phrases"


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
            Span.set_extension(CANDIDATES_ATTR, default=())
        self.cues = cues
        self.barriers = frozenset(barriers)
        self.use_phrases(phrases)

    def use_phrases(self, phrases: Iterable[Phrase]) -> None:
        self.matcher = TermMatcher(phrases)

    def __call__(self, doc: Doc) -> Doc:
        budget.check()
        matchers = [(CandidateSource.LEXICON, self.matcher)]
        learned = doc.user_data.get(LEARNED_PHRASES)
        if learned is not None:
            matchers.append((CandidateSource.LEARNED, learned))
        expansions = _expansion_stems(doc)
        barriers = [
            (start, end)
            for rule, start, end in (self.cues(doc) if self.cues is not None else ())
            if rule.category in self.barriers
        ]
        found: dict[tuple[int, int], dict[CandidateSource, list[PhraseMatch]]] = {}
        for sentence in budget.checked(doc.sents, every=1):
            tokens = [Token(t.idx, t.idx + len(t.text), t.text, fold(t.text)) for t in sentence]
            extra = [(t.i - sentence.start, s) for t in sentence for s in expansions.get(t.i, ())]
            cues = _cues_in(sentence, barriers, tokens)
            for source, matcher in matchers:
                for match in matcher.match(tokens, extra, cues):
                    window = (sentence.start + match.first, sentence.start + match.last + 1)
                    if not _part_of_an_expansion(match, window, expansions):
                        found.setdefault(window, {}).setdefault(source, []).append(match)
        spans = []
        for (start, end), by_source in sorted(found.items()):
            mention = Span(doc, start, end, label="MENTION")
            candidates = [
                c for source, matches in by_source.items() for c in candidates_of(matches, source)
            ]
            mention._.set(CANDIDATES_ATTR, tuple(candidates))
            spans.append(mention)
        doc.spans[MENTIONS_KEY] = spans
        return doc


def _cues_in(sentence: Span, barriers: list[tuple[int, int]], tokens: list[Token]) -> list[Cue]:
    """The barrier cues inside a sentence, in its token indexes (`barriers` is sorted)."""
    low = bisect.bisect_left(barriers, (sentence.start, sentence.start))
    high = bisect.bisect_left(barriers, (sentence.end, sentence.end))
    cues = []
    for start, end in barriers[low:high]:
        first, last = start - sentence.start, min(end, sentence.end) - 1 - sentence.start
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


def _expansion_stems(doc: Doc) -> dict[int, tuple[str, ...]]:
    """Token index -> stems of what the abbreviation at that token stands for."""
    if not Doc.has_extension("medcode_abbreviations"):
        return {}
    stems: dict[int, tuple[str, ...]] = {}
    for use in doc._.medcode_abbreviations:
        span = doc.char_span(use.start, use.end, alignment_mode="expand")
        if span is not None and len(span):
            stems[span.start] = stems.get(span.start, ()) + content_stems(use.expansion)
    return stems


def candidates_of(
    matches: Iterable[PhraseMatch], source: CandidateSource = CandidateSource.LEXICON
) -> tuple[CandidateCode, ...]:
    """The best-scored candidate per code over the phrases matched at one span."""
    best: dict[tuple[str, str], tuple[float, Alias]] = {}
    for match in matches:
        quality = match.quality
        for alias in match.phrase.aliases:
            key = (alias.system.value, alias.code)
            score = quality * alias.weight
            if key not in best or score > best[key][0]:
                best[key] = (score, alias)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    return tuple(
        CandidateCode(alias.system, alias.code, score, alias.text, source)
        for _, (score, alias) in ranked
    )
