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
from toolkit._deps import HAS_H5PY, HAS_KERAS, HAS_ONNX, HAS_ONNXRUNTIME
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
        # wait for the training loop's own handler (another library may have left a non-default one)
        while type(getattr(signal.getsignal(signal.SIGINT), "__self__", None)).__name__ != "_StopFlag":
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "c.safetensors"
    threading.Thread(target=interrupt_once_installed, daemon=True).start()
    with pytest.raises(TrainingInterruptedError, match="--resume"):
        train(TrainConfig(data=digits_small, output=out, epochs=50, **DIGITS))
    state = torch.load(out.with_name("c.state.pt"), weights_only=True)
    assert state["model"]["classifier.weight"].shape == (10, 256)


def _torch_to_keras_h5(ckpt: Path, path: Path) -> tuple[Path, dict]:
    """Write a trained PyTorch backbone into Keras' own MobileNet and save it as a Keras 3 .h5."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    from tests._keras_models import save_keras3_weights

    state, _ = load_checkpoint(ckpt)
    kmodel = keras.applications.MobileNet(alpha=0.25, input_shape=(DIGITS_RES, DIGITS_RES, 3), weights=None,
                                          include_top=False)  # fmt: skip
    t = {k: v.numpy() for k, v in state.items()}
    names = [("conv1", "conv1", (2, 3, 1, 0))]
    for i in range(13):
        names += [
            (f"conv_dw_{i + 1}", f"blocks.{i}.dw", (2, 3, 0, 1)),
            (f"conv_pw_{i + 1}", f"blocks.{i}.pw", (2, 3, 1, 0)),
        ]
    for keras_name, ours, perm in names:
        kmodel.get_layer(keras_name).set_weights([t[f"{ours}.conv.weight"].transpose(perm)])
        bn = [t[f"{ours}.bn.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        kmodel.get_layer(f"{keras_name}_bn").set_weights(bn)
    return save_keras3_weights(kmodel, path), t


@pytest.mark.skipif(not (HAS_KERAS and HAS_H5PY), reason="keras and h5py needed: pip install '.[keras]'")
def test_finetune_from_keras_h5_with_frozen_backbone(scratch_run, digits_small, tmp_path):
    h5, trained = _torch_to_keras_h5(scratch_run[0].checkpoint, tmp_path / "backbone.h5")
    cfg = {**DIGITS, "weights": str(h5)}
    res = train(TrainConfig(data=digits_small, output=tmp_path / "ft.safetensors", epochs=2,
                            freeze_backbone_epochs=2, **cfg))  # fmt: skip
    state, meta = load_checkpoint(res.checkpoint)
    # The backbone came through the .h5 importer and stayed frozen (weights and BN statistics) ...
    for k in ("conv1.conv.weight", "blocks.5.dw.conv.weight", "blocks.12.pw.bn.running_var"):
        np.testing.assert_allclose(state[k].numpy(), trained[k], rtol=1e-6, atol=1e-7, err_msg=k)
    assert meta.extra["parent_weights"] == str(h5)
    # ... and a fresh head on its features learns digits from 160 images in 10 steps.
    assert not np.allclose(state["classifier.weight"].numpy(), trained["classifier.weight"])
    assert res.best["top1"] >= 0.5, res.best


def _shuffled_labels(src: Path, dst: Path) -> Path:
    """A copy of ``src`` whose training images sit in random class folders (val keeps true labels)."""
    rng = np.random.default_rng(0)
    shutil.copytree(src / "val", dst / "val")
    for d in range(10):
        (dst / "train" / str(d)).mkdir(parents=True)
    for p in sorted((src / "train").glob("*/*.png")):
        shutil.copy(p, dst / "train" / str(rng.integers(10)) / p.name)
    return dst


def test_distillation_learns_from_the_teacher_not_the_labels(scratch_run, digits_small, tmp_path):
    """Training labels are noise here; only the soft targets carry the digits.

    The student reuses the teacher's (frozen) backbone with a fresh head, so 15 steps suffice: with
    pure distillation it learns the digits, with hard labels only it stays near chance (0.1).
    """
    teacher_ckpt = scratch_run[0].checkpoint
    data = _shuffled_labels(digits_small, tmp_path / "noisy")
    top1 = {}
    for weight in (1.0, 0.0):
        cfg = {**DIGITS, "weights": str(teacher_ckpt), "lr": 1e-2, "epochs": 3, "freeze_backbone_epochs": 3}
        res = train(TrainConfig(data=data, output=tmp_path / f"student{weight}.safetensors", reset_head=True,
                                teacher=str(teacher_ckpt), distill_weight=weight, distill_temperature=2.0,
                                **cfg))  # fmt: skip
        _, meta = load_checkpoint(res.checkpoint)
        assert meta.extra["training"]["teacher"] == str(teacher_ckpt)
        top1[weight] = res.best["top1"]
    assert top1[1.0] >= 0.35 and top1[1.0] >= top1[0.0] + 0.15, top1


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


@pytest.mark.skipif(not (HAS_ONNX and HAS_ONNXRUNTIME), reason="onnx/onnxruntime not installed")
def test_trained_checkpoint_exports_and_keeps_its_accuracy(scratch_run, digits_folder, tmp_path):  # noqa: F811
    import json

    import onnxruntime as ort

    from toolkit.cli import main

    result, _ = scratch_run
    args = ["export", "--target", "onnx", "--weights", str(result.checkpoint), "--alpha", "0.25", "--resolution", "32"]
    assert main([*args, "--output-dir", str(tmp_path)]) == 0
    onnx_path = next(tmp_path.glob("*.onnx"))
    manifest = json.loads(next(tmp_path.glob("*.manifest.json")).read_text())
    assert manifest["parity"]["passed"]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    model = mobilenet_v1(0.25, DIGITS_RES, weights=result.checkpoint)
    run = lambda x: sess.run(None, {name: x})[0]  # noqa: E731
    on_ort = evaluate(run, digits_folder / "val", num_classes=10, resolution=DIGITS_RES, batch_size=1,
                      preprocessing=model.preprocessing, class_names=model.class_names)  # fmt: skip
    assert on_ort.top1 == pytest.approx(result.best["top1"], abs=2 / on_ort.n)
