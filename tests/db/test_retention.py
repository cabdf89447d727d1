"""The retention limit: note text older than N days is blanked (the encounter's, every
run's, the evidence quotes), codes, decisions and the audit log stay, and purged notes are
no longer training data. On SQLite and PostgreSQL."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.repository import CodeDecision, FinalCode, Repository
from app.db.session import Database
from app.db.tables import AuditEntry, Decision, Encounter, SuggestionRun
from app.services.retention import purge_older_than
from cli.main import main
from tests.db.helpers import NOTE, NOW, add_user, store


def test_old_note_text_is_purged_and_codes_and_decisions_stay(database: Database) -> None:
    coder = add_user(database, "alice")
    old, old_run = store(database, "old", now=NOW - timedelta(days=40))
    store(database, "old", text=NOTE + " Sepsis.", now=NOW - timedelta(days=35))  # also old
    recent, _ = store(database, "recent", now=NOW - timedelta(days=2))
    with database.session_scope() as session:
        repo = Repository(session)
        repo.submit_review(
            old.id, 2, coder, old_run.id, [FinalCode("icd10cm", "J18.0")],
            [CodeDecision("icd10cm", "J18.1", Decision.REJECTED, "not documented")],
            60, "", NOW - timedelta(days=34),
        )  # fmt: skip
        assert [r.encounter_id for r in repo.reviewed_encounters()] == [old.id]

    assert purge_older_than(database, 30, now=NOW) == 1
    assert purge_older_than(database, 30, now=NOW) == 0  # nothing left to purge

    with database.session_scope() as session:
        repo = Repository(session)
        purged = session.get(Encounter, old.id)
        assert purged is not None and purged.note_text == "" and purged.purged_at == NOW
        runs = session.scalars(select(SuggestionRun).where(SuggestionRun.encounter_id == old.id))
        for run in runs:
            assert run.note_text == ""
            assert all(e["text"] == "" for s in run.suggestions for e in s["evidence"])
            assert all(e["start"] < e["end"] for s in run.suggestions for e in s["evidence"])
        (review,) = repo.reviews(old.id)
        assert [c.code for c in review.codes] == ["J18.0"]
        assert [(d.code, d.reason) for d in review.decisions] == [("J18.1", "not documented")]
        kept = session.get(Encounter, recent.id)
        assert kept is not None and kept.note_text == NOTE and kept.purged_at is None
        actions = [e.action for e in repo.audit_timeline(old.id)]
        assert actions[-1] == "encounter.purge" and "review.submit" in actions
        # A purged note is no training data.
        assert repo.reviewed_encounters() == []


def test_the_purge_command_needs_a_number_of_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("MEDCODE_DATABASE_URL", raising=False)
    monkeypatch.delenv("MEDCODE_RETENTION_DAYS", raising=False)
    assert main(["db", "upgrade"]) == 0
    database = Database.from_url(f"sqlite:///{tmp_path / 'medcode.db'}")
    store(database, "ancient", now=NOW - timedelta(days=4000))
    assert main(["encounters", "purge"]) == 2
    assert "--days" in capsys.readouterr().err
    assert main(["encounters", "purge", "--days", "365"]) == 0
    assert "of 1 encounters" in capsys.readouterr().out
    with database.session_scope() as session:
        row = session.scalar(select(AuditEntry).where(AuditEntry.action == "encounter.purge"))
        assert row is not None and row.actor_name == "medcode-cli"
    database.dispose()
