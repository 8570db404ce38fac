"""The side-by-side gate: the paired test worked by hand, the pairs' order, when a record can be timed again,
and ``toolkit compare`` re-measuring real artifacts (a real slowdown named, identical builds passed, a gone
artifact decided on its stored runs, a busy host refused under --no-wait)."""

from __future__ import annotations

import copy
import math
import shutil
import sqlite3

import pytest

from tests._export_helpers import exported
from tests.test_lock import _holder, lock_env  # noqa: F401 - the fixture
from toolkit.profile.host import HostDevice
from toolkit.profile.intervals import RatioTest
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.side_by_side import not_remeasurable, paired_ratio_test
from toolkit.report.compare import SIDE_BY_SIDE, STORED, common_shift, compare_records
from toolkit.results import ResultsDB


def test_paired_ratio_test_worked_by_hand():
    d = [0.10, 0.12, 0.08, 0.10]  # log(candidate / baseline) per round: mean 0.1, sd sqrt(0.0008 / 3)
    base = [2.0, 2.1, 1.9, 2.2]  # the baseline drifts by 15% between rounds; the pairs' ratio does not
    t = paired_ratio_test(base, [b * math.exp(x) for b, x in zip(base, d, strict=True)])
    se = math.sqrt(0.0008 / 3) / 2
    half = 3.182446305284263 * se  # t(3) at 97.5%
    assert t.ratio == pytest.approx(math.exp(0.1), rel=1e-12)
    assert (t.low, t.high) == pytest.approx((math.exp(0.1 - half), math.exp(0.1 + half)), rel=1e-6)
    assert 0.0005 < t.p_value < 0.002  # t = 12.2 on 3 dof: p = 0.0012
    same = paired_ratio_test(base, [b * math.exp(x - 0.1) for b, x in zip(base, d, strict=True)])
    assert same.ratio == pytest.approx(1.0, abs=1e-12) and same.p_value == pytest.approx(1.0)
    assert paired_ratio_test([1.0], [2.0]) is None
    exact = paired_ratio_test([1.0, 2.0], [1.5, 3.0])
    assert (exact.ratio, exact.low, exact.high, exact.p_value) == pytest.approx((1.5, 1.5, 1.5, 0.0))


def test_each_round_speaks_through_its_fastest_run():
    from toolkit.profile.side_by_side import round_minima

    rec = {"latency_ms": [3.0, 1.0, 2.0, 9.0, 4.0, 5.0, 0.5], "rounds": {"runs_per_round": [3, 3, 1]}}
    assert round_minima(rec) == [1.0, 4.0, 0.5]


def test_pairs_stay_adjacent_and_take_turns_going_first():
    from toolkit.profile.rounds import _alternate_pairs, _Item

    items = [_Item(i, None, {}) for i in range(6)]  # type: ignore[arg-type]
    order = [[it.index for it in _alternate_pairs(items, r)] for r in range(4)]
    assert order == [[0, 1, 2, 3, 4, 5], [1, 0, 3, 2, 5, 4], [0, 1, 2, 3, 4, 5], [1, 0, 3, 2, 5, 4]]
    # a worker holding one side of a pair only (ExecuTorch: one process per thread count) times it alone
    assert [it.index for it in _alternate_pairs([items[1], items[2], items[3]], 1)] == [1, 3, 2]


def test_what_can_be_timed_again(tmp_path):
    art = exported("onnx", 0.25, 32)
    sha = art.manifest["artifact"]["sha256"]
    assert not_remeasurable("host", str(art.path), sha) is None
    assert "only host records" in not_remeasurable("android", str(art.path), sha)
    assert "older toolkit" in not_remeasurable("host", None, sha)
    assert "is gone" in not_remeasurable("host", str(tmp_path / "x.onnx"), sha)
    assert "changed since it was measured" in not_remeasurable("host", str(art.path), "0" * 64)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[dict, dict]:
    """A real baseline (0.25-32) and a real candidate record of the same variant name whose artifact is 0.25-96
    (9× the mult-adds): a build that really got slower, with its own file and sha256."""
    folder = tmp_path_factory.mktemp("builds")
    small, big = exported("onnx", 0.25, 32).path, exported("onnx", 0.25, 96).path
    paths = []
    for name, src in (("base", small), ("cand", big)):
        (folder / name).mkdir()
        for f in src.parent.glob(src.name + "*"):
            shutil.copy(f, folder / name / f.name)
        paths.append(folder / name / src.name)
    cfg = ProfileConfig(warmup=2, iterations=30, rounds=3, threads=1)
    base, cand = (HostDevice().run(p, cfg) for p in paths)
    cand["artifact"]["variant"] = base["artifact"]["variant"]
    return base, cand


def _db(path, *records) -> str:
    with ResultsDB(path) as db:
        for r in records:
            db.insert(r)
    return str(path)


def test_compare_times_a_real_slowdown_side_by_side_and_names_it(tmp_path, pair, capsys):
    from toolkit.cli import main

    base, cand = pair
    a, b = _db(tmp_path / "a.db", base), _db(tmp_path / "b.db", cand)
    assert main(["compare", a, b]) == 1
    out, err = capsys.readouterr()
    assert "side by side" in out and "regressed" in out
    assert "1 variant(s) slower: host onnxruntime fp32 t1 mobilenet_v1-a0.25-r32 (+" in err
    assert "stored runs (" not in err  # both artifacts are on disk and unchanged: nothing decided on stored runs
    # identical builds timed side by side: no change (the slack only keeps a loaded test machine from flaking)
    assert main(["compare", a, a, "--tolerance", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "side by side" in out and "no change: 1 variant(s) compared" in out
    with sqlite3.connect(a) as con:  # compare writes nothing
        assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1


def test_a_gone_artifact_is_decided_on_its_stored_runs(tmp_path, pair, capsys):
    from toolkit.cli import main

    base, cand = (copy.deepcopy(r) for r in pair)
    cand["artifact"]["path"] = str(tmp_path / "deleted.onnx")
    a, b = _db(tmp_path / "a.db", base), _db(tmp_path / "b.db", cand)
    assert main(["compare", a, b]) == 1  # 9× the work: the stored runs show it too
    out, err = capsys.readouterr()
    assert "stored runs" in out and "deleted.onnx is gone" in err
    assert main(["compare", a, b, "--stored"]) == 1
    out, err = capsys.readouterr()
    assert "stored runs" in out and "side by side" not in out + err


def test_no_wait_refuses_a_busy_host_in_one_line(lock_env, tmp_path, pair, capsys):  # noqa: F811
    from toolkit.cli import main

    a, b = _db(tmp_path / "a.db", pair[0]), _db(tmp_path / "b.db", pair[1])
    holder = _holder(lock_env)
    try:
        code = main(["compare", a, b, "--no-wait"])
    finally:
        holder.kill()
        holder.wait()
    assert code == 75 and f"host is being measured by pid {holder.pid}" in capsys.readouterr().err


def test_side_by_side_rows_decide_and_stay_out_of_the_common_shift_line(pair):
    base = pair[0]
    names = ["mobilenet_v1-a0.25-r128", "mobilenet_v1-a0.50-r160", "mobilenet_v1-a0.75-r192"]
    bs, cs = [], []
    for n in names:
        for src, out, k in ((base, bs, 1.0), (base, cs, 1.3)):  # stored runs: every variant 30% slower
            r = copy.deepcopy(src)
            r["artifact"]["variant"] = n
            r["latency_ms"] = [x * k for x in r["latency_ms"]]
            r["stats"] = {key: (v * k if key.endswith("_ms") else v) for key, v in r["stats"].items()}
            r.pop("rounds", None)
            out.append(r)
    stored = compare_records(bs, cs)
    assert {c.status for c in stored} == {"regressed"} and {c.basis for c in stored} == {STORED}
    assert common_shift(stored) is not None
    keys = [c.key for c in stored]
    same = {k: RatioTest(1.01, 0.99, 1.03, 0.3) for k in keys}  # side by side the machine, not the build, moved
    rows = compare_records(bs, cs, side_by_side=same)
    assert {c.status for c in rows} == {"same"} and {c.basis for c in rows} == {SIDE_BY_SIDE}
    assert [c.ratio for c in rows] == [1.01] * 3
    assert common_shift(rows) is None


def test_an_interval_reaching_past_the_tolerance_is_inconclusive_not_same(pair, capsys):
    from toolkit.cli.profile import print_comparison

    base = pair[0]
    key = compare_records([base], [base])[0].key
    wide = compare_records([base], [base], side_by_side={key: RatioTest(1.02, 0.95, 1.10, 0.4)})
    tight = compare_records([base], [base], side_by_side={key: RatioTest(1.02, 0.99, 1.04, 0.2)})
    assert [c.status for c in wide] == ["inconclusive"] and [c.status for c in tight] == ["same"]
    assert print_comparison(wide, 0.05, more="--iterations 300") == []  # does not fail the gate
    out, err = capsys.readouterr()
    assert "no change: 1 variant(s) compared" in out and "(1 inconclusive)" in out
    assert "1 variant(s) inconclusive" in err and "--iterations 300" in err
