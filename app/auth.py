"""Who is calling: `Authorization: Bearer <token>`, or the review pages' session cookie
(app/web_session.py), resolved to a user with a role.

Tokens are `secrets.token_urlsafe(32)`, shown once at creation; the database keeps their
SHA-256 only (a token is 256 random bits, so a fast hash is enough: there is nothing to
guess). MEDCODE_ADMIN_TOKEN, when set, is accepted as an admin that is no user. A request
that uses the session cookie instead of a token must send the session's CSRF token in
X-CSRF-Token with every unsafe method; a Bearer request needs none (no browser adds it).

    @router.get("/things", dependencies=[Depends(require_roles(Role.CODER, Role.ADMIN))])
    def things(caller: Annotated[Actor, Depends(require_roles(Role.CODER))]) -> ...
"""

import hmac
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from app.db.repository import Actor, Repository, ReviewRepository
from app.db.session import Database
from app.db.tables import Role, utcnow
from codes.errors import MedcodeError

ADMIN_TOKEN_NAME = "admin-token"
SESSION_COOKIE = "medcode_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotAuthenticatedError(MedcodeError):
    status_code = 401
    error = "unauthorized"


class ForbiddenError(MedcodeError):
    status_code = 403
    error = "forbidden"


class CsrfError(ForbiddenError):
    error = "csrf"


class DatabaseUnavailableError(MedcodeError):
    status_code = 503
    error = "database_unavailable"


def expiry(days: float | None, now: datetime | None = None) -> datetime | None:
    """When a token made now for `days` days expires (None: never)."""
    if days is None:
        return None
    if days <= 0:
        raise ValueError("a token lasts a positive number of days")
    return (now or datetime.now(UTC)) + timedelta(days=days)


def database_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: one transaction, committed after the route returns."""
    database: Database | None = getattr(request.app.state, "database", None)
    if database is None:
        raise DatabaseUnavailableError("this service runs without its review database")
    with database.session_scope() as session:
        yield session


# Scope "function": the transaction commits before the answer is sent, so a client never
# sees a success that was then not committed.
DbSession = Annotated[Session, Depends(database_session, scope="function")]


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authenticate(
    token: str, session: Session, admin_token: str | None, now: datetime | None = None
) -> Actor:
    """The caller a token stands for; NotAuthenticatedError if it stands for no one."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Actor(user_id=None, name=ADMIN_TOKEN_NAME, role=Role.ADMIN)
    user = Repository(session).user_for_token(token, now)
    if user is None:
        raise NotAuthenticatedError("the token is unknown, expired or revoked")
    return Actor.of(user)


def session_caller(request: Request, session: Session, now: datetime | None = None) -> Actor:
    """The user of the session cookie; 401 if it names no usable session, 403 if an unsafe
    method lacks the session's CSRF token."""
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


def require_roles(*roles: Role) -> Callable[..., Actor]:
    """A dependency: the caller, if their token or session is good (401 otherwise) and
    their role is one of `roles` (403 otherwise). A Bearer token wins over a cookie."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(Role(r) for r in roles)
    names = " or ".join(sorted(r.value for r in allowed))

    def caller(
        request: Request,
        session: DbSession,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Actor:
        token = bearer_token(authorization)
        if token is not None:
            secret = request.app.state.settings.admin_token
            actor = authenticate(token, session, secret.get_secret_value() if secret else None)
        elif request.cookies.get(SESSION_COOKIE):
            actor = session_caller(request, session)
        else:
            raise NotAuthenticatedError(
                "send a token as 'Authorization: Bearer <token>', or sign in at /review/login"
            )
        if actor.role not in allowed:
            raise ForbiddenError(f"this needs the role {names}; {actor.name} is {actor.role}")
        return actor

    return caller
