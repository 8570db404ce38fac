"""The shared pipeline: naming, manifest (schema + recomputed facts), cache, --force, atomicity, bad input, CLI.

The fast ONNX backend stands in for every target here; the pipeline code is the same for all four.
"""

from __future__ import annotations

import json
import shutil

import pytest

from toolkit._deps import HAS_ONNX, HAS_ONNXRUNTIME

needs_onnx = pytest.mark.skipif(not (HAS_ONNX and HAS_ONNXRUNTIME), reason="pip install 'mobilenet-toolkit[onnx]'")


def _onnx():
    from tests._export_helpers import exported

    return exported("onnx", 0.25, 64)


def _copy_artifact(res, dest):
    """The artifact with its manifest and labels, copied to ``dest``."""
    for p in res.path.parent.glob(res.path.name + "*"):
        shutil.copy2(p, dest / p.name)
    return dest / res.path.name


@needs_onnx
def test_manifest_matches_schema_and_recomputed_facts():
    from toolkit.cost import count
    from toolkit.data import TF_PREPROCESSING
    from toolkit.export.manifest import tree_sha256, validate_manifest
    from toolkit.runtimes import read_manifest

    res = _onnx()
    m = read_manifest(res.path)
    assert m == res.manifest
    validate_manifest(m)
    assert m["artifact"]["sha256"] == tree_sha256(res.path) and m["artifact"]["size_bytes"] == res.path.stat().st_size
    assert m["cost"]["macs"] == count(0.25, 64).macs and m["cost"]["params"] == count(0.25, 64).params_paper
    assert (m["variant"]["alpha"], m["variant"]["resolution"], m["variant"]["num_classes"]) == (0.25, 64, 1000)
    assert m["input"] == {"shape": [1, 3, 64, 64], "layout": "nchw", "dtype": "float32", "color": "RGB"}
    assert m["preprocessing"] == json.loads(json.dumps(TF_PREPROCESSING.to_dict()))
    assert m["weights"]["kind"] == "random" and m["weights"]["seed"] == 0
    assert m["versions"]["onnx"] and m["versions"]["torch"] and m["runtime"]["name"] == "onnxruntime"
    labels = (res.path.parent / m["labels_file"]).read_text().splitlines()
    assert len(labels) == 1000 and labels[0] == "tench"
    assert not [p for p in res.path.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers


@needs_onnx
def test_cache_hit_reuses_bytes_and_force_rebuilds(tmp_path):
    from tests._export_helpers import model
    from toolkit.export import ExportConfig, export
    from toolkit.export.onnx import OnnxExporter

    path = _copy_artifact(_onnx(), tmp_path)
    before = path.stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("a cache hit must not export")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(OnnxExporter, "export", no_export)
        hit = export(model(0.25, 64), ExportConfig(target="onnx", output_dir=tmp_path), progress=False)
    assert hit.cache_hit and hit.path == path and path.stat().st_mtime_ns == before
    forced = export(model(0.25, 64), ExportConfig(target="onnx", output_dir=tmp_path, force=True, verify=False),
                    progress=False)  # fmt: skip
    assert not forced.cache_hit and path.stat().st_mtime_ns != before
    assert forced.manifest["parity"] is None and "--no-verify" in forced.manifest["warnings"][0]
    checked = export(model(0.25, 64), ExportConfig(target="onnx", output_dir=tmp_path), progress=False)
    assert not checked.cache_hit and checked.manifest["parity"]["passed"]  # unverified bytes are not reused
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, path.name + ".manifest.json", path.name + ".labels.txt"]
    )


@needs_onnx
def test_cache_misses_on_other_weights_options_or_tampered_bytes(tmp_path):
    from tests._export_helpers import model
    from toolkit.export import ExportConfig, get_exporter
    from toolkit.export.manifest import cache_key
    from toolkit.export.pipeline import _cached

    exp, cfg = get_exporter("onnx"), ExportConfig(target="onnx")
    key = cache_key(model(0.25, 64), exp, cfg, "fp32")
    assert key == _onnx().manifest["cache_key"]
    assert key != cache_key(model(0.25, 64, seed=1), exp, cfg, "fp32")
    assert key != cache_key(model(0.25, 64), exp, ExportConfig(target="onnx", dynamic_batch=True), "fp32")
    assert key == cache_key(model(0.25, 64), exp, ExportConfig(target="onnx", layout="nchw"), "fp32")  # unused
    path = _copy_artifact(_onnx(), tmp_path)
    assert _cached(path, key) is not None
    with open(path, "ab") as f:
        f.write(b"\0")
    assert _cached(path, key) is None


@needs_onnx
def test_failed_parity_leaves_nothing_behind(tmp_path, monkeypatch):
    from tests._export_helpers import model
    from toolkit.errors import ToolkitError
    from toolkit.export import ExportConfig, export
    from toolkit.verify import TOLERANCES, Tolerance

    monkeypatch.setitem(TOLERANCES, "fp32", Tolerance(max_rel_abs_err=0.0))  # bit-exact: ORT cannot meet it
    with pytest.raises(ToolkitError, match=r"failed parity \(fp32\): max abs error"):
        export(model(0.25, 64), ExportConfig(target="onnx", output_dir=tmp_path), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_directory_artifacts_hash_stably_and_replace_whole(tmp_path):
    from tests._export_helpers import model
    from toolkit.export.manifest import tree_sha256
    from toolkit.export.pipeline import _install

    def package(root, weights):
        (root / "Data").mkdir(parents=True)
        (root / "Manifest.json").write_text("{}")
        (root / "Data" / "weights.bin").write_bytes(weights)
        return root

    a, b = package(tmp_path / "a.mlpackage", b"1234"), package(tmp_path / "b.mlpackage", b"1234")
    assert tree_sha256(a) == tree_sha256(b)
    (b / "Data" / "weights.bin").write_bytes(b"1235")
    assert tree_sha256(a) != tree_sha256(b)
    final = tmp_path / "out" / "m.mlpackage"
    package(final, b"old")
    (final / "Data" / "stale.bin").write_bytes(b"x")
    _install(b, final, {"x": 1}, model(0.25, 64))
    assert not b.exists() and not (final / "Data" / "stale.bin").exists()
    assert (final / "Data" / "weights.bin").read_bytes() == b"1235"
    assert json.loads((final.parent / "m.mlpackage.manifest.json").read_text()) == {"x": 1}
    assert [p.name for p in final.parent.iterdir() if p.name.startswith(".")] == []


def test_unwritable_output_dir_is_one_line_usage_error(tmp_path):
    from tests._export_helpers import model
    from toolkit.errors import UsageError
    from toolkit.export import ExportConfig, export

    blocker = tmp_path / "a-file"
    blocker.write_text("not a dir")
    with pytest.raises(UsageError, match="cannot write to output dir") as info:
        export(model(0.25, 64), ExportConfig(target="onnx", output_dir=blocker / "sub"), progress=False)
    assert "\n" not in str(info.value)


def test_unknown_target_and_precision_list_valid_ones():
    from toolkit.errors import UsageError
    from toolkit.export import ExportConfig

    with pytest.raises(UsageError, match="executorch, coreml, tflite, onnx, all"):
        ExportConfig(target="tensorrt")
    with pytest.raises(UsageError, match="fp32, fp16, int8"):
        ExportConfig(target="onnx", precision="bf16")


# ---- CLI, end to end --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "tensorrt"], "choose one of: executorch, coreml, tflite, onnx, all"),
        (["--target", "onnx", "--precision", "fp16"], "onnx does not support precision 'fp16'; choose one of: fp32"),
        (["--target", "onnx", "--alpha", "1.5"], "alpha"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    from toolkit.cli import main

    out = tmp_path / "out"
    code = main(["export", *args, "--weights", "random", "--resolution", "64", "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or list(out.iterdir()) == []


def test_cli_checkpoint_alpha_mismatch(tmp_path, capsys):
    from tests._export_helpers import model
    from toolkit.cli import main
    from toolkit.weights import CheckpointMeta, save_checkpoint

    ckpt = save_checkpoint(model(0.25, 64).state_dict(), CheckpointMeta(0.25, 64, 1000), tmp_path / "ft.safetensors")
    out = tmp_path / "out"
    code = main(["export", "-t", "onnx", "-a", "0.5", "-r", "64", "-w", str(ckpt), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "alpha 0.25 checkpoint" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or list(out.iterdir()) == []


@needs_onnx
def test_cli_export_verify_predict(tmp_path, capsys):
    import numpy as np

    from tests._export_helpers import model
    from toolkit.cli import main
    from toolkit.data import load_batch, sample_image_paths
    from toolkit.verify import reference_logits

    path = _copy_artifact(_onnx(), tmp_path)
    code = main(["export", "-t", "onnx", "-a", "0.25", "-r", "64", "-w", "random", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "hit" in out and path.name in out.replace("\n", "") and "OrtSession" in out
    assert main(["verify", str(path)]) == 0 and "parity holds" in capsys.readouterr().out
    photo = sample_image_paths()[0]
    assert main(["predict", str(path), str(photo)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    ref = reference_logits(model(0.25, 64), load_batch([photo], 64))[0]
    labels = (tmp_path / (path.name + ".labels.txt")).read_text().splitlines()
    assert lines[0].endswith(labels[int(np.argmax(ref))])  # the artifact's top-1 is PyTorch's top-1
    assert main(["predict", str(path), str(tmp_path / "missing.jpg")]) == 2


@pytest.mark.slow
def test_cli_target_all_exports_every_installed_target(tmp_path, capsys):
    from toolkit.cli import main
    from toolkit.export.base import TARGETS
    from toolkit.export.manifest import validate_manifest
    from toolkit.runtimes import read_manifest

    code = main(["export", "-t", "all", "-a", "0.25", "-r", "64", "-w", "random", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    artifacts = [p for p in tmp_path.iterdir() if not p.name.endswith((".json", ".txt"))]
    exported = {read_manifest(p)["target"] for p in artifacts}
    skipped = {t for t in TARGETS if f"skipped {t}" in out}
    assert exported | skipped == set(TARGETS) and not exported & skipped
    for p in artifacts:
        validate_manifest(read_manifest(p))
