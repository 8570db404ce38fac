"""A latency model for variants nobody measured: cost features → milliseconds, with an interval.

One model per configuration (device, runtime, precision, delegate), fitted on the records it is handed
(it never exports or measures anything itself). Latency is modelled as a non-negative sum of costs the
hardware pays (see docs/selecting.md):

    t ≈ θ₀ + θ₁·pointwise mult-adds + θ₂·(depthwise + conv1 mult-adds) + θ₃·activation bytes + θ₄·weight bytes

θ₀ is the fixed per-inference overhead (MobileNet V1 always has 28 layers, so per-layer dispatch cost
is a constant), the two compute terms have their own throughput because depthwise convs run far below
the GEMM peak, and the two traffic terms price memory. Non-negative least squares keeps every term
physical (a negative price would extrapolate absurdly), and rows are weighted by 1/t so the fit
minimises *relative* error: a 0.15 ms variant counts as much as a 3 ms one.

The interval comes from leave-one-variant-out residuals in log space (what the model gets wrong on a
variant it has not seen), widened by a Student t factor and again when the query lies outside the
measured mult-add range. A configuration with only a few measured variants is better served by the
few-shot transfer in :mod:`toolkit.latency_transfer`, which borrows the surface's shape from other devices.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from toolkit.cost import layer_costs
from toolkit.errors import ToolkitError
from toolkit.numeric import nnls, student_t_ppf
from toolkit.records import FILL_HINT, ConfigKey, config_key, group_by_config
from toolkit.variants import Variant, parse_name

__all__ = [
    "DEFAULT_FEATURES",
    "FEATURE_SETS",
    "LEVEL",
    "LatencyModel",
    "Prediction",
    "feature_matrix",
    "fit",
    "fit_all",
    "interval",
    "loo",
    "loo_report",
    "points",
    "solve",
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
LEVEL = 0.95  # the stated coverage of every interval


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


def feature_matrix(variants: Sequence[Variant], names: Sequence[str], precision: str) -> np.ndarray:
    """Rows = variants, columns = the named features at the precision's byte width."""
    return np.array([[variant_features(v, precision)[k] for k in names] for v in variants], dtype=float)


@dataclass(frozen=True)
class Prediction:
    """Predicted latency of one variant (ms) and its ~95% interval; ``predicted`` is always True.

    ``method`` says which model made it: ``fit`` (this configuration's own variants) or ``transfer``
    (a few of its variants plus the shape other devices give, :mod:`toolkit.latency_transfer`).
    """

    variant: Variant
    median_ms: float
    low_ms: float
    high_ms: float
    predicted: bool = True
    extrapolated: bool = False  # outside the measured mult-add range: interval widened, trust less
    stat: str = "median_ms"
    key: tuple[str, ...] = ()  # (device, runtime, precision, delegate) of the model that made it
    method: str = "fit"


def interval(
    variant: Variant, point: float, log_sigma: float, t_factor: float, macs_range: tuple[float, float]
) -> tuple[float, float, float, bool]:
    """(point, low, high, extrapolated): exp(± t·σ) around the point, σ widened by |log(MACs / nearest
    measured MACs)| outside the measured range."""
    t = max(point, 1e-6)
    macs = variant_features(variant)["macs"]
    lo, hi = macs_range
    outside = abs(math.log(macs / lo)) if macs < lo else abs(math.log(macs / hi)) if macs > hi else 0.0
    half = t_factor * log_sigma * (1.0 + outside)
    return t, t * math.exp(-half), t * math.exp(half), outside > 0


@dataclass(frozen=True)
class LatencyModel:
    """A fitted model: ``coef`` (ms per scaled feature), the scales, and the LOO log-residual spread."""

    key: ConfigKey
    features: tuple[str, ...]
    coef: tuple[float, ...]
    scale: tuple[float, ...]
    log_sigma: float
    t_factor: float
    macs_range: tuple[float, float]
    variants: tuple[str, ...]
    stat: str = "median_ms"

    def point(self, variant: Variant) -> float:
        x = feature_matrix([variant], self.features, self.key[2])[0] / np.array(self.scale)
        return float(x @ np.array(self.coef))

    def predict(self, variant: Variant) -> Prediction:
        """Central value and interval: exp(± t·σ) around the point, σ widened outside the measured range."""
        t, lo, hi, outside = interval(variant, self.point(variant), self.log_sigma, self.t_factor, self.macs_range)
        return Prediction(variant, t, lo, hi, True, outside, self.stat, self.key, "fit")


def points(records: Iterable[Mapping], stat: str = "median_ms") -> tuple[list[Variant], np.ndarray]:
    """One point per variant: the median of its records' statistic (several runs of one variant agree)."""
    by: dict[str, list[float]] = {}
    for r in records:
        name = r.get("artifact", {}).get("variant")
        if name:
            by.setdefault(name, []).append(float(r["stats"][stat]))
    names = sorted(by)
    return [parse_name(n) for n in names], np.array([float(np.median(by[n])) for n in names])


def solve(variants: Sequence[Variant], y: np.ndarray, names: Sequence[str], precision: str):
    """(coef, scale): non-negative prices per scaled feature, fitted for relative error (rows / y)."""
    x = feature_matrix(variants, names, precision)
    scale = np.maximum(x.max(axis=0), 1e-12)
    coef = nnls(x / scale / y[:, None], np.ones_like(y))  # weights 1/y: minimise relative error
    return coef, scale


def _choose_features(n: int, features: str) -> tuple[str, ...]:
    names = FEATURE_SETS[features]
    # Keep two points per parameter; with fewer, fall back to overhead + total mult-adds (or just mult-adds).
    if n < 2 * len(names):
        names = FEATURE_SETS["macs"] if n >= 4 else ("macs",)
    return names


def fit(
    records: Iterable[Mapping],
    key: ConfigKey | None = None,
    features: str = DEFAULT_FEATURES,
    stat: str = "median_ms",
) -> LatencyModel:
    """Fit one configuration's records; ``key`` labels the model (taken from the records)."""
    if features not in FEATURE_SETS:
        raise ValueError(f"features must be one of {', '.join(FEATURE_SETS)}, got {features!r}")
    records = list(records)
    variants, y = points(records, stat)
    if not variants:
        raise ToolkitError(f"no measured variants to fit a latency model on: {FILL_HINT}")
    key = key or config_key(records[0])
    names = _choose_features(len(variants), features)
    coef, scale = solve(variants, y, names, key[2])
    macs = [variant_features(v)["macs"] for v in variants]
    if len(variants) >= 3:
        errs = [math.log(yi / max(pi, 1e-9)) for _v, yi, pi in _loo_points(variants, y, names, key[2])]
        sigma = max(math.sqrt(float(np.mean(np.square(errs)))), MIN_LOG_SIGMA)
        tf = student_t_ppf(0.5 + LEVEL / 2, len(variants) - 1)
    else:
        sigma, tf = PRIOR_LOG_SIGMA, 1.96
    return LatencyModel(key, names, tuple(map(float, coef)), tuple(map(float, scale)), sigma, tf,
                        (min(macs), max(macs)), tuple(v.name for v in variants), stat)  # fmt: skip


def _loo_points(variants: Sequence[Variant], y: np.ndarray, names: tuple[str, ...], precision: str):
    out = []
    for i, v in enumerate(variants):
        keep = [j for j in range(len(variants)) if j != i]
        coef, scale = solve([variants[j] for j in keep], y[keep], names, precision)
        x = feature_matrix([v], names, precision)[0] / scale
        out.append((v, float(y[i]), float(x @ coef)))
    return out


def loo(records: Iterable[Mapping], features: str = DEFAULT_FEATURES, stat: str = "median_ms"):
    """Leave-one-variant-out on one configuration's records: [(variant, measured, predicted)]."""
    records = list(records)
    variants, y = points(records, stat)
    names = _choose_features(len(variants) - 1, features)
    return _loo_points(variants, y, names, config_key(records[0])[2])


def fit_all(records: Iterable[Mapping], features: str = DEFAULT_FEATURES, stat: str = "median_ms") -> dict:
    """One model per configuration found in the records (each on its own variants only)."""
    return {k: fit(g, k, features, stat) for k, g in group_by_config(records).items()}


def loo_report(records: Iterable[Mapping], stat: str = "median_ms") -> str:
    """Markdown table: LOO MAPE per configuration and feature set; the benchmark prints it."""
    sets = list(FEATURE_SETS)
    head = " | ".join(f"LOO MAPE {s}" for s in sets)
    lines = [f"| device | runtime | precision | delegate | n | {head} | worst ({DEFAULT_FEATURES}) |",
             "|---" * (6 + len(sets)) + "|"]  # fmt: skip
    for key, recs in group_by_config(records).items():
        cells, worst = [], ""
        for s in sets:
            pts = loo(recs, s, stat)
            ape = [abs(p - y) / y * 100 for _v, y, p in pts]
            cells.append(f"{np.mean(ape):.1f}%")
            if s == DEFAULT_FEATURES:
                i = int(np.argmax(ape))
                worst = f"{pts[i][0].name} {ape[i]:.1f}%"
        lines.append(f"| {' | '.join(key)} | {len(recs)} | {' | '.join(cells)} | {worst} |")
    return "\n".join(lines)
