from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.api.deps import NOT_JSON, Responses, auth_responses, require_json, suggest_service
from app.auth import EHR_API, app_database, require_roles
from app.db.repository import Actor
from app.schemas import (
    AnnotateRequest,
    StoredEncounter,
    SuggestRequest,
    SuggestResponse,
    suggestion_out,
)
from app.schemas_annotate import AnnotateResponse, candidate_out, mention_out
from app.services.intake import store_run
from app.services.suggest import SuggestResult, SuggestService
from nlp import budget

router = APIRouter(tags=["suggest"], dependencies=[Depends(require_json)])
Service = Annotated[SuggestService, Depends(suggest_service)]

_BODY_ERRORS: Responses = {
    **NOT_JSON,
    422: {"description": "The body is not valid: the detail says which field and why"},
}
_ERRORS: Responses = {
    **_BODY_ERRORS,
    **auth_responses("A token whose role is neither ehr nor admin"),
    422: {"description": "Not valid, or reading the note took longer than its time budget"},
    503: {"description": "Busy, or (store: true) the database is unavailable"},
}
Caller = Annotated[Actor, Depends(require_roles(*EHR_API))]


def reading_budget(request: Request) -> AbstractContextManager[None]:
    """MEDCODE_REQUEST_SECONDS for reading the note: past it, 422 reading_budget_exceeded."""
    return budget.limit(request.app.state.settings.request_seconds)


def _store(
    request: Request, caller: Actor, body: SuggestRequest, result: SuggestResult
) -> StoredEncounter:
    """The encounter and its run, in one transaction."""
    with app_database(request).session_scope() as session:
        run = store_run(
            session,
            caller,
            body.encounter_id,
            body.setting,
            body.text,
            result.model_version,
            result.conventions.value,
            result.suggestions,
        )
    return StoredEncounter(
        encounter_id=run.encounter_id,
        external_id=run.external_id,
        run_id=run.run_id,
        version=run.version,
    )


@router.post("/suggest", response_model=SuggestResponse, responses=_ERRORS)
def suggest(
    body: SuggestRequest, service: Service, request: Request, caller: Caller
) -> SuggestResponse:
    """Ranked codes for a clinical note, each with its evidence in the note; with
    `store: true`, also stored as an encounter for coders to review."""
    with reading_budget(request):
        result = service.suggest(
            body.text, body.systems, body.limit, body.setting, body.conventions
        )
    stored = _store(request, caller, body, result) if body.store else None
    return SuggestResponse(
        model_version=result.model_version,
        conventions=result.conventions.value,
        note_id=body.note_id,
        encounter_id=stored.encounter_id if stored else None,
        stored=stored,
        suggestions=[suggestion_out(s) for s in result.suggestions],
    )


@router.post("/annotate", response_model=AnnotateResponse, responses=_ERRORS)
def annotate(
    body: AnnotateRequest, service: Service, caller: Caller, request: Request
) -> AnnotateResponse:
    """The mentions the note reader found, with their candidate codes (for debugging)."""
    systems = set(service.systems_for(body.systems))
    with reading_budget(request):
        result = service.annotate(body.text)
    mentions = []
    for mention in result.mentions:
        wanted = [c for c in mention.candidates if c.system in systems][: body.max_candidates]
        if wanted:
            mentions.append(mention_out(mention, [candidate_out(c) for c in wanted]))
    return AnnotateResponse(
        model_version=result.model_version, note_id=body.note_id, mentions=mentions
    )
