"""``toolkit train`` / ``toolkit eval`` end to end, and every bad input ending in one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests._digits import DIGITS_RES, digits_folder  # noqa: F401 - pytest fixture
from toolkit.cli import main
from toolkit.errors import UsageError
from toolkit.imagefolder import scan_image_folder
from toolkit.train import TrainConfig, train

FAST = ["--alpha", "0.25", "--resolution", str(DIGITS_RES), "--weights", "random", "--no-hflip", "--batch-size", "16",
        "--threads", "1", "--workers", "0", "--no-progress"]  # fmt: skip


def _small(src: Path, dst: Path, n_train: int = 8, n_val: int = 3, classes: int = 10) -> Path:
    for split, n in (("train", n_train), ("val", n_val)):
        for cls in sorted((src / split).iterdir())[:classes]:
            (dst / split / cls.name).mkdir(parents=True, exist_ok=True)
            for p in sorted(cls.iterdir())[:n]:
                shutil.copy(p, dst / split / cls.name / p.name)
    return dst


@pytest.fixture(scope="module")
def tiny(digits_folder, tmp_path_factory) -> Path:  # noqa: F811
    return _small(digits_folder, tmp_path_factory.mktemp("tiny"))


def test_cli_train_then_eval(tiny, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(tiny), "--epochs", "1", "--output", str(out), *FAST]) == 0
    assert out.is_file() and out.with_name("m.state.pt").is_file()
    assert "val top-1" in capsys.readouterr().out
    assert main(["eval", "--weights", str(out), "--data", str(tiny)]) == 0
    text = capsys.readouterr().out
    assert "top-1" in text and "(30 images)" in text


def test_val_split_is_deterministic_and_stratified(tiny):
    a = scan_image_folder(tiny / "train", val_split=0.25, seed=1)
    b = scan_image_folder(tiny / "train", val_split=0.25, seed=1)
    assert a.val == b.val and a.layout == "split"
    assert len(a.val) == 20 and len(a.train) == 60  # 2 of 8 per class
    assert {label for _, label in a.val} == set(range(10))
    assert not {p for p, _ in a.val} & {p for p, _ in a.train}


def test_unreadable_images_are_skipped_and_counted(tiny, tmp_path):
    data = shutil.copytree(tiny, tmp_path / "data")
    (data / "train" / "3" / "broken.png").write_bytes(b"not a png at all")
    (data / "val" / "1" / "empty.jpg").write_bytes(b"")
    split = scan_image_folder(data)
    assert len(split.skipped) == 2 and len(split.train) == 80
    res = train(TrainConfig(data=data, output=tmp_path / "o.safetensors", alpha=0.25, resolution=32, weights="random",
                            epochs=1, batch_size=16, workers=0, threads=1, progress=False))  # fmt: skip
    assert res.skipped_images == 2 and res.best["n_val"] == 30


@pytest.mark.parametrize("layout", ["empty", "flat_files", "one_class", "missing"])
def test_bad_folders_are_usage_errors(layout, tiny, tmp_path, capsys):
    data = tmp_path / "data"
    if layout != "missing":
        data.mkdir()
    if layout == "flat_files":
        for p in sorted((tiny / "train" / "0").iterdir())[:3]:
            shutil.copy(p, data / p.name)
    if layout == "one_class":
        shutil.copytree(tiny / "train" / "0", data / "0")
    with pytest.raises(UsageError):
        scan_image_folder(data)
    assert main(["train", "--data", str(data), "--output", str(tmp_path / "x.safetensors"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_mismatched_checkpoints_are_one_line(tiny, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(tiny), "--epochs", "1", "--output", str(out), *FAST]) == 0
    capsys.readouterr()
    # resume at another α / ρ
    args = ["train", "--data", str(tiny), "--output", str(out), "--resume", *FAST]
    assert main([*args, "--alpha", "0.5"]) == 2
    assert "resume with --alpha 0.25" in capsys.readouterr().err
    # resume on data with another class count
    fewer = _small(tiny, tmp_path / "fewer", classes=4)
    assert main(["train", "--data", str(fewer), "--output", str(out), "--resume", *FAST]) == 2
    assert "10 classes" in capsys.readouterr().err
    # eval at another α, and on classes the checkpoint never saw
    assert main(["eval", "--weights", str(out), "--data", str(tiny), "--alpha", "0.5"]) == 2
    assert "alpha 0.25" in capsys.readouterr().err
    odd = tmp_path / "odd"
    shutil.copytree(tiny / "val" / "1", odd / "cat")
    assert main(["eval", "--weights", str(out), "--data", str(odd)]) == 2
    assert "cat" in capsys.readouterr().err
    # nothing to resume
    assert main(["train", "--data", str(tiny), "--output", str(tmp_path / "new.safetensors"), "--resume", *FAST]) == 2


def test_bad_options_are_usage_errors(tiny, tmp_path):
    with pytest.raises(UsageError, match="batch-size"):
        TrainConfig(data=tiny, batch_size=1)
    with pytest.raises(UsageError, match="safetensors"):
        TrainConfig(data=tiny, output=tmp_path / "x.pt")
    with pytest.raises(UsageError, match="teacher-weights"):
        train(TrainConfig(data=tiny, alpha=0.25, resolution=32, weights="random", output=tmp_path / "s.safetensors",
                          teacher="mobilenet_v1-a0.50-r32", batch_size=16, workers=0, progress=False))  # fmt: skip


def test_finetune_checkpoint_on_other_classes_gets_new_head(tiny, tmp_path):
    from toolkit.weights import load_checkpoint

    base = tmp_path / "base.safetensors"
    assert main(["train", "--data", str(tiny), "--epochs", "1", "--output", str(base), *FAST]) == 0
    fewer = _small(tiny, tmp_path / "fewer", n_train=8, classes=4)
    out = tmp_path / "ft.safetensors"
    args = [a if a != "random" else str(base) for a in FAST]
    assert main(["train", "--data", str(fewer), "--epochs", "1", "--output", str(out), "--lr", "1e-3", *args]) == 0
    state, meta = load_checkpoint(out)
    assert meta.num_classes == 4 and meta.class_names == ("0", "1", "2", "3")
    assert state["classifier.weight"].shape == (4, 256)
    assert meta.extra["parent_weights"] == str(base)
