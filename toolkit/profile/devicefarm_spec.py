"""What one AWS Device Farm run executes: the test package, its test spec, and what it will cost.

Device Farm runs a *custom test environment*: on a host attached to each phone of the pool it runs the
commands of a YAML test spec, with the app already installed and the uploaded test package unpacked at
``$DEVICEFARM_TEST_PACKAGE_PATH``. The toolkit's test package carries, in ``bench/``, every artifact with
its manifest and labels, plus one POSIX sh script per artifact, and the test spec runs those scripts:

- Android: each script is :meth:`toolkit.profile.android_protocol.HeadlessSteps.shell_script` of
  :func:`~toolkit.profile.android_protocol.headless_protocol`, the very steps ``toolkit profile --device
  android`` runs over adb (push, ``am start``, poll, pull), with ``adb -s "$DEVICEFARM_DEVICE_UDID"``;
- iOS: each script copies the files into the app's ``Documents/models/``, launches the app with
  :func:`toolkit.profile.ios.benchmark_arguments` and polls for ``Documents/results/ID.json`` (or
  ``ID.error.txt``), through ``xcrun devicectl`` with the command words of :mod:`toolkit.profile.ios`.

Each script pulls its result record (or the app's error file) into ``$DEVICEFARM_LOG_DIR/mobilenet-results/``;
Device Farm zips ``$DEVICEFARM_LOG_DIR`` into each phone's "Customer Artifacts", which the toolkit downloads.

The test package is an Appium Node.js package (``APPIUM_NODE``): of Device Farm's test-package formats it is
the one that needs no third-party binaries (Appium Python wants wheels, Java jars, instrumentation a test
APK). It is a zip holding an ``npm pack`` tarball (here a bare ``package.json``, no tests: the test spec
never starts Appium) plus, as Device Farm allows for any test package, extra files (``bench/``). Whether
the service's upload processing accepts this minimal package has not been tried against the live service.
Everything is written byte for byte reproducibly, so the same request gives the same content hash and a
re-run reuses the uploads and finds the run it already scheduled.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import shlex
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.profile.protocol import ProfileConfig

__all__ = [
    "APP_FORMATS",
    "ESTIMATE_HOW",
    "MAX_TIMEOUT_MIN",
    "RESULTS_SUBDIR",
    "SPEC_TYPE",
    "TEST_PACKAGE_TYPE",
    "TEST_TYPE",
    "Estimate",
    "FarmRun",
    "TestBundle",
    "build_bundle",
    "estimate",
    "plan_run",
    "run_minutes",
]

TEST_TYPE = "APPIUM_NODE"
TEST_PACKAGE_TYPE = "APPIUM_NODE_TEST_PACKAGE"
SPEC_TYPE = "APPIUM_NODE_TEST_SPEC"
TEST_HOSTS = {"android": ("android_test_host", "amazon_linux_2"), "ios": ("ios_test_host", "macos_sequoia")}
APP_FORMATS = {"android": (".pte", ".tflite"), "ios": (".mlpackage", ".pte")}  # what each demo app runs
RESULTS_SUBDIR = "mobilenet-results"  # under $DEVICEFARM_LOG_DIR, so it lands in the customer artifacts
_PKG, _LOG = '"$DEVICEFARM_TEST_PACKAGE_PATH/bench"', '"$DEVICEFARM_LOG_DIR/' + RESULTS_SUBDIR + '"'
_UDID = '"$DEVICEFARM_DEVICE_UDID"'
_FAILED = f"$DEVICEFARM_LOG_DIR/{RESULTS_SUBDIR}/failed-runs.txt"

# The cost estimate, per device: Device Farm's own setup (device cleanup, app install, test package copy),
# then per artifact the push, the app start and the model load, then every timed and warm-up inference.
SETUP_MIN = 2.0  # Device Farm's setup per device: a guess from its documentation (minutes), not measured here
START_S = 20.0  # per artifact: push over USB, `am start -S` / devicectl launch, model load, result pull
PHONE_MACS_PER_S = 1e10  # a mid-range phone CPU (fp32): MobileNet 1.0-224 (569 M MACs) in ~57 ms
MAX_TIMEOUT_MIN = 150  # Device Farm's longest execution timeout per device (metered)
ESTIMATE_HOW = (f"{SETUP_MIN:g} min Device Farm setup per device, then per artifact {START_S:g} s to push and "
                f"start it plus (warm-up + iterations) × its MACs at {PHONE_MACS_PER_S / 1e9:g} GMAC/s "
                "(a mid-range phone CPU) plus any cooldown")  # fmt: skip
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries' timestamp: the package's bytes depend on content only


@dataclass(frozen=True)
class FarmRun:
    """One artifact's headless run inside the test package: its files, script and result file names."""

    artifact: Path
    sha256: str
    run_id: str
    files: tuple[Path, ...]  # artifact, manifest, labels: copied into bench/ under their own names
    script: str  # POSIX sh, exits 0 after pulling the record, 1 after pulling the app's error or on timeout
    result_name: str
    error_name: str
    minutes: float  # estimated device time for this artifact
    timeout_s: float  # the script's own deadline

    @property
    def script_name(self) -> str:
        return f"{self.run_id}.sh"


def _run_id(artifact: Path, sha: str) -> str:
    """Deterministic (a re-run schedules the same spec) and unique per artifact bytes: stem + hash."""
    return f"{artifact.stem[:100]}-{sha[:12]}"


def run_minutes(macs: float, config: ProfileConfig) -> float:
    """Estimated device minutes of one artifact's run (see :data:`ESTIMATE_HOW`)."""
    per_inference = max(float(macs) / PHONE_MACS_PER_S, 1e-3)
    timed = config.duration_s if config.duration_s is not None else config.iterations * per_inference
    return (START_S + (config.warmup + 1) * per_inference + timed + config.cooldown_s) / 60.0


def _macs(manifest: dict[str, Any]) -> float:
    return float((manifest.get("cost") or {}).get("macs") or 0)


def _checked_sha(artifact: Path, manifest: dict[str, Any]) -> str:
    from toolkit.export.manifest import tree_sha256

    sha = tree_sha256(artifact)
    if sha != (manifest.get("artifact") or {}).get("sha256"):
        raise UsageError(f"{artifact.name} changed since it was exported (sha256 differs from its manifest): "
                         "re-export it")  # fmt: skip
    return sha


def _android_run(artifact: Path, config: ProfileConfig) -> FarmRun:
    from toolkit.profile.android_protocol import headless_protocol
    from toolkit.runtimes import read_manifest

    manifest = read_manifest(artifact)
    sha = _checked_sha(artifact, manifest)
    run_id = _run_id(artifact, sha)
    steps = headless_protocol(artifact, run_id, config, manifest)  # refuses what the app would refuse
    script = steps.shell_script(local_dir=_PKG, out_dir=_LOG, adb=f"adb -s {_UDID}", poll_s=2.0)
    return FarmRun(artifact, sha, run_id, tuple(p.source for p in steps.pushes), script,
                   steps.result_path.rsplit("/", 1)[1], steps.error_path.rsplit("/", 1)[1],
                   run_minutes(_macs(manifest), config), steps.timeout_s)  # fmt: skip


def _sh(words: list[str], raw: dict[str, str]) -> str:
    """Words quoted for sh, except those ``raw`` maps to a shell expression (a variable of the test host)."""
    return " ".join(raw.get(w, shlex.quote(w)) for w in words)


def _ios_script(run_id: str, files: Sequence[Path], args: list[str], timeout_s: float, poll_s: float = 2.0) -> str:
    """The iOS run as POSIX sh over ``xcrun devicectl``, in the command words IOSDevice's devicectl path uses."""
    from toolkit.profile.ios import BUNDLE_ID, MODELS_DIR, RESULTS_DIR, devicectl_copy, devicectl_launch

    udid = "@UDID@"  # a placeholder word, rendered as the test host's "$DEVICEFARM_DEVICE_UDID"

    def ctl(words: list[str], **raw: str) -> str:
        return "xcrun devicectl " + _sh(words, {udid: _UDID, **raw})

    def pull(name: str) -> str:  # devicectl's exit code is not the file's presence: the copied file is
        dest = f"@OUT@/{name}"
        local = f"{_LOG}/{shlex.quote(name)}"
        copy = ctl(devicectl_copy("from", udid, BUNDLE_ID, f"Documents/{RESULTS_DIR}/{name}", dest), **{dest: local})
        return f"{{ {copy} >/dev/null 2>&1 || true; }} && [ -f {local} ]"

    lines = ["set -eu"]
    for f in files:  # devicectl copies a file or an .mlpackage folder; the destination names it
        src = f"@PKG@/{f.name}"
        lines.append(ctl(devicectl_copy("to", udid, BUNDLE_ID, src, f"Documents/{MODELS_DIR}/{f.name}"),
                         **{src: f"{_PKG}/{shlex.quote(f.name)}"}))  # fmt: skip
    lines.append(ctl(devicectl_launch(udid, BUNDLE_ID, args)))
    lines += [
        f"deadline=$(( $(date +%s) + {math.ceil(timeout_s)} ))",
        "while :; do",
        f"  if {pull(f'{run_id}.json')}; then exit 0; fi",
        f"  if {pull(f'{run_id}.error.txt')}; then exit 1; fi",
        f'  [ "$(date +%s)" -lt "$deadline" ] || {{ echo {shlex.quote(f"no result for {run_id}")} >&2; exit 1; }}',
        f"  sleep {poll_s:g}",
        "done",
    ]
    return "\n".join(lines) + "\n"


def _ios_run(artifact: Path, config: ProfileConfig) -> FarmRun:
    from toolkit.profile.ios import benchmark_arguments, check_ios_run

    request = check_ios_run(artifact, config)  # name, target, labels path, compute units, stale bytes
    run_id = _run_id(artifact, request.sha256)
    minutes = run_minutes(_macs(request.manifest), config)
    timeout_s = 120.0 + 3 * 60 * minutes  # the app's own refusals land in seconds; a stuck app costs this much
    script = _ios_script(run_id, request.files, benchmark_arguments(artifact.name, request.units, config, run_id),
                         timeout_s)  # fmt: skip
    return FarmRun(artifact, request.sha256, run_id, tuple(request.files), script, f"{run_id}.json",
                   f"{run_id}.error.txt", minutes, timeout_s)  # fmt: skip


def plan_run(platform: str, artifact: Path, config: ProfileConfig) -> FarmRun:
    """The run of one artifact on the ``platform`` app; a ToolkitError (one line) for what the app refuses."""
    artifact = Path(artifact)
    if artifact.suffix not in APP_FORMATS[platform]:
        runs = " and ".join(APP_FORMATS[platform])
        raise UsageError(f"{artifact.name} cannot run in the {platform} demo app on Device Farm: it runs {runs}")
    if config.max_temp_c is not None:
        raise UsageError("Device Farm phones are not thermally gated by the toolkit: drop --max-temp-c for them")
    return _android_run(artifact, config) if platform == "android" else _ios_run(artifact, config)


@dataclass(frozen=True)
class Estimate:
    """Device minutes a run will use: ``devices`` phones × ``per_device_min`` each, never more than the cap."""

    devices: int
    artifacts: int
    per_device_min: float
    timeout_min: int  # the run's execution timeout per device: Device Farm stops a device there

    @property
    def minutes(self) -> float:
        return self.devices * self.per_device_min

    @property
    def cap_minutes(self) -> int:
        return self.devices * self.timeout_min

    def line(self) -> str:
        """One line: how many device minutes, how they were estimated, and the most it can cost."""
        return (f"{self.devices} device(s) × {self.artifacts} artifact(s) ≈ {math.ceil(self.minutes)} device "
                f"minutes ({self.per_device_min:.1f} min per device: {ESTIMATE_HOW}); at most {self.cap_minutes} "
                f"({self.timeout_min} min execution timeout per device). Device Farm bills metered device minutes "
                "(check current pricing)")  # fmt: skip


def estimate(devices: int, minutes: Sequence[float]) -> Estimate:
    """The estimate for ``devices`` phones each running artifacts of these :func:`run_minutes`.

    The execution timeout per device is three times the estimate (at least 2 min per artifact, 5 in all):
    room for a slow phone, while a stuck one stops costing money there.
    """
    per_device = SETUP_MIN + sum(minutes)
    needed = 2 * SETUP_MIN + sum(max(2.0, 3 * m) for m in minutes)
    if needed > MAX_TIMEOUT_MIN:
        raise UsageError(f"{len(minutes)} artifacts may need up to {needed:.0f} min per device, more than Device "
                         f"Farm's {MAX_TIMEOUT_MIN}-minute limit: measure fewer per command")  # fmt: skip
    return Estimate(devices, len(minutes), per_device, max(5, math.ceil(needed)))


def _yaml(text: str) -> str:
    """A YAML single-quoted scalar (only a quote needs escaping; the commands hold no newline)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class TestBundle:
    """The runs of one Device Farm run, the test spec that starts them, and the test package that carries them."""

    platform: str
    runs: tuple[FarmRun, ...]

    @property
    def spec(self) -> str:
        key, host = TEST_HOSTS[self.platform]
        results = f'"$DEVICEFARM_LOG_DIR/{RESULTS_SUBDIR}"'
        test = [f'sh {_PKG}/{shlex.quote(r.script_name)} || echo {shlex.quote(r.run_id)} >> "{_FAILED}"'
                for r in self.runs]  # fmt: skip
        # the device's job fails (and says which runs) when a run left no record; the others are collected
        test.append(f'if [ -s "{_FAILED}" ]; then echo "runs without a record:"; cat "{_FAILED}"; false; fi')
        lines = [f"# mobilenet-toolkit: {len(self.runs)} headless benchmark run(s) of the demo app (generated)",
                 "version: 0.1", f"{key}: {host}", "phases:", "  install:", "    commands:",
                 f"      - {_yaml(f'mkdir -p {results}')}", "  test:", "    commands:",
                 *(f"      - {_yaml(c)}" for c in test), "artifacts:", "  - $DEVICEFARM_LOG_DIR"]  # fmt: skip
        return "\n".join(lines) + "\n"

    def estimate(self, devices: int) -> Estimate:
        return estimate(devices, [r.minutes for r in self.runs])

    def _entries(self) -> dict[str, bytes | Path]:
        entries: dict[str, bytes | Path] = {"mobilenet-toolkit-bench-1.0.0.tgz": _npm_carrier()}
        for run in self.runs:
            entries[f"bench/{run.script_name}"] = run.script.encode()
            for f in run.files:
                for path in sorted(f.rglob("*")) if f.is_dir() else [f]:
                    if path.is_file():
                        name = f"bench/{f.name}" + (f"/{path.relative_to(f).as_posix()}" if f.is_dir() else "")
                        _add_once(entries, name, path)
        return entries

    def write_package(self, path: Path) -> Path:
        """The test package zip: the npm carrier tarball, then bench/ with every file and script, sorted.

        Streamed file by file (a sweep's artifacts can be hundreds of MB), byte for byte the same each time.
        """
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(self._entries().items()):
                info = zipfile.ZipInfo(name, _FIXED_TIME)
                info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with z.open(info, "w") as out:
                    if isinstance(data, bytes):
                        out.write(data)
                    else:
                        with data.open("rb") as f:
                            shutil.copyfileobj(f, out, 1 << 20)
        return path

    def package_bytes(self) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            return self.write_package(Path(tmp) / "package.zip").read_bytes()


def _add_once(entries: dict[str, bytes | Path], name: str, path: Path) -> None:
    """Two artifacts may share a labels file; two different files under one name would be measured wrongly."""
    known = entries.get(name)
    if known is None:
        entries[name] = path
    elif isinstance(known, bytes) or known.read_bytes() != path.read_bytes():
        raise UsageError(f"two different files are named {name.removeprefix('bench/')}: rename one of the artifacts")


def _npm_carrier() -> bytes:
    """``npm pack`` of a package.json with no code: what Device Farm's Appium Node.js package format wants."""
    meta = {"name": "mobilenet-toolkit-bench", "version": "1.0.0", "private": True,
            "description": "mobilenet-toolkit's Device Farm runs: the test spec runs bench/*.sh, not Node"}  # fmt: skip
    body = (json.dumps(meta, indent=2) + "\n").encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("package/package.json")
        info.size, info.mode, info.mtime = len(body), 0o644, 0
        tar.addfile(info, io.BytesIO(body))
    return gzip.compress(raw.getvalue(), mtime=0)


def build_bundle(platform: str, runs: Iterable[FarmRun]) -> TestBundle:
    """The bundle of these runs (one per artifact bytes), in the order given."""
    seen: dict[str, FarmRun] = {}
    for run in runs:
        seen.setdefault(run.sha256, run)
    if not seen:
        raise UsageError("nothing to run on Device Farm")
    return TestBundle(platform, tuple(seen.values()))
