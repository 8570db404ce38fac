"""Optional runtimes, declared once: tests skip on these flags and the CLI names the extra to install."""

from __future__ import annotations

import importlib.util
import platform

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
    "jsonschema": ("jsonschema", "report"),
    "qai_hub": ("the Qualcomm AI Hub client (qai-hub)", "aihub"),
}


def require(module: str) -> None:
    """Raise MissingDependencyError naming the pip extra when an optional module is absent."""
    if not _has(module):
        from toolkit.errors import MissingDependencyError

        what, extra = _EXTRAS.get(module, (module, "all"))
        raise MissingDependencyError.for_extra(what, extra)
