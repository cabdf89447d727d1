"""Approximate linking: the codes whose aliases are spelled nearly like a mention.

This is scispaCy's candidate generation over our own aliases. Each distinct folded alias
text becomes a TF-IDF vector of its character 3-grams, an nmslib HNSW graph finds the
aliases nearest a mention's vector by cosine, and scispaCy's `CandidateGenerator` maps
those aliases back to codes. Misspellings ("atrial fibrilation"), other spellings
("oesophageal") and word forms ("infarct") keep most of a phrase's 3-grams, so they land
near the right alias where exact alias matching finds nothing. A single short word
loses too many 3-grams to one typo ("pnuemonia" is not near "pneumonia" at 0.7).

Built once offline (`ApproximateLinker.build`, then `save`); a service `load`s the folder
and calls `link` once per note with all of the note's unmatched mention texts.
"""

import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import nmslib
import numpy as np
import scipy.sparse
from scispacy.candidate_generation import CandidateGenerator, MentionCandidate
from scispacy.linking_utils import Entity, KnowledgeBase
from sklearn.feature_extraction.text import TfidfVectorizer

from codes.errors import MedcodeError
from codes.folders import read_built_json
from codes.systems import CodeSystem
from codes.text import fold
from nlp.aliases import Alias

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "linker.json"
_NGRAMS = "ngrams.json"
_IDF = "idf.npy"
_VECTORS = "alias_vectors.npz"
_ALIASES = "aliases.json"
_INDEX = "hnsw.bin"

# scispaCy's default. On ICD-10-CM's 110k alias texts the graph search then finds 99.2%
# of the exact top-10 codes (efSearch 100: 98.5%, 1000: 99.9% at 3x the time).
_EF_SEARCH = 200
# A code's description and inclusion terms often all sit near a mention; ask the graph
# for more aliases than the codes wanted so that k distinct codes usually remain.
_NEIGHBOURS_PER_CANDIDATE = 3
# nmslib computes in float32: an exact match can come back as 0.99999994. Rounding makes
# such noise compare equal, so ties fall to the (system, code, alias) order.
_SIMILARITY_DIGITS = 6
_LIBRARIES = ("nmslib-metabrainz", "scikit-learn", "scispacy", "numpy", "scipy")

CodeKey = tuple[CodeSystem, str]


@dataclass(frozen=True, slots=True)
class LinkedCandidate:
    """A code whose alias is spelled like the mention.

    `alias` is the folded alias text that was near; `similarity` is the cosine similarity
    (0..1) of the character 3-gram TF-IDF vectors of mention and alias.
    """

    system: CodeSystem
    code: str
    alias: str
    similarity: float


class LinkerArtifactError(MedcodeError):
    """A saved linker folder is missing, incomplete or of another format version."""

    status_code = 503
    error = "linker_not_built"


class ApproximateLinker:
    """Character 3-gram TF-IDF + HNSW nearest-alias search, scispaCy style.

    Make one with `build` or `load`; the constructor only wires up already-built parts.
    """

    def __init__(
        self,
        texts: list[str],
        codes: list[list[CodeKey]],
        vectorizer: TfidfVectorizer,
        vectors: scipy.sparse.csr_matrix,
        index: Any,
        manifest: dict[str, Any],
    ) -> None:
        self._texts = texts
        self._codes = codes
        self._vectorizer = vectorizer
        self._vectors = vectors
        self._index = index
        self._manifest = manifest
        # Every argument is given, so scispaCy never reaches for its UMLS downloads.
        self._generator = CandidateGenerator(
            ann_index=index,
            tfidf_vectorizer=vectorizer,
            ann_concept_aliases_list=texts,
            kb=_knowledge_base(texts, codes),
        )

    @classmethod
    def build(
        cls, aliases: Sequence[Alias], *, hnsw_m: int = 32, ef_construction: int = 200
    ) -> "ApproximateLinker":
        """Fit the vectorizer on the distinct folded alias texts and index their vectors."""
        table = _alias_table(aliases)
        if not table:
            # scispaCy would take an empty alias list as "download UMLS".
            raise ValueError("cannot build an approximate linker without any non-blank alias")
        texts = list(table)
        codes = list(table.values())
        started = time.perf_counter()
        vectorizer = _new_vectorizer()
        vectors = vectorizer.fit_transform(texts).tocsr()
        params = {"hnsw_m": hnsw_m, "ef_construction": ef_construction, "ef_search": _EF_SEARCH}
        index = _build_index(vectors, hnsw_m, ef_construction)
        logger.info(
            "approximate linker: %d alias texts, %d 3-grams, built in %.1f s",
            len(texts),
            vectors.shape[1],
            time.perf_counter() - started,
        )
        manifest = _manifest(texts, codes, vectors, params)
        return cls(texts, codes, vectorizer, vectors, index, manifest)

    def save(self, folder: Path) -> None:
        """Write the linker as plain JSON/NumPy files plus nmslib's graph: no pickles."""
        folder.mkdir(parents=True, exist_ok=True)
        # The manifest goes first and comes back last: a folder whose save was interrupted
        # has none and won't load, even if an older linker was saved there before.
        (folder / MANIFEST).unlink(missing_ok=True)
        ngrams = self._vectorizer.get_feature_names_out().tolist()
        _write_json(folder / _NGRAMS, ngrams)
        np.save(folder / _IDF, self._vectorizer.idf_, allow_pickle=False)
        scipy.sparse.save_npz(folder / _VECTORS, self._vectors)
        _write_json(folder / _ALIASES, _table_rows(self._texts, self._codes))
        self._index.saveIndex(str(folder / _INDEX), save_data=False)
        _write_json(folder / MANIFEST, self._manifest, indent=2)

    @classmethod
    def load(cls, folder: Path, ef_search: int | None = None) -> "ApproximateLinker":
        """Read a folder written by `save`; LinkerArtifactError if it is not one we can read.

        `ef_search` overrides the saved search breadth (wider: surer, slower).
        """
        manifest = _read_manifest(folder)
        try:
            ngrams: list[str] = json.loads((folder / _NGRAMS).read_text(encoding="utf-8"))
            idf = np.load(folder / _IDF, allow_pickle=False)
            vectors = scipy.sparse.load_npz(folder / _VECTORS).tocsr().astype(np.float32)
            texts, codes = _parse_table(json.loads((folder / _ALIASES).read_text(encoding="utf-8")))
            ef_search = ef_search or int(manifest["params"]["ef_search"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LinkerArtifactError(
                f"the approximate linker at {folder} is incomplete or damaged ({exc}):"
                " build it again"
            ) from exc
        if not (len(texts) == vectors.shape[0] and len(ngrams) == len(idf) == vectors.shape[1]):
            raise LinkerArtifactError(
                f"the approximate linker files at {folder} do not belong together: build it again"
            )
        vectorizer = _new_vectorizer(ngrams)
        vectorizer.idf_ = idf
        index = _load_index(vectors, folder / _INDEX, ef_search)
        return cls(texts, codes, vectorizer, vectors, index, manifest)

    def link(
        self, mention_texts: Sequence[str], k: int = 10, threshold: float = 0.7
    ) -> list[list[LinkedCandidate]]:
        """Per mention text, up to k codes whose alias similarity >= threshold, best first."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, not {threshold}")
        if not mention_texts:
            return []
        queries = [_normalise(text) for text in mention_texts]
        found = self._generator(queries, k * _NEIGHBOURS_PER_CANDIDATE)
        return [_best_candidates(candidates, k, threshold) for candidates in found]


def _normalise(text: str) -> str:
    """Folded, single-spaced: how alias texts and mention texts are compared."""
    return " ".join(fold(text).split())


def _alias_table(aliases: Iterable[Alias]) -> dict[str, list[CodeKey]]:
    """Folded alias text -> the codes it names; sorted, so input order does not matter."""
    codes: defaultdict[str, set[CodeKey]] = defaultdict(set)
    for alias in aliases:
        text = _normalise(alias.text)
        if text:
            codes[text].add((alias.system, alias.code))
    return {text: sorted(codes[text]) for text in sorted(codes)}


def _new_vectorizer(ngrams: list[str] | None = None) -> TfidfVectorizer:
    """scispaCy's vectorizer; with `ngrams`, a fitted one rebuilt from saved state."""
    vocabulary = None if ngrams is None else {ngram: i for i, ngram in enumerate(ngrams)}
    # scispaCy drops 3-grams seen in fewer than 10 of UMLS's millions of aliases; ours are
    # a few hundred thousand at most, and a rare 3-gram is the most telling one.
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 3),
        lowercase=False,  # texts arrive folded
        dtype=np.float32,
        vocabulary=vocabulary,
    )


def _empty_index() -> Any:
    return nmslib.init(
        method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR
    )


def _build_index(vectors: scipy.sparse.csr_matrix, hnsw_m: int, ef_construction: int) -> Any:
    """The HNSW graph over the alias vectors, the same graph for the same vectors.

    nmslib draws each node's level from a thread-local generator with a fixed seed and
    offers no seed parameter. One indexing thread that has never built an index before
    therefore builds the same graph every time: a fresh worker thread per build.
    """

    def create() -> Any:
        index = _empty_index()
        index.addDataPointBatch(vectors)
        params = {
            "M": hnsw_m,
            "efConstruction": ef_construction,
            "indexThreadQty": 1,
            "post": 0,
        }
        index.createIndex(params, print_progress=False)
        index.setQueryTimeParams({"efSearch": _EF_SEARCH})
        return index

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hnsw-build") as pool:
        return pool.submit(create).result()


def _load_index(vectors: scipy.sparse.csr_matrix, path: Path, ef_search: int) -> Any:
    if not path.is_file():
        raise LinkerArtifactError(f"the approximate linker index {path} is missing: build it again")
    # nmslib saves the graph only; the vectors it links go back in first, in the same order.
    index = _empty_index()
    index.addDataPointBatch(vectors)
    try:
        index.loadIndex(str(path))
    except RuntimeError as exc:
        raise LinkerArtifactError(
            f"cannot read the approximate linker index {path}: {exc}"
        ) from exc
    index.setQueryTimeParams({"efSearch": ef_search})
    return index


def _concept_id(key: CodeKey) -> str:
    system, code = key
    return f"{system.value}:{code}"


def _code_key(concept_id: str) -> CodeKey:
    system, _, code = concept_id.partition(":")
    return CodeSystem(system), code


def _knowledge_base(texts: list[str], codes: list[list[CodeKey]]) -> KnowledgeBase:
    """scispaCy's view of the alias table; CandidateGenerator reads its alias_to_cuis."""
    names: defaultdict[str, list[str]] = defaultdict(list)
    for text, keys in zip(texts, codes, strict=True):
        for key in keys:
            names[_concept_id(key)].append(text)
    entities = [
        Entity(concept_id=concept, canonical_name=aliases[0], aliases=aliases)
        for concept, aliases in names.items()
    ]
    return KnowledgeBase(entities)


def _best_candidates(
    found: list[MentionCandidate], k: int, threshold: float
) -> list[LinkedCandidate]:
    candidates = [_nearest_alias(c) for c in found]
    kept = [c for c in candidates if c.similarity >= threshold]
    kept.sort(key=lambda c: (-c.similarity, c.system, c.code, c.alias))
    return kept[:k]


def _nearest_alias(candidate: MentionCandidate) -> LinkedCandidate:
    """One code's nearest alias among those the graph search found for it."""
    scored = (
        (_similarity(s), a) for s, a in zip(candidate.similarities, candidate.aliases, strict=True)
    )
    similarity, alias = min(scored, key=lambda pair: (-pair[0], pair[1]))
    system, code = _code_key(candidate.concept_id)
    return LinkedCandidate(system=system, code=code, alias=alias, similarity=similarity)


def _similarity(raw: float) -> float:
    return round(min(max(raw, 0.0), 1.0), _SIMILARITY_DIGITS)


def _manifest(
    texts: list[str],
    codes: list[list[CodeKey]],
    vectors: scipy.sparse.csr_matrix,
    params: dict[str, int],
) -> dict[str, Any]:
    table = json.dumps(_table_rows(texts, codes), ensure_ascii=False)
    return {
        "format": FORMAT_VERSION,
        "kind": "medcode approximate linker",
        "aliases": len(texts),
        "codes": len({key for keys in codes for key in keys}),
        "ngrams": int(vectors.shape[1]),
        "aliases_sha256": hashlib.sha256(table.encode("utf-8")).hexdigest(),
        "params": params,
        "libraries": {name: metadata.version(name) for name in _LIBRARIES},
    }


def _read_manifest(folder: Path) -> dict[str, Any]:
    return read_built_json(
        folder / MANIFEST,
        "approximate linker",
        FORMAT_VERSION,
        LinkerArtifactError,
        "run `medcode codes import`",
    )


def _table_rows(texts: list[str], codes: list[list[CodeKey]]) -> list[list[Any]]:
    """The alias table as JSON rows: [text, [[system, code], ...]], in index order."""
    return [[t, [[s.value, c] for s, c in keys]] for t, keys in zip(texts, codes, strict=True)]


def _parse_table(raw: list[list[Any]]) -> tuple[list[str], list[list[CodeKey]]]:
    texts = [str(text) for text, _ in raw]
    codes = [[(CodeSystem(s), str(c)) for s, c in keys] for _, keys in raw]
    return texts, codes


def _write_json(path: Path, value: Any, indent: int | None = None) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=indent), encoding="utf-8")
