"""Codes scoring below SERVED_FLOOR are neither judged by the conventions nor served; the
floor cuts the ranking's tail, never a code at or above it."""

import numpy as np
import numpy.typing as npt

from codes.systems import CodeSystem
from models.ranker_model import SERVED_FLOOR
from models.suggester import Suggester
from models.tree_ensemble import TreeEnsemble
from nlp.pipeline import NoteReader
from tests.unit.conventions_stub import NAMED, STUB_SCORE, ScoresEverythingHigh, stub_model
from training.train import TrainingResult

NOTE = "Community-acquired pneumonia. Type 2 diabetes mellitus. Appendectomy last year."


class ScoresUnnamedAt(ScoresEverythingHigh):
    """STUB_SCORE for codes an official term names, `low` for every other candidate."""

    def __init__(self, low: float) -> None:
        super().__init__()
        self.low = low

    def probabilities(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        named = matrix[:, NAMED].max(axis=1) >= 0.35
        return np.where(named, STUB_SCORE, self.low)


def ranked_scores(
    trained: TrainingResult, reader: NoteReader, suggester: Suggester, ranker: TreeEnsemble
) -> list[float]:
    model = stub_model(trained.model, ranker)
    mentions = model.read(reader, NOTE)
    systems = [CodeSystem.ICD10CM.value, CodeSystem.ICD10PCS.value]
    return [c.score for c in model.rank(NOTE, mentions, suggester.facts, systems)]


def test_codes_below_the_floor_are_not_ranked(
    trained: TrainingResult, reader: NoteReader, suggester: Suggester
) -> None:
    below = ranked_scores(trained, reader, suggester, ScoresUnnamedAt(SERVED_FLOOR / 2))
    at = ranked_scores(trained, reader, suggester, ScoresUnnamedAt(SERVED_FLOOR))

    assert below and set(below) == {STUB_SCORE}  # only the named codes
    assert set(at) == {STUB_SCORE, SERVED_FLOOR}
    assert len(at) > len(below)  # the note has unnamed candidates (kNN, hierarchy)
