"""Android device backend: push an artifact to the demo app, run its headless benchmark, pull the result.

The app (android_demo/) has a ``BenchmarkActivity`` started over adb with intent extras
(``model_path``, ``run_id``, ``threads``, ``warmup``, ``iterations``, ``cooldown``, ``duration``,
``delegate``). It encodes a bundled photo into the model's input per the manifest, runs the same loop
as the host profiler and writes the shared result record to ``<external files>/results/<run_id>.json``
(or ``<run_id>.error.json`` when it refuses the request or the runtime rejects the model). The run's
commands come from :func:`toolkit.profile.android_protocol.headless_protocol` (the same steps a device
farm's test spec runs); this module executes them over adb, polls for either file, pulls it and
attaches what the host knows: the phone's model, SoC, Android version and thermal readings.

Everything goes through the ``adb`` binary (Debian/Ubuntu ``apt-get install adb``, or Android
platform-tools), so the code is the same for a real phone and for the tests' fake ``adb``
(tests/fake_adb/), which follows the same command-line protocol and runs the app's own Java code on a
JVM, with the runtime calls bridged to the host runtime.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.profile.android_protocol import (
    ACTIVITY,
    PACKAGE,
    PUSH_DIR,
    RESULTS_DIR,
    HeadlessSteps,
    headless_protocol,
)
from toolkit.profile.protocol import (
    DeviceError,
    DeviceGoneError,
    PhoneSweepOutcome,
    ProfileConfig,
    result_schema_problem,
    run_phone_sweep,
)

__all__ = [
    "ACTIVITY",
    "PACKAGE",
    "PUSH_DIR",
    "RESULTS_DIR",
    "AndroidDevice",
    "AndroidDeviceError",
    "PhoneGoneError",
    "SweepOutcome",
    "list_devices",
    "parse_thermalservice",
]

LOG_TAGS = ("MobilenetBench:V", "AndroidRuntime:E", "ExecuTorch:V", "tflite:V", "*:S")
# dumpsys thermalservice sensor types (android.os.Temperature): prefer skin, then CPU, then battery.
_TYPE_PREFERENCE = (3, 0, 2)
_THERMAL_STATUS = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")


class AndroidDeviceError(DeviceError, ToolkitError):
    """One line for the CLI (exit 1): what is wrong with the phone and what to do."""


class PhoneGoneError(AndroidDeviceError, DeviceGoneError):
    """The phone was unplugged mid-run; a sweep stops here and keeps what finished."""


SweepOutcome = PhoneSweepOutcome  # what sweep() returns


def _adb_binary(adb: str | None) -> str:
    found = shutil.which(adb or "adb")
    if found is None:
        raise AndroidDeviceError("adb not found: install Android platform-tools (Debian/Ubuntu: apt-get install adb)")
    return found


def list_devices(adb: str | None = None) -> list[dict[str, str]]:
    """``adb devices -l`` as dicts: serial, state (device/unauthorized/offline), model, ... ."""
    out = subprocess.run([_adb_binary(adb), "devices", "-l"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AndroidDeviceError(f"adb devices failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    devices = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2 or line.startswith(("List of devices", "*")):
            continue
        info = {"serial": parts[0], "state": parts[1]}
        info.update(p.split(":", 1) for p in parts[2:] if ":" in p)
        devices.append(info)
    return devices


def parse_thermalservice(text: str) -> tuple[float | None, str | None]:
    """(temperature °C, thermal status) from ``dumpsys thermalservice``; None where absent.

    Reads the "Current temperatures from HAL" block (falling back to the cached block) and takes the
    hottest sensor of the most telling type: skin, else CPU, else battery.
    """
    status = None
    m = re.search(r"Thermal Status:\s*(\d+)", text)
    if m:
        k = int(m.group(1))
        status = _THERMAL_STATUS[k] if k < len(_THERMAL_STATUS) else str(k)
    block = text.split("Current temperatures from HAL:", 1)
    body = block[1] if len(block) == 2 else text
    body = body.split("Current cooling devices", 1)[0]
    by_type: dict[int, list[float]] = {}
    for value, typ in re.findall(r"Temperature\{mValue=([-\d.]+), mType=(-?\d+)", body):
        by_type.setdefault(int(typ), []).append(float(value))
    for typ in _TYPE_PREFERENCE:
        if by_type.get(typ):
            return max(by_type[typ]), status
    return None, status


class AndroidDevice:
    """An Android phone running the demo app's benchmark mode (``DeviceBackend`` with ``kind == "android"``)."""

    kind = "android"

    def __init__(
        self,
        serial: str | None = None,
        *,
        adb: str | None = None,
        timeout_s: float | None = None,
        poll_s: float = 0.5,
        thermal_poll_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._requested = serial
        self._adb_name = adb
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.thermal_poll_s = thermal_poll_s
        self._sleep = sleep
        self._serial: str | None = None
        self._props: dict[str, str] | None = None

    # ---- connection -------------------------------------------------------------------------
    @property
    def serial(self) -> str:
        """The chosen phone; checks it is attached and authorized (once)."""
        if self._serial is None:
            self._serial = self._choose()
        return self._serial

    def _choose(self) -> str:
        devices = list_devices(self._adb_name)
        if self._requested is not None:
            match = [d for d in devices if d["serial"] == self._requested]
            if not match:
                attached = ", ".join(d["serial"] for d in devices) or "none"
                raise AndroidDeviceError(f"no phone with serial {self._requested} (attached: {attached})")
            return self._check_state(match[0])
        if not devices:
            raise AndroidDeviceError("no Android device found: connect a phone with USB debugging, or pass --serial")
        if len(devices) > 1:
            names = ", ".join(f"{d['serial']} ({d.get('model', d['state'])})" for d in devices)
            raise AndroidDeviceError(f"{len(devices)} Android devices attached; pass --serial (one of: {names})")
        return self._check_state(devices[0])

    @staticmethod
    def _check_state(d: dict[str, str]) -> str:
        if d["state"] == "unauthorized":
            raise AndroidDeviceError(
                f"phone {d['serial']} is unauthorized: unlock it and accept the USB debugging prompt"
            )
        if d["state"] != "device":
            raise AndroidDeviceError(f"phone {d['serial']} is {d['state']}: reconnect the cable (or `adb reconnect`)")
        return d["serial"]

    def adb(self, *args: str, timeout: float = 120.0, check: bool = True) -> str:
        """Run ``adb -s SERIAL ARGS``; a vanished phone becomes PhoneGoneError, other failures one line."""
        cmd = [_adb_binary(self._adb_name), "-s", self.serial, *args]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AndroidDeviceError(f"adb {' '.join(args[:2])} did not answer in {timeout:.0f} s") from None
        text = (out.stderr or "") + (out.stdout or "")
        if re.search(r"device '.*' not found|no devices/emulators found|device offline|error: closed", text):
            raise PhoneGoneError(
                f"phone {self.serial} was disconnected: reconnect it and re-run; results already stored are kept"
            )
        if check and out.returncode != 0:
            last = text.strip().splitlines()[-1] if text.strip() else f"exit code {out.returncode}"
            raise AndroidDeviceError(f"adb {' '.join(args[:2])} failed on {self.serial}: {last}")
        return out.stdout

    def shell(self, *argv: str, check: bool = True) -> str:
        """``adb shell`` with every word quoted for the phone's sh (one line: ``shell_line``)."""
        return self.shell_line(shlex.join(argv), check=check)

    def shell_line(self, line: str, check: bool = True) -> str:
        """``adb shell LINE`` for a line whose words are already quoted (``shlex.join``)."""
        return self.adb("shell", line, check=check)

    # ---- DeviceBackend ---------------------------------------------------------------------
    def props(self) -> dict[str, str]:
        """All system properties from one ``getprop`` call (``[key]: [value]`` lines)."""
        if self._props is None:
            self._props = dict(re.findall(r"^\[([^\]]+)\]: \[(.*)\]\s*$", self.shell("getprop"), re.M))
        return self._props

    def describe(self) -> dict[str, Any]:
        p = self.props()
        soc = " ".join(x for x in (p.get("ro.soc.manufacturer"), p.get("ro.soc.model")) if x)
        cpus = re.findall(r"^cpu\d+$", self.shell("ls", "/sys/devices/system/cpu", check=False), re.M)
        name = " ".join(x for x in (p.get("ro.product.manufacturer"), p.get("ro.product.model")) if x)
        return {
            "kind": "android",
            "name": name or self.serial,
            "serial": self.serial,
            "os": f"Android {p.get('ro.build.version.release', '?')} (API {p.get('ro.build.version.sdk', '?')})",
            "cpu": soc or p.get("ro.board.platform") or p.get("ro.hardware"),
            "cores": len(cpus) or None,
            "abi": p.get("ro.product.cpu.abi"),
        }

    def thermal(self) -> tuple[float | None, str | None]:
        """(°C, status) from ``dumpsys thermalservice``, else the hottest ``/sys/class/thermal`` zone."""
        temp, status = parse_thermalservice(self.shell("dumpsys", "thermalservice", check=False))
        if temp is None:
            zones = self.shell_line("cat /sys/class/thermal/thermal_zone*/temp", check=False)  # the phone globs
            values = [int(v) / 1000.0 for v in re.findall(r"^-?\d+$", zones, re.M)]
            temp = max((v for v in values if 0 < v < 150), default=None)  # millidegrees; drop bogus zones
        return temp, status

    def temperature_c(self) -> float | None:
        return self.thermal()[0]

    def is_installed(self) -> bool:
        return self.shell("pm", "path", PACKAGE, check=False).strip().startswith("package:")

    def install(self, apk: Path) -> str:
        out = self.adb("install", "-r", "-t", str(apk), timeout=300, check=False)
        if "Success" not in out:
            raise AndroidDeviceError(f"installing {Path(apk).name} on {self.serial} failed: {out.strip()[-200:]}")
        return self.serial

    def wait_until_cool(self, max_temp_c: float, limit_s: float) -> list[str]:
        """Thermal gate: poll until the phone is at or below ``max_temp_c``; notes say what happened."""
        start = time.monotonic()
        temp = self.temperature_c()
        if temp is None:
            return ["thermal gate skipped: no temperature sensor readable over adb"]
        polls = 0
        while temp is not None and temp > max_temp_c:
            if time.monotonic() - start >= limit_s:
                return [f"thermal gate gave up after {limit_s:.0f} s at {temp:.1f} °C (limit {max_temp_c:.1f} °C)"]
            self._sleep(self.thermal_poll_s)
            polls += 1
            temp = self.temperature_c()
        if not polls:
            return []
        return [f"thermal gate: waited {time.monotonic() - start:.0f} s ({polls} polls) to cool to {temp} °C"]

    def run(self, artifact: Path, config: ProfileConfig) -> dict[str, Any]:
        """Measure one .pte/.tflite on the phone and return the schema-valid result record."""
        from toolkit.runtimes import read_manifest
        from toolkit.weights import file_sha256

        artifact = Path(artifact)
        manifest = read_manifest(artifact)  # one clear line when the manifest is missing
        run_id = f"{artifact.stem[:100]}-{uuid.uuid4().hex[:8]}"
        steps = headless_protocol(artifact, run_id, config, manifest)  # everything the app would refuse
        if not self.is_installed():
            raise AndroidDeviceError(
                f"the demo app ({PACKAGE}) is not installed on {self.serial}: run `toolkit android install`"
            )
        notes = self.wait_until_cool(config.max_temp_c, config.temp_wait_limit_s) if config.max_temp_c else []
        before, _ = self.thermal()
        for line in steps.prepare:
            self.shell_line(line, check=False)
        for push in steps.pushes:
            self.adb("push", str(push.source), push.remote, timeout=600)
        self.adb("logcat", "-c", check=False)
        started = self.shell_line(steps.start, check=False)
        if re.search(r"\bError\b|Exception", started):
            raise AndroidDeviceError(f"cannot start {ACTIVITY}: {started.strip().splitlines()[-1]}")
        result = self._wait(steps, artifact.name, steps.timeout_s if self.timeout_s is None else self.timeout_s)
        after, status = self.thermal()
        local_sha = file_sha256(artifact)
        if result["artifact"].get("sha256") != local_sha:
            raise AndroidDeviceError(f"the phone measured a different {artifact.name} (sha256 mismatch); re-run")
        result["device"] = {**result.get("device", {}), **self.describe()}
        app_temps = result.get("temperature_c") or {}
        state = status or app_temps.get("thermal_state")
        result["temperature_c"] = {"before": before, "after": after, "thermal_state": state}
        if app_temps.get("before") is not None:
            notes.append(f"battery {app_temps.get('before')} -> {app_temps.get('after')} °C (app)")
        result["notes"] = [*result.get("notes", []), *notes]
        _validate(result)
        return result

    def _wait(self, steps: HeadlessSteps, model: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        result_name, error_name = (p.rsplit("/", 1)[1] for p in (steps.result_path, steps.error_path))
        while True:
            names = set(self.shell("ls", RESULTS_DIR, check=False).split())
            if result_name in names:
                with tempfile.TemporaryDirectory() as tmp:
                    local = Path(tmp) / result_name
                    self.adb("pull", steps.result_path, str(local))
                    for line in steps.cleanup:
                        self.shell_line(line, check=False)
                    return json.loads(local.read_text(encoding="utf-8"))
            if error_name in names:
                err = json.loads(self.shell("cat", steps.error_path))
                stage, why = err.get("stage", "?"), err.get("error", "unknown error")
                raise AndroidDeviceError(f"the phone's app refused {model} ({stage}): {why}")
            if time.monotonic() >= deadline:
                tail = self.log_tail()
                raise AndroidDeviceError(
                    f"no result from {self.serial} after {timeout:.0f} s for {model} (is the phone unlocked?); "
                    f"app log: {tail or '(empty)'}"
                )
            self._sleep(self.poll_s)

    def log_tail(self, lines: int = 8) -> str:
        """The app's last log lines, joined on one line for the error message."""
        out = self.adb("logcat", "-d", "-v", "brief", *LOG_TAGS, check=False)
        kept = [ln.strip() for ln in out.splitlines() if ln.strip() and not ln.startswith("---")]
        return " | ".join(kept[-lines:])

    def sweep(
        self,
        artifacts: Iterable[Path],
        config: ProfileConfig,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> SweepOutcome:
        """Run every artifact; a rejected model is recorded and skipped, an unplugged phone stops the sweep."""
        runs = [(Path(a).name, lambda a=a: self.run(Path(a), replace(config))) for a in artifacts]
        return run_phone_sweep(runs, on_result)


def _validate(result: dict[str, Any]) -> None:
    problem = result_schema_problem(result)
    if problem:
        raise AndroidDeviceError(f"the app wrote an invalid result {problem}")
