"""Small builders shared by the database tests."""

from datetime import UTC, datetime
from typing import Any

from app.db.repository import Actor, Repository
from app.db.session import Database
from app.db.tables import Encounter, Role, SuggestionRun

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
NOTE = "Assessment: community-acquired pneumonia. No chest pain."
EHR = Actor(user_id=None, name="ehr-feed", role=Role.EHR)


def add_user(database: Database, name: str, role: Role = Role.CODER) -> Actor:
    with database.session_scope() as session:
        return Actor.of(Repository(session).add_user(name, role))


def suggestion(code: str, score: float, recommended: bool = True) -> dict[str, Any]:
    """One suggestion shaped as /suggest returns it."""
    return {
        "system": "icd10cm",
        "code": code,
        "description": f"description of {code}",
        "score": score,
        "recommended": recommended,
        "billable": True,
        "evidence": [
            {
                "start": 13,
                "end": 38,
                "text": "community-acquired pneumonia",
                "section": "assessment_and_plan",
                "assertion": "present",
            }
        ],
        "notes": [],
    }


def store(
    database: Database,
    external_id: str | None = "enc-1",
    text: str = NOTE,
    scores: tuple[float, ...] = (0.9, 0.4),
    setting: str | None = "inpatient",
    model_version: str = "m1",
    now: datetime = NOW,
) -> tuple[Encounter, SuggestionRun]:
    with database.session_scope() as session:
        return Repository(session).store_suggestions(
            external_id,
            setting,
            text,
            model_version,
            "us",
            [suggestion(f"J18.{n}", s, s > 0.5) for n, s in enumerate(scores)],
            EHR,
            now,
        )
