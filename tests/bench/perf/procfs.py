"""What Linux's /proc says about a process: its children, CPU time and memory."""

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def children(pid: int) -> list[int]:
    """The processes `pid` started that are still running (all its threads' children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
    return sorted(found)


def descendants(pid: int) -> list[int]:
    found = children(pid)
    return found + [grandchild for child in found for grandchild in descendants(child)]


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of processes so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory now; 0 once the process has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) * 1024 if found else 0


@dataclass(frozen=True)
class Memory:
    """Of one process, in MB (10^6 bytes), from /proc/<pid>/smaps_rollup. PSS shares each
    page among the processes that map it: summed over workers, it is what they take."""

    pid: int
    rss_mb: float
    pss_mb: float


def memory_of(pid: int) -> Memory:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    kilobytes = {
        name: int(value) for name, value in re.findall(r"^(Rss|Pss):\s+(\d+) kB", rollup, re.M)
    }
    return Memory(pid, kilobytes["Rss"] * 1024 / 1e6, kilobytes["Pss"] * 1024 / 1e6)
