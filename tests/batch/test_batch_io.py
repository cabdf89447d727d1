"""Notes files in, record files out: formats, refusals, and resuming after a crash."""

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import batch.io as batch_io
from batch.core import OUTPUT_FIELDS
from batch.io import BatchFileError, open_notes, open_results, read_results
from batch.records import RECORD_SCHEMA
from tests.batch.conftest import short_notes, write_jsonl, write_parquet

SECRET = "Ms Jane Roe, MRN 12345, has diabetes"


def record(note_id: str, *, error: str | None = None, model: str = "m1") -> dict[str, Any]:
    if error is not None:
        return {
            "note_id": note_id,
            "model_version": model,
            "conventions": "us",
            "suggestions": [],
            "error": {"error": error, "detail": "text: Field required"},
        }
    evidence = {"start": 0, "end": 8, "text": "diabetes", "section": None, "assertion": "present"}
    return {
        "note_id": note_id,
        "model_version": model,
        "conventions": "us",
        "suggestions": [
            {
                "system": "icd10cm",
                "code": "E11.9",
                "description": "Type 2 diabetes mellitus without complications",
                "score": 0.8123456789012345,
                "recommended": True,
                "billable": True,
                "evidence": [evidence, {**evidence, "section": "assessment", "start": 9}],
                "notes": ["a note", "another (I.A.1)"],
            },
            {
                "system": "icd10pcs",
                "code": "0DTJ4ZZ",
                "description": "Resection of Appendix, Endo",
                "score": 0.25,
                "recommended": False,
                "billable": True,
                "evidence": [],
                "notes": [],
            },
        ],
        "error": None,
    }


RECORDS = [record("a"), record("b", error="invalid_request"), record("c")]


def test_the_record_schema_has_the_core_fields_in_order() -> None:
    assert tuple(RECORD_SCHEMA.names) == OUTPUT_FIELDS


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_records_read_back_as_written(tmp_path: Path, name: str) -> None:
    with open_results(tmp_path / name) as results:
        for r in RECORDS:
            results.write(r)
    assert list(read_results(tmp_path / name)) == RECORDS


def test_parquet_output_is_a_folder_of_parts_each_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_io, "PARQUET_CHECKPOINT", (3, 1e9))
    out = tmp_path / "out.parquet"
    records = [record(f"r{i}") for i in range(7)]
    with open_results(out) as results:
        for r in records:
            results.write(r)
        assert sorted(p.name for p in out.glob("*.parquet")) == [
            "part-00000.parquet",
            "part-00001.parquet",
        ]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert pq.read_schema(out / "part-00000.parquet").equals(RECORD_SCHEMA)
    assert pq.read_table(out).num_rows == 7  # any Parquet reader sees the folder as one table
    assert list(read_results(out)) == records


def test_a_jsonl_output_torn_by_a_crash_loses_only_its_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lines = [json.dumps(r) + "\n" for r in RECORDS]
    out.write_text(lines[0] + lines[1] + lines[2][:40], encoding="utf-8")
    with open_results(out) as results:
        assert results.written == {"a", "b"}
        results.write(RECORDS[2])
    assert list(read_results(out)) == RECORDS


def test_a_jsonl_output_with_a_foreign_line_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps(RECORDS[0]) + "\nnot json\n" + json.dumps(RECORDS[1]) + "\n")
    with pytest.raises(BatchFileError, match="line 2 is not a record of medcode batch"):
        open_results(out)


def test_a_parquet_output_drops_a_part_left_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_io, "PARQUET_CHECKPOINT", (2, 1e9))
    out = tmp_path / "out.parquet"
    with open_results(out) as results:
        for r in RECORDS[:2]:
            results.write(r)
    (out / ".tmp-part-00001.parquet").write_bytes(b"PAR1 half a part")
    with open_results(out) as results:
        assert results.written == {"a", "b"}
        results.write(RECORDS[2])
    assert not list(out.glob(".tmp-*"))
    assert list(read_results(out)) == RECORDS


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_one_run_at_a_time_writes_an_output(tmp_path: Path, name: str) -> None:
    with (
        open_results(tmp_path / name),
        pytest.raises(BatchFileError, match="another medcode batch run is writing"),
    ):
        open_results(tmp_path / name)
    with open_results(tmp_path / name):  # free again once the first is closed
        pass


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_an_output_of_another_model_is_not_resumed(tmp_path: Path, name: str) -> None:
    with open_results(tmp_path / name) as results:
        results.write(record("a", model="m1"))
    with open_results(tmp_path / name) as results:
        results.require_run("m1", "us")
        with pytest.raises(BatchFileError, match="holds records of model m1"):
            results.require_run("m2", "us")
        with pytest.raises(BatchFileError, match="us conventions"):
            results.require_run("m1", "learned")


def test_a_parquet_output_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "out.parquet").write_bytes(b"")
    with pytest.raises(BatchFileError, match="is a file"):
        open_results(tmp_path / "out.parquet")


@pytest.mark.parametrize("name", ["notes.txt", "notes.csv", "notes"])
def test_only_jsonl_and_parquet_names_are_taken(tmp_path: Path, name: str) -> None:
    with pytest.raises(BatchFileError, match=r"\*\.jsonl .* or \*\.parquet"):
        open_notes(tmp_path / name)


# ---- notes in ------------------------------------------------------------------------------


def test_jsonl_and_parquet_inputs_give_the_same_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_io, "PARQUET_READ_ROWS", 5)  # several batches per row group
    notes = short_notes(20)
    extra = [{**n, "codes": ["ignored"]} for n in notes]
    from_jsonl = list(open_notes(write_jsonl(tmp_path / "notes.jsonl", extra)))
    from_parquet = list(open_notes(write_parquet(tmp_path / "notes.parquet", notes, 8)))
    assert from_jsonl == notes
    assert from_parquet == [{"setting": None, **n} for n in notes]


def test_a_folder_of_parquet_parts_is_one_input(tmp_path: Path) -> None:
    notes = short_notes(10)
    folder = tmp_path / "notes.parquet"
    folder.mkdir()
    write_parquet(folder / "part-0.parquet", notes[:6])
    write_parquet(folder / "part-1.parquet", notes[6:])
    (folder / "_SUCCESS").write_bytes(b"")
    found = open_notes(folder)
    assert found.total == 10
    assert [n["note_id"] for n in found] == [n["note_id"] for n in notes]


def test_blank_lines_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + b'{"note_id": "a", "text": "x"}\r\n\n   \n{"note_id": "b", "text": "y"}'
    )
    assert [n["note_id"] for n in open_notes(path)] == ["a", "b"]


def test_repeated_note_ids_are_refused_naming_both_lines_not_the_text(tmp_path: Path) -> None:
    notes = short_notes(5)
    notes.insert(3, {"note_id": "n02", "text": SECRET})
    path = write_jsonl(tmp_path / "notes.jsonl", notes)
    with pytest.raises(BatchFileError) as refused:
        open_notes(path)
    assert refused.value.detail == (
        f"{path}: line 4 repeats the note_id of {path}: line 2: note_ids must be unique in the"
        " input (records are matched to notes, and a rerun skips notes, by it)"
    )


def test_repeated_note_ids_in_parquet_are_refused_naming_the_rows(tmp_path: Path) -> None:
    notes = [*short_notes(12), {"note_id": "n11", "text": SECRET}]
    path = write_parquet(tmp_path / "notes.parquet", notes, 5)
    with pytest.raises(BatchFileError, match=r"row 12 repeats the note_id of .*: row 10:"):
        open_notes(path)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ({"text": SECRET}, "line 2: no note_id"),
        ({"note_id": "", "text": SECRET}, "line 2: no note_id"),
        ({"note_id": 7, "text": SECRET}, "line 2: no note_id"),
        ({"note_id": None, "text": SECRET}, "line 2: no note_id"),
        ([SECRET], "line 2 is not a JSON object"),
    ],
)
def test_a_note_without_an_id_is_refused(tmp_path: Path, line: Any, says: str) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"note_id": "a", "text": "x"}) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(BatchFileError, match=says) as refused:
        open_notes(path)
    assert "Jane" not in refused.value.detail


def test_a_line_that_is_not_json_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"note_id": "a", "text": "' + SECRET + '"\n', encoding="utf-8")
    with pytest.raises(BatchFileError, match="line 1 is not JSON") as refused:
        open_notes(path)
    assert "Jane" not in refused.value.detail


def test_a_parquet_input_needs_note_id_and_text_columns(tmp_path: Path) -> None:
    import pyarrow as pa

    path = tmp_path / "notes.parquet"
    pq.write_table(pa.table({"note_id": ["a"], "body": [SECRET]}), path)
    with pytest.raises(BatchFileError, match="no text column"):
        open_notes(path)
    pq.write_table(pa.table({"note_id": [1], "text": [SECRET]}), path)
    with pytest.raises(BatchFileError, match="column note_id holds int64, not text"):
        open_notes(path)


def test_null_note_ids_in_parquet_are_refused_naming_the_row(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "notes.parquet", [{"note_id": "a"}, {"text": SECRET}])
    with pytest.raises(BatchFileError, match="row 1: no note_id"):
        open_notes(path)


def test_notes_missing_their_text_are_passed_on_for_an_error_record(tmp_path: Path) -> None:
    rows = [{"note_id": "a"}, {"note_id": "b", "text": None}, {"note_id": "c", "text": 3}]
    path = write_jsonl(tmp_path / "notes.jsonl", rows)
    assert list(open_notes(path)) == rows


def test_notes_already_written_are_skipped_and_counted(tmp_path: Path) -> None:
    notes = short_notes(6)
    found = open_notes(write_jsonl(tmp_path / "notes.jsonl", notes))
    left = found.without({"n02", "n05", "not-in-the-input"})
    assert (left.total, left.skipped, left.remaining) == (6, 2, 4)
    assert [n["note_id"] for n in left] == ["n01", "n03", "n04", "n06"]
