"""Input layout: ExecuTorch takes the image channels-last by default, bit-identical to its NCHW twin, with no
Transpose or standalone pad left in its per-operator profile; a layout a target cannot take is one line.

The artifacts are the fake phone's tiny ones (α 0.25, ρ 32, 10 classes), cached in ``$TOOLKIT_CACHE``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit._deps import HAS_EXECUTORCH

needs_et = pytest.mark.skipif(not HAS_EXECUTORCH, reason="pip install 'mobilenet-toolkit[executorch]'")
PRECISIONS = ["fp32", "fp16", "int8"]


def _manifest(path) -> dict:
    return json.loads(path.with_name(path.name + ".manifest.json").read_text())


def _scores(path) -> np.ndarray:
    """The bundled photos through the host runner, fed in the artifact's own layout (as verification feeds it)."""
    from toolkit.data import sample_images
    from toolkit.runtimes import open_runner, run_batch

    runner = open_runner(path, threads=1)
    try:
        return run_batch(runner, sample_images(32), _manifest(path)["input"]["layout"])
    finally:
        runner.close()


def _op_types(path) -> set[str]:
    from toolkit.profile.ops import profile_ops

    return {o.op_type for o in profile_ops(path, threads=1, runs=10, warmup=2).ops}


@needs_et
@pytest.mark.parametrize("precision", PRECISIONS)
def test_channels_last_executorch_equals_its_nchw_twin_bit_for_bit(precision):
    from tests.fake_adb.artifacts import phone_artifact
    from toolkit.runtimes.executorch import input_dim_order

    nhwc, nchw = phone_artifact("executorch", precision), phone_artifact("executorch", precision, layout="nchw")
    assert nchw.name == nhwc.name.replace(f"-{precision}.pte", f"-{precision}-nchw.pte")  # twins sit side by side
    m, m_nchw = _manifest(nhwc), _manifest(nchw)
    assert (m["input"]["layout"], m["input"]["shape"]) == ("nhwc", [1, 32, 32, 3])
    assert (m_nchw["input"]["layout"], m_nchw["input"]["shape"]) == ("nchw", [1, 3, 32, 32])
    assert m["options"]["layout"] == "nhwc" and m["cache_key"] != m_nchw["cache_key"]
    assert input_dim_order(nhwc) == (0, 2, 3, 1) and input_dim_order(nchw) == (0, 1, 2, 3)  # in the programs
    a, b = _scores(nhwc), _scores(nchw)
    assert a.shape == (6, 10) and len(set(a.argmax(1))) > 1
    assert np.array_equal(a, b)


@needs_et
@pytest.mark.parametrize("precision", PRECISIONS)
def test_no_transpose_or_pad_op_in_the_profile_of_a_default_executorch_artifact(precision):
    from tests.fake_adb.artifacts import phone_artifact

    path = phone_artifact("executorch", precision)
    backend = _manifest(path)["backend"]
    assert backend["asymmetric_padded_convs"] == 5 and backend["elided_layout_copies"] == 1
    types = _op_types(path)
    assert any(t.startswith("Convolution") for t in types)  # a real XNNPACK profile, operator by operator
    assert [t for t in types if "Transpose" in t or "Pad" in t] == []
    # the check can fail: the NCHW twin's XNNPACK transposes the image in front of the first conv
    assert [t for t in _op_types(phone_artifact("executorch", precision, layout="nchw")) if "Transpose" in t]


@needs_et
def test_float_pad_folding_is_exact_and_keep_pads_is_the_published_graph():
    from tests.fake_adb.artifacts import phone_artifact
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export
    from toolkit.weights import cache_dir

    model = mobilenet_v1(0.25, 32, weights="random", num_classes=10)
    out = cache_dir() / "test-artifacts" / "keep-pads"  # cached between runs, like the phone artifacts
    cfg = ExportConfig(target="executorch", output_dir=out, options={"fold_padding": False}, verify=False)
    kept = export(model, cfg, progress=False)
    folded = phone_artifact("executorch", "fp32")
    assert kept.manifest["backend"]["asymmetric_padded_convs"] == 0 and not kept.manifest["backend"]["pad_folding"]
    assert _manifest(folded)["backend"]["pad_folding"] is True
    assert kept.manifest["cache_key"] != _manifest(folded)["cache_key"]
    assert np.array_equal(_scores(kept.path), _scores(folded))


@needs_et
def test_the_runner_takes_memory_order_and_refuses_nchw_data_for_a_channels_last_program():
    from tests.fake_adb.artifacts import phone_artifact
    from toolkit.errors import UsageError
    from toolkit.runtimes import open_runner

    runner = open_runner(phone_artifact("executorch", "fp32"), threads=1)
    try:
        assert runner.input_spec.shape == (1, 32, 32, 3) and runner.method_sizes == (1, 3, 32, 32)
        with pytest.raises(UsageError, match=r"expects input shape \[1, 32, 32, 3\]"):
            runner.run(np.zeros((1, 3, 32, 32), np.float32))  # NCHW into a channels-last program: refused
    finally:
        runner.close()


@needs_et
def test_each_call_reads_its_own_input_through_the_bound_tensor():
    """The runner copies every input into one bound tensor (as an app writes each frame into its buffer): a new
    input must give its own output, never the previous frame's, and the same input the same output."""
    from tests.fake_adb.artifacts import phone_artifact
    from toolkit.data import sample_images
    from toolkit.runtimes import open_runner, to_layout

    runner = open_runner(phone_artifact("executorch", "fp32"), threads=1)
    try:
        photos = to_layout(sample_images(32), "nhwc")
        first, second = runner.run_raw(photos[:1]), runner.run_raw(photos[1:2])
        assert not np.allclose(first, second)
        np.testing.assert_array_equal(runner.run_raw(photos[:1].copy()), first)
    finally:
        runner.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "coreml", "--layout", "nhwc"], "coreml artifacts take image input, not nhwc"),
        (["-t", "onnx", "--layout", "nhwc"], "onnx artifacts take nchw input, not nhwc"),
        (["-t", "executorch", "--layout", "image"], "executorch artifacts take nhwc or nchw input, not image"),
        (["-t", "tflite", "--layout", "nwhc"], "layout must be one of nchw, nhwc, image, got 'nwhc'"),
    ],
)
def test_a_layout_the_target_cannot_take_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    from toolkit.cli import main

    code = main(["export", *args, "-w", "random", "-r", "32", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
