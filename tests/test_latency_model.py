"""The latency model: recovers a known cost law, its interval covers held-out variants, and it predicts
real ONNX Runtime measurements of variants it has not seen."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from toolkit._deps import HAS_ONNXRUNTIME
from toolkit.cli import main
from toolkit.cost import layer_costs
from toolkit.errors import ToolkitError, UsageError
from toolkit.latency_model import fit, loo, predict, variant_features
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
    assert p.key == ("vm", "onnxruntime", "fp32") and p.low_ms < law(Variant(0.6, 192)) < p.high_ms
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
    assert main(["predict-latency", "-a", "1.5", "-r", "192", *args]) == 2
    assert "alpha must be in (0, 1]" in capsys.readouterr().err


# ---------------------------------------------------------------- real measurements (ONNX Runtime)


def _onnx_mobilenet(v: Variant) -> bytes:
    """MobileNet V1 at (α, ρ) as the ONNX exporter leaves it (BN folded, pads in Conv), He-init weights.

    Built directly with onnx.helper because torch.onnx.export takes ~10 s per variant on a shared CI core.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i, layer in enumerate(layer_costs(v.alpha, v.resolution)):
        c_in, c_out = layer.in_shape[2], layer.out_shape[2]
        if layer.type == "Avg Pool":
            nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
            nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
            x = "flat"
            continue
        if layer.type == "Fully Connected":
            w = rng.normal(0, (1 / c_in) ** 0.5, (c_out, c_in)).astype(np.float32)
            inits += [numpy_helper.from_array(w, "fc_w"), numpy_helper.from_array(np.zeros(c_out, np.float32), "fc_b")]
            nodes.append(helper.make_node("Gemm", [x, "fc_w", "fc_b"], ["logits"], transB=1))
            continue
        dw, k = layer.type == "Conv DW 3x3", 1 if layer.type == "Conv 1x1" else 3
        fan_in = k * k * (1 if dw else c_in)
        w = rng.normal(0, (2 / fan_in) ** 0.5, (c_out, 1 if dw else c_in, k, k)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(c_out, np.float32), f"b{i}")]
        pads = [0, 0, 0, 0] if k == 1 else [0, 0, 1, 1] if layer.stride == 2 else [1, 1, 1, 1]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[k, k], pads=pads,
                                      strides=[layer.stride] * 2, group=c_in if dw else 1))  # fmt: skip
        nodes.append(helper.make_node("Clip", [f"c{i}", "zero", "six"], [f"a{i}"]))
        x = f"a{i}"
    inits += [numpy_helper.from_array(np.float32(0), "zero"), numpy_helper.from_array(np.float32(6), "six")]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, v.resolution, v.resolution])
    y_info = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])
    graph = helper.make_graph(nodes, "mobilenet_v1", [x_info], [y_info], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _measure_ort(variants: list[Variant], rounds: int = 5, per_round: int = 6) -> list[dict]:
    """Interleaved timed runs per variant, summarised as the profiler does (toolkit.profile.stats).

    One thread and interleaving: on a shared CI machine a 2-thread run waits for its preempted twin, and
    interleaving spreads the remaining load over all variants alike.
    """
    import onnxruntime as ort

    from toolkit.data import sample_images
    from toolkit.profile.stats import summarize

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sessions = [(v, ort.InferenceSession(_onnx_mobilenet(v), opts, providers=["CPUExecutionProvider"]),
                 sample_images(v.resolution)[:1]) for v in variants]  # fmt: skip
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    for _v, s, x in sessions:
        for _ in range(5):
            s.run(None, {"x": x})
    for _ in range(rounds):
        for v, s, x in sessions:
            for _ in range(per_round):
                t0 = time.perf_counter()
                s.run(None, {"x": x})
                samples[v.name].append((time.perf_counter() - t0) * 1e3)
    out = []
    for v in variants:
        r = rec(v.name, 1.0)
        r["latency_ms"], r["stats"] = samples[v.name], summarize(samples[v.name], resamples=200).to_dict()
        out.append(r)
    return out


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed")
def test_real_small_sweep_predicts_a_held_out_variant() -> None:
    train = [Variant(a, r) for a, r in itertools.product((0.25, 0.5, 0.75), (64, 128, 192))]
    held = Variant(0.5, 96)  # interpolation: inside the measured mult-add range
    recs = _measure_ort([*train, held])
    # the trimmed mean: robust to the preempted runs a loaded CI machine adds (docs/selecting.md)
    model = fit(recs[:-1], stat="trimmed_mean_ms")
    p, measured = model.predict(held), recs[-1]["stats"]["trimmed_mean_ms"]
    assert abs(p.median_ms - measured) / measured < 0.5, (p, measured)
    assert p.low_ms <= measured <= p.high_ms and not p.extrapolated
    # bigger variants cost more (no negative prices)
    assert model.point(Variant(0.75, 192)) > model.point(Variant(0.25, 64))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed")
def test_loo_mape_on_the_published_host_sweep_meets_the_bar() -> None:
    """Issue 10's bar: leave-one-variant-out MAPE ≤ 10% on the 16 published variants (ORT fp32, 2 threads).

    The bar is about the model, so it needs a host whose latency is stable: on a machine whose load is
    far above its core count, medians of small variants turn bimodal (preemption) and measure the
    scheduler instead; the test then skips and says so.
    """
    import os

    from toolkit.latency_model import measure_on_host

    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 1.5 * cores:
        pytest.skip(f"host overloaded (load {load:.1f} on {cores} cores): latency medians are not stable")
    recs = measure_on_host(published_variants(), "onnx", "fp32", threads=2, iterations=60, rounds=12)
    ape = [abs(p - y) / y for _v, y, p in loo(recs)]
    assert float(np.mean(ape)) <= 0.10, [(v.name, round(y, 3), round(p, 3)) for v, y, p in loo(recs)]
