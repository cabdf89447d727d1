"""The model registry over HTTP: list versions, promote one, roll back.

Admins only: a user with the role admin, or MEDCODE_ADMIN_TOKEN.
A promote or rollback answers once the new model serves in this process; other worker
processes follow the registry within MEDCODE_MODEL_POLL_SECONDS.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.deps import auth_responses, suggest_service
from app.auth import ADMINS, require_roles
from app.services.suggest import SuggestService

Service = Annotated[SuggestService, Depends(suggest_service)]


router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(require_roles(*ADMINS))],
    responses=auth_responses("A token whose role is not admin"),
)


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


@router.post(
    "/models/{version}/promote",
    response_model=ServedModel,
    responses={
        404: {"description": "No such version"},
        422: {"description": "The version cannot be served: incompatible or corrupt"},
    },
)
def promote(version: str, service: Service) -> ServedModel:
    """Load and verify `version`, then serve it and record it as promoted."""
    return ServedModel(served=service.models.promote(version).version)


@router.post(
    "/models/rollback",
    response_model=ServedModel,
    responses={409: {"description": "No version was promoted before the current one"}},
)
def rollback(service: Service) -> ServedModel:
    """Serve again the version promoted before the current one."""
    return ServedModel(served=service.models.rollback().version)
