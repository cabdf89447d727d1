"""One error shape for every failure: {"error": <kind>, "detail": <what is wrong>}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from codes.errors import MedcodeError

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """A domain failure a route reports to the client as is."""

    def __init__(self, status_code: int, error: str, detail: Any) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.detail = detail


def error_response(status_code: int, error: str, detail: Any) -> JSONResponse:
    return JSONResponse(
        status_code=status_code,
        content={"error": error, "detail": jsonable_encoder(detail)},
    )


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echoing the input back could put note text in a client's logs; say where and what only.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status_code, exc.error, exc.detail)

    @app.exception_handler(MedcodeError)
    async def _domain(_: Request, exc: MedcodeError) -> JSONResponse:
        return error_response(exc.status_code, exc.error, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, error, exc.detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The path and type only: request bodies hold patient notes.
        logger.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error_response(500, "internal_error", "an unexpected error occurred")
