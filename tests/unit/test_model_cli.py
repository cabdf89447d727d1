"""`medcode train`, `evaluate` and `models` against the session's catalog and lexicon."""

import json
from pathlib import Path

import pytest

from cli.main import main
from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from training.encounters import Encounter

TRAINING_LINES = 12


def write_jsonl(path: Path, encounters: list[Encounter]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for e in encounters:
            record = {
                "id": e.id,
                "text": e.text,
                "codes": [{"system": c.system.value, "code": c.code} for c in e.codes],
                "evidence": [
                    {"system": c.system.value, "code": c.code, "text": sentence}
                    for c, sentence in e.evidence
                ],
            }
            out.write(json.dumps(record) + "\n")
    return path


@pytest.fixture
def own_var(
    tmp_path: Path, catalog: Catalog, reader_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A var folder of its own (so promotions here touch no other test), sharing the
    session's catalog and lexicon."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "catalog").symlink_to(catalog.folder)
    (var / "lexicon").symlink_to(reader_dir)
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(var))
    return var


@pytest.fixture
def data(tmp_path: Path, training_notes: list[Encounter]) -> tuple[Path, Path]:
    train = write_jsonl(tmp_path / "train.jsonl", training_notes[:TRAINING_LINES])
    held_out = write_jsonl(tmp_path / "dev.jsonl", training_notes[-6:])
    return train, held_out


def test_train_evaluate_promote_and_roll_back(
    own_var: Path, data: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, held_out = data
    assert main(["train", "--data", str(train), "--folds", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"trained on {TRAINING_LINES} encounters" in out and "promoted" not in out
    store = ArtifactStore(own_var / "models")
    first = store.list()[0]
    assert store.promoted() is None  # only the default model is promoted unasked
    assert first.metadata["data"]["encounters"] == TRAINING_LINES
    assert "attribution" not in first.metadata  # not CodiEsp data

    report = own_var / "report"
    args = ["evaluate", "--model", first.version, "--data", str(held_out), "--out", str(report)]
    assert main([*args, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "icd10cm: MAP" in printed and "candidate recall" in printed
    for profile in ("us", "learned"):  # both conventions profiles unless one is asked for
        metrics = json.loads((report / profile / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["systems"]["icd10cm"]["baseline"] is not None
        assert "<svg" in (report / profile / "report.html").read_text(encoding="utf-8")
    recorded = store.get(first.version).metadata["evaluations"]
    assert recorded and recorded[0]["metrics"]["data"] == str(held_out)
    assert set(recorded[0]["metrics"]) >= {"us", "learned"}

    assert (
        main(["train", "--data", str(train), "--folds", "3", "--seed", "1", "--quiet", "--promote"])
        == 0
    )
    second = store.list()[0]
    assert store.promoted().version == second.version  # type: ignore[union-attr]
    assert main(["models", "promote", first.version]) == 0
    assert store.promoted().version == first.version  # type: ignore[union-attr]
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.startswith(f"* {first.version}") for line in listed] == [False, True]
    assert main(["models", "rollback"]) == 0
    assert store.promoted().version == second.version  # type: ignore[union-attr]


def test_serving_without_a_model_says_how_to_get_one(
    own_var: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = own_var / "note.txt"
    note.write_text("Essential hypertension.", encoding="utf-8")
    assert main(["suggest", str(note)]) == 2
    assert "medcode train" in capsys.readouterr().err


def test_bad_training_data_is_a_clear_error(
    own_var: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    assert main(["train", "--data", str(bad), "--quiet"]) == 2
    assert 'lacks "codes"' in capsys.readouterr().err
    assert main(["train", "--data", "notes.csv", "--quiet"]) == 2
    assert "not an encounter source" in capsys.readouterr().err
    assert main(["evaluate", "--model", "latest", "--data", str(bad)]) == 2
    assert "no model artifacts" in capsys.readouterr().err
