"""`medcode db`, `medcode users` and `medcode tokens` on a temporary SQLite database."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.repository import Repository, ReviewRepository
from app.db.session import Database
from app.db.tables import AuditEntry, utcnow
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


def test_disabling_a_user_or_revoking_a_token_ends_their_browser_sessions(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["users", "add", "alice", "--role", "coder"]) == 0
    assert main(["tokens", "create", "alice"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    database = Database.from_url(f"sqlite:///{database_file}")

    def signed_in() -> tuple[str, int]:
        with database.session_scope() as session:
            repo = ReviewRepository(session)
            user = repo.user_by_name("alice")
            assert user is not None
            return repo.create_web_session(user.id, utcnow(), timedelta(hours=1))[1], user.id

    def session_alive(session_id: str) -> bool:
        with database.session_scope() as session:
            return ReviewRepository(session).web_session(session_id, utcnow()) is not None

    first, _ = signed_in()
    assert main(["users", "disable", "alice"]) == 0
    assert "1 browser sessions ended" in capsys.readouterr().out
    assert not session_alive(first)
    with database.session_scope() as session:
        assert Repository(session).user_for_token(token) is None
    assert main(["users", "list"]) == 0
    assert "disabled" in capsys.readouterr().out

    assert main(["users", "enable", "alice"]) == 0
    with database.session_scope() as session:
        assert Repository(session).user_for_token(token) is not None
    second, _ = signed_in()
    assert session_alive(second)
    assert main(["tokens", "revoke", "1"]) == 0
    assert not session_alive(second)

    with database.session_scope() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["user.disable", "user.enable", "token.revoke"]
    database.dispose()
    assert main(["users", "disable", "nobody-here"]) == 2
