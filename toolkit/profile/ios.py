"""iPhone device backend: install models into the demo app, run its headless benchmark, pull the result.

The iOS app (ios_demo/) has a benchmark mode started with launch arguments (see BenchCore's
BenchmarkArguments.swift). This module copies an artifact, its manifest and labels into the app's
``Documents/models/`` (house_arrest), launches ``--benchmark --model FILE --compute-units U ...
--run-id ID``, polls ``Documents/results/ID.json`` (or ``ID.error.txt``) and returns the result record in
the shared schema with the phone's model, iOS version and temperatures attached. Core ML artifacts are
swept across the four compute-unit settings, since that is where iPhone latency moves most.

Everything that touches a phone goes through a small :class:`Transport` (list, pair state, info, push,
pull, launch). :class:`PyMobileDeviceTransport` implements it with ``pymobiledevice3`` (Linux and macOS);
the tests' fake phone implements the same interface and runs the artifact on the host. On-iPhone runs
are not exercised in CI.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from toolkit.errors import MissingDependencyError, ToolkitError
from toolkit.profile.protocol import (
    DeviceError,
    DeviceGoneError,
    PhoneSweepOutcome,
    ProfileConfig,
    result_schema_problem,
    run_phone_sweep,
)

__all__ = [
    "APP_TARGETS",
    "BUNDLE_ID",
    "COMPUTE_UNITS",
    "DevicectlTransport",
    "IOSDevice",
    "IOSDeviceError",
    "IOSRun",
    "PhoneGoneError",
    "PhoneInfo",
    "PyMobileDeviceTransport",
    "SweepOutcome",
    "Transport",
    "benchmark_arguments",
    "check_deployment_target",
    "check_ios_run",
    "check_run_id",
    "devicectl_copy",
    "devicectl_launch",
    "expand_runs",
    "file_name_problem",
    "list_phones",
    "model_files",
]

BUNDLE_ID = "org.mobilenet-toolkit.BenchApp"  # PRODUCT_BUNDLE_IDENTIFIER in ios_demo/project.yml
COMPUTE_UNITS = ("cpu_only", "cpu_and_gpu", "cpu_and_ne", "all")
APP_TARGETS = ("coreml", "executorch")  # BenchCore BackendKind: what the app can run
MODELS_DIR, RESULTS_DIR = "models", "results"  # inside the app's Documents (BenchCore DocumentsLayout)


class IOSDeviceError(DeviceError, ToolkitError):
    """One line for the CLI (exit 1): what is wrong with the phone and what to do."""


class PhoneGoneError(IOSDeviceError, DeviceGoneError):
    """The phone was unplugged or locked mid-run; a sweep stops here and keeps what finished."""


@dataclass(frozen=True)
class PhoneInfo:
    """What the host learns about a paired phone before running anything on it."""

    udid: str
    name: str  # marketing name when known ("iPhone 15 Pro"), else the product type
    product_type: str  # "iPhone16,1"
    ios_version: str  # "17.5.1"
    developer_mode: bool | None  # None when the phone does not say (iOS < 16)


class Transport(Protocol):
    """The few things the backend needs from a phone; paths are relative to the app's Documents."""

    def list_devices(self) -> list[str]:
        """UDIDs of connected phones (USB or network)."""
        ...

    def pair_state(self, udid: str) -> str:
        """One of "paired", "not_paired", "not_trusted" (the Trust prompt is pending or was refused) or "locked"."""
        ...

    def info(self, udid: str) -> PhoneInfo: ...

    def app_installed(self, udid: str, bundle_id: str) -> bool: ...

    def push(self, udid: str, bundle_id: str, local: Path, remote_dir: str) -> None:
        """Copy a file or directory (.mlpackage) into Documents/remote_dir/, replacing any old copy."""
        ...

    def pull(self, udid: str, bundle_id: str, remote: str) -> bytes | None:
        """A file's bytes, or None when it does not exist (yet)."""
        ...

    def launch(self, udid: str, bundle_id: str, arguments: list[str]) -> None:
        """Start the app with arguments, killing a running instance; raise PhoneGoneError when locked."""
        ...

    def battery_temperature_c(self, udid: str) -> float | None: ...


MAX_RUN_ID, MAX_MODEL_NAME = 128, 255  # BenchmarkArguments.maxRunIDLength / maxModelNameLength
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]*")


def file_name_problem(name: str, max_length: int) -> str | None:
    """Why ``name`` cannot be a run id or model file name on the phone, None when it can.

    The app's rule (BenchCore ``BenchmarkArguments.fileNameProblem``), checked here first so a bad name is one
    line on the host and nothing is copied or launched: 1..max_length characters from [A-Za-z0-9._-], not
    starting with a dot. No spaces, slashes or shell characters ever reach a phone.
    """
    if not 1 <= len(name) <= max_length:
        return f"must be 1 to {max_length} characters, got {len(name)}"
    if name.startswith("."):
        return f"must not start with a dot: {name}"
    if not _NAME_CHARS.fullmatch(name):
        return f"may only hold letters, digits, '.', '_' and '-': {name}"
    return None


def check_run_id(run_id: str) -> str:
    """``run_id`` when the app accepts it, else IOSDeviceError (one line)."""
    problem = file_name_problem(run_id, MAX_RUN_ID)
    if problem:
        raise IOSDeviceError(f"run id {problem}")
    return run_id


def model_files(artifact: Path) -> list[Path]:
    """The artifact plus what the app reads beside it: manifest and labels file (kept inside its folder)."""
    from toolkit.runtimes import labels_file, manifest_path, read_manifest

    artifact = Path(artifact)
    files = [artifact, manifest_path(artifact)]
    labels = labels_file(artifact, read_manifest(artifact))
    if labels is not None and labels.is_file():
        files.append(labels)
    return files


def _version_tuple(text: str) -> tuple[int, ...]:
    digits = text.lower().removeprefix("ios").strip()
    return tuple(int(p) for p in digits.split(".") if p.isdigit())


def check_deployment_target(manifest: dict[str, Any], info: PhoneInfo) -> None:
    """Refuse a Core ML model built for a newer iOS than the phone runs, before copying anything."""
    target = (manifest.get("backend") or {}).get("minimum_deployment_target") or (manifest.get("options") or {}).get(
        "minimum_deployment_target"
    )
    if manifest.get("target") != "coreml" or not target:
        return
    need, have = _version_tuple(str(target)), _version_tuple(info.ios_version)
    if need and have and have < need:
        raise IOSDeviceError(
            f"{manifest['artifact']['file']} needs iOS {'.'.join(map(str, need))} or newer but {info.name} runs "
            f"iOS {info.ios_version}: re-export with --minimum-deployment-target iOS{have[0]} or update the phone"
        )


def expand_runs(artifacts: Iterable[Path], compute_units: Iterable[str] | None = None) -> list[tuple[Path, str | None]]:
    """One run per artifact, except Core ML packages, which get one run per compute-unit setting."""
    units = tuple(compute_units or COMPUTE_UNITS)
    bad = [u for u in units if u not in COMPUTE_UNITS]
    if bad:
        raise IOSDeviceError(f"unknown compute units {', '.join(bad)}; choose from {', '.join(COMPUTE_UNITS)}")
    runs: list[tuple[Path, str | None]] = []
    for a in map(Path, artifacts):
        runs.extend((a, u) for u in units) if a.suffix == ".mlpackage" else runs.append((a, None))
    return runs


@dataclass(frozen=True)
class IOSRun:
    """What the host checked before one run: the manifest, the files to copy, the compute units, the sha256."""

    manifest: dict[str, Any]
    files: list[Path]
    units: str
    sha256: str


def check_ios_run(artifact: Path, config: ProfileConfig) -> IOSRun:
    """Refuse on the host what the app would refuse (name, target, labels path, compute units, stale bytes).

    ``config.delegate`` is the Core ML compute-unit setting (default "all"). The sha256 is the artifact's as
    the app computes it (the tree hash of an ``.mlpackage``) and must be its manifest's.
    """
    from toolkit.export.manifest import tree_sha256
    from toolkit.runtimes import read_manifest

    artifact = Path(artifact)
    problem = file_name_problem(artifact.name, MAX_MODEL_NAME)
    if problem:
        raise IOSDeviceError(f"the app cannot take this model file name: it {problem} (rename the artifact)")
    manifest = read_manifest(artifact)
    if manifest.get("target") not in APP_TARGETS:
        raise IOSDeviceError(f"{artifact.name} is a {manifest.get('target')} artifact; the iOS app runs Core ML "
                             "(.mlpackage) and ExecuTorch (.pte) artifacts only")  # fmt: skip
    files = model_files(artifact)  # refuses a labels file outside the artifact's folder
    units = config.delegate or "all"
    if units not in COMPUTE_UNITS:
        raise IOSDeviceError(f"unknown compute units {units!r}; choose from {', '.join(COMPUTE_UNITS)}")
    sha = tree_sha256(artifact)
    if sha != (manifest.get("artifact") or {}).get("sha256"):
        raise IOSDeviceError(f"{artifact.name} does not match its manifest (sha256 differs): re-export it")
    return IOSRun(manifest, files, units, sha)


def benchmark_arguments(model: str, units: str, config: ProfileConfig, run_id: str) -> list[str]:
    """The app's launch arguments for one headless run (BenchCore ``BenchmarkArguments``)."""
    args = ["--benchmark", "--model", model, "--compute-units", units, "--threads", str(config.threads),
            "--warmup", str(config.warmup), "--iterations", str(config.iterations), "--run-id", run_id]  # fmt: skip
    if config.duration_s is not None:
        args += ["--duration", str(config.duration_s)]
    if config.cooldown_s:
        args += ["--cooldown", str(config.cooldown_s)]
    return args


def devicectl_copy(direction: str, udid: str, bundle_id: str, source: str, destination: str) -> list[str]:
    """``devicectl device copy to|from`` the app's data container (the words after ``xcrun devicectl``)."""
    return ["device", "copy", direction, "--device", udid, "--domain-type", "appDataContainer",
            "--domain-identifier", bundle_id, "--source", source, "--destination", destination]  # fmt: skip


def devicectl_launch(udid: str, bundle_id: str, arguments: list[str]) -> list[str]:
    """``devicectl device process launch`` of the app with its arguments, a running instance killed first."""
    # "--" ends devicectl's own options; the app's argument parser skips it
    return ["device", "process", "launch", "--device", udid, "--terminate-existing", bundle_id, "--", *arguments]


SweepOutcome = PhoneSweepOutcome  # what sweep() returns


class IOSDevice:
    """An iPhone running the demo app's benchmark mode (``DeviceBackend`` with ``kind == "ios"``)."""

    kind = "ios"

    def __init__(
        self,
        udid: str | None = None,
        *,
        transport: Transport | None = None,
        bundle_id: str = BUNDLE_ID,
        timeout_s: float = 900.0,
        poll_s: float = 1.0,
    ) -> None:
        self._requested = udid
        self._transport = transport
        self.bundle_id = bundle_id
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._info: PhoneInfo | None = None
        self._installed: set[tuple[str, str]] = set()

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = default_transport()
        return self._transport

    def connect(self) -> PhoneInfo:
        """Pick the phone and check, in order, everything that would make a run fail halfway."""
        if self._info is not None:
            return self._info
        t = self.transport
        udids = t.list_devices()
        if not udids:
            raise IOSDeviceError("no iPhone connected: plug it in by USB, unlock it and tap Trust")
        if self._requested is None and len(udids) > 1:
            raise IOSDeviceError(
                f"{len(udids)} iPhones connected; pick one with --device ios:UDID ({', '.join(udids)})"
            )
        udid = self._requested or udids[0]
        if udid not in udids:
            raise IOSDeviceError(f"iPhone {udid} is not connected (connected: {', '.join(udids)})")
        state = t.pair_state(udid)
        if state != "paired":
            raise IOSDeviceError(_PAIR_HINTS.get(state, f"iPhone {udid} cannot be used: {state}").format(udid=udid))
        info = t.info(udid)
        if info.developer_mode is False:
            raise IOSDeviceError(
                f"Developer Mode is off on {info.name}: Settings > Privacy & Security > Developer Mode, then restart"
            )
        if not t.app_installed(udid, self.bundle_id):
            raise IOSDeviceError(
                f"the benchmark app ({self.bundle_id}) is not installed on {info.name}: build and run ios_demo "
                "from Xcode once (ios_demo/README.md)"
            )
        self._info = info
        return info

    def describe(self) -> dict[str, Any]:
        info = self.connect()
        return {"kind": "ios", "name": info.name, "serial": info.udid, "os": f"iOS {info.ios_version}",
                "cpu": info.product_type, "cores": None}  # fmt: skip

    def temperature_c(self) -> float | None:
        """Battery temperature; None when unreadable (never fails a run that already finished)."""
        try:
            return self.transport.battery_temperature_c(self.connect().udid)
        except Exception:  # a phone unplugged right after its last run still keeps that run's result
            return None

    def run(self, artifact: Path, config: ProfileConfig) -> dict[str, Any]:
        """Measure one artifact; ``config.delegate`` is the Core ML compute-unit setting (default "all")."""
        artifact = Path(artifact)
        request = check_ios_run(artifact, config)
        info = self.connect()
        check_deployment_target(request.manifest, info)
        if (artifact.name, request.sha256) not in self._installed:  # a compute-unit sweep copies each artifact once
            for f in request.files:
                self._guard(lambda f=f: self.transport.push(info.udid, self.bundle_id, f, MODELS_DIR))
            self._installed.add((artifact.name, request.sha256))
        suffix = f"-{request.units}-{uuid.uuid4().hex[:8]}"
        run_id = check_run_id(artifact.stem[: MAX_RUN_ID - len(suffix)] + suffix)
        args = benchmark_arguments(artifact.name, request.units, config, run_id)
        before = self.temperature_c()
        self._guard(lambda: self.transport.launch(info.udid, self.bundle_id, args))
        result = self._wait(info, run_id, artifact.name)
        if (result.get("artifact") or {}).get("sha256") != request.sha256:
            raise IOSDeviceError(f"{info.name} measured a different {artifact.name} (sha256 mismatch): run it again")
        return self._finish(result, info, before)

    def sweep(
        self,
        artifacts: Iterable[Path],
        config: ProfileConfig,
        compute_units: Iterable[str] | None = None,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> SweepOutcome:
        """Run every artifact (Core ML ones once per compute-unit setting); keep results when the phone goes."""

        runs = [
            (Path(artifact).name + (f" [{units}]" if units else ""),
             lambda a=artifact, u=units: self.run(a, replace(config, delegate=u or config.delegate)))
            for artifact, units in expand_runs(artifacts, compute_units)
        ]  # fmt: skip
        return run_phone_sweep(runs, on_result)

    def _guard(self, call: Callable[[], Any]) -> Any:
        """Run a transport call; a phone that vanished becomes PhoneGoneError, not a library traceback."""
        try:
            return call()
        except ToolkitError:
            raise
        except Exception as e:  # pymobiledevice3/devicectl raise many types; the message is what matters
            name = self._info.name if self._info else "the iPhone"
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            if re.search(r"\b(un)?lock(ed)?\b", text, re.IGNORECASE):
                raise PhoneGoneError(f"{name} is locked: unlock it and keep it awake during the sweep") from None
            if self._info is not None and self._info.udid not in self.transport.list_devices():
                raise PhoneGoneError(f"{name} was unplugged during the run") from None
            raise IOSDeviceError(f"{name}: {type(e).__name__}: {text}") from None

    def _wait(self, info: PhoneInfo, run_id: str, model: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        result_path, error_path = f"{RESULTS_DIR}/{run_id}.json", f"{RESULTS_DIR}/{run_id}.error.txt"
        while True:
            if info.udid not in self.transport.list_devices():
                raise PhoneGoneError(f"{info.name} was unplugged during the run of {model}")
            data = self._guard(lambda: self.transport.pull(info.udid, self.bundle_id, result_path))
            if data is not None:
                return json.loads(data)
            err = self._guard(lambda: self.transport.pull(info.udid, self.bundle_id, error_path))
            if err is not None:
                raise IOSDeviceError(f"the app could not run {model}: {err.decode(errors='replace').strip()}")
            if time.monotonic() >= deadline:
                raise IOSDeviceError(
                    f"no result from {info.name} after {self.timeout_s:.0f} s for {model}: is the app in the "
                    "foreground and the phone unlocked?"
                )
            time.sleep(self.poll_s)

    def _finish(self, result: dict[str, Any], info: PhoneInfo, before: float | None) -> dict[str, Any]:
        """Attach what the host knows (model name, iOS version, battery temperatures) and validate."""
        host_view = {k: v for k, v in self.describe().items() if v is not None}  # the app knows its cores
        result["device"] = {**result.get("device", {}), **host_view}
        temps = result.setdefault("temperature_c", {})
        if temps.get("before") is None:
            temps["before"] = before
        if temps.get("after") is None:
            temps["after"] = self.temperature_c()
        problem = result_schema_problem(result)
        if problem:
            raise IOSDeviceError(f"the app wrote an invalid result {problem}")
        return result


def list_phones(transport: Transport | None = None, bundle_id: str = BUNDLE_ID) -> list[dict[str, Any]]:
    """Every connected phone with what would stop a run on it (for ``toolkit ios devices``)."""
    t = transport or default_transport()
    phones = []
    for udid in t.list_devices():
        row: dict[str, Any] = {"udid": udid, "pair_state": t.pair_state(udid)}
        if row["pair_state"] == "paired":
            info = t.info(udid)
            row.update(name=info.name, product_type=info.product_type, ios=info.ios_version,
                       developer_mode=info.developer_mode, app_installed=t.app_installed(udid, bundle_id))  # fmt: skip
        phones.append(row)
    return phones


_PAIR_HINTS = {
    "not_paired": "iPhone {udid} is not paired with this computer: unlock it, tap Trust and enter the passcode",
    "not_trusted": "iPhone {udid} has not trusted this computer: unlock it and tap Trust on the prompt",
    "locked": "iPhone {udid} is locked: unlock it (pairing and launching need an unlocked phone)",
}


def default_transport() -> Transport:
    """pymobiledevice3 wherever it is installed, else Xcode's devicectl on a Mac, else a one-line hint."""
    try:
        import pymobiledevice3  # noqa: F401
    except ImportError:
        if sys.platform == "darwin" and shutil.which("xcrun"):
            return DevicectlTransport()
        raise MissingDependencyError(
            "pymobiledevice3 is not installed (needed to reach an iPhone): pip install pymobiledevice3"
        ) from None
    return PyMobileDeviceTransport()


class PyMobileDeviceTransport:
    """:class:`Transport` over usbmuxd with pymobiledevice3 (imported lazily; its API is async).

    Launching uses DVT process control: on iOS 17+ that service is only reachable through a tunnel, so
    ``sudo pymobiledevice3 remote tunneld`` must be running; older iOS needs the developer disk image
    mounted (``pymobiledevice3 mounter auto-mount``). Both cases end in a one-line hint.
    """

    def __init__(self) -> None:
        from pymobiledevice3 import exceptions

        self._exc = exceptions

    @staticmethod
    def _sync(coro: Any) -> Any:
        return asyncio.run(coro)

    async def _lockdown(self, udid: str) -> Any:
        from pymobiledevice3.lockdown import create_using_usbmux

        return await create_using_usbmux(serial=udid, autopair=False)

    def list_devices(self) -> list[str]:
        from pymobiledevice3 import usbmux

        try:
            devices = self._sync(usbmux.list_devices())
        except self._exc.ConnectionFailedToUsbmuxdError:
            return []  # no usbmuxd means no phone; IOSDevice says "no iPhone connected"
        return sorted({d.serial for d in devices})

    def pair_state(self, udid: str) -> str:
        async def probe() -> str:
            async with await self._lockdown(udid):
                return "paired"

        e = self._exc
        try:
            return self._sync(probe())
        except (e.NotPairedError, e.InvalidHostIDError):
            return "not_paired"
        except e.PasswordRequiredError:
            return "locked"
        except (e.NotTrustedError, e.PairingDialogResponsePendingError, e.UserDeniedPairingError):
            return "not_trusted"

    def info(self, udid: str) -> PhoneInfo:
        async def query() -> PhoneInfo:
            async with await self._lockdown(udid) as ld:
                values = ld.all_values
                try:
                    dev_mode: bool | None = await ld.get_developer_mode_status()
                except self._exc.PyMobileDevice3Exception:
                    dev_mode = None
                product = values.get("ProductType", "iPhone")
                return PhoneInfo(udid, ld.display_name or product, product, ld.product_version, dev_mode)

        return self._sync(query())

    def app_installed(self, udid: str, bundle_id: str) -> bool:
        from pymobiledevice3.services.installation_proxy import InstallationProxyService

        async def query() -> bool:
            async with await self._lockdown(udid) as ld:
                apps = await InstallationProxyService(lockdown=ld).get_apps(bundle_identifiers=[bundle_id])
                return bundle_id in apps

        return self._sync(query())

    async def _documents(self, ld: Any, bundle_id: str) -> Any:
        from pymobiledevice3.services.house_arrest import HouseArrestService

        return await HouseArrestService.create(ld, bundle_id, documents_only=True)

    def push(self, udid: str, bundle_id: str, local: Path, remote_dir: str) -> None:
        async def copy() -> None:
            async with await self._lockdown(udid) as ld, await self._documents(ld, bundle_id) as afc:
                target = f"/Documents/{remote_dir}"
                await afc.makedirs(target)
                dest = f"{target}/{local.name}"
                if await afc.exists(dest):
                    await afc.rm(dest, force=True)
                await afc.push(str(local), target if local.is_dir() else dest, progress_bar=False)

        self._sync(copy())

    def pull(self, udid: str, bundle_id: str, remote: str) -> bytes | None:
        async def read() -> bytes | None:
            async with await self._lockdown(udid) as ld, await self._documents(ld, bundle_id) as afc:
                path = f"/Documents/{remote}"
                return await afc.get_file_contents(path) if await afc.exists(path) else None

        return self._sync(read())

    def launch(self, udid: str, bundle_id: str, arguments: list[str]) -> None:
        from pymobiledevice3.services.dvt.instruments.dvt_provider import DvtProvider
        from pymobiledevice3.services.dvt.instruments.process_control import ProcessControl
        from pymobiledevice3.tunneld.api import get_tunneld_device_by_udid

        async def start() -> None:
            async with await self._lockdown(udid) as ld:
                major = int(ld.product_version.split(".")[0])
                provider: Any = ld
                if major >= 17:
                    provider = await get_tunneld_device_by_udid(udid)
                    if provider is None:
                        raise IOSDeviceError(
                            "iOS 17+ launches apps through a tunnel: run `sudo pymobiledevice3 remote tunneld` "
                            "in another terminal, then retry"
                        )
                async with DvtProvider(provider) as dvt, ProcessControl(dvt) as pc:
                    await pc.launch(bundle_id, arguments=arguments, kill_existing=True)

        e = self._exc
        try:
            self._sync(start())
        except e.DeveloperModeIsNotEnabledError:
            raise IOSDeviceError("Developer Mode is off: Settings > Privacy & Security > Developer Mode") from None
        except e.DeveloperDiskImageNotFoundError:
            raise IOSDeviceError("no developer disk image: run `pymobiledevice3 mounter auto-mount`") from None
        except e.TunneldConnectionError:
            raise IOSDeviceError("cannot reach tunneld: run `sudo pymobiledevice3 remote tunneld`") from None

    def battery_temperature_c(self, udid: str) -> float | None:
        from pymobiledevice3.services.diagnostics import DiagnosticsService

        async def read() -> float | None:
            async with await self._lockdown(udid) as ld:
                battery = await DiagnosticsService(lockdown=ld).get_battery() or {}
                raw = battery.get("Temperature")  # centi-degrees Celsius in IOPMPowerSource
                return raw / 100.0 if isinstance(raw, (int, float)) else None

        try:
            return self._sync(read())
        except Exception:  # temperature is best-effort; a run must not fail on it
            return None


class DevicectlTransport:
    """:class:`Transport` over ``xcrun devicectl`` (Xcode 15+, macOS only; no temperature readout)."""

    def _ctl(self, *args: str, check: bool = True) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.json"
            proc = subprocess.run(["xcrun", "devicectl", *args, "--json-output", str(out)], capture_output=True,
                                  text=True, timeout=600)  # fmt: skip
            if proc.returncode != 0 and check:
                lines = (proc.stderr or proc.stdout).strip().splitlines()
                raise RuntimeError(lines[-1] if lines else f"devicectl {args[0]} failed")
            return json.loads(out.read_text()) if out.is_file() else {}

    def _devices(self) -> dict[str, dict[str, Any]]:
        found = self._ctl("list", "devices").get("result", {}).get("devices", [])
        usable = [d for d in found if d.get("connectionProperties", {}).get("tunnelState") != "unavailable"]
        return {d["hardwareProperties"]["udid"]: d for d in usable if d.get("hardwareProperties", {}).get("udid")}

    def list_devices(self) -> list[str]:
        return sorted(self._devices())

    def pair_state(self, udid: str) -> str:
        state = self._devices()[udid].get("connectionProperties", {}).get("pairingState", "paired")
        return "paired" if state == "paired" else "not_paired"

    def info(self, udid: str) -> PhoneInfo:
        d = self._devices()[udid]
        hw, props = d.get("hardwareProperties", {}), d.get("deviceProperties", {})
        mode = props.get("developerModeStatus")
        product = hw.get("productType", "iPhone")
        return PhoneInfo(udid, hw.get("marketingName") or product, product, props.get("osVersionNumber", "0"),
                         None if mode is None else mode == "enabled")  # fmt: skip

    def app_installed(self, udid: str, bundle_id: str) -> bool:
        apps = self._ctl("device", "info", "apps", "--device", udid, "--bundle-id", bundle_id)
        return bool(apps.get("result", {}).get("apps"))

    def _copy(self, direction: str, udid: str, bundle_id: str, source: str, dest: str, check: bool = True) -> None:
        self._ctl(*devicectl_copy(direction, udid, bundle_id, source, dest), check=check)

    def push(self, udid: str, bundle_id: str, local: Path, remote_dir: str) -> None:
        self._copy("to", udid, bundle_id, str(local), f"Documents/{remote_dir}/{local.name}")

    def pull(self, udid: str, bundle_id: str, remote: str) -> bytes | None:
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / Path(remote).name
            self._copy("from", udid, bundle_id, f"Documents/{remote}", str(dest), check=False)
            return dest.read_bytes() if dest.is_file() else None

    def launch(self, udid: str, bundle_id: str, arguments: list[str]) -> None:
        self._ctl(*devicectl_launch(udid, bundle_id, arguments))

    def battery_temperature_c(self, udid: str) -> float | None:
        return None
