"""The review API's queries: browser sessions (only a hash kept, expiry, sign-out,
revocation), the next encounter to review, and the facts the analytics read."""

from datetime import timedelta

from app.db.repository import CodeDecision, FinalCode, Repository, ReviewRepository, hash_token
from app.db.session import Database
from app.db.tables import CodeSource, Decision, User
from tests.db.helpers import NOW, add_user, store


def test_a_web_session_keeps_only_its_hash_and_ends_at_expiry_or_sign_out(
    database: Database,
) -> None:
    alice = add_user(database, "alice")
    assert alice.user_id is not None
    with database.session_scope() as session:
        row, session_id = ReviewRepository(session).create_web_session(
            alice.user_id, NOW, timedelta(hours=12)
        )
        assert row.session_hash == hash_token(session_id) != session_id
        assert row.csrf_token and row.csrf_token != session_id
    with database.session_scope() as session:
        repo = ReviewRepository(session)
        found = repo.web_session(session_id, NOW + timedelta(hours=11))
        assert found is not None and found.user.name == "alice"
        assert repo.web_session(session_id, NOW + timedelta(hours=12)) is None
        assert repo.web_session("another", NOW) is None
    with database.session_scope() as session:
        repo = ReviewRepository(session)
        assert repo.end_web_session(session_id) is not None
        assert repo.web_session(session_id, NOW) is None
        assert repo.end_web_session(session_id) is None


def test_revoking_ends_every_session_of_a_user_and_an_inactive_user_has_none(
    database: Database,
) -> None:
    alice, bob = add_user(database, "alice"), add_user(database, "bob")
    assert alice.user_id is not None and bob.user_id is not None
    with database.session_scope() as session:
        repo = ReviewRepository(session)
        ids = [repo.create_web_session(alice.user_id, NOW, timedelta(hours=1))[1] for _ in "ab"]
        bobs = repo.create_web_session(bob.user_id, NOW, timedelta(hours=1))[1]
    with database.session_scope() as session:
        repo = ReviewRepository(session)
        assert repo.revoke_web_sessions(alice.user_id) == 2
        assert all(repo.web_session(i, NOW) is None for i in ids)
        assert repo.web_session(bobs, NOW) is not None
        user = session.get(User, bob.user_id)
        assert user is not None
        user.active = False
    with database.session_scope() as session:
        assert ReviewRepository(session).web_session(bobs, NOW) is None


def test_the_next_encounter_is_the_oldest_new_one_nobody_else_holds(database: Database) -> None:
    alice, bob = add_user(database, "alice"), add_user(database, "bob")
    first, _ = store(database, "e1", now=NOW)
    held, _ = store(database, "e2", now=NOW + timedelta(minutes=1))
    free, _ = store(database, "e3", now=NOW + timedelta(minutes=2))
    with database.session_scope() as session:
        repo = ReviewRepository(session)
        repo.claim(held.id, bob, NOW, 15)
    with database.session_scope() as session:
        repo = ReviewRepository(session)
        assert repo.next_new_encounter(first.id, alice, NOW) == free.id
        assert repo.next_new_encounter(free.id, alice, NOW) == first.id  # never itself


def test_review_facts_carry_the_run_the_review_judged(database: Database) -> None:
    alice = add_user(database, "alice")
    encounter, run = store(database, "e1", scores=(0.9, 0.4), model_version="m7")
    with database.session_scope() as session:
        Repository(session).submit_review(
            encounter.id,
            1,
            alice,
            run.id,
            [FinalCode("icd10cm", "J18.0"), FinalCode("icd10cm", "E78.5", CodeSource.ADDED)],
            [CodeDecision("icd10cm", "J18.1", Decision.REJECTED, "no")],
            42,
            now=NOW,
        )
    with database.session_scope() as session:
        [fact] = ReviewRepository(session).review_facts(
            NOW - timedelta(days=1), NOW + timedelta(days=1)
        )
        assert ReviewRepository(session).review_facts(NOW + timedelta(seconds=1), NOW) == []
    assert (fact.coder, fact.model_version, fact.seconds_spent) == ("alice", "m7", 42)
    assert [s["code"] for s in fact.suggestions] == ["J18.0", "J18.1"]
    assert [(c.code, c.source) for c in fact.codes] == [
        ("J18.0", CodeSource.SUGGESTED),
        ("E78.5", CodeSource.ADDED),
    ]
    assert [(d.code, d.decision, d.reason) for d in fact.decisions] == [
        ("J18.1", Decision.REJECTED, "no")
    ]
