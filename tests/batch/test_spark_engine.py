"""The Spark engine on local[2] writes what the local engine writes, record for record.

Runs over the 250 CodiEsp dev notes and three notes /suggest would refuse, with the
suite's small promoted model. Needs Java and pyspark (`make test` installs both);
skipped with the reason otherwise.
"""

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from batch.core import BatchOptions, NoteCoder
from batch.io import read_results
from batch.local import run_local
from codes.errors import MedcodeError
from tests.batch.conftest import write_jsonl, write_parquet

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None,
        reason="no pyspark: pip install -e '.[spark]' (make install does)",
    ),
    pytest.mark.skipif(
        shutil.which("java") is None,
        reason="no Java for Spark: make java, or apt-get install openjdk-17-jre-headless",
    ),
]

# Notes /suggest refuses, each of which must become an error record, not stop the run.
BAD_NOTES = [
    {"note_id": "bad-empty", "text": ""},
    {"note_id": "bad-no-text"},
    {"note_id": "bad-setting", "text": "Chest pain, no fever.", "setting": "at home"},
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from batch.spark import session, stop_session

    spark = session("local[2]")
    # A few hundred notes: two shuffle partitions, not 200 empty ones, for the id counts.
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    yield spark
    stop_session()


@pytest.fixture(scope="module")
def codiesp_notes(data_dir: Path) -> list[dict[str, Any]]:
    dev = sorted((data_dir / "codiesp" / "dev" / "text_files_en").glob("*.txt"))
    return [{"note_id": p.stem, "text": p.read_text(encoding="utf-8")} for p in dev] + BAD_NOTES


@pytest.fixture(scope="module")
def options(batch_settings: Settings) -> BatchOptions:
    return BatchOptions().pinned(batch_settings)


@pytest.fixture(scope="module")
def local_records(
    batch_settings: Settings,
    note_coder: NoteCoder,
    codiesp_notes: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> list[dict[str, Any]]:
    """What the local engine writes, with the coder the batch tests share (the promoted
    model: the one `options` pins)."""
    folder = tmp_path_factory.mktemp("local")
    out = folder / "records.parquet"
    notes_path = write_jsonl(folder / "notes.jsonl", codiesp_notes)
    run_local(batch_settings, BatchOptions(), notes_path, out, progress=False, coder=note_coder)
    return sorted(read_results(out), key=lambda r: r["note_id"])


def test_spark_resumes_a_partial_output_and_writes_what_the_local_engine_writes(
    spark: Any,
    batch_settings: Settings,
    options: BatchOptions,
    codiesp_notes: list[dict[str, Any]],
    local_records: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    from batch.spark import run_spark

    out = tmp_path / "records.parquet"
    first = run_spark(
        batch_settings,
        options,
        str(write_jsonl(tmp_path / "first.jsonl", codiesp_notes[:40])),
        str(out),
    )
    assert (first.written, first.skipped) == (40, 0)

    everything = str(write_jsonl(tmp_path / "all.jsonl", codiesp_notes))
    # Tasks of 25 notes: both workers stay busy to the end.
    rest = run_spark(batch_settings, options, everything, str(out), notes_per_task=25)
    assert (rest.written, rest.skipped) == (len(codiesp_notes) - 40, 40)
    assert dict(rest.errors) == {"invalid_request": len(BAD_NOTES)}

    records = sorted(read_results(out), key=lambda r: r["note_id"])
    assert [r["note_id"] for r in records] == sorted(n["note_id"] for n in codiesp_notes)
    assert records == local_records  # scores and evidence as written, bit for bit
    bad = [r for r in records if r["note_id"].startswith("bad-")]
    assert all(r["error"]["error"] == "invalid_request" and not r["suggestions"] for r in bad)
    assert sum(len(r["suggestions"]) for r in records) > len(codiesp_notes)  # the notes were coded

    parts = sorted(p.name for p in out.iterdir())
    again = run_spark(batch_settings, options, everything, str(out))
    assert (again.written, again.skipped) == (0, len(codiesp_notes))
    assert sorted(p.name for p in out.iterdir()) == parts


def test_spark_reads_parquet_notes(
    spark: Any,
    batch_settings: Settings,
    options: BatchOptions,
    codiesp_notes: list[dict[str, Any]],
    local_records: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    from batch.spark import run_spark

    picked = [codiesp_notes[0], codiesp_notes[-1]]  # a coded note and an error record
    notes_path = write_parquet(tmp_path / "notes.parquet", picked)
    out = tmp_path / "records.parquet"
    summary = run_spark(batch_settings, options, str(notes_path), str(out))
    assert summary.written == 2
    expected = [r for r in local_records if r["note_id"] in {n["note_id"] for n in picked}]
    assert sorted(read_results(out), key=lambda r: r["note_id"]) == expected


@pytest.mark.parametrize(
    ("lines", "refusal"),
    [
        (['{"note_id": "a", "text": "x"}', '{"note_id": "a", "text": "y"}'], "repeat"),
        (['{"note_id": "a", "text": "x"}', '{"text": "y"}'], "no note_id"),
        (['{"note_id": "a", "text": "x"}', "not json"], "no note_id"),
    ],
)
def test_spark_refuses_notes_without_an_id_of_their_own_before_coding(
    spark: Any,
    batch_settings: Settings,
    options: BatchOptions,
    tmp_path: Path,
    lines: list[str],
    refusal: str,
) -> None:
    from batch.spark import run_spark

    notes_path = tmp_path / "notes.jsonl"
    notes_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "records.parquet"
    with pytest.raises(MedcodeError, match=refusal):
        run_spark(batch_settings, options, str(notes_path), str(out))
    assert not out.exists()


def test_spark_refuses_to_resume_with_other_conventions(
    spark: Any,
    batch_settings: Settings,
    options: BatchOptions,
    tmp_path: Path,
) -> None:
    from batch.spark import run_spark

    notes_path = write_jsonl(tmp_path / "notes.jsonl", BAD_NOTES)  # error records: no coding
    out = tmp_path / "records.parquet"
    run_spark(batch_settings, options, str(notes_path), str(out))
    more = write_jsonl(tmp_path / "more.jsonl", [*BAD_NOTES, {"note_id": "new", "text": ""}])
    learned = BatchOptions(conventions="learned", model_version=options.model_version)
    with pytest.raises(MedcodeError, match="learned conventions"):
        run_spark(batch_settings, learned, str(more), str(out))
