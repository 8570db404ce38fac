"""The latency model: recovers a known cost law, its interval covers held-out variants, and the predict
API and CLI. Speed and error on real data are benchmarks (benchmarks/bench_latency_model.py), not tests."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.cost import layer_costs
from toolkit.errors import ToolkitError, UsageError
from toolkit.latency_model import fit, loo, variant_features
from toolkit.latency_transfer import predict
from toolkit.variants import InvalidVariantError, Variant, published_variants

from .test_select import rec


def law(v: Variant) -> float:
    """A synthetic device: 40 µs overhead, 150 GMAC/s pointwise, 15 GMAC/s depthwise, 25 GB/s activations."""
    f = variant_features(v)
    return 0.04 + f["pw_macs"] / 150e6 + f["dw_macs"] / 15e6 + f["act_bytes"] / 25e6


def synthetic(variants, noise: float, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [rec(v.name, law(v) * math.exp(rng.normal(0, noise))) for v in variants]


HELD_OUT = [Variant(a, r) for a, r in itertools.product((0.3, 0.4, 0.6, 0.7, 0.9), (160, 192))]


def test_features_sum_the_per_layer_costs() -> None:
    v = Variant(0.5, 160)
    f = variant_features(v)
    layers = [x for x in layer_costs(0.5, 160) if x.type != "Avg Pool"]
    assert f["macs"] == sum(x.macs for x in layers) == f["pw_macs"] + f["dw_macs"] + f["fc_macs"]
    assert f["layers"] == 28 and f["weight_bytes"] == 4 * sum(x.weights for x in layers)
    assert variant_features(v, "int8")["act_bytes"] * 4 == f["act_bytes"]


def test_recovers_a_known_cost_law_exactly_without_noise() -> None:
    model = fit(synthetic(published_variants(), 0.0))
    for v in [*published_variants(), *HELD_OUT]:
        assert model.point(v) == pytest.approx(law(v), rel=1e-3)
    assert max(abs(p - y) / y for _v, y, p in loo(synthetic(published_variants(), 0.0))) < 1e-3


def test_interval_covers_held_out_points_under_noise() -> None:
    covered = total = 0
    for seed in range(1, 6):  # pooled over fits: one 16-point fit's σ estimate is itself ±18% noisy
        model = fit(synthetic(published_variants(), 0.04, seed=seed))
        truth = synthetic(HELD_OUT, 0.04, seed=seed + 10)  # fresh noisy "measurements" of unseen variants
        for v, r in zip(HELD_OUT, truth, strict=True):
            p = model.predict(v)
            assert p.predicted and not p.extrapolated and p.low_ms < p.median_ms < p.high_ms
            assert p.median_ms == pytest.approx(law(v), rel=0.08)
            covered += p.low_ms <= r["stats"]["median_ms"] <= p.high_ms
            total += 1
    assert covered / total >= 0.88  # a ~95% interval


def test_extrapolation_widens_the_interval_and_few_points_fall_back() -> None:
    model = fit(synthetic(published_variants(), 0.03, seed=3))
    inside, outside = model.predict(Variant(0.5, 192)), model.predict(Variant(1.0, 320))
    assert outside.extrapolated and not inside.extrapolated
    assert outside.high_ms / outside.median_ms > inside.high_ms / inside.median_ms
    few = fit(synthetic(published_variants()[:2], 0.0))
    assert few.features == ("macs",) and few.predict(Variant(0.5, 160)).high_ms > 0


def test_predict_api_and_bad_input() -> None:
    recs = synthetic(published_variants(), 0.02)
    p = predict(0.6, 192, "vm", records=recs)
    assert p.key == ("vm", "onnxruntime", "fp32", "default") and p.low_ms < law(Variant(0.6, 192)) < p.high_ms
    assert p.method == "fit"
    with pytest.raises(InvalidVariantError, match="multiple of 32"):
        predict(0.6, 176, "vm", records=recs)
    with pytest.raises(UsageError, match="measured ones: vm"):
        predict(0.6, 192, "pixel", records=recs)
    with pytest.raises(ToolkitError, match="toolkit sweep"):
        predict(0.6, 192, "vm", records=[])


def test_cli_predict_latency(tmp_path, capsys) -> None:
    import json

    path = tmp_path / "r.json"
    path.write_text(json.dumps(synthetic(published_variants(), 0.02)))
    args = ["--device", "vm", "--records", str(path)]
    assert main(["predict-latency", "--alpha", "0.6", "--resolution", "192", *args]) == 0
    assert "mobilenet_v1-a0.60-r192 on vm (onnxruntime fp32): predicted median" in capsys.readouterr().out
    assert main(["predict-latency", "--alpha", "0.6", "--resolution", "200", *args]) == 2
    assert "multiple of 32" in capsys.readouterr().err
    assert main(["predict-latency", "-a", "1.5", "-r", "192", *args]) == 2
    assert "alpha must be in (0, 1]" in capsys.readouterr().err
