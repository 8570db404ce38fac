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


class _ProbabilitiesRunner:
    """A real ONNX Runtime runner whose outputs are turned into what a Core ML classifier returns.

    Core ML cannot predict on Linux; this gives verify the same kind of output (the softmax of real
    runtime logits, declared ``output_kind``) so its transformation of the reference is tested on real numbers.
    """

    def __init__(self, runner, kind: str = "probabilities", transform=softmax) -> None:
        self._runner, self.output_kind, self._transform = runner, kind, transform
        self.name, self.version = "onnxruntime+softmax", runner.version

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._transform(self._runner.run(x))

    def close(self) -> None:
        self._runner.close()


@pytest.fixture(scope="module")
def onnx_runner():
    if not HAS_ONNXRUNTIME:
        pytest.skip("onnxruntime not installed (pip install 'mobilenet-toolkit[onnx]')")
    from tests._export_helpers import exported
    from toolkit.runtimes import open_runner

    runner = open_runner(exported("onnx", 0.25, 64).path, threads=1)
    yield runner
    runner.close()


def test_probabilities_runner_is_compared_with_softmaxed_reference(onnx_runner):
    from tests._export_helpers import model
    from toolkit.data import sample_images
    from toolkit.runtimes import log_softmax, run_batch
    from toolkit.verify import reference_logits, verify_runner

    x, m = sample_images(64), model(0.25, 64)
    probs = _ProbabilitiesRunner(onnx_runner)
    report = verify_runner(probs, "nchw", m, x, "fp32")
    assert report.passed, report.failures
    assert report.output_kind == "probabilities" and report.top1_agreement == 1.0 and report.max_rel_abs_err < 1e-4
    assert report.logit_range <= 1.0 and "(on probabilities)" in report.summary()
    # the same numbers against the untransformed logits would be a meaningless comparison: it fails
    assert not compare(reference_logits(m, x), run_batch(probs, x, "nchw"), precision="fp32").passed
    logp = verify_runner(_ProbabilitiesRunner(onnx_runner, "log_probabilities", log_softmax), "nchw", m, x, "fp32")
    assert logp.passed and logp.output_kind == "log_probabilities"


def test_runner_that_lies_about_its_output_kind_fails(onnx_runner):
    from tests._export_helpers import model
    from toolkit.data import sample_images
    from toolkit.verify import verify_runner

    lying = _ProbabilitiesRunner(onnx_runner, "probabilities", lambda z: z)  # says probabilities, gives logits
    report = verify_runner(lying, "nchw", model(0.25, 64), sample_images(64), "fp32")
    assert not report.passed and any("max abs error" in f for f in report.failures)
    with pytest.raises(ValueError, match="unknown output kind 'scores'"):
        verify_runner(_ProbabilitiesRunner(onnx_runner, "scores"), "nchw", model(0.25, 64), sample_images(64), "fp32")


def test_probabilities_are_never_softmaxed_twice(logits):
    from toolkit.runtimes import from_logits, log_softmax, to_probabilities

    p = softmax(logits)
    assert np.array_equal(to_probabilities(p, "probabilities"), p)
    assert np.allclose(to_probabilities(logits, "logits"), p) and np.allclose(
        to_probabilities(log_softmax(logits), "log_probabilities"), p, atol=1e-6
    )
    assert np.abs(softmax(p) - p).max() > 0.1 * p.max()  # a second softmax would flatten them visibly
    assert np.array_equal(from_logits(logits, "logits"), logits) and np.allclose(
        from_logits(logits, "probabilities"), p
    )


def test_compute_units_are_core_ml_only(onnx_runner, capsys):
    from tests._export_helpers import exported
    from toolkit.cli import main
    from toolkit.data import sample_image_paths
    from toolkit.errors import UsageError
    from toolkit.runtimes import open_runner

    path = exported("onnx", 0.25, 64).path
    with pytest.raises(UsageError, match=r"compute units apply to Core ML \(.mlpackage\) artifacts only"):
        open_runner(path, compute_units="cpu_only")
    with pytest.raises(UsageError, match="unknown Core ML compute units 'gpu'; choose one of: cpu_only, cpu_and_gpu"):
        open_runner(path, compute_units="gpu")
    capsys.readouterr()
    assert main(["predict", str(path), str(sample_image_paths()[0]), "--compute-units", "cpu_and_ne"]) == 2
    assert main(["verify", str(path), "--compute-units", "all"]) == 2
    err = capsys.readouterr().err
    assert err.count("artifacts only") == 2 and "Traceback" not in err
    assert main(["predict", str(path), str(sample_image_paths()[0])]) == 0  # no option: as before
