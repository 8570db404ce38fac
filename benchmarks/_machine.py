"""What every benchmark writes beside its figures: the command, the machine, its load, and the tables.

Each script in ``benchmarks/`` calls :func:`start` before it measures and :func:`finish` when it has figures
(again after each step, so a killed run keeps what it measured). ``finish`` writes
``benchmarks/out/<name>.json``; a ``--quick`` run goes to ``benchmarks/out/quick/`` instead and is never
rendered. A run whose one-minute load average was above the core count, before or after, is marked
``loaded`` here, by the script, and ``benchmarks/render.py`` shows the mark beside its figures in
BENCHMARKS.md. Figures reach BENCHMARKS.md only through these files.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
# The /proc/cpuinfo flags that decide which inference kernels run (x86 names, then Arm's ``Features``).
ISA_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimdhp", "asimddp", "i8mm", "sve", "sve2",
             "bf16")  # fmt: skip
PACKAGES = ("torch", "executorch", "onnxruntime", "ai-edge-litert", "litert-torch", "coremltools")

__all__ = ["OUT", "Run", "finish", "interleaved", "loaded", "machine", "markdown", "start", "table",
           "table_from_markdown"]  # fmt: skip


def _cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo (empty off Linux)."""
    out: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        out.setdefault(key.strip().lower(), value.strip())
    return out


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def machine() -> dict[str, Any]:
    """CPU model, the ISA flags that matter for inference kernels, cores, memory, OS and runtime versions."""
    from toolkit.profile.host_record import cpu_model

    info = _cpuinfo()
    have = set((info.get("flags") or info.get("features") or "").split())
    cores = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    versions = {}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    import toolkit

    return {
        "cpu": cpu_model() or platform.machine(),
        "isa": [f for f in ISA_FLAGS if f in have],
        "cores": cores,
        "usable_cores": usable,
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "toolkit": toolkit.__version__,
        "packages": versions,
    }


def loaded(before: list[float], after: list[float], cores: int) -> str | None:
    """Why the run counts as loaded (one-minute load average above the core count, before or after), or None."""
    over = [f"{when} {load[0]:.1f}" for when, load in (("before", before), ("after", after)) if load[0] > cores]
    return f"load average {' and '.join(over)} on {cores} cores" if over else None


@dataclass
class Run:
    """One benchmark run in progress: what was asked, where, and how busy the machine was when it started."""

    name: str
    command: str
    quick: bool
    machine: dict[str, Any]
    load_before: list[float]
    started_utc: str
    timed: bool = True  # False for pure computation, whose figures the load cannot change


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def start(name: str, quick: bool = False, argv: list[str] | None = None, *, timed: bool = True) -> Run:
    """Record the command as a user would type it, the machine, and the load before any work.

    ``timed=False`` for a benchmark that times nothing (its figures cannot be inflated by load).
    """
    script = Path(sys.argv[0]).name if sys.argv and Path(sys.argv[0]).name.startswith("bench_") else f"{name}.py"
    args = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", f"benchmarks/{script}", *args])
    return Run(name, command, quick, machine(), [round(x, 2) for x in os.getloadavg()], _utc(), timed)


def interleaved(
    calls: dict[str, Any], warmup: int, runs: int, rounds: int, settle_s: float = 0.0
) -> dict[str, list[float]]:
    """Milliseconds per call of each callable, timed in interleaved rounds with the order rotated each round.

    A load spike then hits every artifact alike and none always runs first; ``settle_s`` is a pause before
    each block (ONNX Runtime's spinning threads disturb whatever runs next).
    """
    keys = list(calls)
    samples: dict[str, list[float]] = {k: [] for k in keys}
    for k in keys:
        for _ in range(warmup):
            calls[k]()
    for r in range(rounds):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            time.sleep(settle_s)
            for _ in range(runs):
                t0 = time.perf_counter()
                calls[k]()
                samples[k].append((time.perf_counter() - t0) * 1e3)
    return samples


def table(title: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    """A result table as the JSON carries it: cells already formatted the way BENCHMARKS.md shows them."""
    return {"title": title, "columns": list(columns), "rows": [[str(c) for c in row] for row in rows]}


def table_from_markdown(title: str, text: str) -> dict[str, Any]:
    """A table from a Markdown table some toolkit function already prints (``| a | b |`` lines)."""
    lines = [line.strip().strip("|").split("|") for line in text.strip().splitlines()]
    body = [row for row in lines[1:] if not set("".join(row).strip()) <= set("-: ")]
    return table(title, [c.strip() for c in lines[0]], [[c.strip() for c in row] for row in body])


def markdown(t: dict[str, Any]) -> str:
    """One table as Markdown (the script's own printout and the rendered page use the same text)."""
    lines = ["| " + " | ".join(t["columns"]) + " |", "|" + "---|" * len(t["columns"])]
    lines += ["| " + " | ".join(row) + " |" for row in t["rows"]]
    return "\n".join(lines)


def finish(
    run: Run,
    *,
    tables: list[dict[str, Any]],
    data: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    out: Path | None = None,
) -> Path:
    """Write the run's JSON (temp file, then rename) with the load after it; returns the path.

    ``notes`` are sentences the script derives from its own figures (a bar met or missed); ``data`` holds
    the raw figures (samples, per-round values) the tables were computed from.
    """
    after = [round(x, 2) for x in os.getloadavg()]
    cores = int(run.machine["cores"])
    doc = {
        "benchmark": run.name,
        "command": run.command,
        "quick": run.quick,
        "started_utc": run.started_utc,
        "finished_utc": _utc(),
        "machine": run.machine,
        "load": {
            "before": run.load_before,
            "after": after,
            "cores": cores,
            "loaded": loaded(run.load_before, after, cores) if run.timed else None,
            "timed": run.timed,
        },
        "tables": tables,
        "notes": list(notes or []),
        "data": data or {},
    }
    path = Path(out) if out is not None else (OUT / "quick" if run.quick else OUT) / f"{run.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    os.replace(tmp, path)
    if doc["load"]["loaded"]:
        print(f"note: loaded machine ({doc['load']['loaded']}); the figures are marked as such", file=sys.stderr)
    return path
