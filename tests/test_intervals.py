"""The host's added statistics, on numbers worked out by hand: the between-round interval, the compare test,
Holm's correction, the bimodality check, the busy accounting and the slice plan of the rounds."""

from __future__ import annotations

import math
import os
import time

import pytest

from toolkit.numeric import student_t_cdf
from toolkit.profile.environment import BUSY_SHARE, CpuCounter, CpuSnapshot, busy_flag, environment_block, read_cpu
from toolkit.profile.intervals import (
    annotate,
    bimodality,
    flags_of,
    holm,
    ratio_test,
    round_interval,
    se_log,
    stated_interval,
)
from toolkit.profile.rounds import _rotate, slice_sizes

T2, T4, T8 = 4.302652729911275, 2.7764451051977987, 2.3060041350333704  # Student t 0.975 quantiles (tables)


def test_round_interval_is_t_on_log_round_medians():
    rounds = [[1.0, 0.5, 1.5], [1.1, 1.1], [0.9]]  # round medians 1.0, 1.1, 0.9
    logs = [0.0, math.log(1.1), math.log(0.9)]
    mean = sum(logs) / 3
    s = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    got = round_interval(rounds, center=1.0)
    assert got.medians_ms == [1.0, 1.1, 0.9] and got.rounds == 3 and got.dof == 2
    assert got.se_log == pytest.approx(s / math.sqrt(3), rel=1e-12)
    assert got.low_ms == pytest.approx(math.exp(-T2 * s / math.sqrt(3)), rel=1e-9)
    assert got.high_ms == pytest.approx(math.exp(T2 * s / math.sqrt(3)), rel=1e-9)
    assert round_interval([[1.0, 2.0]], center=1.5) is None  # one round: no between-round spread to speak of
    same = round_interval([[2.0], [2.0], [2.0]], center=2.0)
    assert (same.low_ms, same.high_ms, same.se_log) == (2.0, 2.0, 0.0)


def _record(median, lo, hi, rounds=None):
    rec = {"stats": {"median_ms": median, "ci95_low_ms": lo, "ci95_high_ms": hi}}
    if rounds:
        rec["rounds"] = rounds
    return rec


def test_stated_interval_is_the_hull_and_se_the_larger():
    narrow_rounds = {"low_ms": 0.99, "high_ms": 1.01, "se_log": 0.001, "dof": 4}
    wide_rounds = {"low_ms": 0.8, "high_ms": 1.3, "se_log": 0.09, "dof": 4}
    assert stated_interval(_record(1.0, 0.95, 1.05, narrow_rounds)) == (0.95, 1.05)  # lucky rounds never narrow it
    assert stated_interval(_record(1.0, 0.95, 1.05, wide_rounds)) == (0.8, 1.3)
    assert stated_interval(_record(1.0, 0.95, 1.05)) == (0.95, 1.05)
    z = 1.9718962236316093  # t quantile at 200 dof, the 'no rounds' stand-in for the normal
    assert se_log(_record(1.0, 0.95, 1.05)) == (pytest.approx(math.log(1 / 0.95) / z, rel=1e-6), 200)
    assert se_log(_record(1.0, 0.95, 1.05, wide_rounds)) == (0.09, 4)


def test_ratio_test_welch_on_log_medians():
    t = ratio_test((1.0, 0.01, 4), (1.1, 0.01, 4))  # Welch dof = (2e-4)² / (2 · 1e-8 / 4) = 8
    se, d = math.sqrt(2e-4), math.log(1.1)
    assert t.ratio == pytest.approx(1.1)
    assert t.low == pytest.approx(math.exp(d - T8 * se), rel=1e-9)
    assert t.high == pytest.approx(math.exp(d + T8 * se), rel=1e-9)
    assert t.p_value == pytest.approx(2 * (1 - student_t_cdf(d / se, 8)), rel=1e-9) and t.p_value < 1e-3
    same = ratio_test((1.0, 0.02, 4), (1.0, 0.02, 4))
    assert same.ratio == 1.0 and same.p_value == pytest.approx(1.0)


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03, 0.005]) == [True, False, False, True]  # 0.005≤.0125, .01≤.0167, .03>.025
    assert holm([0.04, 0.04]) == [False, False] and holm([0.02, 0.04]) == [True, True] and holm([]) == []


def test_two_clusters_are_bimodal_with_the_split_between_them():
    xs = [1.0 + 0.001 * i for i in range(50)] + [1.3 + 0.001 * i for i in range(50)]
    b = bimodality(xs)
    assert b.bimodal and b.low_fraction == 0.5
    assert b.split_ms == pytest.approx((1.049 + 1.3) / 2) and b.medians_ms == pytest.approx((1.0245, 1.3245))
    # density at the split: 3 spacings over xs[51] - xs[48]; each cluster: 24.5 samples per its IQR of 0.0245
    assert b.valley == pytest.approx((3 / (1.301 - 1.048)) / (24.5 / 0.0245), rel=1e-9)
    busy = [3.0 + 0.01 * (i % 7) for i in range(20)] + [10.0 + 0.02 * (i % 9) for i in range(80)]  # the case
    assert bimodality(busy).bimodal and bimodality(busy).medians_ms[0] < 3.1 < 10.0 < bimodality(busy).medians_ms[1]


def test_single_peaks_and_small_gaps_are_not_bimodal():
    even = [1.0 + 0.001 * i for i in range(100)]
    assert bimodality(even).valley == pytest.approx(1.0, rel=1e-9) and not bimodality(even).bimodal
    tail = [1.0 - 0.3 * math.log(1.0 - (i + 0.5) / 100) for i in range(100)]  # exponential quantiles
    assert not bimodality(tail).bimodal
    close = [1.0 + 0.0001 * i for i in range(50)] + [1.05 + 0.0001 * i for i in range(50)]  # 5% apart: no matter
    assert bimodality(close).valley < 0.25 and not bimodality(close).bimodal
    assert bimodality([1.0] * 19) is None


def test_annotate_adds_the_flag_once_and_flags_of_reads_old_records():
    two = [1.0 + 0.001 * i for i in range(30)] + [2.0 + 0.001 * i for i in range(30)]
    rec = {"latency_ms": two, "notes": []}
    annotate(rec)
    annotate(rec)
    assert rec["flags"] == ["bimodal"] and rec["bimodality"]["bimodal"] and len(rec["notes"]) == 1
    assert flags_of({"latency_ms": two}) == ["bimodal"]  # a record stored before the check
    assert flags_of({"latency_ms": two[:30], "flags": ["busy"]}) == ["busy"]


def test_busy_accounting_from_cpu_counters(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 50 1000 10 3 2 7 0 0\ncpu0 1 2 3 4\n")
    assert read_cpu(stat).busy_s == pytest.approx((100 + 5 + 50 + 3 + 2 + 7) / os.sysconf("SC_CLK_TCK"))
    stat.write_text("cpu  900 5 50 1000 10 3 2 7 0 0\n")  # the file is held open: every read must be fresh
    assert read_cpu(stat).busy_s == pytest.approx((900 + 5 + 50 + 3 + 2 + 7) / os.sysconf("SC_CLK_TCK"))
    c = CpuCounter()
    c.add(CpuSnapshot(100.0, 1.0, 10.0), CpuSnapshot(101.5, 1.4, 10.5))  # 1.5 s busy, 0.4 s ours, in 0.5 s
    c.add(CpuSnapshot(200.0, 2.0, 20.0), CpuSnapshot(200.1, 2.1, 20.5))  # a quiet slice: others took 0
    env = environment_block(c.to_dict(), [1.0, 1.0, 1.0], [1.5, 1.1, 1.0], 2)
    assert env["other_cpu_s"] == pytest.approx(1.1) and env["other_share"] == pytest.approx(1.1 / (1.0 * 2))
    assert env["busy_threshold"] == BUSY_SHARE and "55%" in busy_flag(env)
    quiet = environment_block({"busy_s": 0.55, "own_s": 0.5, "wall_s": 1.0, "windows": 1}, None, None, 2)
    assert quiet["other_share"] == pytest.approx(0.025) and busy_flag(quiet) is None
    c.add(CpuSnapshot(None, 0.0, 0.0), CpuSnapshot(None, 0.1, 0.1))  # no /proc/stat: no claim either way
    assert "other_share" not in environment_block(c.to_dict(), None, None, 2)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux only")
def test_the_real_proc_stat_counts_our_own_work():
    """Read through the held-open descriptor, /proc/stat still moves: 0.3 s of our own CPU time shows up."""
    before = read_cpu()
    while time.process_time() - before.own_s < 0.3:  # our own CPU time, however busy the machine is
        pass
    after = read_cpu()
    assert after.busy_s - before.busy_s >= 0.9 * (after.own_s - before.own_s) - 0.05  # ticks: 10 ms each


def test_slices_split_the_runs_and_the_order_rotates():
    assert slice_sizes(100, 5) == [20] * 5 and slice_sizes(12, 5) == [3, 3, 2, 2, 2] and slice_sizes(3, 5) == [1] * 3
    assert sum(slice_sizes(101, 7)) == 101
    order = [_rotate(["a", "b", "c"], r) for r in range(3)]
    assert order == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]  # each artifact first once, last once


def test_capacity_is_the_cpus_proc_stat_sums_over(tmp_path):
    from toolkit.profile.environment import stat_cpus

    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\ncpu0 1 1 1\ncpu1 1 1 1\ncpu2 0 0 0\nintr 5\nctxt 9\n")
    assert stat_cpus(stat) == 3 and stat_cpus(tmp_path / "missing") is None
