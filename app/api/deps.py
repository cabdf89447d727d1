"""Shared route dependencies, and the error responses routes document alike."""

from typing import Any

from fastapi import Request

from app.errors import ServiceError
from app.services.analytics import AnalyticsService
from app.services.review import ReviewService
from app.services.suggest import SuggestService

# OpenAPI `responses` of a route or router: status -> {"description": ...}.
Responses = dict[int | str, dict[str, Any]]
NOT_JSON: Responses = {415: {"description": "The body is not JSON"}}


def auth_responses(forbidden: str, unauthorized: str = "No valid token") -> Responses:
    """The refusals of the caller gate (app/gate.py) every guarded route may answer."""
    return {
        401: {"description": unauthorized},
        403: {"description": forbidden},
        429: {"description": "Over the caller's rate limit: Retry-After says when to try again"},
    }


def suggest_service(request: Request) -> SuggestService:
    service: SuggestService | None = getattr(request.app.state, "suggest_service", None)
    if service is None:
        raise ServiceError(503, "not_ready", "the service is still loading its catalog and model")
    return service


def require_json(request: Request) -> None:
    """Refuse a body that is not declared as JSON before trying to parse it."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ServiceError(
            415,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json"
            f" (got {media_type or 'none'})",
        )


def review_service(request: Request) -> ReviewService:
    service: ReviewService | None = getattr(request.app.state, "review_service", None)
    if service is None:
        raise ServiceError(503, "not_ready", "the service is still loading its catalog")
    return service


def analytics_service(request: Request) -> AnalyticsService:
    service: AnalyticsService | None = getattr(request.app.state, "analytics_service", None)
    if service is None:
        raise ServiceError(503, "not_ready", "the service is still loading its catalog")
    return service
