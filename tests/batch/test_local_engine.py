"""`medcode batch --engine local`: what /suggest answers, for every note of a file, in
input order with any number of workers, resumed after a crash without writing a note twice."""

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.schemas import MAX_TEXT_CHARS
from batch.core import BatchOptions, NoteCoder
from batch.io import BatchFileError, read_results
from batch.local import run_local
from cli.main import main
from tests.batch.conftest import short_notes, write_jsonl, write_parquet

SECRET = "Ms Jane Roe, MRN 12345"


def run(
    coder: NoteCoder, settings: Settings, in_path: Path, out_path: Path, workers: int = 1
) -> Any:
    return run_local(
        settings, coder.options, in_path, out_path, workers=workers, progress=False, coder=coder
    )


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, note_coder: NoteCoder, batch_settings: Settings
) -> list[dict[str, Any]]:
    """The records of the short notes, coded in this process."""
    folder = tmp_path_factory.mktemp("reference")
    notes = write_jsonl(folder / "notes.jsonl", short_notes())
    run(note_coder, batch_settings, notes, folder / "out.jsonl")
    return list(read_results(folder / "out.jsonl"))


def test_each_record_is_what_suggest_answers(
    reference: list[dict[str, Any]], client: TestClient
) -> None:
    assert [r["note_id"] for r in reference] == [n["note_id"] for n in short_notes()]
    assert any(r["suggestions"] for r in reference)
    for note, got in zip(short_notes(), reference, strict=True):
        answer = client.post("/suggest", json=note)
        assert answer.status_code == 200
        expected = answer.json()
        assert got["error"] is None
        assert got["model_version"] == expected["model_version"]
        assert got["conventions"] == expected["conventions"]
        assert got["suggestions"] == expected["suggestions"], note["note_id"]


def test_the_options_are_the_ones_suggest_is_given(
    tmp_path: Path, batch_settings: Settings, note_coder: NoteCoder, client: TestClient
) -> None:
    options = BatchOptions(systems=None, limit=3, conventions="learned")
    coder = NoteCoder(note_coder.service, options.pinned(batch_settings), note_coder.seconds)
    note = short_notes()[0]
    run(coder, batch_settings, write_jsonl(tmp_path / "in.jsonl", [note]), tmp_path / "o.jsonl")
    [got] = read_results(tmp_path / "o.jsonl")
    expected = client.post("/suggest", json={**note, "limit": 3, "conventions": "learned"}).json()
    assert got["conventions"] == "learned"
    assert got["suggestions"] == expected["suggestions"]


def test_two_workers_write_the_same_records_in_the_same_order(
    tmp_path: Path, note_coder: NoteCoder, batch_settings: Settings, reference: list[Any]
) -> None:
    notes = write_jsonl(tmp_path / "notes.jsonl", short_notes())
    summary = run(note_coder, batch_settings, notes, tmp_path / "out.jsonl", workers=2)
    assert list(read_results(tmp_path / "out.jsonl")) == reference
    assert (summary.written, summary.coded, summary.skipped, summary.workers) == (24, 24, 0, 2)


def test_parquet_in_and_out_hold_the_same_records_as_json_lines(
    tmp_path: Path, note_coder: NoteCoder, batch_settings: Settings, reference: list[Any]
) -> None:
    notes = write_parquet(tmp_path / "notes.parquet", short_notes(), row_group_size=5)
    run(note_coder, batch_settings, notes, tmp_path / "out.parquet", workers=2)
    assert list(read_results(tmp_path / "out.parquet")) == reference


def test_a_run_stopped_mid_write_resumes_writing_each_note_once(
    tmp_path: Path, note_coder: NoteCoder, batch_settings: Settings, reference: list[Any]
) -> None:
    notes = write_jsonl(tmp_path / "notes.jsonl", short_notes())
    out = tmp_path / "out.jsonl"
    lines = [json.dumps(r) + "\n" for r in reference]
    out.write_text("".join(lines[:10]) + lines[10][: len(lines[10]) // 2])  # a crash
    summary = run(note_coder, batch_settings, notes, out, workers=2)
    assert (summary.skipped, summary.written) == (10, 14)
    assert list(read_results(out)) == reference
    again = run(note_coder, batch_settings, notes, out)
    assert (again.skipped, again.written) == (24, 0)
    assert list(read_results(out)) == reference


def test_a_parquet_run_stopped_mid_part_resumes_writing_each_note_once(
    tmp_path: Path, note_coder: NoteCoder, batch_settings: Settings, reference: list[Any]
) -> None:
    notes = short_notes()
    out = tmp_path / "out.parquet"
    run(note_coder, batch_settings, write_jsonl(tmp_path / "first.jsonl", notes[:9]), out)
    (out / ".tmp-part-00001.parquet").write_bytes(b"PAR1 the start of a part")  # a crash
    everything = write_parquet(tmp_path / "notes.parquet", notes)
    summary = run(note_coder, batch_settings, everything, out, workers=2)
    assert (summary.skipped, summary.written) == (9, 15)
    assert list(read_results(out)) == reference


def test_an_interrupted_run_keeps_what_it_coded(
    tmp_path: Path,
    note_coder: NoteCoder,
    batch_settings: Settings,
    reference: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coded = 0
    code = note_coder.code

    def interrupted_after_seven(note: Any) -> dict[str, Any]:
        nonlocal coded
        coded += 1
        if coded > 7:
            raise KeyboardInterrupt
        return code(note)

    notes = write_jsonl(tmp_path / "notes.jsonl", short_notes())
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as patched:
        patched.setattr(note_coder, "code", interrupted_after_seven)
        with pytest.raises(KeyboardInterrupt):
            run(note_coder, batch_settings, notes, out)
    assert list(read_results(out)) == reference[:7]
    assert run(note_coder, batch_settings, notes, out).skipped == 7
    assert list(read_results(out)) == reference


def test_notes_suggest_would_refuse_become_error_records_without_their_text(
    tmp_path: Path,
    note_coder: NoteCoder,
    batch_settings: Settings,
    reference: list[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = [
        {"note_id": "no-text"},
        {"note_id": "empty", "text": ""},
        {"note_id": "blank", "text": "  \n "},
        {"note_id": "not-text", "text": ["Jane", "Roe"]},
        {"note_id": "too-long", "text": SECRET + " " * MAX_TEXT_CHARS},
        {"note_id": "bad-setting", "text": SECRET, "setting": "at home"},
    ]
    notes = short_notes()
    mixed = notes[:3] + bad + notes[3:]
    out = tmp_path / "out.jsonl"
    with caplog.at_level(logging.DEBUG):
        summary = run(note_coder, batch_settings, write_jsonl(tmp_path / "n.jsonl", mixed), out, 2)
    records = list(read_results(out))
    assert [r["note_id"] for r in records] == [n["note_id"] for n in mixed]
    assert [r for r in records if r["error"] is None] == reference
    errors = {r["note_id"]: r for r in records if r["error"] is not None}
    assert sorted(errors) == sorted(n["note_id"] for n in bad)
    assert all(r["error"]["error"] == "invalid_request" for r in errors.values())
    assert all(r["suggestions"] == [] for r in errors.values())
    assert all(r["model_version"] == reference[0]["model_version"] for r in errors.values())
    assert "setting" in errors["bad-setting"]["error"]["detail"]
    assert "text" in errors["too-long"]["error"]["detail"]
    assert "Jane" not in out.read_text() + caplog.text
    assert (summary.coded, dict(summary.errors)) == (24, {"invalid_request": 6})


def test_a_note_that_breaks_the_reader_is_an_error_record_not_the_end_of_the_run(
    tmp_path: Path,
    note_coder: NoteCoder,
    batch_settings: Settings,
    reference: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    suggest = note_coder.service.suggest
    breaking = next(n["text"] for n in short_notes() if n["note_id"] == "n05")

    broken: list[str] = []

    def breaks_on_n05(text: str, *args: Any) -> Any:
        if text == breaking and not broken:  # n05 only: a later note repeats its text
            broken.append(text)
            raise ValueError(f"cannot read {text}")
        return suggest(text, *args)

    monkeypatch.setattr(note_coder.service, "suggest", breaks_on_n05)
    out = tmp_path / "out.jsonl"
    with caplog.at_level(logging.ERROR):
        run(note_coder, batch_settings, write_jsonl(tmp_path / "n.jsonl", short_notes()), out)
    records = list(read_results(out))
    assert records[4]["error"] == {"error": "internal_error", "detail": "ValueError"}
    assert records[:4] + records[5:] == reference[:4] + reference[5:]
    assert "note n05: unexpected ValueError" in caplog.text
    assert breaking not in caplog.text


def test_repeated_note_ids_are_refused_before_anything_is_written(
    tmp_path: Path, note_coder: NoteCoder, batch_settings: Settings
) -> None:
    notes = [*short_notes(4), {"note_id": "n01", "text": SECRET}]
    with pytest.raises(BatchFileError, match=r"line 5 repeats the note_id of .*: line 1"):
        run(
            note_coder,
            batch_settings,
            write_jsonl(tmp_path / "n.jsonl", notes),
            tmp_path / "o.jsonl",
        )
    assert not (tmp_path / "o.jsonl").exists()


def test_the_command_line_codes_resumes_and_reports(
    tmp_path: Path,
    batch_settings: Settings,
    reference: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(batch_settings.var_dir))
    notes = write_parquet(tmp_path / "notes.parquet", [*short_notes(), {"note_id": "x"}])
    out = tmp_path / "out.jsonl"
    args = ["batch", "--in", str(notes), "--out", str(out), "--workers", "2", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "notes coded: 24, errors: 1 (invalid_request 1), skipped (already written): 0" in printed
    assert "with 2 workers" in printed
    assert [r for r in read_results(out) if r["error"] is None] == reference

    assert main(args) == 0
    assert (
        "notes coded: 0, errors: 0 (none), skipped (already written): 25" in capsys.readouterr().out
    )
    assert len(list(read_results(out))) == 25


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--out", "o.csv"], "name it *.jsonl"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--limit", "0"], "--limit must be between 1 and 1000"),
        (["--model", "20990101T000000Z-000000"], "no model artifact"),
        (["--engine", "spark", "--workers", "2"], "--workers is for --engine local"),
        (["--engine", "spark", "--out", "o.jsonl"], "--engine spark writes Parquet"),
    ],
)
def test_the_command_line_refuses_what_it_cannot_run(
    tmp_path: Path,
    batch_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    says: str,
) -> None:
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(batch_settings.var_dir))
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "n.jsonl", short_notes(2))
    assert main(["batch", "--in", "n.jsonl", "--out", "o.jsonl", *extra]) == 2
    assert says in capsys.readouterr().err
