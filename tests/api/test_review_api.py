"""The review API of docs/review-api.md through HTTP, on SQLite and on PostgreSQL: roles,
the queue, reading (audited), claims, claim edits and submitting with If-Match."""

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from app.db.repository import Repository
from app.main import create_app
from app.services.suggest import SuggestService
from tests.api.review_support import (
    DEFAULT_SUGGESTIONS,
    NOTE,
    RECEIVED,
    Site,
    add_users,
    open_site,
    review_settings,
    seed,
    suggestion,
)
from tests.servers import serve_in_thread

API = "/api/review"


@pytest.fixture
def site(
    var_dir: Path, data_dir: Path, database_url: str, service: SuggestService
) -> Iterator[Site]:
    """The app over a fresh database, on SQLite and on PostgreSQL."""
    yield from open_site(var_dir, data_dir, database_url, service)


def _get(site: Site, user: str, path: str, **params: Any) -> httpx.Response:
    return site.client.get(f"{API}{path}", headers=site.auth(user), params=params)


def _submit(
    site: Site, user: str, encounter_id: int, body: dict[str, Any], if_match: str | None
) -> httpx.Response:
    headers = site.auth(user) | ({"If-Match": if_match} if if_match is not None else {})
    return site.client.post(f"{API}/encounters/{encounter_id}/review", json=body, headers=headers)


def _body(run_id: int, *codes: str, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "codes": [{"system": "icd10cm", "code": c, "source": "suggested"} for c in codes],
        **extra,
    }


# --- who may call --------------------------------------------------------------------------------


def test_the_review_api_needs_a_coder_or_an_admin(site: Site) -> None:
    seed(site.database, "enc-1")
    assert site.client.get(f"{API}/encounters").status_code == 401
    bad = site.client.get(f"{API}/encounters", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    refused = _get(site, "feed", "/encounters")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert _get(site, "feed", "/encounters/1").status_code == 403
    assert _get(site, "feed", "/analytics").status_code == 403
    for user in ("alice", "carol"):
        assert _get(site, user, "/encounters").status_code == 200


# --- the queue -----------------------------------------------------------------------------------


def test_the_queue_filters_sorts_pages_and_counts(site: Site) -> None:
    low = (suggestion("J18.9", 0.3, recommended=False),)
    first, run1 = seed(site.database, "enc-1", received=RECEIVED, setting="inpatient")
    second, _ = seed(site.database, "enc-2", low, RECEIVED + timedelta(days=1), "outpatient", "m2")
    third, _ = seed(site.database, "enc-3", received=RECEIVED + timedelta(days=2))
    fourth, _ = seed(site.database, "enc-4", received=RECEIVED + timedelta(days=3))
    site.client.post(f"{API}/encounters/{third}/claim", headers=site.auth("bob"))
    assert _submit(site, "alice", first, _body(run1, "J18.9", "E11.9"), '"1"').status_code == 201

    def ids(**params: Any) -> list[int]:
        answer = _get(site, "alice", "/encounters", **params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    everything = _get(site, "alice", "/encounters").json()
    assert everything["total"] == 4 and everything["page"] == 1 and everything["page_size"] == 50
    assert everything["counts"] == {"new": 2, "in_review": 1, "reviewed": 1}
    assert [i["id"] for i in everything["items"]] == [first, second, third, fourth]
    item = everything["items"][1]
    assert item | {"received_at": None} == {
        "id": second,
        "external_id": "enc-2",
        "setting": "outpatient",
        "status": "new",
        "received_at": None,
        "model_version": "m2",
        "top_score": 0.3,
        "recommended": 0,
        "claimed_by": None,
        "claimed_until": None,
        "version": 1,
    }
    assert everything["items"][2]["claimed_by"] == "bob"

    assert ids(status="new") == [second, fourth]
    assert ids(status="reviewed") == [first]
    assert ids(setting="outpatient") == [second]
    assert ids(model_version="m2") == [second]
    assert ids(assigned_to="bob") == [third]
    # Days are UTC days, both ends included.
    assert ids(received_from="2026-12-02", received_to="2026-12-03") == [second, third]
    assert ids(sort="confidence")[0] == second
    assert ids(page=2, page_size=3) == [fourth]
    filtered = _get(site, "alice", "/encounters", status="new")
    assert filtered.json()["total"] == 2 and filtered.json()["counts"]["reviewed"] == 1
    for bad in ({"status": "done"}, {"page_size": 201}, {"page": 0}, {"sort": "score"}):
        answer = _get(site, "alice", "/encounters", **bad)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"


# --- one encounter -------------------------------------------------------------------------------


def test_reading_an_encounter_gives_its_run_as_stored_and_is_audited(site: Site) -> None:
    encounter_id, run_id = seed(site.database, "enc-1")
    answer = _get(site, "alice", f"/encounters/{encounter_id}")
    assert answer.status_code == 200
    assert answer.headers["etag"] == '"1"'
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["text"] == NOTE and body["version"] == 1 and body["status"] == "new"
    assert body["run"]["id"] == run_id and body["run"]["conventions"] == "us"
    assert body["run"]["suggestions"] == list(DEFAULT_SUGGESTIONS)
    assert body["reviews"] == []
    assert [(a["actor"], a["action"], a["version"]) for a in body["audit"]] == [
        ("ehr-feed", "encounter.store", 1),
        ("alice", "encounter.read", 1),
    ]
    with site.database.session_scope() as session:
        timeline = Repository(session).audit_timeline(encounter_id)
    assert [(e.actor_name, e.action) for e in timeline][-1] == ("alice", "encounter.read")
    assert all(NOTE not in str(e.detail) for e in timeline)

    missing = _get(site, "alice", "/encounters/999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_a_claim_held_by_another_coder_is_a_conflict_naming_them(site: Site) -> None:
    encounter_id, _ = seed(site.database, "enc-1")
    url = f"{API}/encounters/{encounter_id}/claim"
    mine = site.client.post(url, headers=site.auth("alice"))
    assert mine.status_code == 200
    assert mine.json()["claimed_by"] == "alice" and mine.json()["version"] == 1

    theirs = site.client.post(url, headers=site.auth("bob"))
    assert theirs.status_code == 409
    assert theirs.json()["error"] == "claimed"
    detail = theirs.json()["detail"]
    assert detail["claimed_by"] == "alice"
    assert detail["claimed_until"] == mine.json()["claimed_until"]

    again = site.client.post(url, headers=site.auth("alice"))
    assert (
        again.status_code == 200 and again.json()["claimed_until"] >= mine.json()["claimed_until"]
    )
    view = _get(site, "bob", f"/encounters/{encounter_id}").json()
    assert view["status"] == "in_review" and view["claimed_by"] == "alice"
    actions = [(a["actor"], a["action"]) for a in view["audit"]]
    assert actions.count(("alice", "encounter.claim")) == 2
    assert ("bob", "encounter.claim") not in actions


def test_a_claim_is_released_only_by_its_holder_or_an_admin(site: Site) -> None:
    encounter_id, _ = seed(site.database, "enc-1")
    url = f"{API}/encounters/{encounter_id}/claim"
    assert site.client.post(url, headers=site.auth("alice")).status_code == 200

    # Bob does not hold it: nothing changes, and he still cannot claim it.
    bobs = site.client.delete(url, headers=site.auth("bob"))
    assert bobs.status_code == 200 and bobs.json()["status"] == "in_review"
    assert site.client.post(url, headers=site.auth("bob")).status_code == 409

    alices = site.client.delete(url, headers=site.auth("alice"))
    assert alices.status_code == 200 and alices.json() == {"status": "new", "version": 1}
    assert site.client.post(url, headers=site.auth("bob")).status_code == 200

    # An admin releases anyone's claim.
    assert site.client.delete(url, headers=site.auth("carol")).json()["status"] == "new"
    view = _get(site, "alice", f"/encounters/{encounter_id}").json()
    assert view["claimed_by"] is None
    releases = [a["actor"] for a in view["audit"] if a["action"] == "encounter.release"]
    assert releases == ["alice", "carol"]
    assert (
        site.client.delete(f"{API}/encounters/999/claim", headers=site.auth("alice")).status_code
        == 404
    )


# --- claim edits ---------------------------------------------------------------------------------


def test_edits_name_unknown_codes_and_the_claim_edits(site: Site) -> None:
    encounter_id, _ = seed(site.database, "enc-1")
    codes = [
        {"system": "icd10cm", "code": "W19.XXXA"},
        {"system": "icd10cm", "code": "J18.99"},
        {"system": "icd10cm", "code": "E11.621"},
        {"system": "icd10cm", "code": "E11.62"},
    ]
    answer = site.client.post(
        f"{API}/encounters/{encounter_id}/edits", json={"codes": codes}, headers=site.auth("alice")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(i["code"], "not a ICD-10-CM code" in i["reason"]) for i in body["invalid"]] == [
        ("J18.99", True)
    ]
    found = {(e["kind"], e["severity"], tuple(e["codes"])) for e in body["edits"]}
    assert ("sequencing", "hard_stop", ("W19.XXXA",)) in found
    assert ("use_additional", "warning", ("E11.621",)) in found
    assert ("incomplete", "hard_stop", ("E11.62",)) in found
    assert all(e["guideline"] and e["message"] for e in body["edits"])

    clean = site.client.post(
        f"{API}/encounters/{encounter_id}/edits",
        json={"codes": [{"system": "icd10cm", "code": "J18.9"}]},
        headers=site.auth("alice"),
    )
    assert clean.json() == {"invalid": [], "edits": []}


# --- submitting ----------------------------------------------------------------------------------


def test_a_submitted_review_keeps_codes_in_sequence_and_decisions_and_names_the_next(
    site: Site,
) -> None:
    first, run_id = seed(site.database, "enc-1")
    claimed, _ = seed(site.database, "enc-2", received=RECEIVED + timedelta(hours=1))
    following, _ = seed(site.database, "enc-3", received=RECEIVED + timedelta(hours=2))
    site.client.post(f"{API}/encounters/{claimed}/claim", headers=site.auth("bob"))

    etag = _get(site, "alice", f"/encounters/{first}").headers["etag"]
    body = {
        "run_id": run_id,
        "codes": [
            {"system": "icd10cm", "code": "J18.9", "source": "suggested"},
            {"system": "icd10cm", "code": "i10", "source": "added"},
            {"system": "icd10cm", "code": "E11.9", "source": "suggested"},
        ],
        "decisions": [
            {"system": "icd10cm", "code": "J18.9", "decision": "accepted"},
            {"system": "icd10cm", "code": "R05.9", "decision": "rejected", "reason": "integral"},
        ],
        "seconds_spent": 95,
        "comment": "checked",
    }
    answer = _submit(site, "alice", first, body, etag)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"review_id": answer.json()["review_id"], "version": 2,
                             "next_encounter_id": following}  # fmt: skip
    assert answer.headers["etag"] == '"2"'

    view = _get(site, "alice", f"/encounters/{first}").json()
    assert view["status"] == "reviewed" and view["version"] == 2 and view["claimed_by"] is None
    [review] = view["reviews"]
    assert review["coder"] == "alice" and review["seconds_spent"] == 95
    assert review["comment"] == "checked" and review["encounter_version"] == 1
    assert [(c["sequence"], c["code"], c["source"]) for c in review["codes"]] == [
        (1, "J18.9", "suggested"),
        (2, "I10", "added"),  # stored as the catalog spells it
        (3, "E11.9", "suggested"),
    ]
    assert [(d["code"], d["decision"], d["reason"]) for d in review["decisions"]] == [
        ("J18.9", "accepted", None),
        ("R05.9", "rejected", "integral"),
    ]
    assert ("alice", "review.submit", 2) in [
        (a["actor"], a["action"], a["version"]) for a in view["audit"]
    ]

    # The last new encounter has no next one (the claimed one is not offered).
    _, run3 = seed(site.database, "enc-3", text=NOTE + " Sepsis.")  # a second run: version 2
    last = _submit(site, "bob", following, _body(run3, "J18.9"), '"2"')
    assert last.status_code == 201 and last.json()["next_encounter_id"] is None


def test_a_stale_if_match_is_a_conflict_carrying_the_current_encounter(site: Site) -> None:
    encounter_id, run_id = seed(site.database, "enc-1")
    assert _submit(site, "alice", encounter_id, _body(run_id, "J18.9"), '"1"').status_code == 201

    stale = _submit(site, "bob", encounter_id, _body(run_id, "E11.9"), '"1"')
    assert stale.status_code == 409
    assert stale.json()["error"] == "stale_version"
    current = stale.json()["detail"]["current"]
    assert current["version"] == 2 and current["status"] == "reviewed"
    assert current["text"] == NOTE
    assert [r["coder"] for r in current["reviews"]] == ["alice"]
    assert current["run"]["id"] == run_id
    assert stale.headers["etag"] == '"2"'
    with site.database.session_scope() as session:
        repo = Repository(session)
        assert len(repo.reviews(encounter_id)) == 1
        actions = [(e.actor_name, e.action) for e in repo.audit_timeline(encounter_id)]
    assert ("bob", "review.refused") in actions and ("bob", "encounter.read") in actions


def test_submitting_without_if_match_is_428(site: Site) -> None:
    encounter_id, run_id = seed(site.database, "enc-1")
    answer = _submit(site, "alice", encounter_id, _body(run_id, "J18.9"), None)
    assert answer.status_code == 428 and answer.json()["error"] == "precondition_required"
    assert _submit(site, "alice", encounter_id, _body(run_id, "J18.9"), "abc").status_code == 400
    assert _submit(site, "alice", encounter_id, _body(run_id, "J18.9"), 'W/"1"').status_code == 201


@pytest.mark.parametrize(
    ("code", "why"),
    [("J18.99", "is not a ICD-10-CM code"), ("E11.62", "pick one of its more specific codes")],
)
def test_an_unknown_or_non_billable_code_is_422_naming_it(site: Site, code: str, why: str) -> None:
    encounter_id, run_id = seed(site.database, "enc-1")
    answer = _submit(site, "alice", encounter_id, _body(run_id, "J18.9", code), '"1"')
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_codes"
    [named] = answer.json()["detail"]
    assert named["code"] == code and why in named["reason"]
    with site.database.session_scope() as session:
        repo = Repository(session)
        assert repo.reviews(encounter_id) == [] and repo.encounter(encounter_id).version == 1


def test_warnings_need_an_acknowledgement(site: Site) -> None:
    encounter_id, run_id = seed(site.database, "enc-1")
    refused = _submit(site, "alice", encounter_id, _body(run_id, "E11.621"), '"1"')
    assert refused.status_code == 422
    assert refused.json()["error"] == "unacknowledged_warnings"
    assert [e["kind"] for e in refused.json()["detail"]] == ["use_additional"]

    accepted = _submit(
        site, "alice", encounter_id, _body(run_id, "E11.621", acknowledge_warnings=True), '"1"'
    )
    assert accepted.status_code == 201, accepted.text
    audit = _get(site, "alice", f"/encounters/{encounter_id}").json()["audit"]
    assert "review.warnings_acknowledged" in [a["action"] for a in audit]


def test_a_hard_stop_is_refused_even_when_acknowledged(site: Site) -> None:
    encounter_id, run_id = seed(site.database, "enc-1")
    body = _body(run_id, "W19.XXXA", "S72.002A", acknowledge_warnings=True)
    answer = _submit(site, "alice", encounter_id, body, '"1"')
    assert answer.status_code == 422
    assert answer.json()["error"] == "hard_stops"
    assert [(e["kind"], e["codes"]) for e in answer.json()["detail"]] == [
        ("sequencing", ["W19.XXXA"])
    ]


def test_a_review_of_another_encounters_run_is_refused(site: Site) -> None:
    first, _ = seed(site.database, "enc-1")
    _, other_run = seed(site.database, "enc-2")
    answer = _submit(site, "alice", first, _body(other_run, "J18.9"), '"1"')
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_review"


# --- two coders at once, through a real server ---------------------------------------------------


@pytest.fixture
def served(
    var_dir: Path, data_dir: Path, database_url: str, service: SuggestService
) -> Iterator[tuple[str, dict[str, str], Any]]:
    """The app served by uvicorn on a loopback port: its URL, tokens and database."""
    from app.db.session import Database

    database = Database.from_url(database_url)
    tokens = add_users(database)
    app = create_app(review_settings(var_dir, data_dir, database_url), service, database)
    try:
        with serve_in_thread(app) as url:
            yield url, tokens, database
    finally:
        database.dispose()


def test_two_coders_submitting_the_same_version_at_once_one_wins(
    served: tuple[str, dict[str, str], Any],
) -> None:
    base, tokens, database = served
    encounter_id, run_id = seed(database, "enc-1")
    barrier = threading.Barrier(2, timeout=30)
    answers: dict[str, httpx.Response] = {}

    def submit(coder: str, code: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            headers = {"Authorization": f"Bearer {tokens[coder]}"}
            etag = client.get(f"{API}/encounters/{encounter_id}", headers=headers).headers["etag"]
            barrier.wait()
            answers[coder] = client.post(
                f"{API}/encounters/{encounter_id}/review",
                json=_body(run_id, code),
                headers=headers | {"If-Match": etag},
            )

    threads = [
        threading.Thread(target=submit, args=("alice", "J18.9")),
        threading.Thread(target=submit, args=("bob", "E11.9")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(a.status_code for a in answers.values())
    assert statuses == [201, 409], {k: a.text for k, a in answers.items()}
    loser = next(a for a in answers.values() if a.status_code == 409)
    assert loser.json()["detail"]["current"]["version"] == 2
    with database.session_scope() as session:
        repo = Repository(session)
        assert len(repo.reviews(encounter_id)) == 1
        assert repo.encounter(encounter_id).version == 2
        submits = [e for e in repo.audit_timeline(encounter_id) if e.action == "review.submit"]
        assert len(submits) == 1
