"""The Android app's headless start protocol as data: one run's pushes, shell lines, result paths.

:func:`headless_protocol` is pure (it reads the artifact's manifest, nothing else): it checks on the
host everything the app checks on the phone (run id, file names, labels path, what the app can feed,
phone limits on the numbers) and returns :class:`HeadlessSteps`, the exact commands of one run.
Two executors use the same steps, so they cannot drift apart:

- :class:`toolkit.profile.android.AndroidDevice` runs them over adb on a USB phone;
- a device farm's test spec runs :meth:`HeadlessSteps.shell_script`, a POSIX sh script of the same
  commands (push, start, poll, pull), on the host attached to its phone.

Every argument that reaches the phone's shell is quoted (``shlex.join``); the values are also restricted
to ``A-Z a-z 0-9 . _ - /`` so a path or id never needs quoting to mean what it says. The app's side of
the contract is ``android_demo/benchcore`` (``BenchArgs``, ``HeadlessBenchmark``).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.profile.protocol import ProfileConfig

__all__ = [
    "ACTIVITY",
    "DELEGATES",
    "PACKAGE",
    "PHONE_FORMATS",
    "PUSH_DIR",
    "RESULTS_DIR",
    "RUN_ID_PATTERN",
    "HeadlessSteps",
    "Push",
    "check_phone_manifest",
    "headless_protocol",
    "validate_run_id",
]

PACKAGE = "org.mobilenet.toolkit.demo"  # android_demo/app/build.gradle applicationId
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
PUSH_DIR = "/data/local/tmp/mobilenet_bench"  # Models.PUSH_DIR in the app
RESULTS_DIR = f"/sdcard/Android/data/{PACKAGE}/files/results"  # getExternalFilesDir(null)/results
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")  # BenchArgs.RUN_ID
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # a pushed file: BenchArgs.PATH, one segment
DELEGATES = ("xnnpack", "gpu", "nnapi", "cpu")  # BenchArgs.DELEGATES
PHONE_FORMATS = {".pte": "executorch", ".tflite": "tflite"}  # HeadlessBenchmark.runtimeFor
# BenchArgs.MAX_*: the app refuses larger values, so the host refuses them first.
MAX_THREADS, MAX_WARMUP, MAX_ITERATIONS, MAX_SECONDS = 256, 1_000_000, 1_000_000, 3600.0


def validate_run_id(run_id: str) -> str:
    """The app's rule: 1-128 of ``A-Z a-z 0-9 . _ -``, not starting with a dot (it names the result file)."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise UsageError(f"run id {run_id!r} must be 1-128 characters of A-Z a-z 0-9 . _ - and not start with a dot")
    return run_id


def _plain_name(name: str, what: str) -> str:
    if not _FILE_NAME.fullmatch(name):
        raise UsageError(
            f"{what} {name!r} cannot be pushed to the phone: use only A-Z a-z 0-9 . _ - in file names "
            "(no spaces or shell characters, no leading dot)"
        )
    return name


def check_phone_manifest(artifact: Path, manifest: Mapping[str, Any]) -> Path | None:
    """Refuse on the host what the app refuses; return the labels file to push (None when absent).

    The app runs ExecuTorch (.pte) and LiteRT (.tflite) artifacts whose input it can build from a photo
    (nchw or nhwc, a dtype of the I/O contract) and whose labels file lies beside the artifact.
    """
    from toolkit.runtimes import labels_file
    from toolkit.runtimes.io import TensorSpec

    target = manifest.get("target")
    runtime = PHONE_FORMATS.get(artifact.suffix)
    if runtime is None or target != runtime:
        raise UsageError(
            f"{artifact.name} (target {target or '?'}) cannot run on Android: the app runs ExecuTorch (.pte) and "
            "LiteRT (.tflite) artifacts; profile other formats on the host"
        )
    spec = TensorSpec.from_manifest(manifest, "input")  # UsageError for a dtype the app cannot feed
    TensorSpec.from_manifest(manifest, "output")
    if spec.layout not in ("nchw", "nhwc"):
        raise UsageError(f"{artifact.name} takes a {spec.layout!r} input; the Android app feeds nchw or nhwc tensors")
    path = labels_file(artifact, manifest)  # UsageError for a name that leaves the artifact's folder
    if path is None:
        return None
    if path.exists() and path.resolve().parent != artifact.resolve().parent:
        raise UsageError(f"the labels file of {artifact.name} ({path.name}) resolves outside the artifact's folder")
    _plain_name(path.name, "labels file")
    return path if path.is_file() else None


def _check_config(config: ProfileConfig) -> None:
    limits = (("threads", config.threads, MAX_THREADS), ("warmup", config.warmup, MAX_WARMUP),
              ("iterations", config.iterations, MAX_ITERATIONS))  # fmt: skip
    for name, value, limit in limits:
        if value > limit:
            raise UsageError(f"{name} {value} is more than the phone app accepts ({limit})")
    for name, seconds in (("cooldown", config.cooldown_s), ("duration", config.duration_s)):
        if seconds is not None and not (math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS):
            raise UsageError(f"{name} must be 0-{MAX_SECONDS:.0f} s on a phone, got {seconds}")
    if config.delegate is not None and config.delegate not in DELEGATES:
        raise UsageError(f"unknown phone delegate {config.delegate!r}; choose one of: {', '.join(DELEGATES)}")


@dataclass(frozen=True)
class Push:
    """One host file copied to the phone."""

    source: Path
    remote: str


@dataclass(frozen=True)
class HeadlessSteps:
    """One headless benchmark run, as the exact commands an executor performs in order.

    1. ``prepare``: shell lines run on the phone (create the push folder, remove stale records);
    2. ``pushes``: ``adb push SOURCE REMOTE`` for the artifact, its manifest and labels;
    3. ``start``: the ``am start`` shell line (``-S`` force-stops a previous run first);
    4. wait until ``result_path`` (success) or ``error_path`` (the app refused; ``{"error", "stage"}``)
       appears in :data:`RESULTS_DIR`, at most ``timeout_s`` seconds;
    5. pull it, then run ``cleanup``.

    Shell lines are single strings to pass as one argument to ``adb shell``; every word in them is
    already quoted for the phone's sh.
    """

    run_id: str
    pushes: tuple[Push, ...]
    prepare: tuple[str, ...]
    start: str
    result_path: str
    error_path: str
    cleanup: tuple[str, ...]
    timeout_s: float

    def shell_script(self, local_dir: str, out_dir: str, adb: str = "adb", poll_s: float = 1.0) -> str:
        """The run as a POSIX sh script, for a host that drives the phone itself (a device farm's test spec).

        Args:
            local_dir: a shell expression for the folder holding the pushed files on that host, inserted
                as is so it may name a variable (``"$DEVICEFARM_TEST_PACKAGE_PATH"``); file names are quoted.
            out_dir: a shell expression for the folder to pull ``<run_id>.json`` (or ``.error.json``) into.
            adb: the adb command (a shell expression too, e.g. ``adb -s "$SERIAL"``).
            poll_s: seconds between polls of the results folder.

        The script exits 0 after pulling the result, 1 after pulling an error record or on timeout.
        """
        q = shlex.quote
        lines = ["set -eu"]
        lines += [f"{adb} shell {q(cmd)}" for cmd in self.prepare]
        lines += [f"{adb} push {local_dir}/{q(p.source.name)} {q(p.remote)}" for p in self.pushes]
        lines += [f"{adb} logcat -c || true", f"{adb} shell {q(self.start)}"]
        listing = f"{adb} shell {q(shlex.join(['ls', RESULTS_DIR]))} 2>/dev/null | tr -d '\\r'"
        name, err = self.result_path.rsplit("/", 1)[1], self.error_path.rsplit("/", 1)[1]
        lines += [
            f"deadline=$(( $(date +%s) + {math.ceil(self.timeout_s)} ))",
            "while :; do",
            f"  if {listing} | grep -qxF {q(name)}; then",
            f"    {adb} pull {q(self.result_path)} {out_dir}/{q(name)}",
            *[f"    {adb} shell {q(cmd)}" for cmd in self.cleanup],
            "    exit 0",
            "  fi",
            f"  if {listing} | grep -qxF {q(err)}; then",
            f"    {adb} pull {q(self.error_path)} {out_dir}/{q(err)}",
            "    exit 1",
            "  fi",
            f'  [ "$(date +%s)" -lt "$deadline" ] || {{ echo {q(f"no result for {self.run_id}")} >&2; exit 1; }}',
            f"  sleep {poll_s:g}",
            "done",
        ]
        return "\n".join(lines) + "\n"


def headless_protocol(
    artifact: Path, run_id: str, config: ProfileConfig, manifest: Mapping[str, Any] | None = None
) -> HeadlessSteps:
    """The steps of one headless run of ``artifact`` on the Android app, checked before anything runs.

    Raises UsageError (one line) for a run id, file name, labels path, artifact kind or number the app
    would refuse, so a bad request never reaches the phone. ``manifest`` defaults to the one beside
    ``artifact``.
    """
    from toolkit.runtimes import manifest_path, read_manifest

    artifact = Path(artifact)
    _plain_name(artifact.name, "artifact name")
    validate_run_id(run_id)
    manifest = read_manifest(artifact) if manifest is None else manifest
    labels = check_phone_manifest(artifact, manifest)
    _check_config(config)
    sources = [artifact, manifest_path(artifact), *([labels] if labels else [])]
    pushes = tuple(Push(src, f"{PUSH_DIR}/{src.name}") for src in sources)
    result, error = f"{RESULTS_DIR}/{run_id}.json", f"{RESULTS_DIR}/{run_id}.error.json"
    argv = ["am", "start", "-S", "-n", ACTIVITY, "--es", "model_path", pushes[0].remote, "--es", "run_id", run_id,
            "--ei", "threads", str(config.threads), "--ei", "warmup", str(config.warmup),
            "--ei", "iterations", str(config.iterations),
            "--ef", "cooldown", repr(float(config.cooldown_s))]  # fmt: skip
    if config.duration_s is not None:
        argv += ["--ef", "duration", repr(float(config.duration_s))]
    if config.delegate:
        argv += ["--es", "delegate", config.delegate]
    # generous: a 1.0-224 fp32 model takes ~30 ms on a mid-range phone; slow phones 10x that
    budget = (config.warmup + config.iterations) * 0.5 + config.cooldown_s + (config.duration_s or 0.0)
    return HeadlessSteps(
        run_id=run_id,
        pushes=pushes,
        prepare=(shlex.join(["mkdir", "-p", PUSH_DIR]), shlex.join(["rm", "-f", result, error])),
        start=shlex.join(argv),
        result_path=result,
        error_path=error,
        cleanup=(shlex.join(["rm", "-f", result]),),
        timeout_s=120.0 + budget,
    )
