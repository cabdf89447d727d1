"""`medcode db`, `medcode users` and `medcode tokens` on a temporary SQLite database."""

from pathlib import Path

import pytest

from app.db.repository import Repository
from app.db.session import Database
from cli.main import main


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEDCODE_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("MEDCODE_DATABASE_URL", raising=False)
    return tmp_path / "medcode.db"


def test_users_and_tokens_from_the_command_line(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "alice", "--role", "coder"]) == 2
    assert "medcode db upgrade" in capsys.readouterr().err  # no schema yet: say what to run

    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["users", "add", "alice", "--role", "coder"]) == 0
    assert main(["users", "add", "alice", "--role", "admin"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "list"]) == 0
    assert "alice" in capsys.readouterr().out

    assert main(["tokens", "create", "alice", "--label", "laptop", "--days", "30"]) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert "will not be shown again" in captured.err and len(token) >= 43

    database = Database.from_url(f"sqlite:///{database_file}")
    with database.session_scope() as session:
        user = Repository(session).user_for_token(token)
        assert user is not None and user.name == "alice"

    assert main(["tokens", "list", "alice"]) == 0
    listing = capsys.readouterr().out
    assert "laptop" in listing and "active" in listing and token not in listing
    assert main(["tokens", "revoke", "1"]) == 0
    assert main(["tokens", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    with database.session_scope() as session:
        assert Repository(session).user_for_token(token) is None
    database.dispose()

    assert main(["tokens", "create", "nobody-here"]) == 2
    assert main(["tokens", "revoke", "99"]) == 2


def test_db_downgrade_and_upgrade(database_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--revision", "head"]) == 0
    assert main(["db", "downgrade", "base"]) == 0
    assert main(["db", "current"]) == 0
    assert "revision none" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
