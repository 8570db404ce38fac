"""Host measurement in rounds: every artifact gets a slice of its runs in each round, in a rotating order.

Why: a shared machine drifts (frequency, heat, neighbours) over seconds to minutes. Measured one after the
other, artifact A gets the quiet minute and artifact B the busy one, and the report shows a difference that
is the machine's. In rounds, every artifact gets ``iterations / rounds`` timed runs per round and the order
rotates each round (first one round, last the next), so slow drift lands on all of them alike, and the spread
of the round medians says how much the machine drifted (:func:`toolkit.profile.intervals.round_interval`).

How (one :func:`measure_host` call, under the host's measurement lock):
1. one worker process per runtime (:mod:`toolkit.profile.worker`): the thread autotune (when asked) and the
   memory probes run there in forked children, each artifact in a fresh process;
2. ExecuTorch's thread pool is process-wide, so its artifacts get one worker per thread count;
3. every worker loads its artifacts (first inference and ``warmup`` runs, untimed);
4. ``rounds`` rounds; per round, the workers in rotated order, each timing its artifacts in rotated order;
   before each slice ``REWARM`` untimed runs bring the caches back from the artifact before (``paired``: the
   model is first loaded afresh, a new memory layout each round, then ``RELOAD_REWARM`` runs). Only one
   process runs a model at any time; there is no sleep between slices (measured: a 100 ms idle gap makes the
   next slice slower, as the thread pool parks, not faster).
Records are built at the end, one per artifact, with the samples in time order, the round medians and their
interval (``rounds``), the CPU others took while each artifact was timed (``environment``), ``flags``, and
load, first inference and peak memory from its fresh process.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError, UsageError
from toolkit.profile.environment import CpuCounter, CpuSnapshot, busy_flag, environment_block, loadavg, stat_cpus
from toolkit.profile.protocol import ProfileConfig

__all__ = ["REWARM", "HostRun", "WorkerDiedError", "measure_host", "slice_sizes"]

REWARM = 2  # untimed runs before each slice: the artifact before left its own weights in the caches
RELOAD_REWARM = 4  # after a fresh load (paired requests): untimed runs after its first, allocating inference


class WorkerDiedError(ToolkitError):
    """A runtime's worker process ended unexpectedly (a crash in the runtime)."""


class InterruptedMeasurementError(ToolkitError):
    """The stop flag was set between slices: nothing of this round-robin is stored."""


@dataclass
class HostRun:
    """Records in the order of the artifacts given (None where one failed) and a line per failure."""

    records: list[dict[str, Any] | None] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def slice_sizes(iterations: int, rounds: int) -> list[int]:
    """``iterations`` split over ``min(rounds, iterations)`` rounds, sizes differing by at most one."""
    r = max(1, min(rounds, iterations))
    return [iterations // r + (1 if i < iterations % r else 0) for i in range(r)]


def _rotate(xs: Sequence[Any], r: int) -> list[Any]:
    if not xs:
        return []
    k = r % len(xs)
    return [*xs[k:], *xs[:k]]


def _alternate_pairs(items: Sequence[_Item], r: int) -> list[_Item]:
    """Round ``r``'s order when artifacts 2k and 2k+1 are a baseline and its candidate: the two of a pair are
    timed back to back, the first place alternating round by round, and the pairs keep their order.

    Why not rotate the pairs too: the second slice of a pair follows its twin (same shapes, warm kernels), the
    first follows whatever came before; rotating pairs and workers with the same period as the alternation
    let one side follow itself across the round boundary more often (measured: the candidate 3-4% faster in
    A/A pairs). With a fixed order each side goes first, and follows itself, equally often."""
    pairs: dict[int, list[_Item]] = {}
    for it in items:
        pairs.setdefault(it.index // 2, []).append(it)
    return [it for pair in pairs.values() for it in _rotate(pair, r)]


class _Worker:
    """One ``python -m toolkit.profile.worker`` process and its pickle pipe."""

    def __init__(self, suffix: str) -> None:
        import toolkit

        root = str(Path(toolkit.__file__).resolve().parents[1])  # the same toolkit, wherever it is imported from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
               "PYTHONWARNINGS": "ignore"}  # fmt: skip
        self.suffix = suffix
        self.keys: list[str] = []
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - the worker's stderr, closed in close()
        self._proc = subprocess.Popen([sys.executable, "-m", "toolkit.profile.worker", suffix], env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)  # fmt: skip

    def ask(self, *msg: Any) -> Any:
        try:
            pickle.dump(msg, self._proc.stdin)
            self._proc.stdin.flush()
            status, value = pickle.load(self._proc.stdout)
        except (BrokenPipeError, EOFError, pickle.UnpicklingError, OSError):
            raise WorkerDiedError(self._died()) from None
        if status == "error":
            raise ToolkitError(value)
        return value

    def _died(self) -> str:
        code = self._proc.wait()
        self._log.seek(0)
        tail = [ln for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()][-1:]
        how = f"signal {-code}" if code < 0 else f"exit {code}"
        return f"the {self.suffix} runtime's process died ({how}){': ' + tail[0] if tail else ''}"

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                pickle.dump(("close",), self._proc.stdin)
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._log.close()


@dataclass
class _Item:
    index: int
    path: Path
    manifest: dict[str, Any]
    want_threads: int | None = 0  # None: autotune
    threads: int = 0
    choice: Any = None  # ThreadChoice when autotuned
    probe: dict[str, Any] = field(default_factory=dict)
    runtime: tuple[str, str] | None = None
    rounds: list[list[float]] = field(default_factory=list)
    preprocess: list[float] = field(default_factory=list)  # one per timed inference, in the same order
    preprocess_steps: str | None = None
    cpu: CpuCounter = field(default_factory=CpuCounter)

    @property
    def key(self) -> str:
        return str(self.index)


def _one_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _prepare(w: _Worker, items: list[_Item], out: HostRun) -> list[_Item]:
    """Autotune (where asked) and probe each artifact in fresh children of ``w``; the ones that loaded."""
    from toolkit.profile.threads import ThreadChoice

    for it in items:
        it.threads = it.want_threads or 0
    auto = [it for it in items if it.want_threads is None]
    if auto:
        tuned = w.ask("tune", [str(it.path) for it in auto])
        for it in auto:
            t = tuned[str(it.path)]
            if "error" in t:
                it.probe = t
                continue
            it.choice = ThreadChoice(t["threads"], {int(k): v for k, v in t["medians_ms"].items()},
                                     {int(k): v for k, v in t["runs"].items()}, t["rounds"])  # fmt: skip
            it.threads = it.choice.threads
    todo = [it for it in items if "error" not in it.probe]
    probes = w.ask("probe", [(str(it.path), it.threads) for it in todo]) if todo else {}
    for it in todo:
        it.probe = probes[str(it.path)]
    ok = []
    for it in items:
        if "error" in it.probe:
            out.failures.append(f"{it.path.name}: {it.probe['error']}")
        else:
            ok.append(it)
    return ok


def _start_workers(items: list[_Item], warmup: int, out: HostRun, workers: list[_Worker]):
    """Per runtime: prepare, then one timing worker per thread count where the pool is process-wide."""
    by_suffix: dict[str, list[_Item]] = {}
    for it in items:
        by_suffix.setdefault(it.path.suffix, []).append(it)
    timing: list[tuple[_Worker, list[_Item]]] = []
    for suffix, group in by_suffix.items():
        first = _Worker(suffix)
        workers.append(first)
        try:
            ready = _prepare(first, group, out)
        except WorkerDiedError as e:
            out.failures += [f"{it.path.name}: {e}" for it in group]
            continue
        pools: dict[int, list[_Item]] = {}
        for it in ready:  # ExecuTorch: one XNNPACK pool per process, so one process per thread count
            pools.setdefault(it.threads if suffix == ".pte" else 0, []).append(it)
        for n, (_, pool) in enumerate(sorted(pools.items())):
            w = first if n == 0 else _Worker(suffix)
            if n:
                workers.append(w)
            try:
                loaded = w.ask("load", [(it.key, str(it.path), it.threads) for it in pool], warmup)
            except WorkerDiedError as e:
                out.failures += [f"{it.path.name}: {e}" for it in pool]
                continue
            kept = []
            for it in pool:
                if "error" in loaded[it.key]:
                    out.failures.append(f"{it.path.name}: {loaded[it.key]['error']}")
                else:
                    it.runtime = (loaded[it.key]["runtime"], loaded[it.key]["version"])
                    kept.append(it)
            w.keys = [it.key for it in kept]
            timing.append((w, kept))
    return timing


def _run_rounds(timing, config: ProfileConfig, stop: threading.Event | None, out: HostRun, paired: bool) -> None:
    """Every round, the workers in rotated order, each timing its artifacts in rotated order.

    One request per worker per round; when a single worker times everything and there is no cooldown, the
    whole round-robin is one request (the bookkeeping then costs one round trip per measurement). The stop
    flag is looked at between requests.
    """
    sizes = slice_sizes(config.iterations, config.rounds) if config.duration_s is None else [1] * config.rounds
    per_slice_s = config.duration_s / len(sizes) if config.duration_s is not None else None
    order = _alternate_pairs if paired else _rotate
    workers = (lambda ws, r: ws) if paired else _rotate
    plan = [[(w, [(it, n) for it in order(items, r)]) for w, items in workers(timing, r)]
            for r, n in enumerate(sizes)]  # fmt: skip
    if len(timing) == 1 and not config.cooldown_s:
        plan = [[(timing[0][0], [pair for rnd in plan for _, pairs in rnd for pair in pairs])]]
    dead: set[int] = set()
    for r, requests in enumerate(plan):
        if r and config.cooldown_s:
            time.sleep(config.cooldown_s)
        for w, pairs in requests:
            if id(w) in dead:
                continue
            if stop is not None and stop.is_set():
                raise InterruptedMeasurementError("stopped between rounds; nothing of this round-robin stored")
            try:
                how = (RELOAD_REWARM, True) if paired else (REWARM,)
                got = w.ask("slices", [(it.key, n, per_slice_s, *how) for it, n in pairs])
            except WorkerDiedError as e:
                dead.add(id(w))
                out.failures += [f"{name}: {e}" for name in dict.fromkeys(it.path.name for it, _ in pairs)]
                continue
            for (it, _), one in zip(pairs, got, strict=True):
                it.rounds.append(one["samples"])
                it.preprocess += one["preprocess"] or []
                it.preprocess_steps = one["steps"]
                if "cpu" in one:  # the last slice of the artifact's window in this request
                    it.cpu.add(*(CpuSnapshot(*snap) for snap in one["cpu"]))
    for w, items in timing:
        if id(w) in dead:
            for it in items:
                it.runtime = None


def measure_host(
    artifacts: Sequence[Path],
    config: ProfileConfig,
    threads: int | Sequence[int | None] | None,
    *,
    paired: bool = False,
    stop: threading.Event | None = None,
    on_record: Callable[[int, dict[str, Any]], None] | None = None,
    read_temp: Callable[[], float | None] | None = None,
) -> HostRun:
    """Measure ``artifacts`` on this host in rounds (module docstring); ``threads`` None = autotune each, or
    one entry per artifact. ``paired``: artifacts 2k and 2k+1 are timed back to back in every round, each
    loaded afresh before its slice (the side-by-side comparison of a baseline and its candidate,
    :mod:`toolkit.profile.side_by_side`).

    A missing or unloadable artifact is a failure line and the others go on. ``on_record(i, record)`` is called
    for each finished record (``i`` indexes ``artifacts``).
    """
    from toolkit.profile.lock import measurement_lock
    from toolkit.profile.runner import host_temperature_c, thermal_gate
    from toolkit.runtimes import read_manifest

    read_temp = read_temp or host_temperature_c
    out = HostRun(records=[None] * len(artifacts))
    wanted = list(threads) if isinstance(threads, Sequence) else [threads] * len(artifacts)
    if len(wanted) != len(artifacts):
        raise ValueError(f"{len(wanted)} thread settings for {len(artifacts)} artifacts")
    items = []
    for i, path in enumerate(map(Path, artifacts)):
        if not path.exists():
            out.failures.append(f"{path.name}: artifact not found: {path}")
            continue
        try:
            items.append(_Item(i, path, read_manifest(path), wanted[i]))
        except UsageError as e:
            out.failures.append(f"{path.name}: {e}")
    if not items:
        return out
    workers: list[_Worker] = []
    timing: list[tuple[_Worker, list[_Item]]] = []
    with measurement_lock("host"):
        if config.cooldown_s:
            time.sleep(config.cooldown_s)
        notes = thermal_gate(read_temp, config.max_temp_c, config.temp_wait_limit_s)
        try:
            timing = _start_workers(items, config.warmup, out, workers)
            temp_before, load_before = read_temp(), loadavg()
            _run_rounds(timing, config, stop, out, paired)
            temp_after, load_after = read_temp(), loadavg()
        finally:
            for w in workers:
                w.close()
    for _w, group in timing:
        for it in group:
            if it.runtime is None:
                continue
            rec = _record(it, config, notes, (temp_before, temp_after), (load_before, load_after), paired)
            out.records[it.index] = rec
            if on_record is not None:
                on_record(it.index, rec)
    return out


def _record(
    it: _Item, config: ProfileConfig, notes: list[str], temps: tuple, loads: tuple, reloaded: bool
) -> dict[str, Any]:
    from toolkit.profile.host_record import build_record, host_description
    from toolkit.profile.intervals import annotate, round_interval
    from toolkit.profile.runner import Measurement
    from toolkit.profile.threads import record_choice
    from toolkit.schemas import validate_record

    samples = [s for r in it.rounds for s in r]
    m = Measurement(it.runtime[0], it.runtime[1], samples, it.probe["load_ms"], it.probe["first_inference_ms"],
                    it.probe["peak_memory_mb"], temps[0], temps[1], list(notes),
                    it.preprocess or None, it.preprocess_steps)  # fmt: skip
    cfg = dataclasses.replace(config, threads=it.threads)
    rec = build_record(m, dict(host_description()), it.path, it.manifest, cfg)
    rec["peak_memory_method"] = it.probe["peak_memory_method"]
    if it.probe.get("runtime_memory_mb"):
        rec["runtime_memory_mb"] = it.probe["runtime_memory_mb"]
    interval = round_interval(it.rounds, rec["stats"]["median_ms"])
    if interval is not None:
        rec["rounds"] = {**interval.to_dict(), "runs_per_round": [len(r) for r in it.rounds],
                         "rewarm": RELOAD_REWARM if reloaded else REWARM, "reloaded": reloaded}  # fmt: skip
    rec["environment"] = environment_block(it.cpu.to_dict(), loads[0], loads[1], stat_cpus() or os.cpu_count())
    flags = []
    line = busy_flag(rec["environment"])
    if line:
        flags.append("busy")
        rec["notes"].append(line)
    rec["flags"] = flags
    annotate(rec)
    if it.choice is not None:
        record_choice(rec, "autotune", it.choice)
    else:
        record_choice(rec, "user" if it.threads else "runtime_default")
    validate_record(rec)
    return rec
