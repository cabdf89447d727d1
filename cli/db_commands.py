"""`medcode db upgrade|downgrade|current`, `medcode users add|list|disable|enable` and
`medcode tokens create|list|revoke`, against the database of MEDCODE_DATABASE_URL."""

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.auth import expiry
from app.config import Settings
from app.db import schema
from app.db.repository import Actor, NotFoundError, Repository
from app.db.session import Database
from app.db.tables import Role, User, utcnow

# Who the audit log names for changes made from the command line.
CLI_ACTOR = Actor(user_id=None, name="medcode-cli", role=Role.ADMIN)


def add_commands(commands: Any) -> None:
    db = commands.add_parser("db", help="the review database's schema").add_subparsers(
        required=True, metavar="ACTION"
    )
    upgrade = db.add_parser("upgrade", help="migrate the database up (default: to the latest)")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(run=_db_upgrade)
    downgrade = db.add_parser("downgrade", help="migrate the database down to REV ('base': empty)")
    downgrade.add_argument("revision", metavar="REV")
    downgrade.set_defaults(run=_db_downgrade)
    db.add_parser("current", help="the database's revision and the code's").set_defaults(
        run=_db_current
    )

    users = commands.add_parser("users", help="review users").add_subparsers(
        required=True, metavar="ACTION"
    )
    add = users.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.set_defaults(run=_users_add)
    users.add_parser("list", help="every user").set_defaults(run=_users_list)
    disable = users.add_parser(
        "disable", help="refuse the user's tokens and end their browser sessions"
    )
    disable.add_argument("name")
    disable.set_defaults(run=_users_disable)
    enable = users.add_parser("enable", help="accept a disabled user's tokens again")
    enable.add_argument("name")
    enable.set_defaults(run=_users_enable)

    tokens = commands.add_parser("tokens", help="API tokens").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = tokens.add_parser("create", help="a new token for a user, shown once")
    create.add_argument("name", help="the user")
    create.add_argument("--label", default="", help="what the token is for")
    create.add_argument("--days", type=float, help="days until it expires (default: never)")
    create.set_defaults(run=_tokens_create)
    listing = tokens.add_parser("list", help="tokens (never the tokens themselves)")
    listing.add_argument("name", nargs="?", help="only this user's")
    listing.set_defaults(run=_tokens_list)
    revoke = tokens.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(run=_tokens_revoke)


@contextmanager
def opened(settings: Settings, *, current: bool = True) -> Iterator[Database]:
    """The database of MEDCODE_DATABASE_URL, disposed of on the way out. With `current`
    (the default) it is refused, naming the command to run, unless its schema is the code's."""
    database = Database.from_url(settings.database_url)
    try:
        if current:
            schema.require_current(database.engine)
        yield database
    finally:
        database.dispose()


@contextmanager
def repository(settings: Settings) -> Iterator[Repository]:
    """A repository over one transaction of the current database, committed on the way out."""
    with opened(settings) as database, database.session_scope() as session:
        yield Repository(session)


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, current=False) as database:
        schema.upgrade(database.engine, args.revision)
        print(f"{database.url}: at revision {schema.status(database.engine).current}")
    return 0


def _db_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, current=False) as database:
        schema.downgrade(database.engine, args.revision)
        print(f"{database.url}: at revision {schema.status(database.engine).current or 'base'}")
    return 0


def _db_current(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings, current=False) as database:
        found = schema.status(database.engine)
        url = database.url
    state = "up to date" if found.up_to_date else f"behind: run `{schema.UPGRADE_COMMAND}`"
    print(f"{url}: revision {found.current or 'none'}, code {found.head} ({state})")
    return 0


def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    with repository(settings) as repo:
        user = repo.add_user(args.name, Role(args.role), CLI_ACTOR)
        print(f"user {user.name} ({user.role.value}) added, id {user.id}")
    return 0


def _users_list(args: argparse.Namespace, settings: Settings) -> int:
    with repository(settings) as repo:
        for user in repo.users():
            active = "" if user.active else "  (disabled)"
            print(f"{user.id:>4}  {user.name:20} {user.role.value:6}{active}")
    return 0


def _users_disable(args: argparse.Namespace, settings: Settings) -> int:
    with repository(settings) as repo:
        ended = repo.set_active(_user(repo, args.name), False, CLI_ACTOR)
    print(f"user {args.name} disabled: tokens refused, {ended} browser sessions ended")
    return 0


def _users_enable(args: argparse.Namespace, settings: Settings) -> int:
    with repository(settings) as repo:
        repo.set_active(_user(repo, args.name), True, CLI_ACTOR)
    print(f"user {args.name} enabled")
    return 0


def _user(repo: Repository, name: str) -> User:
    user = repo.user_by_name(name)
    if user is None:
        raise NotFoundError(f"no user named {name!r}: add one with `medcode users add`")
    return user


def _tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    expires_at = expiry(args.days)
    with repository(settings) as repo:
        user = _user(repo, args.name)
        token, plaintext = repo.create_token(user, args.label, expires_at, CLI_ACTOR)
        until = token.expires_at.isoformat() if token.expires_at else "never"
        token_id = token.id
    # Printed only once the transaction committed: a token shown must be a token that works.
    print(plaintext)
    print(
        f"token {token_id} for {args.name} (expires: {until}). Keep it now:"
        " it will not be shown again.",
        file=sys.stderr,
    )
    return 0


def _tokens_list(args: argparse.Namespace, settings: Settings) -> int:
    with repository(settings) as repo:
        user = None if args.name is None else _user(repo, args.name)
        for token in repo.tokens(user):
            state = "revoked" if token.revoked_at else "active"
            if token.revoked_at is None and not token.usable(utcnow()):
                state = "expired"
            expires = (
                token.expires_at.isoformat(timespec="seconds") if token.expires_at else "never"
            )
            used = (
                token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
            )
            print(
                f"{token.id:>4}  {token.user.name:20} {state:8} expires {expires}"
                f"  last used {used}  {token.label}"
            )
    return 0


def _tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with repository(settings) as repo:
        token = repo.revoke_token(args.id, actor=CLI_ACTOR)
        print(f"token {token.id} of {token.user.name} revoked; their browser sessions ended")
    return 0
