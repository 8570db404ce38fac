"""ONNX Runtime host runner (CPU execution provider)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit._deps import require
from toolkit.errors import UsageError

__all__ = ["OnnxRuntimeRunner", "open_runner"]

require("onnxruntime")


class OnnxRuntimeRunner:
    """A loaded ``.onnx``. ``threads`` sets ``intra_op_num_threads`` (0 = ORT's default, one per core).

    ORT's idle workers spin for a while after each run (see performance_notes.md); the session
    disables spinning only when asked via ``allow_spinning=False`` so latency runs stay comparable.
    """

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int = 0, allow_spinning: bool = True) -> None:
        import onnxruntime as ort

        self.version = ort.__version__
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not allow_spinning:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.threads = threads
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT raises its own pybind exception types
            raise UsageError(f"cannot load {Path(path).name} in ONNX Runtime: {str(e).splitlines()[0]}") from None
        inp = self._session.get_inputs()[0]
        self._input, self.input_shape = inp.name, tuple(inp.shape)
        self._dtype = np.float16 if "float16" in inp.type else np.float32

    def run(self, inputs: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(inputs, dtype=self._dtype)
        return np.asarray(self._session.run(None, {self._input: x})[0], dtype=np.float32)

    def close(self) -> None:
        self._session = None


def open_runner(path: Path, threads: int = 0) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(path, threads)
