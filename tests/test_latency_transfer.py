"""Few-shot transfer: recovers a known device's scale and overhead, picks its prior and its K variants as
documented, refuses what it cannot do in one line, and `toolkit sweep --sample` reports measured and
predicted variants apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests._export_helpers import exported
from toolkit.errors import ToolkitError, UsageError
from toolkit.latency_model import LatencyModel, variant_features
from toolkit.latency_transfer import TransferModel, complete_grid, fit_models, fit_transfer
from toolkit.profile.sweep import SweepConfig, plan
from toolkit.results import ResultsDB
from toolkit.sampling import spread_sample
from toolkit.schemas import result_schema_problem
from toolkit.select import select
from toolkit.variants import Variant, published_variants

from .test_select import rec

GRID = published_variants()
CUSTOM = [Variant(0.35, 96), Variant(0.6, 192), Variant(0.9, 256)]


def work(v: Variant) -> float:
    """The synthetic devices' shared work law: 150 GMAC/s pointwise, 15 GMAC/s depthwise, 25 GB/s activations."""
    f = variant_features(v)
    return f["pw_macs"] / 150e6 + f["dw_macs"] / 15e6 + f["act_bytes"] / 25e6


def device(name: str, overhead: float, speed: float, variants=GRID, runtime: str = "tflite", **kw) -> list[dict]:
    """A device whose latency is exactly overhead + work / speed."""
    return [rec(v.name, overhead + work(v) / speed, device=name, runtime=runtime, **kw) for v in variants]


PRIOR = device("phone-a", 0.05, 1.0, delegate="cpu") + device("phone-b", 0.10, 2.0, delegate="cpu")


@pytest.mark.parametrize("k", [2, 3, 4])
def test_transfer_recovers_a_known_device_scale_and_overhead(k: int) -> None:
    truth = {v.name: 0.4 + work(v) / 0.3 for v in [*GRID, *CUSTOM]}  # 0.4 ms overhead, 0.3× phone-a's speed
    shots = [r for r in device("phone-new", 0.4, 0.3, delegate="cpu") if r["artifact"]["variant"] in
             {v.name for v in spread_sample(GRID, k)}]  # fmt: skip
    model = fit_transfer(shots, PRIOR)
    assert isinstance(model, TransferModel) and model.key == ("phone-new", "tflite", "fp32", "cpu")
    assert model.overhead_ms == pytest.approx(0.4, rel=1e-6)
    for v in [*GRID, *CUSTOM]:
        assert model.point(v) == pytest.approx(truth[v.name], rel=1e-6)
    p = model.predict(Variant(0.6, 192))
    assert p.method == "transfer" and p.low_ms < truth[p.variant.name] < p.high_ms and not p.extrapolated
    assert model.log_sigma == pytest.approx(0.03)  # the priors predict each other exactly: σ at its floor


def test_one_shot_scales_the_priors_overhead_share() -> None:
    # per unit of normalised work (w / G), phone-a pays 0.05 / G ms overhead and phone-b 0.10 / (G / 2): a
    # device paying their mean share, 0.125 / G, is recovered from a single variant
    shots = device("phone-new", 0.125 * 0.4, 1 / 0.4, variants=[Variant(0.5, 160)], delegate="cpu")
    model = fit_transfer(shots, PRIOR)
    for v in GRID:
        assert model.point(v) == pytest.approx(0.125 * 0.4 + work(v) * 0.4, rel=1e-6)


def test_prior_comes_from_the_closest_configurations_of_other_devices() -> None:
    prior = [*PRIOR, *device("phone-c", 1.0, 3.0, delegate="gpu"), *device("host", 0.01, 9.0, runtime="onnxruntime")]
    gpu = fit_transfer(device("phone-new", 0.5, 1.0, variants=GRID[:2], delegate="gpu"), prior)
    assert gpu.shape.sources == (("phone-c", "tflite", "fp32", "gpu"),)
    # no other device has this runtime: every fp32 configuration lends its shape; the device's own others never
    own = device("phone-new", 0.5, 1.0, delegate="cpu")
    et = [dict(r, runtime={"name": "executorch", "version": "1", "delegate": "xnnpack"}) for r in own[:2]]
    assert {k[0] for k in fit_transfer(et, prior + own).shape.sources} == {"phone-a", "phone-b", "phone-c", "host"}


def test_fit_models_uses_the_transfer_below_ten_variants_and_the_own_fit_from_there() -> None:
    few = device("phone-new", 0.4, 0.3, variants=GRID[:9], delegate="cpu")
    assert isinstance(fit_models(few, PRIOR)[("phone-new", "tflite", "fp32", "cpu")], TransferModel)
    assert isinstance(fit_models(few)[("phone-new", "tflite", "fp32", "cpu")], LatencyModel)  # nothing to borrow
    ten = device("phone-new", 0.4, 0.3, variants=GRID[:10], delegate="cpu")
    assert isinstance(fit_models(ten, PRIOR)[("phone-new", "tflite", "fp32", "cpu")], LatencyModel)


def test_bad_input_is_one_clear_line() -> None:
    with pytest.raises(ToolkitError, match="needs at least 1 measured variant"):
        fit_transfer([], PRIOR)
    only_self = device("phone-new", 0.4, 0.3, delegate="cpu")
    with pytest.raises(ToolkitError, match="no other device has 6\\+ variants"):
        fit_transfer(only_self[:2], only_self)
    for k in (0, 17):
        with pytest.raises(UsageError, match=f"--sample must be between 1 and the grid size 16, got {k}"):
            spread_sample(GRID, k)
        with pytest.raises(UsageError, match="grid size 16"):
            SweepConfig(sample=k)


def test_spread_sample_picks_the_corners_of_the_cost_features() -> None:
    names = lambda k: [v.name.removeprefix("mobilenet_v1-") for v in spread_sample(GRID, k)]  # noqa: E731
    assert names(1) == ["a0.50-r160"]
    assert names(2) == ["a1.00-r224", "a0.25-r128"]
    assert names(3) == ["a1.00-r224", "a0.75-r128", "a0.25-r192"]
    assert names(4) == ["a1.00-r224", "a1.00-r128", "a0.25-r224", "a0.25-r128"]
    assert spread_sample(GRID, 16) == GRID
    cfg = SweepConfig(targets=("onnx", "executorch"), sample=3)
    assert [(c.variant.name[13:], c.target) for c in plan(cfg)] == [
        (v, t) for v in ("a1.00-r224", "a0.75-r128", "a0.25-r192") for t in ("onnx", "executorch")
    ]


def test_predicted_records_are_schema_records_never_stored(tmp_path) -> None:
    shots = [r for r in device("phone-new", 0.4, 0.3, delegate="cpu") if r["artifact"]["variant"] in
             {v.name for v in spread_sample(GRID, 3)}]  # fmt: skip
    predicted = complete_grid(shots, GRID, PRIOR)
    assert sorted(r["artifact"]["variant"] for r in predicted) == sorted(
        v.name for v in GRID if v.name not in {r["artifact"]["variant"] for r in shots}
    )
    for r in predicted:
        assert result_schema_problem(r) is None
        assert r["source"] == "predicted" and r["prediction"]["method"] == "transfer"
        assert r["prediction"]["low_ms"] < r["stats"]["median_ms"] < r["prediction"]["high_ms"]
        assert r["prediction"]["prior"] == ["phone-a tflite fp32 (cpu)", "phone-b tflite fp32 (cpu)"]
    with ResultsDB(tmp_path / "r.db") as db, pytest.raises(UsageError, match="predicted record is not a measurement"):
        db.insert(predicted[0])
    sel = select([*shots, *predicted], 1e6, include_predicted=False)  # a saved prediction stays a prediction
    assert {c.name for c in sel.candidates if c.predicted} == {r["artifact"]["variant"] for r in predicted}


def test_cli_sweep_sample_measures_k_and_reports_the_rest_apart(tmp_path) -> None:
    """End to end on this host: 2 of 3 tiny variants measured, the third predicted from the published phones."""
    for r in (32, 96):  # the two the spread sample picks; built through the shared export cache
        art_dir = exported("onnx", 0.25, r).path.parent
    db = tmp_path / "r.db"
    cmd = [sys.executable, "-m", "toolkit", "sweep", "--alphas", "0.25", "--resolutions", "32,64,96", "--targets",
           "onnx", "--sample", "2", "--iterations", "10", "--warmup", "1", "--threads", "1", "--output-dir",
           str(art_dir), "--db", str(db), "--report-dir", str(tmp_path / "reports")]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}  # wide tables: whole variant names
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    measured, predicted = done.stdout.split("predicted by transfer (not measured)")
    assert "mobilenet_v1-a0.25-r32" in measured and "mobilenet_v1-a0.25-r96" in measured
    assert "mobilenet_v1-a0.25-r64" in predicted and "mobilenet_v1-a0.25-r64" not in measured
    assert "transfer prior: pixel2 tflite fp32 (cpu)" in predicted
    with ResultsDB(db) as store:
        assert sorted(r["artifact"]["variant"] for r in store.records()) == [
            "mobilenet_v1-a0.25-r32", "mobilenet_v1-a0.25-r96"]  # fmt: skip
    (out,) = (tmp_path / "reports").glob("predicted-*.json")
    recs = json.loads(out.read_text())["records"]
    assert [r["artifact"]["variant"] for r in recs] == ["mobilenet_v1-a0.25-r64"] and recs[0]["source"] == "predicted"
    bad = subprocess.run([*cmd[:4], "--sample", "4", "--alphas", "0.25", "--resolutions", "32,64,96"],
                         capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert bad.returncode == 2 and "--sample must be between 1 and the grid size 3, got 4" in bad.stderr
