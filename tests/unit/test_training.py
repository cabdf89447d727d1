"""Training: deterministic artifacts, decisions per system, clear refusals."""

from dataclasses import replace
from pathlib import Path

import pytest

from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from models.ranker_model import RankerModel, catalog_facts
from nlp.pipeline import NoteReader
from tests.conftest import TEST_MODEL_PARAMETERS, publish
from training.encounters import Encounter
from training.train import TrainingResult, learn_phrases, train, tune_gate

NOTE = "Essential hypertension. Chest X-ray showed no pneumonia. Appendectomy was performed."


def ranked(model: RankerModel, reader: NoteReader, catalog: Catalog) -> list[tuple[object, float]]:
    mentions = model.read(reader, NOTE)
    return model.score([NOTE], [mentions], catalog_facts(catalog))[0]


def test_the_same_seed_gives_the_same_artifact_and_suggestions(
    trained: TrainingResult,
    training_notes: list[Encounter],
    reader: NoteReader,
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    again = train(training_notes, reader, catalog, TEST_MODEL_PARAMETERS)
    store = ArtifactStore(tmp_path)
    first, second = publish(store, trained), publish(store, again)
    # The version's suffix hashes every model file: equal suffixes, byte-identical files.
    assert first.version.split("-")[1] == second.version.split("-")[1]
    assert first.metadata["files"] == second.metadata["files"]
    assert ranked(trained.model, reader, catalog) == ranked(again.model, reader, catalog)
    loaded = RankerModel.load(second.path)
    assert ranked(loaded, reader, catalog) == ranked(trained.model, reader, catalog)


def test_each_system_gets_a_gate_and_a_threshold(trained: TrainingResult) -> None:
    assert set(trained.model.decisions) == {"icd10cm", "icd10pcs"}
    for system, decision in trained.model.decisions.items():
        assert 0.0 <= decision.gate <= decision.threshold <= 1.0, system
        assert 0.0 < trained.out_of_fold[system]["map"] <= 1.0


def test_scores_are_sorted_and_codes_known(
    trained: TrainingResult, reader: NoteReader, catalog: Catalog
) -> None:
    scored = ranked(trained.model, reader, catalog)
    assert scored
    assert scored == sorted(scored, key=lambda item: (-item[1], item[0]))
    assert ("icd10cm", "I10") in dict(scored)


def test_too_few_encounters_are_refused_with_the_reason(
    training_notes: list[Encounter], reader: NoteReader, catalog: Catalog
) -> None:
    with pytest.raises(ValueError, match="cannot be split in 3 folds"):
        train(training_notes[:2], reader, catalog, TEST_MODEL_PARAMETERS)
    uncoded = [replace(e, codes=()) for e in training_notes[:5]]
    with pytest.raises(ValueError, match="no codes"):
        train(uncoded, reader, catalog, TEST_MODEL_PARAMETERS)


def test_encounters_without_evidence_teach_no_phrases(
    training_notes: list[Encounter], catalog: Catalog
) -> None:
    assert learn_phrases(training_notes[:10], catalog, TEST_MODEL_PARAMETERS)
    bare = [replace(e, evidence=()) for e in training_notes[:10]]
    assert learn_phrases(bare, catalog, TEST_MODEL_PARAMETERS) == []


def test_the_gate_keeps_notes_whose_best_code_is_sure_enough() -> None:
    gold = {"a": {"x"}, "b": set(), "c": {"y"}}
    scored = {
        "a": [("x", 0.9), ("z", 0.2)],  # AP 1
        "b": [("x", 0.05)],  # no gold: answering costs an AP of 0 in the mean
        "c": [("z", 0.3), ("y", 0.1)],  # AP 1/2
    }
    # Gate 0: (1 + 0 + 0.5) / 3; from 0.06 "b" is silent: (1 + 0.5) / 2, the best; past
    # 0.30 "c" is silent too but still counts (it has gold): (1 + 0) / 2.
    gate, best = tune_gate(gold, scored)
    assert gate == pytest.approx(0.06)
    assert best == pytest.approx(0.75)


def test_a_loaded_model_matches_its_saved_phrases_as_trained_and_saves_them_again(
    trained: TrainingResult, reader: NoteReader, catalog: Catalog, tmp_path: Path
) -> None:
    store = ArtifactStore(tmp_path)
    saved = publish(store, trained)
    loaded = RankerModel.load(saved.path)
    # Read from the saved index, not grouped again from the aliases.
    assert loaded.learned_aliases == [] and loaded.learned is not trained.model.learned
    assert loaded.read(reader, NOTE) == trained.model.read(reader, NOTE)
    resaved = publish(store, replace(trained, model=loaded))
    assert resaved.metadata["files"] == saved.metadata["files"]
    assert resaved.metadata["learned_phrases"] == saved.metadata["learned_phrases"]
