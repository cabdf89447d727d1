"""The ranker's trees, kept as arrays, score exactly as the fitted estimator."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from models.tree_ensemble import FILE, TreeEnsemble, TreeEnsembleError


@pytest.fixture(scope="module")
def fitted() -> tuple[HistGradientBoostingClassifier, np.ndarray]:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(2000, 6))
    rows[rng.random(rows.shape) < 0.05] = np.nan  # missing values take their learned side
    labels = (np.nan_to_num(rows[:, 0]) + rows[:, 1] ** 2 > 0.8) ^ (rng.random(2000) < 0.1)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0, early_stopping=False)
    return model.fit(rows, labels.astype(int)), rows


def test_probabilities_equal_the_estimators(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    model, rows = fitted
    trees = TreeEnsemble.from_classifier(model)
    assert np.array_equal(trees.probabilities(rows), model.predict_proba(rows)[:, 1])


def test_saved_trees_load_and_score_the_same(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray], tmp_path: Path
) -> None:
    model, rows = fitted
    TreeEnsemble.from_classifier(model).save(tmp_path)
    assert np.array_equal(
        TreeEnsemble.load(tmp_path).probabilities(rows), model.predict_proba(rows)[:, 1]
    )


def test_damaged_or_missing_trees_are_a_clear_error(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray], tmp_path: Path
) -> None:
    with pytest.raises(TreeEnsembleError, match="cannot read"):
        TreeEnsemble.load(tmp_path)
    TreeEnsemble.from_classifier(fitted[0]).save(tmp_path)
    (tmp_path / FILE).write_bytes((tmp_path / FILE).read_bytes()[:200])
    with pytest.raises(TreeEnsembleError):
        TreeEnsemble.load(tmp_path)


def test_rows_of_the_wrong_width_are_refused(
    fitted: tuple[HistGradientBoostingClassifier, np.ndarray],
) -> None:
    with pytest.raises(ValueError, match="6 features"):
        TreeEnsemble.from_classifier(fitted[0]).probabilities(np.zeros((3, 5)))
