"""End to end: quantize a model trained on real digits for each target, run it on the host runtime.

Bars (issue 6): static int8 keeps top-1 within 1 point of fp32 on held-out digits and agrees with fp32
on ≥ 97% of them. Size: the fp32 reference is the model's BatchNorm-folded weights at 4 bytes each, the
least any fp32 artifact can weigh. The issue's 30% size bar is met on real variants (docs/quantization.md:
26.0% at 1.0-224, 28.3% at 0.5-160); this 0.2M-parameter model cannot meet it, because per output channel
int8 adds a weight scale and an int32 bias (6% of the floor here) and each format has a fixed graph
overhead. Measured here: ExecuTorch 33.7%, TFLite 36.1%, ONNX 43.4% (52 KB of it the dynamo exporter's
per-node debug metadata), so the check below is "int8, not fp32": ≤ 45%.
The model (tests/test_quant_common.py) reaches 97.8% held-out top-1, so agreement measures quantization and
not near-ties. Each static path takes 25-90 s here (ExecuTorch lowering, litert-torch conversion), hence
``slow``; tests/test_quant_accuracy.py keeps one bar (ONNX) in the default run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quantization
from tests.test_quant_common import artifact_logits, digits_model, digits_split, one_torch_thread
from toolkit._deps import HAS_AI_EDGE_LITERT, HAS_COREMLTOOLS, HAS_EXECUTORCH, HAS_LITERT_TORCH, HAS_ONNXRUNTIME
from toolkit.errors import UsageError
from toolkit.export import QuantizedArtifact, quantize

CAL_SAMPLES = 64  # of the 1257 training digits, evenly spread (histogram observers cost ~ms per image)
TINY_MODEL_SIZE_FRACTION = 0.45  # see the module docstring: fixed overheads on a 0.2M-parameter model


@pytest.fixture(scope="module")
def digits():
    x_train, _, x_test, y_test = digits_split()
    with one_torch_thread():
        yield digits_model(), x_train, x_test, y_test


def _fp32_weight_bytes(model: torch.nn.Module) -> int:
    """4 bytes per conv/linear weight and per folded bias: the floor of an fp32 artifact's size."""
    n = 0
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            n += m.weight.numel() + m.weight.shape[0]
    return 4 * n


def _check_bars(acc: quantization.AccuracyReport) -> None:
    assert acc is not None and acc.n_labeled == 540
    assert acc.fp32_top1 >= 0.95, "the digits model did not train"
    assert acc.top1_agreement >= 0.97, acc.summary()
    assert acc.top1_drop <= 0.01 + 1e-9, acc.summary()
    assert acc.meets_bars()


def _check_int8(art: QuantizedArtifact, model: torch.nn.Module) -> None:
    _check_bars(art.accuracy)
    assert art.size_bytes <= TINY_MODEL_SIZE_FRACTION * _fp32_weight_bytes(model), (
        art.size_bytes,
        _fp32_weight_bytes(model),
    )
    m = art.quantization
    assert m["scheme"] == "int8" and m["calibration"]["count"] == CAL_SAMPLES
    assert len(m["calibration"]["sha256"]) == 64


@pytest.mark.slow
@pytest.mark.skipif(not HAS_EXECUTORCH, reason="executorch not installed")
@pytest.mark.parametrize("fold_padding", [True, False], ids=["pad-free", "with-pads"])
def test_executorch_static_int8_meets_the_bars(digits, tmp_path, fold_padding):
    model, x_train, x_test, y_test = digits
    art = quantize(
        model, "executorch", "int8", x_train, tmp_path,
        calibration_samples=CAL_SAMPLES, eval_data=(x_test, y_test), fold_padding=fold_padding,
    )  # fmt: skip
    _check_int8(art, model)  # the export fails if any op (conv, pad, (de)quantize) stayed outside XNNPACK
    assert art.quantization["pad_folding"] is fold_padding
    assert not list(tmp_path.glob(".*tmp*")), "temp artifact left behind"


@pytest.mark.slow
@pytest.mark.skipif(not (HAS_LITERT_TORCH and HAS_AI_EDGE_LITERT), reason="litert-torch / ai-edge-litert missing")
def test_tflite_full_integer_int8_meets_the_bars_with_float_and_int8_io(digits, tmp_path):
    from toolkit.runtimes.tflite import TFLiteRunner, op_counts

    model, x_train, x_test, y_test = digits
    arts = {
        io: quantize(
            model, "tflite", "int8", x_train, tmp_path / io,
            calibration_samples=CAL_SAMPLES, eval_data=(x_test, y_test), layout="nhwc", io=io,
        )
        for io in ("float", "native")
    }  # fmt: skip
    for io, dtype in (("float", np.float32), ("native", np.int8)):
        _check_int8(arts[io], model)  # native: the runner quantizes the input and dequantizes the logits
        assert arts[io].manifest["input"]["dtype"] == np.dtype(dtype).name
        runner = TFLiteRunner(arts[io].path)
        assert runner.input_dtype == dtype and runner.output_spec.dtype == np.dtype(dtype).name
        runner.close()
    # The same integer graph either way: float I/O adds one QUANTIZE in front and one DEQUANTIZE behind.
    ops_int8, ops_float = op_counts(arts["native"].path), op_counts(arts["float"].path)
    assert ops_float == {**ops_int8, "QUANTIZE": ops_int8.get("QUANTIZE", 0) + 1,
                         "DEQUANTIZE": ops_int8.get("DEQUANTIZE", 0) + 1}  # fmt: skip
    int8_io, float_io = (artifact_logits(arts[io].path, x_test, "nhwc") for io in ("native", "float"))
    np.testing.assert_array_equal(float_io, int8_io)  # host-side quantization == the QUANTIZE op


@pytest.mark.slow
@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed")
def test_onnx_static_qdq_int8_meets_the_bars(digits, tmp_path):
    model, x_train, x_test, y_test = digits
    art = quantize(
        model, "onnx", "int8", x_train, tmp_path, calibration_samples=CAL_SAMPLES, eval_data=(x_test, y_test)
    )
    _check_int8(art, model)
    import onnx

    ops = {n.op_type for n in onnx.load(str(art.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops and "Pad" not in ops


@pytest.mark.slow
@pytest.mark.parametrize(("target", "scheme"), [("onnx", "int8-dynamic"), ("tflite", "int8-dynamic"),
                                                ("tflite", "fp16"), ("executorch", "int8-dynamic")])  # fmt: skip
def test_weight_only_and_dynamic_schemes_run_and_agree(digits, tmp_path, target, scheme):
    model, _, x_test, y_test = digits
    art = quantize(model, target, scheme, None, tmp_path, eval_data=(x_test, y_test))
    assert art.quantization["calibration"] is None  # these schemes never look at data
    _check_bars(art.accuracy)


@pytest.mark.skipif(not HAS_COREMLTOOLS, reason="coremltools not installed")
def test_unsupported_scheme_writes_nothing(digits, tmp_path):
    model = digits[0]
    with pytest.raises(UsageError, match="int8-weights, palettize-8"):
        quantize(model, "coreml", "int8-dynamic", None, tmp_path / "out")
    assert not list(tmp_path.iterdir())
