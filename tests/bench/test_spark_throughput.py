"""Notes per second per core of `medcode batch`: the local engine in one process, and the
Spark engine on local[2], over the 250 CodiEsp dev notes with the installed promoted model.

Run with `make bench-all` (or `pytest -m bench -s tests/bench/test_spark_throughput.py`);
MEDCODE_BENCH_SPARK_REPEATS (3) sets the repeats. Each run is a fresh process, as a user
would start it. Figures are printed and written to <var>/bench/spark.json; the README's
"Back-coding on Spark" table and projection come from them.

- local: `run_local` with one process; its start-up is the interpreter, imports and the
  catalog, reader and model load; its rate counts the coding only.
- Spark: a session on local[2], then a warm-up run of 4 notes in 4 tasks, so both Python
  workers load the catalog, reader and model (start-up = session + warm-up), then the 250
  notes on the warm workers (rate per core = notes / coding seconds / 2).
Rates are given per second of wall time and per second of the coding processes' own
processor time (user + system, from /proc): on a machine others share, the second says
what a core of one's own would do.
Memory is sampled every half second from /proc: resident and proportional set size of each
Python worker (PSS counts pages shared with other processes fractionally), and the JVM's.
"""

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.batch.conftest import write_jsonl

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
        reason="the Spark engine needs pyspark and Java (make install, make java)",
    ),
]

REPEATS = int(os.environ.get("MEDCODE_BENCH_SPARK_REPEATS", "3"))
# Tasks of 25 notes: the two workers stay busy to the end of 250 notes, as they would
# through the bulk of a long run (the default, 1000, would make two tasks here).
NOTES_PER_TASK = 25

_LOCAL = """
import json, resource, sys, time
from pathlib import Path
from app.config import Settings
from batch.core import BatchOptions, NoteCoder
from batch.local import run_local
settings = Settings()
options = BatchOptions().pinned(settings)
started, cpu = time.perf_counter(), time.process_time()
coder = NoteCoder.open(settings, options)
loaded, cpu_loaded = time.perf_counter(), time.process_time()
summary = run_local(settings, options, Path(sys.argv[1]), Path(sys.argv[2]),
                    workers=1, progress=False, coder=coder)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"written": summary.written, "seconds": summary.seconds,
                  "load_seconds": loaded - started, "load_cpu_seconds": cpu_loaded - cpu,
                  "coding_cpu_seconds": time.process_time() - cpu_loaded,
                  "max_rss_mb": usage.ru_maxrss / 1024}))
"""

_SPARK = """
import json, os, sys, time
from app.config import Settings
from batch.core import BatchOptions
from batch.spark import run_spark, session, stop_session
from tests.bench.test_spark_throughput import cpu_seconds
notes, warm_up, out, warm_out = sys.argv[1:5]
started = time.perf_counter()
session("local[2]")
ready = time.perf_counter()
settings = Settings()
options = BatchOptions().pinned(settings)
run_spark(settings, options, warm_up, warm_out, notes_per_task=1)
warm = time.perf_counter()
loaded = cpu_seconds(os.getpid(), "pyspark.daemon")
summary = run_spark(settings, options, notes, out, notes_per_task=NOTES_PER_TASK)
done = time.perf_counter()
coded = cpu_seconds(os.getpid(), "pyspark.daemon")
stop_session()
print(json.dumps({"written": summary.written, "seconds": summary.seconds,
                  "session_seconds": ready - started, "warm_up_seconds": warm - ready,
                  "run_seconds": done - warm,
                  "load_cpu_seconds": max(loaded.values()),
                  "coding_cpu_seconds": sum(coded.values()) - sum(loaded.values())}))
""".replace("NOTES_PER_TASK", str(NOTES_PER_TASK))


def cpu_seconds(root: int, word: str) -> dict[int, float]:
    """Processor seconds (user + system) so far of each descendant of `root` whose command
    line holds `word`."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in _descendants(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if word in command:
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


_LOCAL_FIGURES = (
    "notes_per_second_per_core",
    "notes_per_cpu_second",
    "start_up_seconds",
    "load_seconds",
    "load_cpu_seconds",
    "max_rss_mb",
)
_SPARK_FIGURES = (
    "notes_per_second_per_core",
    "notes_per_cpu_second",
    "session_seconds",
    "warm_up_seconds",
    "start_up_seconds",
    "load_cpu_seconds",
    "worker_rss_mb",
    "worker_pss_mb",
    "jvm_rss_mb",
)


class Sampler:
    """Peak RSS and PSS (MB) of each descendant process of `root`, every half second."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peaks: dict[int, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid in _descendants(self.root):
                found = _memory(pid)
                if found is None:
                    continue
                peak = self.peaks.setdefault(pid, {})
                peak["command"] = found["command"]  # spark-submit's shell becomes the JVM
                for key in ("rss_mb", "pss_mb"):
                    peak[key] = max(peak.get(key, 0.0), found[key])

    def of(self, word: str) -> list[dict[str, Any]]:
        return [p for p in self.peaks.values() if word in p["command"]]


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory(pid: int) -> dict[str, Any] | None:
    try:
        command = (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")).decode()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    fields = {
        line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:] if ":" in line
    }
    return {"command": command, "rss_mb": fields["Rss"] / 1024, "pss_mb": fields["Pss"] / 1024}


def _run(code: str, args: list[str]) -> tuple[dict[str, Any], float, Sampler]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    with Sampler(process.pid) as sampler:
        stdout, _ = process.communicate(timeout=3600)
    assert process.returncode == 0, f"the run failed ({process.returncode})"
    return json.loads(stdout.splitlines()[-1]), time.perf_counter() - started, sampler


def test_notes_per_second_per_core_local_and_spark(tmp_path: Path) -> None:
    settings = Settings()
    if not (settings.var_dir / "lexicon").is_dir() or settings.data_dir is None:
        pytest.skip("nothing built in var/ or no data folder: run `make install` first")
    dev = sorted((settings.data_dir / "codiesp" / "dev" / "text_files_en").glob("*.txt"))
    notes = [{"note_id": p.stem, "text": p.read_text(encoding="utf-8")} for p in dev]
    notes_path = write_jsonl(tmp_path / "dev.jsonl", notes)
    warm_up = write_jsonl(tmp_path / "warm-up.jsonl", notes[:4])
    load_before = os.getloadavg()

    local_runs, spark_runs = [], []
    for repeat in range(REPEATS):
        figures, wall, sampler = _run(
            _LOCAL, [str(notes_path), str(tmp_path / f"local-{repeat}.parquet")]
        )
        assert figures["written"] == len(notes)
        figures |= {
            "start_up_seconds": wall - figures["seconds"],
            "notes_per_second_per_core": len(notes) / figures["seconds"],
            "notes_per_cpu_second": len(notes) / figures["coding_cpu_seconds"],
        }
        local_runs.append(figures)

        out, warm_out = tmp_path / f"spark-{repeat}", tmp_path / f"warm-{repeat}"
        figures, wall, sampler = _run(
            _SPARK, [str(notes_path), str(warm_up), str(out), str(warm_out)]
        )
        assert figures["written"] == len(notes)
        workers = [p for p in sampler.of("pyspark.daemon") if p["rss_mb"] > 500]
        figures |= {
            "wall_seconds": wall,
            "start_up_seconds": figures["session_seconds"] + figures["warm_up_seconds"],
            "notes_per_second_per_core": len(notes) / figures["seconds"] / 2,
            "notes_per_cpu_second": len(notes) / figures["coding_cpu_seconds"],
            "python_workers": len(workers),
            "worker_rss_mb": max(p["rss_mb"] for p in workers),
            "worker_pss_mb": max(p["pss_mb"] for p in workers),
            "jvm_rss_mb": max(p["rss_mb"] for p in sampler.of("java")),
        }
        spark_runs.append(figures)

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(run[key] for run in runs))

    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": len(notes),
        "median_characters": statistics.median(len(n["text"]) for n in notes),
        "cores": os.cpu_count(),
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "repeats": REPEATS,
        "local": local_runs,
        "spark_local_2": spark_runs,
        "median": {
            f"{engine}_{key}": median(runs, key)
            for engine, runs, keys in (
                ("local", local_runs, _LOCAL_FIGURES),
                ("spark", spark_runs, _SPARK_FIGURES),
            )
            for key in keys
        },
    }
    folder = settings.var_dir / "bench"
    folder.mkdir(exist_ok=True)
    (folder / "spark.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["median"], indent=2))
