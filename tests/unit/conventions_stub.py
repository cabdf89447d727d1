"""A model whose ranker scores every candidate 0.9: what the hard rules and the coding
conventions must hold against, whatever a trained ranker would have scored."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from codes.systems import CodeSystem
from models.conventions import Profile
from models.features import FEATURES
from models.ranker_model import Decision, RankerModel
from models.suggester import Suggester
from models.suggestions import ScoredCode
from models.tree_ensemble import TreeEnsemble
from nlp.pipeline import NoteReader

STUB_SCORE = 0.9
# How plainly an official term must name a code for the named-only stub to believe it.
NAMED_MIN = 0.35


NAMED = [FEATURES.index(name) for name in ("lexicon_best", "heading_default")]


class ScoresEverythingHigh(TreeEnsemble):
    def __init__(self) -> None:
        super().__init__([], 0.0, 0)

    def probabilities(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.full(len(matrix), STUB_SCORE)


class ScoresNamedCodesHigh(ScoresEverythingHigh):
    """0.9 for a code an official term names (or the default code of a named heading),
    0.05 for the rest: a ranker that believes every term of the note and nothing else."""

    def probabilities(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        named = matrix[:, NAMED].max(axis=1) >= NAMED_MIN
        return np.where(named, STUB_SCORE, 0.05)


def stub_model(trained: RankerModel, ranker: TreeEnsemble | None = None) -> RankerModel:
    """The trained model's candidate sources with a ranker that scores everything 0.9
    and thresholds every candidate passes. Procedure headings count as answers for the
    learned decisions (CodiEsp's coders assigned them), so only the conventions keep
    them off a US claim."""
    decisions = {
        CodeSystem.ICD10CM.value: Decision(threshold=0.5, gate=0.0, billable_only=True),
        CodeSystem.ICD10PCS.value: Decision(threshold=0.5, gate=0.0, billable_only=False),
    }
    return RankerModel(
        trained.systems,
        trained.learned_aliases,
        trained.signals,
        ranker or ScoresEverythingHigh(),
        decisions,
        trained.parameters,
    )


class StubSuggestions:
    def __init__(self, model: RankerModel, reader: NoteReader, suggester: Suggester) -> None:
        self.model = model
        self.reader = reader
        self.suggester = suggester

    def __call__(
        self,
        text: str,
        profile: Profile = Profile.US,
        setting: str | None = None,
        systems: Sequence[CodeSystem] = (CodeSystem.ICD10CM, CodeSystem.ICD10PCS),
    ) -> list[ScoredCode]:
        return self.suggester.suggest(
            self.model,
            self.reader,
            text,
            systems,
            setting,
            profile,  # type: ignore[arg-type]
        )

    def recommended(
        self, text: str, profile: Profile = Profile.US, setting: str | None = None
    ) -> set[str]:
        return {s.code for s in self(text, profile, setting) if s.recommended}
