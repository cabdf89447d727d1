"""Load on loopback: concurrent clients post CodiEsp dev notes to /suggest of the installed
service (one uvicorn worker, its promoted model) for a bounded time and number of requests.

Run with `make bench`. MEDCODE_BENCH_LOAD_CLIENTS (32), MEDCODE_BENCH_LOAD_SECONDS (60) and
MEDCODE_BENCH_LOAD_MAX_REQUESTS (5000) change the run. Figures are printed and written to
<var>/bench/load.json; the server's log goes next to them.

The per-caller rate limit is raised for the run: every client calls with the one admin
token, so the default limit (600/min, burst 120) would make most answers 429 and the figures
would measure the limiter, not the service. The in-flight cap stays as installed (32 per
worker). 429 and 503 are refusals by design and are counted apart; anything else that is
not a 200 (other statuses, connection errors, timeouts) is an error, and there must be none.

One asyncio client drives every connection: it spends about 2 ms of CPU per request, the
server over 100 ms per note, so on a small machine the client is not what is measured. The
run records both processes' CPU time to show it.
"""

import asyncio
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from app.config import Settings
from tests.conftest import ADMIN_AUTH, launch

pytestmark = pytest.mark.bench

CLIENTS = int(os.environ.get("MEDCODE_BENCH_LOAD_CLIENTS", "32"))
SECONDS = float(os.environ.get("MEDCODE_BENCH_LOAD_SECONDS", "60"))
MAX_REQUESTS = int(os.environ.get("MEDCODE_BENCH_LOAD_MAX_REQUESTS", "5000"))
# Far above any answer the service should give (its reading budget is 4.5 s), so that a
# timeout means a stuck request, not a slow one.
REQUEST_TIMEOUT_SECONDS = 60.0
WARM_UP_NOTES = 5
BY_DESIGN = frozenset({429, 503})


@dataclass
class Load:
    """What the clients saw: one latency per 200, a count per status or failure."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    model_versions: Counter[str] = field(default_factory=Counter)
    sent: int = 0

    def record(self, started: float, response: httpx.Response) -> None:
        self.statuses[str(response.status_code)] += 1
        if response.status_code == 200:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            self.model_versions[response.json()["model_version"]] += 1
        elif response.status_code not in BY_DESIGN:
            self.errors[f"{response.status_code} {_error_name(response)}"] += 1

    def failed(self, error: httpx.TransportError) -> None:
        kind = "timeout" if isinstance(error, httpx.TimeoutException) else "connection error"
        self.statuses[kind] += 1
        self.errors[f"{kind} ({type(error).__name__})"] += 1


def _error_name(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", "?"))
    except ValueError:
        return "(not JSON)"


async def _client(client: httpx.AsyncClient, notes: list[str], load: Load, deadline: float) -> None:
    while time.perf_counter() < deadline and load.sent < MAX_REQUESTS:
        text = notes[load.sent % len(notes)]
        load.sent += 1  # one event loop: no lock needed
        started = time.perf_counter()
        try:
            response = await client.post("/suggest", json={"text": text})
        except httpx.TransportError as error:
            load.failed(error)
        else:
            load.record(started, response)


@dataclass
class Run:
    """The load, how long it took (first request to last answer) and the CPU time the
    client (this process) and the server spent meanwhile."""

    load: Load
    elapsed: float
    client_cpu: float
    server_cpu: float
    load_before: float


async def _run(base: str, server_pid: int, notes: list[str]) -> Run:
    load = Load()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=base, headers=ADMIN_AUTH, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        for text in notes[:WARM_UP_NOTES]:
            (await client.post("/suggest", json={"text": text})).raise_for_status()
        load_before = os.getloadavg()[0]
        client_cpu, server_cpu = time.process_time(), _cpu_seconds(server_pid)
        started = time.perf_counter()
        deadline = started + SECONDS
        await asyncio.gather(*(_client(client, notes, load, deadline) for _ in range(CLIENTS)))
        return Run(
            load,
            time.perf_counter() - started,
            time.process_time() - client_cpu,
            _cpu_seconds(server_pid) - server_cpu,
            load_before,
        )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def installed_service() -> Iterator[tuple[str, int, Path]]:
    """`medcode serve` (one worker) on what `make install` built: (base URL, pid, var)."""
    var_dir = Settings().var_dir
    if not (var_dir / "lexicon").is_dir():
        pytest.skip("nothing built in var/: run `make install` first")
    (var_dir / "bench").mkdir(exist_ok=True)
    unlimited = {"MEDCODE_RATE_LIMIT_PER_MINUTE": "1000000", "MEDCODE_RATE_LIMIT_BURST": "100000"}
    process, base = launch(var_dir, var_dir / "bench" / "server.log", unlimited)
    try:
        yield base, process.pid, var_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


def _dev_notes(data_dir: Path) -> list[str]:
    paths = sorted((data_dir / "codiesp" / "dev" / "text_files_en").glob("*.txt"))
    if not paths:
        pytest.skip("no CodiEsp dev notes")
    return [p.read_text(encoding="utf-8") for p in paths]


def _percentile(ordered: list[float], q: int) -> float | None:
    if len(ordered) < 2:
        return ordered[0] if ordered else None
    return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]


def _figures(run: Run) -> dict[str, Any]:
    load, elapsed = run.load, run.elapsed
    ordered = sorted(load.latencies_ms)
    ok = load.statuses["200"]
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
            round(run.load_before, 2),
            round(os.getloadavg()[0], 2),
        ],
        "model_versions": dict(load.model_versions),
        "elapsed_seconds": round(elapsed, 2),
        "requests": load.sent,
        "statuses": dict(sorted(load.statuses.items())),
        "by_design": {s: load.statuses[s] for s in sorted(str(b) for b in BY_DESIGN)},
        "errors": sum(load.errors.values()),
        "error_kinds": dict(load.errors),
        "latency_ms_of_200": {
            name: None if value is None else round(value, 1)
            for name, value in {
                "p50": _percentile(ordered, 50),
                "p95": _percentile(ordered, 95),
                "p99": _percentile(ordered, 99),
                "max": ordered[-1] if ordered else None,
            }.items()
        },
        "notes_per_second": round(ok / elapsed, 2),
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
        ("latency p50/p95/p99", "{p50} / {p95} / {p99} ms (max {max})".format(**latency)),
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
    notes = _dev_notes(data_dir)
    figures = _figures(asyncio.run(_run(base, server_pid, notes)))
    out = var_dir / "bench" / "load.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nPOST /suggest under load, {len(notes)} CodiEsp dev notes:\n{_table(figures)}")
    print(f"  figures in {out}")
    assert figures["errors"] == 0, figures["error_kinds"]
    assert figures["statuses"].get("200"), "no note was answered: nothing was measured"
