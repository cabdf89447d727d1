"""Latency seen by a client over real HTTP (one uvicorn worker, loopback).

Run with `make bench-all`; `make bench` (tests/bench/test_performance.py) measures
/suggest and /codes/search on the installed service with more figures.
"""

import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.bench.perf.notes import dev_texts
from tests.bench.perf.stats import Summary
from tests.bench.test_search_latency import TYPED
from tests.conftest import ADMIN_AUTH

pytestmark = pytest.mark.bench


def test_code_search_over_http_p95_is_under_20_ms(server: str) -> None:
    timings = []
    with httpx.Client(base_url=server, headers=ADMIN_AUTH) as client:
        for text in TYPED:
            for end in range(1, len(text) + 1):
                started = time.perf_counter()
                response = client.get("/codes/search", params={"q": text[:end], "limit": 20})
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
    figures = Summary.of(timings)
    print(
        f"\nGET /codes/search over HTTP, {len(timings)} keystrokes:"
        f" p50 {figures.p50:.2f} ms, p95 {figures.p95:.2f} ms"
    )
    assert figures.p95 < 20.0


@pytest.mark.parametrize("path", ["/annotate", "/suggest"])
def test_latency_of_the_installed_service_on_dev_notes(
    installed_server: str, data_dir: Path, path: str
) -> None:
    """One worker, after a warm-up, on the 250 CodiEsp dev notes (median ~280 words)."""
    notes = dev_texts(data_dir)
    timings = []
    with httpx.Client(base_url=installed_server, headers=ADMIN_AUTH, timeout=60) as client:
        for text in notes[:10]:
            client.post(path, json={"text": text})
        for text in notes:
            started = time.perf_counter()
            response = client.post(path, json={"text": text})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    figures = Summary.of(timings)
    print(
        f"\nPOST {path} (installed build) on {len(notes)} dev notes:"
        f" p50 {figures.p50:.1f} ms, p95 {figures.p95:.1f} ms"
    )
