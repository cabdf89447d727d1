"""The model registry over HTTP: list versions, promote one, roll back.

Off unless MEDCODE_ADMIN_TOKEN is set; every call must then send it as a Bearer token.
A promote or rollback answers once the new model serves in this process; other worker
processes follow the registry within MEDCODE_MODEL_POLL_SECONDS.
"""

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel

from app.api.deps import suggest_service
from app.errors import ServiceError
from app.services.suggest import SuggestService

Service = Annotated[SuggestService, Depends(suggest_service)]


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    token = request.app.state.settings.admin_token
    if token is None:
        raise ServiceError(
            403, "admin_disabled", "the admin API is off: set MEDCODE_ADMIN_TOKEN to turn it on"
        )
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.get_secret_value().encode()
    ):
        raise ServiceError(401, "unauthorized", "send the admin token as 'Authorization: Bearer …'")


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


class ModelVersion(BaseModel):
    version: str
    created_at: str
    promoted: bool
    served: bool
    data: Any = None
    metrics: dict[str, Any]
    evaluations: list[Any]


class ServedModel(BaseModel):
    served: str


@router.get("/models", response_model=list[ModelVersion])
def list_models(service: Service) -> list[dict[str, Any]]:
    """Every model version, newest first, with which one is promoted and which one serves."""
    return service.models.versions()


@router.post("/models/{version}/promote", response_model=ServedModel)
def promote(version: str, service: Service) -> ServedModel:
    """Load and verify `version`, then serve it and record it as promoted."""
    return ServedModel(served=service.models.promote(version).version)


@router.post("/models/rollback", response_model=ServedModel)
def rollback(service: Service) -> ServedModel:
    """Serve again the version promoted before the current one."""
    return ServedModel(served=service.models.rollback().version)
