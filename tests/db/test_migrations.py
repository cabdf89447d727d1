"""The Alembic migrations, up to head, all the way down and up again, on SQLite and
PostgreSQL; and the startup check that refuses a database behind the code."""

import pytest
from sqlalchemy import inspect

from app.db import schema
from app.db.session import Database
from app.db.tables import Base

TABLES = {
    "users",
    "api_tokens",
    "encounters",
    "suggestion_runs",
    "reviews",
    "review_codes",
    "review_decisions",
    "audit_log",
    "web_sessions",
}


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def test_migrations_go_up_down_and_up_again(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    try:
        assert schema.status(database.engine).empty
        schema.upgrade(database.engine)
        assert _tables(database) == TABLES
        assert schema.status(database.engine).up_to_date

        schema.downgrade(database.engine, "base")
        assert _tables(database) == set()
        assert schema.status(database.engine).current is None

        schema.upgrade(database.engine)
        assert _tables(database) == TABLES
        assert schema.status(database.engine).current == schema.head_revision()
    finally:
        database.dispose()


def test_the_migrated_schema_is_the_one_the_tables_declare(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_database_behind_the_code_is_refused_with_the_command_to_run(
    empty_database_url: str,
) -> None:
    database = Database.from_url(empty_database_url)
    try:
        schema.upgrade(database.engine)
        schema.downgrade(database.engine, "base")
        with pytest.raises(schema.SchemaError, match="run `medcode db upgrade`"):
            schema.require_current(database.engine)
    finally:
        database.dispose()


def test_a_database_from_a_newer_medcode_is_refused(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(schema.SchemaError, match="9999, which this medcode does not know"):
        schema.require_current(database.engine)
    with pytest.raises(schema.SchemaError):
        schema.prepare(database.engine)  # never upgraded behind the operator's back


def test_an_empty_database_gets_the_schema_at_start(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    try:
        assert schema.prepare(database.engine).up_to_date
        assert _tables(database) == TABLES
    finally:
        database.dispose()


def test_a_foreign_database_is_refused(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    try:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE patients (id INTEGER PRIMARY KEY)")
        with pytest.raises(schema.SchemaError, match="no medcode schema revision"):
            schema.prepare(database.engine)
        assert _tables(database) == {"patients"}
    finally:
        database.dispose()
