"""Latency seen by a client over real HTTP (one uvicorn worker, loopback).

Run with `make bench`.
"""

import statistics
import time

import httpx2 as httpx
import pytest

from tests.bench.test_search_latency import TYPED
from tests.conftest import ADMIN_AUTH

pytestmark = pytest.mark.bench


def _percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[int(len(timings) * 0.95)]


def test_code_search_over_http_p95_is_under_20_ms(server: str) -> None:
    timings = []
    with httpx.Client(base_url=server, headers=ADMIN_AUTH) as client:
        for text in TYPED:
            for end in range(1, len(text) + 1):
                started = time.perf_counter()
                response = client.get("/codes/search", params={"q": text[:end], "limit": 20})
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
    p50, p95 = _percentiles(timings)
    print(
        f"\nGET /codes/search over HTTP, {len(timings)} keystrokes:"
        f" p50 {p50:.2f} ms, p95 {p95:.2f} ms"
    )
    assert p95 < 20.0


def _dev_notes(data_dir) -> list[str]:  # type: ignore[no-untyped-def]
    paths = sorted((data_dir / "codiesp" / "dev" / "text_files_en").glob("*.txt"))
    if not paths:
        pytest.skip("no CodiEsp dev notes")
    return [p.read_text(encoding="utf-8") for p in paths]


@pytest.mark.parametrize("path", ["/annotate", "/suggest"])
def test_latency_of_the_installed_service_on_dev_notes(
    installed_server: str,
    data_dir,
    path: str,  # type: ignore[no-untyped-def]
) -> None:
    """One worker, after a warm-up, on the 250 CodiEsp dev notes (median ~270 words)."""
    notes = _dev_notes(data_dir)
    timings = []
    with httpx.Client(base_url=installed_server, headers=ADMIN_AUTH, timeout=60) as client:
        for text in notes[:10]:
            client.post(path, json={"text": text})
        for text in notes:
            started = time.perf_counter()
            response = client.post(path, json={"text": text})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    p50, p95 = _percentiles(timings)
    print(
        f"\nPOST {path} (installed build) on {len(notes)} dev notes:"
        f" p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
