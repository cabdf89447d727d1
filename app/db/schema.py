"""The database's schema revision against the code's: upgrade, downgrade, check.

Alembic is configured from Python here (no alembic.ini): the migration scripts ship inside
the package (app/db/migrations), so an installed medcode finds them.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from codes.errors import MedcodeError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "medcode db upgrade"


class SchemaError(MedcodeError):
    """The database's schema is not the one this code was written for."""

    status_code = 503
    error = "database_schema"


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no medcode schema at all
    head: str
    tables: int  # tables in the database besides alembic's own

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def empty(self) -> bool:
        return self.current is None and self.tables == 0


def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "no migration scripts in app/db/migrations/versions"
    return head


def status(engine: Engine) -> SchemaStatus:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        tables = len(set(inspect(connection).get_table_names()) - {"alembic_version"})
    return SchemaStatus(current=current, head=head_revision(), tables=tables)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, "downgrade", revision)


def _run(engine: Engine, direction: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    before = status(engine).current
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if direction == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
    after = status(engine).current
    logger.info("database %sd from %s to %s", direction, before or "base", after or "base")


def require_current(engine: Engine) -> SchemaStatus:
    """The status if the schema is the code's; else a SchemaError naming what to run."""
    found = status(engine)
    if found.up_to_date:
        return found
    where = engine.url.render_as_string(hide_password=True)
    known = {script.revision for script in _scripts().walk_revisions()}
    if found.current is None and found.tables:
        raise SchemaError(
            f"the database {where} holds tables but no medcode schema revision: point"
            " MEDCODE_DATABASE_URL at medcode's own database"
        )
    if found.current is not None and found.current not in known:
        raise SchemaError(
            f"the database {where} is at schema revision {found.current}, which this medcode"
            f" does not know (it expects {found.head}): the database was upgraded by a newer"
            " medcode; run that version, or `medcode db downgrade` with it"
        )
    have = found.current or "no schema"
    raise SchemaError(
        f"the database {where} is at {have}, this medcode needs schema revision"
        f" {found.head}: run `{UPGRADE_COMMAND}`"
    )


def prepare(engine: Engine) -> SchemaStatus:
    """At start-up: an empty database gets the schema; any other must already be current.

    Creating the schema in an empty database loses nothing, so a first start works on its
    own; upgrading an existing one is the operator's call (`medcode db upgrade`, after a
    backup), so a service whose database is behind refuses to start.
    """
    found = status(engine)
    if found.empty:
        logger.info("empty database: creating the schema (revision %s)", found.head)
        upgrade(engine)
    return require_current(engine)
