"""The α×ρ sweep: build (cached), verify and profile every combination, resumably.

Two phases, so builds never disturb timings: first every missing artifact is exported through the
export pipeline (its cache makes a re-run free; ``jobs`` processes build variants side by side), then
the artifacts are measured one at a time on the device and each record is stored the moment it exists.
A combination whose artifact is unchanged and whose measurement (same artifact sha256, device and
protocol, see :func:`toolkit.results.run_key`) is already in the DB is skipped, so a killed sweep
simply continues when re-run with the same arguments.

Threads: ``SweepConfig.threads`` is a count (0 = the runtime's default) or None = autotune, as in
``toolkit profile``: on the host each artifact runs with the fastest of
:func:`toolkit.profile.threads.candidate_threads`, and its record says so (``config.threads_chosen_by``,
``config.threads_tuning_ms``). Phones are not autotuned from here: None means the app's default there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import MissingDependencyError, ToolkitError, UsageError
from toolkit.profile.protocol import DeviceError, ProfileConfig
from toolkit.results import ResultsDB, run_key
from toolkit.sampling import spread_sample
from toolkit.variants import PUBLISHED_ALPHAS, PUBLISHED_RESOLUTIONS, Variant

__all__ = ["DEFAULT_TARGETS", "Combo", "SweepConfig", "SweepOutcome", "default_targets", "plan", "run_sweep", "sampled"]

# Host default: the two fastest-building runtimes, so 16 variants build, verify and run in < 10 min on
# 2 cores (tflite conversion alone costs ~20 CPU-s per variant; add it with --targets).
DEFAULT_TARGETS = {"host": ("executorch", "onnx"), "android": ("executorch", "tflite"), "ios": ("coreml",)}
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
    weights: str = "random"
    seed: int = 0
    output_dir: Path = Path("artifacts")
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    verify: bool = True
    jobs: int = 1
    threads: int | None = None  # measurement threads: N, 0 = runtime default, None = autotune (host)
    sample: int | None = None  # measure only this many variants, spread over the grid (toolkit.sampling)

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
        if self.threads is not None and self.threads < 0:
            raise UsageError(f"threads must be >= 0 or 'auto', got {self.threads}")
        if self.profile.threads not in (0, self.threads):  # one source of truth for the thread count
            raise UsageError("set the sweep's thread count with SweepConfig.threads, not profile.threads")
        if self.sample is not None:
            sampled(self)  # UsageError unless 1 <= sample <= grid size


@dataclass
class SweepOutcome:
    measured: list[dict[str, Any]] = field(default_factory=list)
    already: int = 0  # combinations found in the DB
    failures: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    stopped_early: str | None = None  # why the device went away
    total: int = 0


def sampled(cfg: SweepConfig) -> list[Variant]:
    """The variants a ``sample``-sized sweep measures (all of the grid without ``sample``)."""
    grid = [Variant(a, r) for a in cfg.alphas for r in cfg.resolutions]
    return grid if cfg.sample is None else spread_sample(grid, cfg.sample)


def plan(cfg: SweepConfig) -> list[Combo]:
    """Every α × ρ × target × precision (of the sampled variants), widest and largest first."""
    kind = cfg.device.partition(":")[0]
    targets = cfg.targets or default_targets(kind)
    if not targets:
        raise MissingDependencyError(
            f"no exporter for a {kind} target is installed: pip install 'mobilenet-toolkit[all]'"
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
    from toolkit.export.base import ExportConfig
    from toolkit.export.pipeline import export

    if threads:
        torch.set_num_threads(threads)
    model = mobilenet_v1(alpha, resolution, weights=cfg.weights, seed=cfg.seed)
    out = []
    for target, precision in jobs:
        ecfg = ExportConfig(target=target, precision=precision, output_dir=cfg.output_dir, verify=cfg.verify)
        try:
            res = export(model, ecfg, progress=False)
            out.append((target, precision, str(res.path), None))
        except (ToolkitError, ImportError, RuntimeError) as e:  # one broken export must not sink the sweep
            out.append((target, precision, None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))
    return out


def _reusable(path: Path, cfg: SweepConfig) -> dict[str, Any] | None:
    """The manifest of an artifact already built from the same weights whose bytes match it."""
    from toolkit.export.manifest import tree_sha256
    from toolkit.runtimes import manifest_path, read_manifest

    if not path.exists() or not manifest_path(path).is_file():
        return None
    try:
        m = read_manifest(path)
    except UsageError:
        return None
    w = m.get("weights") or {}
    same = (w.get("kind") == "random" and w.get("seed") == cfg.seed) if cfg.weights == "random" else None
    if not same or m.get("artifact", {}).get("sha256") != tree_sha256(path):
        return None
    return m


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

    with ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=mp.get_context("spawn")) as pool:
        futs = {
            pool.submit(_build_variant, a, r, [(c.target, c.precision) for c in cs], cfg, 1): cs for (a, r), cs in items
        }
        for fut in as_completed(futs):
            collect(futs[fut], fut.result())
    return built


def run_sweep(
    cfg: SweepConfig, db: ResultsDB, *, progress: Callable[[str, int, str], None] | None = None
) -> SweepOutcome:
    """Build, verify, profile and store every planned combination that is not stored yet.

    ``progress(phase, total, label)`` is called with ``label == ""`` when a phase starts and once per
    finished item. A device that vanishes stops the sweep with ``outcome.stopped_early`` set; everything
    measured until then is already in the DB.
    """
    from toolkit.profile.devices import get_device

    report = progress or (lambda phase, total, label: None)
    device = get_device(cfg.device)
    combos = plan(cfg)
    out = SweepOutcome(total=len(combos))
    describe = device.describe()
    sweep_id = uuid.uuid4().hex[:12]
    todo: dict[tuple[float, int], list[Combo]] = {}
    ready: list[tuple[Combo, Path]] = []
    for c in combos:
        m = _reusable(c.artifact(cfg.output_dir), cfg)
        if m is not None and db.has(_key(m, describe, cfg.profile, cfg.threads)):
            out.already += 1
        elif m is not None:
            ready.append((c, c.artifact(cfg.output_dir)))
        else:
            todo.setdefault((c.alpha, c.resolution), []).append(c)
    n_build = sum(len(v) for v in todo.values())
    report("build", n_build, "")
    for c, res in _build_all(todo, cfg, lambda label: report("build", n_build, label)).items():
        if isinstance(res, Path):
            ready.append((c, res))
        elif "does not support precision" in res or "MissingDependencyError" in res:
            out.unsupported.append(f"{c}: {res}")
        else:
            out.failures.append(f"{c}: build failed: {res}")
    ready.sort(key=lambda cp: combos.index(cp[0]))
    report("profile", len(ready), "")
    _profile_all(ready, device, describe, cfg, db, sweep_id, out, lambda label: report("profile", len(ready), label))
    return out


def _profile_all(ready, device, describe, cfg, db, sweep_id, out, step) -> None:
    """Measure each artifact with ``cfg.threads`` (autotuned per artifact on the host when None)."""
    from toolkit.profile.threads import measure_with_threads
    from toolkit.runtimes import read_manifest
    from toolkit.runtimes.base import RuntimeUnavailableError

    for combo, path in ready:
        manifest = read_manifest(path)
        key = _key(manifest, describe, cfg.profile, cfg.threads)
        if db.has(key):  # measured by a concurrent sweep or a previous run
            out.already += 1
            step(str(combo))
            continue
        try:
            record = measure_with_threads(device, path, cfg.profile, cfg.threads)
        except DeviceError as e:
            if type(e).__name__ == "PhoneGoneError":
                out.stopped_early = str(e)
                return
            out.failures.append(f"{combo}: {e}")
        except (ToolkitError, RuntimeUnavailableError) as e:
            out.failures.append(f"{combo}: {e}")
        else:
            db.insert(record, key=key, sweep_id=sweep_id)
            out.measured.append(record)
        step(str(combo))
