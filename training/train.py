"""Train a `RankerModel` from labelled encounters.

Every learned part is fitted on out-of-fold data before it scores a fold's notes: the
evidence phrases, kNN, classifiers and priors of fold k come from the other folds, so the
ranker learns from features as noisy as the ones it meets on new notes. Each note is read
once, with the phrases learned without it.

Then the ranker (gradient boosting over the out-of-fold rows) is fitted, and each code
system's decisions are tuned on the out-of-fold scores: the gate (a note whose best code
scores below it gets no codes of that system) for MAP, then the recommendation threshold
for micro F1. Finally the phrases and sources are learned again on all notes for serving.

Deterministic for a given seed: folds come from a seeded permutation, every source sorts
its outputs, and the ranker's random state is the seed.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from tqdm import tqdm

from codes.catalog import Catalog
from models.features import CodeConstants, CodeFacts, CodeKey, note_features
from models.ranker_model import Decision, RankerModel, catalog_facts
from models.signals import LabelledNote, SignalModel, SignalParameters
from models.tree_ensemble import TreeEnsemble
from nlp.aliases import Alias
from nlp.evidence_phrases import mine_evidence_aliases
from nlp.pipeline import NoteReader
from nlp.term_matcher import TermMatcher
from training.encounters import Encounter, evidence_rows
from training.metrics import best_f1_threshold, evaluated_cases, mean_average_precision

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Gates tried per system: a note's best score must reach the gate for the system to answer.
# Coders who assign headings (non-billable codes) this rarely are taken to assign complete
# codes only, and the model then recommends billable codes only.
HEADING_SHARE = 0.02
GATE_GRID = tuple(round(g, 2) for g in np.arange(0.0, 0.61, 0.01))


@dataclass(frozen=True)
class TrainingParameters:
    folds: int = 5
    seed: int = 0
    # Loose floors: these phrases are candidates the ranker weighs. On dev, support 1
    # instead of 2 raised diagnosis candidate recall from 0.71 to 0.79.
    phrase_min_support: int = 1
    phrase_min_precision: float = 0.1
    ranker_iterations: int = 300
    ranker_learning_rate: float = 0.05
    ranker_l2: float = 1.0
    signals: SignalParameters = field(default_factory=SignalParameters)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingResult:
    model: RankerModel
    out_of_fold: dict[str, dict[str, float]]  # system -> MAP / F1 on the training folds
    seconds: float


@dataclass(frozen=True)
class _Rows:
    keys: list[tuple[int, CodeKey]]  # (note index, code)
    matrix: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int8]


def train(
    encounters: Sequence[Encounter],
    reader: NoteReader,
    catalog: Catalog,
    parameters: TrainingParameters = TrainingParameters(),
    progress: bool = False,
) -> TrainingResult:
    started = time.perf_counter()
    if len(encounters) < parameters.folds:
        raise ValueError(
            f"{len(encounters)} encounters cannot be split in {parameters.folds} folds;"
            " training needs at least that many labelled encounters"
        )
    systems = sorted({c.system.value for e in encounters for c in e.codes})
    if not systems:
        raise ValueError("the encounters carry no codes: there is nothing to learn")
    facts = catalog_facts(catalog)
    gold = [frozenset((c.system.value, c.code) for c in e.codes) for e in encounters]
    folds = _folds(len(encounters), parameters.folds, parameters.seed)

    fold_of = {i: k for k, held_out in enumerate(folds) for i in held_out}
    matchers = [
        TermMatcher.from_aliases(
            learn_phrases(
                [e for i, e in enumerate(encounters) if fold_of[i] != k], catalog, parameters
            )
        )
        for k in progress_bar(range(len(folds)), progress, "learning phrases")
    ]
    mentions = [
        reader.read(e.text, matchers[fold_of[i]])
        for i, e in enumerate(progress_bar(encounters, progress, "reading notes"))
    ]
    notes = [LabelledNote(e.text, m, g) for e, m, g in zip(encounters, mentions, gold, strict=True)]

    blocks = []
    for held_out in progress_bar(folds, progress, "out-of-fold features"):
        held = set(held_out)
        signals = SignalModel(systems, parameters.signals).fit(
            [n for i, n in enumerate(notes) if i not in held]
        )
        blocks.append(_rows(signals, [notes[i] for i in held_out], held_out, facts))
    rows = _Rows(
        [k for b in blocks for k in b.keys],
        np.vstack([b.matrix for b in blocks]),
        np.concatenate([b.labels for b in blocks]),
    )
    logger.info("ranker: %d out-of-fold candidate rows", len(rows.keys))
    ranker = TreeEnsemble.from_classifier(_ranker(parameters).fit(rows.matrix, rows.labels))
    scores = _cross_fitted_scores(rows, [fold_of[i] for i, _ in rows.keys], parameters, progress)
    decisions, out_of_fold = _decisions(systems, rows.keys, scores, gold, facts)

    final_phrases = learn_phrases(encounters, catalog, parameters)
    final_signals = SignalModel(systems, parameters.signals).fit(notes)
    model = RankerModel(
        systems, final_phrases, final_signals, ranker, decisions, parameters.as_dict()
    )
    seconds = time.perf_counter() - started
    logger.info("trained on %d encounters in %.0f s", len(encounters), seconds)
    return TrainingResult(model, out_of_fold, seconds)


def _ranker(parameters: TrainingParameters) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=parameters.ranker_iterations,
        learning_rate=parameters.ranker_learning_rate,
        l2_regularization=parameters.ranker_l2,
        random_state=parameters.seed,
        # Early stopping would hold out a random tenth of the rows, notes split across both.
        early_stopping=False,
    )


def _cross_fitted_scores(
    rows: _Rows, row_folds: Sequence[int], parameters: TrainingParameters, progress: bool
) -> npt.NDArray[np.float64]:
    """Each row scored by a ranker fitted on the other folds' rows: the scores the
    decisions are tuned on must be as unseen as a new note's, or the threshold ends up
    too high for new notes."""
    fold_ids = np.asarray(row_folds)
    scores = np.zeros(len(rows.keys))
    for k in progress_bar(sorted(set(row_folds)), progress, "tuning decisions"):
        inside = fold_ids != k
        ranker = _ranker(parameters).fit(rows.matrix[inside], rows.labels[inside])
        scores[~inside] = ranker.predict_proba(rows.matrix[~inside])[:, 1]
    return scores


def learn_phrases(
    encounters: Iterable[Encounter], catalog: Catalog, parameters: TrainingParameters
) -> list[Alias]:
    """Phrases of the coded evidence sentences that name their codes in notes, with their
    precision on these notes as weight. Encounters without evidence add none."""
    chosen = list(encounters)
    rows = evidence_rows(chosen)
    if not rows:
        return []
    mined = mine_evidence_aliases(
        rows,
        {e.id: e.text for e in chosen},
        min_support=parameters.phrase_min_support,
        min_precision=parameters.phrase_min_precision,
    )
    return [a for a in mined if catalog.get(a.system, a.code) is not None]


def _folds(count: int, folds: int, seed: int) -> list[list[int]]:
    order = np.random.default_rng(seed).permutation(count)
    return [sorted(order[k::folds].tolist()) for k in range(folds)]


def _rows(
    signals: SignalModel, notes: Sequence[LabelledNote], indices: Sequence[int], facts: CodeFacts
) -> _Rows:
    keys: list[tuple[int, CodeKey]] = []
    blocks, labels = [], []
    noted = signals.signals([n.text for n in notes], [n.mentions for n in notes])
    constants = CodeConstants(signals.priors_, facts)  # this fold's priors
    for index, note, signal in zip(indices, notes, noted, strict=True):
        codes, matrix = note_features(
            signal,
            signals.priors_,
            facts,
            signals.systems,
            signals.seen_in_category_,
            constants,
        )
        keys += [(index, code) for code in codes]
        labels += [int(code in note.gold) for code in codes]
        blocks.append(matrix)
    return _Rows(keys, np.vstack(blocks), np.array(labels, dtype=np.int8))


def _decisions(
    systems: Sequence[str],
    keys: Sequence[tuple[int, CodeKey]],
    scores: npt.NDArray[np.float64],
    gold: Sequence[frozenset[CodeKey]],
    facts: CodeFacts,
) -> tuple[dict[str, Decision], dict[str, dict[str, float]]]:
    decisions, figures = {}, {}
    for system in systems:
        assigned = [k for g in gold for k in g if k[0] == system]
        headings = sum(1 for k in assigned if not facts.billable(k))
        billable_only = headings <= HEADING_SHARE * len(assigned)
        scored: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for (i, key), score in zip(keys, scores, strict=True):
            if key[0] == system:
                scored[str(i)].append((key[1], float(score)))
        truth = {str(i): {c for s, c in g if s == system} for i, g in enumerate(gold)}
        gate, best_map = tune_gate(truth, scored)
        gated = {
            case: [(c, s) for c, s in items if not billable_only or facts.billable((system, c))]
            for case, items in scored.items()
            if _top(items) >= gate
        }
        threshold, f1 = best_f1_threshold(truth, gated) if gated else (1.0, 0.0)
        decisions[system] = Decision(round(threshold, 6), gate, billable_only)
        figures[system] = {"map": best_map, "f1": f1, "gate": gate, "threshold": threshold}
        logger.info(
            "%s: gate %.2f (OOF MAP %.3f), threshold %.3f (OOF F1 %.3f)",
            system,
            gate,
            best_map,
            threshold,
            f1,
        )
    return decisions, figures


def tune_gate(
    gold: Mapping[str, set[str]], scored: Mapping[str, Sequence[tuple[str, float]]]
) -> tuple[float, float]:
    """The gate with the best MAP (the lowest among equals), and that MAP."""
    ranked = {
        case: [c for c, _ in sorted(items, key=lambda x: (-x[1], x[0]))]
        for case, items in scored.items()
    }
    tops = {case: _top(items) for case, items in scored.items()}
    best = (0.0, -1.0)
    for gate in GATE_GRID:
        answered = {case: codes for case, codes in ranked.items() if tops[case] >= gate}
        if not evaluated_cases(gold, answered):
            break
        value = mean_average_precision(gold, answered)
        if value > best[1] + 1e-12:
            best = (gate, value)
    return best


def _top(items: Sequence[tuple[str, float]]) -> float:
    return max((score for _, score in items), default=0.0)


def progress_bar(items: Sequence[T], enabled: bool, label: str) -> Iterator[T]:
    return iter(tqdm(items, desc=label, disable=not enabled, unit="", leave=False))
