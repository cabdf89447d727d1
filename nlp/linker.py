"""Approximate linking: the codes whose aliases are spelled nearly like a mention.

This is scispaCy's candidate generation over our own aliases. Each distinct folded alias
text becomes a TF-IDF vector of its character 3-grams, an nmslib HNSW graph finds the
aliases nearest a mention's vector by cosine, and those aliases map back to codes as
scispaCy's `CandidateGenerator` maps them (done here, so that the alias table can stay
in arrays instead of its knowledge base of Python objects). Misspellings ("atrial
fibrilation"), other spellings ("oesophageal") and word forms ("infarct") keep most of a
phrase's 3-grams, so they land near the right alias where exact alias matching finds
nothing. A single short word loses too many 3-grams to one typo ("pnuemonia" is not near
"pneumonia" at 0.7).

Built once offline (`ApproximateLinker.build`, then `save`); a service `load`s the folder
and calls `link` once per note with all of the note's unmatched mention texts. What loads
at start-up is arrays and nmslib's own files: the graph and the vectors it links, which
nmslib reads back faster than it takes them from a SciPy matrix.
"""

import hashlib
import json
import logging
import time
import zipfile
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
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from codes.errors import MedcodeError
from codes.folders import read_built_json
from codes.systems import CodeSystem
from codes.text import fold
from nlp.aliases import Alias
from nlp.packed_strings import PackedStrings

logger = logging.getLogger(__name__)

# 2: the alias table as arrays (aliases.npz), the vectors in nmslib's own file beside
# the graph (hnsw.bin.dat) instead of alias_vectors.npz.
FORMAT_VERSION = 2
MANIFEST = "linker.json"
_NGRAMS = "ngrams.json"
_IDF = "idf.npy"
_ALIASES = "aliases.npz"
_INDEX = "hnsw.bin"
_INDEX_DATA = "hnsw.bin.dat"  # nmslib's name for the data it saves with the graph

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
        table: "AliasTable",
        vectorizer: TfidfVectorizer,
        index: Any,
        manifest: dict[str, Any],
    ) -> None:
        self._table = table
        self._vectorizer = vectorizer
        self._index = index
        self._manifest = manifest

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
        return cls(AliasTable.of(texts, codes), vectorizer, index, manifest)

    def save(self, folder: Path) -> None:
        """Write the linker as plain JSON/NumPy files plus nmslib's graph and vectors: no
        pickles."""
        folder.mkdir(parents=True, exist_ok=True)
        # The manifest goes first and comes back last: a folder whose save was interrupted
        # has none and won't load, even if an older linker was saved there before.
        (folder / MANIFEST).unlink(missing_ok=True)
        ngrams = self._vectorizer.get_feature_names_out().tolist()
        _write_json(folder / _NGRAMS, ngrams)
        np.save(folder / _IDF, self._vectorizer.idf_, allow_pickle=False)
        np.savez(folder / _ALIASES, allow_pickle=False, **self._table.arrays())
        self._index.saveIndex(str(folder / _INDEX), save_data=True)
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
            with np.load(folder / _ALIASES, allow_pickle=False) as saved:
                table = AliasTable.from_arrays({name: saved[name] for name in saved.files})
            ef_search = ef_search or int(manifest["params"]["ef_search"])
            sizes = (int(manifest["aliases"]), int(manifest["ngrams"]))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise LinkerArtifactError(
                f"the approximate linker at {folder} is incomplete or damaged ({exc}):"
                " build it again"
            ) from exc
        index = _load_index(folder / _INDEX, ef_search)
        if not (sizes == (len(table), len(ngrams)) == (len(index), len(idf))):
            raise LinkerArtifactError(
                f"the approximate linker files at {folder} do not belong together: build it again"
            )
        vectorizer = _new_vectorizer(ngrams)
        vectorizer.idf_ = idf
        return cls(table, vectorizer, index, manifest)

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
        queries = self._vectorizer.transform([_normalise(text) for text in mention_texts])
        found = self._neighbours(queries, k * _NEIGHBOURS_PER_CANDIDATE)
        return [self._best_candidates(neighbours, k, threshold) for neighbours in found]

    def _neighbours(
        self, queries: scipy.sparse.csr_matrix, n: int
    ) -> list[list[tuple[int, float]]]:
        """Per query, its n nearest aliases (ids, cosine distances), nearest first. A query
        that shares no 3-gram with any alias has none: nmslib cannot search from nothing."""
        found: list[list[tuple[int, float]]] = [[] for _ in range(queries.shape[0])]
        searchable = np.flatnonzero(np.asarray(queries.sum(axis=1)).reshape(-1) != 0)
        if len(searchable):
            nearest = self._index.knnQueryBatch(queries[searchable], k=n)
            for row, (ids, distances) in zip(searchable.tolist(), nearest, strict=True):
                found[row] = list(zip(ids.tolist(), distances.tolist(), strict=True))
        return found

    def _best_candidates(
        self, neighbours: list[tuple[int, float]], k: int, threshold: float
    ) -> list[LinkedCandidate]:
        """One candidate per code, with its nearest alias (ties: the first alias in
        order), best first."""
        nearest: dict[CodeKey, tuple[float, str]] = {}
        for alias_id, distance in neighbours:
            similarity = _similarity(1.0 - distance)
            alias = self._table.text(alias_id)
            for key in self._table.codes(alias_id):
                best = nearest.get(key)
                if best is None or (-similarity, alias) < (-best[0], best[1]):
                    nearest[key] = (similarity, alias)
        kept = [
            LinkedCandidate(system=system, code=code, alias=alias, similarity=similarity)
            for (system, code), (similarity, alias) in nearest.items()
            if similarity >= threshold
        ]
        kept.sort(key=lambda c: (-c.similarity, c.system, c.code, c.alias))
        return kept[:k]


class AliasTable:
    """The folded alias texts, in the graph's order, and the codes each names, as arrays.

    scispaCy's knowledge base held the same as Python objects: some 700,000 of them to
    make at every start and to keep, for a lookup of the few aliases near a mention.
    """

    def __init__(
        self,
        texts: PackedStrings,
        code_starts: NDArray[Any],
        code_systems: NDArray[Any],
        codes: PackedStrings,
        systems: Sequence[CodeSystem],
    ) -> None:
        """Alias i names codes code_starts[i] up to code_starts[i + 1]; a code's system is
        systems[code_systems[c]]."""
        if (
            len(code_starts) != len(texts) + 1
            or int(code_starts[0]) != 0
            or int(code_starts[-1]) != len(codes)
            or len(code_systems) != len(codes)
        ):
            raise ValueError("the alias table's arrays do not belong together")
        self._texts = texts
        self._code_starts = code_starts
        self._code_systems = code_systems
        self._codes = codes
        self._systems = list(systems)

    @classmethod
    def of(cls, texts: Sequence[str], codes: Sequence[Sequence[CodeKey]]) -> "AliasTable":
        systems = list(CodeSystem)
        flat = [key for keys in codes for key in keys]
        return cls(
            PackedStrings.pack(texts),
            np.cumsum([0, *(len(keys) for keys in codes)], dtype=np.int32),
            np.array([systems.index(system) for system, _ in flat], dtype=np.uint8),
            PackedStrings.pack(code for _, code in flat),
            systems,
        )

    def arrays(self) -> dict[str, NDArray[Any]]:
        texts, text_ends = self._texts.arrays()
        codes, code_ends = self._codes.arrays()
        return {
            "text.data": texts,
            "text.ends": text_ends,
            "code_starts": self._code_starts,
            "code.system": self._code_systems,
            "code.data": codes,
            "code.ends": code_ends,
            # The systems' names, as bytes: numpy saves no str arrays without pickling.
            "systems": np.frombuffer(" ".join(self._systems).encode("ascii"), dtype=np.uint8),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[Any]]) -> "AliasTable":
        systems = [CodeSystem(s) for s in arrays["systems"].tobytes().decode("ascii").split()]
        return cls(
            PackedStrings.from_arrays(arrays["text.data"], arrays["text.ends"]),
            arrays["code_starts"],
            arrays["code.system"],
            PackedStrings.from_arrays(arrays["code.data"], arrays["code.ends"]),
            systems,
        )

    def __len__(self) -> int:
        return len(self._texts)

    def text(self, alias_id: int) -> str:
        return self._texts[alias_id]

    def codes(self, alias_id: int) -> list[CodeKey]:
        first, end = int(self._code_starts[alias_id]), int(self._code_starts[alias_id + 1])
        systems = self._code_systems[first:end].tolist()
        return [
            (self._systems[s], self._codes[c])
            for s, c in zip(systems, range(first, end), strict=True)
        ]


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


def _load_index(path: Path, ef_search: int) -> Any:
    if not path.is_file() or not path.with_name(_INDEX_DATA).is_file():
        raise LinkerArtifactError(f"the approximate linker index {path} is missing: build it again")
    index = _empty_index()
    try:
        index.loadIndex(str(path), load_data=True)
    except RuntimeError as exc:
        raise LinkerArtifactError(
            f"cannot read the approximate linker index {path}: {exc}"
        ) from exc
    index.setQueryTimeParams({"efSearch": ef_search})
    return index


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


def _write_json(path: Path, value: Any, indent: int | None = None) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=indent), encoding="utf-8")
