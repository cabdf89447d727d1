"""Who may call what: every route of the app is in the role matrix below or public, and
each answers 401 without a good token, 403 to a role it does not admit, and neither to a
role it admits (docs/security.md). On SQLite; the users and tokens are real."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth import ADMINS, CODE_LOOKUP, EHR_API, REVIEWERS
from app.db import schema
from app.db.session import Database
from app.db.tables import Role
from app.gate import is_public
from app.services.suggest import SuggestService
from tests.api.review_support import ADMIN_TOKEN, Site, open_site, seed

NOTE = {"text": "Community-acquired pneumonia."}
CODES = {"codes": [{"system": "icd10cm", "code": "J18.9"}]}

# (method, route path) -> (roles admitted, a concrete path, a body)
MATRIX: dict[tuple[str, str], tuple[tuple[Role, ...], str, dict[str, Any] | None]] = {
    ("POST", "/suggest"): (EHR_API, "/suggest", NOTE),
    ("POST", "/annotate"): (EHR_API, "/annotate", NOTE),
    ("GET", "/codes/search"): (CODE_LOOKUP, "/codes/search?q=pneumonia", None),
    ("POST", "/codes/validate"): (CODE_LOOKUP, "/codes/validate", CODES),
    ("GET", "/codes/{system}/{code}"): (CODE_LOOKUP, "/codes/icd10cm/J18.9", None),
    ("GET", "/admin/models"): (ADMINS, "/admin/models", None),
    ("POST", "/admin/models/{version}/promote"): (ADMINS, "/admin/models/none/promote", None),
    ("POST", "/admin/models/rollback"): (ADMINS, "/admin/models/rollback", None),
    ("GET", "/api/review/encounters"): (REVIEWERS, "/api/review/encounters", None),
    ("GET", "/api/review/encounters/{encounter_id}"): (REVIEWERS, "/api/review/encounters/1", None),
    ("POST", "/api/review/encounters/{encounter_id}/claim"): (
        REVIEWERS,
        "/api/review/encounters/1/claim",
        None,
    ),
    ("DELETE", "/api/review/encounters/{encounter_id}/claim"): (
        REVIEWERS,
        "/api/review/encounters/1/claim",
        None,
    ),
    ("POST", "/api/review/encounters/{encounter_id}/edits"): (
        REVIEWERS,
        "/api/review/encounters/1/edits",
        CODES,
    ),
    ("POST", "/api/review/encounters/{encounter_id}/review"): (
        REVIEWERS,
        "/api/review/encounters/1/review",
        {"run_id": 1, "codes": []},
    ),
    ("GET", "/api/review/analytics"): (REVIEWERS, "/api/review/analytics", None),
}
# Admitting them changes the served model for every test: only refusals are tried.
NOT_TRIED_ADMITTED = {("POST", "/admin/models/rollback")}
USERS = {Role.CODER: "alice", Role.ADMIN: "carol", Role.EHR: "feed"}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, service: SuggestService
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("roles")
    url = f"sqlite:///{folder / 'roles.db'}"
    migrated = Database.from_url(url)
    schema.upgrade(migrated.engine)
    migrated.dispose()
    yield from open_site(folder, data_dir, url, service)


def _call(client: TestClient, method: str, path: str, body: Any, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(method, path, json=body, headers=headers)


def _routes(app: Any) -> Iterator[tuple[frozenset[str], str]]:
    """(methods, path) of every route, those of included routers too; a mount has no
    methods."""
    for route in app.routes:
        inner = getattr(route, "effective_route_contexts", None)
        for found in inner() if inner is not None else [route]:
            # An included mount's context has no path of its own: its route has.
            path = found.path or getattr(getattr(found, "original_route", None), "path", "")
            yield frozenset(getattr(found, "methods", None) or ()), path


def test_every_route_is_in_the_matrix_or_public(site: Site) -> None:
    unlisted = []
    seen = 0
    for methods, path in _routes(site.client.app):
        seen += 1
        if is_public(path):
            continue
        unlisted += [(m, path) for m in methods - {"HEAD"} if (m, path) not in MATRIX]
        if not methods:
            unlisted.append(("mount", path))
    assert seen > len(MATRIX) and unlisted == []


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_route_admits_its_roles_only(site: Site, route: tuple[str, str]) -> None:
    roles, path, body = MATRIX[route]
    method = route[0]
    seed(site.database, "enc-1")

    for token in (None, "not-a-token-anyone-has"):
        answer = _call(site.client, method, path, body, token)
        assert answer.status_code == 401, (token, answer.text)
        assert answer.json()["error"] == "unauthorized"
        assert "not-a-token" not in answer.text
    for role, user in USERS.items():
        answer = _call(site.client, method, path, body, site.tokens[user])
        if role not in roles:
            assert answer.status_code == 403, (role, answer.text)
            assert answer.json()["error"] == "forbidden"
        elif route not in NOT_TRIED_ADMITTED:
            assert answer.status_code not in (401, 403), (role, answer.text)
    if Role.ADMIN in roles and route not in NOT_TRIED_ADMITTED:
        admin = _call(site.client, method, path, body, ADMIN_TOKEN)
        assert admin.status_code not in (401, 403), admin.text


def test_probes_docs_and_pages_need_no_token(site: Site) -> None:
    for path in ("/health", "/openapi.json", "/docs", "/review/login"):
        assert site.client.get(path).status_code == 200, path
    # The review pages send a browser without a session to the sign-in page.
    page = site.client.get("/review", follow_redirects=False)
    assert page.status_code == 303 and "/review/login" in page.headers["location"]
