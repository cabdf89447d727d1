"""Load on loopback: concurrent clients post CodiEsp dev notes to /suggest of the installed
service (one uvicorn worker, its promoted model) for a bounded time and number of requests.

Run with `make bench-all`. MEDCODE_BENCH_LOAD_CLIENTS (32), MEDCODE_BENCH_LOAD_SECONDS (60) and
MEDCODE_BENCH_LOAD_MAX_REQUESTS (5000) change the run. Figures are printed and written to
<var>/bench/load.json; the server's log goes next to them.

The per-caller rate limit is raised for the run (tests.conftest.launch does it for every
server of the suite): every client calls with the one admin token, so the default limit
(600/min, burst 120) would make most answers 429 and the figures would measure the
limiter, not the service. The in-flight cap stays as installed (32 per worker). 429 and 503
are refusals by design and are counted apart; anything else that is not a 200 (other
statuses, connection errors, timeouts) is an error, and there must be none. The clients are
tests/bench/perf/load.py's, which the performance benchmark runs too (8 clients).
"""

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.bench.perf.load import Run, run_load
from tests.bench.perf.notes import dev_texts
from tests.bench.perf.stats import Summary
from tests.conftest import launch

pytestmark = pytest.mark.bench

CLIENTS = int(os.environ.get("MEDCODE_BENCH_LOAD_CLIENTS", "32"))
SECONDS = float(os.environ.get("MEDCODE_BENCH_LOAD_SECONDS", "60"))
MAX_REQUESTS = int(os.environ.get("MEDCODE_BENCH_LOAD_MAX_REQUESTS", "5000"))
WARM_UP_NOTES = 5


@pytest.fixture(scope="module")
def installed_service() -> Iterator[tuple[str, int, Path]]:
    """`medcode serve` (one worker) on what `make install` built: (base URL, pid, var)."""
    var_dir = Settings().var_dir
    if not (var_dir / "lexicon").is_dir():
        pytest.skip("nothing built in var/: run `make install` first")
    (var_dir / "bench").mkdir(exist_ok=True)
    process, base = launch(var_dir, var_dir / "bench" / "server.log")
    try:
        yield base, process.pid, var_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


def _figures(run: Run) -> dict[str, Any]:
    load, elapsed = run.load, run.elapsed
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "endpoint": "POST /suggest",
        "clients": CLIENTS,
        "seconds": SECONDS,
        "max_requests": MAX_REQUESTS,
        "workers": 1,
        "cpus": os.cpu_count(),
        # Other work on the machine shares its cores: high figures here explain slow ones.
        "load_average_1_min_before_after": [
            round(run.load_average_before, 2),
            round(run.load_average_after, 2),
        ],
        "model_versions": dict(load.model_versions),
        "elapsed_seconds": round(elapsed, 2),
        "requests": load.sent,
        "statuses": dict(sorted(load.statuses.items())),
        "by_design": load.refused_by_design,
        "errors": sum(load.errors.values()),
        "error_kinds": dict(load.errors),
        "latency_ms_of_200": (
            Summary.of(load.latencies_ms).as_dict(1) if load.latencies_ms else None
        ),
        "notes_per_second": round(run.notes_per_second, 2),
        # Share of one core each process used during the run.
        "client_cpu_share": round(run.client_cpu / elapsed, 3),
        "server_cpu_share": round(run.server_cpu / elapsed, 3),
    }


def _table(figures: dict[str, Any]) -> str:
    latency = figures["latency_ms_of_200"]
    rows = [
        ("clients x seconds", f"{figures['clients']} x {figures['seconds']:g} s (1 worker)"),
        ("requests", f"{figures['requests']} in {figures['elapsed_seconds']} s"),
        ("statuses", ", ".join(f"{k}: {v}" for k, v in figures["statuses"].items())),
        ("429 / 503 (by design)", f"{figures['by_design']['429']} / {figures['by_design']['503']}"),
        ("errors", f"{figures['errors']} {figures['error_kinds'] or ''}".strip()),
        (
            "latency p50/p95/p99",
            "{p50} / {p95} / {p99} ms (max {max})".format(**latency) if latency else "no 200",
        ),
        ("throughput", f"{figures['notes_per_second']} notes/s (200s)"),
        (
            "load average before/after",
            "{} / {}".format(*figures["load_average_1_min_before_after"]),
        ),
        (
            "CPU, share of a core",
            f"server {figures['server_cpu_share']:.0%}, client {figures['client_cpu_share']:.1%}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads CPU time from /proc")
def test_suggest_under_concurrent_load_has_no_errors(
    installed_service: tuple[str, int, Path], data_dir: Path
) -> None:
    base, server_pid, var_dir = installed_service
    notes = dev_texts(data_dir)
    run = run_load(base, [server_pid], notes, CLIENTS, SECONDS, MAX_REQUESTS, WARM_UP_NOTES)
    figures = _figures(run)
    out = var_dir / "bench" / "load.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nPOST /suggest under load, {len(notes)} CodiEsp dev notes:\n{_table(figures)}")
    print(f"  figures in {out}")
    assert figures["errors"] == 0, figures["error_kinds"]
    assert figures["statuses"].get("200"), "no note was answered: nothing was measured"
