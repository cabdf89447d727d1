"""The learned ranker on CodiEsp dev, trained on train only (out-of-fold features).

Run with `make bench`; prints MAP, MAP@30 and micro P/R/F1 per system.
"""

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from codes.catalog import Catalog
from codes.systems import CodeSystem
from nlp.lexicon_build import build_lexicon
from nlp.pipeline import NoteReader, build_language
from nlp.term_matcher import group_phrases
from training.encounters import CodiEspSource
from training.metrics import best_f1_threshold, evaluate
from training.ranker_training import (
    SYSTEMS,
    SignalModel,
    feature_rows,
    fit_ranker,
    out_of_fold_rows,
    prepare,
)

pytestmark = pytest.mark.bench


def test_learned_ranker_on_dev(catalog: Catalog, data_dir: Path) -> None:
    started = time.perf_counter()
    codiesp = data_dir / "codiesp"

    def known(system: CodeSystem, code: str) -> bool:
        return catalog.get(system, code) is not None

    def billable(key: tuple[str, str]) -> bool:
        summary = catalog.get(CodeSystem(key[0]), key[1])
        return summary is not None and summary.billable

    official, _ = build_lexicon(catalog, data_dir, [])  # evidence is learned inside folds
    reader = NoteReader(build_language(group_phrases(official)))
    train = prepare(CodiEspSource(codiesp, ["train"]).read(known).encounters, reader)
    dev = prepare(CodiEspSource(codiesp, ["dev"]).read(known).encounters, reader)

    oof = out_of_fold_rows(train, billable, folds=5, seed=0)
    ranker = fit_ranker(oof, seed=0)
    oof_scores = ranker.predict_proba(oof.matrix)[:, 1]
    thresholds = {}
    for system in SYSTEMS:
        scored: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for (i, key), score in zip(oof.keys, oof_scores, strict=True):
            if key[0] == system:
                scored[str(i)].append((key[1], float(score)))
        gold = {str(i): {c for s, c in n.gold if s == system} for i, n in enumerate(train)}
        thresholds[system] = best_f1_threshold(gold, scored)[0]

    model = SignalModel().fit(train)
    rows = feature_rows(dev, model.signals(dev), model.priors_, billable)
    scores = ranker.predict_proba(rows.matrix)[:, 1]
    elapsed = time.perf_counter() - started
    print(f"\ntrained and scored in {elapsed:.0f} s; thresholds {thresholds}")
    for system in SYSTEMS:
        ranked: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for (i, key), score in zip(rows.keys, scores, strict=True):
            if key[0] == system:
                ranked[dev[i].encounter.id].append((-float(score), key[1]))
        order = {case: [c for _, c in sorted(items)] for case, items in ranked.items()}
        predicted = {
            case: {c for s, c in items if -s >= thresholds[system]}
            for case, items in ranked.items()
        }
        gold = {n.encounter.id: {c for s, c in n.gold if s == system} for n in dev}
        result = evaluate(gold, order, predicted)
        print(f"{system}: {result.as_dict()}")
    assert np.isfinite(scores).all()
