"""Score a trained model on labelled encounters, beside a plain baseline.

The baseline is what a data scientist would try first: TF-IDF of the note and one logistic
regression per code (one-vs-rest), fitted on the same training encounters. Its ranked list
is every learnable code by probability; its recommended set is tuned like the model's,
for micro F1, but on the evaluated data itself, which flatters it (said in the report).
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from codes.systems import CodeSystem
from models.features import CodeKey
from models.guidelines import Setting
from models.profiles import Profile
from models.ranker_model import RankerModel
from models.suggester import Suggester
from models.text_sources import CodeClassifierSource, NoteVectorizer
from nlp.pipeline import NoteReader
from training.encounters import Encounter
from training.metrics import EvaluationResult, best_f1_threshold, evaluate
from training.report import RankedRun, SystemEvaluation
from training.train import progress_bar

logger = logging.getLogger(__name__)

# The baseline ranks this many codes per note and system: enough for MAP to see its recall.
BASELINE_TOP = 100


@dataclass(frozen=True)
class Predictions:
    """system -> case -> [(code, score)] best first, and the recommended codes."""

    ranked: dict[str, dict[str, list[tuple[str, float]]]]
    recommended: dict[str, dict[str, set[str]]]


def gold_by_system(
    encounters: Sequence[Encounter], systems: Sequence[str]
) -> dict[str, dict[str, set[str]]]:
    return {
        system: {e.id: {c.code for c in e.codes if c.system.value == system} for e in encounters}
        for system in systems
    }


def predict(
    model: RankerModel,
    encounters: Sequence[Encounter],
    reader: NoteReader,
    suggester: Suggester,
    profile: Profile,
    setting: Setting = None,
    progress: bool = False,
) -> Predictions:
    """What /suggest answers for each encounter under `profile`: every ranked code in
    order, and the recommended ones."""
    systems = [CodeSystem(s) for s in model.systems]
    ranked: dict[str, dict[str, list[tuple[str, float]]]] = {s: {} for s in model.systems}
    recommended: dict[str, dict[str, set[str]]] = {s: {} for s in model.systems}
    for encounter in progress_bar(encounters, progress, f"scoring notes ({profile})"):
        for s in suggester.suggest(model, reader, encounter.text, systems, setting, profile):
            ranked[s.system.value].setdefault(encounter.id, []).append((s.code, s.score))
            if s.recommended:
                recommended[s.system.value].setdefault(encounter.id, set()).add(s.code)
    return Predictions(ranked, recommended)


def figures(
    predictions: Predictions, gold: Mapping[str, Mapping[str, set[str]]]
) -> dict[str, EvaluationResult]:
    return {
        system: evaluate(
            gold[system],
            {case: [c for c, _ in items] for case, items in predictions.ranked[system].items()},
            predictions.recommended[system],
        )
        for system in predictions.ranked
    }


def baseline_predictions(
    training: Sequence[Encounter], evaluated: Sequence[Encounter], systems: Sequence[str]
) -> Predictions:
    """TF-IDF + one-vs-rest logistic regression, fitted on `training`."""
    vectorizer = NoteVectorizer().fit([e.text for e in training])
    train_vectors = vectorizer.transform([e.text for e in training])
    vectors = vectorizer.transform([e.text for e in evaluated])
    gold = gold_by_system(evaluated, systems)
    ranked: dict[str, dict[str, list[tuple[str, float]]]] = {}
    recommended: dict[str, dict[str, set[str]]] = {}
    for system in systems:
        labels: list[set[CodeKey]] = [
            {(c.system.value, c.code) for c in e.codes if c.system.value == system}
            for e in training
        ]
        source = CodeClassifierSource(min_notes=1, top=BASELINE_TOP).fit(train_vectors, labels)
        ranked[system] = {
            e.id: [(key[1], score) for key, score in scores.items()]
            for e, scores in zip(evaluated, source.scores(vectors), strict=True)
        }
        threshold = best_f1_threshold(gold[system], ranked[system])[0]
        recommended[system] = {
            case: {c for c, s in items if s >= threshold} for case, items in ranked[system].items()
        }
    return Predictions(ranked, recommended)


def system_evaluations(
    predictions: Predictions,
    baseline: Predictions | None,
    gold: Mapping[str, Mapping[str, set[str]]],
    train_notes: Mapping[CodeKey, int],
) -> list[SystemEvaluation]:
    evaluations = []
    for system in sorted(predictions.ranked):
        evaluations.append(
            SystemEvaluation(
                system=system,
                gold=gold[system],
                model=RankedRun(predictions.ranked[system], predictions.recommended[system]),
                baseline=None
                if baseline is None
                else RankedRun(baseline.ranked[system], baseline.recommended[system]),
                train_notes={c: n for (s, c), n in train_notes.items() if s == system},
            )
        )
    return evaluations
