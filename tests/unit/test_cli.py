"""The `medcode` command line against the session's catalog."""

from pathlib import Path

import pytest

from cli.main import main
from codes.catalog import Catalog
from models.artifacts import ArtifactStore


@pytest.fixture(autouse=True)
def _use_session_build(
    catalog: Catalog, reader_dir: Path, model_store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(catalog.folder.parent))


def test_codes_search_prints_codes_and_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codes", "search", "I21.9"]) == 0
    assert "I21.9" in capsys.readouterr().out


def test_codes_show_prints_the_code_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codes", "show", "icd10cm", "s72001"]) == 0
    out = capsys.readouterr().out
    assert '"code": "S72.001"' in out and "7th character" in out


def test_codes_show_of_an_unknown_code_fails_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["codes", "show", "icd10cm", "Z99.999"]) == 2
    assert "not a ICD-10-CM code" in capsys.readouterr().err


def test_suggest_reads_a_note_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Essential hypertension. No pneumonia.", encoding="utf-8")
    assert main(["suggest", str(note), "--system", "icd10cm"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(" I10 " in line for line in lines)
    assert not any(" J18" in line and line.startswith("*") for line in lines)


def test_suggest_refuses_an_empty_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "empty.txt"
    note.write_text("  \n", encoding="utf-8")
    assert main(["suggest", str(note)]) == 2
    assert "empty" in capsys.readouterr().err


def test_import_without_a_data_folder_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(tmp_path))
    assert main(["codes", "import", "--data-dir", str(tmp_path / "missing")]) == 2
    assert "MEDCODE_DATA_DIR" in capsys.readouterr().err


def test_a_missing_lexicon_is_a_clear_error_not_a_crash(
    catalog: Catalog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "catalog").symlink_to(catalog.folder)
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(tmp_path))
    note = tmp_path / "note.txt"
    note.write_text("Fever.", encoding="utf-8")
    assert main(["suggest", str(note)]) == 2
    assert "medcode codes import" in capsys.readouterr().err
