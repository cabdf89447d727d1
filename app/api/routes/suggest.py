from typing import Annotated

from fastapi import APIRouter, Depends

from app.api.deps import require_json, suggest_service
from app.schemas import AnnotateRequest, Evidence, Suggestion, SuggestRequest, SuggestResponse
from app.schemas_annotate import AnnotateResponse, candidate_out, mention_out
from app.services.suggest import SuggestService

router = APIRouter(tags=["suggest"], dependencies=[Depends(require_json)])
Service = Annotated[SuggestService, Depends(suggest_service)]

_ERRORS = {
    415: {"description": "The body is not JSON"},
    422: {"description": "The body is not valid: the detail says which field and why"},
}


@router.post("/suggest", response_model=SuggestResponse, responses=_ERRORS)  # type: ignore[arg-type]
def suggest(body: SuggestRequest, service: Service) -> SuggestResponse:
    """Ranked codes for a clinical note, each with its evidence in the note."""
    result = service.suggest(body.text, body.systems, body.limit, body.setting, body.conventions)
    return SuggestResponse(
        model_version=result.model_version,
        conventions=result.conventions.value,
        note_id=body.note_id,
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
