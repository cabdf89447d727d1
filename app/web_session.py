"""Browser sessions of the review pages, and their CSRF tokens.

Signing in (`POST /review/login`) exchanges a coder's bearer token for a server-side
session: the cookie `medcode_session` holds a random id, the database its SHA-256, the
user it is bound to, an expiry and the session's CSRF token. Signing out deletes the row.

Two CSRF tokens:
- the login form's, before any session: a random value in the cookie `medcode_login_csrf`
  and in the form (double submit), so a third-party page cannot sign a browser in as
  someone else (`login_csrf`, `login_csrf_ok`);
- the session's: every page carries it (`<meta name="csrf-token">`), scripts send it back
  as `X-CSRF-Token`; `app.auth.require_roles` refuses a cookie POST without it.

For the page router: `current_session(request)` is the signed-in coder and their CSRF
token (or None); `install_web_sessions(app)` puts both on `request.state.user` and
`request.state.csrf_token` for every page under /review (the login CSRF token on the
login page), which is what `app.web.pages.page_viewer` reads.
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import SESSION_COOKIE, NotAuthenticatedError, authenticator, client_address
from app.db.repository import Actor, ReviewRepository
from app.db.session import Database
from app.db.tables import Role, utcnow
from app.limits import RateLimitedError

LOGIN_CSRF_COOKIE = "medcode_login_csrf"
SESSION_LIFETIME = timedelta(hours=12)
LOGIN_CSRF_LIFETIME = timedelta(hours=2)
PAGES_PREFIX = "/review"
STATIC_PREFIX = "/review/static"
REVIEW_ROLES = frozenset({Role.CODER, Role.ADMIN})
# A form is a token and a CSRF token: anything much bigger is not our login form.
MAX_FORM_BYTES = 8192
_STATE_KEY = "medcode_web_session"
_MISSING = object()


class LoginRefusedError(Exception):
    """Why a sign-in failed, as the login page's `error` key: invalid, forbidden, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    """A browser's session: who, the CSRF token their pages carry, and until when."""

    user: Actor
    csrf_token: str
    expires_at: datetime

    @property
    def name(self) -> str:
        return self.user.name


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _database(request: Request) -> Database | None:
    return getattr(request.app.state, "database", None)


# --- reading the session -----------------------------------------------------------------


def current_session(request: Request) -> SignedIn | None:
    """The signed-in coder of this request and their CSRF token, or None (no cookie, an
    unknown or expired session, no database). Looked up once per request; opens its own
    short transaction, so call it from a sync route (FastAPI runs those in a thread)."""
    cached = getattr(request.state, _STATE_KEY, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    found: SignedIn | None = None
    database = _database(request)
    if request.cookies.get(SESSION_COOKIE) and database is not None:
        with database.session_scope() as session:
            found = session_of(session, request)
    setattr(request.state, _STATE_KEY, found)
    return found


def session_of(session: Session, request: Request) -> SignedIn | None:
    """The request's usable session, looked up in the caller's transaction."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    row = ReviewRepository(session).web_session(session_id, utcnow())
    return None if row is None else SignedIn(Actor.of(row.user), row.csrf_token, row.expires_at)


# --- the login form's CSRF token ---------------------------------------------------------


def login_csrf(request: Request, response: Response) -> str:
    """The login form's CSRF token: the one the browser already holds in its cookie, or a
    new one, set as the cookie on `response` (the response the login page returns)."""
    held = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if 20 <= len(held) <= 100 and held.replace("-", "").replace("_", "").isalnum():
        return held
    token = secrets.token_urlsafe(32)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=int(LOGIN_CSRF_LIFETIME.total_seconds()),
        path=PAGES_PREFIX,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return token


def login_csrf_ok(request: Request, sent: str | None) -> bool:
    held = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(held and sent) and hmac.compare_digest(held.encode(), (sent or "").encode())


async def form_fields(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (first value of each), read without python-multipart."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


# --- signing in and out ------------------------------------------------------------------


def sign_in(
    session: Session, request: Request, token: str, now: datetime | None = None
) -> tuple[str, SignedIn]:
    """A new session for the user of a bearer token: the session id (for the cookie) and
    the session. LoginRefusedError if the token is no good or its user may not review."""
    now = now or utcnow()
    try:
        actor = authenticator(request).caller(token.strip())
    except NotAuthenticatedError as exc:  # the reason stays on the server
        try:
            request.app.state.failed_auth_limiter.spend(client_address(request))
        except RateLimitedError as limited:
            raise LoginRefusedError("too_many") from limited
        raise LoginRefusedError("invalid") from exc
    if actor.user_id is None or actor.role not in REVIEW_ROLES:
        # The admin token is no person: a session must be bound to a user.
        raise LoginRefusedError("forbidden")
    repo = ReviewRepository(session)
    row, session_id = repo.create_web_session(actor.user_id, now, SESSION_LIFETIME)
    repo.audit(actor, "session.login", detail={"session_id": row.id}, now=now)
    return session_id, SignedIn(actor, row.csrf_token, row.expires_at)


def sign_out(session: Session, request: Request) -> bool:
    """End the request's session (delete its row); whether there was one."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return False
    repo = ReviewRepository(session)
    row = repo.end_web_session(session_id)
    if row is None:
        return False
    repo.audit(Actor.of(row.user), "session.logout", detail={"session_id": row.id})
    return True


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PAGES_PREFIX)


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict"
    )


# --- the pages' viewer -------------------------------------------------------------------


def _is_page(request: Request) -> bool:
    path = request.url.path
    return (
        request.method in ("GET", "HEAD")
        and (path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/"))
        and not path.startswith(STATIC_PREFIX)
    )


def install_web_sessions(app: FastAPI) -> None:
    """For every page under /review: `request.state.user` (the signed-in Actor, or None)
    and `request.state.csrf_token` (the session's; on the login page without a session,
    the login form's, its cookie set on the answer)."""

    @app.middleware("http")
    async def web_viewer(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not _is_page(request):
            return await call_next(request)
        signed_in = await run_in_threadpool(current_session, request)
        request.state.user = signed_in.user if signed_in else None
        cookie_holder = Response()
        if signed_in is not None:
            request.state.csrf_token = signed_in.csrf_token
        elif request.url.path == f"{PAGES_PREFIX}/login":
            request.state.csrf_token = login_csrf(request, cookie_holder)
        response = await call_next(request)
        for name, value in cookie_holder.raw_headers:
            if name == b"set-cookie":
                response.headers.append("set-cookie", value.decode("latin-1"))
        return response
