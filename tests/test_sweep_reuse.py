"""The sweep reuses an artifact on disk exactly when the export pipeline would: one rule, its cache key.

Before, the sweep checked only the weights' seed and the file's sha256, so after a toolkit or runtime
upgrade, or with other export options, it timed a stale artifact.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests._export_helpers import exported
from toolkit._deps import HAS_ONNXRUNTIME
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.sweep import SweepConfig, _reusable, plan, run_sweep
from toolkit.results import ResultsDB

pytestmark = pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="needs the onnx extra")


@pytest.fixture
def sweep_dir(tmp_path):
    """A copy of an up-to-date onnx artifact of 0.25-32 (random weights, seed 0) with its manifest and labels."""
    res = exported("onnx", 0.25, 32)
    for p in res.path.parent.glob(res.path.name + "*"):
        shutil.copy2(p, tmp_path / p.name)
    return tmp_path


def _cfg(out_dir, **kw) -> SweepConfig:
    return SweepConfig(alphas=(0.25,), resolutions=(32,), targets=("onnx",), output_dir=out_dir, threads=1,
                       profile=ProfileConfig(warmup=1, iterations=3), **kw)  # fmt: skip


def test_an_up_to_date_artifact_is_reused(sweep_dir):
    cfg = _cfg(sweep_dir)
    assert list(_reusable(plan(cfg), cfg).values()) == [sweep_dir / "mobilenet_v1-a0.25-r32-onnx-fp32.onnx"]


def test_other_weights_a_changed_default_option_or_toolkit_version_are_not_reused(sweep_dir, monkeypatch):
    import toolkit
    import toolkit.export.onnx as onnx_exporter

    cfg = _cfg(sweep_dir)
    assert _reusable(plan(cfg), _cfg(sweep_dir, seed=1)) == {}  # other tensors
    with monkeypatch.context() as m:
        m.setattr(onnx_exporter, "DEFAULT_OPSET", onnx_exporter.DEFAULT_OPSET + 1)  # an export option
        assert _reusable(plan(cfg), cfg) == {}
    with monkeypatch.context() as m:
        m.setattr(toolkit, "__version__", toolkit.__version__ + ".post1")
        assert _reusable(plan(cfg), cfg) == {}
    assert len(_reusable(plan(cfg), cfg)) == 1  # and nothing else changed


def test_a_changed_tool_version_makes_the_sweep_re_export(sweep_dir, monkeypatch):
    """Same seed, same bytes on disk: the old rule reused it; the sweep now exports again, then measures."""
    from toolkit.export.onnx import OnnxExporter

    manifest = sweep_dir / "mobilenet_v1-a0.25-r32-onnx-fp32.onnx.manifest.json"
    real = OnnxExporter.tool_versions
    monkeypatch.setattr(OnnxExporter, "tool_versions", lambda self: {**real(self), "onnx": "99.0"})
    builds = []

    def progress(phase, total, label, status=False):
        if phase == "build" and label == "":
            builds.append(total)

    with ResultsDB(sweep_dir / "results.db") as db:
        out = run_sweep(_cfg(sweep_dir), db, progress=progress)
        assert builds == [1] and not out.failures and len(out.measured) == 1
        assert json.loads(manifest.read_text())["versions"]["onnx"] == "99.0"
        builds.clear()
        again = run_sweep(_cfg(sweep_dir), db, progress=progress)  # now up to date and measured: nothing to do
        assert builds == [0] and again.already == 1 and not again.measured
