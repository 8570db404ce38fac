"""TFLite export: NHWC (default) and NCHW artifacts run on the LiteRT interpreter at the fp32 parity bar.

One tiny variant (α 0.25, ρ 64) in both layouts keeps the default set fast (litert conversion costs
~15-40 s each); the full-size 1.0-224 export is ``slow``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from toolkit._deps import HAS_LITERT_TORCH, HAS_TFLITE_INTERPRETER
from toolkit.errors import MissingDependencyError, UsageError

pytestmark = pytest.mark.skipif(
    not (HAS_LITERT_TORCH and HAS_TFLITE_INTERPRETER),
    reason="litert-torch / ai-edge-litert not installed (pip install 'mobilenet-toolkit[tflite]')",
)

BACKBONE = {"CONV_2D": 14, "DEPTHWISE_CONV_2D": 13, "FULLY_CONNECTED": 1}


@functools.cache
def _export(alpha: float, resolution: int, layout: str):
    """Through the shared pipeline (which verifies parity itself and writes the manifest + labels)."""
    from tests._export_helpers import model, shared_dir
    from toolkit.export import ExportConfig, export

    cfg = ExportConfig(target="tflite", layout=layout, output_dir=shared_dir() / f"tflite-{layout}")
    return export(model(alpha, resolution), cfg, progress=False)


def _independent_parity(path, layout: str, alpha: float, resolution: int):
    """Run the written file in a fresh interpreter (1 thread) and compare with PyTorch on real photos."""
    from tests._export_helpers import model
    from toolkit.data import sample_images
    from toolkit.runtimes import open_runner, run_batch
    from toolkit.verify import compare, reference_logits

    x = sample_images(resolution)
    ref = reference_logits(model(alpha, resolution), x)
    assert np.ptp(ref.argmax(1)) > 0 or np.std(ref, axis=0).max() > 0.1  # not a collapsed model
    runner = open_runner(path, threads=1)
    try:
        report = compare(ref, run_batch(runner, x, layout), precision="fp32")
    finally:
        runner.close()
    assert report.passed, report.failures
    assert report.top1_agreement == 1.0 and report.max_rel_abs_err <= 1e-3
    return report


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_tiny_export_parity_and_manifest(layout):
    res = _export(0.25, 64, layout)
    m = res.manifest
    assert res.path.name == f"mobilenet_v1-a0.25-r64-tflite-fp32{'-nchw' if layout == 'nchw' else ''}.tflite"
    assert m["precision"] == "fp32" and m["input"]["layout"] == layout
    assert m["input"]["shape"] == ([1, 64, 64, 3] if layout == "nhwc" else [1, 3, 64, 64])
    assert m["parity"]["passed"] and m["parity"]["top1_agreement"] == 1.0
    ops = m["backend"]["ops"]
    assert {k: ops.get(k) for k in BACKBONE} == BACKBONE
    # NHWC: the wrapper's permute folds into the converter's own NHWC graph; NCHW keeps one input transpose
    assert m["backend"]["transpose_ops"] == ops.get("TRANSPOSE", 0) == (0 if layout == "nhwc" else 1)
    labels = res.path.with_name(m["labels_file"]).read_text().splitlines()
    assert len(labels) == 1000 and labels[0] == "tench"
    _independent_parity(res.path, layout, 0.25, 64)


def test_interpreter_reads_the_declared_input_shape():
    from toolkit.runtimes.tflite import TFLiteRunner, op_counts

    res = _export(0.25, 64, "nhwc")
    runner = TFLiteRunner(res.path, threads=1)
    assert runner.input_shape == (1, 64, 64, 3) and runner.version.startswith(("ai-edge-litert", "tflite"))
    with pytest.raises(UsageError, match=r"expects input shape \[1, 64, 64, 3\]"):
        runner.run(np.zeros((1, 3, 64, 64), np.float32))  # NCHW into an NHWC model: refused, not misread
    runner.close()
    assert op_counts(res.path) == res.manifest["backend"]["ops"]


def _fp16_weight_model(model):
    """PyTorch twin of an fp16-weight artifact: BN-folded conv and FC weights rounded to float16."""
    import copy

    import torch

    twin = copy.deepcopy(model)
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(getattr(m, "conv", None), torch.nn.Conv2d) and hasattr(m, "bn"):
                s = (m.bn.weight / torch.sqrt(m.bn.running_var + m.bn.eps)).view(-1, 1, 1, 1)
                m.conv.weight.copy_((m.conv.weight * s).half().float() / s)
        twin.classifier.weight.copy_(twin.classifier.weight.half().float())
    return twin


def test_fp16_weights_halve_the_file_and_compute_fp16_weight_math(tmp_path):
    """fp16 = float16 weights + DEQUANTIZE; cast the fp32 artifact's bytes (no second conversion).

    On this random α=0.25 model, merely rounding the weights to fp16 moves the logits' cosine to ~0.997
    (below the 0.999 fp16 bar) in PyTorch too, so the artifact is held to the fp32 bar against the
    PyTorch model with the same fp16 weights, and must keep every top-1 of the fp32 model.
    """
    from tests._export_helpers import model
    from toolkit.data import sample_images
    from toolkit.export.tflite import _fp16_weights
    from toolkit.runtimes import open_runner, run_batch
    from toolkit.runtimes.tflite import op_counts
    from toolkit.verify import compare, reference_logits

    src = _export(0.25, 64, "nhwc").path
    out = tmp_path / "half.tflite"
    out.write_bytes(_fp16_weights(src.read_bytes()))
    ops = op_counts(out)
    assert ops["DEQUANTIZE"] == 28 and {k: ops[k] for k in BACKBONE} == BACKBONE  # 27 conv + FC weights
    assert out.stat().st_size < 0.6 * src.stat().st_size
    x = sample_images(64)
    runner = open_runner(out, threads=1)
    try:
        got = run_batch(runner, x, "nhwc")
    finally:
        runner.close()
    twin = compare(reference_logits(_fp16_weight_model(model(0.25, 64)), x), got, precision="fp32")
    assert twin.passed, twin.failures
    fp32 = compare(reference_logits(model(0.25, 64), x), got)
    assert fp32.top1_agreement == 1.0 and fp32.cosine > 0.99


def test_unsupported_precision_lists_the_supported_ones():
    from toolkit.export.pipeline import resolve_precision
    from toolkit.export.tflite import EXPORTER

    with pytest.raises(UsageError) as err:
        resolve_precision(EXPORTER, "int4")
    assert str(err.value) == "tflite does not support precision 'int4'; choose one of: fp32, fp16, int8"


def test_missing_interpreter_names_the_extra(monkeypatch):
    from toolkit.runtimes import tflite

    monkeypatch.setattr(tflite, "_INTERPRETERS", (("no_such_litert.interpreter", "x"),))
    with pytest.raises(MissingDependencyError, match=r"\[tflite\]"):
        tflite.interpreter_module()


def test_unreadable_file_is_one_line_usage_error(tmp_path):
    from toolkit.runtimes.tflite import TFLiteRunner

    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer" * 4)
    with pytest.raises(UsageError, match=r"cannot load bad\.tflite") as err:
        TFLiteRunner(bad)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_full_size_nhwc_export():
    res = _export(1.0, 224, "nhwc")
    assert res.manifest["backend"]["transpose_ops"] == 0
    assert res.manifest["backend"]["pad_ops"] <= 5
    _independent_parity(res.path, "nhwc", 1.0, 224)
