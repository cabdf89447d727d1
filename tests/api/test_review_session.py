"""Signing in to the review pages with a token, the session cookie's flags, CSRF on cookie
requests (and not on Bearer ones), signing out; on SQLite and on PostgreSQL."""

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.tables import WebSession
from app.services.suggest import SuggestService
from app.web.pages import page_router
from tests.api.review_support import Site, open_site, seed

API = "/api/review"


@pytest.fixture
def site(
    var_dir: Path, data_dir: Path, database_url: str, service: SuggestService
) -> Iterator[Site]:
    """The app with the review pages, over a fresh database, on SQLite and PostgreSQL."""
    for opened in open_site(var_dir, data_dir, database_url, service):
        app = opened.client.app
        assert hasattr(app, "include_router") and hasattr(app, "routes")
        if not any(getattr(r, "path", None) == "/review/login" for r in app.routes):
            app.include_router(page_router())
        yield opened


def _form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def _set_cookies(response: object) -> list[str]:
    headers = response.headers  # type: ignore[attr-defined]
    return [v for k, v in headers.multi_items() if k == "set-cookie"]


def _cookie(response: object, name: str) -> str:
    [line] = [c for c in _set_cookies(response) if c.startswith(f"{name}=")]
    return line


def _sign_in(client: TestClient, token: str) -> str:
    """Sign in through the login page as a browser does; the session's CSRF token."""
    form_token = _form_token(client.get("/review/login").text)
    answer = client.post(
        "/review/login", data={"token": token, "csrf_token": form_token}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/review", answer.text
    page = client.get("/review")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found, page.text
    return found.group(1)


def test_the_login_page_carries_a_login_csrf_token_in_form_and_cookie(site: Site) -> None:
    page = site.client.get("/review/login")
    assert page.status_code == 200
    cookie = _cookie(page, "medcode_login_csrf")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/review" in cookie
    assert cookie.split(";")[0].split("=", 1)[1] == _form_token(page.text)
    # The same token while the browser holds it.
    assert _form_token(site.client.get("/review/login").text) == _form_token(page.text)


def test_signing_in_sets_a_strict_httponly_session_cookie_and_goes_to_the_queue(
    site: Site,
) -> None:
    form_token = _form_token(site.client.get("/review/login").text)
    answer = site.client.post(
        "/review/login",
        data={"token": site.tokens["alice"], "csrf_token": form_token},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/review"
    cookie = _cookie(answer, "medcode_session")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/;" in cookie + ";"
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    session_id = cookie.split(";")[0].split("=", 1)[1]
    with site.database.session_scope() as session:
        [row] = session.scalars(select(WebSession)).all()
        assert row.session_hash == hashlib.sha256(session_id.encode()).hexdigest()
        assert row.user.name == "alice"
        assert (row.expires_at - row.created_at).total_seconds() == 12 * 3600

    page = site.client.get("/review")
    assert "alice" in page.text
    assert f'content="{row.csrf_token}"' in page.text


def test_over_https_the_session_cookie_is_secure(site: Site) -> None:
    app = site.client.app
    with TestClient(app, base_url="https://testserver") as secure:
        page = secure.get("/review/login")
        assert "Secure" in _cookie(page, "medcode_login_csrf")
        form_token = _form_token(page.text)
        answer = secure.post(
            "/review/login",
            data={"token": site.tokens["alice"], "csrf_token": form_token},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert "Secure" in _cookie(answer, "medcode_session")


@pytest.mark.parametrize(
    ("who", "with_csrf", "error"),
    [("nobody", True, "invalid"), ("feed", True, "forbidden"), ("alice", False, "expired")],
)
def test_a_refused_sign_in_goes_back_to_the_login_page_without_a_session(
    site: Site, who: str, with_csrf: bool, error: str
) -> None:
    form_token = _form_token(site.client.get("/review/login").text)
    answer = site.client.post(
        "/review/login",
        data={
            "token": site.tokens.get(who, "not-a-token"),
            "csrf_token": form_token if with_csrf else "forged",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/review/login?error={error}"
    assert not [c for c in _set_cookies(answer) if c.startswith("medcode_session=")]
    with site.database.session_scope() as session:
        assert session.scalars(select(WebSession)).all() == []


def test_cookie_requests_need_the_csrf_header_on_posts_and_bearer_ones_do_not(site: Site) -> None:
    encounter_id, _ = seed(site.database, "enc-1")
    csrf = _sign_in(site.client, site.tokens["alice"])
    claim = f"{API}/encounters/{encounter_id}/claim"

    assert site.client.get(f"{API}/encounters").status_code == 200  # a GET needs none
    missing = site.client.post(claim)
    assert missing.status_code == 403 and missing.json()["error"] == "csrf"
    wrong = site.client.post(claim, headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403
    right = site.client.post(claim, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 200 and right.json()["claimed_by"] == "alice"

    site.client.cookies.clear()
    bearer = site.client.post(claim, headers=site.auth("alice"))
    assert bearer.status_code == 200


def test_an_unknown_session_cookie_is_401(site: Site) -> None:
    site.client.cookies.set("medcode_session", "made-up")
    answer = site.client.get(f"{API}/encounters")
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"


def test_signing_out_ends_the_session(site: Site) -> None:
    csrf = _sign_in(site.client, site.tokens["alice"])
    session_cookie = site.client.cookies.get("medcode_session")
    assert site.client.post("/review/logout", follow_redirects=False).status_code == 403

    answer = site.client.post("/review/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/review/login"
    cleared = _cookie(answer, "medcode_session")
    assert "Max-Age=0" in cleared or "expires=Thu, 01 Jan 1970" in cleared
    with site.database.session_scope() as session:
        assert session.scalars(select(WebSession)).all() == []

    site.client.cookies.set("medcode_session", session_cookie or "")
    assert site.client.get(f"{API}/encounters").status_code == 401
    assert "Signed in as" not in site.client.get("/review").text
