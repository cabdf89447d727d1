"""`medcode serve` on what `make install` built (var/, its promoted model), as the
benchmarks run it: on loopback, with one worker or several, timed from process start to
the first 200 from /ready; its worker processes and their memory."""

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import Settings
from tests.bench.perf.procfs import children, command_line
from tests.conftest import launch

# What uvicorn logs in each worker once the app's lifespan has loaded everything.
READY_LINE = "Application startup complete."


def installed_var_dir() -> Path:
    """var/ as `make install` and `make model` left it; a skip if nothing is built."""
    var_dir = Settings().var_dir
    if not (var_dir / "lexicon").is_dir():
        pytest.skip("nothing built in var/: run `make install` first")
    return var_dir


@dataclass(frozen=True)
class Server:
    process: "subprocess.Popen[bytes]"
    base: str
    workers: int
    log: Path
    started: float  # time.monotonic() at process start
    ready: float  # and at its first 200 from /ready

    @property
    def startup_seconds(self) -> float:
        return self.ready - self.started

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the server itself with one worker; with
        several, the worker processes it started (its children)."""
        if self.workers == 1:
            return [self.process.pid]
        found = children(self.process.pid)
        return [pid for pid in found if "resource_tracker" not in command_line(pid)]

    def every_worker_ready_seconds(self, timeout: float = 180) -> float:
        """Process start to the moment the last worker logged that it serves (the first
        200 from /ready comes from whichever worker is first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_text(errors="replace").count(READY_LINE) >= self.workers:
                return time.monotonic() - self.started
            time.sleep(0.05)
        raise AssertionError(f"not every worker was ready within {timeout:.0f} s")

    def workers_restarted(self) -> int:
        """Workers uvicorn's supervisor replaced: it kills one that does not answer its
        health check within 5 s, which a worker busy loading may not."""
        return restarts_in(self.log)


def restarts_in(log: Path) -> int:
    return len(re.findall(r"Child process \[\d+\] died", log.read_text(errors="replace")))


@contextmanager
def served(
    var_dir: Path, log: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """`medcode serve --workers N` on var_dir until the block ends; its output goes to
    `log`, which starts empty."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    started = time.monotonic()
    process, base = launch(var_dir, log, extra_env, workers=workers)
    server = Server(process, base, workers, log, started, time.monotonic())
    try:
        yield server
    finally:
        process.terminate()  # uvicorn's supervisor stops its workers
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # launch gave it a process group
            process.wait(timeout=30)
