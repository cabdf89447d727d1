"""The benchmark's report: rows of (metric, value, target, met?), printed as a table and
written with every figure to results.json, and the plot of latency against note length.

Targets are reported, never asserted: a benchmark measures (STYLE.md)."""

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import PROJECT_ROOT


@dataclass(frozen=True)
class Target:
    limit: float
    at_most: bool = True  # False: the value must be at least the limit

    def met(self, value: float) -> bool:
        return value <= self.limit if self.at_most else value >= self.limit

    def describe(self, unit: str) -> str:
        return f"{'≤' if self.at_most else '≥'} {_number(self.limit)}{_spaced(unit)}"


@dataclass(frozen=True)
class Row:
    metric: str
    value: float | None  # None: not measured (`note` says why)
    unit: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met(self.value)

    def cells(self) -> tuple[str, str, str, str, str]:
        value = "-" if self.value is None else f"{_number(self.value)}{_spaced(self.unit)}"
        target = "" if self.target is None else self.target.describe(self.unit)
        met = {None: "", True: "yes", False: "NO"}[self.met]
        return self.metric, value, target, met, self.note

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": None if self.value is None else round(self.value, 4),
            "unit": self.unit,
            "target": None
            if self.target is None
            else {"limit": self.target.limit, "at_most": self.target.at_most},
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(
        self,
        metric: str,
        value: float | None,
        unit: str = "",
        target: Target | None = None,
        note: str = "",
    ) -> None:
        self.rows.append(Row(metric, value, unit, target, note))

    def table(self) -> str:
        cells = [("metric", "value", "target", "met?", ""), *(row.cells() for row in self.rows)]
        widths = [max(len(line[i]) for line in cells) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
        lines.insert(1, "  ".join("-" * w for w in widths[:4]))
        return "\n".join(line.rstrip() for line in lines)

    def targets_met(self) -> str:
        judged = [row.met for row in self.rows if row.met is not None]
        return f"{sum(judged)} of {len(judged)} targets met"


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _spaced(unit: str) -> str:
    return f" {unit}" if unit and unit != "x" else unit


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_gb": round(pages * page_size / 1e9, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def git_revision() -> dict[str, Any]:
    def git(*args: str) -> str:
        found = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return found.stdout.strip()

    return {"sha": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_results(path: Path, results: dict[str, Any], report: Report) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    everything = {**results, "table": [row.as_dict() for row in report.rows]}
    path.write_text(json.dumps(everything, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Series:
    """One line of the plot: p50 and p95 (ms) at each note length (words)."""

    label: str
    words: Sequence[int]
    p50: Sequence[float]
    p95: Sequence[float]


def plot_latency_by_length(path: Path, suggest: Series, floor: Series, title: str) -> None:
    """/suggest against the tokenizer floor on log-log axes, p95 as the upper error bar,
    and the cost of a straight line through /suggest's p50 at the second length (300
    words): a point above it costs more per word than that note."""
    import matplotlib

    matplotlib.use("Agg")  # no display: draw to a file
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5.5), dpi=120)
    for series, style in ((suggest, "o-"), (floor, "s-")):
        upper = [max(h - m, 0.0) for m, h in zip(series.p50, series.p95, strict=True)]
        axes.errorbar(
            series.words,
            series.p50,
            yerr=[[0.0] * len(upper), upper],
            fmt=style,
            capsize=3,
            label=f"{series.label}: p50, bar to p95",
        )
    per_word = suggest.p50[1] / suggest.words[1]
    axes.plot(
        suggest.words,
        [per_word * w for w in suggest.words],
        ":",
        color="grey",
        label=f"linear from {suggest.words[1]:,} words",
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("note length (words)")
    axes.set_ylabel("latency (ms)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
