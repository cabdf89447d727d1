"""GET /api/review/analytics on a small hand-made set of reviews, every figure worked out
by hand; on SQLite and on PostgreSQL."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.db.repository import Actor, CodeDecision, FinalCode, Repository
from app.db.tables import CodeSource, Decision, utcnow
from app.services.suggest import SuggestService
from tests.api.review_support import Site, open_site, seed, suggestion

ADDED = CodeSource.ADDED
REJECTED = Decision.REJECTED


@pytest.fixture
def site(
    var_dir: Path, data_dir: Path, database_url: str, service: SuggestService
) -> Iterator[Site]:
    yield from open_site(var_dir, data_dir, database_url, service)


def _review(
    site: Site,
    coder: str,
    external_id: str,
    suggestions: tuple[dict[str, Any], ...],
    model_version: str,
    codes: list[FinalCode],
    decisions: list[CodeDecision],
    seconds: int,
    days_ago: int,
) -> None:
    encounter_id, run_id = seed(
        site.database, external_id, suggestions, model_version=model_version
    )
    with site.database.session_scope() as session:
        repo = Repository(session)
        user = repo.user_by_name(coder)
        assert user is not None
        repo.submit_review(
            encounter_id, 1, Actor.of(user), run_id, codes, decisions, seconds, "",
            utcnow() - timedelta(days=days_ago),
        )  # fmt: skip


@pytest.fixture
def reviewed(site: Site) -> Site:
    """Three reviews: two of model m1 by alice (60 s, 120 s), one of m2 by bob (300 s)."""
    m1 = (
        suggestion("J18.9", 0.9),
        suggestion("E11.9", 0.8),
        suggestion("R05.9", 0.55, recommended=False),
        suggestion("I10", 0.4, recommended=False),
    )
    _review(
        site, "alice", "a", m1, "m1",
        [FinalCode("icd10cm", "J18.9"), FinalCode("icd10cm", "I10", ADDED)],
        [CodeDecision("icd10cm", "E11.9", REJECTED, "not documented"),
         CodeDecision("icd10cm", "R05.9", REJECTED, "integral")],
        60, 1,
    )  # fmt: skip
    _review(
        site, "alice", "b", m1, "m1",
        [FinalCode("icd10cm", "J18.9"), FinalCode("icd10cm", "E11.9"),
         FinalCode("icd10cm", "E78.5", ADDED)],
        [], 120, 1,
    )  # fmt: skip
    m2 = (suggestion("R05.9", 0.7), suggestion("J18.9", 0.6))
    _review(
        site, "bob", "c", m2, "m2",
        [FinalCode("icd10cm", "J18.9")],
        [CodeDecision("icd10cm", "R05.9", REJECTED, "integral"),
         CodeDecision("icd10cm", "J18.9", Decision.ACCEPTED, "")],
        300, 0,
    )  # fmt: skip
    return site


def _analytics(site: Site, **query: str) -> dict[str, Any]:
    answer = site.client.get("/api/review/analytics", params=query, headers=site.auth("alice"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_window_of_days_a_model_version_or_a_coder_narrows_the_figures(reviewed: Site) -> None:
    today = utcnow().date()
    yesterday = (today - timedelta(days=1)).isoformat()
    window = _analytics(reviewed)["window"]
    assert window == {
        "submitted_from": (today - timedelta(days=29)).isoformat(),
        "submitted_to": today.isoformat(),
        "model_version": None,
        "coder": None,
    }
    only_yesterday = _analytics(reviewed, submitted_from=yesterday, submitted_to=yesterday)
    assert only_yesterday["reviews"] == 2
    assert only_yesterday["throughput"] == [{"date": yesterday, "reviews": 2}]
    assert _analytics(reviewed, model_version="m2")["reviews"] == 1
    by_bob = _analytics(reviewed, coder="bob")
    assert by_bob["reviews"] == 1 and [c["coder"] for c in by_bob["coders"]] == ["bob"]
    assert _analytics(reviewed, coder="nobody")["reviews"] == 0

    for query in (
        {"submitted_from": today.isoformat(), "submitted_to": yesterday},
        {"submitted_from": (today - timedelta(days=366)).isoformat()},
        {"submitted_from": "not a date"},
    ):
        answer = reviewed.client.get(
            "/api/review/analytics", params=query, headers=reviewed.auth("alice")
        )
        assert answer.status_code == 422, query


def test_acceptance_by_code_model_and_rank(reviewed: Site) -> None:
    figures = _analytics(reviewed)
    assert figures["reviews"] == 3
    assert [
        (c["code"], c["description"], c["recommended"], c["accepted"], c["rejected"],
         c["acceptance_rate"]) for c in figures["by_code"]
    ] == [
        ("J18.9", "description of J18.9", 3, 3, 0, 1.0),
        ("E11.9", "description of E11.9", 2, 1, 1, 0.5),
        ("R05.9", "description of R05.9", 1, 0, 1, 0.0),
    ]  # fmt: skip
    assert figures["by_model_version"] == [
        {"model_version": "m1", "reviews": 2, "recommended": 4, "accepted": 3, "rejected": 1,
         "added": 2, "acceptance_rate": 0.75},
        {"model_version": "m2", "reviews": 1, "recommended": 2, "accepted": 1, "rejected": 1,
         "added": 0, "acceptance_rate": 0.5},
    ]  # fmt: skip
    assert [(r["rank"], r["suggested"], r["accepted"]) for r in figures["by_rank"]] == [
        (1, 3, 2),
        (2, 3, 2),
        (3, 2, 0),
        (4, 2, 1),
    ]
    assert figures["by_rank"][0]["acceptance_rate"] == pytest.approx(2 / 3, abs=1e-4)


def test_missed_and_most_rejected_codes(reviewed: Site) -> None:
    figures = _analytics(reviewed)
    assert figures["missed"] == [
        # Not in any run: the catalog names it.
        {"system": "icd10cm", "code": "E78.5", "description": "Hyperlipidemia, unspecified",
         "added": 1, "suggested_not_recommended": 0},
        {"system": "icd10cm", "code": "I10", "description": "description of I10",
         "added": 1, "suggested_not_recommended": 1},
    ]  # fmt: skip
    # R05.9 rejected where it was not recommended does not count against the model.
    assert figures["most_rejected"] == [
        {"system": "icd10cm", "code": "E11.9", "description": "description of E11.9",
         "recommended": 2, "rejected": 1, "rejection_rate": 0.5,
         "reasons": [{"reason": "not documented", "count": 1}]},
        {"system": "icd10cm", "code": "R05.9", "description": "description of R05.9",
         "recommended": 1, "rejected": 1, "rejection_rate": 1.0,
         "reasons": [{"reason": "integral", "count": 1}]},
    ]  # fmt: skip


def test_coder_throughput_and_time_per_encounter(reviewed: Site) -> None:
    figures = _analytics(reviewed)
    assert figures["coders"] == [
        {"coder": "alice", "reviews": 2, "median_seconds": 90.0, "p90_seconds": 120.0,
         "active_hours": 0.05, "reviews_per_hour": 40.0},
        {"coder": "bob", "reviews": 1, "median_seconds": 300.0, "p90_seconds": 300.0,
         "active_hours": 0.0833, "reviews_per_hour": 12.0},
    ]  # fmt: skip
    days = figures["throughput"]
    today = utcnow().date()
    assert len(days) == 30 and days[-1]["date"] == today.isoformat()
    assert days[0]["date"] == (today - timedelta(days=29)).isoformat()
    assert [d["reviews"] for d in days[-2:]] == [2, 1] and sum(d["reviews"] for d in days) == 3
    time_spent = figures["time_per_encounter"]
    assert (time_spent["median_seconds"], time_spent["mean_seconds"]) == (120.0, 160.0)
    assert time_spent["p90_seconds"] == 300.0
    assert [
        (b["from_seconds"], b["to_seconds"], b["reviews"]) for b in time_spent["histogram"]
    ] == [
        (0, 60, 0),
        (60, 120, 1),
        (120, 180, 1),
        (180, 240, 0),
        (240, 300, 0),
        (300, 360, 1),
    ]


def test_without_reviews_the_lists_are_empty_and_rates_null(site: Site) -> None:
    seed(site.database, "enc-1")
    figures = _analytics(site)
    assert figures["reviews"] == 0
    for name in ("by_code", "by_model_version", "by_rank", "missed", "most_rejected", "coders"):
        assert figures[name] == []
    assert [d["reviews"] for d in figures["throughput"]] == [0] * 30
    assert figures["time_per_encounter"] == {
        "median_seconds": None,
        "mean_seconds": None,
        "p90_seconds": None,
        "histogram": [],
    }
