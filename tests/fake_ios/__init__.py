"""A fake iPhone for the iOS backend's tests: same Transport interface, the demo app's headless mode on the host.

The phone keeps its app's Documents in a temp dir. Launching the app runs, in a background thread as the
real app would, what BenchCore's HeadlessBenchmark does, and refuses what it refuses:

- the arguments by the app's rules (run id read first, so a later error lands in ``<run-id>.error.txt``);
  tests/test_ios_golden.py checks this parser and the Swift one agree on every golden command line;
- only Core ML and ExecuTorch artifacts (a .onnx or .tflite manifest is refused, as the app refuses it),
  an input/output dtype or layout outside the I/O contract, a labels file outside the model's folder, a model
  newer than the phone's iOS, an artifact whose sha256 is not its manifest's;
- the input is the app's bundled photo (ios_demo/App/Resources/sample.png) cropped and encoded by
  ``toolkit.runtimes.io.encode_pixels``, the contract BenchCore is tested against bit for bit, and fed
  through the host runner's strict ``run_raw``, which takes only the runtime's own dtype and shape; the
  output is decoded by the manifest's output spec, as BenchCore's decoder does;
- an ExecuTorch program whose input is not the manifest's is refused after loading, as the app's
  ExecuTorchBackend.prepare refuses it: the app builds its tensor with the logical (N, C, H, W) sizes and the
  dim order of the manifest's layout (:func:`executorch_input`), and checks both against the program's own
  (the runner's ``method_sizes`` and ``dim_order``), so NHWC bytes are never read as NCHW or the reverse;
- every warm-up and timed iteration first encodes the photo again (resize, crop, normalize, write), timed
  apart from the inference that follows, and the record carries those times as its ``preprocess`` block,
  described by :func:`frame_steps` (BenchCore's PhotoFrame.steps, checked equal through the I/O golden).

Core ML cannot run on Linux, so a Core ML run ends with the error file the app writes when a model fails.
Faults (no pairing, Developer Mode off, app missing, locked or unplugged after N launches, a hung app) are
switches on :class:`FakePhone`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from toolkit.profile.ios import BUNDLE_ID, MAX_MODEL_NAME, MAX_RUN_ID, PhoneInfo, file_name_problem

__all__ = [
    "SAMPLE_PHOTO",
    "AppArgumentError",
    "FakePhone",
    "FakeTransport",
    "Prepared",
    "check_executorch_input",
    "executorch_input",
    "frame_steps",
    "parse_arguments",
]

SAMPLE_PHOTO = Path(__file__).resolve().parents[2] / "ios_demo/App/Resources/sample.png"
COMPUTE_UNITS = ("cpu_only", "cpu_and_gpu", "cpu_and_ne", "all")
DEFAULT_RUN_ID = "latest"


@dataclass
class FakePhone:
    udid: str
    documents: Path
    product_type: str = "iPhone16,1"
    name: str = "iPhone 15 Pro"
    ios_version: str = "17.5.1"
    pair_state: str = "paired"
    developer_mode: bool | None = True
    apps: set[str] = field(default_factory=lambda: {BUNDLE_ID})
    unplug_after_launches: int | None = None
    lock_after_launches: int | None = None
    hang: bool = False
    app_options: frozenset[str] | None = None  # an older app build that knows only these options (None: all)
    launches: list[list[str]] = field(default_factory=list)
    pushes: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)


class FakeTransport:
    """Implements toolkit.profile.ios.Transport against FakePhone objects."""

    def __init__(self, *phones: FakePhone) -> None:
        self.phones = {p.udid: p for p in phones}

    def _phone(self, udid: str) -> FakePhone:
        if udid not in self.list_devices():
            raise ConnectionError(f"device {udid} disconnected")  # what usbmux reports for a gone phone
        return self.phones[udid]

    def list_devices(self) -> list[str]:
        # unplug_after_launches=N: the phone is gone as soon as launch N+1 has happened.
        return sorted(u for u, p in self.phones.items()
                      if p.unplug_after_launches is None or len(p.launches) <= p.unplug_after_launches)  # fmt: skip

    def pair_state(self, udid: str) -> str:
        return self._phone(udid).pair_state

    def info(self, udid: str) -> PhoneInfo:
        p = self._phone(udid)
        return PhoneInfo(udid, p.name, p.product_type, p.ios_version, p.developer_mode)

    def app_installed(self, udid: str, bundle_id: str) -> bool:
        return bundle_id in self._phone(udid).apps

    def push(self, udid: str, bundle_id: str, local: Path, remote_dir: str) -> None:
        self._phone(udid).pushes.append(local.name)
        dest = self._phone(udid).documents / remote_dir / local.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():
            shutil.rmtree(dest)
        (shutil.copytree if local.is_dir() else shutil.copyfile)(local, dest)

    def pull(self, udid: str, bundle_id: str, remote: str) -> bytes | None:
        path = self._phone(udid).documents / remote
        return path.read_bytes() if path.is_file() else None

    def launch(self, udid: str, bundle_id: str, arguments: list[str]) -> None:
        p = self._phone(udid)
        if p.lock_after_launches is not None and len(p.launches) >= p.lock_after_launches:
            raise RuntimeError("Unable to launch because the device was not, or could not be, unlocked")
        if bundle_id not in p.apps:
            raise RuntimeError(f"no app {bundle_id}")
        p.launches.append(list(arguments))
        if p.hang:
            return
        thread = threading.Thread(target=run_app, args=(p, arguments), daemon=True)
        p.threads.append(thread)
        thread.start()

    def battery_temperature_c(self, udid: str) -> float | None:
        return 30.5 + 0.5 * len(self._phone(udid).launches)


class AppArgumentError(ValueError):
    """A command line the app refuses; ``run_id`` names the error file (None: the run id itself is bad)."""

    def __init__(self, message: str, run_id: str | None) -> None:
        super().__init__(message)
        self.run_id = run_id


OPTIONS = frozenset({"--model", "--run-id", "--compute-units", "--threads", "--warmup", "--iterations", "--duration",
                     "--cooldown"})  # fmt: skip


def parse_arguments(argv: list[str], known: frozenset[str] = OPTIONS) -> dict[str, Any] | None:
    """BenchCore's ``BenchmarkArguments.parse``, rule for rule: None without ``--benchmark``.

    ``known`` plays an older app build: options outside it are unknown to that build.
    """
    if "--benchmark" not in argv:
        return None
    values: dict[str, str] = {}
    pair_error: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--benchmark", "--") or not arg.startswith("--"):
            i += 1
            continue
        if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
            pair_error = pair_error or f"{arg} needs a value"
            i += 1
            continue
        if arg in values:
            pair_error = pair_error or f"{arg} is given twice"
        values[arg] = argv[i + 1]
        i += 2
    foreign = {k: values.pop(k) for k in sorted(values) if k not in known and k in OPTIONS}
    run_id = values.pop("--run-id", DEFAULT_RUN_ID)
    problem = file_name_problem(run_id, MAX_RUN_ID)
    if problem:
        raise AppArgumentError(f"--run-id {problem}", None)

    def fail(message: str) -> AppArgumentError:
        return AppArgumentError(message, run_id)

    if pair_error:
        raise fail(pair_error)
    if "--model" not in values:
        raise fail("--model is required")
    model = values.pop("--model")
    problem = file_name_problem(model, MAX_MODEL_NAME)
    if problem:
        raise fail(f"--model {problem}")
    out: dict[str, Any] = {"model": model, "run_id": run_id, "compute_units": "all", "threads": 0, "warmup": 10,
                           "iterations": 100, "duration": None, "cooldown": None}  # fmt: skip
    if "--compute-units" in values:
        units = values.pop("--compute-units")
        if units not in COMPUTE_UNITS:
            raise fail(f"--compute-units must be one of {', '.join(COMPUTE_UNITS)}, got {units}")
        out["compute_units"] = units
    for name, low in (("threads", 0), ("warmup", 0), ("iterations", 1)):
        text = values.pop(f"--{name}", None)
        if text is not None:
            if not _swift_int(text) or int(text) < low:
                raise fail(f"--{name} must be an integer >= {low}, got {text}")
            out[name] = int(text)
    for name, positive in (("duration", True), ("cooldown", False)):
        text = values.pop(f"--{name}", None)
        if text is not None:
            value = _swift_double(text)
            if value is None or not (value > 0 if positive else value >= 0):
                raise fail(f"--{name} must be seconds {'>' if positive else '>='} 0, got {text}")
            out[name] = value
    if values or foreign:
        raise fail(f"unknown option {sorted({**values, **foreign})[0]}")
    return out


def _swift_int(text: str) -> bool:
    """What Swift's Int(String) accepts: an optional sign, then ASCII digits, within 64 bits."""
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit() and -(2**63) <= int(text) < 2**63


def _swift_double(text: str) -> float | None:
    """Swift's Double(String) for the decimal numbers a host sends; finite values only, like the app."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not text.isascii() or "_" in text or text.strip() != text or value != value or abs(value) == float("inf"):
        return None
    return value


def run_app(phone: FakePhone, argv: list[str]) -> None:
    """The app's headless mode: writes results/<run-id>.json, or results/<run-id>.error.txt and nothing else."""
    results = phone.documents / "results"
    results.mkdir(parents=True, exist_ok=True)
    try:
        args = parse_arguments(argv, phone.app_options or OPTIONS)
        if args is None:
            raise AppArgumentError("not a benchmark launch (no --benchmark)", None)
    except AppArgumentError as e:
        _atomic(results / f"{e.run_id or DEFAULT_RUN_ID}.error.txt", f"bad arguments: {e}\n")
        return
    try:
        record = _measure(phone, args)
    except Exception as e:  # the app reports any failure as one line
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        _atomic(results / f"{args['run_id']}.error.txt", f"{text}\n")
        return
    _atomic(results / f"{args['run_id']}.json", json.dumps(record, indent=2))


def executorch_input(spec: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """BenchCore's ``TensorSpec.executorchSizes`` and ``executorchDimOrder``: the logical (N, C, H, W) sizes an
    ExecuTorch tensor declares for the input in either layout, and the dim order of its bytes."""
    shape = tuple(int(d) for d in spec.shape)
    if spec.layout == "nchw":
        return shape, (0, 1, 2, 3)
    if spec.layout == "nhwc" and len(shape) == 4:
        n, h, w, c = shape
        return (n, c, h, w), (0, 2, 3, 1)
    raise ValueError(
        f"input layout '{spec.layout or 'none'}' has no ExecuTorch sizes; an ExecuTorch program takes nchw or nhwc"
    )


def check_executorch_input(spec: Any, sizes: tuple[int, ...], dim_order: tuple[int, ...], file: str) -> None:
    """BenchCore's ``TensorSpec.checkExecuTorchInput``: the program's sizes and dim order must be the manifest's."""
    want, want_order = executorch_input(spec)
    order = tuple(dim_order) or tuple(range(len(sizes)))
    if tuple(sizes) != want or order != want_order:
        raise ValueError(
            f"{file} takes an input of sizes {list(sizes)} in dim order {list(order)}, but its manifest's "
            f"{spec.layout} input {list(spec.shape)} is sizes {list(want)} in dim order {list(want_order)}: "
            "copy the artifact and manifest of one export"
        )


def frame_steps(width: int, height: int, spec: Any, resolution: int, crop_fraction: float) -> str:
    """BenchCore's ``PhotoFrame.steps``: what one frame's preprocessing does, for the record."""
    scale = resolution / crop_fraction / min(width, height)
    new_w, new_h = max(resolution, round(width * scale)), max(resolution, round(height * scale))  # data.py's crop
    normalize = "" if spec.layout == "image" else "normalize, "
    return (f"resize {width}x{height} to {new_w}x{new_h} (bilinear), crop {resolution}, "
            f"{normalize}write {spec.dtype} {spec.layout}")  # fmt: skip


@dataclass
class Prepared:
    """BenchCore's PreparedModel: the checked manifest, the first frame's bytes, and the photo as a frame."""

    manifest: dict[str, Any]
    x: Any  # the first frame, encoded
    in_spec: Any
    out_spec: Any
    sha256: str
    encode: Callable[[], Any]  # one frame: resize, crop, normalize and write the decoded photo
    steps: str


def _prepare(phone: FakePhone, model: Path) -> Prepared:
    """BenchCore's PreparedModel: every check, then the encoded photo. Raises on the first problem."""
    from toolkit.data import Preprocessing, load_image
    from toolkit.export.manifest import tree_sha256
    from toolkit.profile.ios import _version_tuple
    from toolkit.runtimes import labels_file, read_manifest
    from toolkit.runtimes.io import TensorSpec, encode_pixels

    if not model.exists():
        raise FileNotFoundError(f"model {model.name} is not in Documents/models")
    manifest = read_manifest(model)
    if manifest.get("target") not in ("coreml", "executorch"):
        raise ValueError(f"a {manifest.get('target')} artifact does not run on iOS; export coreml or executorch")
    in_spec = TensorSpec.from_manifest(manifest, "input")
    out_spec = TensorSpec.from_manifest(manifest, "output")
    if (manifest.get("output") or {}).get("kind", "logits") not in ("logits", "probabilities"):
        raise ValueError(f"unsupported output kind {manifest['output']['kind']!r}")
    labels_file(model, manifest)  # refuses a labels file outside the model's folder
    need = str((manifest.get("backend") or {}).get("minimum_deployment_target")
               or (manifest.get("options") or {}).get("minimum_deployment_target") or "")  # fmt: skip
    if need.lower().startswith("ios") and _version_tuple(phone.ios_version)[:1] < _version_tuple(need)[:1]:
        raise ValueError(f"{model.name} needs iOS {_version_tuple(need)[0]} or newer")
    sha = tree_sha256(model)
    if sha != manifest["artifact"]["sha256"]:
        raise ValueError(f"{model.name} does not match its manifest (sha256)")
    prep = Preprocessing.from_dict(manifest["preprocessing"])
    resolution = int(manifest["variant"]["resolution"])
    photo = load_image(SAMPLE_PHOTO)  # decoded once: a camera hands over decoded frames

    def encode() -> Any:
        return encode_pixels(prep.crop(photo, resolution), in_spec, prep.mean, prep.std)

    steps = frame_steps(photo.width, photo.height, in_spec, resolution, prep.crop_fraction)
    return Prepared(manifest, encode(), in_spec, out_spec, sha, encode, steps)


def _measure(phone: FakePhone, a: dict[str, Any]) -> dict[str, Any]:
    from toolkit.profile.stats import summarize
    from toolkit.runtimes import open_runner
    from toolkit.runtimes.io import decode

    model = phone.documents / "models" / a["model"]
    p = _prepare(phone, model)
    manifest, out_spec, sha = p.manifest, p.out_spec, p.sha256
    if manifest["target"] == "coreml":
        raise RuntimeError("Core ML models run only on iOS/macOS; this fake phone is Linux")  # the model fails to load
    t0 = time.perf_counter_ns()
    runner = open_runner(model, threads=int(a["threads"]))
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    try:
        # ExecuTorchBackend.prepare: the program's input must be the manifest's, dtype, sizes and dim order
        if runner.input_spec.dtype != p.in_spec.dtype:
            raise ValueError(f"{model.name} takes ExecuTorch type {runner.input_spec.dtype}, its manifest says "
                             f"{p.in_spec.dtype}")  # fmt: skip
        check_executorch_input(p.in_spec, runner.method_sizes, runner.dim_order, model.name)
        # Checked equal, the manifest's memory-order bytes are what the app's tensor (logical sizes, the
        # layout's dim order) hands the program; run_raw takes exactly them and nothing else.
        t0 = time.perf_counter_ns()
        out = runner.run_raw(p.x)
        first_ms = (time.perf_counter_ns() - t0) / 1e6
        for _ in range(a["warmup"]):
            runner.run_raw(p.encode())  # each warm-up run on a new frame, untimed
        samples: list[float] = []
        preprocess: list[float] = []
        deadline = time.monotonic() + a["duration"] if a["duration"] else None
        while (time.monotonic() < deadline or not samples) if deadline else len(samples) < a["iterations"]:
            t0 = time.perf_counter_ns()
            x = p.encode()  # the frame's preprocessing, timed apart from its inference
            preprocess.append((time.perf_counter_ns() - t0) / 1e6)
            t0 = time.perf_counter_ns()
            out = runner.run_raw(x)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        runner.close()
    if out.size != out_spec.numel:
        raise ValueError(f"output has {out.size} values, the manifest says {list(out_spec.shape)}")
    scores = decode(out, out_spec)
    if not scores.size or not bool((abs(scores) < float("inf")).all()):
        raise ValueError(f"{model.name} produced non-finite scores")
    return {
        "schema_version": 1,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": {
            "kind": "ios",
            "name": phone.product_type,
            "os": f"iOS {phone.ios_version}",
            "cores": os.cpu_count(),
        },
        "runtime": {
            "name": "executorch",
            "version": (manifest.get("runtime") or {}).get("version") or "unknown",
            "version_source": "declared",
            "delegate": manifest.get("delegate"),
        },
        "artifact": {
            "sha256": sha,
            "file": manifest["artifact"]["file"],
            "variant": manifest["variant"]["name"],
            "target": manifest["target"],
            "precision": manifest["precision"],
            "weights": manifest["weights"]["kind"],
        },
        "config": {"threads": a["threads"], "warmup": a["warmup"], "iterations": len(samples), "batch": 1},
        "latency_ms": samples,
        "stats": summarize(samples).to_dict(),
        "preprocess": {"latency_ms": preprocess, "stats": summarize(preprocess).to_dict(), "steps": p.steps},
        "load_ms": load_ms,
        "first_inference_ms": first_ms,
        "temperature_c": {"thermal_state": "nominal"},
        "notes": ["thermal state before: nominal"],
    }


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
