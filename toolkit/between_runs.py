"""How far this device's runs drift from each other, measured from the measurements it already stored.

Rounds (:mod:`toolkit.profile.intervals`) see drift inside one request. On a shared machine, and on a phone
that heats or throttles, whole runs tens of seconds apart move together by several percent: a neighbour
arrives, the hypervisor moves the VM, the governor settles elsewhere. No interval taken within a run sees
that, so the results store estimates it from its own history and records it with each new measurement.

**Estimate.** A *group* is one repeated measurement: same device (kind, name, CPU), same artifact bytes, same
runtime and version, precision, delegate and thread count. Each stored measurement is
``log m = mu_g + b + e``: the group's true level, the run's drift ``b`` (variance ``sigma_b²``) and the
within-run error ``e`` (variance ``se_w²``, the record's own, :func:`within_se_log`).
The pooled variance of the log medians about their group means, ``SS / sum(n_g - 1)`` over the groups
stored at least twice, estimates ``sigma_b² + mean(se_w²)``; subtracting the mean within-run variance and
flooring at 0 leaves ``sigma_b²``. Measurements flagged busy or bimodal are left out (their spread is a
known fault, not this device's drift), and devices are never pooled together.

**Degrees of freedom.** ``sum(n_g - 1)`` counts every group as independent evidence, but the groups of one
sweep share that run's drift: two sweeps of 16 variants give 16 deviations that are mostly one draw of the
difference between two runs. The estimate's dof is therefore ``min(sum(n_g - 1), runs - 1)``, runs being the
distinct runs (a sweep's id; a record without one counts by its timestamp) among the pooled measurements.
This is exact when the drift is common to all variants of a run, as measured here, and conservative when
part of it is not.

**Minimum.** No block is stated below :data:`MIN_DOF` = 3 (four runs): with fewer, Student's t at the
estimate's dof is 4.3 (2 dof) or 12.7 (1 dof) and the interval would mostly say "we do not know yet"; a
record without the block says exactly that (the report states it) instead of claiming a figure. From 3 dof
on, t(3) = 3.18 keeps the interval honest while the estimate is young and shrinks toward 1.96 as runs
accumulate.

**Cost.** The store keeps each row's log median and within-run standard error as columns, so one query
over a covering index does the pooling in SQLite (window sums per group) and returns five numbers; Python
only does the arithmetic below.

**Out of sample.** Only measurements stored *before* the new one enter, so the new record's interval never
uses its own median to explain its own deviation.

This module sits below both the results store, which writes the block, and the profiler's intervals, which
read it (imports run down the pipeline: the store never imports the profiler).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from toolkit.numeric import student_t_ppf

__all__ = ["MAX_DOF", "METHOD", "MIN_DOF", "Pooled", "estimate", "log_or_none", "t95", "within_se_log"]

MIN_DOF = 3
MAX_DOF = 200  # beyond this Student's t is the normal distribution to 4 digits
METHOD = "pooled spread of log medians of repeated measurements on this device"


@cache
def t95(dof: int) -> float:
    """Two-sided 95% quantile of Student's t (cached: the bisection takes ~0.3 ms)."""
    return student_t_ppf(0.975, dof)


def within_se_log(
    median_ms: float, ci95_low_ms: float, ci95_high_ms: float, rounds_se_log: float | None = None
) -> float:
    """Standard error of log median seen within one run: the larger of the round medians' (when measured in
    rounds) and the bootstrap interval's, read as a normal interval (its wider side)."""
    boot = 0.0
    if ci95_low_ms > 0 and median_ms > 0:
        boot = max(math.log(median_ms / ci95_low_ms), math.log(ci95_high_ms / median_ms), 0.0) / t95(MAX_DOF)
    return boot if rounds_se_log is None else max(boot, float(rounds_se_log))


def log_or_none(x: float | None) -> float | None:
    """log(x) for a positive median, else None (the store's ``log_median`` column; SQL has no portable ln)."""
    return math.log(x) if x is not None and x > 0 else None


@dataclass(frozen=True)
class Pooled:
    """The sums the store's query returns over the repeated groups of one device (module docstring)."""

    ss: float  # sum over records of (log median - its group's mean)²
    within_ss: float  # sum over records of the within-run se_log²
    records: int
    groups: int
    runs: int  # distinct runs among those records


def estimate(p: Pooled, min_dof: int = MIN_DOF) -> dict[str, Any] | None:
    """The ``between_runs`` block (se_log = sigma_b, dof, groups, records, runs, method); None below ``min_dof``."""
    pooled_dof = p.records - p.groups
    dof = min(pooled_dof, p.runs - 1)
    if p.groups < 1 or dof < min_dof:
        return None
    var_b = max(0.0, p.ss / pooled_dof - p.within_ss / p.records)
    return {"se_log": math.sqrt(var_b), "dof": dof, "groups": p.groups, "records": p.records, "runs": p.runs,
            "method": METHOD}  # fmt: skip
