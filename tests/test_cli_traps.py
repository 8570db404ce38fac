"""Answers that would mislead get a warning, malformed weights one line and exit 2, summaries say what they count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolkit._deps import HAS_H5PY, HAS_ONNXRUNTIME
from toolkit.cli import main

PHOTO = Path(__file__).resolve().parents[1] / "toolkit" / "assets" / "images" / "coffee.jpg"


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="needs the onnx extra")
def test_predict_with_random_weights_says_the_top5_means_nothing(capsys):
    from tests._export_helpers import exported

    assert main(["predict", str(exported("onnx", 0.25, 32).path), str(PHOTO)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 5
    (warning,) = err.splitlines()
    assert "random weights (seed 0)" in warning and "means nothing" in warning


def _images(folder: Path, n: int, seed: int = 0) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")


@pytest.fixture
def checkpoint(tmp_path) -> tuple[Path, Path]:
    """A 2-class checkpoint whose metadata says it trained on ``data/`` (no val/): what `toolkit train` writes."""
    from toolkit import mobilenet_v1
    from toolkit.training.config import TrainConfig
    from toolkit.weights import CheckpointMeta, save_checkpoint

    data = tmp_path / "data"
    for name in ("cat", "dog"):
        _images(data / name, 10, seed=len(name))
    training = TrainConfig(data=data, alpha=0.25, resolution=32, weights="random", output=tmp_path / "m.safetensors")
    meta = CheckpointMeta(0.25, 32, 2, ("cat", "dog"), extra={"training": training.to_dict()})
    return save_checkpoint(mobilenet_v1(0.25, 32, num_classes=2).state_dict(), meta, tmp_path / "m.safetensors"), data


def test_eval_without_val_split_scores_the_held_out_images_and_says_so(checkpoint, capsys):
    from toolkit.imagefolder import scan_image_folder

    ckpt, data = checkpoint
    assert main(["eval", "--weights", str(ckpt), "--data", str(data)]) == 0
    out, err = capsys.readouterr()
    held_out = len(scan_image_folder(data, 0.2, 0).val)
    assert f"({held_out} images)" in out and held_out == 4  # 2 of each class's 10, as training held out
    assert f"scoring the {held_out} images held out when this model trained on it" in err


def test_eval_on_a_train_only_folder_says_it_scores_training_images(checkpoint, tmp_path, capsys):
    ckpt, _ = checkpoint
    for name in ("cat", "dog"):
        _images(tmp_path / "other" / "train" / name, 3)
    assert main(["eval", "--weights", str(ckpt), "--data", str(tmp_path / "other")]) == 0
    out, err = capsys.readouterr()
    assert "(6 images)" in out and "scoring the training images" in err


def test_eval_on_empty_class_folders(checkpoint, tmp_path, capsys):
    ckpt, _ = checkpoint
    for name in ("cat", "dog"):
        (tmp_path / "empty" / "val" / name).mkdir(parents=True)
    assert main(["eval", "--weights", str(ckpt), "--data", str(tmp_path / "empty")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "hold no images (cat, dog)" in line and "does not know" not in line
    _images(tmp_path / "empty" / "val" / "cat", 2)
    (tmp_path / "empty" / "val" / "bird").mkdir()  # an empty folder is not a class the model lacks
    assert main(["eval", "--weights", str(ckpt), "--data", str(tmp_path / "empty")]) == 0
    assert "(2 images)" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_H5PY, reason="needs h5py")
@pytest.mark.parametrize("layout", ["dataset-at-root", "dataset-named-in-layer_names", "dangling-weight-name",
                                    "model_weights-not-a-group", "1d-conv1-kernel"])  # fmt: skip
def test_valid_hdf5_with_the_wrong_layout_is_exit_2_in_one_line(tmp_path, capsys, layout):
    import h5py

    path = tmp_path / f"{layout}.h5"
    with h5py.File(path, "w") as f:
        if layout == "dataset-at-root":
            f["conv1"] = np.zeros(3)
        elif layout == "dataset-named-in-layer_names":
            f.attrs["layer_names"] = [b"conv1"]
            f["conv1"] = np.zeros(3)
        elif layout == "dangling-weight-name":
            f.create_group("conv1").attrs["weight_names"] = [b"conv1/kernel:0"]
        elif layout == "model_weights-not-a-group":
            f["model_weights"] = np.zeros(3)
        else:
            f.create_group("conv1")["kernel"] = np.zeros(3)
    assert main(["export", "-t", "onnx", "-a", "0.25", "-r", "32", "-w", str(path), "-o", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "internal error" not in line and path.name in line


def test_sweep_into_an_unwritable_dir_stores_nothing_and_says_so(tmp_path, capsys):
    db = tmp_path / "r.db"
    args = ["sweep", "--alphas", "0.25", "--resolutions", "32", "--output-dir", "/proc/x", "--db", str(db)]
    assert main(args) == 2
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    assert "cannot write to output dir /proc/x" in line and "stored" not in line
