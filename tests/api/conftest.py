"""Fixtures of the API tests that run the service on a database server of their own."""

from collections.abc import Iterator

import pytest

from tests.databases import PostgresServer, remove_postgres, start_postgres


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, which it may stop and start."""
    server = start_postgres()
    try:
        yield server
    finally:
        remove_postgres(server)
