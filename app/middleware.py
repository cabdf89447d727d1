"""ASGI middleware: refuse oversized bodies before they are read, shed load past a cap on
requests in flight, and answer unexpected errors without leaking their messages."""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response
from app.log_hygiene import where

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("medcode.access")


class BodySizeLimit:
    """413 for a body over `max_bytes`, whether declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        # A streamed body of unknown length: buffer it (up to the limit), then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "body_too_large", f"the request body is over {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class InFlightLimit:
    """503 with Retry-After once `limit` requests are in flight in this worker, so a burst
    queues in clients and load balancers, not in this process's memory. Probes
    (/health, /ready) are never refused: a busy worker is alive."""

    def __init__(self, app: ASGIApp, limit: int, exempt: frozenset[str]) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self.in_flight = 0  # one event loop per worker: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            busy = error_response(
                503, "busy", f"{self.limit} requests are in flight: try again", retry_after=1
            )
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        answered = False

        def done() -> None:
            nonlocal answered
            if not answered:
                answered = True
                self.in_flight -= 1

        async def send_and_count(message: Message) -> None:
            # Counted out once the answer's last byte is handed on: a client may send its
            # next request before this task runs again, and must not find it still in.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done()
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            done()


class UnexpectedErrors:
    """A 500 in the one error shape for any exception no handler took, logged by type and
    place only: exception messages can quote their input, and inputs hold patient notes.
    Nothing is re-raised, so no server logs the traceback with its message either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = _ResponseWatch(send)
        try:
            await self.app(scope, receive, response.send)
        except Exception as exc:
            logger.error(
                "unexpected %s on %s %s at %s",
                type(exc).__name__,
                scope.get("method", ""),
                scope.get("path", ""),
                where(exc),
            )
            if response.status is None:  # nothing sent yet: the client gets an answer
                failed = error_response(500, "internal_error", "an unexpected error occurred")
                await failed(scope, receive, send)


class AccessLog:
    """One line per request: method, path, status, milliseconds. It replaces the server's
    access log, which prints query strings: a code search can hold words a coder typed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = _ResponseWatch(send)
        try:
            await self.app(scope, receive, response.send)
        finally:
            access_logger.info(
                "%s %s %d %.0f ms",
                scope.get("method", ""),
                scope.get("path", ""),
                response.status or 500,
                (time.perf_counter() - started) * 1000,
            )


class _ResponseWatch:
    """Passes an ASGI app's messages on, noting the status once the response starts."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self._send(message)
