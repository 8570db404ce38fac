"""The α×ρ sweep: build (cached), verify and profile every combination, resumably.

Two phases, so builds never disturb timings: first every missing artifact is exported through the
export pipeline (its cache makes a re-run free; ``jobs`` processes build variants side by side), then
the artifacts are measured (on a phone one at a time, on the host all together in interleaved rounds,
:mod:`toolkit.profile.rounds`) and each record is stored the moment it exists.
An artifact on disk is reused only when the export pipeline would reuse it (its cache key: model tensors,
options, tool and toolkit versions), and a measurement already in the DB (same artifact sha256, device and
protocol, see :func:`toolkit.results.run_key`) is skipped, so a killed sweep simply continues when re-run
with the same arguments, and a toolkit or runtime upgrade re-exports before it measures.

Several devices (``SweepConfig.devices``: any mix of host, phones, ``android:all`` and AI Hub phones) are
measured at once, a thread per device (:mod:`toolkit.profile.fanout`): each device gets the combinations
it can run, in order, and a failed or unplugged device leaves the others going. Ctrl-C keeps what is
stored and names the cloud jobs still running, which the same command picks up again.

Threads: ``SweepConfig.threads`` is a count (0 = the runtime's default) or None = autotune, as in
``toolkit profile``: on the host each artifact runs with the fastest of
:func:`toolkit.profile.threads.candidate_threads`, and its record says so (``config.threads_chosen_by``,
``config.threads_tuning_ms``). Phones are not autotuned from here: None means the app's default there.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import MissingDependencyError, ToolkitError, UsageError
from toolkit.profile.devices import device_kind, expand_specs
from toolkit.profile.fanout import DeviceOutcome, Item
from toolkit.profile.protocol import ProfileConfig
from toolkit.results import ResultsDB, run_key
from toolkit.sampling import spread_sample
from toolkit.variants import PUBLISHED_ALPHAS, PUBLISHED_RESOLUTIONS, Variant

__all__ = [
    "DEFAULT_TARGETS",
    "RUNS",
    "Combo",
    "SweepConfig",
    "SweepOutcome",
    "default_targets",
    "plan",
    "run_sweep",
    "sampled",
]

# Host default: the two fastest-building runtimes, so 16 variants build, verify and run in < 10 min on
# 2 cores (tflite conversion alone costs ~20 CPU-s per variant; add it with --targets).
DEFAULT_TARGETS = {"host": ("executorch", "onnx"), "android": ("executorch", "tflite"), "ios": ("coreml",),
                   "aihub": ("tflite", "onnx"), "devicefarm": ("executorch", "tflite")}  # fmt: skip
# Devices that run only some targets: a combination outside them is skipped there with one line instead
# of failing (phones are left to their apps, which refuse a format they cannot run in one line).
RUNS = {"aihub": ("tflite", "onnx"), "devicefarm": ("executorch", "tflite", "coreml")}
_EXTENSIONS = {"executorch": ".pte", "onnx": ".onnx", "tflite": ".tflite", "coreml": ".mlpackage"}
_NEEDS = {"executorch": ("executorch",), "onnx": ("onnx", "onnxruntime"), "tflite": ("litert_torch",),
          "coreml": ("coremltools",)}  # fmt: skip


def default_targets(device_kind: str) -> tuple[str, ...]:
    """The default targets for a device kind whose exporter is installed here."""
    from toolkit import _deps

    return tuple(t for t in DEFAULT_TARGETS.get(device_kind, ("onnx",)) if all(map(_deps._has, _NEEDS[t])))


@dataclass(frozen=True)
class Combo:
    alpha: float
    resolution: int
    target: str
    precision: str

    @property
    def variant(self) -> Variant:
        return Variant(self.alpha, self.resolution)

    def artifact(self, output_dir: Path) -> Path:
        """Where the float-I/O export of this combination lands (its format, for planning; reuse is the
        export pipeline's decision, :func:`_reusable`)."""
        return Path(output_dir) / f"{self.variant.name}-{self.target}-{self.precision}{_EXTENSIONS[self.target]}"

    def __str__(self) -> str:
        return f"{self.variant.name} {self.target} {self.precision}"


@dataclass(frozen=True)
class SweepConfig:
    """What to sweep; ``targets=()`` means :func:`default_targets` for the device."""

    alphas: tuple[float, ...] = PUBLISHED_ALPHAS
    resolutions: tuple[int, ...] = PUBLISHED_RESOLUTIONS
    targets: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    device: str = "host"
    devices: tuple[str, ...] = ()  # several devices at once (replaces ``device``)
    max_parallel: int = 0  # devices measured at once; 0 = all of them
    weights: str = "random"
    seed: int = 0
    output_dir: Path = Path("artifacts")
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    verify: bool = True
    jobs: int = 1
    threads: int | None = None  # measurement threads: N, 0 = runtime default, None = autotune (host)
    sample: int | None = None  # measure only this many variants, spread over the grid (toolkit.sampling)
    wait_for_lock: bool = True  # another measurer on a device: wait for it (False: that device fails at once)

    def __post_init__(self) -> None:
        from toolkit.export.base import validate_precision, validate_target

        for t in self.targets:
            validate_target(t)
        for p in self.precisions:
            validate_precision(p)
        for a in self.alphas:
            for r in self.resolutions:
                Variant(a, r)
        if self.jobs < 1:
            raise UsageError(f"jobs must be >= 1, got {self.jobs}")
        if self.max_parallel < 0:
            raise UsageError(f"max_parallel must be >= 0 (0 = every device at once), got {self.max_parallel}")
        for spec in self.device_specs:
            device_kind(spec)
        if self.threads is not None and self.threads < 0:
            raise UsageError(f"threads must be >= 0 or 'auto', got {self.threads}")
        if self.profile.threads not in (0, self.threads):  # one source of truth for the thread count
            raise UsageError("set the sweep's thread count with SweepConfig.threads, not profile.threads")
        if self.sample is not None:
            sampled(self)  # UsageError unless 1 <= sample <= grid size

    @property
    def device_specs(self) -> tuple[str, ...]:
        return self.devices or (self.device,)


@dataclass
class SweepOutcome:
    measured: list[dict[str, Any]] = field(default_factory=list)
    already: int = 0  # combinations found in the DB
    failures: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    stopped_early: str | None = None  # why the device went away (one device)
    total: int = 0
    devices: list[DeviceOutcome] = field(default_factory=list)  # each device's own outcome


def sampled(cfg: SweepConfig) -> list[Variant]:
    """The variants a ``sample``-sized sweep measures (all of the grid without ``sample``)."""
    grid = [Variant(a, r) for a in cfg.alphas for r in cfg.resolutions]
    return grid if cfg.sample is None else spread_sample(grid, cfg.sample)


def plan(cfg: SweepConfig) -> list[Combo]:
    """Every α × ρ × target × precision (of the sampled variants), widest and largest first."""
    kinds = list(dict.fromkeys(device_kind(s) for s in cfg.device_specs))
    targets = cfg.targets or tuple(dict.fromkeys(t for k in kinds for t in default_targets(k)))
    if not targets:
        raise MissingDependencyError(
            f"no exporter for a {'/'.join(kinds)} target is installed: pip install 'mobilenet-toolkit[all]'"
        )
    keep = {v.name for v in sampled(cfg)}
    return [Combo(a, r, t, p) for a in cfg.alphas for r in cfg.resolutions for t in targets for p in cfg.precisions
            if Variant(a, r).name in keep]  # fmt: skip


def _build_variant(
    alpha: float, resolution: int, jobs: list[tuple[str, str]], cfg: SweepConfig, threads: int | None
) -> list:
    """Export one variant to several targets (runs in a worker process when ``cfg.jobs > 1``).

    ``threads`` is torch's thread count while building (1 in a parallel worker so workers do not fight
    over cores; 0/None leaves torch's default). It is not the measurement thread count (``cfg.threads``).
    """
    import torch

    from toolkit import mobilenet_v1
    from toolkit.export.pipeline import export

    if threads:
        torch.set_num_threads(threads)
    out: list = []
    if _stopping:  # a queued build reaching a worker the sweep is stopping
        return out
    model = mobilenet_v1(alpha, resolution, weights=cfg.weights, seed=cfg.seed)
    for target, precision in jobs:
        try:
            res = export(model, _export_config(cfg, target, precision), progress=False)
            out.append((target, precision, str(res.path), None))
        except (ToolkitError, ImportError, RuntimeError) as e:  # one broken export must not sink the sweep
            out.append((target, precision, None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
    return out


_stopping = False  # set in a build worker when the sweep stops it


def _worker_init() -> None:
    """Build workers leave Ctrl-C to the sweep, which stops them with SIGTERM once (see :func:`_build_all`).

    SIGTERM raises KeyboardInterrupt in the worker, so the export pipeline removes its temp file on the way
    out; builds still queued for the worker then return at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


def _stop_worker(signum: int, frame: Any) -> None:
    global _stopping
    if not _stopping:
        _stopping = True
        raise KeyboardInterrupt


def _export_config(cfg: SweepConfig, target: str, precision: str) -> Any:
    """The one export configuration of a combination, for both the reuse check and the build."""
    from toolkit.export.base import ExportConfig

    return ExportConfig(target=target, precision=precision, output_dir=cfg.output_dir, verify=cfg.verify)


def _reusable(combos: list[Combo], cfg: SweepConfig) -> dict[Combo, Path]:
    """The planned artifacts already on disk that the export pipeline would reuse as they are.

    The pipeline's cache key (model tensors, options, tool and toolkit versions) alone decides
    (:func:`toolkit.export.pipeline.cached`), so an upgrade or another option re-exports. Each variant's
    model is built once for the check (a random-weight model in well under a second).
    """
    from toolkit import mobilenet_v1
    from toolkit.export.pipeline import cached

    by_variant: dict[tuple[float, int], list[Combo]] = {}
    for c in combos:
        by_variant.setdefault((c.alpha, c.resolution), []).append(c)
    found: dict[Combo, Path] = {}
    for (alpha, resolution), group in by_variant.items():
        model = mobilenet_v1(alpha, resolution, weights=cfg.weights, seed=cfg.seed)
        for c in group:
            try:
                hit = cached(model, _export_config(cfg, c.target, c.precision))
            except (ToolkitError, ImportError):  # an unsupported combination: the build phase reports it
                hit = None
            if hit is not None:
                found[c] = hit.path
    return found


# run_key's thread count for an autotuned host measurement: the chosen count varies with load, and a
# resumed sweep must find what it stored without re-tuning first, so the key records the request.
_AUTO_KEY_THREADS = -1


def _key(manifest: dict[str, Any], device: dict[str, Any], p: ProfileConfig, threads: int | None = 0) -> str:
    autotuned = threads is None and device.get("kind") == "host"
    conf = {**p.to_dict(), "threads": _AUTO_KEY_THREADS if autotuned else threads or 0,
            "delegate": p.delegate or manifest.get("delegate")}  # fmt: skip
    return run_key(manifest["artifact"]["sha256"], device, conf)


def _build_all(todo: dict[tuple[float, int], list[Combo]], cfg: SweepConfig, step: Callable[[str], None]) -> dict:
    """Build what is missing; returns {Combo: Path | error string}."""
    built: dict[Combo, Path | str] = {}

    def collect(combos: list[Combo], rows: list) -> None:
        by = {(c.target, c.precision): c for c in combos}
        for target, precision, path, err in rows:
            built[by[(target, precision)]] = Path(path) if path else err
            step(str(by[(target, precision)]))

    items = [(k, v) for k, v in todo.items() if v]
    if cfg.jobs == 1 or len(items) <= 1:
        for (a, r), combos in items:
            collect(combos, _build_variant(a, r, [(c.target, c.precision) for c in combos], cfg, 0))
        return built
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init)
    try:
        futs = {
            pool.submit(_build_variant, a, r, [(c.target, c.precision) for c in cs], cfg, 1): cs for (a, r), cs in items
        }
        for fut in as_completed(futs):
            collect(futs[fut], fut.result())
    except BaseException:  # Ctrl-C (or a failure): stop the builds and wait until each has cleaned up
        for worker in mp.active_children():
            worker.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return built


def run_sweep(
    cfg: SweepConfig,
    db: ResultsDB,
    *,
    progress: Callable[..., None] | None = None,
    say: Callable[[str], None] | None = None,
) -> SweepOutcome:
    """Build, verify, profile and store every planned combination that is not stored yet, on every device.

    ``progress(phase, total, label)`` is called with ``label == ""`` when a phase starts and once per
    finished item; ``progress(phase, total, text, status=True)`` reports a cloud job's state without
    counting. Every device is checked first (one unusable device is that device's failure; all unusable
    raises). A device that vanishes mid-sweep is that device's ``error``; with one device,
    ``outcome.stopped_early`` says why, and everything measured until then is already in the DB.
    Building holds the host's measurement lock (it would disturb anyone timing here) and each device is
    measured under its own (:mod:`toolkit.profile.lock`); ``say`` gets the line when the sweep waits for one.
    """
    from toolkit.export.pipeline import check_output_dir
    from toolkit.profile.lock import measurement_lock

    report = progress or (lambda phase, total, label, status=False: None)
    check_output_dir(cfg.output_dir)  # one line now, not the same failure once per combination
    specs = expand_specs(cfg.device_specs)
    combos = plan(cfg)
    out = SweepOutcome(total=len(combos) * len(specs))
    usable, broken = _check_devices(specs, db)
    todo: dict[tuple[float, int], list[Combo]] = {}
    ready: list[tuple[Combo, Path]] = []
    runnable = []
    for c in combos:
        if any(_runs(kind, c.target) for kind in usable.values()):
            runnable.append(c)
        else:
            out.unsupported.append(f"{c}: none of the devices runs {c.target}")
    reusable = _reusable(runnable, cfg)
    for c in runnable:
        if c in reusable:
            ready.append((c, reusable[c]))
        else:
            todo.setdefault((c.alpha, c.resolution), []).append(c)
    n_build = sum(len(v) for v in todo.values())
    report("build", n_build, "")
    with measurement_lock("host" if n_build else None, wait=cfg.wait_for_lock, say=say):
        built = _build_all(todo, cfg, lambda label: report("build", n_build, label))
    for c, res in built.items():
        if isinstance(res, Path):
            ready.append((c, res))
        elif "does not support precision" in res or "MissingDependencyError" in res:
            out.unsupported.append(f"{c}: {res}")
        else:
            out.failures.append(f"{c}: build failed: {res}")
    ready.sort(key=lambda cp: combos.index(cp[0]))
    out.devices = broken + _profile_devices(list(usable), [(c, p) for c, p in ready], combos, cfg, db, report, say)
    out.devices.sort(key=lambda o: specs.index(o.spec))
    _merge(out, len(specs))
    return out


def _runs(kind: str, target: str) -> bool:
    return target in RUNS.get(kind, (target,))


def _check_devices(specs: list[str], db: ResultsDB) -> tuple[dict[str, str], list[DeviceOutcome]]:
    """{spec: kind} of the devices that answer, and an outcome for each one that does not.

    Checked before anything is built, so a phone left unplugged or a missing AI Hub token costs seconds,
    not a build; when no device answers, the first one's error is raised as is.
    """
    from toolkit.profile.devices import get_device

    usable: dict[str, str] = {}
    broken: list[DeviceOutcome] = []
    for spec in specs:
        try:
            device = get_device(spec, store=db)
            device.describe()
            usable[spec] = device.kind
        except ToolkitError as e:
            if len(specs) == 1:
                raise
            broken.append(DeviceOutcome(spec, error=str(e)))
    if not usable:
        raise ToolkitError("no device could be used: " + "; ".join(f"{o.spec}: {o.error}" for o in broken))
    return usable, broken


def _profile_devices(specs, ready, combos, cfg, db, report, say=None) -> list[DeviceOutcome]:
    """Measure ``ready`` on every device at once (threads), each with its own DB connection."""
    from toolkit.profile.fanout import fan_out, run_device
    from toolkit.runtimes import read_manifest

    sweep_id = uuid.uuid4().hex[:12]
    phase = {s: "profile" if len(specs) == 1 else f"profile {s}" for s in specs}
    totals: dict[str, int] = {}

    def plan_for(device: Any, description: dict[str, Any], outcome: DeviceOutcome) -> list[Item]:
        items = []
        for c, path in ready:
            if not _runs(device.kind, c.target):
                outcome.unsupported.append(f"{c}: a {device.kind} device does not run {c.target}")
                continue
            items.append(Item(str(c), path, _key(read_manifest(path), description, cfg.profile, cfg.threads)))
        totals[outcome.spec] = len(items)
        report(phase[outcome.spec], len(items), "")
        return items

    def landed(spec: str, record: dict[str, Any]) -> None:
        a = record["artifact"]
        report(phase[spec], totals[spec], f"{a.get('variant')} {a.get('target')} {a.get('precision')}")

    def status(spec: str, label: str, state: str) -> None:
        report(phase[spec], totals.get(spec, 0), f"{label}: {state}", status=True)

    def work(spec: str, stop: Any) -> DeviceOutcome:
        return run_device(spec, plan_for, cfg.profile, cfg.threads, db.path, stop, sweep_id=sweep_id,
                          on_record=landed, on_status=status, wait=cfg.wait_for_lock, say=say)  # fmt: skip

    return fan_out(specs, work, max_parallel=cfg.max_parallel, db_path=db.path)


def _merge(out: SweepOutcome, n_devices: int) -> None:
    """Fold the devices' outcomes into the sweep's (device-prefixed lines when there are several)."""
    for o in out.devices:
        prefix = f"{o.label}: " if n_devices > 1 else ""
        out.measured += o.measured
        out.already += o.already
        out.unsupported += [prefix + u for u in o.unsupported]
        out.failures += [prefix + f for f in o.failures]
        if o.error and n_devices == 1:
            out.stopped_early = o.error
        elif o.error:
            out.failures.append(f"{o.label}: {o.error}")
