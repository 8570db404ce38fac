"""Host measurement in rounds on real tiny artifacts: one worker per runtime, samples in time order per round,
the between-round interval, the machine's load, peak memory from a fresh process, a broken artifact alone failing."""

from __future__ import annotations

import itertools
import statistics

import pytest

from tests._export_helpers import exported
from toolkit._deps import HAS_EXECUTORCH, HAS_ONNXRUNTIME
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.rounds import measure_host
from toolkit.schemas import validate_record

pytestmark = pytest.mark.skipif(not (HAS_EXECUTORCH and HAS_ONNXRUNTIME), reason="needs executorch and onnxruntime")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    pte, onnx = exported("executorch", 0.25, 32).path, exported("onnx", 0.25, 32).path
    broken = tmp_path_factory.mktemp("broken") / onnx.name
    broken.write_bytes(b"\x00garbage" * 64)
    broken.with_name(onnx.name + ".manifest.json").write_text(onnx.with_name(onnx.name + ".manifest.json").read_text())
    res = measure_host([pte, broken, onnx], ProfileConfig(warmup=1, iterations=12, rounds=3), 1)
    return res, pte, onnx, broken


def test_a_broken_artifact_fails_alone(measured):
    res, _pte, _onnx, broken = measured
    assert res.records[1] is None and len(res.failures) == 1
    assert res.failures[0].startswith(f"{broken.name}: cannot load {broken.name} in ONNX Runtime")


def test_rounds_hold_the_samples_in_time_order(measured):
    res = measured[0]
    for rec in (res.records[0], res.records[2]):
        validate_record(rec)
        r = rec["rounds"]
        assert r["rounds"] == 3 and r["runs_per_round"] == [4, 4, 4] and r["dof"] == 2 and r["rewarm"] == 2
        assert r["reloaded"] is False
        assert r["medians_ms"] == [statistics.median(rec["latency_ms"][i : i + 4]) for i in (0, 4, 8)]
        assert rec["stats"]["n"] == 12 and r["low_ms"] <= rec["stats"]["median_ms"] <= r["high_ms"]
        assert rec["config"]["threads"] == 1 and rec["config"]["threads_chosen_by"] == "user"
        env = rec["environment"]
        assert env["timed_s"] > 0 and env["other_share"] is not None and env["cores"] >= 1
        assert env["timed_s"] >= sum(rec["latency_ms"]) / 1e3  # the counted windows hold every timed run
        assert ("busy" in rec["flags"]) == (env["other_share"] > env["busy_threshold"])
    assert res.records[0]["runtime"]["name"] == "executorch" and res.records[2]["runtime"]["name"] == "onnxruntime"


def test_the_cpu_counters_are_read_where_the_artifact_changes(measured):
    """One window per run of consecutive slices of one artifact, each starting where the one before ended."""
    from toolkit.profile.worker import _load, _slices, _State

    onnx = measured[2]
    state = _State()
    _load(state, [("a", str(onnx), 1), ("b", str(onnx), 1)], 0)
    got = _slices(state, [("a", 2, None, 0), ("a", 2, None, 0), ("b", 2, None, 1), ("a", 2, None, 0)])
    assert [len(g["samples"]) for g in got] == [2, 2, 2, 2]
    assert ["cpu" in g for g in got] == [False, True, True, True]
    windows = [g["cpu"] for g in got if "cpu" in g]
    assert all(w[0] == prev[1] for prev, w in itertools.pairwise(windows))  # contiguous: nothing counted twice
    wall = [end[2] - start[2] for start, end in windows]
    assert wall[0] >= sum(got[0]["samples"] + got[1]["samples"]) / 1e3 and all(w > 0 for w in wall)


def test_a_reloading_slice_times_a_new_instance_at_a_new_heap_position(measured):
    """Side by side, every round loads the model afresh (a new layout each round), then re-warms it."""
    from toolkit.profile.worker import _load, _slices, _State

    state = _State()
    _load(state, [("a", str(measured[2]), 1)], 0)
    first = state.runners["a"][0]
    got = _slices(state, [("a", 3, None, 2, True)])
    second = state.runners["a"][0]
    assert second is not first and len(got[0]["samples"]) == 3 and "cpu" in got[0]
    pad = len(state.pads["a"])
    _slices(state, [("a", 1, None, 0, True), ("a", 1, None, 0, False)])
    assert state.runners["a"][0] is not second and 16 <= len(state.pads["a"]) < 1 << 20
    assert pad % 16 == 0


def test_peak_memory_comes_from_a_fresh_process_and_is_plausible(measured):
    """Not the in-process RSS delta that read 0.0 MB for ExecuTorch: each artifact in a fresh process holds at
    least its own weights (the file's size) resident, and far less than a whole model zoo."""
    res, pte, onnx, _ = measured
    for rec, path in ((res.records[0], pte), (res.records[2], onnx)):
        assert rec["peak_memory_method"] == "fresh_process_hwm"
        assert path.stat().st_size / 2**20 <= rec["peak_memory_mb"] < 300
        assert rec["load_ms"] > 0 and rec["first_inference_ms"] > 0
    # ExecuTorch's own plan: the input (1×3×32×32 float) and output (1000 floats), plus alignment below 1 KiB
    planned = res.records[0]["runtime_memory_mb"]["planned_buffers"] * 2**20
    assert (3 * 32 * 32 + 1000) * 4 <= planned <= (3 * 32 * 32 + 1000) * 4 + 1024
    assert "runtime_memory_mb" not in res.records[2]  # ONNX Runtime's Python API reports no arena figures


def test_each_timed_inference_is_paired_with_its_frames_preprocessing(measured):
    """The host reports the camera-to-scores split the apps report: one preprocessing time per timed inference
    (resize, crop, normalize, write in the artifact's layout), measured in the same loop, never folded in."""
    res = measured[0]
    for rec, layout in ((res.records[0], "nhwc"), (res.records[2], "nchw")):
        pre = rec["preprocess"]
        assert len(pre["latency_ms"]) == len(rec["latency_ms"]) == pre["stats"]["n"] == 12
        assert all(s > 0 for s in pre["latency_ms"])
        assert pre["steps"].startswith("resize ")
        assert pre["steps"].endswith(f"crop 32, normalize, write float32 {layout}")


def test_a_photo_frame_is_the_profile_input():
    """What each timed iteration feeds is exactly what verification and a single profile feed (same photo,
    same preprocessing, same layout), so pairing preprocessing with inference changes no input."""
    import numpy as np

    from toolkit.profile.runner import PhotoFrame, profile_input
    from toolkit.runtimes import read_manifest

    manifest = read_manifest(exported("executorch", 0.25, 32).path)
    frame = PhotoFrame(manifest)
    x = frame()
    assert x.shape == (1, 32, 32, 3) and x.dtype == np.float32 and x.std() > 0.1
    np.testing.assert_array_equal(x, profile_input(manifest))
    assert frame() is not x  # a new buffer per frame, as a camera would deliver
