"""A fitted binary HistGradientBoostingClassifier kept as plain arrays.

Saving the estimator itself would mean pickle, and loading a pickle runs whatever code the
file names. The trees are all a prediction needs: every tree's node table (a NumPy
structured array) and the baseline log-odds. They are saved with `allow_pickle=False` and
predicted with scikit-learn's own compiled tree walker (`TreePredictor`), so scores are the
estimator's to the last bit (tests/unit/test_tree_ensemble.py checks that).

`TreePredictor` is not public scikit-learn API; artifacts record the scikit-learn version
and refuse to load under another major.minor (models/artifacts.py), and the test above
fails first if a pinned upgrade changes it.
"""

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting.common import X_BITSET_INNER_DTYPE
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

from codes.errors import MedcodeError

FILE = "trees.npz"


class TreeEnsembleError(MedcodeError):
    status_code = 422
    error = "incompatible_artifact"


class TreeEnsemble:
    def __init__(self, trees: list[npt.NDArray[np.void]], baseline: float, n_features: int) -> None:
        self.trees = trees
        self.baseline = baseline
        self.n_features = n_features
        no_categories = np.zeros((0, 8), dtype=X_BITSET_INNER_DTYPE)
        self._predictors = [TreePredictor(t, no_categories, no_categories) for t in trees]
        self._known_categories = no_categories
        self._feature_map = np.zeros(n_features, dtype=np.uint32)

    @classmethod
    def from_classifier(cls, fitted: HistGradientBoostingClassifier) -> "TreeEnsemble":
        if len(fitted.classes_) != 2 or fitted.is_categorical_ is not None:
            raise ValueError("only a binary classifier on numeric features can be kept as trees")
        trees = [iteration[0].nodes for iteration in fitted._predictors]
        baseline = float(np.ravel(fitted._baseline_prediction)[0])
        return cls(trees, baseline, int(fitted.n_features_in_))

    def probabilities(self, matrix: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        """P(label 1) per row, as `predict_proba(matrix)[:, 1]` of the fitted classifier."""
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got {matrix.shape}")
        rows = np.ascontiguousarray(matrix, dtype=np.float64)
        raw = np.full(rows.shape[0], self.baseline)
        for predictor in self._predictors:
            # One thread: requests already run side by side in the server's thread pool.
            raw += predictor.predict(rows, self._known_categories, self._feature_map, 1)
        return np.asarray(expit(raw), dtype=np.float64)

    def save(self, folder: Path) -> None:
        sizes = np.array([len(t) for t in self.trees], dtype=np.int64)
        np.savez(
            folder / FILE,
            allow_pickle=False,
            nodes=np.concatenate(self.trees) if self.trees else np.zeros(0),
            sizes=sizes,
            baseline=np.array([self.baseline]),
            n_features=np.array([self.n_features]),
        )

    @classmethod
    def load(cls, folder: Path) -> "TreeEnsemble":
        try:
            with np.load(folder / FILE, allow_pickle=False) as stored:
                nodes, sizes = stored["nodes"], stored["sizes"]
                baseline, n_features = float(stored["baseline"][0]), int(stored["n_features"][0])
        except (OSError, KeyError, ValueError, IndexError, zipfile.BadZipFile) as exc:
            raise TreeEnsembleError(f"cannot read the ranker trees at {folder}: {exc}") from exc
        if int(sizes.sum()) != len(nodes):
            raise TreeEnsembleError(f"the ranker trees at {folder} are damaged")
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        trees = [nodes[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]
        return cls(trees, baseline, n_features)
