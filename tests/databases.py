"""Databases for the database and review API tests: SQLite, and a real PostgreSQL server
the tests start themselves, once per session. A pytest plugin (tests/conftest.py loads it),
so tests/db and tests/api share one PostgreSQL server.

PostgreSQL refuses to run as root, so when the tests run as root (CI) the server runs as
an unprivileged user (`nobody`) over a folder it owns. Each test gets a database of its
own: a copy of one migrated once per session (a file copy for SQLite, CREATE DATABASE ...
TEMPLATE for PostgreSQL), so no test sees another's rows.
"""

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.db import schema
from app.db.session import Database

PG_BIN_DIRS = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
UNPRIVILEGED_USER = "nobody"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_bin_dir() -> Path | None:
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    port: int
    folder: Path
    as_user: list[str]
    bin_dir: Path
    counter: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        name = f"medcode_{next(self.counter)}"
        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            clause = f" TEMPLATE {template}" if template else ""
            connection.execute(text(f"CREATE DATABASE {name}{clause}"))
        engine.dispose()
        return name

    def run(self, *command: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin_dir / command[0]), *command[1:]],
            check=True,
            capture_output=True,
            cwd=self.folder,
        )

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                 "-o", options, "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def start_postgres() -> PostgresServer:
    """A new PostgreSQL server on a free loopback port, in a folder of its own; skips the
    test when no PostgreSQL is installed."""
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped")
    as_user: list[str] = []
    # /tmp, not pytest's root-only temp folder: the server's user must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="medcode-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", UNPRIVILEGED_USER, "--"]
    server = PostgresServer(_free_port(), folder, as_user, bin_dir, itertools.count(1))
    try:
        server.run("initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres",
                   "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        server.start()
    except subprocess.CalledProcessError as exc:
        log = folder / "server.log"
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(
            f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')}"
            + (log.read_text(errors="replace") if log.exists() else "")
        ) from exc
    return server


def remove_postgres(server: PostgresServer) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        remove_postgres(server)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it, on each backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'medcode.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.create_database())


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Per backend, a migrated database to copy (a file for SQLite, a database name)."""
    return {}


def _migrated_template(
    backend: str, request: pytest.FixtureRequest, templates: dict[str, str]
) -> str:
    if backend in templates:
        return templates[backend]
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("template")
        url = f"sqlite:///{folder / 'template.db'}"
        template = str(folder / "template.db")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template = server.create_database()
        url = server.url(template)
    database = Database.from_url(url)
    schema.upgrade(database.engine)
    database.dispose()  # PostgreSQL copies a template only while nobody is connected to it
    templates[backend] = template
    return template


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, _templates: dict[str, str]
) -> str:
    """A database at the code's schema revision, of this test's own."""
    template = _migrated_template(backend, request, _templates)
    if backend == "sqlite":
        path = tmp_path / "medcode.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.create_database(template=template))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    yield db
    db.dispose()
