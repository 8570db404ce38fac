"""Training on real handwritten digits: from scratch, resume, fine-tune from .h5, distillation."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._digits import DIGITS_RES, digits_folder  # noqa: F401 - pytest fixture
from toolkit import mobilenet_v1
from toolkit._deps import HAS_H5PY, HAS_KERAS
from toolkit.evaluate import evaluate
from toolkit.train import TrainConfig, TrainingInterruptedError, train
from toolkit.training.recipe import distillation_loss, param_groups
from toolkit.weights import load_checkpoint

# Recipe for digits at ρ=32: no flips (a mirrored 3 is not a 3), big crops only (an 8×8 digit
# has no room for small ones), one torch thread (the CI box is shared; more threads spin).
DIGITS = dict(alpha=0.25, resolution=DIGITS_RES, weights="random", hflip=False, min_crop_area=0.7,
              batch_size=32, lr=1e-2, threads=1, workers=1, progress=False)  # fmt: skip


def _subset(src: Path, dst: Path, per_class_train: int, per_class_val: int) -> Path:
    for split, n in (("train", per_class_train), ("val", per_class_val)):
        for cls in sorted((src / split).iterdir()):
            (dst / split / cls.name).mkdir(parents=True, exist_ok=True)
            for p in sorted(cls.iterdir())[:n]:
                shutil.copy(p, dst / split / cls.name / p.name)
    return dst


@pytest.fixture(scope="session")
def digits_small(digits_folder, tmp_path_factory) -> Path:  # noqa: F811
    return _subset(digits_folder, tmp_path_factory.mktemp("digits_small"), 16, 6)


@pytest.fixture(scope="session")
def scratch_run(digits_folder, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("scratch") / "digits.safetensors"
    t0 = time.monotonic()
    result = train(TrainConfig(data=digits_folder, output=out, epochs=3, **DIGITS))
    return result, time.monotonic() - t0


def test_from_scratch_learns_digits(scratch_run):
    result, seconds = scratch_run
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0] * 0.7, losses
    assert result.best["top1"] >= 0.5, (result.best, seconds)  # chance is 0.1
    assert result.best["top5"] >= result.best["top1"]


def test_checkpoint_loads_through_builder(scratch_run, digits_folder):  # noqa: F811
    result, _ = scratch_run
    _, meta = load_checkpoint(result.checkpoint)
    assert (meta.alpha, meta.resolution, meta.num_classes) == (0.25, DIGITS_RES, 10)
    assert meta.class_names == tuple(str(i) for i in range(10))
    assert meta.extra["metrics"]["top1"] == result.best["top1"]
    assert meta.extra["training"]["optimizer"] == "rmsprop"
    model = mobilenet_v1(0.25, DIGITS_RES, weights=result.checkpoint)
    again = evaluate(model, digits_folder / "val")
    assert again.top1 == pytest.approx(result.best["top1"], abs=1e-9)
    assert again.confusion.sum() == again.n == result.best["n_val"]


def test_evaluate_accepts_arrays_and_callables(scratch_run, digits_folder):  # noqa: F811
    result, _ = scratch_run
    model = mobilenet_v1(0.25, DIGITS_RES, weights=result.checkpoint)
    from toolkit.imagefolder import ImageDataset, scan_classes

    _, samples, _ = scan_classes(digits_folder / "val")
    ds = ImageDataset(samples, DIGITS_RES, model.preprocessing)
    x = np.stack([ds[i][0].numpy() for i in range(len(ds))])
    y = np.array([s[1] for s in samples])
    a = evaluate(model, (x, y), batch_size=50)
    b = evaluate(lambda batch: model(torch.from_numpy(batch)).detach().numpy(), (x, y), num_classes=10)
    assert a.top1 == b.top1 == pytest.approx(result.best["top1"])
    assert np.array_equal(a.confusion, b.confusion)


def test_resume_matches_uninterrupted_run(digits_small, tmp_path):
    cfg = dict(data=digits_small, epochs=2, **DIGITS)
    full = train(TrainConfig(output=tmp_path / "full.safetensors", **cfg))
    part = train(TrainConfig(output=tmp_path / "part.safetensors", max_time=1e-3, **cfg))
    assert part.stopped == "max-time"
    done = train(TrainConfig(output=tmp_path / "part.safetensors", resume=True, **cfg))
    assert done.stopped == "completed"
    a = torch.load(full.state_path, weights_only=True)["model"]
    b = torch.load(done.state_path, weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6, msg=k)
    assert any((a[k] != mobilenet_v1(0.25, 32, num_classes=10).state_dict()[k]).any() for k in a if "weight" in k)


def test_ctrl_c_saves_resumable_state(digits_small, tmp_path):
    def interrupt_once_installed() -> None:
        while signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "c.safetensors"
    threading.Thread(target=interrupt_once_installed, daemon=True).start()
    with pytest.raises(TrainingInterruptedError, match="--resume"):
        train(TrainConfig(data=digits_small, output=out, epochs=50, **DIGITS))
    state = torch.load(out.with_name("c.state.pt"), weights_only=True)
    assert state["model"]["classifier.weight"].shape == (10, 256)


@pytest.mark.skipif(not (HAS_KERAS and HAS_H5PY), reason="keras and h5py needed: pip install '.[keras]'")
def test_finetune_from_keras_h5_with_frozen_backbone(digits_small, tmp_path):
    from tests._keras_models import keras_mobilenet, save_keras3_weights

    kmodel = keras_mobilenet(0.25, DIGITS_RES, include_top=False)
    h5 = save_keras3_weights(kmodel, tmp_path / "backbone.h5")
    cfg = {**DIGITS, "weights": str(h5), "lr": 3e-3}
    res = train(TrainConfig(data=digits_small, output=tmp_path / "ft.safetensors", epochs=1,
                            freeze_backbone_epochs=1, **cfg))  # fmt: skip
    state, meta = load_checkpoint(res.checkpoint)
    kernel = np.asarray(kmodel.get_layer("conv1").get_weights()[0]).transpose(3, 2, 0, 1)
    np.testing.assert_array_equal(state["conv1.conv.weight"].numpy(), kernel)  # imported, then frozen
    moving_var = np.asarray(kmodel.get_layer("conv_pw_13_bn").get_weights()[3])
    np.testing.assert_allclose(state["blocks.12.pw.bn.running_var"].numpy(), moving_var, rtol=1e-6)
    assert meta.extra["parent_weights"] == str(h5)
    assert res.best["top1"] > 0.2  # a head on frozen random-but-calibrated features beats chance (0.1)


def test_distillation_end_to_end(scratch_run, digits_small, tmp_path):
    teacher_ckpt = scratch_run[0].checkpoint
    res = train(TrainConfig(data=digits_small, output=tmp_path / "student.safetensors", epochs=2,
                            teacher=str(teacher_ckpt), distill_weight=0.8, **DIGITS))  # fmt: skip
    _, meta = load_checkpoint(res.checkpoint)
    assert meta.extra["training"]["teacher"] == str(teacher_ckpt)
    assert res.best["top1"] > 0.2


def test_distillation_loss_math():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
    y = torch.randint(0, 10, (8,), generator=g)
    ce = torch.nn.functional.cross_entropy(s, y)
    assert distillation_loss(s, t, y, 4.0, 0.0) == pytest.approx(float(ce))
    assert float(distillation_loss(t, t, y, 4.0, 1.0)) == pytest.approx(0.0, abs=1e-6)
    p_t, log_p_s = torch.softmax(t / 2, 1), torch.log_softmax(s / 2, 1)
    manual = (p_t * (p_t.log() - log_p_s)).sum(1).mean() * 4
    assert float(distillation_loss(s, t, y, 2.0, 1.0)) == pytest.approx(float(manual), rel=1e-5)


def test_no_weight_decay_on_depthwise_bn_or_bias():
    model = mobilenet_v1(0.25, 32, num_classes=10)
    decay, no_decay = param_groups(model, 4e-5)
    ids = {id(p) for p in decay["params"]}
    assert id(model.blocks[0].pw.conv.weight) in ids and id(model.classifier.weight) in ids
    assert id(model.blocks[0].dw.conv.weight) not in ids
    assert id(model.blocks[0].dw.bn.weight) not in ids and id(model.classifier.bias) not in ids
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


@pytest.mark.slow
def test_from_scratch_reaches_95_percent(digits_folder, tmp_path):  # noqa: F811
    t0 = time.monotonic()
    res = train(TrainConfig(data=digits_folder, output=tmp_path / "d.safetensors", epochs=15, **DIGITS))
    seconds = time.monotonic() - t0
    print(f"digits α=0.25 ρ=32 from scratch: top-1 {res.best['top1']:.4f} in {seconds:.0f} s")
    assert res.best["top1"] >= 0.95, (res.best, seconds)
