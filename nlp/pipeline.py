"""The note reader: a spaCy pipeline on spacy.blank("en") plus approximate linking.

    text -> sentences -> sections -> abbreviations -> mentions -> PCS operation words
         -> ConText assertions
         -> candidates: exact aliases first, then near aliases (char-3-gram TF-IDF + HNSW),
            then complete PCS codes composed from procedure statements (nlp/pcs_composer.py)

Only small frozen records (Mention, CandidateCode) leave this module; no spaCy Doc does.

spaCy keeps every string it reads in the Language's vocab (its StringStore and lexemes) for
the Language's life, and spaCy 3.7 (pinned below 3.8 by scispaCy) has no `memory_zone` to
forget them. So the reader renews its pipeline: once a pipeline's string store holds
`renew_after` strings more than a fresh one, a fresh pipeline is built from the same inputs
(the TermMatcher and PCS composer `load` made, the rule files) and swapped in for new reads;
reads under way finish on the old one, which is then taken apart and freed. Matching
depends on the text alone (token hashes are hashes of strings, the term matchers compare
strings), so a note reads the same on any pipeline.
"""

import gc
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import spacy
from spacy.language import Language
from spacy.tokens import Doc

# Importing the component modules registers their factories with spaCy.
from nlp import abbreviations as _abbreviations  # noqa: F401
from nlp import budget, context, sections, sentences  # noqa: F401
from nlp import pcs_mentions as _pcs_mentions  # noqa: F401
from nlp.guarded_tokenizer import GuardedTokenizer
from nlp.lexicon import LINKER_FOLDER, load_terms
from nlp.linker import ApproximateLinker, LinkedCandidate
from nlp.mention_matcher import LEARNED_PHRASES, MentionMatcher, candidates_by_window
from nlp.mention_spans import Window, mention_windows
from nlp.mentions import CandidateCode, CandidateSource, Mention, best_first
from nlp.pcs_composer import PcsComposer
from nlp.pcs_mentions import OperationMarker, composed_candidates, operation_windows
from nlp.term_matcher import Phrase, TermMatcher
from nlp.tokens import TEXT_KEY, doc_tokens

logger = logging.getLogger(__name__)

# Near matches kept: mention texts (words of notes among them), at most this many.
NEAR_CACHE_SIZE = 50_000
# A pipeline is renewed once its string store has grown by this many strings, and reads
# wait for the renewal should it reach twice as many. A new word costs some 0.7 KB of
# strings and lexeme: ~35 MB per 50,000, beside a fresh pipeline's ~35 MB. A renewal costs
# ~1.5 s of CPU on a background thread (the term matcher is reused), once per 50,000 new
# strings: every 3,000 to 7,000 CodiEsp notes. Strings rather than notes, because strings
# are what take the memory, and notes differ a hundredfold in how many new ones they bring.
RENEW_AFTER_STRINGS = 50_000

_T = TypeVar("_T")
# Builds pause the garbage collector, process-wide: one build at a time (_build_collected).
_BUILDING = threading.Lock()


@dataclass(frozen=True)
class LinkingSettings:
    k: int = 10  # near codes kept per mention
    threshold: float = 0.7  # cosine similarity a near alias needs
    # A near code ranks below an exact one: its similarity is scaled by this.
    discount: float = 0.8
    # HNSW search breadth. The graph search dominates a note's reading time; at 50 it
    # took a third of the time of scispaCy's 200 for the same candidate recall on dev.
    ef_search: int = 50


def build_language(
    phrases: Iterable[Phrase] | TermMatcher, composer: PcsComposer | None = None
) -> Language:
    """`phrases`: the lexicon's phrases, or a TermMatcher already built from them, which
    pipelines can share: it holds strings only, nothing of a Language's vocab."""
    nlp = spacy.blank("en")
    nlp.tokenizer = GuardedTokenizer(nlp.tokenizer)
    for name in _pipe_names(composer):
        nlp.add_pipe(name)
    matcher = nlp.get_pipe("medcode_mentions")
    assert isinstance(matcher, MentionMatcher)
    if isinstance(phrases, TermMatcher):
        matcher.matcher = phrases
    else:
        matcher.use_phrases(phrases)
    if composer is not None:
        marker = nlp.get_pipe("medcode_pcs_operations")
        assert isinstance(marker, OperationMarker)
        marker.use_composer(composer)
    return nlp


def _build_collected(
    phrases: Iterable[Phrase] | TermMatcher, composer: PcsComposer | None, collect: bool = True
) -> Language:
    """build_language, its garbage collected at once.

    spaCy and confection raise and catch exceptions while they build, and the tracebacks
    hold the build's frames, which hold the new Language. A collection during the build
    finds that garbage reachable from the running frames and moves it to the oldest
    generation, where it would keep the Language, vocab and all, until a full collection:
    one that a process holding the lexicon (millions of objects) runs seldom and slowly
    (seconds), so retired pipelines would pile up. Built with automatic collection paused,
    the garbage is still young once the frames end, and a young collection frees it.

    collect=False leaves the collection to the caller: loading at start-up, with the
    collector paused until everything is loaded (app.main.collector_paused), collects once
    at the end; a young collection here would walk everything loaded so far.
    """
    with _BUILDING:
        enabled = gc.isenabled()
        gc.disable()
        try:
            language = build_language(phrases, composer)
        finally:
            if enabled:
                gc.enable()
        if collect:
            gc.collect(1)
    return language


def _pipe_names(composer: PcsComposer | None) -> list[str]:
    operations = ["medcode_pcs_operations"] if composer is not None else []
    return [
        "medcode_sentences",
        "medcode_sections",
        "medcode_abbreviations",
        "medcode_mentions",
        *operations,
        "medcode_context",
    ]


class _Pipeline:
    """A Language and the reads under way on it.

    A retired pipeline takes no new reads; the last read out takes it apart, so that it is
    freed at once: a Language's components refer back to it, and a cycle would wait for
    the garbage collector's full pass, which may not come for many renewals.
    """

    def __init__(self, language: Language, renew_at: int) -> None:
        self.language = language
        self.renew_at = renew_at  # string store size at which to renew it
        self._lock = threading.Lock()
        self._reads = 0
        self._retired = False

    def enter(self) -> bool:
        """Counts a read in; False once retired (the caller takes the current pipeline)."""
        with self._lock:
            if self._retired:
                return False
            self._reads += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._reads -= 1
            last = self._retired and self._reads == 0
        if last:
            _take_apart(self.language)

    def retire(self) -> None:
        with self._lock:
            self._retired = True
            idle = self._reads == 0
        if idle:
            _take_apart(self.language)


def _take_apart(language: Language) -> None:
    try:
        for name in list(language.pipe_names):
            language.remove_pipe(name)
    except Exception:  # the read that calls this has its answer: leave it to the collector
        logger.exception("could not take a retired reading pipeline apart")


class NoteReader:
    def __init__(
        self,
        nlp: Language,
        linker: ApproximateLinker | None = None,
        linking: LinkingSettings = LinkingSettings(),
        provenance: dict[str, object] | None = None,
        composer: PcsComposer | None = None,
        renew_after: int = RENEW_AFTER_STRINGS,
    ) -> None:
        """`nlp`: built by build_language, with `composer` if one is given: renewal builds
        its like. `composer`: completes PCS headings and operation words into 7-character
        codes. `renew_after`: new strings a pipeline takes before it is renewed."""
        if nlp.pipe_names != _pipe_names(composer):
            raise ValueError(
                f"the reader needs a pipeline from build_language: {_pipe_names(composer)}, "
                f"not {nlp.pipe_names}"
            )
        if renew_after < 1:
            raise ValueError(f"renew_after must be positive, not {renew_after}")
        mentions = nlp.get_pipe("medcode_mentions")
        assert isinstance(mentions, MentionMatcher)
        self.terms = mentions.matcher
        self.linker = linker
        self.linking = linking
        self.provenance = provenance or {}
        self.composer = composer
        self.renew_after = renew_after
        self.renewals = 0
        self._pipeline = _Pipeline(nlp, len(nlp.vocab.strings) + renew_after)
        # Held while a renewal builds: one at a time, and none while the last is running.
        self._renewing = threading.Lock()
        # One long-lived thread builds every renewal (started at the first). A new thread
        # each time may take another malloc arena, where the memory the last pipeline
        # freed is not reused: the process then crept up by ~10 MB every few renewals.
        self._renewer = ThreadPoolExecutor(1, thread_name_prefix="medcode-reader-renewal")
        # Near matches of recent mention texts: the same phrases recur from note to note,
        # and linking is the slowest step. Same text, same answer, so caching is exact.
        self._near_cache: OrderedDict[str, list[CandidateCode]] = OrderedDict()
        self._near_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        lexicon_dir: Path,
        linking: LinkingSettings = LinkingSettings(),
        renew_after: int = RENEW_AFTER_STRINGS,
    ) -> "NoteReader":
        """The reader saved by `medcode codes import` (lexicon, linker index, PCS tables).

        The term matcher is read as saved (`load_terms`): a few arrays, each phrase made
        once a note first matches it, where reading and grouping the lexicon's 300,000
        phrases took seconds and left over a million long-lived objects."""
        terms, provenance = load_terms(lexicon_dir)
        linker = ApproximateLinker.load(lexicon_dir / LINKER_FOLDER, linking.ef_search)
        composer = PcsComposer.find(lexicon_dir)
        # With the collector paused, the caller collects once everything is loaded.
        language = _build_collected(terms, composer, collect=gc.isenabled())
        return cls(language, linker, linking, provenance, composer, renew_after)

    @property
    def nlp(self) -> Language:
        """The pipeline new reads run on (a renewal replaces it)."""
        return self._pipeline.language

    def read(self, text: str, learned: TermMatcher | None = None) -> list[Mention]:
        """Mentions in text order, each with its section, assertion and candidate codes.

        `learned`: a model's learned phrases, matched beside the lexicon's terms.
        """
        return self._on_pipeline(lambda nlp: self._read(nlp, text, learned))

    def document(self, text: str) -> Doc:
        """The annotated spaCy Doc, for tests and debugging inside nlp/ only."""
        return self._on_pipeline(lambda nlp: nlp(text))

    def renew(self) -> None:
        """Swaps in a fresh pipeline now (after any renewal under way). Reads already
        started finish on the old one; the same note reads the same on both."""
        with self._renewing:
            self._swap()

    def _on_pipeline(self, work: Callable[[Language], _T]) -> _T:
        while True:  # a renewal may retire the pipeline between the two steps
            pipeline = self._pipeline
            if pipeline.enter():
                break
        try:
            return work(pipeline.language)
        finally:
            pipeline.leave()
            strings = len(pipeline.language.vocab.strings)
            if strings >= pipeline.renew_at:
                self._renew_in_background(pipeline)
                if strings >= pipeline.renew_at + self.renew_after:
                    # Reads outrun the build (a flood of new words, a starved thread):
                    # this one waits for it, so that no pipeline grows past twice the bound.
                    with self._renewing:
                        pass

    def _renew_in_background(self, full: _Pipeline) -> None:
        """The reads go on, on the full pipeline, while the renewal thread builds the next."""
        if full is not self._pipeline or not self._renewing.acquire(blocking=False):
            return  # already renewed, or being renewed
        try:
            self._renewer.submit(self._renew_and_release)
        except RuntimeError:  # no thread (the interpreter is exiting): never fail the read
            full.renew_at += self.renew_after
            self._renewing.release()
            logger.warning("could not start the pipeline renewal; retrying later")

    def _renew_and_release(self) -> None:
        try:
            self._swap()
        except Exception:
            # Reads go on on the full pipeline, and try again after renew_after strings more.
            self._pipeline.renew_at += self.renew_after
            logger.exception("could not renew the reading pipeline; reading on with the old one")
        finally:
            self._renewing.release()

    def _swap(self) -> None:
        started = time.perf_counter()
        fresh = _build_collected(self.terms, self.composer)
        old = self._pipeline
        strings, lexemes = len(old.language.vocab.strings), len(old.language.vocab)
        self._pipeline = _Pipeline(fresh, len(fresh.vocab.strings) + self.renew_after)
        old.retire()
        self.renewals += 1
        logger.info(
            "renewed the reading pipeline in %.1f s: the old one held %d strings and %d "
            "lexemes, the new one %d and %d",
            time.perf_counter() - started,
            strings,
            lexemes,
            len(fresh.vocab.strings),
            len(fresh.vocab),
        )

    def _read(self, nlp: Language, text: str, learned: TermMatcher | None) -> list[Mention]:
        doc = nlp.make_doc(text)
        try:
            return self._mentions(nlp, doc, text, learned)
        finally:
            # Extension values (sections, ConText graphs and cues) refer back to the Doc:
            # dropping them frees it, and its vocab, without waiting for the collector.
            doc.user_data.clear()

    def _mentions(
        self, nlp: Language, doc: Doc, text: str, learned: TermMatcher | None
    ) -> list[Mention]:
        doc.user_data[TEXT_KEY] = text
        if learned is not None:
            doc.user_data[LEARNED_PHRASES] = learned
        for _, component in nlp.pipeline:
            doc = component(doc)
        # What the components found, as plain per-note data: a mention is read from its
        # token window, never from spaCy Spans, Tokens and their extensions.
        tokens = doc_tokens(doc)
        owners = sections.token_sections(doc)
        exact = candidates_by_window(doc)
        operations = operation_windows(doc)
        marks = context.marks_by_window(doc)
        windows = [
            (start, end)
            for start, end in mention_windows(doc)
            if start < end and not sections.in_header(owners[start], start, end)
        ]
        texts = {w: text[tokens[w[0]].start : tokens[w[1] - 1].end] for w in windows}
        budget.check()
        near = self._near_candidates([texts[w] for w in _worth_linking(doc, windows, exact)])
        budget.check()
        mentions = []
        composed_cache: dict[object, list[CandidateCode]] = {}
        for window in budget.checked(windows):
            start, end = window
            mention_text = texts[window]
            # Best first already (the matcher orders them as best_first does): a mention
            # with nothing to add keeps its candidates as they are.
            candidates = exact.get(window, ())
            near_found = near.get(mention_text)
            if near_found:
                candidates = _merge(candidates, near_found)
            if self.composer is not None:
                composed = composed_candidates(
                    self.composer, doc, window, candidates, composed_cache, window in operations
                )
                if composed:
                    candidates = best_first([*candidates, *composed])
            if not candidates and window in operations:
                continue  # operation words the composer could not complete
            section = sections.category_of(owners[start])
            mentions.append(
                Mention(
                    start=tokens[start].start,
                    end=tokens[end - 1].end,
                    text=mention_text,
                    section=section,
                    assertion=context.assertion_from(marks.get(window, {}), section),
                    candidates=candidates,
                )
            )
        return mentions

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


def _worth_linking(
    doc: Doc, windows: Sequence[Window], exact: dict[Window, tuple[CandidateCode, ...]]
) -> list[Window]:
    """Mentions of two words or more that no longer mention contains.

    Near matching is the slow step, and single words link poorly on character 3-grams
    (one typo changes most of them); the longest mentions carry the most to match on.
    """
    # Alphabetic tokens before each token: a mention's words in one subtraction.
    alpha_before = list(itertools.accumulate(doc.to_array("IS_ALPHA").tolist(), initial=0))
    multiword = sorted(
        (
            (start, end)
            for start, end in windows
            if alpha_before[end] - alpha_before[start] >= 2
            and any(c.source is CandidateSource.LEXICON for c in exact.get((start, end), ()))
        ),
        key=lambda w: (w[0], -w[1]),
    )
    kept = []
    reach = -1  # the furthest end of a mention kept so far
    for start, end in multiword:
        if end > reach:  # otherwise an earlier, longer mention holds it
            kept.append((start, end))
            reach = end
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
    return best_first(merged)
