"""Who is calling: `Authorization: Bearer <token>`, or the review pages' session cookie
(app/web_session.py), resolved to a user with a role.

Tokens are `secrets.token_urlsafe(32)`, shown once at creation; the database keeps their
SHA-256 only (a token is 256 random bits, so a fast hash is enough: there is nothing to
guess); app/tokens.py checks them. MEDCODE_ADMIN_TOKEN, when set, is accepted as an admin
that is no user. A request that uses the session cookie instead of a token must send the
session's CSRF token in X-CSRF-Token with every unsafe method; a Bearer request needs none
(no browser adds it). Every caller is held to a rate limit (app/limits.py).

    @router.get("/things", dependencies=[Depends(require_roles(Role.CODER, Role.ADMIN))])
    def things(caller: Annotated[Actor, Depends(require_roles(Role.CODER))]) -> ...
"""

import hmac
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from app.db.repository import Actor, ReviewRepository
from app.db.session import Database
from app.db.tables import Role, utcnow
from app.limits import RateLimiter
from app.tokens import (
    ADMIN_TOKEN_NAME,
    Authenticator,
    DatabaseUnavailableError,
    NotAuthenticatedError,
)
from codes.errors import MedcodeError

__all__ = [
    "ADMIN_TOKEN_NAME",
    "DatabaseUnavailableError",
    "NotAuthenticatedError",
]

SESSION_COOKIE = "medcode_session"
ACTOR_STATE = "medcode_caller"  # request.state attribute the gate sets
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Who may call what (docs/security.md has the whole matrix).
EHR_API = (Role.EHR, Role.ADMIN)  # suggest, annotate, store
CODE_LOOKUP = (Role.EHR, Role.CODER, Role.ADMIN)
REVIEWERS = (Role.CODER, Role.ADMIN)
ADMINS = (Role.ADMIN,)


class ForbiddenError(MedcodeError):
    status_code = 403
    error = "forbidden"


class CsrfError(ForbiddenError):
    error = "csrf"


def expiry(days: float | None, now: datetime | None = None) -> datetime | None:
    """When a token made now for `days` days expires (None: never)."""
    if days is None:
        return None
    if days <= 0:
        raise ValueError("a token lasts a positive number of days")
    return (now or datetime.now(UTC)) + timedelta(days=days)


def app_database(request: Request) -> Database:
    database: Database | None = getattr(request.app.state, "database", None)
    if database is None:
        raise DatabaseUnavailableError("this service runs without its review database")
    return database


def database_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: one transaction, committed after the route returns."""
    with app_database(request).session_scope() as session:
        yield session


# Scope "function": the transaction commits before the answer is sent, so a client never
# sees a success that was then not committed.
DbSession = Annotated[Session, Depends(database_session, scope="function")]


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authenticator(request: Request) -> Authenticator:
    found: Authenticator = request.app.state.authenticator
    return found


def session_caller(request: Request, now: datetime | None = None) -> Actor:
    """The user of the session cookie; 401 if it names no usable session, 403 if an unsafe
    method lacks the session's CSRF token."""
    with app_database(request).session_scope() as session:
        found = ReviewRepository(session).web_session(
            request.cookies.get(SESSION_COOKIE, ""), now or utcnow()
        )
        if found is None:
            raise NotAuthenticatedError("the session has ended: sign in again")
        if request.method in UNSAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), found.csrf_token.encode()):
                raise CsrfError(f"send the page's CSRF token in the {CSRF_HEADER} header")
        return Actor.of(found.user)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def identify(request: Request, authorization: str | None) -> Actor:
    """The caller of a request, by Bearer token (which wins) or session cookie, within
    their rate limit; a failed attempt counts against the client's address."""
    limits: RateLimiter = request.app.state.rate_limiter
    failures: RateLimiter = request.app.state.failed_auth_limiter
    token = bearer_token(authorization)
    try:
        if token is not None:
            actor = authenticator(request).caller(token)
        elif request.cookies.get(SESSION_COOKIE):
            actor = session_caller(request)
        else:
            raise NotAuthenticatedError(
                "send a token as 'Authorization: Bearer <token>', or sign in at /review/login"
            )
    except NotAuthenticatedError:
        failures.spend(client_address(request), "failed sign-ins")
        raise
    limits.spend(f"{actor.role.value}:{actor.user_id}:{actor.name}")
    return actor


def require_roles(*roles: Role) -> Callable[..., Actor]:
    """A dependency: the caller, if their token or session is good (401 otherwise) and
    their role is one of `roles` (403 otherwise)."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(Role(r) for r in roles)
    names = " or ".join(sorted(r.value for r in allowed))

    def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
        # The gate (app/gate.py) has identified the caller; an app without it does so here.
        actor = getattr(request.state, ACTOR_STATE, None) or identify(request, authorization)
        if actor.role not in allowed:
            raise ForbiddenError(f"this needs the role {names}; {actor.name} is {actor.role}")
        return actor

    return caller
