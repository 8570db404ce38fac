"""Was the machine busy while we timed? CPU time taken by other processes, and the load average.

Why: on a shared machine a neighbour that takes a core for part of a run moves a median by 10-50% and the
sample still looks tidy. The only honest answer is to count. Linux's ``/proc/stat`` gives the CPU time every
core spent busy (user, nice, system, irq, softirq and steal: a hypervisor running another guest on our
vCPU is a neighbour too); this process's own CPU time comes from ``CLOCK_PROCESS_CPUTIME_ID``. Their
difference over the slices (each with the few untimed re-warm runs before it) is what others took. A record
whose others took more than :data:`BUSY_SHARE` of the machine's capacity (wall time × cores) is flagged
``busy``.

``/proc/stat`` counts in clock ticks (10 ms): one slice of a few ms reads 0 or 1 tick, but the sum over all
of an artifact's slices is unbiased, which is why the worker accumulates it per artifact and never judges
one slice. Where ``/proc/stat`` does not exist (macOS) only the load average is recorded.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BUSY_SHARE", "CpuCounter", "CpuSnapshot", "busy_flag", "environment_block", "loadavg", "read_cpu",
           "stat_cpus"]  # fmt: skip

BUSY_SHARE = 0.10  # others held more than a tenth of the machine while we timed
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (not idle, iowait; guest is in user)


@dataclass(frozen=True)
class CpuSnapshot:
    """All cores' busy seconds (None without /proc/stat), this process's CPU seconds, and the wall clock."""

    busy_s: float | None
    own_s: float
    wall_s: float

    def as_tuple(self) -> tuple[float | None, float, float]:
        """What a worker sends its parent: a plain tuple pickles in a fifth of a dataclass's time."""
        return (self.busy_s, self.own_s, self.wall_s)


_fds: dict[Path, int] = {}  # /proc/stat held open: opening it costs three times reading it (measured, 30 vs 9 µs)


def _first_line(stat: Path) -> bytes:
    """The first line of ``stat``, re-read in full (``pread`` at offset 0 makes procfs generate it afresh)."""
    fd = _fds.get(stat)
    if fd is None:
        fd = _fds[stat] = os.open(stat, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        head = os.pread(fd, 512, 0)
    except OSError:  # a file that cannot be read at an offset: read it the plain way
        with open(stat, "rb") as f:
            head = f.read(512)
    return head.split(b"\n", 1)[0]


def _busy_seconds(stat: Path = Path("/proc/stat")) -> float | None:
    try:
        fields = _first_line(stat).split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu":
        return None
    values = [int(v) for v in fields[1:]]
    return sum(values[i] for i in _BUSY_FIELDS if i < len(values)) / _TICK


def read_cpu(stat: Path = Path("/proc/stat")) -> CpuSnapshot:
    return CpuSnapshot(_busy_seconds(stat), time.process_time(), time.perf_counter())


@dataclass
class CpuCounter:
    """Accumulates (all busy, own, wall) seconds over the windows in which one artifact was timed (a window:
    its consecutive slices in one worker request)."""

    busy_s: float | None = 0.0
    own_s: float = 0.0
    wall_s: float = 0.0
    windows: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, before: CpuSnapshot, after: CpuSnapshot) -> None:
        if self.busy_s is not None and before.busy_s is not None and after.busy_s is not None:
            self.busy_s += after.busy_s - before.busy_s
        else:
            self.busy_s = None
        self.own_s += after.own_s - before.own_s
        self.wall_s += after.wall_s - before.wall_s
        self.windows += 1

    def to_dict(self) -> dict[str, Any]:
        return {"busy_s": self.busy_s, "own_s": self.own_s, "wall_s": self.wall_s, "windows": self.windows}


def stat_cpus(stat: Path = Path("/proc/stat")) -> int | None:
    """CPUs that ``/proc/stat`` sums over (in a container, often the whole host's): the capacity to divide by."""
    try:
        with open(stat, "rb") as f:
            n = sum(1 for line in f if line.startswith(b"cpu") and line[3:4].isdigit())
    except OSError:
        return None
    return n or None


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def environment_block(
    counter: dict[str, Any], load_before: list[float] | None, load_after: list[float] | None, cores: int | None
) -> dict[str, Any]:
    """The record's ``environment`` block from a worker's counter (``CpuCounter.to_dict()``) and load averages."""
    cores = cores or os.cpu_count() or 1
    wall, own, busy = counter["wall_s"], counter["own_s"], counter["busy_s"]
    out: dict[str, Any] = {
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "cores": cores,
        "timed_s": round(wall, 4),
        "own_cpu_s": round(own, 4),
        "busy_threshold": BUSY_SHARE,
    }
    if busy is not None:
        other = max(0.0, busy - own)
        out["other_cpu_s"] = round(other, 4)
        out["other_share"] = round(other / (wall * cores), 4) if wall > 0 else None
    return out


def busy_flag(environment: dict[str, Any]) -> str | None:
    """A console line when others took more than the threshold of the machine, else None."""
    share = environment.get("other_share")
    if share is None or share <= environment.get("busy_threshold", BUSY_SHARE):
        return None
    limit = environment.get("busy_threshold", BUSY_SHARE)
    return (
        f"busy: other processes used {share:.0%} of this machine's CPU while it was timed "
        f"(threshold {limit:.0%}); the figure may be slow or noisy"
    )
