"""`medcode serve --workers 2`: the workers are forked from the loaded process, so they
share its memory, answer alike, are replaced when one dies, and all stop with the server."""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import psutil
import pytest

from codes.catalog import Catalog
from models.artifacts import ArtifactStore
from tests.conftest import ADMIN_AUTH, launch

NOTE = "Community-acquired pneumonia. Type 2 diabetes mellitus without complications."


@pytest.fixture(scope="module")
def two_workers(
    catalog: Catalog,
    reader_dir: Path,
    model_store: ArtifactStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[psutil.Process, str]]:
    log = tmp_path_factory.mktemp("forked") / "server.log"
    process, base = launch(catalog.folder.parent, log, workers=2)
    try:
        yield psutil.Process(process.pid), base
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _workers(
    server: psutil.Process, without: int | None = None, seconds: float = 60
) -> list[psutil.Process]:
    """The server's two worker processes (none of them `without`), once it has them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = [c for c in server.children() if c.pid != without and _running(c)]
        if len(workers) == 2:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"the server did not have two workers within {seconds} s")


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _smaps(process: psutil.Process) -> dict[str, int]:
    rollup = Path(f"/proc/{process.pid}/smaps_rollup").read_text().splitlines()[1:]
    return {line.split(":")[0]: int(line.split()[1]) for line in rollup}


def _suggest(base: str) -> dict[str, object]:
    response = httpx.post(f"{base}/suggest", json={"text": NOTE}, headers=ADMIN_AUTH, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_workers_share_the_loaded_memory(two_workers: tuple[psutil.Process, str]) -> None:
    server, base = two_workers
    answers = [_suggest(base) for _ in range(20)]  # on both workers, by the kernel's choice
    assert all(answer == answers[0] for answer in answers)
    for worker in _workers(server):
        memory = _smaps(worker)
        # Spawned workers each held a private copy (PSS about 95% of RSS); forked ones
        # share the loaded pages with the server and each other.
        assert memory["Pss"] < 0.75 * memory["Rss"], memory


def test_a_dead_worker_is_replaced_and_the_service_answers(
    two_workers: tuple[psutil.Process, str],
) -> None:
    server, base = two_workers
    killed = _workers(server)[0]
    killed.kill()
    _workers(server, without=killed.pid)
    assert all(_suggest(base)["suggestions"] for _ in range(10))


def test_stopping_the_server_stops_every_worker(
    catalog: Catalog, reader_dir: Path, model_store: ArtifactStore, tmp_path: Path
) -> None:
    process, base = launch(catalog.folder.parent, tmp_path / "server.log", workers=2)
    workers = _workers(psutil.Process(process.pid))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    _gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/health", timeout=2)
