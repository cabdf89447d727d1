"""Fixtures of the batch tests, for every engine: settings over the suite's test build,
short notes, a NoteCoder loaded once, and writers of notes files."""

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.config import Settings
from batch.core import BatchOptions, NoteCoder
from models.artifacts import ArtifactStore

# Sentences the test build reads codes from (its linker knows E, I and J descriptions).
SENTENCES = (
    "Patient with type 2 diabetes mellitus and essential hypertension.",
    "Chest pain; acute myocardial infarction confirmed by troponin.",
    "History of asthma, now admitted with pneumonia.",
    "No evidence of heart failure. Atrial fibrillation on warfarin.",
    "Chronic obstructive pulmonary disease with acute exacerbation.",
    "Hypothyroidism treated with levothyroxine. Denies fever.",
    "Hyperlipidemia and obesity; possible sleep apnea.",
    "Mother had breast cancer. The patient reports a persistent cough.",
)
SETTINGS = (None, "inpatient", "outpatient")


def short_notes(count: int = 24) -> list[dict[str, Any]]:
    """`count` notes of two sentences each, ids n01, n02, ..., some with a setting."""
    notes: list[dict[str, Any]] = []
    for i in range(count):
        note: dict[str, Any] = {
            "note_id": f"n{i + 1:02d}",
            "text": f"{SENTENCES[i % len(SENTENCES)]}\n{SENTENCES[(3 * i + 1) % len(SENTENCES)]}",
        }
        if SETTINGS[i % len(SETTINGS)] is not None:
            note["setting"] = SETTINGS[i % len(SETTINGS)]
        notes.append(note)
    return notes


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: Iterable[Mapping[str, Any]], row_group_size: int = 8) -> Path:
    """Rows with note_id, text and setting as string columns, in small row groups."""
    rows = list(rows)
    columns = {name: [row.get(name) for row in rows] for name in ("note_id", "text", "setting")}
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


@pytest.fixture(scope="session")
def batch_settings(settings: Settings, reader_dir: Path, model_store: ArtifactStore) -> Settings:
    """The suite's settings, once its catalog, reader and promoted model are built."""
    return settings


@pytest.fixture(scope="session")
def note_coder(batch_settings: Settings) -> NoteCoder:
    """One NoteCoder on the test build (the promoted model), shared by the tests."""
    return NoteCoder.open(batch_settings, BatchOptions())


@pytest.fixture
def notes() -> list[dict[str, Any]]:
    return short_notes()
