"""``toolkit train --qat`` on real handwritten digits: fine-tune with fake-quant, export a verified int8 ``.pte``.

The float model is tests/test_quant_common.py's digits model (trained once, cached on disk), saved as a
toolkit checkpoint; the data is its own split written as an ImageFolder. The default tests run the command
once (1 QAT epoch on 300 digits) and check what it wrote: a float checkpoint that loads like any other,
and an ExecuTorch artifact whose manifest validates, says ``qat: true`` and records a labeled top-1 that
the ``.pte`` itself reproduces. That run costs ~75 s on an idle 2-core box, nearly all of it fixed: PT2E
QAT prepare + convert ~25 s, XNNPACK lowering ~40 s, imports ~10 s; the data is ~5 s. The slow test
compares QAT with PTQ on the full split.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests._digits import DIGITS_RES
from tests.test_quant_common import digits_model, digits_split
from toolkit._deps import HAS_EXECUTORCH
from toolkit.cli import main

pytestmark = pytest.mark.skipif(not HAS_EXECUTORCH, reason="needs the executorch extra")

CLI = ["--alpha", "0.25", "--resolution", str(DIGITS_RES), "--no-hflip", "--min-crop-area", "1", "--threads", "1",
       "--workers", "0", "--no-progress"]  # fmt: skip
FAST_PER_CLASS = (30, 20)  # (training, held-out) digits per class in the default test


def write_split_folder(root: Path, per_class: tuple[int, int] | None = None) -> Path:
    """tests/test_quant_common.py's digits split as an ImageFolder: its 70% as train/, its held-out 30% as val/
    (or the first ``per_class`` = (train, val) digits of each class).

    PNG holds the model's inputs to within one uint8 step (preprocessing maps 0..255 back to [-1, 1]).
    """
    from PIL import Image

    x_train, y_train, x_test, y_test = digits_split()
    for split, x, y in (("train", x_train, y_train), ("val", x_test, y_test)):
        for label in range(10):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            members = np.flatnonzero(y == label)
            if per_class is not None:
                members = members[: per_class[split == "val"]]
            for i in members:
                rgb = ((x[i].transpose(1, 2, 0) + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
                Image.fromarray(rgb).save(folder / f"{i:04d}.png")
    return root


def save_float_checkpoint(path: Path) -> Path:
    """tests/test_quant_common.py's trained digits model (fp32 ~98% held out) as a toolkit checkpoint."""
    from toolkit.data import Preprocessing
    from toolkit.weights import CheckpointMeta, save_checkpoint

    model = digits_model()
    whole = Preprocessing(crop_fraction=1.0)  # the whole 32×32 digit, as it was trained
    meta = CheckpointMeta(alpha=0.25, resolution=DIGITS_RES, num_classes=10, class_names=tuple(model.class_names),
                          preprocessing=whole)  # fmt: skip
    return save_checkpoint(model.state_dict(), meta, path)


@pytest.fixture(scope="module")
def digits_qat(tmp_path_factory) -> Path:
    return write_split_folder(tmp_path_factory.mktemp("digits_qat"), FAST_PER_CLASS)


@pytest.fixture(scope="module")
def float_checkpoint(tmp_path_factory) -> Path:
    return save_float_checkpoint(tmp_path_factory.mktemp("float") / "digits.safetensors")


@pytest.fixture(scope="module")
def qat_run(digits_qat, float_checkpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qat")
    args = ["train", "--qat", "--data", str(digits_qat), "--weights", str(float_checkpoint), "--epochs", "1",
            "--output", str(tmp / "qat.safetensors"), "--export-dir", str(tmp / "artifacts"), *CLI]  # fmt: skip
    assert main(args) == 0
    (pte,) = (tmp / "artifacts").glob("*.pte")
    return tmp / "qat.safetensors", pte, json.loads(pte.with_name(pte.name + ".manifest.json").read_text())


def test_qat_writes_a_verified_int8_pte_with_its_accuracy(qat_run, digits_qat, float_checkpoint):
    from toolkit.export.manifest import validate_manifest
    from toolkit.weights import file_sha256

    checkpoint, pte, m = qat_run
    validate_manifest(m)
    assert pte.name == "mobilenet_v1-a0.25-r32-executorch-int8-qat.pte" and m["artifact"]["file"] == pte.name
    assert m["precision"] == "int8" and m["parity"]["passed"] and m["parity"]["method"] == "runtime"
    q = m["quantization"]
    assert q["qat"] is True and q["scheme"] == "int8" and q["pad_folding"] and q["calibration"] is None
    acc = q["accuracy"]
    n_val = sum(1 for _ in (digits_qat / "val").rglob("*.png"))
    assert acc["n_labeled"] == acc["n_images"] == n_val and acc["source"] == str(digits_qat / "val")
    assert acc["fp32_top1"] >= 0.9 and acc["quantized_top1"] >= 0.9 and acc["top1_agreement"] >= 0.9
    # the float parent the artifact was verified against is the fine-tuned checkpoint, by hash
    assert m["weights"]["kind"] == "checkpoint" and m["weights"]["sha256"] == file_sha256(checkpoint)
    assert m["backend"]["non_delegated"] == {} and m["backend"]["delegate_calls"] >= 1
    assert "qat_program" not in m["options"]


def test_the_pte_reproduces_the_recorded_top1(qat_run, digits_qat):
    """Independent of the pipeline: run the .pte on the validation digits and count."""
    from quantization.accuracy import load_labeled_folder
    from tests.test_quant_common import pte_logits
    from toolkit import mobilenet_v1

    checkpoint, pte, m = qat_run
    model = mobilenet_v1(0.25, DIGITS_RES, weights=checkpoint)
    x, y = load_labeled_folder(digits_qat / "val", DIGITS_RES, model.preprocessing, model.class_names)
    top1 = float((pte_logits(pte, x).argmax(1) == y).mean())
    assert top1 == pytest.approx(m["quantization"]["accuracy"]["quantized_top1"], abs=1e-9)


def test_qat_checkpoint_is_an_ordinary_float_checkpoint(qat_run, float_checkpoint):
    """Published 3×3 kernels (the pad-free 4×4 folded back), metadata naming its float parent."""
    from toolkit import mobilenet_v1
    from toolkit.weights import file_sha256, load_checkpoint

    checkpoint, _, _ = qat_run
    state, meta = load_checkpoint(checkpoint)
    parent_state, _ = load_checkpoint(float_checkpoint)
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in parent_state.items()}
    assert meta.extra["training"]["qat"] is True and meta.extra["parent_sha256"] == file_sha256(float_checkpoint)
    assert meta.extra["metrics"]["parent_top1"] >= 0.9 and meta.extra["metrics"]["qat_top1"] is not None
    moved = [k for k in state if state[k].dtype.is_floating_point and not np.array_equal(state[k], parent_state[k])]
    assert "classifier.weight" in moved and any(k.endswith("dw.conv.weight") for k in moved)  # it fine-tuned
    mobilenet_v1(0.25, DIGITS_RES, weights=checkpoint)  # loads through the builder


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--target", "onnx", "--weights", "float.safetensors"], "executorch only"),
        (["--target", "tpu", "--weights", "float.safetensors"], "unknown target 'tpu'"),
        (["--weights", "random"], "trained float model"),
        ([], "pass --weights"),
    ],
)
def test_bad_qat_input_is_one_line(extra, message, digits_qat, tmp_path, capsys):
    args = ["train", "--qat", "--data", str(digits_qat), "--output", str(tmp_path / "q.safetensors"), *CLI]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_export_options_without_qat_are_refused(digits_qat, tmp_path, capsys):
    args = ["train", "--data", str(digits_qat), "--output", str(tmp_path / "m.safetensors"), *CLI]
    assert main([*args, "--export-dir", str(tmp_path / "a")]) == 2
    assert "apply to --qat only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_qat_keeps_ptq_accuracy_on_a_well_trained_model(tmp_path):
    """The issue-6 comparison on 540 held-out digits: QAT int8 ≥ PTQ int8 - 0.5 pt, and within 1 pt of fp32."""
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export
    from toolkit.train import TrainConfig
    from toolkit.training.qat import QATConfig, train_qat

    data = write_split_folder(tmp_path / "digits")
    ckpt = save_float_checkpoint(tmp_path / "float.safetensors")
    recipe = dict(alpha=0.25, resolution=DIGITS_RES, hflip=False, min_crop_area=1.0, threads=1, workers=0)
    train_cfg = TrainConfig(data=data, output=tmp_path / "qat.safetensors", weights=str(ckpt), epochs=2,
                            progress=False, **recipe)  # fmt: skip
    res = train_qat(QATConfig(train_cfg, export_dir=tmp_path / "artifacts"))
    options = {"calibration": data / "train", "eval_data": data / "val"}
    ptq_cfg = ExportConfig("executorch", "int8", output_dir=tmp_path / "artifacts", options=options)
    ptq = export(mobilenet_v1(0.25, DIGITS_RES, weights=ckpt), ptq_cfg, progress=False)
    q, p = res.artifact.manifest["quantization"]["accuracy"], ptq.manifest["quantization"]["accuracy"]
    assert q["n_labeled"] == p["n_labeled"] == 540 and p["fp32_top1"] == pytest.approx(res.parent_top1)
    assert res.parent_top1 >= 0.95  # a model worth quantizing
    assert q["quantized_top1"] >= p["quantized_top1"] - 0.005, (q, p)
    assert q["quantized_top1"] >= res.parent_top1 - 0.01, (q, res.parent_top1)
    assert q["meets_bars"] and ptq.path != res.artifact.path and ptq.path.is_file() and res.artifact.path.is_file()


def test_qat_needs_a_model_of_the_datas_classes(float_checkpoint, digits_qat, tmp_path, capsys):
    five = tmp_path / "five"
    for split in ("train", "val"):
        for cls in range(5):
            shutil.copytree(digits_qat / split / str(cls), five / split / str(cls))
    args = ["train", "--qat", "--data", str(five), "--weights", str(float_checkpoint), "--output",
            str(tmp_path / "q.safetensors"), *CLI]  # fmt: skip
    assert main(args) == 2
    assert "needs a model trained on these classes" in capsys.readouterr().err
    assert not (tmp_path / "q.safetensors").exists()
