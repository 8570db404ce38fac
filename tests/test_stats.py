"""Latency statistics against known samples: numpy percentiles, hand-computed trimmed means, bootstrap."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from toolkit.profile.stats import SplitMix64, bootstrap_median_ci, percentile, summarize, trimmed_mean


def test_percentiles_match_numpy_on_real_latencies():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 100, 257):
        xs = sorted(rng.lognormal(0.5, 0.3, n).tolist())
        for q in (0, 10, 50, 90, 99, 100):
            assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)), rel=1e-12)


def test_summarize_known_sample():
    xs = [5.0, 1.0, 4.0, 2.0, 3.0, 100.0, 6.0, 7.0, 8.0, 9.0]  # one outlier
    s = summarize(xs)
    assert s.n == 10 and s.min_ms == 1.0 and s.max_ms == 100.0
    assert s.median_ms == 5.5  # (5 + 6) / 2
    assert s.p90_ms == pytest.approx(np.percentile(xs, 90))  # 9 + 0.1 * 91 = 18.1
    assert s.p90_ms == pytest.approx(18.1)
    assert s.mean_ms == pytest.approx(14.5)
    assert s.std_ms == pytest.approx(np.std(xs, ddof=1))
    # trim 10% of 10 → drop one from each end: mean of 2..9 = 5.5
    assert s.trimmed_mean_ms == pytest.approx(5.5)
    assert s.ci95_low_ms <= s.median_ms <= s.ci95_high_ms


def test_trimmed_mean_by_hand():
    xs = sorted(range(1, 21))  # 20 values; trim 0.2 drops 4 per end → mean of 5..16 = 10.5
    assert trimmed_mean(xs, 0.2) == pytest.approx(10.5)
    assert trimmed_mean([1.0, 2.0, 30.0], 0.1) == pytest.approx(11.0)  # floor(0.3) = 0 dropped


def test_splitmix64_reference_values():
    # first outputs for seed 0 (the reference implementation, also used by the Java/Swift golden tests)
    rng = SplitMix64(0)
    assert [rng.next_u64() for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_bootstrap_reproducible_with_seed_and_seed_matters():
    gen = random.Random(1)
    xs = sorted(gen.gauss(10, 1) for _ in range(60))
    assert bootstrap_median_ci(xs, 300, seed=42) == bootstrap_median_ci(xs, 300, seed=42)
    assert bootstrap_median_ci(xs, 300, seed=42) != bootstrap_median_ci(xs, 300, seed=43)
    assert summarize(xs) == summarize(list(reversed(xs)))  # order of samples does not change the stats


def test_bootstrap_coverage_is_sensible():
    """The 95% CI of the median covers the true median (0 for N(0, 1)) in roughly 95% of trials."""
    gen = random.Random(7)
    trials, hits, widths = 120, 0, []
    for t in range(trials):
        xs = sorted(gen.gauss(0.0, 1.0) for _ in range(60))
        lo, hi = bootstrap_median_ci(xs, 200, seed=t)
        hits += lo <= 0.0 <= hi
        widths.append(hi - lo)
    assert 0.85 <= hits / trials <= 1.0
    # theory: 2 * 1.96 * sqrt(pi/2) / sqrt(60) ≈ 0.63 for the median of N(0,1)
    assert 0.4 < float(np.median(widths)) < 0.9
    assert not math.isnan(widths[0])
