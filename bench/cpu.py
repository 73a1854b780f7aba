"""Who spent the CPU during a measured window, read from /proc: the machine, PostgreSQL, given process trees.

On two cores the server, the database and the load generator all compete, so CPU milliseconds per top-up by
component say more about where a ceiling comes from than throughput alone.

A tree's CPU is the user+system time of its live processes plus the time of children they have reaped
(cutime+cstime), so a PostgreSQL backend or a worker that exits inside the window is still counted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): [0] state, [1] ppid, [11..14] times."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def parents() -> dict[int, int]:
    """pid -> parent pid for every process."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                found[int(entry.name)] = int(fields[1])
    return found


def descendants(root: int, parent_of: dict[int, int] | None = None) -> list[int]:
    parent_of = parent_of if parent_of is not None else parents()
    children: dict[int, list[int]] = {}
    for pid, parent in parent_of.items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    frontier = [root]
    while frontier:
        below = children.get(frontier.pop(), [])
        found.extend(below)
        frontier.extend(below)
    return found


def tree_cpu_seconds(root: int, parent_of: dict[int, int] | None = None) -> float:
    total_ticks = 0
    for pid in [root, *descendants(root, parent_of)]:
        fields = _stat_fields(pid)
        if fields is not None:
            total_ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total_ticks / TICKS_PER_SECOND


def postmaster_pid() -> int | None:
    """The PostgreSQL process whose parent is not PostgreSQL (only when the server runs on this machine)."""
    parent_of = parents()
    for pid, parent in parent_of.items():
        if _command_name(pid) == "postgres" and _command_name(parent) != "postgres":
            return pid
    return None


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return total - idle, total


@dataclass
class CpuWindow:
    """CPU used between start() and stop() by the machine, PostgreSQL and named process trees (by root pid)."""

    trees: dict[str, int] = field(default_factory=dict)
    _start: dict[str, Any] = field(default_factory=dict)

    def _snapshot(self) -> dict[str, Any]:
        parent_of = parents()
        roots = dict(self.trees)
        postmaster = postmaster_pid()
        if postmaster is not None:
            roots["postgres"] = postmaster
        return {
            "wall": time.perf_counter(),
            "machine": machine_jiffies(),
            "trees": {name: tree_cpu_seconds(root, parent_of) for name, root in roots.items()},
        }

    def start(self) -> None:
        self._start = self._snapshot()

    def stop(self) -> dict[str, Any]:
        end, start = self._snapshot(), self._start
        busy = end["machine"][0] - start["machine"][0]
        total = end["machine"][1] - start["machine"][1]
        return {
            "wall_seconds": end["wall"] - start["wall"],
            "machine_busy_fraction": busy / total if total else None,
            "cpu_seconds": {
                "machine": busy / TICKS_PER_SECOND,
                **{name: end["trees"][name] - start["trees"].get(name, 0.0) for name in end["trees"]},
            },
        }


def per_operation_ms(window: dict[str, Any], operations: int) -> dict[str, float]:
    """CPU milliseconds per operation for each tree and for the whole machine."""
    if not operations:
        return {}
    return {name: seconds / operations * 1000.0 for name, seconds in window["cpu_seconds"].items()}
