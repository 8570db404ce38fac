"""ONNX export: checker-clean graphs at opset >= 17, pads folded into Conv, parity on ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit._deps import HAS_ONNX, HAS_ONNXRUNTIME

pytestmark = pytest.mark.skipif(
    not (HAS_ONNX and HAS_ONNXRUNTIME), reason="onnx/onnxruntime not installed (pip install 'mobilenet-toolkit[onnx]')"
)


def _check_graph(path):
    import onnx

    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Conv") == 27 and "Pad" not in ops  # 1 + 13 dw + 13 pw, TF pads folded into Conv
    assert not proto.graph.initializer or all(not t.external_data for t in proto.graph.initializer)
    return proto


@pytest.mark.parametrize(
    ("alpha", "resolution"),
    [(0.25, 64), pytest.param(1.0, 224, marks=pytest.mark.slow)],  # full size: -m slow
)
def test_export_runs_on_onnxruntime_with_parity(alpha, resolution):
    from tests._export_helpers import exported, independent_parity

    res = exported("onnx", alpha, resolution)
    assert res.path.name == f"mobilenet_v1-a{alpha:.2f}-r{resolution}-onnx-fp32.onnx"
    _check_graph(res.path)
    p = res.manifest["parity"]
    assert p["passed"] and p["top1_agreement"] == 1.0 and p["max_rel_abs_err"] <= 1e-3
    # Independently of the pipeline: run the file in ORT with 1 thread and compare with torch.
    report, ref = independent_parity(res, alpha, resolution)
    assert report.passed, report.failures
    assert len(set(ref.argmax(1))) > 1  # the photos disagree: the model is not collapsed


def test_dynamic_batch_runs_a_whole_batch_at_once():
    from tests._export_helpers import exported, model
    from toolkit.data import sample_images
    from toolkit.runtimes import open_runner
    from toolkit.verify import compare, reference_logits

    res = exported("onnx", 0.25, 64, dynamic=True)
    assert res.manifest["input"]["shape"][0] == "N" and res.manifest["backend"]["dynamic_batch"] is True
    _check_graph(res.path)
    x = sample_images(64)
    runner = open_runner(res.path)
    try:
        out = runner.run(x)  # all 6 photos in one call
    finally:
        runner.close()
    assert out.shape == (6, 1000)
    assert compare(reference_logits(model(0.25, 64), x), out, precision="fp32").passed
    assert np.isfinite(out).all()


def test_opset_below_17_is_refused(tmp_path):
    from tests._export_helpers import model
    from toolkit.errors import UsageError
    from toolkit.export import ExportConfig, export

    with pytest.raises(UsageError, match=">= 17"):
        export(model(0.25, 64), ExportConfig(target="onnx", output_dir=tmp_path, options={"opset": 13}), progress=False)
    assert list(tmp_path.iterdir()) == []
