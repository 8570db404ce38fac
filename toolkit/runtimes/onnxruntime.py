"""ONNX Runtime host runner (CPU execution provider)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit._deps import require
from toolkit.errors import UsageError
from toolkit.runtimes.io import TensorSpec, check_raw, decode, encode

__all__ = ["OnnxRuntimeRunner", "open_runner"]

require("onnxruntime")

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
}


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
        inp, out = self._session.get_inputs()[0], self._session.get_outputs()[0]
        self._input, self.input_shape = inp.name, tuple(inp.shape)
        self._dtype = np.dtype(_ORT_TYPES.get(inp.type, "float32"))
        self._dynamic = not all(isinstance(d, int) for d in inp.shape)
        if not self._dynamic:  # a symbolic batch axis has no single raw shape
            self.input_spec = TensorSpec(_ORT_TYPES.get(inp.type, inp.type), tuple(inp.shape))
            self.output_spec = TensorSpec(_ORT_TYPES.get(out.type, out.type), tuple(out.shape))

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Float inputs (any batch where the axis is symbolic) → float32 scores."""
        if self._dynamic:
            x = np.ascontiguousarray(inputs, dtype=self._dtype)
            return np.asarray(self._session.run(None, {self._input: x})[0], dtype=np.float32)
        return decode(self.run_raw(encode(inputs, self.input_spec)), self.output_spec)

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """One inference on exactly the session's input tensor (static shapes only); its raw output."""
        if self._dynamic:
            raise UsageError("run_raw needs a static input shape; this model has a symbolic batch axis")
        check_raw(x, self.input_spec, "ONNX Runtime")
        return np.asarray(self._session.run(None, {self._input: np.ascontiguousarray(x)})[0])

    def close(self) -> None:
        self._session = None


def open_runner(path: Path, threads: int = 0) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(path, threads)
