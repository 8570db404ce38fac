"""Few-shot latency transfer: a new device's whole α×ρ grid from K measured variants and other devices' data.

Other devices' configurations say what *shape* the latency surface has; a new configuration differs
mainly in its speed and its fixed cost per inference. So (equations in docs/selecting.md):

    t_new(v) = a + b · s(v),    s(v) = mean over prior configurations c of  w_c(v) / G_c

where w_c(v) = Σ_j θ_c,j · f_j(v) is configuration c's fitted *work* (its latency model without the
overhead θ_c,0), G_c its geometric mean over the 16 published variants (so every prior counts alike),
and a ≥ 0 (overhead, ms) and b ≥ 0 (scale) are fitted on the K measured points for relative error.
With K = 1 the overhead cannot be separated from the scale: a = b · r, r the priors' mean θ_c,0 / G_c.

The prior is the closest group of other devices' configurations with ≥ 6 variants each: same runtime,
precision and delegate; else same runtime and precision; else same precision; else any. The interval
is what the same K-shot transfer gets wrong inside the closest such group with two or more members, each
predicted from the others on the same variants (log-space RMS over their held-out variants, pooled with
the K points' own residuals), times a Student t.

:func:`fit_models` picks per configuration: its own fit (:mod:`toolkit.latency_model`) from 10 measured
variants on, the transfer below that when a prior exists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError, UsageError
from toolkit.latency_model import (
    FEATURE_SETS,
    LEVEL,
    MIN_LOG_SIGMA,
    PRIOR_LOG_SIGMA,
    LatencyModel,
    Prediction,
    feature_matrix,
    fit,
    interval,
    points,
    solve,
    variant_features,
)
from toolkit.numeric import nnls, student_t_ppf
from toolkit.records import ConfigKey, config_key, config_label, filter_records, group_by_config
from toolkit.sampling import spread_sample
from toolkit.variants import Variant, published_variants

__all__ = [
    "MIN_OWN_FIT",
    "Shape",
    "TransferModel",
    "complete_grid",
    "fit_models",
    "fit_transfer",
    "predict",
    "predicted_record",
    "priors_from",
]

FEATURES = FEATURE_SETS["types"]
MIN_PRIOR_VARIANTS = 6  # a prior configuration must show the surface over at least this many variants
MIN_OWN_FIT = 2 * len(FEATURES)  # 10: from here on a configuration's own fit has two points per parameter


@dataclass(frozen=True)
class _Prior:
    """One other configuration's fitted surface, split into overhead and work (ms per raw feature unit)."""

    key: ConfigKey
    overhead: float
    prices: np.ndarray  # per raw feature unit, FEATURES[1:]
    norm: float  # geometric mean of its work over the published grid
    variants: tuple[Variant, ...]
    y: np.ndarray

    def work(self, variants: Sequence[Variant]) -> np.ndarray:
        return feature_matrix(variants, FEATURES[1:], self.key[2]) @ self.prices / self.norm


def _prior(key: ConfigKey, variants: list[Variant], y: np.ndarray) -> _Prior:
    coef, scale = solve(variants, y, FEATURES, key[2])
    prices = coef[1:] / scale[1:]
    work = feature_matrix(published_variants(), FEATURES[1:], key[2]) @ prices
    norm = float(np.exp(np.mean(np.log(np.maximum(work, 1e-12)))))
    return _Prior(key, float(coef[0] / scale[0]), prices, max(norm, 1e-12), tuple(variants), y)


@dataclass(frozen=True)
class Shape:
    """The transferred surface: s(v) (dimensionless, ~1 over the published grid) and the overhead ratio r."""

    priors: tuple[_Prior, ...]

    @property
    def overhead_ratio(self) -> float:
        return float(np.mean([p.overhead / p.norm for p in self.priors]))

    @property
    def sources(self) -> tuple[ConfigKey, ...]:
        return tuple(p.key for p in self.priors)

    def __call__(self, variants: Sequence[Variant]) -> np.ndarray:
        return np.mean([p.work(variants) for p in self.priors], axis=0)


def _scale_overhead(shape: Shape, variants: Sequence[Variant], y: np.ndarray) -> tuple[float, float]:
    """(a, b) for t = a + b·s on the measured points, a, b ≥ 0, for relative error; K = 1 uses the ratio r."""
    s = shape(variants)
    if len(variants) >= 2:
        a, b = nnls(np.stack([1 / y, s / y], axis=1), np.ones_like(y))
        if b > 0:
            return float(a), float(b)
    r = shape.overhead_ratio  # one point (or a flat one): the priors' overhead share, scaled
    b = float(np.sum((r + s) / y) / np.sum(((r + s) / y) ** 2))
    return b * r, b


@dataclass(frozen=True)
class TransferModel:
    """A configuration's surface from K measured variants: t = a + b·s(v), with the simulated error σ."""

    key: ConfigKey
    shape: Shape
    overhead_ms: float  # a
    scale: float  # b
    log_sigma: float
    t_factor: float
    macs_range: tuple[float, float]
    variants: tuple[str, ...]  # the measured ones
    stat: str = "median_ms"

    def point(self, variant: Variant) -> float:
        return self.overhead_ms + self.scale * float(self.shape([variant])[0])

    def predict(self, variant: Variant) -> Prediction:
        t, lo, hi, outside = interval(variant, self.point(variant), self.log_sigma, self.t_factor, self.macs_range)
        return Prediction(variant, t, lo, hi, True, outside, self.stat, self.key, "transfer")


_TIERS = (slice(1, 4), slice(1, 3), slice(2, 3), slice(1, 1))  # key parts that must match, closest first


def _tier(key: ConfigKey, priors: dict[ConfigKey, _Prior], at_least: int = 1) -> list[_Prior]:
    """Other devices' configurations sharing the most with ``key`` (runtime, precision and delegate; else runtime
    and precision; else precision; else anything), as soon as there are ``at_least`` of them; [] otherwise."""
    others = [p for k, p in priors.items() if k[0] != key[0]]
    for part in _TIERS:
        pool = [p for p in others if p.key[part] == key[part]]
        if len(pool) >= at_least:
            return pool
    return []


def _design(prior: _Prior, measured: Sequence[Variant]) -> list[int]:
    """Indices of the variants a simulated K-shot transfer onto ``prior`` measures: the same variants as
    the real one where the prior has them all, else the spread sample of the same size from its grid."""
    names = [v.name for v in prior.variants]
    if all(v.name in names for v in measured):
        return [names.index(v.name) for v in measured]
    chosen = {v.name for v in spread_sample(list(prior.variants), min(len(measured), len(prior.variants)))}
    return [i for i, n in enumerate(names) if n in chosen]


def _simulated_errors(pool: list[_Prior], measured: Sequence[Variant]) -> list[float]:
    """Log errors of the same K-shot transfer onto each pool member from the others (held-out variants)."""
    errs: list[float] = []
    for i, target in enumerate(pool):
        shape = Shape(tuple(p for j, p in enumerate(pool) if j != i))
        idx = _design(target, measured)
        sample = [target.variants[j] for j in idx]
        a, b = _scale_overhead(shape, sample, target.y[idx])
        rest = [j for j in range(len(target.variants)) if j not in idx]
        pred = a + b * shape([target.variants[j] for j in rest])
        errs += [math.log(target.y[j] / max(p, 1e-9)) for j, p in zip(rest, pred, strict=True)]
    return errs


def _sigma(key: ConfigKey, priors: dict[ConfigKey, _Prior], measured: Sequence[Variant], resid: list[float]):
    """(σ, t factor): the simulated transfer error in the closest tier with two or more configurations, pooled
    with the measured points' own residuals (their degrees of freedom beyond the two fitted parameters)."""
    pool = _tier(key, priors, at_least=2)
    if not pool:
        return PRIOR_LOG_SIGMA, 1.96
    errs = _simulated_errors(pool, measured)
    dof = len(errs) + max(len(resid) - 2, 0)
    sigma = math.sqrt((float(np.sum(np.square(errs))) + float(np.sum(np.square(resid)))) / dof)
    return max(sigma, MIN_LOG_SIGMA), student_t_ppf(0.5 + LEVEL / 2, max(dof - 1, 1))


def priors_from(records: Iterable[Mapping], stat: str = "median_ms") -> dict[ConfigKey, _Prior]:
    """Every configuration in ``records`` with enough variants to give a shape, fitted once."""
    out = {}
    for key, recs in group_by_config(records).items():
        variants, y = points(recs, stat)
        if len(variants) >= MIN_PRIOR_VARIANTS:
            out[key] = _prior(key, variants, y)
    return out


def fit_transfer(
    records: Iterable[Mapping],
    prior_records: Iterable[Mapping] | dict[ConfigKey, _Prior],
    key: ConfigKey | None = None,
    stat: str = "median_ms",
) -> TransferModel:
    """Transfer other devices' surface shape onto one configuration's few measured records.

    ``prior_records`` may include this device's own records: only other devices' configurations count.
    Raises ToolkitError without a measured variant or without any other configuration to learn from.
    """
    records = list(records)
    variants, y = points(records, stat)
    label = config_label(key) if key else "this configuration"
    if not variants:
        raise ToolkitError(f"the transfer needs at least 1 measured variant of {label}: measure some with "
                           "`toolkit sweep --sample K`")  # fmt: skip
    key = key or config_key(records[0])
    priors = prior_records if isinstance(prior_records, dict) else priors_from(prior_records, stat)
    pool = _tier(key, priors)
    if not pool:
        raise ToolkitError(
            f"cannot transfer to {config_label(key)}: no other device has {MIN_PRIOR_VARIANTS}+ variants of any "
            f"configuration; measure {MIN_OWN_FIT}+ variants for a fit of its own"
        )
    shape = Shape(tuple(pool))
    a, b = _scale_overhead(shape, variants, y)
    resid = [math.log(yi / max(a + b * si, 1e-9)) for yi, si in zip(y, shape(variants), strict=True)]
    sigma, tf = _sigma(key, priors, variants, resid)
    macs = [variant_features(v)["macs"] for v in (*published_variants(), *variants)]
    return TransferModel(key, shape, a, b, sigma, tf, (min(macs), max(macs)), tuple(v.name for v in variants), stat)


def fit_models(
    records: Iterable[Mapping], prior_records: Iterable[Mapping] = (), stat: str = "median_ms"
) -> dict[ConfigKey, LatencyModel | TransferModel]:
    """One model per configuration: its own fit from :data:`MIN_OWN_FIT` variants on (or when no other device
    can lend a shape), the few-shot transfer below that."""
    priors = priors_from(prior_records, stat)
    out: dict[ConfigKey, LatencyModel | TransferModel] = {}
    for key, recs in group_by_config(records).items():
        if len(recs) >= MIN_OWN_FIT or not _tier(key, priors):
            out[key] = fit(recs, key, stat=stat)
        else:
            out[key] = fit_transfer(recs, priors, key, stat)
    return out


def predict(
    alpha: float,
    resolution: int,
    device: str,
    runtime: str | None = None,
    precision: str | None = None,
    delegate: str | None = None,
    *,
    records: Iterable[Mapping],
    prior_records: Iterable[Mapping] = (),
    stat: str = "median_ms",
) -> Prediction:
    """Predict one variant on one configuration (runtime/precision/delegate may be omitted when unique)."""
    variant = Variant(alpha, resolution)  # InvalidVariantError for a bad α/ρ
    recs = filter_records(records, device, runtime, precision, delegate)
    keys = sorted(group_by_config(recs))
    if len(keys) > 1:
        opts = ", ".join(f"--runtime {k[1]} --precision {k[2]} --delegate {k[3]}" for k in keys)
        raise UsageError(f"{device} has several configurations; choose one: {opts}")
    return next(iter(fit_models(recs, prior_records, stat).values())).predict(variant)


def predicted_record(pred: Prediction, like: Mapping[str, Any], model: LatencyModel | TransferModel) -> dict[str, Any]:
    """A result-schema record marked ``source: "predicted"`` (never stored as a measurement) for ``pred``,
    with the device/runtime/config of ``like``, a measured record of the same configuration."""
    t = pred.median_ms
    stats = dict.fromkeys(("median_ms", "p90_ms", "mean_ms", "min_ms", "max_ms", "trimmed_mean_ms", "ci95_low_ms",
                           "ci95_high_ms"), t)  # fmt: skip
    prior = [config_label(k) for k in model.shape.sources] if isinstance(model, TransferModel) else []
    art = like["artifact"]
    return {
        "schema_version": 1,
        "source": "predicted",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": dict(like["device"]),
        "runtime": dict(like["runtime"]),
        "artifact": {"file": f"{pred.variant.name} (predicted)", "variant": pred.variant.name,
                     "target": art.get("target"), "precision": art.get("precision")},
        "config": {"threads": int(like["config"]["threads"])},
        "latency_ms": [t],
        "stats": {"n": 1, "std_ms": 0.0, **stats},
        "prediction": {"low_ms": pred.low_ms, "high_ms": pred.high_ms, "level": LEVEL, "method": pred.method,
                       "measured_variants": list(model.variants), "prior": prior, "extrapolated": pred.extrapolated},
    }  # fmt: skip


def complete_grid(
    records: Iterable[Mapping], grid: Sequence[Variant], prior_records: Iterable[Mapping], stat: str = "median_ms"
) -> list[dict[str, Any]]:
    """Predicted records (``source: "predicted"``) for every grid variant each configuration in ``records``
    has not measured: what ``toolkit sweep --sample K`` reports for the rest of the α×ρ grid."""
    recs = list(records)
    out = []
    for key, model in fit_models(recs, prior_records, stat).items():
        like = next(r for r in recs if config_key(r) == key)
        out += [predicted_record(model.predict(v), like, model) for v in grid if v.name not in model.variants]
    return out
