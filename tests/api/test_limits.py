"""Limits each request meets before any work: a per-caller rate (429 with Retry-After),
refused tokens per client address, a cap on requests in flight per worker (503 with
Retry-After), and unexpected errors answered without their messages."""

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi import BackgroundTasks, FastAPI
from fastapi.testclient import TestClient

from app.db import schema
from app.db.session import Database
from app.limits import RateLimitedError, RateLimiter
from app.log_hygiene import install as install_log_hygiene
from app.main import create_app
from app.middleware import InFlightLimit, UnexpectedErrors
from app.services.suggest import SuggestService
from tests.api.review_support import Site, add_users, review_settings

MARKER = "zebra-marker-7731 the patient's own words"


@pytest.fixture
def limited(tmp_path: Path, data_dir: Path, service: SuggestService) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    database = Database.from_url(url)
    schema.upgrade(database.engine)
    tokens = add_users(database)
    settings = review_settings(tmp_path, data_dir, url).model_copy(
        update={"rate_limit_per_minute": 60.0, "rate_limit_burst": 3, "failed_auth_burst": 2}
    )
    try:
        with TestClient(create_app(settings, service, database)) as client:
            yield Site(client, database, tokens)
    finally:
        database.dispose()


def _search(site: Site, token: str) -> httpx.Response:
    return site.client.get(
        "/codes/search", params={"q": "pneumonia"}, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_caller_over_its_rate_gets_429_with_retry_after(limited: Site) -> None:
    for _ in range(3):
        assert _search(limited, limited.tokens["alice"]).status_code == 200
    refused = _search(limited, limited.tokens["alice"])
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another caller has a bucket of their own.
    assert _search(limited, limited.tokens["bob"]).status_code == 200


def test_refused_tokens_are_limited_per_client_address(limited: Site) -> None:
    for _ in range(2):
        assert _search(limited, "a-guess").status_code == 401
    assert _search(limited, "another-guess").status_code == 429
    assert int(_search(limited, "a-third").headers["Retry-After"]) >= 1


def test_the_rate_limiter_earns_requests_back_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    limiter.spend("x")
    limiter.spend("x")
    with pytest.raises(RateLimitedError) as refused:
        limiter.spend("x")
    assert refused.value.retry_after == 1
    now[0] += 1.0
    limiter.spend("x")  # one earned back after a second at 60 a minute


def test_requests_past_the_cap_in_flight_get_503_and_probes_pass() -> None:
    release = asyncio.Event()
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"ok": "yes"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    capped = InFlightLimit(app, limit=2, exempt=frozenset({"/health"}))

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=capped)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.get("/slow"))
            second = asyncio.create_task(client.get("/slow"))
            while capped.in_flight < 2:
                await asyncio.sleep(0.01)
            third = await client.get("/slow")
            probe = await client.get("/health")
            release.set()
            return [await first, await second, third, probe]

    first, second, third, probe = asyncio.run(scenario())
    assert first.status_code == second.status_code == 200
    assert third.status_code == 503 and third.json()["error"] == "busy"
    assert third.headers["Retry-After"] == "1"
    assert probe.status_code == 200
    assert capped.in_flight == 0


def test_a_request_is_counted_out_once_its_answer_is_sent() -> None:
    """Work after the answer (a background task, the task's own unwinding) does not hold
    a place: the client's next request must find it free."""
    after = asyncio.Event()
    app = FastAPI()

    @app.get("/answered")
    async def answered(tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(after.wait)
        return {"ok": "yes"}

    capped = InFlightLimit(app, limit=1, exempt=frozenset())

    async def scenario() -> tuple[httpx.Response, int]:
        transport = httpx.ASGITransport(app=capped)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.get("/answered"))
            for _ in range(500):  # the answer is sent, its background task still waits
                await asyncio.sleep(0.01)
                if capped.in_flight == 0:
                    break
            counted = capped.in_flight
            after.set()
            return await first, counted

    first, counted = asyncio.run(scenario())
    assert first.status_code == 200
    assert counted == 0
    assert capped.in_flight == 0


def test_an_unexpected_error_is_a_500_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_hygiene()
    app = FastAPI()

    @app.post("/boom")
    async def boom() -> None:
        raise ValueError(MARKER)

    app.add_middleware(UnexpectedErrors)  # as create_app does: inside the server's own

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/boom", content=MARKER.encode())

    with caplog.at_level(logging.DEBUG):
        answer = asyncio.run(call())
    assert answer.status_code == 500 and answer.json()["error"] == "internal_error"
    assert MARKER not in answer.text
    assert "ValueError" in caplog.text and "/boom" in caplog.text
    assert MARKER not in caplog.text


def test_logged_tracebacks_keep_places_and_types_not_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_hygiene()
    logger = logging.getLogger("tests.hygiene")
    try:
        try:
            raise KeyError(MARKER)
        except KeyError as inner:
            raise RuntimeError(f"while reading {MARKER}") from inner
    except RuntimeError:
        with caplog.at_level(logging.ERROR):
            logger.exception("reading failed")
    text = caplog.text
    assert "RuntimeError" in text and "KeyError" in text and "test_limits.py" in text
    assert MARKER not in text


def test_a_note_over_the_reading_budget_is_refused_without_its_text(
    tmp_path: Path, data_dir: Path, service: SuggestService
) -> None:
    url = f"sqlite:///{tmp_path / 'budget.db'}"
    settings = review_settings(tmp_path, data_dir, url).model_copy(update={"request_seconds": 1e-9})
    with TestClient(create_app(settings, service)) as client:
        auth = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
        for path in ("/suggest", "/annotate"):
            answer = client.post(path, json={"text": f"Pneumonia. {MARKER}"}, headers=auth)
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"] == "reading_budget_exceeded"
            assert MARKER not in answer.text
