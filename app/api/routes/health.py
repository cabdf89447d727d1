from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(request: Request) -> JSONResponse:
    """The catalog and the model are loaded and requests can be served."""
    service = getattr(request.app.state, "suggest_service", None)
    if service is None:
        body = Readiness(status="not_ready", catalog={}, model_version=None)
        return JSONResponse(status_code=503, content=body.model_dump())
    catalog = {s.value: service.catalog.size(s) for s in service.catalog.systems}
    body = Readiness(status="ready", catalog=catalog, model_version=service.model_version)
    return JSONResponse(status_code=200, content=body.model_dump())
