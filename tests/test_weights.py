"""Weight sources: checkpoints load safely, mismatches and corrupt files fail with one line, offline is clear."""

from __future__ import annotations

import pickle
import socket

import pytest
import torch

from toolkit import mobilenet_v1
from toolkit.cli import main
from toolkit.data import sample_images
from toolkit.errors import ToolkitError, UsageError
from toolkit.weights import CheckpointMeta, imagenet_filename, load_checkpoint, resolve, save_checkpoint


def _meta(model, **kw):
    names = tuple(f"c{i}" for i in range(model.num_classes))
    base = dict(alpha=model.alpha, resolution=model.resolution, num_classes=model.num_classes, class_names=names)
    return CheckpointMeta(**{**base, **kw})


def test_safetensors_checkpoint_round_trip(tmp_path):
    src = mobilenet_v1(0.25, 64, num_classes=4, seed=3)
    path = save_checkpoint(src.state_dict(), _meta(src, extra={"metrics": {"top1": 0.5}}), tmp_path / "m.safetensors")
    model = mobilenet_v1(0.25, 64, weights=path)
    assert model.num_classes == 4 and model.class_names == ["c0", "c1", "c2", "c3"]
    assert model.weight_source.kind == "checkpoint" and len(model.weight_source.sha256) == 64
    assert model.weight_source.meta.extra["metrics"]["top1"] == 0.5
    x = torch.from_numpy(sample_images(64))
    with torch.no_grad():
        assert torch.equal(model(x), src(x))


def test_pt_checkpoint_loads_with_weights_only(tmp_path):
    src = mobilenet_v1(0.25, 64, seed=1)
    torch.save({"state_dict": src.state_dict()}, tmp_path / "m.pt")
    model = mobilenet_v1(0.25, 64, weights=tmp_path / "m.pt")
    assert torch.equal(model.conv1.conv.weight, src.conv1.conv.weight)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": _Evil()}, f)
    with pytest.raises(UsageError, match="cannot read checkpoint"):
        load_checkpoint(path)
    assert "pwned" not in capsys.readouterr().out


def test_corrupt_and_mismatched_checkpoints(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(UsageError, match="cannot read checkpoint"):
        mobilenet_v1(0.25, 64, weights=tmp_path / "bad.safetensors")
    src = mobilenet_v1(0.5, 64, num_classes=3)
    path = save_checkpoint(src.state_dict(), _meta(src), tmp_path / "a050.safetensors")
    with pytest.raises(UsageError, match=r"alpha 0\.5 checkpoint"):
        mobilenet_v1(0.25, 64, weights=path)
    with pytest.raises(UsageError, match="3 classes, not 10"):
        mobilenet_v1(0.5, 64, weights=path, num_classes=10)
    torch.save(src.state_dict(), tmp_path / "nometa.pt")
    with pytest.raises(UsageError, match="does not match"):
        mobilenet_v1(0.25, 64, weights=tmp_path / "nometa.pt")


def test_unknown_sources(tmp_path):
    with pytest.raises(UsageError, match="weights not found"):
        resolve(tmp_path / "missing.safetensors", 1.0, 224)
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(UsageError, match="unknown weights file type"):
        resolve(tmp_path / "w.bin", 1.0, 224)
    with pytest.raises(UsageError, match="ImageNet weights exist only for alpha"):
        imagenet_filename(0.6, 224)
    assert imagenet_filename(0.5, 160) == "mobilenet_5_0_160_tf.h5"
    assert imagenet_filename(0.25, 96, include_top=False) == "mobilenet_2_5_224_tf_no_top.h5"


def test_offline_imagenet_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(ToolkitError, match=r"cannot download https://storage\.googleapis\.com/.*--weights PATH"):
        resolve("imagenet", 0.5, 160)
    assert not any((tmp_path / "weights").iterdir())


def test_cached_imagenet_file_is_used_and_verified(tmp_path, monkeypatch):
    """A file already in the cache is used without network; its sha256 is recorded."""
    pytest.importorskip("h5py")
    from tests._keras_models import keras_mobilenet, save_keras3_weights

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path))
    (tmp_path / "weights").mkdir()
    save_keras3_weights(keras_mobilenet(0.25, 128), tmp_path / "weights" / imagenet_filename(0.25, 128))
    model = mobilenet_v1(0.25, 128, weights="imagenet")
    assert model.weight_source.kind == "imagenet" and model.class_names[0] == "tench"


def test_cli_reports_bad_weights_in_one_line(tmp_path, capsys):
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    from toolkit.keras_h5 import read_h5

    with pytest.raises(UsageError, match="not a readable HDF5"):
        read_h5(tmp_path / "x.h5")
    assert main(["info", "--alpha", "0"]) == 2
    err = capsys.readouterr().err
    assert "alpha must be in (0, 1]" in err and "Traceback" not in err
