"""Optional runtimes, declared once: tests skip on these flags and the CLI names the extra to install."""

from __future__ import annotations

import importlib.util
import platform
import re
from importlib import metadata

__all__ = [
    "HAS_AI_EDGE_LITERT",
    "HAS_COREMLTOOLS",
    "HAS_EXECUTORCH",
    "HAS_H5PY",
    "HAS_KERAS",
    "HAS_LITERT_TORCH",
    "HAS_ONNX",
    "HAS_ONNXRUNTIME",
    "HAS_QAI_HUB",
    "HAS_TFLITE_INTERPRETER",
    "IS_MACOS",
    "check_patch_range",
    "in_patch_range",
    "installed_version",
    "require",
]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


HAS_EXECUTORCH = _has("executorch")
HAS_COREMLTOOLS = _has("coremltools")
HAS_LITERT_TORCH = _has("litert_torch")
HAS_AI_EDGE_LITERT = _has("ai_edge_litert")
HAS_TFLITE_INTERPRETER = HAS_AI_EDGE_LITERT or _has("tflite_runtime")
HAS_ONNX = _has("onnx")
HAS_ONNXRUNTIME = _has("onnxruntime")
HAS_H5PY = _has("h5py")
HAS_KERAS = _has("keras")
HAS_QAI_HUB = _has("qai_hub")
IS_MACOS = platform.system() == "Darwin"

# import name → (what a user calls it, the pip extra that brings it)
_EXTRAS = {
    "executorch": ("ExecuTorch", "executorch"),
    "coremltools": ("coremltools", "coreml"),
    "litert_torch": ("litert-torch (TFLite export)", "tflite"),
    "ai_edge_litert": ("the LiteRT interpreter (ai-edge-litert)", "tflite"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("ONNX Runtime", "onnx"),
    "h5py": ("h5py (Keras .h5 weights)", "keras"),
    "keras": ("keras", "keras"),
    "matplotlib": ("matplotlib (report plots)", "report"),
    "qai_hub": ("the Qualcomm AI Hub client (qai-hub)", "aihub"),
}


def require(module: str) -> None:
    """Raise MissingDependencyError naming the pip extra when an optional module is absent."""
    if not _has(module):
        from toolkit.errors import MissingDependencyError

        what, extra = _EXTRAS.get(module, (module, "all"))
        raise MissingDependencyError.for_extra(what, extra)


def installed_version(dist: str) -> str | None:
    """The installed release of distribution ``dist`` (``"executorch"``), or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _release(version: str) -> tuple[int, ...]:
    """``"2.13.0+cpu"`` → ``(2, 13, 0)``: the numeric release, enough to place it in a range."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    parts = [int(n) for n in match.group(0).split(".")[:3]] if match else []
    return tuple(parts + [0] * (3 - len(parts)))


def in_patch_range(dist: str, minimum: str, below: str) -> bool:
    """Whether the installed ``dist`` is in ``[minimum, below)``: for a patch that is only an optimization,
    whose stock path stays correct, and so is skipped rather than refused outside its range."""
    have = installed_version(dist)
    return have is not None and _release(minimum) <= _release(have) < _release(below)


def check_patch_range(dist: str, minimum: str, below: str, patch: str, avoid: str) -> str:
    """Refuse, in one line, to patch ``dist``'s private internals outside the releases ``patch`` was written for.

    A patch of a dependency's internals is correct only for the code it was read from; on another release
    it could silently write a wrong graph. ``[minimum, below)`` is the range it was written and tested for;
    ``avoid`` tells the user how to go without it (a flag). Returns the installed version.
    """
    have = installed_version(dist)
    if not in_patch_range(dist, minimum, below):
        from toolkit.errors import ToolkitError

        raise ToolkitError(
            f"{patch} patches {dist} internals and was written for {dist}>={minimum},<{below} "
            f"(installed: {have or 'none'}); {avoid}"
        )
    return have
