"""Per-operator profiles on real exported MobileNets: the rows add up to the measured latency.

The bar (issue 11): a profile's sum is within 10% of the end-to-end latency measured without the
profiler, interleaved with the profiled runs so both see the same machine load. One thread, so the
noisy-neighbour effect of a shared 2-core machine stays out of the comparison. ONNX Runtime is held
to the bar at 1.0-224: its profiler formats shapes and thread statistics inside every kernel's own
time window (~10 µs per node), which a 0.3 ms model cannot hide and a 12 ms one can; at small sizes
the profile says so (tested below) instead of pretending.
"""

from __future__ import annotations

import pytest

from tests._export_helpers import exported
from toolkit._deps import HAS_EXECUTORCH, HAS_ONNXRUNTIME
from toolkit.errors import UsageError
from toolkit.profile.ops import OpsProfile, check_ops_supported, load_ops_json, profile_ops, write_ops_json

pytestmark = pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed")


@pytest.fixture(scope="module")
def et_profile() -> OpsProfile:
    if not HAS_EXECUTORCH:
        pytest.skip("executorch not installed")
    return profile_ops(exported("executorch", 0.25, 64).path, threads=1, runs=80, warmup=10)


@pytest.fixture(scope="module")
def ort_small() -> OpsProfile:
    return profile_ops(exported("onnx", 0.25, 64).path, threads=1, runs=60, warmup=10)


def _by_type(prof: OpsProfile) -> dict[str, int]:
    return {r.op_type: r.calls for r in prof.by_type()}


def test_executorch_profile_accounts_for_every_operator(et_profile):
    """Counts and shares are exact; how the times add up against end-to-end latency is a timing figure,
    measured by benchmarks/bench_harness.py, not asserted here."""
    p = et_profile
    assert p.runtime == "executorch" and p.threads == 1 and p.variant == "mobilenet_v1-a0.25-r64"
    assert p.total_us > 0 and p.end_to_end_us > 0 and 0 < p.operators_us <= p.total_us
    # XNNPACK's own per-operator events (the pip wheel has them): the graph's 13 depthwise convs, the
    # stem conv and 13 pointwise convs + the classifier as fully-connected GEMMs
    types = _by_type(p)
    assert types["Convolution (NHWC, F32) DWConv"] == 13 and types["Convolution (NHWC, F32) IGEMM"] == 1
    assert types["Fully Connected (NC, F32) GEMM"] == 14
    assert {"(delegate overhead)", "(Python binding)", "(runtime overhead)"} <= set(types)
    assert sum(o.share for o in p.ops) == pytest.approx(1.0)
    assert all(o.total_us > -1.0 for o in p.ops)  # remainders are measured, not forced to fit


def test_onnxruntime_profile_counts_every_operator_at_full_size():
    p = profile_ops(exported("onnx", 1.0, 224).path, threads=1, runs=30, warmup=5)
    types = _by_type(p)
    assert types["Conv"] == 27 and types["Gemm"] == 1  # 1 stem + 13 depthwise + 13 pointwise
    assert sum(r.share for r in p.by_type()) == pytest.approx(1.0)


# Nodes ONNX Runtime adds itself when its NCHWc layout pass runs (how many depends on the CPU's vector width
# and the ORT release: 1 or 2 ReorderOutput for this graph), not nodes of the exported model.
_ORT_LAYOUT_NODES = {"ReorderInput", "ReorderOutput"}


def test_onnxruntime_small_model_names_its_profiler_overhead(ort_small):
    from toolkit.profile.ops import OpProfile, _ort_note

    p = ort_small
    graph = exported("onnx", 0.25, 64).manifest["backend"]["ops_by_type"]  # the exported graph's own nodes
    ours = {t: n for t, n in _by_type(p).items() if not t.startswith("(") and t not in _ORT_LAYOUT_NODES}
    # one row per exported node, each Clip (ReLU6) fused into its Conv by ORT's graph optimizer
    assert ours == {t: n for t, n in graph.items() if t != "Clip"} and graph["Clip"] == ours["Conv"] == 27
    # the note, on exact figures: 31 kernels summing to 400 µs against 300 µs unprofiled
    rows = [OpProfile(f"n{i}", "Conv", 1, 400 / 31, 1 / 32) for i in range(31)] + [OpProfile("b", "(binding)", 1, 0, 0)]
    note = _ort_note(rows, profiled_us=362.0, end_to_end_us=300.0)
    assert note and "~2 µs per node here: profiled run 362 µs vs 300 µs unprofiled" in note and "\n" not in note
    assert _ort_note(rows, profiled_us=362.0, end_to_end_us=380.0) is None  # within 10%: nothing to say


def test_runtimes_without_a_profiler_refuse_in_one_line(tmp_path):
    for name, words in (("m.tflite", "LiteRT Python interpreter"), ("m.mlpackage", "coremltools")):
        with pytest.raises(UsageError, match=words) as e:
            check_ops_supported(tmp_path / name)
        assert "\n" not in str(e.value)
    with pytest.raises(UsageError, match="unknown artifact type"):
        check_ops_supported(tmp_path / "m.bin")
    with pytest.raises(UsageError, match="not found"):
        check_ops_supported(tmp_path / "missing.onnx")


def test_json_roundtrip_and_report_section(tmp_path, ort_small, et_profile):
    from toolkit.report import write_report

    path = write_ops_json([ort_small, et_profile], tmp_path / "ops.json")
    back = load_ops_json(path)
    assert [b.to_dict() for b in back] == [ort_small.to_dict(), et_profile.to_dict()]
    written = write_report([], tmp_path / "rep", ("html", "md"), op_profiles=back)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Where time goes, per operator" in md and "| Conv | 27 |" in md
    assert "Convolution (NHWC, F32) DWConv | 13" in md
    png = tmp_path / "rep" / "plots" / "per_operator_time.png"
    assert png in written and png.read_bytes()[:4] == b"\x89PNG"
    assert "data:image/png;base64" in (tmp_path / "rep" / "report.html").read_text()
    (tmp_path / "bad.json").write_text('{"kind": "something-else"}')
    with pytest.raises(UsageError, match="not a per-operator profile file"):
        load_ops_json(tmp_path / "bad.json")


def test_cli_profile_ops_writes_json_and_report(tmp_path, capsys):
    from toolkit.cli import main

    onnx = exported("onnx", 0.25, 64).path
    out = tmp_path / "ops.json"
    args = ["profile", str(onnx), "--ops", "--json", str(out), "--no-store", "-n", "20", "--warmup", "3"]
    assert main([*args, "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "where time goes" in text and "slowest 10 operators" in text and "end-to-end (unprofiled" in text
    assert load_ops_json(out)[0].runtime == "onnxruntime"
    assert main(["report", "--ops", str(out), "--out", str(tmp_path / "r"), "--db", str(tmp_path / "e.db")]) == 0
    assert "Where time goes" in (tmp_path / "r" / "report.md").read_text()
    # refusals come before any measuring, as one line with exit code 2
    assert main(["profile", str(onnx), "--json", str(out), "--no-store"]) == 2
    assert main(["profile", str(tmp_path / "m.tflite"), "--ops", "--no-store"]) == 2
    assert "no per-operator profile for m.tflite" in capsys.readouterr().err
