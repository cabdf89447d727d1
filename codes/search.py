"""Type-ahead search over one code system: code prefixes and words in any order.

The index is built once at import time and saved as plain numpy arrays, so loading is a
memory map and a query is a handful of vectorised operations (no Python loop over codes).
Words are kept in two compressed-sparse-row posting lists, one for descriptions and one
for other names (inclusion terms, index entries), both keyed by one sorted vocabulary:
all words that start with a typed prefix form one contiguous vocabulary range, and so
one contiguous slice of postings.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from codes.text import fold, words

# How much one query word scores, by where it was found. Later assignments overwrite
# earlier ones, so they must rise in this order.
_TERM_PREFIX, _TERM_WORD, _DESCRIPTION_PREFIX, _DESCRIPTION_WORD = 1.0, 1.5, 2.0, 3.0
# Words that may be typed but need not be found ("fracture of femur").
_STOPWORDS = frozenset({"of", "the", "and", "or", "with", "without", "in", "to", "a", "an"})
_CODE_LIKE = re.compile(r"[a-z0-9]*[0-9][a-z0-9.]*")
_MAX_WORDS_IN_DESCRIPTION = 999
_VOCAB_END = "\U0010ffff"

IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class SearchEntry:
    code: str
    description: str
    terms: Sequence[str]


@dataclass(frozen=True)
class SearchIndex:
    codes: npt.NDArray[np.str_]  # canonical codes, sorted; an entry's id is its position
    compact_codes: npt.NDArray[np.str_]  # the same codes, lower case, without dots
    description_length: IntArray
    vocabulary: npt.NDArray[np.str_]
    description_indptr: IntArray
    description_postings: IntArray
    term_indptr: IntArray
    term_postings: IntArray

    def __len__(self) -> int:
        return len(self.codes)

    def search(self, query: str, limit: int) -> list[int]:
        """Entry ids best first: code-prefix matches, then word matches.

        Ties are broken by code, so the same query always gives the same list.
        """
        folded = fold(query).strip()
        ranked = self._code_prefix_matches(folded, limit)
        if len(ranked) < limit:
            seen = set(ranked)
            ranked += [i for i in self._word_matches(folded, limit + len(ranked)) if i not in seen]
        return ranked[:limit]

    def _code_prefix_matches(self, folded: str, limit: int) -> list[int]:
        if not _CODE_LIKE.fullmatch(folded):
            return []
        prefix = folded.replace(".", "")
        lo, hi = np.searchsorted(self.compact_codes, [prefix, prefix + _VOCAB_END])
        return list(range(int(lo), min(int(hi), int(lo) + limit)))

    def _word_matches(self, folded: str, limit: int) -> list[int]:
        query_words = words(folded)
        if not query_words:
            return []
        total = np.zeros(len(self.codes), dtype=np.float32)
        required = np.ones(len(self.codes), dtype=bool)
        for word in query_words:
            score = self._word_score(word)
            total += score
            if word not in _STOPWORDS or len(query_words) == 1:
                required &= score > 0
        matched = np.flatnonzero(required)
        if matched.size == 0:
            return []
        lengths = np.minimum(self.description_length[matched], _MAX_WORDS_IN_DESCRIPTION)
        key = total[matched].astype(np.float64) * 1000.0 - lengths
        if matched.size > limit:
            # Keep every entry tied with the limit-th best, so the cut is deterministic.
            cutoff = np.partition(key, matched.size - limit)[matched.size - limit]
            keep = key >= cutoff
            matched, key = matched[keep], key[keep]
        order = np.lexsort((matched, -key))
        return [int(i) for i in matched[order][:limit]]

    def _word_score(self, word: str) -> npt.NDArray[np.float32]:
        score = np.zeros(len(self.codes), dtype=np.float32)
        lo, hi = (int(i) for i in np.searchsorted(self.vocabulary, [word, word + _VOCAB_END]))
        if lo == hi:
            return score
        whole_word = self.vocabulary[lo] == word
        for indptr, postings, prefix_score, word_score in (
            (self.term_indptr, self.term_postings, _TERM_PREFIX, _TERM_WORD),
            (
                self.description_indptr,
                self.description_postings,
                _DESCRIPTION_PREFIX,
                _DESCRIPTION_WORD,
            ),
        ):
            score[postings[indptr[lo] : indptr[hi]]] = prefix_score
            if whole_word:
                score[postings[indptr[lo] : indptr[lo + 1]]] = word_score
        return score

    def save(self, path: Path) -> None:
        np.savez(path, **{name: getattr(self, name) for name in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path) -> "SearchIndex":
        with np.load(path, allow_pickle=False) as arrays:
            return cls(**{name: arrays[name] for name in cls.__dataclass_fields__})


def build_search_index(entries: Iterable[SearchEntry]) -> SearchIndex:
    ordered = sorted(entries, key=lambda e: e.code)
    description_tokens = [words(e.description) for e in ordered]
    description_words = [set(ws) for ws in description_tokens]
    term_words = [{w for term in e.terms for w in words(term)} for e in ordered]
    vocabulary = sorted(set().union(*description_words, *term_words))
    word_id = {w: i for i, w in enumerate(vocabulary)}
    description_indptr, description_postings = _postings(description_words, word_id)
    term_indptr, term_postings = _postings(term_words, word_id)
    return SearchIndex(
        codes=np.array([e.code for e in ordered], dtype=np.str_),
        compact_codes=np.array([e.code.replace(".", "").lower() for e in ordered], dtype=np.str_),
        description_length=np.array([len(ws) for ws in description_tokens], dtype=np.int32),
        vocabulary=np.array(vocabulary, dtype=np.str_),
        description_indptr=description_indptr,
        description_postings=description_postings,
        term_indptr=term_indptr,
        term_postings=term_postings,
    )


def _postings(word_sets: Sequence[set[str]], word_id: dict[str, int]) -> tuple[IntArray, IntArray]:
    """CSR postings: entries holding word w are postings[indptr[w]:indptr[w + 1]]."""
    word_ids = np.array([word_id[w] for ws in word_sets for w in ws], dtype=np.int32)
    entries = np.repeat(np.arange(len(word_sets), dtype=np.int32), [len(ws) for ws in word_sets])
    order = np.lexsort((entries, word_ids))
    counts = np.bincount(word_ids, minlength=len(word_id))
    indptr = np.zeros(len(word_id) + 1, dtype=np.int32)
    np.cumsum(counts, out=indptr[1:])
    return indptr, entries[order]
