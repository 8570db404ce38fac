"""Peak memory of one artifact, measured in a fresh process, plus what the runtime itself says it plans.

Why a fresh process: a resident-set delta inside a process that has loaded anything before is hidden by the
allocator, which hands freed pages back out without asking the kernel (ExecuTorch rows read 0.0 MB that way,
after the thread autotuner had loaded the same program a few times). So the worker forks a child *before* it
loads any model: the child resets the kernel's high-water mark (``/proc/self/clear_refs``, value 5, Linux
>= 4.0), reads its resident set as the baseline, loads the artifact, runs the first inference and a few more,
and reports ``VmHWM - baseline``: the most memory the model made this process hold at once, runtime
buffers, packed weights and thread stacks included. The child shares the worker's imports copy-on-write, so
the baseline is the imports and nothing else (``peak_memory_method = "fresh_process_hwm"``). Where
clear_refs cannot be written, the baseline is the larger of the resident set and the inherited high-water
mark (``"fresh_process_hwm_unreset"``): it can only under-count. Where fork or /proc are missing (macOS)
the worker falls back to the resident-set growth in its own process (``"in_process_rss_growth"``).

What the runtime reports (``runtime_memory_mb``): ExecuTorch's memory-planned buffers, summed from the
program's ``ExecutionPlan.non_const_buffer_sizes`` (read from the .pte flatbuffer; the XNNPACK delegate
keeps its own activations outside them, so this is usually just the I/O tensors). ONNX Runtime's Python API
exposes no arena statistics, so its records carry the high-water mark alone.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FRESH", "IN_PROCESS", "UNRESET", "error_line", "forks_cleanly", "planned_memory_mb", "probe", "reset_peak",
           "run_in_child", "status_mb"]  # fmt: skip

FRESH, UNRESET, IN_PROCESS = "fresh_process_hwm", "fresh_process_hwm_unreset", "in_process_rss_growth"
PROBE_RUNS = 3  # inferences after the first: a steady-state inference's buffers are in the peak too


def error_line(e: BaseException) -> str:
    """One line for a failure in a child or worker: a toolkit error's own message, else its type and first line."""
    from toolkit.errors import ToolkitError

    text = str(e).splitlines()[0] if str(e) else ""
    return text if isinstance(e, ToolkitError) and text else f"{type(e).__name__}: {text}"


def status_mb(pid: str = "self") -> dict[str, float]:
    """VmRSS and VmHWM (MB) from ``/proc/<pid>/status``; empty where there is no /proc."""
    out: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024.0
    except OSError:
        pass
    return out


def reset_peak() -> bool:
    """Reset this process's resident high-water mark to its current resident set; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def planned_memory_mb(path: Path) -> dict[str, float] | None:
    """ExecuTorch's memory-planned buffer bytes for every method of a .pte, in MB; None if unreadable."""
    if Path(path).suffix != ".pte":
        return None
    try:
        from flatbuffers import encode, number_types, packer
        from flatbuffers.table import Table
    except ImportError:
        return None
    buf = bytearray(Path(path).read_bytes())
    if bytes(buf[4:8])[:2] != b"ET":  # the file identifier: ET12 and later
        return None
    try:
        program = Table(buf, encode.Get(packer.uoffset, buf, 0))
        plans = program.Offset(6)  # field 1: execution_plan
        total = 0
        for i in range(program.VectorLen(plans) if plans else 0):
            plan = Table(buf, program.Indirect(program.Vector(plans) + 4 * i))
            sizes = plan.Offset(20)  # field 8: non_const_buffer_sizes, [int64]
            for j in range(plan.VectorLen(sizes) if sizes else 0):
                total += plan.Get(number_types.Int64Flags, plan.Vector(sizes) + 8 * j)
    except (IndexError, ValueError, TypeError):
        return None
    return {"planned_buffers": round(total / 2**20, 4)}


def _probe(open_runner: Callable[[], Any], x: np.ndarray, reset: bool) -> dict[str, Any]:
    """Load, first inference and a few more in this (fresh) process; the peak over the baseline."""
    gc.collect()
    was_reset = reset and reset_peak()
    before = status_mb()
    base = before.get("VmRSS", 0.0) if was_reset else max(before.get("VmRSS", 0.0), before.get("VmHWM", 0.0))
    t0 = time.perf_counter_ns()
    runner = open_runner()
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    t0 = time.perf_counter_ns()
    runner.run(x)
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    for _ in range(PROBE_RUNS):
        runner.run(x)
    peak = status_mb().get("VmHWM")
    runner.close()
    return {"load_ms": load_ms, "first_inference_ms": first_ms,
            "peak_memory_mb": None if peak is None else round(max(peak - base, 0.0), 3),
            "peak_memory_method": FRESH if was_reset else UNRESET}  # fmt: skip


def forks_cleanly() -> bool:
    """Linux: a fork after the runtimes' imports is safe. macOS: frameworks (Core ML) may not survive one."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def run_in_child(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``fn()`` in a forked child, its JSON-able result back; ``{"error": line}`` if the child failed.

    Call it only from a process that has not run a model yet: a fork copies one thread, and a runtime thread
    pool the parent had started would be missing in the child.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code
        code = 0
        try:
            os.close(r)
            out = fn()
        except BaseException as e:
            out, code = {"error": error_line(e)}, 1
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if data:
        return json.loads(data)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return {"error": f"the runtime died in a fresh process ({f'signal {sig}' if sig else f'status {status}'})"}


def probe(open_runner: Callable[[], Any], x: np.ndarray, path: Path) -> dict[str, Any]:
    """Load time, first inference and peak memory of one artifact in a fresh (forked) process where this
    system allows it, else in this process; plus the runtime's own planned memory."""
    fresh = forks_cleanly() and bool(status_mb())
    out = run_in_child(lambda: _probe(open_runner, x, reset=True)) if fresh else _in_process(open_runner, x)
    planned = planned_memory_mb(path)
    if planned is not None and "error" not in out:
        out["runtime_memory_mb"] = planned
    return out


def _in_process(open_runner: Callable[[], Any], x: np.ndarray) -> dict[str, Any]:
    from toolkit.profile.runner import _maxrss_mb

    gc.collect()
    base = _maxrss_mb()  # the process high-water mark: all a system without /proc offers
    out = _probe(open_runner, x, reset=False)
    out["peak_memory_mb"] = round(max(_maxrss_mb() - base, 0.0), 3)
    out["peak_memory_method"] = IN_PROCESS
    return out
