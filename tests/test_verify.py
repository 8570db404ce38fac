"""Parity metrics, the tolerance registry, layouts, and verify_artifact against real runtimes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from toolkit._deps import HAS_ONNXRUNTIME
from toolkit.errors import ToolkitError
from toolkit.runtimes import softmax, to_layout
from toolkit.verify import (
    SNR_CAP_DB,
    TOLERANCES,
    Tolerance,
    check_parity,
    compare,
    get_tolerance,
    register_tolerance,
    verify_artifact,
)


@pytest.fixture(scope="module")
def logits() -> np.ndarray:
    """Real logits: a calibrated random model on the bundled photos (not collapsed)."""
    from tests._export_helpers import model
    from toolkit.data import sample_images
    from toolkit.verify import reference_logits

    out = reference_logits(model(0.25, 64), sample_images(64))
    assert np.ptp(out.argmax(1)) > 0 or out.std(0).mean() > 1e-3  # photos give different logits
    return out


def test_identical_logits_pass_every_bar(logits):
    r = compare(logits, logits.copy(), precision="fp32")
    assert r.passed and r.failures == []
    assert (r.top1_agreement, r.top5_overlap, r.max_abs_err) == (1.0, 1.0, 0.0)
    assert r.cosine == pytest.approx(1.0) and r.snr_db == SNR_CAP_DB
    json.dumps(r.to_dict(), allow_nan=False)  # goes into the manifest as is


def test_small_noise_passes_fp32_but_large_fails(logits):
    rng = np.random.default_rng(0)
    span = np.ptp(logits)
    ok = compare(logits, logits + rng.normal(0, 1e-5 * span, logits.shape), precision="fp32")
    assert ok.passed and ok.max_rel_abs_err < 1e-3 and 60 < ok.snr_db < 200
    bad = compare(logits, logits + rng.normal(0, 1e-2 * span, logits.shape), precision="fp32")
    assert not bad.passed and any("max abs error" in f for f in bad.failures)
    with pytest.raises(ToolkitError, match=r"failed parity.*max abs error"):
        check_parity(bad, "test artifact")


def test_top1_flip_is_caught_even_when_error_is_small(logits):
    flipped = logits.copy()
    i = 0
    top2 = np.argsort(-flipped[i])[:2]
    flipped[i, top2] = flipped[i, top2[::-1]]  # swap the two best classes of image 0
    r = compare(logits, flipped, precision="fp32")
    assert r.top1_agreement == pytest.approx(1 - 1 / len(logits))
    assert any("top-1" in f for f in r.failures)


def test_fp16_bar_is_cosine(logits):
    rng = np.random.default_rng(1)
    noisy = logits + rng.normal(0, 0.005 * np.abs(logits).mean(), logits.shape)
    assert compare(logits, noisy, precision="fp16").passed
    assert not compare(logits, -logits, precision="fp16").passed


def test_metrics_against_hand_computed_values():
    ref = np.array([[1.0, 2.0, 3.0, 0.0, -1.0, 0.5]])
    art = np.array([[1.0, 2.0, 2.5, 0.0, -1.0, 0.5]])
    r = compare(ref, art)
    assert r.max_abs_err == pytest.approx(0.5) and r.logit_range == pytest.approx(4.0)
    assert r.max_rel_abs_err == pytest.approx(0.125)
    assert r.cosine == pytest.approx(np.dot(ref[0], art[0]) / np.linalg.norm(ref) / np.linalg.norm(art))
    assert r.snr_db == pytest.approx(10 * np.log10(np.sum(ref**2) / 0.25))
    assert r.passed  # no tolerance given: measure only


def test_tolerance_registry_is_frozen_and_rejects_duplicates():
    assert get_tolerance("fp32").min_top1_agreement == 1.0 and get_tolerance("fp32").max_rel_abs_err == 1e-3
    assert get_tolerance("fp16").min_cosine == 0.999
    with pytest.raises(dataclasses.FrozenInstanceError):
        TOLERANCES["fp32"].min_cosine = 0.5  # type: ignore[misc]
    with pytest.raises(ValueError, match="already registered"):
        register_tolerance("fp32", Tolerance())
    with pytest.raises(ToolkitError, match="known: fp32, fp16"):
        get_tolerance("int4")


def test_shape_mismatch_is_one_clear_error():
    with pytest.raises(ToolkitError, match="shape"):
        compare(np.zeros((2, 10)), np.zeros((2, 11)))


def test_layouts_and_softmax():
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    nhwc = to_layout(x, "nhwc")
    assert nhwc.shape == (2, 4, 4, 3) and nhwc[1, 2, 3, 0] == x[1, 0, 2, 3] and nhwc.flags.c_contiguous
    assert to_layout(x, "nchw") is not None and np.array_equal(to_layout(x, "nchw"), x)
    with pytest.raises(ValueError, match="nchw, nhwc, image"):
        to_layout(x, "chwn")
    p = softmax(np.array([[1000.0, 1000.0, 0.0]]))
    assert p.sum() == pytest.approx(1.0) and p[0, 0] == pytest.approx(0.5)


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed (pip install 'mobilenet-toolkit[onnx]')")
def test_verify_artifact_rebuilds_model_and_catches_the_wrong_one(tmp_path):
    from tests._export_helpers import exported, model
    from toolkit.data import sample_image_paths

    res = exported("onnx", 0.25, 64)
    again = verify_artifact(res.path)  # model rebuilt from the manifest (random, seed 0, state hash checked)
    assert again.passed and again.top1_agreement == 1.0 and again.runtime == "onnxruntime"
    wrong = verify_artifact(res.path, model=model(0.25, 64, seed=1))  # other weights → must fail
    assert not wrong.passed and wrong.failures
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in sample_image_paths()[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    assert verify_artifact(res.path, images=folder).n_images == 3
