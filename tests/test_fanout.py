"""Several devices at once: the ``--device`` grammar, ``android:all``, and one thread per device.

The phone tests go through toolkit/profile/android.py's public AndroidDevice and the fake adb
(tests/fake_adb) and assert only what the toolkit decides, not how the fake app measures.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from tests.fake_adb.device import FakePhones
from toolkit._deps import HAS_AI_EDGE_LITERT, HAS_LITERT_TORCH
from toolkit.errors import ToolkitError, UsageError
from toolkit.profile.devices import device_kind, expand_specs, get_device
from toolkit.profile.fanout import DeviceOutcome, InterruptedRunError, fan_out, profile_artifacts
from toolkit.profile.protocol import ProfileConfig


@pytest.fixture
def phones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePhones:
    fake = FakePhones(tmp_path / "phones")
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    return fake


def test_device_grammar():
    assert [device_kind(s) for s in ("host", "Android:X1", "ios", "aihub:Samsung Galaxy S24", "devicefarm:p/q")] == [
        "host", "android", "ios", "aihub", "devicefarm"]  # fmt: skip
    assert expand_specs(["host", "aihub: Google Pixel 8 ", "host", "android:X1"]) == [
        "host", "aihub:Google Pixel 8", "android:X1"]  # fmt: skip
    for bad in ("toaster", "host:1", "aihub:", "devicefarm:", ""):
        with pytest.raises(UsageError, match=r"choose one of: host, android\[:SERIAL\], android:all"):
            device_kind(bad)
    with pytest.raises(UsageError, match="expand_specs"):
        get_device("android:all")


def test_android_all_is_every_attached_phone(phones):
    with pytest.raises(ToolkitError, match="android:all: no Android device attached"):
        expand_specs(["android:all"])
    phones.add("A1")
    phones.add("B2", state="unauthorized")
    assert expand_specs(["android:all", "android:A1", "host"]) == ["android:A1", "android:B2", "host"]


@pytest.mark.skipif(not (HAS_LITERT_TORCH and HAS_AI_EDGE_LITERT), reason="needs the tflite extra")
def test_phones_at_once_one_unauthorized_does_not_stop_the_other(phones, tmp_path):
    from tests.fake_adb.artifacts import tiny_artifact
    from toolkit.results import ResultsDB

    art = tiny_artifact("tflite")
    phones.add("A1")
    phones.add("B2", state="unauthorized")
    db = tmp_path / "r.db"
    seen: list[str] = []
    outs = profile_artifacts([art], expand_specs(["android:all"]), ProfileConfig(warmup=1, iterations=5), None, db,
                             on_record=lambda spec, rec: seen.append(spec))  # fmt: skip
    a, b = outs
    assert (a.spec, b.spec) == ("android:A1", "android:B2")
    assert b.error is not None and "unauthorized" in b.error and not b.ok
    assert a.error is None and len(a.measured) == 1 and seen == ["android:A1"]
    assert a.measured[0]["device"]["serial"] == "A1"
    with ResultsDB(db) as store:
        assert [r["device"]["serial"] for r in store.records()] == ["A1"]  # stored as it landed, by its thread


def test_fan_out_runs_devices_concurrently_within_the_limit():
    running, peak, lock = [0], [0], threading.Lock()

    def work(spec: str, stop: threading.Event) -> DeviceOutcome:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return DeviceOutcome(spec, name=spec.upper())

    outs = fan_out(["a", "b", "c", "d"], work, max_parallel=2)
    assert [o.spec for o in outs] == ["a", "b", "c", "d"] and peak[0] == 2
    assert all(o.ok and o.summary() == f"{o.spec} ({o.spec.upper()}): ok, 0 measured" for o in outs)
    fan_out(["a", "b", "c"], work)
    assert peak[0] == 3  # 0 = every device at once


def test_ctrl_c_stops_every_device_and_says_what_is_stored(monkeypatch):
    import _thread

    started = threading.Barrier(3)

    def work(spec: str, stop: threading.Event) -> DeviceOutcome:
        out = DeviceOutcome(spec, measured=[{"one": 1}])
        started.wait()
        stop.wait(30)  # a device waiting on its service until told to stop
        out.interrupted = True
        return out

    # interrupt_main() does nothing while SIGINT is ignored, as it is for a process started in the background
    # by a shell without job control (nohup, `cmd &` in a script): give the test Python's own handler, as a
    # terminal's process has
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.1, lambda: (started.wait(), _thread.interrupt_main())).start()
        stored = r"interrupted: 2 result\(s\) stored; re-run the same command"
        with pytest.raises(InterruptedRunError, match=stored) as e:
            fan_out(["x", "y"], work, grace_s=5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert e.value.exit_code == 130


def test_a_missing_aihub_extra_is_one_line_naming_it(monkeypatch, capsys):
    from toolkit import _deps
    from toolkit.cli import main
    from toolkit.errors import MissingDependencyError

    real = _deps._has
    monkeypatch.setattr(_deps, "_has", lambda module: module != "qai_hub" and real(module))
    with pytest.raises(
        MissingDependencyError, match=r"qai-hub\) is not installed: pip install 'mobilenet-toolkit\[aihub\]'"
    ):
        get_device("aihub:Samsung Galaxy S24").describe()
    assert main(["aihub", "devices"]) == 3
    assert "mobilenet-toolkit[aihub]" in capsys.readouterr().err
