"""Per-operator profiles: where one inference spends its time, from each runtime's own profiler.

Why: an end-to-end median says *that* int8 is (or is not) faster, not *why*. The runtimes know per
operator: ExecuTorch writes an ETDump (the pip wheel's XNNPACK delegate reports every XNNPACK
operator it runs), ONNX Runtime writes a Chrome-trace JSON with one ``*_kernel_time`` event per node.
The LiteRT Python interpreter and coremltools expose no per-operator timing, so those say so in one
line instead of inventing a table.

How: the profiled session and a plain (unprofiled) runner with the same thread count run in
alternating blocks of 10, so the end-to-end time they are compared with saw the same machine load.
Each row is µs per inference: the mean over the profiled runs left after dropping the 10% of runs
with the lowest and highest totals (so rows still add up). Rows in parentheses are measured time
outside any operator: the Python call around the runtime's own timed region (both runtimes), and
for ExecuTorch the delegate call outside its operators (XNNPACK's per-call reshape/setup) and
``Method::execute`` outside the delegate. ONNX Runtime's executor time between kernels gets no row:
its profiler's own per-node bookkeeping lands there (and inside each kernel's window, which the
profile flags when it shows).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import UsageError

__all__ = [
    "OPS_KIND",
    "OpProfile",
    "OpsProfile",
    "check_ops_request",
    "check_ops_supported",
    "executorch_ops",
    "load_ops_json",
    "onnxruntime_ops",
    "profile_ops",
    "write_ops_json",
]

OPS_KIND = "mobilenet-toolkit-op-profiles"
_BLOCK = 10  # runs per alternating block (plain, then profiled)
_ET_FRAMEWORK = {"Method::execute", "DELEGATE_CALL", "Method::init", "Program::load_method", "OPERATOR_CALL"}
_NO_PROFILER = {
    ".tflite": "the LiteRT Python interpreter (ai-edge-litert) exposes no per-operator profiler; use LiteRT's "
    "benchmark_model binary with --enable_op_profiling=true",
    ".mlpackage": "coremltools exposes no per-operator timing (and Core ML predicts only on macOS); use the Core ML "
    "performance report in Xcode on a Mac",
}


@dataclass(frozen=True)
class OpProfile:
    """One operator (or one op type, after :meth:`OpsProfile.by_type`): µs per inference."""

    name: str
    op_type: str
    calls: int  # executions per inference (node count when aggregated by type)
    total_us: float  # trimmed mean over profiled runs, summed over the calls
    share: float  # of the profile's total (all rows)

    @property
    def is_overhead(self) -> bool:
        """Measured time outside any operator (Python binding, delegate and runtime remainder rows)."""
        return self.op_type.startswith("(")


@dataclass
class OpsProfile:
    """One artifact's per-operator profile plus the unprofiled end-to-end time it is checked against."""

    artifact: str
    runtime: str
    runtime_version: str
    threads: int
    runs: int
    warmup: int
    end_to_end_us: float  # trimmed mean of plain runs interleaved with the profiled ones (harness timing)
    profiled_us: float  # trimmed mean of the profiled runs as the runtime timed them
    ops: list[OpProfile] = field(default_factory=list)
    variant: str | None = None
    target: str | None = None
    precision: str | None = None
    sha256: str | None = None
    note: str | None = None
    device: str | None = None  # where it ran, when not this host (a cloud phone's per-layer profile)

    @property
    def total_us(self) -> float:
        return sum(o.total_us for o in self.ops)

    @property
    def operators_us(self) -> float:
        """Time attributed to real operators (overhead rows left out)."""
        return sum(o.total_us for o in self.ops if not o.is_overhead)

    @property
    def label(self) -> str:
        name = (self.variant or self.artifact).replace("mobilenet_v1-", "")
        where = f" on {self.device}" if self.device else ""
        return f"{name} {self.runtime} {self.precision or '?'} t{self.threads}{where}"

    def by_type(self) -> list[OpProfile]:
        """Rows summed per op type, slowest first."""
        acc: dict[str, list[float]] = {}
        for o in self.ops:
            a = acc.setdefault(o.op_type, [0, 0.0])
            a[0] += o.calls
            a[1] += o.total_us
        total = self.total_us or 1.0
        rows = [OpProfile(t, t, int(c), us, us / total) for t, (c, us) in acc.items()]
        return sorted(rows, key=lambda r: -r.total_us)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_us": self.total_us, "operators_us": self.operators_us}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpsProfile:
        names = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in names}
        kw["ops"] = [OpProfile(**o) for o in d.get("ops") or []]
        return cls(**kw)


def _rows(per_run: Mapping[tuple[str, str], Sequence[float]], calls: Mapping[str, int]) -> list[OpProfile]:
    """Mean µs per row over the kept runs, in first-seen order, with shares of the row total.

    Runs are trimmed as a whole, like the harness's trimmed mean: the ``TRIM`` fraction of runs with
    the lowest and the highest totals are dropped, so one preempted run cannot move a row, and the
    rows still add up to the mean of the kept runs' totals.
    """
    from toolkit.profile.stats import DEFAULT_TRIM

    matrix = np.asarray([list(v) for v in per_run.values()], dtype=float)
    if matrix.size == 0:
        return []
    order = np.argsort(matrix.sum(axis=0), kind="stable")
    k = int(len(order) * DEFAULT_TRIM)
    kept = order[k : len(order) - k] if len(order) > 2 * k else order
    means = matrix[:, kept].mean(axis=1)
    total = float(means.sum()) or 1.0
    return [OpProfile(name, t, calls.get(name, 1), float(us), float(us) / total)
            for (name, t), us in zip(per_run, means, strict=True)]  # fmt: skip


def _binding_row(per_run: dict, inner: str, wall_ns: Sequence[float], inner_us: Sequence[float]) -> None:
    """The Python call's own cost per run: wall time around the call minus the runtime's ``inner`` event."""
    if len(wall_ns) == len(inner_us) and len(inner_us):
        per_run[(f"Python call, outside {inner}", "(Python binding)")] = list(
            np.asarray(wall_ns, dtype=float) / 1e3 - np.asarray(inner_us, dtype=float)
        )


def _trimmed_us(samples_ns: Sequence[float]) -> float:
    from toolkit.profile.stats import trimmed_mean

    return trimmed_mean(sorted(samples_ns)) / 1e3


def _interleave(plain: Callable[[], Any], profiled: Callable[[], Any], runs: int, warmup: int) -> tuple[list, list]:
    """Warm both up, then alternate blocks; returns (plain ns samples, profiled ns samples)."""
    for _ in range(warmup):
        plain()
        profiled()
    clock = time.perf_counter_ns
    p_ns, q_ns = [], []
    while len(q_ns) < runs:
        for fn, out in ((plain, p_ns), (profiled, q_ns)):
            for _ in range(min(_BLOCK, runs - len(q_ns))):
                t0 = clock()
                fn()
                out.append(clock() - t0)
    return p_ns, q_ns


# --- ExecuTorch ----------------------------------------------------------------------------------


def executorch_ops(artifact: Path, x: np.ndarray, *, threads: int = 0, runs: int = 100, warmup: int = 10) -> OpsProfile:
    """ETDump of ``runs`` profiled executions read with the devtools Inspector (no ETRecord needed:
    the XNNPACK events carry XNNPACK's operator names, e.g. ``Convolution (NHWC, F32) DWConv #3``)."""
    from executorch.runtime import Runtime

    from toolkit.runtimes import open_runner
    from toolkit.runtimes.io import encode

    plain = open_runner(artifact, threads=threads)  # sets the process-wide XNNPACK threadpool
    try:
        program = Runtime.get().load_program(Path(artifact), enable_etdump=True, debug_buffer_size=0)
        method = program.load_method("forward")
        xt = plain.method_tensor(encode(x, plain.input_spec))  # the program's dtype and dim order, as run() feeds it
        p_ns, q_ns = _interleave(lambda: plain.run(x), lambda: method.execute([xt]), runs, warmup)
        version, used = plain.version, int(getattr(plain, "threads", threads) or threads)
        with tempfile.TemporaryDirectory(prefix="toolkit-etdump-") as tmp:
            etdump = os.path.join(tmp, "run.etdp")
            program.write_etdump_result_to_file(etdump, os.path.join(tmp, "debug.bin"))
            rows, exec_us, note = _etdump_rows(etdump, warmup, q_ns)
    finally:
        plain.close()
    return OpsProfile(Path(artifact).name, "executorch", version, used, runs, warmup,
                      _trimmed_us(p_ns), exec_us, rows, note=note)  # fmt: skip


def _etdump_rows(etdump: str, skip: int, wall_ns: Sequence[float]) -> tuple[list[OpProfile], float, str | None]:
    """Per-op rows (µs) from an ETDump, dropping the first ``skip`` executions (warm-up); ``wall_ns`` is
    each profiled run as Python timed it, so the binding's own cost gets a row too."""
    with warnings.catch_warnings():  # "Output Buffer not found": no intermediate tensors were asked for
        warnings.simplefilter("ignore")
        from executorch.devtools import Inspector

        inspector = Inspector(etdump_path=etdump)
    block = next((b for b in inspector.event_blocks if b.name == "Execute"), None)
    if block is None:
        raise UsageError("the ETDump holds no execution events (ExecuTorch built without the event tracer)")
    raw = {e.name: np.asarray(e.perf_data.raw if e.perf_data else [], dtype=float)[skip:] * 1e3 for e in block.events}
    execute = raw.get("Method::execute", np.zeros(0))
    n = len(execute)
    if n == 0:
        raise UsageError("the ETDump holds no Method::execute events after the warm-up runs")
    delegate = sum((raw[e.name] for e in block.events if e.name == "DELEGATE_CALL"), np.zeros(n))
    per_run: dict[tuple[str, str], Sequence[float]] = {}
    in_delegate, outside = np.zeros(n), np.zeros(n)
    for e in block.events:
        if e.name in _ET_FRAMEWORK or len(raw[e.name]) != n:
            continue
        op_type = e.name.rsplit(" #", 1)[0] if e.is_delegated_op else e.name.removeprefix("native_call_")
        per_run[(e.name, op_type)] = raw[e.name]
        if e.is_delegated_op:
            in_delegate += raw[e.name]
        else:
            outside += raw[e.name]
    note = None
    if delegate.any() and not in_delegate.any():
        note = "the delegate reported no per-operator events in this build: delegate calls are shown whole"
        per_run[("delegate calls", "(delegate, no per-op events)")] = delegate
    elif delegate.any():
        per_run[("delegate calls, outside operators", "(delegate overhead)")] = delegate - in_delegate
    per_run[("Method::execute, outside delegate calls", "(runtime overhead)")] = execute - delegate - outside
    _binding_row(per_run, "Method::execute", wall_ns, execute)
    return _rows(per_run, {}), _trimmed_us(execute * 1e3), note


# --- ONNX Runtime --------------------------------------------------------------------------------


def onnxruntime_ops(
    artifact: Path, x: np.ndarray, *, threads: int = 0, runs: int = 100, warmup: int = 10
) -> OpsProfile:
    """``SessionOptions.enable_profiling`` trace parsed into per-node kernel times (µs per inference)."""
    import onnxruntime as ort

    from toolkit.runtimes import open_runner

    plain = open_runner(artifact, threads=threads)
    try:
        with tempfile.TemporaryDirectory(prefix="toolkit-ortprof-") as tmp:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1  # as the host runner sets them
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.enable_profiling, opts.profile_file_prefix = True, os.path.join(tmp, "ort")
            session = ort.InferenceSession(str(artifact), opts, providers=["CPUExecutionProvider"])
            inp = session.get_inputs()[0]
            feed = {inp.name: np.ascontiguousarray(x, dtype=np.float16 if "float16" in inp.type else np.float32)}
            p_ns, q_ns = _interleave(lambda: plain.run(x), lambda: session.run(None, feed), runs, warmup)
            trace = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    finally:
        plain.close()
    rows, run_us = _ort_rows(trace, warmup, q_ns)
    return OpsProfile(Path(artifact).name, "onnxruntime", ort.__version__, threads, runs, warmup,
                      _trimmed_us(p_ns), run_us, rows, note=_ort_note(rows, run_us, _trimmed_us(p_ns)))  # fmt: skip


def _ort_rows(trace: Iterable[Mapping[str, Any]], skip: int, wall_ns: Sequence[float]) -> tuple[list[OpProfile], float]:
    """Kernel events grouped by the ``model_run`` that contains them; the first ``skip`` runs dropped."""
    import bisect

    events = list(trace)
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])[skip:]
    if not runs:
        raise UsageError("ONNX Runtime wrote a profile without model runs")
    starts = [r["ts"] for r in runs]
    per_run: dict[tuple[str, str], list[float]] = {}
    calls: dict[str, int] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        i = bisect.bisect_right(starts, e["ts"]) - 1
        if i < 0 or e["ts"] > runs[i]["ts"] + runs[i]["dur"]:
            continue  # a warm-up run
        name = e["name"].removesuffix("_kernel_time")
        series = per_run.setdefault((name, e.get("args", {}).get("op_name", "?")), [0.0] * len(runs))
        series[i] += float(e["dur"])
        calls[name] = calls.get(name, 0) + 1
    calls = {k: max(1, round(v / len(runs))) for k, v in calls.items()}
    _binding_row(per_run, "model_run", wall_ns, [float(r["dur"]) for r in runs])
    return _rows(per_run, calls), _trimmed_us([r["dur"] * 1e3 for r in runs])


def _ort_note(rows: Sequence[OpProfile], profiled_us: float, end_to_end_us: float) -> str | None:
    """Say so when ORT's profiler inflates the kernels: it formats each node's shapes and thread
    statistics inside the kernel's own time window (sequential_executor.cc, KernelScope)."""
    total = sum(r.total_us for r in rows)
    kernels = [r for r in rows if not r.is_overhead]
    if total <= 1.1 * end_to_end_us or not kernels:
        return None
    extra = (profiled_us - end_to_end_us) / len(kernels)
    return (
        f"ONNX Runtime's profiler adds its own bookkeeping to every kernel time (~{extra:.0f} µs per node here: "
        f"profiled run {profiled_us:.0f} µs vs {end_to_end_us:.0f} µs unprofiled), so small kernels look slower; "
        "shares are indicative"
    )


# --- dispatch and files --------------------------------------------------------------------------

_PROFILERS = {".pte": ("executorch", executorch_ops), ".onnx": ("onnxruntime", onnxruntime_ops)}


def check_ops_supported(artifact: str | Path) -> None:
    """UsageError (one line) unless this host can profile ``artifact`` per operator."""
    from toolkit._deps import require

    path = Path(artifact)
    if path.suffix in _NO_PROFILER:
        raise UsageError(f"no per-operator profile for {path.name}: {_NO_PROFILER[path.suffix]}")
    if path.suffix not in _PROFILERS:
        raise UsageError(f"{path.name}: unknown artifact type; per-operator profiles exist for .pte and .onnx")
    if not path.exists():
        raise UsageError(f"artifact not found: {path}")
    require(_PROFILERS[path.suffix][0])


def check_ops_request(artifacts: Iterable[str | Path], device_kind: str, ops: bool, json_path: Path | None) -> None:
    """Validate ``toolkit profile --ops [--json FILE]`` before anything is measured."""
    if json_path is not None and not ops:
        raise UsageError("--json writes per-operator profiles: add --ops")
    if ops and device_kind not in ("host", "aihub"):
        raise UsageError("--ops profiles on the host and AI Hub only (the phone apps time whole inferences)")
    for artifact in artifacts if ops and device_kind == "host" else ():  # AI Hub profiles every layer itself
        check_ops_supported(artifact)


def profile_ops(artifact: str | Path, *, threads: int = 0, runs: int = 100, warmup: int = 10) -> OpsProfile:
    """Per-operator profile of ``artifact`` on this host, by extension; UsageError where none exists."""
    from toolkit.profile.runner import profile_input
    from toolkit.runtimes import read_manifest

    path = Path(artifact)
    check_ops_supported(path)
    manifest = read_manifest(path)
    prof = _PROFILERS[path.suffix][1](path, profile_input(manifest), threads=threads, runs=runs, warmup=warmup)
    prof.variant = (manifest.get("variant") or {}).get("name")
    prof.target, prof.precision = manifest.get("target"), manifest.get("precision")
    prof.sha256 = (manifest.get("artifact") or {}).get("sha256")
    return prof


def write_ops_json(profiles: Iterable[OpsProfile], path: str | Path) -> Path:
    """``{"kind": OPS_KIND, "profiles": [...]}``, atomically; ``toolkit report --ops FILE`` reads it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    doc = {"kind": OPS_KIND, "version": 1, "profiles": [p.to_dict() for p in profiles]}
    try:
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    finally:  # interrupted: the previous file stays, no partial one beside it
        tmp.unlink(missing_ok=True)
    return path


def load_ops_json(path: str | Path) -> list[OpsProfile]:
    """Profiles written by :func:`write_ops_json`; UsageError (one line) for anything else."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("kind") != OPS_KIND:
            raise ValueError(f"not a per-operator profile file (kind {doc.get('kind')!r})")
        return [OpsProfile.from_dict(p) for p in doc["profiles"]]
    except FileNotFoundError:
        raise UsageError(f"per-operator profile file not found: {path}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"cannot read per-operator profiles from {path}: {e}") from None
