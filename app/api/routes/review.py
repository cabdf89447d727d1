"""The review API under /api/review (docs/review-api.md): thin routes over ReviewService.

Every route needs the role coder or admin, by Bearer token or by the pages' session cookie
(with X-CSRF-Token on POSTs); each request is one transaction, its audit rows included.
"""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse

from app.api.deps import (
    NOT_JSON,
    Responses,
    analytics_service,
    auth_responses,
    require_json,
    review_service,
)
from app.auth import REVIEWERS, DbSession, require_roles
from app.db.repository import Actor, CodeDecision, FinalCode
from app.db.tables import CodeSource, EncounterStatus, Setting
from app.errors import error_response
from app.schemas_review import (
    AnalyticsOut,
    ClaimOut,
    EditsOut,
    EditsRequest,
    EncounterOut,
    InvalidCode,
    QueuePage,
    ReleaseOut,
    StatusCounts,
    SubmitOut,
    SubmitRequest,
    encounter_out,
    queue_item_out,
)
from app.services.analytics import AnalyticsService
from app.services.review import (
    EncounterView,
    QueueFilters,
    ReviewService,
    Stale,
    Submission,
    edit_out,
    parse_if_match,
)

Caller = Annotated[Actor, Depends(require_roles(*REVIEWERS))]
Service = Annotated[ReviewService, Depends(review_service)]
Analytics = Annotated[AnalyticsService, Depends(analytics_service)]

_AUTH = auth_responses(
    "Not a coder or admin, or a cookie request without X-CSRF-Token",
    unauthorized="No valid token or session",
)
_ENCOUNTER: Responses = {**_AUTH, 404: {"description": "No such encounter"}}
# Note text is patient data: no cache keeps it.
_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(prefix="/api/review", tags=["review"], responses=_AUTH)


def _view(view: EncounterView) -> EncounterOut:
    return encounter_out(view.encounter, view.run, view.reviews, view.audit)


@router.get("/encounters", response_model=QueuePage)
def queue(
    caller: Caller,
    session: DbSession,
    service: Service,
    response: Response,
    status: EncounterStatus | None = None,
    setting: Setting | None = None,
    received_from: Annotated[date | None, Query(description="First day, UTC")] = None,
    received_to: Annotated[date | None, Query(description="Last day, UTC, inclusive")] = None,
    model_version: str | None = None,
    assigned_to: Annotated[str | None, Query(description="Name of the claim holder")] = None,
    sort: Annotated[
        Literal["received", "confidence"],
        Query(description="received: oldest first; confidence: lowest top score first"),
    ] = "received",
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QueuePage:
    """The review queue: one page of encounters matching the filters, and counts per status."""
    found = service.queue(
        session,
        QueueFilters(
            status=status,
            setting=setting,
            received_from=received_from,
            received_to=received_to,
            model_version=model_version,
            assigned_to=assigned_to,
            sort=sort,
            page=page,
            page_size=page_size,
        ),
    )
    response.headers.update(_NO_STORE)
    return QueuePage(
        items=[queue_item_out(item) for item in found.items],
        total=found.total,
        page=page,
        page_size=page_size,
        counts=StatusCounts(**{s.value: n for s, n in found.counts.items()}),
    )


@router.get("/encounters/{encounter_id}", response_model=EncounterOut, responses=_ENCOUNTER)
def encounter(
    encounter_id: int, caller: Caller, session: DbSession, service: Service, response: Response
) -> EncounterOut:
    """One encounter with its note, latest run, earlier reviews and audit trail; the
    `ETag` header is its version, to send back as If-Match when submitting. The read is
    recorded in the audit trail."""
    view = service.read(session, encounter_id, caller)
    response.headers["ETag"] = f'"{view.encounter.version}"'
    response.headers.update(_NO_STORE)
    return _view(view)


@router.post(
    "/encounters/{encounter_id}/claim",
    response_model=ClaimOut,
    responses={
        **_ENCOUNTER,
        409: {"description": "Another coder holds the claim: who, until"},
        422: {"description": "The caller is MEDCODE_ADMIN_TOKEN, which is no user to hold it"},
    },
)
def claim(encounter_id: int, caller: Caller, session: DbSession, service: Service) -> ClaimOut:
    """Hold the encounter for MEDCODE_CLAIM_MINUTES (a soft lock); claiming again extends
    one's own claim."""
    found = service.claim(session, encounter_id, caller)
    assert found.claimed_until is not None
    return ClaimOut(
        claimed_by=caller.name, claimed_until=found.claimed_until, version=found.version
    )


@router.delete(
    "/encounters/{encounter_id}/claim",
    response_model=ReleaseOut,
    responses=_ENCOUNTER,
)
def release(encounter_id: int, caller: Caller, session: DbSession, service: Service) -> ReleaseOut:
    """Give up one's claim (an admin may release anyone's); an encounter not yet reviewed
    goes back to `new`. Releasing what one does not hold changes nothing."""
    found = service.release(session, encounter_id, caller)
    return ReleaseOut(status=found.status, version=found.version)


@router.post(
    "/encounters/{encounter_id}/edits",
    response_model=EditsOut,
    responses={**_ENCOUNTER, **NOT_JSON},
    dependencies=[Depends(require_json)],
)
def edits(
    encounter_id: int, body: EditsRequest, caller: Caller, session: DbSession, service: Service
) -> dict[str, Any]:
    """The claim edits of a final code set in claim order, and the codes the catalog does
    not know. Warnings may be acknowledged when submitting; hard stops must be fixed."""
    found = service.edits(session, encounter_id, [(c.system.value, c.code) for c in body.codes])
    return {
        "invalid": [
            InvalidCode(system=i.system, code=i.code, reason=i.reason) for i in found.invalid
        ],
        "edits": [edit_out(e) for e in found.edits],
    }


@router.post(
    "/encounters/{encounter_id}/review",
    status_code=201,
    response_model=SubmitOut,
    responses={
        **_ENCOUNTER,
        **NOT_JSON,
        400: {"description": 'An If-Match that names no version: send "<version>"'},
        409: {"description": "stale_version: the encounter moved on; detail.current is it now"},
        422: {
            "description": "invalid_codes, hard_stops or unacknowledged_warnings; or the"
            " caller is MEDCODE_ADMIN_TOKEN, which is no user"
        },
        428: {"description": "No If-Match header"},
    },
    dependencies=[Depends(require_json)],
)
def submit(
    encounter_id: int,
    body: SubmitRequest,
    caller: Caller,
    session: DbSession,
    service: Service,
    if_match: Annotated[
        str | None, Header(description='The ETag of the version reviewed: "3"')
    ] = None,
) -> Any:
    """Submit the review of the encounter at the version of If-Match: the final codes in
    sequence, the decisions on suggested codes. Answers the new version and the next
    encounter to review."""
    version = parse_if_match(if_match)
    outcome = service.submit(
        session,
        encounter_id,
        caller,
        version,
        Submission(
            run_id=body.run_id,
            codes=[FinalCode(c.system.value, c.code, CodeSource(c.source)) for c in body.codes],
            decisions=[
                CodeDecision(d.system.value, d.code, d.decision, d.reason) for d in body.decisions
            ],
            seconds_spent=body.seconds_spent,
            comment=body.comment,
            acknowledge_warnings=body.acknowledge_warnings,
        ),
    )
    if isinstance(outcome, Stale):
        current = _view(outcome.current).model_dump(mode="json")
        refused = error_response(409, "stale_version", {"current": current})
        refused.headers["ETag"] = f'"{outcome.current.encounter.version}"'
        refused.headers.update(_NO_STORE)
        return refused
    return JSONResponse(
        SubmitOut(
            review_id=outcome.review_id,
            version=outcome.version,
            next_encounter_id=outcome.next_encounter_id,
        ).model_dump(mode="json"),
        status_code=201,
        headers={"ETag": f'"{outcome.version}"'},
    )


@router.get(
    "/analytics",
    response_model=AnalyticsOut,
    responses={422: {"description": "A bad date, or a window that is reversed or over 366 days"}},
)
def analytics(
    caller: Caller,
    session: DbSession,
    service: Analytics,
    submitted_from: Annotated[
        date | None, Query(description="First UTC day (default: 29 days before the last)")
    ] = None,
    submitted_to: Annotated[date | None, Query(description="Last UTC day (default: today)")] = None,
    model_version: Annotated[str | None, Query(max_length=200)] = None,
    coder: Annotated[str | None, Query(max_length=200, description="A user name")] = None,
) -> dict[str, Any]:
    """Acceptance by code, model version and rank; codes coders add that medcode missed;
    codes it recommends that coders reject most; coder throughput and time per encounter.
    Over the reviews submitted in a window of at most 366 days (the last 30 by default)."""
    window = service.window(
        first=submitted_from, last=submitted_to, model_version=model_version, coder=coder
    )
    return service.analytics(session, window)
