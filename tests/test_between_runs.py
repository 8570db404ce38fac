"""The between-run spread: estimated from the results DB's own history, folded into the stated interval."""

from __future__ import annotations

import copy
import json
import math
import random
import sqlite3

import pytest

from tests._export_helpers import exported
from toolkit.between_runs import METHOD, METHOD_OWN, METHOD_POOLED, MIN_DOF, estimate, t95, within_se_log
from toolkit.profile.host import HostDevice
from toolkit.profile.intervals import se_log, se_log_within, stated_interval
from toolkit.profile.protocol import ProfileConfig
from toolkit.report import compare_records
from toolkit.report.data import to_rows
from toolkit.report.render import render_markdown
from toolkit.results import _MIGRATIONS, SCHEMA_VERSION, ResultsDB
from toolkit.schemas import validate_record

Z = t95(200)  # how within_se_log reads a bootstrap interval


@pytest.fixture(scope="module")
def record() -> dict:
    """One real host measurement of a tiny ONNX MobileNet (α 0.25, ρ 32), the shape every record below takes."""
    return HostDevice().run(exported("onnx", 0.25, 32).path, ProfileConfig(warmup=2, iterations=20))


def _as(rec: dict, variant: int, median: float, se_within: float = 0.01, device: str | None = None) -> dict:
    """The real record as a measurement of artifact ``variant`` with this median and within-run error (its
    bootstrap interval exactly ``median · exp(± z · se_within)``), this machine's state left out."""
    r = copy.deepcopy(rec)
    r["artifact"]["sha256"] = f"{variant:064x}"
    r["artifact"]["variant"] = r["artifact"]["file"] = f"v{variant}"
    r["stats"].update(median_ms=median, ci95_low_ms=median * math.exp(-Z * se_within),
                      ci95_high_ms=median * math.exp(Z * se_within))  # fmt: skip
    for key in ("rounds", "flags", "bimodality", "environment", "between_runs"):
        r.pop(key, None)
    if device is not None:
        r["device"]["name"] = device
    return r


def _drifts(runs: int) -> list[float]:
    return [0.04 * (i - (runs - 1) / 2) for i in range(runs)]  # log drift of each run: known, symmetric


# ---- the estimate: the sd of the runs' common shift -------------------------------------------------------


def _rows(shifts, variants: int, noise=lambda v, r: 0.0) -> list[tuple]:
    """(run, variant, log median): variant v's level plus run r's shift plus ``noise(v, r)``."""
    return [(f"run{r}", v, math.log(1.0 + v) + b + noise(v, r)) for r, b in enumerate(shifts) for v in range(variants)]


def _sd(xs) -> float:
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


SHIFTS = (-0.05, 0.01, 0.03, -0.02, 0.06, -0.03)  # six runs' common moves, known


def test_the_runs_shifts_come_out_exactly_when_the_variants_noise_cancels_in_the_median():
    # within each run the three variants' noise is (-e, 0, +e), rotated across runs so each variant's noise
    # averages 0 over the six: every residual's median is its run's shift about the mean shift
    noise = (-0.08, 0.0, 0.08)
    b = estimate(_rows(SHIFTS, 3, lambda v, r: noise[(v + r) % 3]))
    assert b["se_log"] == pytest.approx(_sd(SHIFTS), rel=1e-12)
    assert (b["dof"], b["groups"], b["records"], b["runs"]) == (5, 3, 18, 6)
    assert b["method"] == METHOD
    pooled = sum((n + d - sum(SHIFTS) / 6) ** 2 for d in SHIFTS for n in noise) / (18 - 3)
    assert math.sqrt(pooled) > 1.5 * _sd(SHIFTS)  # the noise is no small part of the residuals


def test_one_noisy_variant_does_not_become_a_runs_shift():
    wild = lambda v, r: (0.5 if r % 2 else -0.5) if v == 0 else 0.0  # noqa: E731 - averages 0 over six runs
    b = estimate(_rows(SHIFTS, 5, wild))
    assert b["se_log"] == pytest.approx(_sd(SHIFTS), rel=1e-12)
    # with two variants the median is their mean and the wild one moves it: the estimate says so
    assert estimate(_rows(SHIFTS, 2, wild))["se_log"] > 4 * _sd(SHIFTS)


def test_groups_measured_once_are_left_out():
    rows = _rows(SHIFTS, 3)
    b = estimate([*rows, ("run0", "once", 9.0), ("run5", "also-once", -9.0), ("run9", "alone", 1.0)])
    assert b == estimate(rows) and (b["groups"], b["records"], b["runs"]) == (3, 18, 6)  # run9 has no repeat


def test_the_group_key_is_everything_between_run_and_median():
    rows = [(run, "sha", "onnxruntime", "1.20", "fp32", None, t, y) for run, t, y in _rows(SHIFTS, 2)]
    assert estimate(rows)["groups"] == 2  # threads (0 and 1 here) separate groups
    assert estimate(rows)["se_log"] == pytest.approx(_sd(SHIFTS), rel=1e-12)


def test_no_block_below_the_minimum_dof():
    assert estimate(_rows(SHIFTS[:MIN_DOF], 4)) is None  # three runs: 2 dof
    assert estimate(_rows(SHIFTS[: MIN_DOF + 1], 4))["dof"] == MIN_DOF
    assert estimate(_rows(SHIFTS[:2], 16)) is None  # many variants in two runs are still one difference
    assert estimate([(f"run{r}", r, 1.0) for r in range(8)]) is None  # nothing repeated
    assert estimate([]) is None  # an empty device


def test_drift_is_seen_under_variants_with_large_within_run_error():
    """What pooling missed on a real store: half the variants scatter by 15% within a run, the other half are
    quiet and move with the run by 2.5%. The runs' common shift still states the drift."""
    rng = random.Random(7)
    shifts = [rng.gauss(0.0, 0.025) for _ in range(20)]
    rows = _rows(shifts, 16, lambda v, r: rng.gauss(0.0, 0.15 if v < 8 else 0.003))
    assert 0.7 * _sd(shifts) < estimate(rows)["se_log"] < 1.5 * _sd(shifts)


def test_a_variant_that_scatters_on_its_own_carries_its_own_scatter():
    """Variant 0 sits ±4% off its run's shift, alternately (a layout drawn per process); 1-4 move with the run."""
    own = lambda v, r: (0.04 if r % 2 else -0.04) if v == 0 else 0.0  # noqa: E731
    rows = _rows(SHIFTS, 5, own)
    common = _sd(SHIFTS)
    assert estimate(rows)["se_log"] == pytest.approx(common, rel=1e-12)  # no group named: the shift alone
    quiet, noisy = estimate(rows, group=(1,)), estimate(rows, group=(0,))
    assert quiet["se_log"] == pytest.approx(common, rel=1e-12) and quiet["method"] == METHOD_OWN
    ss = sum(0.04**2 for _ in SHIFTS)  # the median over five variants is the quiet ones': the shift exact
    assert noisy["se_log"] == pytest.approx(math.sqrt(common**2 + ss / 5), rel=1e-12)
    a, b = common**2, ss / 5
    assert noisy["dof"] == int((a + b) ** 2 / (a * a / 5 + b * b / 5))
    # a group without history of its own takes all groups' residuals, pooled
    new = estimate(rows, group=("never measured",))
    assert new["method"] == METHOD_POOLED
    assert new["se_log"] == pytest.approx(math.sqrt(common**2 + ss / (5 * 5)), rel=1e-12)
    few = estimate([*rows, ("run0", "young", 1.0), ("run1", "young", 1.1)], group=("young",))
    assert few["method"] == METHOD_POOLED  # one dof of its own is too little to stand on


def _stored(tmp_path, record: dict, medians: dict[int, list[float]]) -> dict | None:
    """Store run r's median of each artifact ``medians[artifact][r]`` (one sweep per run), then ask the store."""
    with ResultsDB(tmp_path / "p.db") as db:
        for run in range(max(len(m) for m in medians.values())):
            for v, meds in medians.items():
                if run < len(meds):
                    db.insert(_as(record, v, meds[run]), sweep_id=f"run{run}")
        return db.between_runs(_as(record, 0, 1.0), "next")


def test_the_store_feeds_its_rows_to_the_estimate(tmp_path, record):
    medians = {v: [(1.0 + v) * math.exp(d) for d in SHIFTS] for v in range(3)}
    medians[9] = [5.0]  # measured once
    b = _stored(tmp_path, record, medians)
    assert b["se_log"] == pytest.approx(_sd(SHIFTS), rel=1e-9)
    assert (b["dof"], b["groups"], b["records"], b["runs"]) == (5, 3, 18, 6)


# ---- the interval --------------------------------------------------------------------------------------


def _bare(median: float, lo: float, hi: float, rounds: dict | None = None, between: dict | None = None) -> dict:
    rec: dict = {"stats": {"median_ms": median, "ci95_low_ms": lo, "ci95_high_ms": hi}}
    if rounds:
        rec["rounds"] = rounds
    if between:
        rec["between_runs"] = between
    return rec


def test_the_interval_widens_exactly_as_the_formula_says():
    rounds = {"low_ms": 9.9, "high_ms": 10.12, "se_log": 0.006, "dof": 4}
    rec = _bare(10.0, 9.95, 10.05, rounds, {"se_log": 0.05, "dof": 9})
    se_w = 0.006  # the rounds' error exceeds the bootstrap's: log(10 / 9.95) / z = 0.0025
    var = se_w**2 + 0.05**2
    dof = int(var**2 / (se_w**4 / 4 + 0.05**4 / 9))
    assert se_log_within(rec) == (se_w, 4)
    assert se_log(rec) == (pytest.approx(math.sqrt(var), rel=1e-12), dof) and dof == 9
    half = t95(dof) * math.sqrt(var)
    low, high = stated_interval(rec)
    assert (low, high) == (pytest.approx(10.0 * math.exp(-half)), pytest.approx(10.0 * math.exp(half)))
    assert low < 9.9 and high > 10.12  # wider than the rounds' and the bootstrap's


def test_welch_dof_is_floored_and_capped():
    tiny_b = _bare(10.0, 9.0, 11.0, {"low_ms": 9, "high_ms": 11, "se_log": 0.05, "dof": 1}, {"se_log": 1e-9, "dof": 3})
    assert se_log(tiny_b)[1] == 1
    big = _bare(10.0, 9.999, 10.001, None, {"se_log": 0.05, "dof": 1000})
    assert se_log(big)[1] == 200


def test_a_record_without_the_block_or_with_zero_spread_is_unchanged():
    rounds = {"low_ms": 9.8, "high_ms": 10.3, "se_log": 0.01, "dof": 4}
    for rec in (_bare(10.0, 9.9, 10.1), _bare(10.0, 9.9, 10.1, rounds)):
        before = (stated_interval(rec), se_log(rec))
        assert before[1] == se_log_within(rec)
        assert (stated_interval({**rec, "between_runs": {"se_log": 0.0, "dof": 5}}), se_log(rec)) == before
    assert stated_interval(_bare(10.0, 9.9, 10.1, rounds)) == (9.8, 10.3)
    assert se_log(_bare(10.0, 9.9, 10.1)) == (pytest.approx(math.log(10 / 9.9) / Z), 200)


# ---- the store -----------------------------------------------------------------------------------------


def _store_runs(db: ResultsDB, record: dict, drifts, variants=4, se=0.01, device=None, flags=()) -> None:
    for run, d in enumerate(drifts):
        for v in range(variants):
            r = _as(record, v, (1.0 + v) * math.exp(d), se, device)
            if flags:
                r["flags"] = list(flags)
            db.insert(r, sweep_id=f"{device}-{run}")


def test_insert_states_the_spread_of_the_runs_stored_before(tmp_path, record):
    drifts = _drifts(5)
    with ResultsDB(tmp_path / "r.db") as db:
        _store_runs(db, record, drifts)
        # a record of run 2 sees the other four runs only, never its own
        assert db.between_runs(_as(record, 0, 1.0), "None-2")["se_log"] == pytest.approx(
            _sd(drifts[:2] + drifts[3:]), rel=1e-9
        )
        new = _as(record, 0, 1.0)
        db.insert(new, sweep_id="next")
        stored = db.records()
    assert "between_runs" not in new  # the caller's record is left as it was
    b = stored[-1]["between_runs"]
    assert b["se_log"] == pytest.approx(_sd(drifts), rel=1e-9)
    assert (b["dof"], b["groups"], b["records"], b["runs"]) == (4, 4, 20, 5)
    validate_record(stored[-1])
    # earlier runs only: the fifth run's records saw the four before them (3 dof), never their own run's rows
    assert [r.get("between_runs", {}).get("runs") for r in stored] == [None] * 16 + [4] * 4 + [5]
    assert stored[16]["between_runs"]["se_log"] == pytest.approx(_sd(drifts[:4]), rel=1e-9)


def test_the_store_states_each_artifacts_own_scatter(tmp_path, record):
    drifts = _drifts(6)
    with ResultsDB(tmp_path / "own.db") as db:
        for run, d in enumerate(drifts):
            for v in range(4):
                wobble = (0.05 if run % 2 else -0.05) if v == 3 else 0.0
                db.insert(_as(record, v, (1.0 + v) * math.exp(d + wobble)), sweep_id=f"run{run}")
        quiet, noisy = db.between_runs(_as(record, 0, 1.0), "next"), db.between_runs(_as(record, 3, 1.0), "next")
    assert quiet["se_log"] == pytest.approx(_sd(drifts), rel=1e-9)
    assert noisy["se_log"] == pytest.approx(math.sqrt(_sd(drifts) ** 2 + 6 * 0.05**2 / 5), rel=1e-9)
    assert noisy["method"] == METHOD_OWN


def test_flagged_records_and_other_devices_are_left_out(tmp_path, record):
    drifts = _drifts(5)
    with ResultsDB(tmp_path / "clean.db") as db:
        _store_runs(db, record, drifts)
        clean = db.between_runs(_as(record, 0, 1.0))
    with ResultsDB(tmp_path / "mixed.db") as db:
        _store_runs(db, record, [3 * d for d in drifts], device="another-machine")
        _store_runs(db, record, [5 * d for d in drifts], flags=("busy",))
        _store_runs(db, record, [7 * d for d in drifts], flags=("bimodal",))
        assert db.between_runs(_as(record, 0, 1.0)) is None  # only flagged rows on this device so far
        _store_runs(db, record, drifts)
        assert db.between_runs(_as(record, 0, 1.0)) == clean
        assert db.between_runs(_as(record, 0, 1.0, device="another-machine"))["se_log"] > 2.5 * clean["se_log"]


def test_a_schema_4_db_gains_the_rounds_column_filled_from_its_rows(tmp_path, record):
    path = tmp_path / "v4.db"
    con = sqlite3.connect(path)
    for version in (1, 2, 3, 4):  # a DB exactly as the toolkit before the between-run spread left it
        for sql in _MIGRATIONS[version]:
            con.execute(sql)
    con.execute("PRAGMA user_version = 4")
    names = ("run_key", "timestamp", "artifact_sha256", "record_json", "median_ms", "ci95_low_ms", "ci95_high_ms")
    without = {k: v for k, v in record.items() if k != "rounds"}
    for i, rec in enumerate(({**without, "rounds": {"se_log": 0.07}}, without)):
        con.execute(f"INSERT INTO results ({', '.join(names)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (f"k{i}", "t", "00", json.dumps(rec), 2.0, 1.9, 2.2))  # fmt: skip
    con.commit()
    con.close()
    with ResultsDB(path) as db:
        assert db.count() == 2
        got = db._con.execute("SELECT log_median, se_log_within FROM results ORDER BY id").fetchall()
        plan = db._con.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM results WHERE device_kind IS ? AND device_name IS ? AND cpu IS ?",
            ("host", "x", "y"),
        ).fetchall()
        version = db._con.execute("PRAGMA user_version").fetchone()[0]
    boot = math.log(2.2 / 2.0) / Z  # the wider side
    assert got == [(math.log(2.0), 0.07), (math.log(2.0), pytest.approx(boot, rel=1e-12))] and boot < 0.07
    assert version == SCHEMA_VERSION == 5
    assert any("results_device" in str(row) for row in plan)


# ---- what readers see ----------------------------------------------------------------------------------


def test_compare_of_two_drifted_runs_of_identical_artifacts_is_not_a_regression_with_the_block(record):
    base = [_as(record, v, 1.0 + v, 0.005) for v in range(16)]
    cand = [_as(record, v, (1.0 + v) * 1.10, 0.005) for v in range(16)]  # the whole run 10% slower: drift
    assert {c.status for c in compare_records(base, cand)} == {"regressed"}
    block = {"se_log": 0.06, "dof": 20, "groups": 16, "records": 64, "runs": 21, "method": "m"}
    for r in (*base, *cand):
        r["between_runs"] = block
    # no longer a regression: with runs 6% apart a 10% move is what runs do; a change past the tolerance is not
    # ruled out either, which compare calls inconclusive (it does not fail the gate)
    assert {c.status for c in compare_records(base, cand)} == {"inconclusive"}
    cand = [_as(record, v, (1.0 + v) * 1.5, 0.005) for v in range(16)]  # a real 50% slowdown still shows
    for r in cand:
        r["between_runs"] = block
    assert {c.status for c in compare_records(base, cand)} == {"regressed"}


def test_the_report_states_the_spread_or_that_it_is_not_measured_yet(record):
    plain = [_as(record, v, 1.0 + v) for v in range(2)]
    phone = [_as(record, v, 2.0 + v, device="pixel") for v in range(2)]
    for r in phone:
        r["between_runs"] = {"se_log": 0.05, "dof": 7, "groups": 2, "records": 16, "runs": 8, "method": "m"}
    records = plain + phone
    text = render_markdown(to_rows(records), records, {})
    host = str(record["device"]["name"])
    assert f"{host}: between-run spread not yet measured on this device" in text
    assert "pixel: runs drift by 5.1% (sd of a run's median, from 16 repeated measurements over 8 runs, 7 dof)" in text


# ---- does it hold ---------------------------------------------------------------------------------------


def test_coverage_of_the_run_wide_median_improves_on_a_drifting_machine(tmp_path, record):
    """30 runs of 16 variants; each run drifts as a whole (log-normal, sd 5%), each median has a 1% within-run
    error. Out of sample, the stated interval should hold the variant's median over all runs."""
    rng = random.Random(20)
    runs, variants = 30, 16
    truth = [1.0 + 0.5 * v for v in range(variants)]
    with ResultsDB(tmp_path / "sim.db") as db:
        for run in range(runs):
            b = rng.gauss(0.0, 0.05)
            for v in range(variants):
                db.insert(_as(record, v, truth[v] * math.exp(b + rng.gauss(0.0, 0.01))), sweep_id=f"run{run}")
        stored = db.records()
    by_variant = {v: sorted(r["stats"]["median_ms"] for r in stored if r["artifact"]["sha256"] == f"{v:064x}")
                  for v in range(variants)}  # fmt: skip
    target = {v: (meds[14] + meds[15]) / 2 for v, meds in by_variant.items()}

    def holds(rec: dict) -> bool:
        low, high = stated_interval(rec)
        return low <= target[int(rec["artifact"]["sha256"], 16)] <= high

    with_block = [r for r in stored if "between_runs" in r]
    assert len(with_block) == (runs - MIN_DOF - 1) * variants  # stated from the fifth run on
    covered = sum(map(holds, with_block)) / len(with_block)
    without = sum(holds({k: v for k, v in r.items() if k != "between_runs"}) for r in with_block) / len(with_block)
    assert covered >= 0.9 and without <= 0.5, (covered, without)


def test_within_se_log_reads_the_wider_side_and_takes_the_rounds_when_larger():
    assert within_se_log(10.0, 9.0, 10.5) == pytest.approx(math.log(10 / 9) / Z)
    assert within_se_log(10.0, 9.9, 10.1, 0.2) == 0.2
    assert within_se_log(0.0, 0.0, 0.0) == 0.0


def test_a_kept_estimate_follows_other_connections_and_other_runs(tmp_path, record):
    with ResultsDB(tmp_path / "r.db") as mine, ResultsDB(tmp_path / "r.db") as other:
        probe = _as(record, 0, 1.0)
        assert mine.between_runs(probe, "now") is None
        _store_runs(other, record, _drifts(5))  # another process stores five runs
        assert mine.between_runs(probe, "now")["runs"] == 5
        mine.insert(_as(record, 0, 1.3), sweep_id="now")  # this run's own row: the estimate for it stays
        assert mine.between_runs(probe, "now")["runs"] == 5
        mine.insert(_as(record, 0, 1.3), sweep_id="later")  # another run's row: it counts
        assert mine.between_runs(probe, "now")["runs"] == 6
