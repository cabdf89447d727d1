from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from app.api.deps import require_json, suggest_service
from app.auth import (
    DatabaseUnavailableError,
    ForbiddenError,
    NotAuthenticatedError,
    authenticate,
    bearer_token,
)
from app.db.tables import Role
from app.schemas import (
    AnnotateRequest,
    Evidence,
    StoredEncounter,
    Suggestion,
    SuggestRequest,
    SuggestResponse,
)
from app.schemas_annotate import AnnotateResponse, candidate_out, mention_out
from app.services.intake import store_run
from app.services.suggest import SuggestResult, SuggestService

router = APIRouter(tags=["suggest"], dependencies=[Depends(require_json)])
Service = Annotated[SuggestService, Depends(suggest_service)]

_ERRORS = {
    415: {"description": "The body is not JSON"},
    422: {"description": "The body is not valid: the detail says which field and why"},
}
_SUGGEST_ERRORS = {
    **_ERRORS,
    401: {"description": "store: true without a valid token"},
    403: {"description": "store: true with a token whose role is neither ehr nor admin"},
}
_STORERS = frozenset({Role.EHR, Role.ADMIN})


def _store(
    request: Request, authorization: str | None, body: SuggestRequest, result: SuggestResult
) -> StoredEncounter:
    """Who may store is checked before anything is written; the encounter and its run are
    one transaction."""
    database = getattr(request.app.state, "database", None)
    if database is None:
        raise DatabaseUnavailableError("this service runs without its review database")
    token = bearer_token(authorization)
    if token is None:
        raise NotAuthenticatedError("store: true needs 'Authorization: Bearer <token>'")
    secret = request.app.state.settings.admin_token
    with database.session_scope() as session:
        actor = authenticate(token, session, secret.get_secret_value() if secret else None)
        if actor.role not in _STORERS:
            raise ForbiddenError(
                f"storing needs the role ehr or admin; {actor.name} is {actor.role}"
            )
        run = store_run(
            session,
            actor,
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


@router.post("/suggest", response_model=SuggestResponse, responses=_SUGGEST_ERRORS)  # type: ignore[arg-type]
def suggest(
    body: SuggestRequest,
    service: Service,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> SuggestResponse:
    """Ranked codes for a clinical note, each with its evidence in the note; with
    `store: true`, also stored as an encounter for coders to review."""
    result = service.suggest(body.text, body.systems, body.limit, body.setting, body.conventions)
    stored = _store(request, authorization, body, result) if body.store else None
    return SuggestResponse(
        model_version=result.model_version,
        conventions=result.conventions.value,
        note_id=body.note_id,
        encounter_id=stored.encounter_id if stored else None,
        stored=stored,
        suggestions=[
            Suggestion(
                system=s.system,
                code=s.code,
                description=s.description,
                score=s.score,
                recommended=s.recommended,
                billable=s.billable,
                evidence=[
                    Evidence(
                        start=e.start,
                        end=e.end,
                        text=e.text,
                        section=e.section,
                        assertion=e.assertion,
                    )
                    for e in s.evidence
                ],
                notes=list(s.notes),
            )
            for s in result.suggestions
        ],
    )


@router.post("/annotate", response_model=AnnotateResponse, responses=_ERRORS)  # type: ignore[arg-type]
def annotate(body: AnnotateRequest, service: Service) -> AnnotateResponse:
    """The mentions the note reader found, with their candidate codes (for debugging)."""
    systems = set(service.systems_for(body.systems))
    result = service.annotate(body.text)
    mentions = []
    for mention in result.mentions:
        wanted = [c for c in mention.candidates if c.system in systems][: body.max_candidates]
        if wanted:
            mentions.append(mention_out(mention, [candidate_out(c) for c in wanted]))
    return AnnotateResponse(
        model_version=result.model_version, note_id=body.note_id, mentions=mentions
    )
