from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import auth_responses, require_json, suggest_service
from app.auth import CODE_LOOKUP, require_roles
from app.schemas import (
    CodeBrief,
    CodeDetail,
    CodeNoteOut,
    CodeSearchResponse,
    CodeValidation,
    ValidateRequest,
    ValidateResponse,
)
from app.services.suggest import SuggestService
from codes.catalog import Catalog, CodeSummary
from codes.systems import CodeSystem

router = APIRouter(
    prefix="/codes",
    tags=["codes"],
    dependencies=[Depends(require_roles(*CODE_LOOKUP))],
    responses=auth_responses("A token whose role is not ehr, coder or admin"),
)


def catalog(service: Annotated[SuggestService, Depends(suggest_service)]) -> Catalog:
    return service.catalog


CatalogDep = Annotated[Catalog, Depends(catalog)]


def brief(summary: CodeSummary) -> CodeBrief:
    return CodeBrief(
        system=summary.system,
        code=summary.code,
        description=summary.description,
        billable=summary.billable,
        kind=summary.kind,
    )


@router.get("/search", response_model=CodeSearchResponse)
def search_codes(
    catalog: CatalogDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Code prefix or words")],
    system: CodeSystem = CodeSystem.ICD10CM,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CodeSearchResponse:
    """Type-ahead: codes starting with `q`, or whose names hold every word of `q`."""
    results = catalog.search(system, q, limit)
    return CodeSearchResponse(system=system, query=q, results=[brief(r) for r in results])


@router.post(
    "/validate",
    response_model=ValidateResponse,
    responses={415: {"description": "The body is not JSON"}},
    dependencies=[Depends(require_json)],
)
def validate_codes(body: ValidateRequest, catalog: CatalogDep) -> ValidateResponse:
    """Whether each code is billable, a valid heading, unknown, or malformed."""
    results = []
    for raw in body.codes:
        checked = catalog.validate(body.system, raw)
        found = catalog.get(body.system, checked.code) if checked.code else None
        results.append(
            CodeValidation(
                input=raw,
                code=checked.code,
                validity=checked.validity.value,
                reason=checked.reason,
                description=found.description if found else None,
            )
        )
    return ValidateResponse(system=body.system, results=results)


@router.get("/{system}/{code}", response_model=CodeDetail, responses={404: {}, 422: {}})
def get_code(
    catalog: CatalogDep,
    system: CodeSystem,
    code: Annotated[str, Path(max_length=40)],
) -> CodeDetail:
    """A code's description, billability, place in the hierarchy and instructional notes."""
    record = catalog.record(system, code)
    attributes: dict[str, list[str]] = {}
    for name, value in record.attributes:
        attributes.setdefault(name, []).append(value)
    if system is CodeSystem.ICD10CM and "seventh_character" not in attributes:
        inherited = catalog.seventh_characters(record.code)
        if inherited and not record.billable:
            attributes["seventh_character"] = [f"{c}={m}" for c, m in inherited]
    summary = catalog.summary(system, record.code)
    return CodeDetail(
        **brief(summary).model_dump(),
        parents=[brief(a) for a in catalog.ancestors(system, record.code)],
        children=[brief(c) for c in catalog.children(system, record.code)],
        terms=list(record.terms),
        notes=[CodeNoteOut(kind=n.kind, text=n.text) for n in record.notes],
        attributes=attributes,
        billable_reason=catalog.validate(system, record.code).reason,
    )
