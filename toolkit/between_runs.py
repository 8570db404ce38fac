"""How far this device's runs drift from each other, measured from the measurements it already stored.

Rounds (:mod:`toolkit.profile.intervals`) see drift inside one request. On a shared machine, and on a phone
that heats or throttles, whole runs tens of seconds apart move together by several percent: a neighbour
arrives, the hypervisor moves the VM, the governor settles elsewhere. No interval taken within a run sees
that, so the results store estimates it from its own history and records it with each new measurement.

**Estimate: the run's common shift.** A *group* is one repeated measurement: same device (kind, name, CPU),
same artifact bytes, same runtime and version, precision, delegate and thread count. Over the groups stored
at least twice, each log median's residual about its group's mean says how far its run sat from that
variant's usual level. A run's *shift* is the median of its residuals: the drift moves a whole run together,
so every variant of that run says the same thing, and the median keeps one noisy variant from speaking for
the run. ``sigma_b`` is the sample standard deviation of the runs' shifts, with ``runs - 1`` dof (the shifts
are about the groups' means, which take one). Measurements flagged busy or bimodal are left out (their spread
is a known fault, not this device's drift), and devices are never mixed.

Nothing is subtracted for within-run noise: a median over several variants' residuals carries little of it,
and what it carries makes the figure conservative. The store first pooled instead (variance of log medians
about their groups' means, minus the records' mean within-run variance): on a real store of 20 runs of 16
ONNX variants at two threads on a two-core machine that returned 0 for every record. The small variants'
within-run errors are large (their round medians scatter by 10-20%), so their mean swamped the pooled spread,
while the quiet large variants drifted between runs by 2-3%. Replayed through the store, the stated interval
held each variant's run-wide median in 88.7% of the records that carried the pooled figure, and in 98.0% with
the runs' common shift.

**Plus the artifact's own scatter.** A run also moves each variant on its own: every run is a fresh process
and every artifact draws its own memory layout, and a neighbour's cache traffic slows the large variants
alone. A group's residuals after its run's shift hold that; their variance (dof: the group's records - 1)
is added to ``sigma_b²`` for a record of that group, or all groups' pooled when the group has fewer than
``MIN_DOF`` of its own (:class:`History`). Replayed through the stores of ``benchmarks/bench_compare.py``, the
interval then held the run-wide median in 96.1% (one thread; the shift alone: 93.0%) and 99.6% (two
threads; the same) of the records with history, 2% wider.

**Minimum.** No block is stated below :data:`MIN_DOF` = 3 (four runs): with fewer, Student's t at the
estimate's dof is 4.3 (2 dof) or 12.7 (1 dof) and the interval would mostly say "we do not know yet"; a
record without the block says exactly that (the report states it) instead of claiming a figure. From 3 dof
on, t(3) = 3.18 keeps the interval honest while the estimate is young and shrinks toward 1.96 as runs
accumulate.

**Cost.** The store reads each row's run, group and log median with one query over a covering index (at
most :data:`toolkit.results.BETWEEN_RUNS_WINDOW` small rows) once per (device, run); :class:`History` does
the rest in Python, and each record's block is then a dictionary lookup.

**Out of sample.** Only measurements stored *before* the new one enter, so the new record's interval never
uses its own median to explain its own deviation.

This module sits below both the results store, which writes the block, and the profiler's intervals, which
read it (imports run down the pipeline: the store never imports the profiler).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from toolkit.numeric import student_t_ppf

__all__ = ["MAX_DOF", "METHOD", "METHOD_OWN", "METHOD_POOLED", "MIN_DOF", "History", "estimate", "log_or_none",
           "t95", "within_se_log"]  # fmt: skip

MIN_DOF = 3
MAX_DOF = 200  # beyond this Student's t is the normal distribution to 4 digits
METHOD = "sd of the runs' common shift of log medians on this device"
METHOD_OWN = METHOD + ", plus this artifact's own scatter about it"
METHOD_POOLED = METHOD + ", plus all artifacts' scatter about it (this one has too little history of its own)"


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


def estimate(
    rows: Iterable[Sequence[Any]], min_dof: int = MIN_DOF, group: tuple[Any, ...] | None = None
) -> dict[str, Any] | None:
    """The ``between_runs`` block (se_log, dof, groups, records, runs, method) from stored rows
    ``(run, *group key, log median)`` of one device, other runs only; None below ``min_dof``. With the new
    record's ``group``, the block adds that group's own scatter about the runs' shifts (:class:`History`)."""
    history = History.of(rows, min_dof)
    return None if history is None else history.block(group)


@dataclass(frozen=True)
class History:
    """One device's earlier runs, read once per (device, run): the runs' common shift, and what each group
    (artifact, runtime, precision, delegate, threads) scattered about it.

    Why both: a run moves all its variants together (the shift), and each variant on its own as well (the
    module docstring says how and what the replay measured). A group's residuals after its run's shift hold
    the second; they also hold the within-run noise the record's own error already counts, so the sum errs
    wide, never narrow."""

    shift_sd: float
    shift_dof: int
    groups: int
    records: int
    runs: int
    own: dict[tuple[Any, ...], tuple[float, int]]  # group -> (variance of its residuals after the shift, dof)
    pooled: tuple[float, int] | None  # all groups' residual variance: a group without history of its own

    @classmethod
    def of(cls, rows: Iterable[Sequence[Any]], min_dof: int = MIN_DOF) -> History | None:
        groups: dict[tuple[Any, ...], list[tuple[Any, float]]] = {}
        for row in rows:
            groups.setdefault(tuple(row[1:-1]), []).append((row[0], float(row[-1])))
        residuals: dict[Any, list[float]] = {}
        members: dict[tuple[Any, ...], list[tuple[Any, float]]] = {}
        records = 0
        for key, ms in groups.items():
            if len(ms) < 2:
                continue
            records += len(ms)
            mean = sum(y for _, y in ms) / len(ms)
            members[key] = [(run, y - mean) for run, y in ms]
            for run, r in members[key]:
                residuals.setdefault(run, []).append(r)
        shifts = {run: _median(r) for run, r in residuals.items()}
        dof = len(shifts) - 1
        if dof < min_dof:
            return None
        mean = sum(shifts.values()) / len(shifts)
        sd = math.sqrt(sum((b - mean) ** 2 for b in shifts.values()) / dof)
        own, total, total_dof = {}, 0.0, 0
        for key, ms in members.items():
            ss = sum((r - shifts[run]) ** 2 for run, r in ms)
            own[key] = (ss / (len(ms) - 1), len(ms) - 1)
            total, total_dof = total + ss, total_dof + len(ms) - 1
        pooled = (total / total_dof, total_dof) if total_dof else None
        return cls(sd, dof, len(members), records, len(shifts), own, pooled)

    def block(self, group: tuple[Any, ...] | None = None) -> dict[str, Any]:
        """The block for a record of ``group`` (None: the common shift alone): ``se² = shift² + own²``, the
        group's own scatter when it has ``MIN_DOF`` of its own, else all groups' pooled; Welch-Satterthwaite's
        dof."""
        base = {"groups": self.groups, "records": self.records, "runs": self.runs}
        if group is None:
            return {"se_log": self.shift_sd, "dof": self.shift_dof, **base, "method": METHOD}
        own = self.own.get(group)
        if own is not None and own[1] >= MIN_DOF:
            (var, dof), method = own, METHOD_OWN
        else:
            (var, dof), method = self.pooled or (0.0, 1), METHOD_POOLED
        a = self.shift_sd**2
        se2 = a + var
        if se2 <= 0:
            return {"se_log": 0.0, "dof": self.shift_dof, **base, "method": method}
        both = se2 * se2 / (a * a / self.shift_dof + var * var / max(dof, 1))
        return {"se_log": math.sqrt(se2), "dof": int(min(MAX_DOF, max(1.0, both))), **base, "method": method}


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
