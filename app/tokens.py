"""Bearer tokens to callers, with a short memory, so the database is not on every request's
path.

A token the database vouched for is remembered for `fresh_seconds` (MEDCODE_TOKEN_CACHE_
SECONDS): within that time a request costs no query and no `last_used_at` write, and a
revoked token or disabled user is refused at the latest that long after. While the database
cannot be reached, a remembered token is still honoured until its own expiry, so `/suggest`
keeps answering EHRs through a database outage; a token never seen before gets 503. The
memory holds token hashes, never tokens, and at most `max_entries` of them.

MEDCODE_ADMIN_TOKEN, when set, is an admin that is no user; it is compared in constant time.
"""

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from app.db.repository import Actor, Repository
from app.db.session import Database
from app.db.tables import Role, utcnow
from codes.errors import MedcodeError

ADMIN_TOKEN_NAME = "admin-token"


class NotAuthenticatedError(MedcodeError):
    status_code = 401
    error = "unauthorized"


class DatabaseUnavailableError(MedcodeError):
    status_code = 503
    error = "database_unavailable"
    retry_after = 5


@dataclass(frozen=True)
class _Grant:
    actor: Actor
    expires_at: datetime | None  # the token's own expiry
    checked_at: float  # monotonic time the database last vouched for it


class Authenticator:
    def __init__(
        self,
        database: Callable[[], Database | None],
        admin_token: str | None,
        fresh_seconds: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._admin_token = admin_token.encode() if admin_token else None
        self.fresh_seconds = fresh_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._grants: OrderedDict[str, _Grant] = OrderedDict()
        self._lock = threading.Lock()

    def caller(self, token: str) -> Actor:
        """Who the token stands for; NotAuthenticatedError if no one, DatabaseUnavailableError
        if only the database could say."""
        if self._admin_token is not None and hmac.compare_digest(token.encode(), self._admin_token):
            return Actor(user_id=None, name=ADMIN_TOKEN_NAME, role=Role.ADMIN)
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            grant = self._grants.get(key)
        fresh = grant is not None and now - grant.checked_at < self.fresh_seconds
        if fresh and grant is not None and _usable(grant):
            return grant.actor
        try:
            found = self._ask_database(token)
        except (SQLAlchemyError, DatabaseUnavailableError, OSError) as exc:
            if grant is not None and _usable(grant):
                return grant.actor  # the database is down: trust what it said before
            raise DatabaseUnavailableError(
                "the token cannot be checked while the database is unavailable"
            ) from exc
        if found is None:
            self.forget(key)
            raise NotAuthenticatedError("the token is unknown, expired or revoked")
        actor, expires_at = found
        with self._lock:
            self._grants[key] = _Grant(actor, expires_at, now)
            self._grants.move_to_end(key)
            while len(self._grants) > self.max_entries:
                self._grants.popitem(last=False)
        return actor

    def forget(self, key: str | None = None) -> None:
        """Drop one remembered token (by hash), or all of them."""
        with self._lock:
            if key is None:
                self._grants.clear()
            else:
                self._grants.pop(key, None)

    def _ask_database(self, token: str) -> tuple[Actor, datetime | None] | None:
        database = self._database()
        if database is None:
            raise DatabaseUnavailableError("this service runs without its database")
        with database.session_scope() as session:
            found = Repository(session).token_grant(token)
            if found is None:
                return None
            user, expires_at = found
            return Actor.of(user), expires_at


def _usable(grant: _Grant) -> bool:
    return grant.expires_at is None or grant.expires_at > utcnow()
