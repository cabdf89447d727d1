"""Builders shared by the review API tests: an app over a test database (SQLite or
PostgreSQL, from tests/databases.py), users with tokens, encounters stored as /suggest
would store them."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.config import Settings
from app.db.repository import Actor, Repository
from app.db.session import Database
from app.db.tables import Role
from app.main import create_app
from app.services.suggest import SuggestService

RECEIVED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOTE = "Assessment: community-acquired pneumonia. Type 2 diabetes. Cough for 5 days."
FEED = Actor(user_id=None, name="ehr-feed", role=Role.EHR)
ADMIN_TOKEN = "the-admin-token-of-the-review-tests"


def suggestion(
    code: str, score: float, recommended: bool = True, system: str = "icd10cm"
) -> dict[str, Any]:
    """One suggestion shaped as /suggest returns it, its evidence indexing NOTE."""
    start = NOTE.index("pneumonia")
    return {
        "system": system,
        "code": code,
        "description": f"description of {code}",
        "score": score,
        "recommended": recommended,
        "billable": True,
        "evidence": [
            {
                "start": start,
                "end": start + len("pneumonia"),
                "text": "pneumonia",
                "section": "assessment_and_plan",
                "assertion": "present",
            }
        ],
        "notes": ["a note about the rule"],
    }


DEFAULT_SUGGESTIONS = (
    suggestion("J18.9", 0.91),
    suggestion("E11.9", 0.8),
    suggestion("R05.9", 0.55, recommended=False),
)


def seed(
    database: Database,
    external_id: str,
    suggestions: tuple[dict[str, Any], ...] = DEFAULT_SUGGESTIONS,
    received: datetime = RECEIVED,
    setting: str = "inpatient",
    model_version: str = "m1",
    text: str = NOTE,
) -> tuple[int, int]:
    """Store an encounter and its run as /suggest with `store` does: (encounter id, run id)."""
    with database.session_scope() as session:
        encounter, run = Repository(session).store_suggestions(
            external_id, setting, text, model_version, "us", suggestions, FEED, received
        )
        return encounter.id, run.id


@dataclass
class Site:
    client: TestClient
    database: Database
    tokens: dict[str, str]  # user name -> bearer token

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def add_users(database: Database) -> dict[str, str]:
    """alice and bob (coders), carol (admin), feed (ehr), each with a token."""
    tokens = {}
    with database.session_scope() as session:
        repo = Repository(session)
        for name, role in [
            ("alice", Role.CODER),
            ("bob", Role.CODER),
            ("carol", Role.ADMIN),
            ("feed", Role.EHR),
        ]:
            tokens[name] = repo.create_token(repo.add_user(name, role))[1]
    return tokens


def review_settings(var_dir: Path, data_dir: Path, database_url: str) -> Settings:
    return Settings(
        var_dir=var_dir,
        data_dir=data_dir,
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        model_poll_seconds=0,
        # The tests send refused tokens on purpose, far more often than a person would.
        failed_auth_burst=10_000,
    )


def open_site(
    var_dir: Path, data_dir: Path, database_url: str, service: SuggestService
) -> Iterator[Site]:
    """The app over a fresh database of its own (each test module's `site` fixture)."""
    database = Database.from_url(database_url)
    tokens = add_users(database)
    app = create_app(review_settings(var_dir, data_dir, database_url), service, database)
    try:
        with TestClient(app) as client:
            yield Site(client, database, tokens)
    finally:
        database.dispose()


def later(minutes: int) -> datetime:
    return RECEIVED + timedelta(minutes=minutes)
