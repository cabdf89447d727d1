"""One error shape for every failure: {"error": <kind>, "detail": <what is wrong>}."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from codes.errors import MedcodeError


class ServiceError(Exception):
    """A domain failure a route reports to the client as is."""

    def __init__(
        self, status_code: int, error: str, detail: Any, retry_after: int | None = None
    ) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.retry_after = retry_after


def error_response(
    status_code: int, error: str, detail: Any, retry_after: int | None = None
) -> JSONResponse:
    """The one error shape; `retry_after` (seconds) becomes the Retry-After header of a
    429 or 503."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(
        status_code=status_code,
        content={"error": error, "detail": jsonable_encoder(detail)},
        headers=headers,
    )


def domain_error_response(exc: MedcodeError | ServiceError) -> JSONResponse:
    return error_response(exc.status_code, exc.error, exc.detail, getattr(exc, "retry_after", None))


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echoing the input back could put note text in a client's logs; say where and what only.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def _unreadable_body(cause: BaseException) -> list[dict[str, Any]]:
    """What made a body unreadable as JSON, where FastAPI only says "error parsing the
    body": the same shape as a JSON syntax error, which FastAPI reports itself."""
    if isinstance(cause, UnicodeDecodeError):
        why = "the body is not UTF-8 text"
    elif isinstance(cause, RecursionError):
        why = "the JSON is nested too deeply"
    elif isinstance(cause, ValueError) and "digits" in str(cause):
        why = "a number in the body has too many digits"
    else:
        why = "the body could not be read as JSON"
    return [{"loc": ["body"], "msg": why, "type": "json_invalid"}]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(MedcodeError)
    async def _domain(_: Request, exc: MedcodeError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI's body parsing
            return error_response(422, "invalid_request", _unreadable_body(exc.__cause__))
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, error, exc.detail)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        # A lost connection or a database that is down: say so and when to retry. Anything
        # else the database refuses is a bug, a 500. The message (with its parameters,
        # which may be note text) is never shown.
        lost = isinstance(exc, OperationalError | PoolTimeoutError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        )
        if not lost:
            raise exc
        return error_response(
            503, "database_unavailable", "the database is unavailable: try again", retry_after=5
        )
