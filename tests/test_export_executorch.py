"""ExecuTorch export: every op inside the XNNPACK delegate (checked in the .pte itself) and parity."""

from __future__ import annotations

import pytest

from toolkit._deps import HAS_EXECUTORCH

pytestmark = pytest.mark.skipif(not HAS_EXECUTORCH, reason="pip install 'mobilenet-toolkit[executorch]'")


def _program_ops(path):
    """Operators and delegates in the serialized execution plan: a portable-kernel fallback shows up here."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    pte = deserialize_pte_binary(path.read_bytes())
    plan = getattr(pte, "program", pte).execution_plan[0]
    return [op.name for op in plan.operators], [d.id for d in plan.delegates]


def _check(res, alpha, resolution, precision="fp32"):
    from tests._export_helpers import independent_parity

    assert res.path.name == f"mobilenet_v1-a{alpha:.2f}-r{resolution}-executorch-{precision}.pte"
    operators, delegates = _program_ops(res.path)
    backend = res.manifest["backend"]
    casts = backend["boundary_casts"]  # fp16 with float32 I/O: the input and output casts, nothing else
    assert casts == ({"input": "float32->float16", "output": "float16->float32"} if precision == "fp16" else {})
    assert operators == (["dim_order_ops::_to_dim_order_copy"] if casts else []) and delegates == ["XnnpackBackend"]
    assert backend["delegated_ops"] + len(casts) == backend["total_ops"] > 0 and backend["non_delegated"] == {}
    convs = sum(n for op, n in backend["delegated_by_type"].items() if "convolution" in op)
    assert convs == 27  # 1 + 13 depthwise + 13 pointwise, all inside the delegate
    assert res.manifest["delegate"] == "xnnpack"
    report, ref = independent_parity(res, alpha, resolution, precision)
    assert len(set(ref.argmax(1))) > 1  # not collapsed
    assert report.passed, report.failures
    return report


def test_tiny_fp32_fully_delegated_with_parity():
    from tests._export_helpers import exported

    res = exported("executorch", 0.25, 64)
    report = _check(res, 0.25, 64)
    assert report.top1_agreement == 1.0 and report.max_rel_abs_err < 1e-4
    assert res.manifest["parity"]["runtime"] == "executorch" and res.manifest["parity"]["passed"]


def test_verify_artifact_rebuilds_the_model_from_the_manifest():
    from tests._export_helpers import exported
    from toolkit.verify import verify_artifact

    report = verify_artifact(exported("executorch", 0.25, 64).path, threads=2)
    assert report.passed and report.n_images == 6 and report.runtime == "executorch"


def test_unknown_precision_lists_the_valid_ones(tmp_path):
    from tests._export_helpers import model
    from toolkit.errors import UsageError
    from toolkit.export import ExportConfig, export

    with pytest.raises(UsageError, match="choose one of: fp32, fp16, int8"):
        export(model(0.25, 64), ExportConfig(target="executorch", precision="int4", output_dir=tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_full_size_fp32():
    from tests._export_helpers import exported

    _check(exported("executorch", 1.0, 224), 1.0, 224)


@pytest.mark.slow
def test_full_size_fp16_has_float_io_and_every_other_op_in_xnnpack():
    from tests._export_helpers import exported

    res = exported("executorch", 1.0, 224, "fp16")
    assert res.manifest["input"]["dtype"] == res.manifest["output"]["dtype"] == "float32"
    report = _check(res, 1.0, 224, "fp16")
    assert report.cosine >= 0.999
