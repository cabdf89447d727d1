"""The bearer-token dependency through a tiny app: 401 without a good token, 403 with the
wrong role, the caller otherwise; MEDCODE_ADMIN_TOKEN is an admin."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from app.auth import require_roles
from app.config import Settings
from app.db.repository import Actor, Repository
from app.db.session import Database
from app.db.tables import Role, utcnow
from app.errors import install_error_handlers
from app.main import install_callers
from tests.db.helpers import add_user

ADMIN_TOKEN = "the-admin-token-of-this-test"


@pytest.fixture
def tokens(database: Database) -> dict[str, str]:
    add_user(database, "alice", Role.CODER)
    add_user(database, "feed", Role.EHR)
    with database.session_scope() as session:
        repo = Repository(session)
        alice, feed = repo.user_by_name("alice"), repo.user_by_name("feed")
        assert alice is not None and feed is not None
        made = {
            "coder": repo.create_token(alice)[1],
            "ehr": repo.create_token(feed)[1],
            "expired": repo.create_token(alice, "", utcnow() - timedelta(minutes=1))[1],
        }
        revoked, made["revoked"] = repo.create_token(alice)
        repo.revoke_token(revoked.id)
    return made


@pytest.fixture
def client(database: Database, tmp_path: Path) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.settings = Settings(
        var_dir=tmp_path, admin_token=ADMIN_TOKEN, failed_auth_burst=10_000
    )
    app.state.database = database
    install_callers(app, app.state.settings)
    install_error_handlers(app)

    @app.get("/work")
    def work(
        caller: Annotated[Actor, Depends(require_roles(Role.CODER, Role.ADMIN))],
    ) -> dict[str, str]:
        return {"name": caller.name, "role": caller.role.value}

    with TestClient(app) as test_client:
        yield test_client


def _get(client: TestClient, token: str | None) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.get("/work", headers=headers)
    return response.status_code, response.json()


def test_a_coder_token_is_let_in_as_its_user(client: TestClient, tokens: dict[str, str]) -> None:
    assert _get(client, tokens["coder"]) == (200, {"name": "alice", "role": "coder"})


def test_the_admin_token_is_an_admin(client: TestClient, tokens: dict[str, str]) -> None:
    assert _get(client, ADMIN_TOKEN) == (200, {"name": "admin-token", "role": "admin"})


@pytest.mark.parametrize("which", [None, "unknown", "expired", "revoked"])
def test_no_usable_token_is_401_with_a_json_error(
    client: TestClient, tokens: dict[str, str], which: str | None
) -> None:
    token = None if which is None else tokens.get(which, "no-such-token")
    status, body = _get(client, token)
    assert status == 401 and body["error"] == "unauthorized" and body["detail"]


def test_a_scheme_other_than_bearer_is_401(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/work", headers={"Authorization": f"Basic {tokens['coder']}"})
    assert response.status_code == 401


def test_the_wrong_role_is_403(client: TestClient, tokens: dict[str, str]) -> None:
    status, body = _get(client, tokens["ehr"])
    assert status == 403 and body["error"] == "forbidden" and "coder" in body["detail"]
