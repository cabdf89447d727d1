"""The gate every request passes: who is calling, before anything else is read.

Every path needs a caller (a Bearer token, or the review pages' session cookie) except the
public ones: /health and /ready for probes, the API's own documentation (it holds no
data), and the review pages with their sign-in page and static files, which hold no data
either and send a browser without a session to the sign-in page; all their data comes
from the API. The caller is checked here, before the body is read, so an anonymous client
learns nothing about a request but 401; each route then says which roles it admits
(`app.auth.require_roles`), and a new route is closed unless it is listed here as public.
"""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import ACTOR_STATE, identify
from app.errors import ServiceError, domain_error_response
from codes.errors import MedcodeError

PUBLIC_PATHS = frozenset(
    {"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
# The review pages (not their API under /api/review): they check their own session.
PAGES_PREFIX = "/review"


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/")


class CallerGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            actor = await run_in_threadpool(identify, request, request.headers.get("authorization"))
        except (MedcodeError, ServiceError) as refused:
            await domain_error_response(refused)(scope, receive, send)
            return
        scope.setdefault("state", {})[ACTOR_STATE] = actor
        await self.app(scope, receive, send)
