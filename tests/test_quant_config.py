"""Quantization configs, calibration sets, the exact pad-folding rewrite and the accuracy report."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch

import quantization
from quantization.accuracy import compare_accuracy, load_labeled_folder
from quantization.calibration import CalibrationWarning, load_calibration
from quantization.config import SCHEMES, QuantConfig
from quantization.rewrites import count_explicit_pads, fold_tf_padding
from toolkit.data import TF_PREPROCESSING, batch_sha256, sample_image_paths, sample_images
from toolkit.errors import UsageError
from toolkit.models.mobilenet_v1 import MobileNetV1


def test_public_api_is_pinned():
    assert set(quantization.__all__) == {
        "DEFAULT_SCHEME", "SCHEMES", "AccuracyReport", "CalibrationSet", "CalibrationWarning", "QuantConfig",
        "load_calibration", "supported_schemes",
    }  # fmt: skip
    for name in quantization.__all__:
        assert getattr(quantization, name) is not None


def test_package_does_not_import_the_cli():
    import subprocess
    import sys

    code = "import sys, quantization; assert 'toolkit.cli' not in sys.modules; assert 'executorch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unsupported_scheme_lists_the_supported_ones():
    with pytest.raises(UsageError, match="int8, int8-dynamic, fp16"):
        QuantConfig("tflite", "palettize-4")
    with pytest.raises(UsageError, match="choose one of: executorch, tflite, onnx, coreml"):
        QuantConfig("tensorrt")


def test_config_is_frozen_and_from_dict_rejects_unknown_keys():
    cfg = QuantConfig("coreml", "int8")
    assert cfg.scheme == "int8-weights"  # Core ML's int8 is weights-only
    with pytest.raises(AttributeError):
        cfg.scheme = "w8a8"  # type: ignore[misc]
    assert QuantConfig.from_dict(QuantConfig("onnx").to_dict()) == QuantConfig("onnx")
    with pytest.raises(UsageError, match="unknown quantization option"):
        QuantConfig.from_dict({"target": "onnx", "bits": 4})
    with pytest.raises(UsageError, match=">= 1"):
        QuantConfig("onnx", calibration_samples=0)
    assert all(QuantConfig(t, s).weight_bits in (4, 6, 8, 16) for t, ss in SCHEMES.items() for s in ss)


def test_calibration_from_bundled_photos_is_deterministic():
    a = load_calibration(None, 64, TF_PREPROCESSING, samples=3)
    b = load_calibration(None, 64, TF_PREPROCESSING, samples=3)
    assert a.count == 3 and a.sha256 == b.sha256 == batch_sha256(a.images)
    assert a.images.shape == (3, 3, 64, 64) and a.images.std() > 0.1  # real photos, not a constant
    assert np.allclose(a.images[0], sample_images(64)[0])  # same preprocessing as inference


def test_calibration_folder_warns_when_short_and_skips_unreadable(tmp_path):
    for p in sample_image_paths()[:3]:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(CalibrationWarning) as record:
        cal = load_calibration(tmp_path, 32, samples=10)
    assert cal.count == 3
    messages = " ".join(str(w.message) for w in record)
    assert "unreadable" in messages and "only 3" in messages
    assert cal.to_manifest()["count"] == 3 and len(cal.warnings) == 2


def test_calibration_without_readable_images_is_a_usage_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"garbage")
    with pytest.raises(UsageError, match="no readable images"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_calibration(tmp_path, 32)
    with pytest.raises(UsageError, match="not found"):
        load_calibration(tmp_path / "missing", 32)


@pytest.mark.parametrize(("alpha", "resolution"), [(0.25, 128), (0.5, 96), (1.0, 64)])
def test_fold_tf_padding_is_exact_on_real_photos(alpha, resolution):
    torch.manual_seed(0)
    model = MobileNetV1(alpha, 1000, resolution=resolution).eval()
    x = torch.from_numpy(sample_images(resolution))
    from toolkit.builder import calibrate_batchnorm

    calibrate_batchnorm(model, x)  # real activation ranges
    folded = fold_tf_padding(model)
    assert count_explicit_pads(model) == 5 and count_explicit_pads(folded) == 0
    with torch.no_grad():
        ref, out = model(x), folded(x)
    span = float(ref.max() - ref.min())
    assert span > 0.1  # non-collapsed logits
    assert float((ref - out).abs().max()) <= 1e-5 * span
    assert torch.equal(ref.argmax(1), out.argmax(1))


def test_fold_tf_padding_refuses_odd_stride2_inputs():
    with pytest.raises(ValueError, match="odd"):
        fold_tf_padding(MobileNetV1(0.25, 10, resolution=32), resolution=48)  # 48 → 24 → 12 → 6 → 3 (odd)


def test_compare_accuracy_counts_agreement_and_labeled_top1():
    ref = np.array([[2, 1, 0], [0, 3, 1], [1, 0, 5], [4, 0, 0]], np.float32)
    q = np.array([[2, 1, 0], [3, 0, 1], [1, 0, 5], [4, 0, 0]], np.float32)
    r = compare_accuracy(ref, q, [0, 1, 2, 1])
    assert r.top1_agreement == 0.75 and r.fp32_top1 == 0.75 and r.quantized_top1 == 0.5
    assert r.top1_drop == 0.25 and not r.meets_bars()


def test_labeled_folder_maps_class_names(tmp_path):
    paths = sample_image_paths()
    for cls, p in (("cat", paths[1]), ("rocket", paths[5])):
        (tmp_path / cls).mkdir()
        shutil.copy(p, tmp_path / cls / p.name)
    x, y = load_labeled_folder(tmp_path, 32, TF_PREPROCESSING, ["rocket", "cat"])
    assert x.shape == (2, 3, 32, 32) and list(y) == [1, 0]
    with pytest.raises(UsageError, match="not one of the model's classes"):
        load_labeled_folder(tmp_path, 32, TF_PREPROCESSING, ["dog"])
