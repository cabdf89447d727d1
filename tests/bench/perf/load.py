"""Concurrent clients posting notes to /suggest for a bounded time and number of requests.

429 and 503 are refusals by design (rate limit, in-flight cap) and are counted apart;
anything else that is not a 200 (other statuses, connection errors, timeouts) is an error.

One asyncio client drives every connection: it spends about 2 ms of CPU per request, the
server over 50 ms per note, so on a small machine the client is not what is measured. A run
records both sides' CPU time to show it.
"""

import asyncio
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx2 as httpx

from tests.bench.perf.procfs import cpu_seconds
from tests.conftest import ADMIN_AUTH

# Far above any answer the service should give (its reading budget is 4.5 s), so that a
# timeout means a stuck request, not a slow one.
REQUEST_TIMEOUT_SECONDS = 60.0
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

    @property
    def answered(self) -> int:
        return self.statuses["200"]

    @property
    def refused_by_design(self) -> dict[str, int]:
        return {s: self.statuses[s] for s in sorted(str(b) for b in BY_DESIGN)}


def _error_name(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", "?"))
    except ValueError:
        return "(not JSON)"


@dataclass(frozen=True)
class Run:
    """The load, how long it took (first request to last answer) and the CPU time the
    client (this process) and the server's processes spent meanwhile."""

    load: Load
    clients: int
    elapsed: float
    client_cpu: float
    server_cpu_by_process: list[float]  # in the order of the pids given
    load_average_before: float
    load_average_after: float

    @property
    def server_cpu(self) -> float:
        return sum(self.server_cpu_by_process)

    @property
    def notes_per_second(self) -> float:
        return self.load.answered / self.elapsed


def run_load(
    base: str,
    server_pids: Sequence[int],
    notes: Sequence[str],
    clients: int,
    seconds: float,
    max_requests: int,
    warm_up: int = 5,
    keep_alive: bool = True,
) -> Run:
    """`clients` connections posting `notes` in turn, each as soon as its last answer is
    back, until `seconds` have passed or `max_requests` were sent; after the first
    `warm_up` notes, sent at once (so that with several workers each reads some)."""
    return asyncio.run(
        _run(base, server_pids, notes, clients, seconds, max_requests, warm_up, keep_alive)
    )


async def _run(
    base: str,
    server_pids: Sequence[int],
    notes: Sequence[str],
    clients: int,
    seconds: float,
    max_requests: int,
    warm_up: int,
    keep_alive: bool,
) -> Run:
    load = Load()
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients if keep_alive else 0
    )
    async with httpx.AsyncClient(
        base_url=base, headers=ADMIN_AUTH, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        warming = await asyncio.gather(
            *(client.post("/suggest", json={"text": text}) for text in notes[:warm_up])
        )
        for answer in warming:
            answer.raise_for_status()
        load_before = os.getloadavg()[0]
        client_cpu, server_cpu = time.process_time(), _each_cpu(server_pids)
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_client(client, notes, load, deadline, max_requests) for _ in range(clients))
        )
        return Run(
            load,
            clients,
            time.perf_counter() - started,
            time.process_time() - client_cpu,
            [b - a for a, b in zip(server_cpu, _each_cpu(server_pids), strict=True)],
            load_before,
            os.getloadavg()[0],
        )


async def _client(
    client: httpx.AsyncClient,
    notes: Sequence[str],
    load: Load,
    deadline: float,
    max_requests: int,
) -> None:
    while time.perf_counter() < deadline and load.sent < max_requests:
        text = notes[load.sent % len(notes)]
        load.sent += 1  # one event loop: no lock needed
        started = time.perf_counter()
        try:
            response = await client.post("/suggest", json={"text": text})
        except httpx.TransportError as error:
            load.failed(error)
        else:
            load.record(started, response)


def _each_cpu(pids: Sequence[int]) -> list[float]:
    return [cpu_seconds([pid]) for pid in pids]
