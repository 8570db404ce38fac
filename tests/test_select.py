"""Selection under a latency budget and the Pareto frontier, on constructed result records."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from toolkit.cli import main
from toolkit.errors import ToolkitError, UsageError
from toolkit.records import latest_records
from toolkit.select import Candidate, load_accuracy, pareto_frontier, select
from toolkit.variants import Variant, published_variants


def rec(name: str, median: float, hi: float | None = None, *, lo: float | None = None, p90: float | None = None,
        device: str = "vm", runtime: str = "onnxruntime", precision: str = "fp32",
        ts: str = "2026-11-28T12:00:00+00:00", delegate: str | None = None) -> dict:  # fmt: skip
    """A schema-shaped result record with the statistics the selection reads."""
    hi = median * 1.02 if hi is None else hi
    lo = median * 0.98 if lo is None else lo
    p90 = median * 1.1 if p90 is None else p90
    stats = {"n": 30, "median_ms": median, "p90_ms": p90, "mean_ms": median, "std_ms": 0.01, "min_ms": lo,
             "max_ms": p90, "trimmed_mean_ms": median, "ci95_low_ms": lo, "ci95_high_ms": hi}  # fmt: skip
    return {
        "schema_version": 1,
        "timestamp": ts,
        "device": {"kind": "host", "name": device, "os": "Linux"},
        "runtime": {"name": runtime, "version": "1.0", "delegate": delegate},
        "artifact": {"sha256": "0" * 64, "file": f"{name}.onnx", "variant": name, "precision": precision},
        "config": {"threads": 2, "warmup": 10, "iterations": 30},
        "latency_ms": [median],
        "stats": stats,
    }


A100_224, A075_224 = "mobilenet_v1-a1.00-r224", "mobilenet_v1-a0.75-r224"
A050_160, A025_128 = "mobilenet_v1-a0.50-r160", "mobilenet_v1-a0.25-r128"
BASE = [rec(A100_224, 3.0), rec(A075_224, 2.0), rec(A050_160, 0.5), rec(A025_128, 0.15)]


def test_most_accurate_that_fits_with_runners_up_and_frontier() -> None:
    sel = select(BASE, 2.5, include_predicted=False)
    assert sel.pick.name == A075_224 and not sel.pick.predicted
    assert [c.name for c in sel.runners_up] == [A050_160, A025_128]
    assert [c.name for c in sel.frontier] == [A025_128, A050_160, A075_224, A100_224]
    assert "ship mobilenet_v1-a0.75-r224" in sel.message


def test_budget_exactly_at_ci_upper_end_fits() -> None:
    recs = [rec(A100_224, 3.9, hi=4.0), rec(A075_224, 2.0)]
    assert select(recs, 4.0, include_predicted=False).pick.name == A100_224


def test_ci_upper_end_just_over_budget_does_not_fit_even_if_median_does() -> None:
    recs = [rec(A100_224, 3.9, hi=4.0 + 1e-6), rec(A075_224, 2.0)]
    sel = select(recs, 4.0, include_predicted=False)
    assert sel.pick.name == A075_224
    assert sel.pick.bound_ms == pytest.approx(2.04)


def test_p90_metric_checks_the_p90() -> None:
    recs = [rec(A100_224, 3.0, hi=3.1, p90=4.5), rec(A075_224, 2.0, p90=2.2)]
    assert select(recs, 4.0, metric="p90", include_predicted=False).pick.name == A075_224
    assert select(recs, 4.0, metric="median", include_predicted=False).pick.name == A100_224


def test_nothing_fits_names_the_fastest() -> None:
    sel = select(BASE, 0.1, include_predicted=False)
    assert sel.pick is None and sel.runners_up == ()
    assert sel.fastest.name == A025_128
    assert "no variant fits 0.1 ms" in sel.message and A025_128 in sel.message


def test_ties_go_to_lower_latency_then_fewer_macs(tmp_path) -> None:
    # Same user-given accuracy for all three: 0.50-r160 (77M MACs) and 0.75-r128 (104M) have the same bound.
    names = [A050_160, "mobilenet_v1-a0.75-r128", A075_224]
    acc = {n: 60.0 for n in names}
    recs = [rec(names[0], 1.0, hi=1.2), rec(names[1], 1.1, hi=1.2), rec(names[2], 0.9, hi=1.5)]
    sel = select(recs, 2.0, accuracy=acc, include_predicted=False)
    assert [sel.pick.name, *(c.name for c in sel.runners_up)] == names
    assert sel.pick.accuracy_source == "eval"


def test_filters_by_device_runtime_precision() -> None:
    recs = [
        *BASE,
        rec(A100_224, 1.0, device="pixel"),
        rec(A100_224, 1.5, runtime="executorch"),
        rec(A100_224, 0.8, precision="int8"),
    ]
    everywhere = select(recs, 2.5, include_predicted=False).pick  # same accuracy: the fastest config wins
    assert (everywhere.name, everywhere.precision, everywhere.bound_ms) == (A100_224, "int8", pytest.approx(0.816))
    assert select(recs, 2.5, precision="fp32", include_predicted=False).pick.device == "pixel"
    assert select(recs, 2.5, device="vm", precision="fp32", include_predicted=False).pick.runtime == "executorch"
    only_ort = select(recs, 2.5, device="vm", runtime="onnxruntime", precision="fp32", include_predicted=False)
    assert only_ort.pick.name == A075_224 and only_ort.pick.device == "vm"
    assert select(recs, 2.5, device="pixel", include_predicted=False).pick.device == "pixel"
    assert select(recs, 2.5, precision="int8", include_predicted=False).pick.precision == "int8"
    with pytest.raises(UsageError, match="unknown device 'iphone'; measured ones: pixel, vm"):
        select(recs, 2.5, device="iphone")


def test_newest_record_per_variant_and_config_wins() -> None:
    old, new = rec(A100_224, 9.0, ts="2026-01-01T00:00:00+00:00"), rec(A100_224, 3.0)
    assert latest_records([new, old]) == [new] and latest_records([old, new]) == [new]
    assert select([old, new], 3.5, include_predicted=False).pick.name == A100_224


def test_empty_records_say_which_command_fills_them() -> None:
    with pytest.raises(ToolkitError, match="toolkit sweep"):
        select([], 5.0)


def test_bad_budget_and_metric() -> None:
    with pytest.raises(UsageError, match="budget"):
        select(BASE, -1.0)
    with pytest.raises(UsageError, match="metric"):
        select(BASE, 1.0, metric="mean")


def test_predicted_candidates_are_marked_and_can_be_excluded() -> None:
    full = [rec(v.name, 0.1 + v.alpha**2 * v.resolution**2 / 2e4) for v in published_variants()[::3]]
    sel = select(full, 100.0)
    predicted = [c for c in sel.candidates if c.predicted]
    assert predicted and all(c.bound_ms >= c.latency_ms >= c.low_ms for c in predicted)
    assert {c.name for c in sel.candidates} == {v.name for v in published_variants()}
    assert sel.pick.name == "mobilenet_v1-a1.00-r224" and not sel.pick.predicted  # measured, most accurate
    assert not any(c.predicted for c in select(full, 100.0, include_predicted=False).candidates)


def _brute_frontier(cands: list[Candidate]) -> set[str]:
    def dominated(c: Candidate) -> bool:
        return any(d is not c and d.latency_ms <= c.latency_ms and d.accuracy >= c.accuracy for d in cands)

    return {c.name for c in cands if not dominated(c)}


@pytest.mark.parametrize("seed", range(5))
def test_pareto_frontier_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    variants = [Variant(a, r) for a, r in itertools.product((0.25, 0.4, 0.5, 0.6, 0.75, 1.0), (96, 128, 160, 224))]
    lats = rng.sample(range(1, 1000), len(variants))  # distinct latencies and accuracies: one frontier
    accs = rng.sample(range(300, 800), len(variants))
    cands = [Candidate(v, "vm", "ort", "fp32", la / 100, la / 100, la / 100, ac / 10, "eval", 0)
             for v, la, ac in zip(variants, lats, accs, strict=True)]  # fmt: skip
    front = pareto_frontier(cands)
    assert {c.name for c in front} == _brute_frontier(cands)
    assert [c.latency_ms for c in front] == sorted(c.latency_ms for c in front)
    assert [c.accuracy for c in front] == sorted(c.accuracy for c in front)


def test_accuracy_file(tmp_path) -> None:
    path = tmp_path / "acc.json"
    path.write_text(json.dumps({A050_160: 0.612, f"{A050_160}:int8": {"top1": 60.0}, A025_128: 40}))
    acc = load_accuracy(path)
    assert acc == {A050_160: pytest.approx(61.2), f"{A050_160}:int8": 60.0, A025_128: 40.0}
    recs = [rec(A050_160, 0.5), rec(A050_160, 0.3, precision="int8")]
    sel = select(recs, 1.0, accuracy=path, include_predicted=False)
    assert (sel.pick.precision, sel.pick.accuracy) == ("fp32", pytest.approx(61.2))
    path.write_text(json.dumps({"resnet50": 76.0}))
    with pytest.raises(UsageError, match="not a variant name"):
        load_accuracy(path)
    with pytest.raises(UsageError, match="not found"):
        load_accuracy(tmp_path / "missing.json")


def test_cli_select_and_bad_input(tmp_path, capsys) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps(BASE))
    assert main(["select", "--budget-ms", "2.5", "--records", str(path), "--measured-only"]) == 0
    out = capsys.readouterr().out
    assert "ship mobilenet_v1-a0.75-r224" in out and "frontier" in out
    assert main(["select", "--budget-ms", "0.01", "--records", str(path)]) == 1
    assert "the fastest is mobilenet_v1-a0.25-r128" in capsys.readouterr().err
    assert main(["select", "--budget-ms", "2", "--records", str(path), "--device", "nope"]) == 2
    assert "measured ones: vm" in capsys.readouterr().err
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert main(["select", "--budget-ms", "2", "--records", str(empty)]) == 1
    assert "toolkit sweep" in capsys.readouterr().err


def test_results_db_adapter(tmp_path, capsys) -> None:
    from toolkit.results import ResultsDB
    from toolkit.select import records_from_db

    db = tmp_path / "results.db"
    with ResultsDB(db) as store:
        for r in BASE:
            store.insert(r)
    assert sorted(r["artifact"]["variant"] for r in records_from_db(db)) == sorted(
        r["artifact"]["variant"] for r in BASE
    )
    assert main(["select", "--budget-ms", "2.5", "--db", str(db)]) == 0
    assert "ship mobilenet_v1-a0.75-r224" in capsys.readouterr().out
    assert main(["select", "--budget-ms", "2.5", "--db", str(tmp_path / "none.db")]) == 1
    assert "toolkit sweep" in capsys.readouterr().err and not (tmp_path / "none.db").exists()


@pytest.mark.slow
def test_measure_confirms_a_predicted_pick_on_this_host(tmp_path, monkeypatch, capsys) -> None:
    """End to end: records for this host, a budget whose pick is predicted, --measure times it with ORT."""
    from toolkit.profile.host import HostDevice
    from toolkit.published import published_records

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    host = HostDevice().describe()["name"]
    measured = [v for v in published_variants() if v.alpha in (0.25, 1.0)]
    recs = [rec(v.name, 0.1 + v.alpha**2 * v.resolution**2 / 2e4, device=host) for v in measured]
    prior = recs + published_records()  # what the CLI lends the transfer (8 measured variants < 10)
    want = next(c for c in select(recs, 1e9, prior_records=prior).candidates if c.name == "mobilenet_v1-a0.75-r160")
    budget = round(want.bound_ms * 1.001, 6)
    assert want.predicted and select(recs, budget, prior_records=prior).pick == want
    path = tmp_path / "records.json"
    path.write_text(json.dumps(recs))
    db = tmp_path / "results.db"
    args = ["select", "--budget-ms", str(budget), "--records", str(path), "--db", str(db), "--measure"]
    main(args)  # exit 1 when the fresh measurement of the pick does not fit: both are fine here
    out = capsys.readouterr().out
    assert "measured mobilenet_v1-a0.75-r160: median" in out and "predicted" in out
    from toolkit.results import ResultsDB

    with ResultsDB(db) as store:
        assert [r["artifact"]["variant"] for r in store.records()] == ["mobilenet_v1-a0.75-r160"]
