"""The measurement loop and host backend on a real tiny ONNX MobileNet; thermal gate; CLI profile."""

from __future__ import annotations

import json

import pytest

from tests._export_helpers import exported
from toolkit.errors import UsageError
from toolkit.profile.devices import get_device
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.runner import measure, profile_input, thermal_gate


@pytest.fixture(scope="module")
def artifact():
    return exported("onnx", 0.25, 32).path


def test_measure_counts_and_times(artifact):
    from toolkit.runtimes import open_runner, read_manifest

    x = profile_input(read_manifest(artifact))
    assert x.shape == (1, 3, 32, 32) and x.std() > 0.1  # a real photo, not zeros
    m = measure(lambda: open_runner(artifact), x, ProfileConfig(warmup=3, iterations=25))
    assert len(m.samples_ms) == 25 and min(m.samples_ms) > 0
    assert m.load_ms > 0 and m.first_inference_ms > 0 and m.runtime == "onnxruntime"
    assert m.peak_memory_mb is not None and m.peak_memory_mb >= 0
    timed = measure(lambda: open_runner(artifact), x, ProfileConfig(warmup=0, duration_s=0.3))
    assert len(timed.samples_ms) >= 2 and sum(timed.samples_ms) >= 0.25 * 1000 * 0.3


def test_thermal_gate_waits_then_records_and_warns():
    now = [0.0]
    temps = iter([80.0, 75.0, 60.0])
    sleep = lambda s: now.__setitem__(0, now[0] + s)  # noqa: E731
    notes = thermal_gate(lambda: next(temps), 65.0, 100.0, poll_s=5, sleep=sleep, clock=lambda: now[0])
    assert notes == ["thermal gate: waited 10 s to cool to 60.0 °C"]
    now[0] = 0.0
    hot = thermal_gate(lambda: 90.0, 65.0, 12.0, poll_s=5, sleep=sleep, clock=lambda: now[0])
    assert len(hot) == 1 and hot[0].startswith("warning: still 90.0 °C after waiting 12 s")
    assert thermal_gate(lambda: None, 65.0, 10.0) == ["thermal gate skipped: no readable temperature sensor"]
    assert thermal_gate(lambda: 99.0, None, 10.0) == []


def test_host_record_is_schema_valid_and_complete(artifact):
    rec = get_device("host").run(artifact, ProfileConfig(warmup=2, iterations=15, threads=1))
    assert rec["device"]["kind"] == "host" and rec["device"]["cores"] >= 1 and rec["device"]["toolkit_version"]
    assert rec["artifact"]["variant"] == "mobilenet_v1-a0.25-r32" and rec["config"]["threads"] == 1
    assert rec["stats"]["n"] == 15 == len(rec["latency_ms"])
    assert rec["stats"]["ci95_low_ms"] <= rec["stats"]["median_ms"] <= rec["stats"]["ci95_high_ms"]


def test_bad_inputs_are_one_line_errors(tmp_path, artifact):
    with pytest.raises(UsageError, match=r"choose one of: host, android\[:SERIAL\], android:all, ios\[:UDID\], aihub"):
        get_device("toaster")
    broken = tmp_path / artifact.name
    broken.write_bytes(b"\x00garbage" * 64)
    (tmp_path / (artifact.name + ".manifest.json")).write_text(
        (artifact.parent / (artifact.name + ".manifest.json")).read_text()
    )
    with pytest.raises(UsageError, match="cannot load") as e:
        get_device("host").run(broken, ProfileConfig(iterations=2))
    assert "\n" not in str(e.value)
    with pytest.raises(UsageError, match="not found"):
        get_device("host").run(tmp_path / "missing.onnx", ProfileConfig())


def test_cli_profile_prints_and_stores(tmp_path, artifact, capsys):
    from toolkit.cli import main
    from toolkit.results import ResultsDB

    db = tmp_path / "r.db"
    assert main(["profile", str(artifact), "--iterations", "12", "--warmup", "1", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    for word in ("median", "95% CI", "p90", "mean", "min", "trimmed", "load", "first inference", "peak memory"):
        assert word in out
    with ResultsDB(db) as store:
        assert store.count() == 1 and store.records()[0]["stats"]["n"] == 12
    assert main(["profile", str(artifact), "--iterations", "0", "--db", str(db)]) == 2
    json.dumps(ResultsDB(db).records())
