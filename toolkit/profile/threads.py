"""Thread-count autotuning: measure every candidate briefly on this host and keep the fastest.

Why: the runtimes' default (one thread per core) is not the best everywhere. On a 2-vCPU VM whose
siblings share a physical core, or beside a busy neighbour, one thread can beat two; on a big
phone-class CPU, four may beat eight. The only trustworthy answer is a measurement on the device.

How: for ``rounds`` rounds, each candidate (1..usable cores) loads the artifact with that thread
count, runs a few untimed warm-ups, then times runs for about ``block_s`` seconds. The candidate
order rotates every round, so a load change on the machine hits all candidates alike. The winner
has the lowest median over all its timed runs (ties go to fewer threads). The choice and every
candidate's median go into the result record (``config.threads_chosen_by`` and
``config.threads_tuning_ms``), so a stored number says how its thread count was picked.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import UsageError

__all__ = [
    "AUTO",
    "ThreadChoice",
    "autotune",
    "candidate_threads",
    "measure_with_threads",
    "parse_threads",
    "pick_fastest",
    "record_choice",
]

AUTO = "auto"


def parse_threads(text: str | int) -> int | None:
    """``"auto"`` → None (autotune); a count ≥ 0 → that count (0 = the runtime's default)."""
    if isinstance(text, str) and text.strip().lower() == AUTO:
        return None
    try:
        n = int(text)
    except (TypeError, ValueError):
        raise UsageError(f"--threads takes a count or 'auto', got {text!r}") from None
    if n < 0:
        raise UsageError(f"threads must be >= 0 or 'auto', got {n}")
    return n


def candidate_threads() -> list[int]:
    """1 .. the cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return list(range(1, max(usable, 1) + 1))


@dataclass(frozen=True)
class ThreadChoice:
    """The winner, each candidate's median latency and how many timed runs it got."""

    threads: int
    medians_ms: dict[int, float]
    runs: dict[int, int]
    rounds: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pick_fastest(medians_ms: Mapping[int, float]) -> int:
    """The thread count with the lowest median; on a tie the smaller count (fewer cores kept busy)."""
    if not medians_ms:
        raise ValueError("no thread counts were measured")
    return min(medians_ms, key=lambda n: (medians_ms[n], n))


def _timed_block(run: Any, x: np.ndarray, block_s: float, min_runs: int, max_runs: int) -> list[float]:
    clock = time.perf_counter_ns
    out: list[float] = []
    deadline = clock() + int(block_s * 1e9)
    while len(out) < max_runs and (len(out) < min_runs or clock() < deadline):
        t0 = clock()
        run(x)
        out.append((clock() - t0) / 1e6)
    return out


def autotune(
    artifact: str | Path,
    *,
    candidates: Sequence[int] | None = None,
    rounds: int = 3,
    warmup: int = 3,
    block_s: float = 0.05,
    min_runs: int = 5,
    max_runs: int = 200,
) -> ThreadChoice:
    """Measure each thread count in ``candidates`` (default :func:`candidate_threads`) and pick the fastest.

    Every block reopens the artifact because ExecuTorch's XNNPACK threadpool is process-wide and is
    sized when a program is opened; the load itself is not timed.
    """
    from toolkit.profile.runner import profile_input
    from toolkit.runtimes import open_runner, read_manifest

    cands = sorted(set(candidates or candidate_threads()))
    if not cands or cands[0] < 1 or rounds < 1:
        raise UsageError("autotune needs thread counts >= 1 and at least one round")
    x = profile_input(read_manifest(artifact))
    samples: dict[int, list[float]] = {n: [] for n in cands}
    restore = _executorch_pool_restorer(Path(artifact))
    try:
        for r in range(rounds):
            for n in cands[r % len(cands) :] + cands[: r % len(cands)]:  # rotate the order every round
                runner = open_runner(artifact, threads=n)
                try:
                    for _ in range(warmup):
                        runner.run(x)
                    samples[n] += _timed_block(runner.run, x, block_s, min_runs, max_runs)
                finally:
                    runner.close()
    finally:
        restore()
    medians = {n: statistics.median(s) for n, s in samples.items()}
    return ThreadChoice(pick_fastest(medians), medians, {n: len(s) for n, s in samples.items()}, rounds)


def _executorch_pool_restorer(artifact: Path) -> Any:
    """ExecuTorch keeps one process-wide threadpool: put its size back after tuning, so a later
    ``threads=0`` run in the same process still gets the runtime default."""
    if artifact.suffix != ".pte":
        return lambda: None
    from executorch.extension.pybindings import portable_lib

    before = int(portable_lib._threadpool_get_thread_count())
    return lambda: portable_lib._unsafe_reset_threadpool(before)


def record_choice(record: dict[str, Any], how: str, choice: ThreadChoice | None = None) -> dict[str, Any]:
    """Write how the thread count was chosen into ``record["config"]`` (optional schema fields)."""
    record["config"]["threads_chosen_by"] = how
    if choice is not None:
        record["config"]["threads_tuning_ms"] = {str(n): round(m, 6) for n, m in sorted(choice.medians_ms.items())}
    return record


def measure_with_threads(device: Any, artifact: str | Path, config: Any, threads: int | None) -> dict[str, Any]:
    """Measure ``artifact`` on ``device`` with ``threads`` (None = autotune first, on the host).

    Phones cannot be autotuned from here yet: ``None`` there means the app's default (``threads=0``),
    and the record says so.
    """
    from toolkit.schemas import validate_record

    if threads is None and hasattr(device, "run_rounds"):  # the host tunes in its worker process
        from toolkit.errors import UsageError

        res = device.run_rounds([Path(artifact)], config, None)
        if res.records[0] is None:
            raise UsageError(res.failures[0].split(": ", 1)[1] if res.failures else f"could not measure {artifact}")
        record = res.records[0]
    else:
        record = device.run(artifact, dataclasses.replace(config, threads=threads or 0))
        record_choice(record, "user" if threads else "runtime_default")
    validate_record(record)
    return record
