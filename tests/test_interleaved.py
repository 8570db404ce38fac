"""Interleaved host timing (what the latency model is fitted on): schema records, and artifact reuse decided
by the export pipeline's cache key alone."""

from __future__ import annotations

import pytest

from tests._export_helpers import exported
from toolkit._deps import HAS_ONNXRUNTIME
from toolkit.profile.interleaved import measure_interleaved
from toolkit.schemas import result_schema_problem
from toolkit.variants import Variant


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed")
def test_interleaved_records_and_pipeline_reuse() -> None:
    variants = [Variant(0.25, 32), Variant(0.25, 64)]
    for v in variants:  # the session's shared exports (same seeded weights): the pipeline's cache must take them
        shared = exported("onnx", v.alpha, v.resolution).path.parent
    files = {p.name: p.stat().st_mtime_ns for p in shared.iterdir()}
    recs = measure_interleaved(variants, "onnx", threads=1, warmup=1, iterations=6, rounds=3, artifacts_dir=shared)
    assert [r["artifact"]["variant"] for r in recs] == [v.name for v in variants]
    for r in recs:
        assert result_schema_problem(r) is None
        assert r["config"]["threads"] == 1 and len(r["latency_ms"]) == r["stats"]["n"] == 6
        assert r["rounds"]["rounds"] == 3 and r["rounds"]["runs_per_round"] == [2, 2, 2]
    assert {p.name: p.stat().st_mtime_ns for p in shared.iterdir()} == files  # reused, nothing rewritten
    assert recs[0]["artifact"]["sha256"] == exported("onnx", 0.25, 32).manifest["artifact"]["sha256"]
