"""Report rows, the Pareto frontier, renderers and the compare regression gate on real measurements."""

from __future__ import annotations

import copy

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
    """The same real samples relabelled (and scaled): a second variant or a slower candidate build."""
    r = copy.deepcopy(rec)
    r["artifact"]["variant"], r["artifact"]["precision"] = variant, precision
    r["latency_ms"] = [x * factor for x in r["latency_ms"]]
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
