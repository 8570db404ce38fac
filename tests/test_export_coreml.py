"""Core ML export: the .mlpackage's spec is checked statically on Linux, predicted with on macOS.

The static check compares more than shapes: the image input's scale/bias must be exactly the
preprocessing's, the labels the model's, and every stored conv/linear weight the BatchNorm-folded
PyTorch weight (so a wrong model or lost fold fails). Negative cases prove each check can fail.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from toolkit._deps import HAS_COREMLTOOLS, IS_MACOS
from toolkit.errors import ToolkitError, UsageError

pytestmark = pytest.mark.skipif(
    not HAS_COREMLTOOLS, reason="coremltools not installed (pip install 'mobilenet-toolkit[coreml]')"
)


@functools.cache
def _export(alpha: float, resolution: int, precision: str | None = None, target: str = "iOS16"):
    from tests._export_helpers import model, shared_dir
    from toolkit.export import ExportConfig, export

    out = shared_dir() / f"coreml-{target}"
    cfg = ExportConfig(target="coreml", precision=precision, output_dir=out, minimum_deployment_target=target)
    return export(model(alpha, resolution), cfg, progress=False)


def test_tiny_fp16_export_spec():
    from tests._export_helpers import model
    from toolkit.export.manifest import validate_manifest
    from toolkit.runtimes.coreml import spec_summary

    res = _export(0.25, 64)  # natural precision: fp16
    assert res.path.name == "mobilenet_v1-a0.25-r64-coreml-fp16.mlpackage" and res.path.is_dir()
    m = res.manifest
    assert m["precision"] == "fp16" and m["input"]["layout"] == "image" and m["input"]["dtype"] == "uint8"
    assert m["output"]["kind"] == "probabilities" and "output_kind" not in m["backend"]  # a classifier's softmax
    validate_manifest(m)
    s = spec_summary(res.path)
    assert s["inputs"] == [{"name": "image", "type": "imageType", "width": 64, "height": 64, "color_space": "RGB"}]
    prep = model(0.25, 64).preprocessing
    assert s["image"]["scale"] == pytest.approx(prep.scale[0], rel=1e-7)  # stored as float32
    assert s["image"]["bias"] == list(prep.bias) == [-1.0, -1.0, -1.0]
    assert s["labels"] == model(0.25, 64).class_names and s["labels"][0] == "tench"
    assert s["weights_dtype"] == "float16" and s["spec_version"] == 7  # iOS16
    assert s["ops"]["conv"] == 27 and s["ops"]["linear"] == 1 and s["ops"]["softmax"] == 1
    # the published (0, 1) pads live inside the five stride-2 convs: no standalone pad op (issue 11)
    assert "pad" not in s["ops"] and s["conv_padding"] == {"custom 0,1,0,1": 5, "custom 1,1,1,1": 9, "valid": 13}
    meta = s["metadata"]
    assert meta["author"] and "Apache" not in meta["license"]  # random weights carry no ImageNet license
    assert meta["user_defined"]["alpha"] == "0.25" and meta["user_defined"]["resolution"] == "64"
    assert meta["user_defined"]["weights_kind"] == "random"
    parity = m["parity"]
    if not IS_MACOS:
        assert parity["method"] == "spec_check" and parity["details"]["max_weight_rel_err"] <= 1e-3
        assert any("spec check only" in w for w in m["warnings"])


def test_spec_check_rejects_other_weights_and_labels():
    """The same artifact against a differently seeded model, or with renamed classes, must fail."""
    from tests._export_helpers import model
    from toolkit.export.coreml import verify_spec

    path = _export(0.25, 64).path
    assert verify_spec(path, model(0.25, 64), "fp16")["labels"] == 1000
    with pytest.raises(ToolkitError, match="stored weights differ"):
        verify_spec(path, model(0.25, 64, seed=1), "fp16")
    with pytest.raises(ToolkitError, match="stored weights are float16, expected float32"):
        verify_spec(path, model(0.25, 64), "fp32")
    renamed = model(0.25, 64, seed=0)
    original = renamed.class_names
    try:
        renamed.class_names = [f"c{i}" for i in range(1000)]
        with pytest.raises(ToolkitError, match="class labels differ"):
            verify_spec(path, renamed, "fp16")
    finally:
        renamed.class_names = original


def test_spec_check_rejects_standalone_pad_ops(tmp_path, monkeypatch):
    """Without the pad-into-conv pass coremltools writes five ``pad`` ops; the spec check must notice."""
    import coremltools as ct

    from tests._export_helpers import model
    from toolkit.export import ExportConfig, coreml_padding, export
    from toolkit.export.coreml import verify_spec

    monkeypatch.setattr(coreml_padding, "pipeline_with_pad_fusion", lambda: ct.PassPipeline.DEFAULT)
    cfg = ExportConfig(target="coreml", precision="fp16", output_dir=tmp_path, verify=False)
    path = export(model(0.25, 64), cfg, progress=False).path
    with pytest.raises(ToolkitError, match=r"5 pad ops and 0 \(0, 1\)-padded convs"):
        verify_spec(path, model(0.25, 64), "fp16")


def test_per_channel_std_is_normalized_in_graph():
    """torchvision's per-channel std cannot be one ImageType scale: pixel/255 goes in, the graph normalizes."""
    from toolkit.data import IMAGENET_PREPROCESSING, TF_PREPROCESSING
    from toolkit.export.coreml import image_scale_bias

    assert image_scale_bias(TF_PREPROCESSING) == (pytest.approx(2 / 255), [-1.0, -1.0, -1.0], False)
    assert image_scale_bias(IMAGENET_PREPROCESSING) == (pytest.approx(1 / 255), [0.0, 0.0, 0.0], True)


def test_deployment_target_validation():
    import coremltools as ct

    from toolkit.export.coreml import deployment_target

    assert deployment_target("ios17") is ct.target.iOS17 and deployment_target("macOS13") is ct.target.macOS13
    with pytest.raises(UsageError) as err:
        deployment_target("iOS14")  # ML Programs need iOS15+
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("unknown Core ML minimum deployment target 'iOS14'")
    assert "iOS15" in msg and "macOS12" in msg and "iOS13" not in msg


def test_bad_deployment_target_or_precision_fails_before_writing(tmp_path):
    from tests._export_helpers import model
    from toolkit.export import ExportConfig, export

    cfg = ExportConfig(target="coreml", output_dir=tmp_path, minimum_deployment_target="iOS9")
    with pytest.raises(UsageError, match="choose one of: iOS15"):
        export(model(0.25, 64), cfg, progress=False)
    with pytest.raises(UsageError, match="unknown precision 'int4'; choose one of: fp32, fp16, int8"):
        export(model(0.25, 64), dataclasses.replace(cfg, precision="int4"), progress=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(IS_MACOS, reason="on macOS Core ML predicts")
def test_runner_is_unavailable_off_macos():
    from toolkit.export.coreml import EXPORTER
    from toolkit.runtimes import RuntimeUnavailableError
    from toolkit.runtimes.coreml import CoreMLRunner

    with pytest.raises(RuntimeUnavailableError, match="only on macOS"):
        EXPORTER.open(_export(0.25, 64).path)
    assert CoreMLRunner.output_kind == "probabilities"  # what verify and classify transform the reference for


@pytest.mark.skipif(IS_MACOS, reason="on macOS Core ML predicts")
def test_cli_compute_units_off_macos(capsys):
    """predict: the one-line "no Core ML runtime" error; verify: the spec check; a bad unit name: exit 2."""
    from toolkit.cli import main
    from toolkit.data import sample_image_paths

    path, photo = str(_export(0.25, 64).path), str(sample_image_paths()[0])
    capsys.readouterr()
    assert main(["predict", path, photo, "--compute-units", "cpu_and_ne"]) == 1
    err = capsys.readouterr().err
    assert "no Core ML runtime on Linux" in err and "internal error" not in err and "Traceback" not in err
    assert main(["verify", path, "--compute-units", "cpu_only"]) == 0
    out = capsys.readouterr().out
    assert "spec check passed (no Core ML runtime on Linux" in out and "parity holds" in out
    assert main(["verify", path, "--compute-units", "neural_engine"]) == 2
    assert "choose one of: cpu_only, cpu_and_gpu, cpu_and_ne, all" in capsys.readouterr().err


@pytest.mark.skipif(not IS_MACOS, reason="Core ML prediction needs macOS")
@pytest.mark.parametrize(("precision", "units"), [("fp32", "cpu_only"), ("fp16", "all")])
def test_macos_prediction_matches_pytorch(precision, units):
    from tests._export_helpers import model
    from toolkit.data import sample_images
    from toolkit.runtimes import softmax
    from toolkit.runtimes.coreml import open_runner
    from toolkit.verify import reference_logits, verify_runner

    x, m = sample_images(64), model(0.25, 64)
    runner = open_runner(_export(0.25, 64, precision).path, compute_units=units)
    try:
        got = runner.run(x)
        report = verify_runner(runner, "image", m, x, precision)
    finally:
        runner.close()
    probs = softmax(reference_logits(m, x))
    assert got.shape == probs.shape and np.allclose(got.sum(1), 1, atol=1e-2)  # probabilities, not logits
    assert report.output_kind == "probabilities" and report.passed, report.failures
    if precision == "fp32":
        assert (got.argmax(1) == probs.argmax(1)).all() and np.abs(got - probs).max() <= 1e-3 * np.ptp(probs)


@pytest.mark.slow
@pytest.mark.parametrize(("alpha", "resolution", "precision"), [(0.25, 64, "fp32"), (1.0, 224, "fp16")])
def test_other_precisions_and_full_size(alpha, resolution, precision):
    from toolkit.runtimes.coreml import spec_summary

    res = _export(alpha, resolution, precision, target="iOS17")
    s = spec_summary(res.path)
    assert s["weights_dtype"] == ("float16" if precision == "fp16" else "float32") and s["spec_version"] == 8
    assert s["inputs"][0]["width"] == resolution and s["ops"]["conv"] == 27
    assert res.manifest["parity"]["details"]["max_weight_rel_err"] <= (1e-3 if precision == "fp16" else 1e-5)
