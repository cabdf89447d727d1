"""`medcode` commands run as a user runs them, timed, with the peak memory of the process
and everything it starts: `medcode train` into a scratch models folder, `medcode batch`."""

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.bench.perf.procfs import descendants, rss_bytes

MEDCODE = Path(sys.executable).parent / "medcode"
# Often enough to see a peak that lasts a fraction of a second; a shorter one may be missed.
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Measured:
    """A finished command: wall time, exit status, the peak over its run of the RSS summed
    over its process tree (and of its largest process), and the end of its output."""

    argv: list[str]
    seconds: float
    cpu_seconds: float  # user + system, of the command and every process it waited for
    returncode: int
    peak_tree_rss_mb: float
    peak_process_rss_mb: float
    output_tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_measured(
    arguments: Sequence[str], env: dict[str, str], log: Path, timeout: float
) -> Measured:
    """`medcode <arguments>` with `env` added to this process's environment; its output
    goes to `log` (a file: a full pipe would block it)."""
    argv = [str(MEDCODE), *arguments]
    peak_tree = peak_process = 0
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        # Children's CPU time counts once they have been waited for: before and after this
        # one, what was counted before it is taken away.
        cpu_before = _children_cpu()
        started = time.monotonic()
        process = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )
        while process.poll() is None:
            if time.monotonic() - started > timeout:
                process.kill()
                process.wait()
                break
            sizes = [rss_bytes(pid) for pid in [process.pid, *descendants(process.pid)]]
            peak_tree, peak_process = max(peak_tree, sum(sizes)), max(peak_process, *sizes, 0)
            time.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started
    cpu = _children_cpu() - cpu_before
    tail = log.read_text(errors="replace")[-2000:]
    return Measured(
        argv, seconds, cpu, process.returncode, peak_tree / 1e6, peak_process / 1e6, tail
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def has_command(words: Sequence[str], options: Sequence[str]) -> bool:
    """Whether `medcode <words> --help` works and names every option (a command another
    change is still bringing in may not exist yet)."""
    found = subprocess.run(
        [str(MEDCODE), *words, "--help"], capture_output=True, text=True, timeout=120
    )
    return found.returncode == 0 and all(option in found.stdout for option in options)


def scratch_var(var_dir: Path, scratch: Path) -> Path:
    """A var folder that shares the built catalog and lexicon of `var_dir` (links) and has
    an empty models folder: what `medcode train` writes there leaves var/models alone."""
    scratch.mkdir(parents=True, exist_ok=True)
    for built in ("catalog", "lexicon"):
        link = scratch / built
        if not link.exists():
            link.symlink_to((var_dir / built).resolve(), target_is_directory=True)
    (scratch / "models").mkdir(exist_ok=True)
    return scratch


def write_jsonl(path: Path, records: Sequence[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
