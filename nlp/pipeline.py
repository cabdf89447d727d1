"""The note reader: a spaCy pipeline on spacy.blank("en") plus approximate linking.

    text -> sentences -> sections -> abbreviations -> mentions -> PCS operation words
         -> ConText assertions
         -> candidates: exact aliases first, then near aliases (char-3-gram TF-IDF + HNSW),
            then complete PCS codes composed from procedure statements (nlp/pcs_composer.py)

Only small frozen records (Mention, CandidateCode) leave this module; no spaCy Doc does.
"""

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

# Importing the component modules registers their factories with spaCy.
from nlp import abbreviations as _abbreviations  # noqa: F401
from nlp import context, sections, sentences  # noqa: F401
from nlp import pcs_mentions as _pcs_mentions  # noqa: F401
from nlp.guarded_tokenizer import GuardedTokenizer
from nlp.lexicon import LINKER_FOLDER, load_lexicon
from nlp.linker import ApproximateLinker, LinkedCandidate
from nlp.mention_matcher import CANDIDATES_ATTR, LEARNED_PHRASES, MENTIONS_KEY, MentionMatcher
from nlp.mentions import CandidateCode, CandidateSource, Mention
from nlp.pcs_composer import PcsComposer
from nlp.pcs_mentions import OPERATION_ATTR, TEXT_KEY, OperationMarker, composed_candidates
from nlp.term_matcher import Phrase, TermMatcher

logger = logging.getLogger(__name__)

NEAR_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class LinkingSettings:
    k: int = 10  # near codes kept per mention
    threshold: float = 0.7  # cosine similarity a near alias needs
    # A near code ranks below an exact one: its similarity is scaled by this.
    discount: float = 0.8
    # HNSW search breadth. The graph search dominates a note's reading time; at 50 it
    # took a third of the time of scispaCy's 200 for the same candidate recall on dev.
    ef_search: int = 50


def build_language(phrases: Iterable[Phrase], composer: PcsComposer | None = None) -> Language:
    nlp = spacy.blank("en")
    nlp.tokenizer = GuardedTokenizer(nlp.tokenizer)
    nlp.add_pipe("medcode_sentences")
    nlp.add_pipe("medcode_sections")
    nlp.add_pipe("medcode_abbreviations")
    matcher = nlp.add_pipe("medcode_mentions")
    assert isinstance(matcher, MentionMatcher)
    matcher.use_phrases(phrases)
    if composer is not None:
        marker = nlp.add_pipe("medcode_pcs_operations")
        assert isinstance(marker, OperationMarker)
        marker.use_composer(composer)
    nlp.add_pipe("medcode_context")
    return nlp


class NoteReader:
    def __init__(
        self,
        nlp: Language,
        linker: ApproximateLinker | None = None,
        linking: LinkingSettings = LinkingSettings(),
        provenance: dict[str, object] | None = None,
        composer: PcsComposer | None = None,
    ) -> None:
        """`composer`: completes PCS headings and operation words into 7-character codes;
        `nlp` must then be built with it (build_language) to mark the operation words."""
        self.nlp = nlp
        self.linker = linker
        self.linking = linking
        self.provenance = provenance or {}
        self.composer = composer
        # Near matches of recent mention texts: the same phrases recur from note to note,
        # and linking is the slowest step. Same text, same answer, so caching is exact.
        self._near_cache: OrderedDict[str, list[CandidateCode]] = OrderedDict()
        self._near_lock = threading.Lock()

    @classmethod
    def load(cls, lexicon_dir: Path, linking: LinkingSettings = LinkingSettings()) -> "NoteReader":
        """The reader saved by `medcode codes import` (lexicon, linker index, PCS tables)."""
        phrases, provenance = load_lexicon(lexicon_dir)
        linker = ApproximateLinker.load(lexicon_dir / LINKER_FOLDER, linking.ef_search)
        composer = PcsComposer.find(lexicon_dir)
        return cls(build_language(phrases, composer), linker, linking, provenance, composer)

    def read(self, text: str, learned: TermMatcher | None = None) -> list[Mention]:
        """Mentions in text order, each with its section, assertion and candidate codes.

        `learned`: a model's learned phrases, matched beside the lexicon's terms.
        """
        doc = self.nlp.make_doc(text)
        doc.user_data[TEXT_KEY] = text
        if learned is not None:
            doc.user_data[LEARNED_PHRASES] = learned
        for _, component in self.nlp.pipeline:
            doc = component(doc)
        spans: Sequence[Span] = [
            s for s in doc.spans[MENTIONS_KEY] if not sections.in_named_header(s)
        ]
        near = self._near_candidates([s.text for s in _worth_linking(spans)])
        mentions = []
        composed_cache: dict[object, list[CandidateCode]] = {}
        for span in spans:
            candidates = _merge(span._.get(CANDIDATES_ATTR), near.get(span.text, []))
            if self.composer is not None:
                composed = composed_candidates(self.composer, span, candidates, composed_cache)
                candidates = _by_similarity([*candidates, *composed])
            if not candidates and span.has_extension(OPERATION_ATTR) and span._.get(OPERATION_ATTR):
                continue  # operation words the composer could not complete
            mentions.append(
                Mention(
                    start=span.start_char,
                    end=span.end_char,
                    text=span.text,
                    section=sections.section_of(span),
                    assertion=context.assertion_of(span),
                    candidates=candidates,
                )
            )
        return mentions

    def document(self, text: str) -> Doc:
        """The annotated spaCy Doc, for tests and debugging inside nlp/ only."""
        return self.nlp(text)

    def _near_candidates(self, texts: list[str]) -> dict[str, list[CandidateCode]]:
        if self.linker is None or not texts:
            return {}
        with self._near_lock:
            known = {t: self._near_cache[t] for t in set(texts) if t in self._near_cache}
        missing = sorted(set(texts) - known.keys())
        if missing:
            linked = self.linker.link(missing, k=self.linking.k, threshold=self.linking.threshold)
            fresh = {
                text: [self._as_candidate(c) for c in found]
                for text, found in zip(missing, linked, strict=True)
            }
            with self._near_lock:
                for text, found in fresh.items():
                    self._near_cache[text] = found
                while len(self._near_cache) > NEAR_CACHE_SIZE:
                    self._near_cache.popitem(last=False)
            known |= fresh
        return known

    def _as_candidate(self, linked: LinkedCandidate) -> CandidateCode:
        similarity = linked.similarity * self.linking.discount
        return CandidateCode(
            linked.system, linked.code, similarity, linked.alias, CandidateSource.NEAR
        )


def _worth_linking(spans: Sequence[Span]) -> list[Span]:
    """Mentions of two words or more that no longer mention contains.

    Near matching is the slow step, and single words link poorly on character 3-grams
    (one typo changes most of them); the longest mentions carry the most to match on.
    """
    multiword = sorted(
        (
            s
            for s in spans
            if sum(1 for t in s if t.is_alpha) >= 2
            and any(c.source is CandidateSource.LEXICON for c in s._.get(CANDIDATES_ATTR))
        ),
        key=lambda s: (s.start, -s.end),
    )
    kept = []
    reach = -1  # the furthest end of a mention kept so far
    for span in multiword:
        if span.end > reach:  # otherwise an earlier, longer mention holds it
            kept.append(span)
            reach = span.end
    return kept


def _merge(
    exact: Sequence[CandidateCode], near: Sequence[CandidateCode]
) -> tuple[CandidateCode, ...]:
    """Exact candidates, then near ones for codes no official term found, best first.

    A code may appear twice: once from an official term and once from a learned phrase;
    the ranker weighs the two sources separately.
    """
    merged = list(exact)
    seen = {(c.system, c.code) for c in exact if c.source is not CandidateSource.LEARNED}
    for candidate in near:
        if (candidate.system, candidate.code) not in seen:
            seen.add((candidate.system, candidate.code))
            merged.append(candidate)
    return _by_similarity(merged)


def _by_similarity(candidates: Iterable[CandidateCode]) -> tuple[CandidateCode, ...]:
    return tuple(sorted(candidates, key=lambda c: (-c.similarity, c.system, c.code, c.source)))
