"""Latency statistics shared, bit for bit, by the host harness and both phone apps.

The Android (Java) and iOS (Swift) apps compute the same numbers on the phone, so every formula
here is spelled out to be portable: percentiles interpolate linearly between order statistics
(numpy's default, "type 7"), the trimmed mean drops ``floor(n * trim)`` samples from each end, and
the bootstrap draws indices from SplitMix64, a generator three lines long in any language, so a
given seed gives the same confidence interval everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = ["LatencyStats", "SplitMix64", "bootstrap_median_ci", "percentile", "summarize", "trimmed_mean"]

DEFAULT_TRIM = 0.1  # drop the fastest and slowest 10%
DEFAULT_BOOTSTRAP = 1000  # resamples; the CI bounds move < 1% between seeds at 100 samples
DEFAULT_SEED = 0x5EED
_MASK = (1 << 64) - 1


class SplitMix64:
    """Steele, Lea & Flood's SplitMix64 (the JDK's ``SplittableRandom`` core)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """Uniform-enough index in [0, n): the modulo bias is < n / 2⁶⁴."""
        return self.next_u64() % n


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy ``percentile`` default), q in [0, 100]."""
    n = len(sorted_samples)
    if n == 0:
        raise ValueError("no samples")
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * frac


def trimmed_mean(sorted_samples: Sequence[float], trim: float = DEFAULT_TRIM) -> float:
    n = len(sorted_samples)
    k = math.floor(n * trim)
    kept = sorted_samples[k : n - k] if n - 2 * k > 0 else sorted_samples
    return math.fsum(kept) / len(kept)


def bootstrap_median_ci(
    samples: Sequence[float],
    resamples: int = DEFAULT_BOOTSTRAP,
    confidence: float = 0.95,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median (pass the samples sorted ascending).

    Each resample draws n indices with :class:`SplitMix64`; the interval is the (α/2, 1-α/2)
    percentiles of the resampled medians.
    """
    n = len(samples)
    if n == 0:
        raise ValueError("no samples")
    rng = SplitMix64(seed)
    medians = []
    for _ in range(resamples):
        draw = sorted(samples[rng.below(n)] for _ in range(n))
        medians.append(percentile(draw, 50.0))
    medians.sort()
    tail = (1.0 - confidence) / 2.0 * 100.0
    return percentile(medians, tail), percentile(medians, 100.0 - tail)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one run's latency samples; every field is in milliseconds except ``n``."""

    n: int
    median_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    trimmed_mean_ms: float
    ci95_low_ms: float
    ci95_high_ms: float

    @property
    def ci_halfwidth_rel(self) -> float:
        """Half the CI width relative to the median: 0.02 means ±2%."""
        return (self.ci95_high_ms - self.ci95_low_ms) / 2.0 / self.median_ms if self.median_ms else math.inf

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(
    samples_ms: Sequence[float],
    trim: float = DEFAULT_TRIM,
    resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
) -> LatencyStats:
    """All statistics the result schema stores. ``std`` is the sample standard deviation (n-1)."""
    xs = sorted(float(x) for x in samples_ms)
    n = len(xs)
    if n == 0:
        raise ValueError("no latency samples to summarize")
    mean = math.fsum(xs) / n
    # (x - mean) * (x - mean), not ** 2: libm pow is not always the rounded square, and Java and Swift
    # must reproduce this bit for bit.
    std = math.sqrt(math.fsum((x - mean) * (x - mean) for x in xs) / (n - 1)) if n > 1 else 0.0
    low, high = bootstrap_median_ci(xs, resamples, 0.95, seed)
    return LatencyStats(
        n=n,
        median_ms=percentile(xs, 50.0),
        p90_ms=percentile(xs, 90.0),
        mean_ms=mean,
        std_ms=std,
        min_ms=xs[0],
        max_ms=xs[-1],
        trimmed_mean_ms=trimmed_mean(xs, trim),
        ci95_low_ms=low,
        ci95_high_ms=high,
    )
