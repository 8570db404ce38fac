"""toolkit/profile/android.py end to end against a fake phone (tests/fake_adb/).

The fake ``adb`` follows adb's command-line protocol; its ``am start`` runs the app's own Java code
(benchcore's headless entry and the app's runtime backends) on a JVM, with the runtime calls bridged
to the host runtime. The host backend under test is the real one, unchanged. Every artifact kind and
the bad-input cases are in test_android_phone_matrix.py; this file covers the adb side.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from tests.fake_adb.artifacts import phone_artifact
from tests.fake_adb.device import FakePhones
from toolkit._deps import HAS_LITERT_TORCH, HAS_TFLITE_INTERPRETER
from toolkit.errors import UsageError
from toolkit.profile.android import (
    PUSH_DIR,
    RESULTS_DIR,
    AndroidDevice,
    AndroidDeviceError,
    PhoneGoneError,
    parse_thermalservice,
)
from toolkit.profile.protocol import DeviceBackend, ProfileConfig
from toolkit.profile.stats import summarize
from toolkit.weights import file_sha256

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "toolkit/schemas/result.schema.json").read_text())
FAST = ProfileConfig(warmup=2, iterations=15)


@pytest.fixture(scope="module")
def artifact() -> Path:
    if not (HAS_LITERT_TORCH and HAS_TFLITE_INTERPRETER):
        pytest.skip("needs litert-torch + ai-edge-litert (pip install 'mobilenet-toolkit[tflite]')")
    return phone_artifact("tflite")


@pytest.fixture
def phones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePhones:
    fake = FakePhones(tmp_path / "phones")
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    return fake


def test_run_end_to_end_returns_a_schema_valid_record(phones: FakePhones, artifact: Path) -> None:
    phones.add("FAKE01", skin_temps=[33.0, 34.5])
    device = AndroidDevice(poll_s=0.1)
    assert isinstance(device, DeviceBackend) and device.kind == "android"
    result = device.run(artifact, FAST)
    jsonschema.validate(result, SCHEMA)
    assert result["device"]["name"] == "Google Pixel 8"
    assert result["device"]["cpu"] == "Google Tensor G3"
    assert result["device"]["os"] == "Android 14 (API 34)"
    assert result["device"]["serial"] == "FAKE01"
    assert result["temperature_c"] == {"before": 33.0, "after": 34.5, "thermal_state": "light"}
    assert len(result["latency_ms"]) == 15 and all(x > 0 for x in result["latency_ms"])
    assert result["stats"] == summarize(result["latency_ms"]).to_dict()
    assert result["artifact"]["sha256"] == file_sha256(artifact)
    assert result["artifact"]["variant"] == "mobilenet_v1-a0.25-r32"
    assert result["config"]["warmup"] == 2
    assert result["runtime"]["name"] == "tflite" and result["runtime"]["version_source"] == "runtime"
    assert len(result["first_output"]) == 10 and result["peak_memory_mb"] > 0
    start = [line for line in phones.shell_lines() if line.startswith("am start")]
    assert len(start) == 1 and start[0].startswith("am start -S -n org.mobilenet.toolkit.demo/.BenchmarkActivity ")
    for name in (artifact.name, artifact.name + ".manifest.json", artifact.name + ".labels.txt"):
        assert phones.file("FAKE01", f"{PUSH_DIR}/{name}").is_file()
    assert list(phones.file("FAKE01", RESULTS_DIR).glob("*.json")) == []  # pulled and removed


def test_duration_mode_and_extras_reach_the_app(phones: FakePhones, artifact: Path) -> None:
    phones.add("FAKE01")
    cfg = ProfileConfig(threads=1, warmup=0, iterations=1, duration_s=0.3, delegate="cpu")
    result = AndroidDevice(poll_s=0.1).run(artifact, cfg)
    assert result["config"]["duration_s"] == pytest.approx(0.3)
    assert result["config"]["threads"] == 1 and result["runtime"]["delegate"] == "cpu"
    assert len(result["latency_ms"]) > 1 and result["config"]["iterations"] == len(result["latency_ms"])


def test_no_device(phones: FakePhones) -> None:
    with pytest.raises(AndroidDeviceError, match=r"connect a phone with USB debugging, or pass --serial"):
        AndroidDevice().describe()


def test_several_devices_need_a_serial(phones: FakePhones) -> None:
    phones.add("AAA111")
    phones.add("BBB222")
    with pytest.raises(AndroidDeviceError) as e:
        AndroidDevice().describe()
    assert "pass --serial" in str(e.value) and "AAA111" in str(e.value) and "BBB222" in str(e.value)
    assert AndroidDevice("BBB222").describe()["serial"] == "BBB222"


def test_unknown_serial_and_unauthorized(phones: FakePhones) -> None:
    phones.add("AAA111", state="unauthorized")
    with pytest.raises(AndroidDeviceError, match=r"no phone with serial ZZZ \(attached: AAA111\)"):
        AndroidDevice("ZZZ").describe()
    with pytest.raises(AndroidDeviceError, match="accept the USB debugging prompt"):
        AndroidDevice().describe()


def test_app_not_installed(phones: FakePhones, artifact: Path) -> None:
    phones.add("FAKE01", installed=False)
    with pytest.raises(AndroidDeviceError, match="not installed on FAKE01: run `toolkit android install`"):
        AndroidDevice().run(artifact, FAST)


def test_an_artifact_the_app_cannot_run_is_refused_on_the_host(
    phones: FakePhones, artifact: Path, tmp_path: Path
) -> None:
    """An .onnx (or any non-phone format): one line, and nothing pushed or started on the phone."""
    phones.add("FAKE01")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    manifest = json.loads(Path(f"{artifact}.manifest.json").read_text())
    Path(f"{onnx}.manifest.json").write_text(json.dumps({**manifest, "target": "onnx"}))
    with pytest.raises(UsageError) as e:
        AndroidDevice(poll_s=0.1).run(onnx, FAST)
    msg = str(e.value)
    assert (
        "cannot run on Android: the app runs ExecuTorch (.pte) and LiteRT (.tflite) artifacts" in msg
        and "\n" not in msg
    )
    assert not [c for c in phones.calls() if "push" in c or any(w.startswith("am start") for w in c)]


def test_missing_manifest_is_one_line(phones: FakePhones, tmp_path: Path, artifact: Path) -> None:
    phones.add("FAKE01")
    bare = tmp_path / "model.pte"
    bare.write_bytes(artifact.read_bytes())
    with pytest.raises(Exception, match=r"no manifest beside model\.pte"):
        AndroidDevice().run(bare, FAST)


def test_timeout_reports_the_app_log(phones: FakePhones, artifact: Path) -> None:
    phones.add("FAKE01", scenario="never_write")
    with pytest.raises(AndroidDeviceError) as e:
        AndroidDevice(timeout_s=2.0, poll_s=0.2).run(artifact, FAST)
    msg = str(e.value)
    assert msg.startswith("no result from FAKE01 after 2 s") and "scripted hang" in msg and "\n" not in msg


def test_unplugged_mid_sweep_keeps_finished_results(phones: FakePhones, artifact: Path) -> None:
    phones.add("FAKE01")
    device = AndroidDevice(poll_s=0.1)

    def unplug_after_first(_: dict) -> None:
        phones.update("FAKE01", scenario="unplug_on_start")

    outcome = device.sweep([artifact, artifact, artifact], FAST, on_result=unplug_after_first)
    assert len(outcome.results) == 1 and outcome.stopped_early
    assert len(outcome.failures) == 1 and "disconnected" in outcome.failures[0] and "re-run" in outcome.failures[0]
    with pytest.raises(PhoneGoneError):
        device.describe()


def test_thermal_gate_waits_for_the_phone_to_cool(phones: FakePhones) -> None:
    phones.add("FAKE01", skin_temps=[45.0, 43.0, 41.0, 38.0, 37.0])
    naps: list[float] = []
    device = AndroidDevice(thermal_poll_s=7.0, sleep=naps.append)
    notes = device.wait_until_cool(40.0, limit_s=600)
    assert naps == [7.0, 7.0, 7.0]  # 45 → 43 → 41 → 38
    assert len(notes) == 1 and "3 polls" in notes[0] and "38.0 °C" in notes[0]
    assert device.wait_until_cool(40.0, limit_s=600) == []  # already cool: no wait, no note
    assert phones.read()["devices"]["FAKE01"]["skin_temps"] == [37.0]
    phones.update("FAKE01", skin_temps=[50.0])
    notes = device.wait_until_cool(40.0, limit_s=0)
    assert notes and "gave up" in notes[0] and "50.0 °C" in notes[0]


def test_thermal_zone_fallback(phones: FakePhones) -> None:
    phones.add("FAKE01", no_thermal_hal=True)
    for i, milli in enumerate(["36500", "41250", "-273000"]):
        zone = phones.file("FAKE01", f"/sys/class/thermal/thermal_zone{i}/temp")
        zone.parent.mkdir(parents=True)
        zone.write_text(milli + "\n")
    assert AndroidDevice().thermal() == (41.25, "none")


def test_parse_thermalservice_prefers_current_skin() -> None:
    text = (
        "Thermal Status: 2\nCached temperatures:\n\tTemperature{mValue=80.0, mType=3, mName=skin, mStatus=0}\n"
        "Current temperatures from HAL:\n\tTemperature{mValue=55.5, mType=0, mName=cpu, mStatus=0}\n"
        "\tTemperature{mValue=36.25, mType=3, mName=skin, mStatus=0}\nCurrent cooling devices from HAL:\n"
    )
    assert parse_thermalservice(text) == (36.25, "moderate")
    cpu_only = "Current temperatures from HAL:\n\tTemperature{mValue=50.0, mType=0, mName=c}"
    assert parse_thermalservice(cpu_only)[0] == 50.0
    assert parse_thermalservice("") == (None, None)


def test_adb_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AndroidDeviceError, match="adb not found: install Android platform-tools"):
        AndroidDevice().describe()
    assert os.environ["PATH"] == str(tmp_path)
