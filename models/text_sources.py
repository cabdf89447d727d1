"""Candidate codes learned from whole notes: the codes of similar training notes (kNN) and
one logistic regression per code, both over a word 1-2-gram TF-IDF of the note.

They complement the dictionary sources: they need no evidence phrase, only notes that look
alike. `training` fits them on training folds (so the ranker sees scores as noisy as on new
notes); the service loads them from a model artifact. Codes are opaque `(system, code)` keys;
fit one source per code system when each system should get its own `top` codes.

Persistence is plain JSON + NumPy (`allow_pickle=False`), one folder per object, so an
artifact never runs code when it is loaded.
"""

import json
import logging
import time
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from codes.errors import MedcodeError

logger = logging.getLogger(__name__)

CodeKey = tuple[str, str]  # (system, code)
Labels = Sequence[Collection[CodeKey]]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FORMAT_VERSION = 1
META = "meta.json"
ARRAYS = "arrays.npz"
# Query rows scored per sparse product: bounds the (queries x training notes) similarity matrix.
_BATCH = 256


class TextSourceArtifactError(MedcodeError, ValueError):
    """A saved vectorizer or source that this medcode cannot read."""

    status_code = 422
    error = "incompatible_artifact"


class NoteVectorizer:
    """Word 1-2-gram TF-IDF of a whole note: sublinear tf, smooth idf, rows L2-normalised.

    Lower-cased and accent-stripped with scikit-learn's default token pattern (words of two
    or more characters). Same numbers as `TfidfVectorizer(sublinear_tf=True)`, but the
    state is just `vocabulary_` and `idf_`, so save/load needs no pickle.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df

    def get_params(self) -> dict[str, Any]:
        return {"ngram_range": list(self.ngram_range), "min_df": self.min_df}

    def fit(self, texts: Sequence[str]) -> Self:
        started = time.perf_counter()
        counter = self._counter(vocabulary=None)
        counts = counter.fit_transform(texts).tocsr()
        document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        n_notes = counts.shape[0]
        self.idf_: FloatArray = np.log((1.0 + n_notes) / (1.0 + document_frequency)) + 1.0
        self.vocabulary_: dict[str, int] = {
            str(term): int(index) for term, index in counter.vocabulary_.items()
        }
        self._prepare()
        logger.info(
            "note vectorizer: %d n-grams from %d notes in %.2f s",
            len(self.vocabulary_),
            n_notes,
            time.perf_counter() - started,
        )
        return self

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        self._check_fitted()
        counts = self._fixed_counter.transform(texts).tocsr().astype(np.float64)
        counts.data = (1.0 + np.log(counts.data)) * self.idf_[counts.indices]
        return _l2_normalised(counts)

    def fit_transform(self, texts: Sequence[str]) -> csr_matrix:
        return self.fit(texts).transform(texts)

    @property
    def n_features(self) -> int:
        self._check_fitted()
        return len(self.idf_)

    def save(self, folder: Path) -> None:
        self._check_fitted()
        terms = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        _write(folder, "note_vectorizer", self.get_params(), {"idf": self.idf_}, {"terms": terms})

    @classmethod
    def load(cls, folder: Path) -> "NoteVectorizer":
        meta, arrays = _read(folder, "note_vectorizer")
        with _damaged(folder):
            low, high = meta["params"]["ngram_range"]
            vectorizer = cls(
                ngram_range=(int(low), int(high)), min_df=int(meta["params"]["min_df"])
            )
            terms = [str(term) for term in meta["terms"]]
            idf = arrays["idf"].astype(np.float64)
        _require(len(terms) == len(idf), folder, "terms and idf differ in length")
        vectorizer.idf_ = idf
        vectorizer.vocabulary_ = {term: index for index, term in enumerate(terms)}
        vectorizer._prepare()
        return vectorizer

    def _prepare(self) -> None:
        # A fresh counter on the fixed vocabulary: the fitted one keeps every pruned n-gram
        # in `stop_words_`, and a loaded vectorizer must count exactly like a fitted one.
        # Fitting it now, not lazily on first use, keeps transform free of shared writes
        # when the service calls it from several threads.
        self._fixed_counter = self._counter(vocabulary=self.vocabulary_).fit([])

    def _counter(self, vocabulary: Mapping[str, int] | None) -> CountVectorizer:
        low, high = self.ngram_range
        return CountVectorizer(
            lowercase=True,
            strip_accents="unicode",
            ngram_range=(low, high),
            min_df=self.min_df,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "idf_"):
            raise NotFittedError("NoteVectorizer is not fitted: call fit or load first")


class KnnEvidence(NamedTuple):
    """Why the kNN source proposes a code for one note."""

    share: float  # similarity-weighted share of the k neighbours carrying the code (0..1)
    best_similarity: float  # cosine similarity of the most similar neighbour carrying it
    neighbours: int  # how many of the k neighbours carry it


class _NeighbourCodes(NamedTuple):
    """The codes of one note's neighbours as parallel arrays, best first."""

    codes: IntArray  # indices into KnnCodeSource.codes_
    shares: FloatArray
    best_similarities: FloatArray
    counts: IntArray


class KnnCodeSource:
    """Codes of the k training notes most cosine-similar to a note.

    A code's score is the similarity-weighted share of those neighbours that carry it:
    sum of similarities of neighbours carrying it / sum of similarities of all k neighbours.
    Only neighbours with a positive similarity count, so a note sharing no n-gram with the
    training notes gets no codes. Every code of every neighbour is returned (no top cut):
    the ranker decides. Scoring a training note finds that note itself (similarity 1), so
    score held-out notes only.

    Fitted state: `codes_` (sorted code keys), `vectors_` (unit-length training vectors,
    CSR) and `label_matrix_` (binary notes x codes_, CSR).
    """

    def __init__(self, k: int = 40) -> None:
        self.k = k

    def get_params(self) -> dict[str, Any]:
        return {"k": self.k}

    def fit(self, vectors: csr_matrix, labels: Labels) -> Self:
        _check_training_set(vectors, labels)
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")
        self.codes_, self.label_matrix_ = _label_matrix(labels)
        # Normalised here too, so similarity is cosine whatever vectors the caller passes.
        self.vectors_ = _l2_normalised(vectors)
        self._prepare()
        logger.info(
            "kNN code source: %d training notes, %d codes", vectors.shape[0], len(self.codes_)
        )
        return self

    def scores(self, vectors: csr_matrix) -> list[dict[CodeKey, float]]:
        """Per note, {code: share of neighbours}, best first; ties by code key."""
        return [
            {
                self.codes_[c]: float(share)
                for c, share in zip(found.codes, found.shares, strict=True)
            }
            for found in self._neighbour_codes(vectors)
        ]

    def evidence(self, vectors: csr_matrix) -> list[dict[CodeKey, KnnEvidence]]:
        """Per note, {code: share, best neighbour similarity, neighbour count}, best first."""
        return [
            {
                self.codes_[c]: KnnEvidence(float(share), float(best), int(count))
                for c, share, best, count in zip(*found, strict=True)
            }
            for found in self._neighbour_codes(vectors)
        ]

    def save(self, folder: Path) -> None:
        self._check_fitted()
        arrays = _csr_arrays("vectors", self.vectors_) | _csr_arrays("labels", self.label_matrix_)
        _write(folder, "knn_code_source", self.get_params(), arrays, {"codes": self.codes_})

    @classmethod
    def load(cls, folder: Path) -> "KnnCodeSource":
        meta, arrays = _read(folder, "knn_code_source")
        with _damaged(folder):
            source = cls(k=int(meta["params"]["k"]))
            source.codes_ = _parse_codes(meta["codes"])
            source.vectors_ = _csr_from(arrays, "vectors")
            source.label_matrix_ = _csr_from(arrays, "labels")
        _require(
            source.label_matrix_.shape == (source.vectors_.shape[0], len(source.codes_)),
            folder,
            "labels do not match the training vectors and codes",
        )
        source._prepare()
        return source

    def _prepare(self) -> None:
        self.n_features_in_: int = self.vectors_.shape[1]
        # (features x notes) in CSR: query @ this is one cheap product; `vectors_.T` would be
        # CSC and scipy would convert all training vectors on every call.
        self._by_feature = csr_matrix(self.vectors_.T)

    def _neighbour_codes(self, vectors: csr_matrix) -> Iterator["_NeighbourCodes"]:
        self._check(vectors)
        for batch in _batches(_l2_normalised(vectors)):
            for indices, similarities in _rows(batch @ self._by_feature):
                yield self._codes_of_nearest(indices, similarities)

    def _codes_of_nearest(self, indices: IntArray, similarities: FloatArray) -> "_NeighbourCodes":
        positive = similarities > 0.0
        indices, similarities = indices[positive], similarities[positive]
        # Most similar first; equal similarities by training row, so the k cut is stable.
        nearest = np.lexsort((indices, -similarities))[: self.k]
        neighbours, weights = indices[nearest], similarities[nearest]
        carried = self.label_matrix_[neighbours]  # rows in neighbour order
        code_weights = np.repeat(weights, np.diff(carried.indptr))
        # return_index gives each code's first occurrence, i.e. its most similar neighbour.
        codes, first, inverse = np.unique(carried.indices, return_index=True, return_inverse=True)
        # Sum of the neighbours' similarities; 1 when there are none (then there are no codes).
        total = float(weights.sum()) or 1.0
        shares = np.bincount(inverse, weights=code_weights, minlength=len(codes)) / total
        counts = np.bincount(inverse, minlength=len(codes))
        order = np.lexsort((codes, -shares))  # codes_ is sorted: index order is key order
        return _NeighbourCodes(
            codes[order], shares[order], code_weights[first][order], counts[order]
        )

    def _check(self, vectors: csr_matrix) -> None:
        self._check_fitted()
        _check_width(vectors, self.n_features_in_, type(self).__name__)

    def _check_fitted(self) -> None:
        if not hasattr(self, "vectors_"):
            raise NotFittedError("KnnCodeSource is not fitted: call fit or load first")


class CodeClassifierSource:
    """One L2 logistic regression per code seen in at least `min_notes` training notes.

    Per note, the `top` codes by predicted probability. The weights of all codes are stacked
    into one (features x codes) matrix, so scoring is one sparse x dense product.

    Choices, measured on CodiEsp dev (train 500 notes, top 30): `class_weight="balanced"`,
    because most codes are in under 1% of notes and unweighted models rank them too low
    (diagnoses recall 0.29 -> 0.35, MAP 0.13 -> 0.18; procedures recall 0.48 -> 0.53,
    MAP 0.24 -> 0.30). The price is that the scores are inflated, not calibrated
    probabilities: the ranker learns its own calibration. liblinear's dual solver, because
    there are far more n-grams than notes; it is deterministic for a fixed `random_state`.
    A code carried by every training note has no negatives to learn from and is skipped.

    Fitted state: `codes_` (the learnable code keys, sorted), `weights_` (features x codes_,
    float32: scikit-learn's `coef_` transposed, one column per code) and `intercept_`.
    """

    # `C` as in LogisticRegression, so the parameter means what a scikit-learn user expects.
    def __init__(
        self,
        min_notes: int = 3,
        C: float = 4.0,  # noqa: N803
        top: int = 30,
        random_state: int = 0,
    ) -> None:
        self.min_notes = min_notes
        self.C = C
        self.top = top
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            "min_notes": self.min_notes,
            "C": self.C,
            "top": self.top,
            "random_state": self.random_state,
        }

    def fit(self, vectors: csr_matrix, labels: Labels) -> Self:
        _check_training_set(vectors, labels)
        if self.top < 1 or self.min_notes < 1 or self.C <= 0:
            raise ValueError(f"invalid parameters {self.get_params()}")
        started = time.perf_counter()
        vectors = csr_matrix(vectors, dtype=np.float64)
        codes, label_matrix = _label_matrix(labels)
        columns = label_matrix.tocsc()
        notes_per_code = np.diff(columns.indptr)
        learnable = (notes_per_code >= self.min_notes) & (notes_per_code < vectors.shape[0])
        chosen = np.flatnonzero(learnable)
        # float32 halves the artifact (about 20k n-grams x 500 codes on CodiEsp) and is
        # plenty for a ranking score; fitted and loaded sources use the same matrix.
        weights = np.zeros((vectors.shape[1], len(chosen)), dtype=np.float32)
        intercepts = np.zeros(len(chosen), dtype=np.float64)
        for column, code_index in enumerate(chosen):
            carriers = columns.indices[columns.indptr[code_index] : columns.indptr[code_index + 1]]
            target = np.zeros(vectors.shape[0], dtype=np.int8)
            target[carriers] = 1
            model = self._classifier().fit(vectors, target)
            weights[:, column] = model.coef_[0]
            intercepts[column] = model.intercept_[0]
        self.codes_: list[CodeKey] = [codes[i] for i in chosen]
        self.weights_ = weights
        self.intercept_ = intercepts
        self.n_features_in_: int = vectors.shape[1]
        logger.info(
            "code classifier source: %d of %d codes learnable from %d notes, fit in %.1f s",
            len(self.codes_),
            len(codes),
            vectors.shape[0],
            time.perf_counter() - started,
        )
        return self

    def probabilities(self, vectors: csr_matrix) -> FloatArray:
        """(notes x codes_) predicted probabilities for every learnable code."""
        self._check(vectors)
        # float32 queries: a float64 product would copy the whole weight matrix per call.
        decision = csr_matrix(vectors, dtype=np.float32) @ self.weights_ + self.intercept_
        return np.asarray(expit(decision), dtype=np.float64)

    def scores(self, vectors: csr_matrix) -> list[dict[CodeKey, float]]:
        """Per note, the `top` codes {code: probability}, best first; ties by code key.

        A note with no known n-gram gets none: its probabilities would only restate each
        code's intercept, which says nothing about the note.
        """
        self._check(vectors)
        vectors = csr_matrix(vectors)
        found: list[dict[CodeKey, float]] = []
        for batch in _batches(vectors):
            probabilities = self.probabilities(batch)
            for row, note in enumerate(probabilities):
                found.append({} if batch.indptr[row] == batch.indptr[row + 1] else self._top(note))
        return found

    def save(self, folder: Path) -> None:
        self._check_fitted()
        arrays: dict[str, npt.NDArray[Any]] = {
            "weights": self.weights_,
            "intercept": self.intercept_,
        }
        _write(folder, "code_classifier_source", self.get_params(), arrays, {"codes": self.codes_})

    @classmethod
    def load(cls, folder: Path) -> "CodeClassifierSource":
        meta, arrays = _read(folder, "code_classifier_source")
        with _damaged(folder):
            params = meta["params"]
            source = cls(
                min_notes=int(params["min_notes"]),
                C=float(params["C"]),
                top=int(params["top"]),
                random_state=int(params["random_state"]),
            )
            source.codes_ = _parse_codes(meta["codes"])
            source.weights_ = arrays["weights"].astype(np.float32)
            source.intercept_ = arrays["intercept"].astype(np.float64)
        source.n_features_in_ = source.weights_.shape[0]
        _require(
            source.weights_.shape[1] == len(source.intercept_) == len(source.codes_),
            folder,
            "weights, intercepts and codes differ in length",
        )
        return source

    def _classifier(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C,
            l1_ratio=0.0,
            solver="liblinear",
            dual=True,
            class_weight="balanced",
            random_state=self.random_state,
        )

    def _top(self, probabilities: FloatArray) -> dict[CodeKey, float]:
        # Stable sort on the negated scores: equal scores keep codes_ order, i.e. key order.
        best = np.argsort(-probabilities, kind="stable")[: self.top]
        return {self.codes_[i]: float(probabilities[i]) for i in best}

    def _check(self, vectors: csr_matrix) -> None:
        self._check_fitted()
        _check_width(vectors, self.n_features_in_, type(self).__name__)

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError("CodeClassifierSource is not fitted: call fit or load first")


def _check_training_set(vectors: csr_matrix, labels: Labels) -> None:
    if vectors.shape[0] == 0:
        raise ValueError("cannot fit a text source without training notes")
    if vectors.shape[0] != len(labels):
        raise ValueError(f"{vectors.shape[0]} note vectors but {len(labels)} label sets")


def _check_width(vectors: csr_matrix, expected: int, owner: str) -> None:
    if vectors.shape[1] != expected:
        raise ValueError(
            f"{owner} was fitted on {expected} features, these vectors have {vectors.shape[1]}:"
            " use the vectorizer it was fitted with"
        )


def _label_matrix(labels: Labels) -> tuple[list[CodeKey], csr_matrix]:
    """Sorted distinct codes and the binary (notes x codes) matrix of who carries what."""
    codes = sorted({(str(system), str(code)) for note in labels for system, code in note})
    column = {code: i for i, code in enumerate(codes)}
    rows = [sorted({column[(str(system), str(code))] for system, code in note}) for note in labels]
    indptr = np.cumsum([0, *map(len, rows)], dtype=np.int64)
    indices = np.array([i for row in rows for i in row], dtype=np.int64)
    data = np.ones(len(indices), dtype=np.float64)
    return codes, csr_matrix((data, indices, indptr), shape=(len(rows), len(codes)))


def _l2_normalised(vectors: csr_matrix) -> csr_matrix:
    """A float64 copy with unit-length rows; all-zero rows stay zero."""
    # Not sklearn's `normalize`: it refuses a matrix with no rows, and scoring no notes is fine.
    normalised = csr_matrix(vectors, dtype=np.float64, copy=True)
    normalised.sum_duplicates()
    norms = np.sqrt(np.asarray(normalised.multiply(normalised).sum(axis=1)).ravel())
    norms[norms == 0.0] = 1.0
    normalised.data /= np.repeat(norms, np.diff(normalised.indptr))
    return normalised


def _batches(vectors: csr_matrix) -> Iterator[csr_matrix]:
    vectors = csr_matrix(vectors)
    for start in range(0, vectors.shape[0], _BATCH):
        yield vectors[start : start + _BATCH]


def _rows(matrix: Any) -> Iterator[tuple[IntArray, FloatArray]]:
    """(column indices, values) of each row of a sparse matrix."""
    matrix = csr_matrix(matrix)
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        yield matrix.indices[start:end].astype(np.int64), matrix.data[start:end]


def _csr_arrays(name: str, matrix: csr_matrix) -> dict[str, npt.NDArray[Any]]:
    return {
        f"{name}_data": matrix.data,
        f"{name}_indices": matrix.indices,
        f"{name}_indptr": matrix.indptr,
        f"{name}_shape": np.array(matrix.shape, dtype=np.int64),
    }


def _csr_from(arrays: Mapping[str, npt.NDArray[Any]], name: str) -> csr_matrix:
    rows, columns = (int(n) for n in arrays[f"{name}_shape"])
    parts = (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"])
    return csr_matrix(parts, shape=(rows, columns))


def _parse_codes(raw: Sequence[Sequence[str]]) -> list[CodeKey]:
    return [(str(system), str(code)) for system, code in raw]


def _write(
    folder: Path,
    kind: str,
    params: dict[str, Any],
    arrays: Mapping[str, npt.NDArray[Any]],
    contents: Mapping[str, Any],
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # The meta file goes last: a folder whose save was interrupted has none and won't load.
    (folder / META).unlink(missing_ok=True)
    np.savez(folder / ARRAYS, allow_pickle=False, **arrays)
    meta = {"kind": kind, "format": FORMAT_VERSION, "params": params, **contents}
    (folder / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def _read(folder: Path, kind: str) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    path = folder / META
    if not path.is_file():
        raise TextSourceArtifactError(f"no saved {kind} at {folder}")
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        with np.load(folder / ARRAYS, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise TextSourceArtifactError(f"cannot read the {kind} at {folder}: {exc}") from exc
    found = (meta.get("kind"), meta.get("format")) if isinstance(meta, dict) else (None, None)
    if found != (kind, FORMAT_VERSION):
        raise TextSourceArtifactError(
            f"{folder} holds {found[0]!r} format {found[1]!r}; expected"
            f" {kind!r} format {FORMAT_VERSION}: fit and save it again"
        )
    return meta, arrays


@contextmanager
def _damaged(folder: Path) -> Iterator[None]:
    """Turn a missing or mistyped entry of a saved folder into one clear error."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise TextSourceArtifactError(
            f"the files at {folder} are incomplete or damaged ({exc!r}): fit and save again"
        ) from exc


def _require(condition: bool, folder: Path, problem: str) -> None:
    if not condition:
        raise TextSourceArtifactError(f"the files at {folder} do not belong together: {problem}")
