"""Report rows, the Pareto frontier, renderers and the compare regression gate on real measurements."""

from __future__ import annotations

import copy
import hashlib
import math

import numpy as np
import pytest

from tests._export_helpers import exported
from toolkit.profile.host import HostDevice
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.stats import summarize
from toolkit.report import compare_records, to_rows, write_report
from toolkit.report.plots import pareto_front
from toolkit.results import write_json_export


@pytest.fixture(scope="module")
def record() -> dict:
    return HostDevice().run(exported("onnx", 0.25, 32).path, ProfileConfig(warmup=2, iterations=40))


def _as(rec: dict, variant: str, factor: float = 1.0, precision: str = "fp32") -> dict:
    """A real record relabelled (and scaled): a second variant or a slower candidate build."""
    r = copy.deepcopy(rec)
    r["artifact"]["variant"], r["artifact"]["precision"] = variant, precision
    r["artifact"]["file"] = f"{variant}-onnx-{precision}.onnx"
    r["artifact"]["sha256"] = hashlib.sha256(r["artifact"]["file"].encode()).hexdigest()
    # steady samples around the measured median: a loaded test machine must not make these rows bimodal
    median = rec["stats"]["median_ms"]
    noise = np.random.default_rng(0).normal(0.0, 0.02, len(rec["latency_ms"])).clip(-0.06, 0.06)
    r["latency_ms"] = [float(median * (1.0 + z) * factor) for z in noise]
    r["stats"] = summarize(r["latency_ms"]).to_dict()
    for key in ("rounds", "flags", "bimodality", "environment"):  # this machine's state, not the relabelled run's
        r.pop(key, None)
    return r


def test_pareto_front_known_points():
    pts = [(1.0, 50.0), (2.0, 60.0), (1.5, 55.0), (3.0, 58.0), (0.5, 40.0), (2.0, 59.0)]
    assert sorted(pareto_front(pts)) == [0, 1, 2, 4]


def test_rows_carry_macs_accuracy_and_throughput(record):
    rows = to_rows([record, _as(record, "mobilenet_v1-a0.50-r160", 3.0)])
    pub = next(r for r in rows if r.variant == "mobilenet_v1-a0.50-r160")
    assert pub.top1 == 59.1 and pub.macs > 0 and pub.gmacs_per_s == pytest.approx(pub.macs / pub.median_ms / 1e6)
    tiny = next(r for r in rows if r.variant == "mobilenet_v1-a0.25-r32")
    assert tiny.top1 is None  # custom variant: no published accuracy


def test_compare_flags_a_real_slowdown(tmp_path, record):
    from toolkit.cli import main

    names = ["mobilenet_v1-a0.25-r128", "mobilenet_v1-a0.50-r160"]
    # A slowdown just past the samples' own CI spread (a loaded machine widens it): scaled samples scale the CI,
    # so this must read as regressed, its inverse as improved, and 100% slack must hide it.
    spread = record["stats"]["ci95_high_ms"] / record["stats"]["ci95_low_ms"]
    factor = max(1.5, 1.2 * spread)
    assert factor < 2.0, f"CI too wide to test the gate: {record['stats']}"
    base = [_as(record, n) for n in names]
    slower = [_as(record, names[0], factor), _as(record, names[1])]
    result = {c.candidate.variant: c.status for c in compare_records(base, slower)}
    assert result == {names[0]: "regressed", names[1]: "same"}
    faster = {c.status for c in compare_records(base, [_as(record, n, 1 / factor) for n in names])}
    assert faster == {"improved"}
    a, b = write_json_export(base, tmp_path / "a.json"), write_json_export(slower, tmp_path / "b.json")
    assert main(["compare", str(a), str(b)]) == 1
    assert main(["compare", str(a), str(a)]) == 0
    assert main(["compare", str(a), str(b), "--tolerance", "1.0"]) == 0  # 100% slack hides the slowdown


def test_all_formats_and_int8_plot(tmp_path, record):
    names = ["mobilenet_v1-a0.25-r128", "mobilenet_v1-a0.50-r160", "mobilenet_v1-a1.00-r224"]
    recs = [_as(record, n, f) for n, f in zip(names, (1, 3, 9), strict=True)]
    recs += [_as(record, n, f / 2, "int8") for n, f in zip(names, (1, 3, 9), strict=True)]
    paths = write_report(recs, tmp_path, ("html", "md", "csv", "json"))
    names_written = {p.name for p in paths}
    assert {"report.html", "report.md", "results.csv", "results.json", "int8_speedup.png"} <= names_written
    assert {"accuracy_vs_latency.png", "latency_heatmap.png", "latency_vs_macs.png"} <= names_written
    md = (tmp_path / "report.md").read_text()
    assert "| mobilenet_v1-a1.00-r224 |" in md and "published ImageNet" in md and "int8" in md


def _rounds_record(rec: dict, variant: str, median: float, drift: float = 0.01, scale: float = 1.0) -> dict:
    """A host record of ``variant`` measured in 5 rounds of 20 runs whose medians drift by ``drift`` around
    ``median`` (× ``scale``), with its statistics and between-round interval computed as the host does."""
    from toolkit.profile.intervals import round_interval

    r = _as(rec, variant)
    steps = (0.0, 1.0, -1.0, 0.5, -0.5)
    rounds = [[median * scale * (1 + drift * s) * (1 + 0.002 * (i - 10)) for i in range(20)] for s in steps]
    r["latency_ms"] = [x for rd in rounds for x in rd]
    r["stats"] = summarize(r["latency_ms"]).to_dict()
    r["config"]["threads"], r["config"]["threads_chosen_by"] = 1, "user"
    r["rounds"] = round_interval(rounds, r["stats"]["median_ms"]).to_dict()
    return r


GRID = {"mobilenet_v1-a0.25-r128": 0.4, "mobilenet_v1-a0.50-r160": 1.4, "mobilenet_v1-a0.75-r192": 3.1,
        "mobilenet_v1-a1.00-r224": 7.0}  # fmt: skip


def test_compare_cli_no_change_a_slowdown_named_and_nothing_in_common(tmp_path, record, capsys):
    from toolkit.cli import main

    base = [_rounds_record(record, v, m) for v, m in GRID.items()]
    again = [_rounds_record(record, v, m, scale=1.01) for v, m in GRID.items()]  # a rerun 1% off: noise
    slower = [_rounds_record(record, v, m, scale=1.10 if "a0.50" in v else 1.0) for v, m in GRID.items()]
    a, b, c = (write_json_export(x, tmp_path / f"{n}.json") for n, x in (("a", base), ("b", again), ("c", slower)))
    assert main(["compare", str(a), str(b)]) == 0
    assert "no change: 4 variant(s) compared" in capsys.readouterr().out
    assert main(["compare", str(a), str(c)]) == 1
    err = capsys.readouterr().err
    assert "1 variant(s) slower: host onnxruntime fp32 t1 mobilenet_v1-a0.50-r160 (+10.0%)" in err
    assert main(["compare", str(a), str(c), "--tolerance", "0.15"]) == 0  # smaller than what counts
    uniform = [_rounds_record(record, v, m, scale=1.08) for v, m in GRID.items()]
    f = write_json_export(uniform, tmp_path / "f.json")
    capsys.readouterr()
    assert main(["compare", str(a), str(f)]) == 1  # every variant 8% slower: a regression, and said to be common
    assert "100% of the 4 variants moved the same way (median ratio 1.080)" in capsys.readouterr().err
    other = [{**r, "runtime": {**r["runtime"], "name": "executorch"}} for r in base]
    d = write_json_export(other, tmp_path / "d.json")
    capsys.readouterr()
    assert main(["compare", str(a), str(d)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing in common" in err
    busy = [{**r, "flags": ["busy"]} for r in again]
    e = write_json_export(busy, tmp_path / "e.json")
    assert main(["compare", str(a), str(e)]) == 0
    assert "leans on a flagged record" in capsys.readouterr().err


def test_a_drifting_run_widens_what_counts_as_a_change():
    from toolkit.profile.intervals import ratio_test, round_interval, se_log

    def rec(rounds: list[list[float]]) -> dict:
        base = {"stats": {}, "rounds": None}
        samples = [x for rd in rounds for x in rd]
        base["stats"] = summarize(samples).to_dict()
        base["rounds"] = round_interval(rounds, base["stats"]["median_ms"]).to_dict()
        return base

    steady = rec([[1.0 + 0.001 * i for i in range(20)]] * 5)
    drifting = rec([[m + 0.001 * i for i in range(20)] for m in (1.0, 1.2, 0.9, 1.15, 0.95)])
    slow = rec([[1.08 * (1.0 + 0.001 * i) for i in range(20)]] * 5)
    side = lambda r: (r["stats"]["median_ms"], *se_log(r))  # noqa: E731
    # an 8% shift is certain against a steady run, not against one whose rounds drift by ±15%
    assert ratio_test(side(steady), side(slow)).p_value < 1e-6
    assert ratio_test(side(drifting), side(slow)).p_value > 0.05
    assert math.isclose(se_log(drifting)[0], drifting["rounds"]["se_log"]) and se_log(drifting)[1] == 4


def test_report_states_a_monotonicity_break_and_links_its_profile(tmp_path, record):
    from toolkit.profile.ops import OpProfile, OpsProfile

    medians = {**GRID, "mobilenet_v1-a0.75-r224": 2.0}  # 0.75-224 does more work than 0.75-192 but reads faster
    recs = [_rounds_record(record, v, m) for v, m in medians.items()]
    recs[0]["flags"] = ["busy"]
    fast = next(r for r in recs if r["artifact"]["variant"] == "mobilenet_v1-a0.75-r224")
    prof = OpsProfile(fast["artifact"]["file"], "onnxruntime", "1", 1, 10, 1, 2000.0, 2000.0,
                      [OpProfile("conv", "Conv", 28, 1900.0, 0.95)], variant="mobilenet_v1-a0.75-r224",
                      sha256=fast["artifact"]["sha256"])  # fmt: skip
    write_report(recs, tmp_path, ("html", "md"), op_profiles=[prof])
    md, page = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    findings = [ln for ln in md.splitlines() if ln.startswith("- ⚠ ")]
    assert len(findings) == 1 and "a0.75-r224 measured faster than the smaller a0.75-r192" in findings[0]
    anchor = "ops-mobilenet_v1-a0.75-r224-onnx-fp32.onnx"
    assert f"(#{anchor})" in findings[0] and f'<a id="{anchor}"></a>' in md
    assert "`toolkit profile mobilenet_v1-a0.75-r192-onnx-fp32.onnx --ops --json ops.json" in findings[0]
    assert f"href='#{anchor}'" in page and f"<h3 id='{anchor}'>" in page
    assert page.count("<tr class='anomaly'>") == 2 and page.count("<tr class='flagged'>") == 1
    assert "| mobilenet_v1-a0.25-r128 ⚑busy |" in md and "Flagged rows, greyed: 1 ⚑busy" in md
