"""What the host adds to a record's statistics: an interval that covers drift between rounds, and a bimodality check.

The apps' statistics (:mod:`toolkit.profile.stats`, bit-identical in Java and Swift) describe one run's samples as
if they were independent draws. They are not: a shared machine drifts (frequency, heat, neighbours) on a scale
of seconds, so two runs minutes apart differ by more than the within-run bootstrap interval admits. The host
therefore measures in rounds (:mod:`toolkit.profile.rounds`) and states an interval built from the rounds.

**Between-round interval.** Each round yields one median; the R round medians are treated as R independent
clusters. On the log scale (a slowdown is a ratio), the standard error of the pooled median is
``s / sqrt(R)`` with ``s`` the sample standard deviation of the log round medians, and the 95% interval is the
pooled median times ``exp(± t(R-1) · se)``. Student's t with R-1 degrees of freedom is used rather than a
bootstrap over rounds because with 5 rounds a cluster bootstrap has only 126 distinct resamples and is known to
under-cover (its spread is biased low by a factor sqrt((R-1)/R)); the t interval is exact for normal round
medians and widens honestly when R is small. The *stated* interval is the hull of this interval and the
within-run bootstrap interval, so neither a lucky set of similar rounds nor a single round narrows it.

**Between runs.** Rounds see drift within one request only; on a shared machine whole runs tens of seconds
apart move together by several percent. A record stored in a results DB carries, in ``between_runs``, this
device's run-to-run spread of log medians measured from the records stored before it
(:mod:`toolkit.between_runs`). :func:`se_log` then adds it to the within-run standard error
(``se² = se_within² + sigma_b²``, dof by Welch-Satterthwaite) and :func:`stated_interval` widens to
``median · exp(± t(dof) · se)``, so the stated interval covers where the next run's median will land, not
only this run's. A record without the block (an old DB, an app's JSON file) is read exactly as before.

**Bimodality** (a gap/dip criterion on the sorted samples). Two clusters of timings (a neighbour taking a
core for part of the run, a frequency step) make one median and its interval meaningless. The test splits the
sorted samples where the within-cluster sum of squares is smallest (Otsu's 2-means split, exact on sorted
data; each side keeps at least 10% and 5 samples), then compares the density *at* the split (the 2% of
samples, at least 2, on either side of it, per ms) with each cluster's central density (half its samples per
its interquartile range). Two clusters leave a near-empty region at the split: the sample is flagged when
that density is below a quarter of the sparser cluster's and the clusters' medians differ by >= 10%. A
split statistic like Ashman's D was tried first and rejected: the 2-means split of a single skewed peak
(exponential or log-normal tails, the usual latency shapes) already looks "separated" by D. In simulations
(100 samples) this criterion flagged at most 1% of normal, log-normal, gamma, exponential-tail, Pareto-tail
and uniform samples, and all of 50/50 clusters 15% apart, 20/80 clusters at 3 and 10 ms, and 99% of 90/10
clusters 30% apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from toolkit.between_runs import MAX_DOF as _MAX_DOF
from toolkit.between_runs import t95, within_se_log
from toolkit.numeric import student_t_cdf, student_t_ppf
from toolkit.profile.stats import percentile

__all__ = [
    "BIMODAL_SEPARATION",
    "BIMODAL_VALLEY",
    "Bimodality",
    "RoundInterval",
    "annotate",
    "bimodal_note",
    "bimodality",
    "flags_of",
    "holm",
    "log_ratio_test",
    "ratio_test",
    "round_interval",
    "se_log",
    "se_log_within",
    "stated_interval",
]

CONFIDENCE = 0.95
BIMODAL_VALLEY = 0.25  # the split's density below a quarter of the sparser cluster's: an empty region
BIMODAL_SEPARATION = 0.10  # and the clusters' medians differ by at least 10%, enough to matter for a latency
_MIN_CLUSTER = (0.10, 5)  # each cluster holds >= 10% of the samples and >= 5 of them
_WINDOW = 0.02  # density at the split from the 2% of samples (at least 2) on either side of it


@dataclass(frozen=True)
class RoundInterval:
    """The between-round interval of a run's median (see the module docstring)."""

    rounds: int
    medians_ms: list[float]
    low_ms: float
    high_ms: float
    se_log: float  # standard error of log(median)
    dof: int
    method: str = "t on log round medians"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _median(xs: Sequence[float]) -> float:
    return percentile(sorted(xs), 50.0)


def round_interval(
    rounds: Sequence[Sequence[float]], center: float, confidence: float = CONFIDENCE
) -> RoundInterval | None:
    """The interval around ``center`` (the pooled median) from each round's median; None with < 2 rounds."""
    meds = [_median(r) for r in rounds if len(r)]
    if len(meds) < 2 or center <= 0 or min(meds) <= 0:
        return None
    logs = [math.log(m) for m in meds]
    mean = math.fsum(logs) / len(logs)
    s = math.sqrt(math.fsum((v - mean) * (v - mean) for v in logs) / (len(logs) - 1))
    se, dof = s / math.sqrt(len(meds)), len(meds) - 1
    t = _t(dof, confidence)
    return RoundInterval(len(meds), meds, center * math.exp(-t * se), center * math.exp(t * se), se, dof)


def _t(dof: int, confidence: float = CONFIDENCE) -> float:
    return t95(dof) if confidence == 0.95 else student_t_ppf(1.0 - (1.0 - confidence) / 2.0, dof)


def stated_interval(record: Mapping[str, Any]) -> tuple[float, float]:
    """The interval a report or a comparison should use: the hull of the within-run bootstrap CI, the
    between-round interval when the record has one, and ``median · exp(± t · se)`` with the between-run
    spread folded in (:func:`se_log`) when the record carries ``between_runs``."""
    s, r = record["stats"], record.get("rounds") or {}
    low, high = s["ci95_low_ms"], s["ci95_high_ms"]
    if "low_ms" in r:
        low, high = min(low, r["low_ms"]), max(high, r["high_ms"])
    if (record.get("between_runs") or {}).get("se_log", 0.0) > 0:  # a measured zero spread changes nothing
        se, dof = se_log(record)
        half = _t(dof) * se
        low, high = min(low, s["median_ms"] * math.exp(-half)), max(high, s["median_ms"] * math.exp(half))
    return low, high


def se_log_within(record: Mapping[str, Any]) -> tuple[float, int]:
    """(standard error of log median, dof) within the record's own run, between-run spread left out: the
    rounds' dof when measured in rounds, else the bootstrap's (taken as normal)."""
    s, r = record["stats"], record.get("rounds") or {}
    se = within_se_log(s["median_ms"], s["ci95_low_ms"], s["ci95_high_ms"], r.get("se_log"))
    return se, int(r["dof"]) if "se_log" in r else _MAX_DOF


def se_log(record: Mapping[str, Any]) -> tuple[float, int]:
    """(standard error of log median, degrees of freedom) behind :func:`stated_interval`.

    Within the run (:func:`se_log_within`), plus the device's between-run spread when the record carries
    one: ``se = sqrt(se_w² + sigma_b²)`` with Welch-Satterthwaite's dof
    ``se⁴ / (se_w⁴ / dof_w + sigma_b⁴ / dof_b)``, floored at 1 and capped at 200 (beyond it t is normal)."""
    se_w, dof_w = se_log_within(record)
    b = record.get("between_runs") or {}
    if "se_log" not in b:
        return se_w, dof_w
    se_b, dof_b = float(b["se_log"]), int(b["dof"])
    var = se_w * se_w + se_b * se_b
    if se_b <= 0 or var <= 0:
        return se_w, dof_w
    dof = var * var / (se_w**4 / dof_w + se_b**4 / dof_b)
    return math.sqrt(var), int(min(_MAX_DOF, max(1.0, dof)))


@dataclass(frozen=True)
class RatioTest:
    """Candidate / baseline median ratio, its 95% interval, and the two-sided p-value of 'no change'."""

    ratio: float
    low: float
    high: float
    p_value: float


def ratio_test(base: tuple[float, float, int], cand: tuple[float, float, int]) -> RatioTest:
    """Welch's t on log medians; each side is (median ms, se of log median, dof) as :func:`se_log` gives."""
    (mb, sb, db), (mc, sc, dc) = base, cand
    d = math.log(mc / mb)
    var = sb * sb + sc * sc
    if var <= 0:
        return log_ratio_test(d, 0.0, 1)
    dof = int(min(_MAX_DOF, max(1.0, var * var / (sb**4 / db + sc**4 / dc))))  # Welch-Satterthwaite, floored
    return log_ratio_test(d, math.sqrt(var), dof)


def log_ratio_test(d: float, se: float, dof: int) -> RatioTest:
    """The ratio ``exp(d)``, its 95% t interval and the two-sided p-value of "no change", from an estimated log
    ratio ``d`` with standard error ``se`` on ``dof`` degrees of freedom (se 0: exact, p 0 unless d is 0)."""
    if se <= 0:
        return RatioTest(math.exp(d), math.exp(d), math.exp(d), 0.0 if d else 1.0)
    t = _t(dof)
    p = 2.0 * (1.0 - student_t_cdf(abs(d) / se, dof))
    return RatioTest(math.exp(d), math.exp(d - t * se), math.exp(d + t * se), max(0.0, min(1.0, p)))


def holm(p_values: Sequence[float], alpha: float = 1.0 - CONFIDENCE) -> list[bool]:
    """Holm's step-down: which of ``p_values`` are significant with the family-wise error kept at ``alpha``."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - rank):
            break
        out[i] = True
    return out


@dataclass(frozen=True)
class Bimodality:
    """Where the samples split in two, how empty the boundary is, and how far apart the clusters are."""

    valley: float  # density at the split / the sparser cluster's density (0 = an empty gap)
    split_ms: float
    low_fraction: float
    medians_ms: tuple[float, float]
    bimodal: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["medians_ms"] = list(self.medians_ms)
        return out


def _otsu_split(xs: Sequence[float], m: int) -> int:
    """k in [m, n - m] minimising the within-cluster sum of squares of xs[:k] and xs[k:] (xs sorted)."""
    pre, pre2 = [0.0], [0.0]
    for x in xs:
        pre.append(pre[-1] + x)
        pre2.append(pre2[-1] + x * x)

    def sse(i: int, j: int) -> float:
        s = pre[j] - pre[i]
        return pre2[j] - pre2[i] - s * s / (j - i)

    n = len(xs)
    return min(range(m, n - m + 1), key=lambda k: (sse(0, k) + sse(k, n), k))


def _central_density(cluster: Sequence[float]) -> float:
    """Samples per ms in the cluster's middle half: half its samples lie within its interquartile range."""
    iqr = percentile(cluster, 75.0) - percentile(cluster, 25.0)
    return math.inf if iqr <= 0 else 0.5 * (len(cluster) - 1) / iqr


def bimodality(samples: Sequence[float]) -> Bimodality | None:
    """The 2-means split of the samples and how empty it is (module docstring); None below 20 samples."""
    xs = sorted(float(x) for x in samples)
    n = len(xs)
    m = max(_MIN_CLUSTER[1], math.ceil(_MIN_CLUSTER[0] * n))
    if n < 20:
        return None
    k = _otsu_split(xs, m)
    w = max(2, math.ceil(_WINDOW * n))
    width = xs[min(n - 1, k + w - 1)] - xs[max(0, k - w)]
    lo, hi = xs[:k], xs[k:]
    sparser = min(_central_density(lo), _central_density(hi))
    at_split = math.inf if width <= 0 else (2 * w - 1) / width
    valley = 0.0 if math.isinf(sparser) and not math.isinf(at_split) else at_split / sparser
    m1, m2 = percentile(lo, 50.0), percentile(hi, 50.0)
    apart = m1 > 0 and (m2 - m1) / m1 >= BIMODAL_SEPARATION
    return Bimodality(valley, (xs[k - 1] + xs[k]) / 2.0, k / n, (m1, m2), bool(valley < BIMODAL_VALLEY and apart))


def annotate(record: dict[str, Any]) -> dict[str, Any]:
    """Add the bimodality check (and its flag and note) to a record that lacks it, e.g. a phone's; in place."""
    if "bimodality" in record:
        return record
    shape = bimodality(record.get("latency_ms") or [])
    if shape is None:
        return record
    record["bimodality"] = shape.to_dict()
    if shape.bimodal:
        flags = record.setdefault("flags", [])
        if "bimodal" not in flags:
            flags.append("bimodal")
        record.setdefault("notes", []).append(bimodal_note(shape))
    return record


def bimodal_note(shape: Bimodality) -> str:
    lo, hi = shape.medians_ms
    return (
        f"bimodal: two clusters of timings around {lo:.3f} and {hi:.3f} ms ({shape.low_fraction:.0%} in the "
        "faster); the median describes neither"
    )


def flags_of(record: Mapping[str, Any]) -> list[str]:
    """The record's stored flags, plus ``bimodal`` computed from its samples when the record predates it."""
    flags = list(record.get("flags") or [])
    if "bimodal" not in flags and "bimodality" not in record:
        b = bimodality(record.get("latency_ms") or [])
        if b is not None and b.bimodal:
            flags.append("bimodal")
    return flags
