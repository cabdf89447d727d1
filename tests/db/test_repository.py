"""The repository on SQLite and PostgreSQL: versions never overwritten, the queue, claims,
stale submits, the append-only audit log, tokens."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.db.repository import (
    Actor,
    AlreadyExistsError,
    ClaimConflictError,
    CodeDecision,
    FinalCode,
    InvalidReviewError,
    Repository,
    StaleVersionError,
    hash_token,
)
from app.db.session import Database
from app.db.tables import (
    ApiToken,
    CodeSource,
    Decision,
    EncounterStatus,
    Role,
    Setting,
)
from tests.db.helpers import EHR, NOTE, NOW, add_user, store


def test_a_repost_of_the_latest_run_changes_nothing(database: Database) -> None:
    """An EHR's retry of a store it never heard back from is not a new version."""
    first, run1 = store(database, text=NOTE)
    again, rerun = store(database, text=NOTE, now=NOW + timedelta(minutes=1))
    assert (again.id, rerun.id, again.version) == (first.id, run1.id, 1)
    _, run2 = store(database, text=NOTE, model_version="m2")
    other_setting, run3 = store(database, text=NOTE, model_version="m2", setting="outpatient")
    assert len({run1.id, run2.id, run3.id}) == 3 and other_setting.version == 3
    with database.session_scope() as session:
        repo = Repository(session)
        assert [r.id for r in repo.runs(first.id)] == [run1.id, run2.id, run3.id]
        actions = [e.action for e in repo.audit_timeline(first.id)]
        assert actions.count("encounter.store") == 3


def test_a_new_version_adds_a_run_and_overwrites_nothing(database: Database) -> None:
    first, run1 = store(database, text=NOTE)
    second, run2 = store(database, text=NOTE + " Addendum: sepsis.", now=NOW + timedelta(hours=1))
    assert second.id == first.id and run2.id != run1.id
    with database.session_scope() as session:
        repo = Repository(session)
        encounter = repo.encounter(first.id)
        assert encounter.version == 2
        assert encounter.note_text.endswith("sepsis.")
        runs = repo.runs(first.id)
        assert [r.note_text for r in runs] == [NOTE, NOTE + " Addendum: sepsis."]
        assert runs[0].suggestions[0]["evidence"][0]["assertion"] == "present"
        assert repo.latest_run(first.id).id == run2.id
        actions = [(e.action, e.encounter_version) for e in repo.audit_timeline(first.id)]
        assert actions == [("encounter.store", 1), ("encounter.store", 2)]


def test_encounters_without_an_external_id_are_each_new(database: Database) -> None:
    a, _ = store(database, external_id=None)
    b, _ = store(database, external_id=None)
    assert a.id != b.id


def test_the_audit_log_never_holds_note_text(database: Database) -> None:
    encounter, _ = store(database)
    with database.session_scope() as session:
        details = [str(e.detail) for e in Repository(session).audit_timeline(encounter.id)]
    assert details and not any("pneumonia" in d for d in details)


def test_queue_filters_sorts_and_pages(database: Database) -> None:
    alice = add_user(database, "alice")
    for n in range(5):
        store(
            database,
            external_id=f"enc-{n}",
            scores=(0.2 + 0.15 * ((n * 3) % 5),),
            setting="inpatient" if n % 2 == 0 else "outpatient",
            model_version="m2" if n == 4 else "m1",
            now=NOW + timedelta(minutes=n),
        )
    with database.session_scope() as session:
        repo = Repository(session)
        ids = {e.encounter.external_id: e.encounter.id for e in repo.queue(page_size=10)[0]}
        repo.claim(ids["enc-3"], alice, NOW, 15)

        items, total = repo.queue(page=1, page_size=2)
        assert total == 5 and [i.encounter.external_id for i in items] == ["enc-0", "enc-1"]
        items, _ = repo.queue(page=3, page_size=2)
        assert [i.encounter.external_id for i in items] == ["enc-4"]

        by_confidence = [i.run.top_score for i in repo.queue(sort="confidence")[0]]
        assert by_confidence == sorted(by_confidence)

        assert repo.queue(setting=Setting.OUTPATIENT)[1] == 2
        assert [i.encounter.external_id for i in repo.queue(model_version="m2")[0]] == ["enc-4"]
        window = repo.queue(
            received_from=NOW + timedelta(minutes=1), received_to=NOW + timedelta(minutes=3)
        )
        assert [i.encounter.external_id for i in window[0]] == ["enc-1", "enc-2"]
        assigned = repo.queue(assigned_to="alice")[0]
        assert [(i.encounter.external_id, i.claimed_by_name) for i in assigned] == [
            ("enc-3", "alice")
        ]
        assert repo.queue(status=EncounterStatus.IN_REVIEW)[1] == 1
        assert repo.status_counts() == {
            EncounterStatus.NEW: 4,
            EncounterStatus.IN_REVIEW: 1,
            EncounterStatus.REVIEWED: 0,
        }
        assert items[0].run.recommended_count == sum(
            s["recommended"] for s in items[0].run.suggestions
        )


def test_a_claim_holds_off_others_until_it_expires(database: Database) -> None:
    alice, bob = add_user(database, "alice"), add_user(database, "bob")
    encounter, _ = store(database)
    with database.session_scope() as session:
        claimed = Repository(session).claim(encounter.id, alice, NOW, 15)
        assert claimed.status is EncounterStatus.IN_REVIEW
        assert claimed.claimed_until == NOW + timedelta(minutes=15)
    with database.session_scope() as session, pytest.raises(ClaimConflictError) as conflict:
        Repository(session).claim(encounter.id, bob, NOW + timedelta(minutes=5), 15)
    assert conflict.value.holder == "alice" and conflict.value.status_code == 409
    with database.session_scope() as session:  # alice extends her own claim
        assert Repository(session).claim(encounter.id, alice, NOW + timedelta(minutes=10), 15)
    with database.session_scope() as session:  # expired: bob may take it
        taken = Repository(session).claim(encounter.id, bob, NOW + timedelta(minutes=26), 15)
        assert taken.claimant is not None and taken.claimant.name == "bob"
    with database.session_scope() as session:
        released = Repository(session).release(encounter.id, bob)
        assert released.claimed_by is None and released.status is EncounterStatus.NEW


def _submit(
    database: Database, encounter_id: int, run_id: int, version: int, coder_name: str = "alice"
) -> int:
    with database.session_scope() as session:
        repo = Repository(session)
        coder = repo.user_by_name(coder_name)
        assert coder is not None
        review = repo.submit_review(
            encounter_id,
            version,
            Actor.of(coder),
            run_id,
            [FinalCode("icd10cm", "J18.9"), FinalCode("icd10cm", "E11.9", CodeSource.ADDED)],
            [CodeDecision("icd10cm", "R05.9", Decision.REJECTED, "integral to J18.9")],
            seconds_spent=95,
            comment="",
            now=NOW,
        )
        return review.id


def test_a_review_is_recorded_and_a_stale_one_is_refused(database: Database) -> None:
    add_user(database, "alice")
    encounter, run = store(database)
    _submit(database, encounter.id, run.id, version=1)
    with pytest.raises(StaleVersionError) as stale:
        _submit(database, encounter.id, run.id, version=1)
    assert stale.value.current == 2 and stale.value.error == "stale_version"
    with database.session_scope() as session:
        repo = Repository(session)
        (review,) = repo.reviews(encounter.id)
        assert [(c.sequence, c.code, c.source) for c in review.codes] == [
            (1, "J18.9", CodeSource.SUGGESTED),
            (2, "E11.9", CodeSource.ADDED),
        ]
        assert [(d.code, d.decision, d.reason) for d in review.decisions] == [
            ("R05.9", Decision.REJECTED, "integral to J18.9")
        ]
        assert review.encounter_version == 1 and review.coder.name == "alice"
        now = repo.encounter(encounter.id)
        assert (now.status, now.version, now.claimed_by) == (EncounterStatus.REVIEWED, 2, None)
        assert repo.audit_timeline(encounter.id)[-1].action == "review.submit"
        (done,) = repo.reviewed_encounters()
        assert done.note_text == NOTE and [c.code for c in done.codes] == ["J18.9", "E11.9"]
        assert done.setting is Setting.INPATIENT


def test_a_new_note_version_reopens_a_reviewed_encounter(database: Database) -> None:
    add_user(database, "alice")
    encounter, run = store(database)
    _submit(database, encounter.id, run.id, version=1)
    _, run2 = store(database, text=NOTE + " Addendum.")
    with database.session_scope() as session:
        repo = Repository(session)
        reopened = repo.encounter(encounter.id)
        assert (reopened.status, reopened.version) == (EncounterStatus.NEW, 3)
        assert repo.reviewed_encounters() == []
    with pytest.raises(StaleVersionError):
        _submit(database, encounter.id, run2.id, version=2)


def test_a_review_of_another_encounters_run_is_refused(database: Database) -> None:
    add_user(database, "alice")
    encounter, _ = store(database, external_id="a")
    _, other_run = store(database, external_id="b")
    with pytest.raises(InvalidReviewError):
        _submit(database, encounter.id, other_run.id, version=1)
    with database.session_scope() as session:  # rolled back: nothing changed
        assert Repository(session).encounter(encounter.id).version == 1


def test_audit_rows_cannot_be_changed_or_removed(database: Database) -> None:
    encounter, _ = store(database)
    assert not hasattr(Repository, "delete_audit") and not hasattr(Repository, "update_audit")
    for statement in ("UPDATE audit_log SET actor_name = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), database.session_scope() as session:
            session.execute(text(statement))
    with database.session_scope() as session:
        (entry,) = Repository(session).audit_timeline(encounter.id)
        assert entry.actor_name == EHR.name


def test_tokens_are_stored_hashed_and_expired_or_revoked_ones_fail(database: Database) -> None:
    add_user(database, "alice")
    with database.session_scope() as session:
        repo = Repository(session)
        alice = repo.user_by_name("alice")
        assert alice is not None
        forever, forever_text = repo.create_token(alice, "laptop")
        _, brief_text = repo.create_token(alice, "brief", NOW + timedelta(days=1))
        revoked, revoked_text = repo.create_token(alice, "old")
        repo.revoke_token(revoked.id, NOW)
    with database.session_scope() as session:
        stored = set(session.scalars(select(ApiToken.token_hash)))
        assert forever_text not in stored and hash_token(forever_text) in stored
        assert len(forever_text) >= 43  # 32 random bytes
        repo = Repository(session)
        user = repo.user_for_token(forever_text, NOW)
        assert user is not None and user.name == "alice"
        assert repo.user_for_token(brief_text, NOW) is not None
        assert repo.user_for_token(brief_text, NOW + timedelta(days=2)) is None
        assert repo.user_for_token(revoked_text, NOW) is None
        assert repo.user_for_token("not-a-token", NOW) is None
    with database.session_scope() as session:
        used = session.get(ApiToken, forever.id)
        assert used is not None and used.last_used_at == NOW
        assert [t.label for t in Repository(session).tokens()] == ["laptop", "brief", "old"]
        actions = session.execute(text("SELECT action FROM audit_log ORDER BY id")).scalars()
        assert list(actions) == ["token.create"] * 3 + ["token.revoke"]


def test_user_names_are_unique(database: Database) -> None:
    add_user(database, "alice")
    with pytest.raises(AlreadyExistsError):
        add_user(database, "alice", Role.ADMIN)
