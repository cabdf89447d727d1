"""Intake: a note's suggestions stored as an encounter for coders to review. No FastAPI here.

The stored suggestions are the ranked list exactly as `/suggest` answers it, so the review
page shows what the EHR saw; the note text is stored because the review needs it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.db.repository import Actor, Repository
from models.suggestions import ScoredCode


@dataclass(frozen=True)
class StoredRun:
    encounter_id: int
    external_id: str | None
    run_id: int
    version: int


def suggestion_record(suggestion: ScoredCode) -> dict[str, Any]:
    """A suggestion as `/suggest` returns it, as plain JSON."""
    return {
        "system": suggestion.system.value,
        "code": suggestion.code,
        "description": suggestion.description,
        "score": suggestion.score,
        "recommended": suggestion.recommended,
        "billable": suggestion.billable,
        "evidence": [
            {
                "start": e.start,
                "end": e.end,
                "text": e.text,
                "section": e.section,
                "assertion": e.assertion.value,
            }
            for e in suggestion.evidence
        ],
        "notes": list(suggestion.notes),
    }


def store_run(
    session: Session,
    actor: Actor,
    external_id: str | None,
    setting: str | None,
    text: str,
    model_version: str,
    conventions: str,
    suggestions: Sequence[ScoredCode],
) -> StoredRun:
    """Store the encounter (or a new version of the one with `external_id`) and its run, in
    the caller's transaction."""
    encounter, run = Repository(session).store_suggestions(
        external_id,
        setting,
        text,
        model_version,
        conventions,
        [suggestion_record(s) for s in suggestions],
        actor,
    )
    return StoredRun(encounter.id, encounter.external_id, run.id, encounter.version)
