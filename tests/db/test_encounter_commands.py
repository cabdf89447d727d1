"""`medcode encounters import|export` and the reviewed encounters as a training source,
with the test model and catalog, on SQLite and PostgreSQL."""

import json
from pathlib import Path

import pytest

from app.config import Settings
from app.db.repository import FinalCode, Repository
from app.db.session import Database
from app.db.tables import CodeSource
from cli.encounter_commands import reviewed_source
from cli.main import main
from codes.systems import CodeSystem
from models.artifacts import ArtifactStore
from tests.db.helpers import add_user
from training.encounters import open_source

# The repository is tested on both databases; the commands over it need only one.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

NOTES = [
    {"id": "enc-1", "text": "Assessment: community-acquired pneumonia.", "setting": "inpatient"},
    {"id": "enc-2", "text": "Essential hypertension, follow-up.", "codes": []},
    {"id": "enc-3", "text": "Type 2 diabetes mellitus.", "setting": None},
]


@pytest.fixture
def environment(
    var_dir: Path, model_store: ArtifactStore, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(var_dir))
    monkeypatch.setenv("MEDCODE_DATABASE_URL", database_url)
    return Settings()


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_imported_notes_are_queued_and_reviews_come_back_out(
    environment: Settings,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    notes = write_jsonl(tmp_path / "notes.jsonl", NOTES)
    assert main(["encounters", "import", str(notes), "--quiet"]) == 0
    assert "3 encounters queued" in capsys.readouterr().out
    with database.session_scope() as session:
        repository = Repository(session)
        items, total = repository.queue()
        assert total == 3
        first = next(i for i in items if i.encounter.external_id == "enc-1")
        assert first.encounter.setting == "inpatient"
        assert first.run.suggestions and first.run.model_version
    coder = add_user(database, "alice")
    with database.session_scope() as session:
        repository = Repository(session)
        encounter = first.encounter
        run = repository.latest_run(encounter.id)
        repository.submit_review(
            encounter.id,
            encounter.version,
            coder,
            run.id,
            [FinalCode("icd10cm", "J18.9"), FinalCode("icd10cm", "E11.9", CodeSource.ADDED)],
        )

    exported = tmp_path / "reviewed.jsonl"
    assert main(["encounters", "export", "--reviewed", str(exported)]) == 0
    (line,) = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
    assert line["id"] == "enc-1" and line["setting"] == "inpatient"
    assert line["codes"] == [
        {"system": "icd10cm", "code": "J18.9"},
        {"system": "icd10cm", "code": "E11.9"},
    ]
    # The export is labelled data the trainer reads as it is.
    (read_back,) = open_source(str(exported)).read(lambda _s, _c: True).encounters
    assert read_back.setting == "inpatient" and len(read_back.codes) == 2

    found = reviewed_source(environment).read(lambda _s, _c: True)
    (encounter_,) = found.encounters
    assert [(c.system, c.code) for c in encounter_.codes] == [
        (CodeSystem.ICD10CM, "J18.9"),
        (CodeSystem.ICD10CM, "E11.9"),
    ]
    assert "reviewed encounters" in found.source

    # Importing the same file again changes nothing (a rerun is safe); a note whose text
    # changed adds a version to its encounter, and nothing is replaced.
    assert main(["encounters", "import", str(notes), "--quiet"]) == 0
    with database.session_scope() as session:
        assert len(Repository(session).runs(encounter.id)) == 1
    changed = [{**NOTES[0], "text": NOTES[0]["text"] + " Sepsis."}, *NOTES[1:]]
    assert main(["encounters", "import", str(write_jsonl(notes, changed)), "--quiet"]) == 0
    with database.session_scope() as session:
        repository = Repository(session)
        assert repository.queue()[1] == 3
        assert len(repository.runs(encounter.id)) == 2


def test_a_bad_line_stops_the_import_before_anything_is_stored(
    environment: Settings, database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_jsonl(tmp_path / "notes.jsonl", [NOTES[0], {"id": "x", "text": "t", "when": 1}])
    assert main(["encounters", "import", str(bad), "--quiet"]) == 2
    assert "notes.jsonl:2" in capsys.readouterr().err
    with database.session_scope() as session:
        assert Repository(session).queue()[1] == 0
