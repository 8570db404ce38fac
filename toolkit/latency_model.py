"""A latency model for variants nobody measured: cost features → milliseconds, with an interval.

One model per (device, runtime, precision), fitted on that configuration's measured variants.
Latency is modelled as a non-negative sum of costs the hardware pays (see docs/selecting.md):

    t ≈ θ₀ + θ₁·pointwise mult-adds + θ₂·(depthwise + conv1 mult-adds) + θ₃·activation bytes + θ₄·weight bytes

θ₀ is the fixed per-inference overhead (MobileNet V1 always has 28 layers, so per-layer dispatch cost
is a constant), the two compute terms have their own throughput because depthwise convs run far below
the GEMM peak, and the two traffic terms price memory. Non-negative least squares keeps every term
physical (a negative price would extrapolate absurdly), and rows are weighted by 1/t so the fit
minimises *relative* error: a 0.15 ms variant counts as much as a 3 ms one.

The interval comes from leave-one-variant-out residuals in log space (what the model gets wrong on a
variant it has not seen), widened by a Student t factor and again when the query lies outside the
measured mult-add range.
"""

from __future__ import annotations

import math
import os
import platform
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.cost import layer_costs
from toolkit.errors import ToolkitError, UsageError
from toolkit.variants import Variant, parse_name

__all__ = [
    "FEATURE_SETS",
    "LatencyModel",
    "Prediction",
    "fit",
    "fit_all",
    "host_artifact",
    "host_device",
    "loo",
    "loo_report",
    "measure_on_host",
    "predict",
    "variant_features",
]

BYTES = {"fp32": 4, "fp16": 2, "int8": 1}
# Named feature sets; "types" is the default (docs/selecting.md compares them on a real sweep).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "macs": ("one", "macs"),
    "types": ("one", "pw_macs", "dw_macs", "act_bytes", "weight_bytes"),
    "compute": ("one", "pw_macs", "dw_macs"),
    "traffic": ("one", "macs", "act_bytes"),
}
DEFAULT_FEATURES = "types"
MIN_LOG_SIGMA = 0.03  # a fit can't be trusted below ~3%: run-to-run drift on one device is about that
PRIOR_LOG_SIGMA = 0.35  # used when too few variants were measured to estimate the error (n < 3)
STATS = {"median": "median_ms", "p90": "p90_ms"}


def variant_features(variant: Variant, precision: str = "fp32") -> dict[str, float]:
    """Aggregate cost features of one variant from :func:`toolkit.cost.layer_costs` (per layer, summed).

    Activation bytes count every conv/FC layer's input and output map once (what a layer-by-layer runtime
    streams through memory); weight bytes count the stored weights at the precision's width.
    """
    b = BYTES.get(precision, 4)
    f = dict.fromkeys(("macs", "pw_macs", "dw_macs", "fc_macs", "act_bytes", "weight_bytes", "layers"), 0.0)
    f["one"] = 1.0
    for layer in layer_costs(variant.alpha, variant.resolution):
        if layer.type == "Avg Pool":
            continue
        f["macs"] += layer.macs
        key = {"Conv 1x1": "pw_macs", "Fully Connected": "fc_macs"}.get(layer.type, "dw_macs")
        f[key] += layer.macs
        f["act_bytes"] += b * (math.prod(layer.in_shape) + math.prod(layer.out_shape))
        f["weight_bytes"] += b * layer.weights
        f["layers"] += 1
    return f


@dataclass(frozen=True)
class Prediction:
    """Predicted latency of one variant (ms) and its ~95% interval; ``predicted`` is always True."""

    variant: Variant
    median_ms: float
    low_ms: float
    high_ms: float
    predicted: bool = True
    extrapolated: bool = False  # outside the measured mult-add range: interval widened, trust less
    stat: str = "median_ms"
    key: tuple[str, ...] = ()  # (device, runtime, precision) of the model that made it


@dataclass(frozen=True)
class LatencyModel:
    """A fitted model: ``coef`` (ms per scaled feature), the scales, and the LOO log-residual spread."""

    key: tuple[str, str, str]  # (device, runtime, precision)
    features: tuple[str, ...]
    coef: tuple[float, ...]
    scale: tuple[float, ...]
    log_sigma: float
    t_factor: float
    macs_range: tuple[float, float]
    variants: tuple[str, ...]
    stat: str = "median_ms"

    def point(self, variant: Variant) -> float:
        f = variant_features(variant, self.key[2])
        x = np.array([f[k] / s for k, s in zip(self.features, self.scale, strict=True)])
        return float(x @ np.array(self.coef))

    def predict(self, variant: Variant) -> Prediction:
        """Central value and interval: exp(± t·σ) around the point, σ widened outside the measured range."""
        t = max(self.point(variant), 1e-6)
        macs = variant_features(variant)["macs"]
        lo, hi = self.macs_range
        outside = abs(math.log(macs / lo)) if macs < lo else abs(math.log(macs / hi)) if macs > hi else 0.0
        half = self.t_factor * self.log_sigma * (1.0 + outside)
        return Prediction(variant, t, t * math.exp(-half), t * math.exp(half), True, outside > 0, self.stat, self.key)


def _points(records: Iterable[Mapping], stat: str) -> tuple[list[Variant], np.ndarray]:
    """One point per variant: the median of its records' statistic (several runs of one variant agree)."""
    by: dict[str, list[float]] = {}
    for r in records:
        name = r.get("artifact", {}).get("variant")
        if name:
            by.setdefault(name, []).append(float(r["stats"][stat]))
    names = sorted(by)
    return [parse_name(n) for n in names], np.array([float(np.median(by[n])) for n in names])


def _solve(variants: Sequence[Variant], y: np.ndarray, names: tuple[str, ...], precision: str):
    from scipy.optimize import nnls

    x = np.array([[variant_features(v, precision)[k] for k in names] for v in variants])
    scale = np.maximum(x.max(axis=0), 1e-12)
    xs = x / scale
    coef, _ = nnls(xs / y[:, None], np.ones_like(y))  # weights 1/y: minimise relative error
    return coef, scale


def _choose_features(n: int, features: str) -> tuple[str, ...]:
    names = FEATURE_SETS[features]
    # Keep two points per parameter; with fewer, fall back to overhead + total mult-adds (or just mult-adds).
    if n < 2 * len(names):
        names = FEATURE_SETS["macs"] if n >= 4 else ("macs",)
    return names


def fit(
    records: Iterable[Mapping],
    key: tuple[str, str, str] | None = None,
    features: str = DEFAULT_FEATURES,
    stat: str = "median_ms",
) -> LatencyModel:
    """Fit one (device, runtime, precision)'s records; ``key`` labels the model (taken from the records)."""
    from scipy.stats import t as student_t

    if features not in FEATURE_SETS:
        raise ValueError(f"features must be one of {', '.join(FEATURE_SETS)}, got {features!r}")
    records = list(records)
    variants, y = _points(records, stat)
    if not variants:
        raise ToolkitError("no measured variants to fit a latency model on: run `toolkit sweep` first")
    if key is None:
        from toolkit.select import config_key

        key = config_key(records[0])
    names = _choose_features(len(variants), features)
    coef, scale = _solve(variants, y, names, key[2])
    macs = [variant_features(v)["macs"] for v in variants]
    if len(variants) >= 3:
        errs = [math.log(yi / max(pi, 1e-9)) for _v, yi, pi in _loo_points(variants, y, names, key[2])]
        sigma = max(math.sqrt(float(np.mean(np.square(errs)))), MIN_LOG_SIGMA)
        tf = float(student_t.ppf(0.975, len(variants) - 1))
    else:
        sigma, tf = PRIOR_LOG_SIGMA, 1.96
    return LatencyModel(key, names, tuple(map(float, coef)), tuple(map(float, scale)), sigma, tf,
                        (min(macs), max(macs)), tuple(v.name for v in variants), stat)  # fmt: skip


def _loo_points(variants: Sequence[Variant], y: np.ndarray, names: tuple[str, ...], precision: str):
    out = []
    for i, v in enumerate(variants):
        keep = [j for j in range(len(variants)) if j != i]
        coef, scale = _solve([variants[j] for j in keep], y[keep], names, precision)
        x = np.array([variant_features(v, precision)[k] for k in names]) / scale
        out.append((v, float(y[i]), float(x @ coef)))
    return out


def loo(records: Iterable[Mapping], features: str = DEFAULT_FEATURES, stat: str = "median_ms"):
    """Leave-one-variant-out on one configuration's records: [(variant, measured, predicted)]."""
    records = list(records)
    variants, y = _points(records, stat)
    names = _choose_features(len(variants) - 1, features)
    from toolkit.select import config_key

    return _loo_points(variants, y, names, config_key(records[0])[2])


def fit_all(records: Iterable[Mapping], features: str = DEFAULT_FEATURES, stat: str = "median_ms") -> dict:
    """One model per (device, runtime, precision) found in the records."""
    from toolkit.select import config_key, latest_records

    groups: dict[tuple[str, str, str], list[Mapping]] = {}
    for r in latest_records(records):
        groups.setdefault(config_key(r), []).append(r)
    return {k: fit(g, k, features, stat) for k, g in sorted(groups.items())}


def predict(
    alpha: float,
    resolution: int,
    device: str,
    runtime: str | None = None,
    precision: str | None = None,
    *,
    records: Iterable[Mapping],
    stat: str = "median_ms",
) -> Prediction:
    """Predict one variant on a measured configuration (runtime/precision may be omitted when unique)."""
    from toolkit.select import filter_records

    variant = Variant(alpha, resolution)  # InvalidVariantError for a bad α/ρ
    recs = filter_records(records, device, runtime, precision)
    models = fit_all(recs, stat=stat)
    if len(models) > 1:
        opts = ", ".join(f"--runtime {k[1]} --precision {k[2]}" for k in models)
        raise ToolkitError(f"{device} has several measured configurations; choose one: {opts}")
    return next(iter(models.values())).predict(variant)


def loo_report(records: Iterable[Mapping], stat: str = "median_ms") -> str:
    """Markdown table: LOO MAPE per (device, runtime, precision) and feature set; the benchmark prints it."""
    from toolkit.select import config_key, latest_records

    groups: dict[tuple[str, str, str], list[Mapping]] = {}
    for r in latest_records(records):
        groups.setdefault(config_key(r), []).append(r)
    sets = list(FEATURE_SETS)
    head = " | ".join(f"LOO MAPE {s}" for s in sets)
    lines = [f"| device | runtime | precision | n | {head} | worst ({DEFAULT_FEATURES}) |",
             "|---" * (5 + len(sets)) + "|"]  # fmt: skip
    for key, recs in sorted(groups.items()):
        cells, worst = [], ""
        for s in sets:
            pts = loo(recs, s, stat)
            ape = [abs(p - y) / y * 100 for _v, y, p in pts]
            cells.append(f"{np.mean(ape):.1f}%")
            if s == DEFAULT_FEATURES:
                i = int(np.argmax(ape))
                worst = f"{pts[i][0].name} {ape[i]:.1f}%"
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {len(recs)} | {' | '.join(cells)} | {worst} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ host measurement
# The model needs a sweep measured under one protocol; these give one without the results database.


def host_device() -> dict[str, Any]:
    """The schema's device block for this machine (the profiling harness's own, when it is installed)."""
    try:
        from toolkit.profile.host import HostDevice
    except ModuleNotFoundError:
        pass
    else:
        return HostDevice().describe()
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"kind": "host", "name": socket.gethostname() or "host", "os": f"{platform.system()} {platform.release()}",
            "cpu": cpu or platform.processor() or None, "cores": os.cpu_count()}  # fmt: skip


def _reusable(out_dir: Path, v: Variant, target: str, precision: str) -> Any:
    """An ExportResult for a random-weight artifact already in ``out_dir``, or None."""
    from toolkit.export.base import get_exporter
    from toolkit.export.pipeline import ExportResult
    from toolkit.runtimes import read_manifest

    path = out_dir / f"{v.name}-{target}-{precision}{get_exporter(target).extension}"
    try:
        manifest = read_manifest(path) if path.exists() else None
    except UsageError:
        return None
    if not manifest or manifest.get("weights", {}).get("kind") != "random":
        return None
    return ExportResult(path, manifest, True)


def host_artifact(
    v: Variant, target: str, precision: str, artifacts_dir: Path | None = None, reuse: bool = False
) -> Any:
    """Export ``v`` with random weights (cached under the toolkit cache) and return the ExportResult."""
    from toolkit import mobilenet_v1
    from toolkit.export.base import ExportConfig
    from toolkit.export.pipeline import export
    from toolkit.weights import cache_dir

    out_dir = Path(artifacts_dir or cache_dir() / "select-artifacts")
    out_dir.mkdir(parents=True, exist_ok=True)
    res = _reusable(out_dir, v, target, precision) if reuse else None
    cfg = ExportConfig(target=target, precision=precision, output_dir=out_dir, verify=False)
    return res or export(mobilenet_v1(v.alpha, v.resolution, weights="random"), cfg, progress=False)


def measure_on_host(
    variants: Sequence[Variant],
    target: str = "onnx",
    precision: str = "fp32",
    threads: int = 2,
    warmup: int = 10,
    iterations: int = 30,
    rounds: int = 3,
    artifacts_dir: Path | None = None,
    reuse: bool = False,
) -> list[dict[str, Any]]:
    """Export (random weights, cached) and time each variant on this host; one result record each.

    Why interleaved: on a shared machine the load drifts, so every variant gets ``rounds`` slices of
    ``iterations / rounds`` timed runs in turn; a load spike then inflates all variants alike instead
    of one, which is what a latency *model* needs. Used by ``toolkit select --measure`` and the benchmark.
    ``reuse=True`` takes an artifact already in ``artifacts_dir`` without rebuilding the model to check its
    cache key (building a random-weight model costs seconds; latency does not depend on the weights).
    """
    from toolkit.data import sample_images
    from toolkit.profile.stats import summarize
    from toolkit.runtimes import open_runner, to_layout

    built = []
    for v in variants:
        res = host_artifact(v, target, precision, artifacts_dir, reuse)
        runner = open_runner(res.path, threads=threads)
        x = to_layout(sample_images(v.resolution)[:1], res.manifest["input"]["layout"])
        for _ in range(warmup):
            runner.run(x)
        built.append((v, res, runner, x, []))
    per_round = max(1, math.ceil(iterations / rounds))
    for _ in range(rounds):
        for _v, _res, runner, x, samples in built:
            time.sleep(0.05)  # let ORT's spinning workers of the previous variant go idle
            for _ in range(per_round):
                t0 = time.perf_counter()
                runner.run(x)
                samples.append((time.perf_counter() - t0) * 1e3)
    device, records = host_device(), []
    for v, res, runner, _x, samples in built:
        runner.close()
        m = res.manifest
        records.append({
            "schema_version": 1,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device": device,
            "runtime": {"name": m["runtime"]["name"], "version": str(m["runtime"].get("version") or runner.version),
                        "delegate": m.get("delegate")},
            "artifact": {"sha256": m["artifact"]["sha256"], "file": m["artifact"]["file"], "variant": v.name,
                         "target": target, "precision": m["precision"], "weights": m["weights"].get("kind")},
            "config": {"threads": threads, "warmup": warmup, "iterations": len(samples)},
            "latency_ms": samples,
            "stats": summarize(samples).to_dict(),
        })  # fmt: skip
    return records
