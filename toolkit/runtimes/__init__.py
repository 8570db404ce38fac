"""Host runners for exported artifacts, chosen by file extension; the manifest says how to feed them.

Each format's runner lives in its own module and is imported only when used, because each pulls an
optional runtime (``executorch``, ``onnxruntime``, ``ai_edge_litert``, ``coremltools``).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import UsageError
from toolkit.runtimes.base import Runner, RuntimeUnavailableError

__all__ = [
    "LAYOUTS",
    "OUTPUT_KINDS",
    "RUNNER_MODULES",
    "Runner",
    "RuntimeUnavailableError",
    "classify",
    "from_logits",
    "labels_file",
    "log_softmax",
    "manifest_path",
    "open_runner",
    "output_kind",
    "read_manifest",
    "run_batch",
    "softmax",
    "to_layout",
    "to_probabilities",
]

# artifact extension → module defining `open_runner(path, threads) -> Runner`
RUNNER_MODULES: dict[str, str] = {
    ".pte": "toolkit.runtimes.executorch",
    ".onnx": "toolkit.runtimes.onnxruntime",
    ".tflite": "toolkit.runtimes.tflite",
    ".mlpackage": "toolkit.runtimes.coreml",
}
LAYOUTS = ("nchw", "nhwc", "image")
# What a runner's ``run`` returns, declared by its ``output_kind`` attribute (absent = "logits"): a Core ML
# classifier only exposes its softmax, so its runner returns probabilities, not logits.
OUTPUT_KINDS = ("logits", "probabilities", "log_probabilities")


def open_runner(artifact: str | Path, threads: int = 0, compute_units: str | None = None) -> Runner:
    """Load ``artifact`` in its host runtime; ``threads=0`` keeps the runtime's default.

    ``compute_units`` (Core ML only: all, cpu_only, cpu_and_gpu, cpu_and_ne) picks where Core ML runs;
    None keeps the runner's default. Raises UsageError for an unknown extension, a missing file or
    compute units given for another format, MissingDependencyError when the runtime is not installed,
    RuntimeUnavailableError where it cannot run on this OS.
    """
    path = Path(artifact)
    module = RUNNER_MODULES.get(path.suffix)
    if module is None:
        raise UsageError(f"{path.name}: unknown artifact type; expected one of {', '.join(RUNNER_MODULES)}")
    if compute_units is not None:
        _check_compute_units(compute_units, path)
    if not path.exists():
        raise UsageError(f"artifact not found: {path}")
    try:
        runner_module = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        raise RuntimeUnavailableError(f"no host runner for {path.suffix} artifacts in this install") from None
    if compute_units is not None:
        return runner_module.open_runner(path, threads=threads, compute_units=compute_units)
    return runner_module.open_runner(path, threads=threads)


def _check_compute_units(units: str, path: Path) -> None:
    """Valid names first (even where Core ML cannot run), then only for ``.mlpackage`` artifacts."""
    from toolkit.runtimes.coreml import COMPUTE_UNITS  # light: coremltools is imported only to run

    if units not in COMPUTE_UNITS:
        raise UsageError(f"unknown Core ML compute units {units!r}; choose one of: {', '.join(COMPUTE_UNITS)}")
    if path.suffix != ".mlpackage":
        raise UsageError(f"compute units apply to Core ML (.mlpackage) artifacts only, not {path.name}")


def manifest_path(artifact: str | Path) -> Path:
    """``<artifact>.manifest.json`` beside the artifact (the full name, extension included)."""
    path = Path(artifact)
    return path.with_name(path.name + ".manifest.json")


def read_manifest(artifact: str | Path) -> dict[str, Any]:
    """The manifest written beside ``artifact``; UsageError (one line) when absent or unreadable."""
    path = manifest_path(artifact)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no manifest beside {Path(artifact).name} (expected {path.name})") from None
    except (OSError, json.JSONDecodeError) as e:
        raise UsageError(f"cannot read manifest {path}: {e}") from None


def to_layout(images_nchw: np.ndarray, layout: str) -> np.ndarray:
    """Convert a float32 NCHW batch into an artifact's input layout (``nchw``, ``nhwc`` or ``image``)."""
    if images_nchw.ndim != 4:
        raise ValueError(f"expected an NCHW batch, got shape {images_nchw.shape}")
    if layout in ("nchw", "image"):
        # "image" (Core ML ImageType): the runner gets the normalized NCHW batch and builds the
        # platform image itself, since only it knows the model's scale/bias embedding.
        return np.ascontiguousarray(images_nchw, dtype=np.float32)
    if layout == "nhwc":
        return np.ascontiguousarray(images_nchw.transpose(0, 2, 3, 1), dtype=np.float32)
    raise ValueError(f"unknown input layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def run_batch(runner: Runner, images_nchw: np.ndarray, layout: str, batch: int = 1, io: Any = None) -> np.ndarray:
    """The runner's outputs (logits, or what its ``output_kind`` says) for every image, ``batch`` at a time.

    Artifacts are exported with a static batch of 1. ``io``, a manifest's declared (input, output) specs
    (:func:`toolkit.runtimes.declared.declared_io`), feeds the runtime exactly as an app does: inputs
    encoded and outputs decoded with the manifest's dtype and quantization.
    """
    from toolkit.runtimes.declared import run_declared

    x = to_layout(images_nchw, layout)

    def run(xb: np.ndarray) -> np.ndarray:
        return runner.run(xb) if io is None else run_declared(runner, xb, io)

    outs = [np.asarray(run(x[i : i + batch]), dtype=np.float32) for i in range(0, len(x), batch)]
    return np.concatenate([o.reshape(o.shape[0], -1) for o in outs])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis (max subtracted first, so large logits cannot overflow)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log(softmax(logits)) without forming tiny probabilities first."""
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def output_kind(runner: Any) -> str:
    """What ``runner.run`` returns: its ``output_kind`` attribute, "logits" when it declares none."""
    kind = getattr(runner, "output_kind", "logits")
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"runner {getattr(runner, 'name', runner)!r} declares unknown output kind {kind!r}")
    return kind


def from_logits(logits: np.ndarray, kind: str) -> np.ndarray:
    """Logits turned into what a runner of output ``kind`` returns, so reference and artifact compare alike."""
    if kind == "logits":
        return logits
    if kind == "probabilities":
        return softmax(logits)
    if kind == "log_probabilities":
        return log_softmax(logits)
    raise ValueError(f"unknown output kind {kind!r}; expected one of {', '.join(OUTPUT_KINDS)}")


def to_probabilities(outputs: np.ndarray, kind: str) -> np.ndarray:
    """Class probabilities from a runner's outputs of ``kind``; probabilities are never softmaxed twice."""
    if kind == "logits":
        return softmax(outputs)
    if kind == "probabilities":
        return outputs
    if kind == "log_probabilities":
        return np.exp(outputs)
    raise ValueError(f"unknown output kind {kind!r}; expected one of {', '.join(OUTPUT_KINDS)}")


def classify(
    artifact: str | Path, image: str | Path, top_k: int = 5, threads: int = 0, compute_units: str | None = None
) -> list[tuple[str, float]]:
    """Top-k (label, probability) for one photo, computed by the artifact's own runtime.

    Preprocessing, resolution, layout and labels all come from the manifest, as an app would do it; a
    runner that already returns probabilities (Core ML's classifier) is not softmaxed a second time.
    """
    from toolkit.data import Preprocessing, load_batch

    artifact = Path(artifact)
    manifest = read_manifest(artifact)
    prep = Preprocessing.from_dict(manifest["preprocessing"])
    try:
        x = load_batch([image], int(manifest["variant"]["resolution"]), prep)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    labels = _labels(artifact, manifest)
    runner = open_runner(artifact, threads=threads, compute_units=compute_units)
    try:
        from toolkit.runtimes.declared import declared_io

        out = run_batch(runner, x, manifest["input"]["layout"], io=declared_io(manifest, runner))
        probs = to_probabilities(out, output_kind(runner))[0]
    finally:
        runner.close()
    order = np.argsort(-probs)[:top_k]
    return [(labels[i] if i < len(labels) else f"class_{i}", float(probs[i])) for i in order]


def labels_file(artifact: str | Path, manifest: dict[str, Any]) -> Path | None:
    """The labels file the manifest names, beside the artifact; None when it names none.

    A name that would leave the artifact's folder (a path, "..") is refused with one line: a manifest
    must not make the toolkit, or a phone it copies files to, read anything else. The apps apply the same rule.
    """
    name = manifest.get("labels_file")
    if not name:
        return None
    if not isinstance(name, str) or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise UsageError(f"labels_file {name!r} leaves the artifact's folder; it must be a file name beside it")
    return Path(artifact).with_name(name)


def _labels(artifact: Path, manifest: dict[str, Any]) -> list[str]:
    path = labels_file(artifact, manifest)
    return path.read_text(encoding="utf-8").splitlines() if path is not None and path.is_file() else []
