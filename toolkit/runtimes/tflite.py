"""Run a ``.tflite`` on the host with the LiteRT interpreter (XNNPACK CPU delegate, as on Android).

``ai_edge_litert`` is the current package; the older standalone ``tflite_runtime`` wheel exposes the
same ``Interpreter`` class, so it is used when it is the only one installed (e.g. on a Raspberry Pi).
"""

from __future__ import annotations

import collections
import importlib
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from toolkit.errors import MissingDependencyError, UsageError
from toolkit.runtimes.io import DTYPES, TensorSpec, check_raw, decode, encode

__all__ = ["TFLiteRunner", "interpreter_module", "op_counts", "open_runner"]

# (import path, distribution name) in order of preference
_INTERPRETERS = (("ai_edge_litert.interpreter", "ai-edge-litert"), ("tflite_runtime.interpreter", "tflite-runtime"))


def interpreter_module() -> tuple[ModuleType, str]:
    """The interpreter module and its ``dist==version`` label; MissingDependencyError names the extra."""
    for module, dist in _INTERPRETERS:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return mod, f"{dist}=={version}"
    raise MissingDependencyError.for_extra("the LiteRT interpreter (ai-edge-litert or tflite-runtime)", "tflite")


class TFLiteRunner:
    """One loaded ``.tflite``; ``run`` takes the artifact's own layout (NHWC or NCHW, see its manifest)."""

    name = "tflite"

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        mod, self.version = interpreter_module()
        self.path = Path(path)
        # num_threads=None keeps the runtime default (XNNPACK picks the core count)
        try:
            self._interp = mod.Interpreter(model_path=str(self.path), num_threads=threads or None)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise UsageError(f"cannot load {self.path.name} as a TFLite model: {str(e).splitlines()[0]}") from None
        (self._inp,) = self._interp.get_input_details()
        (self._out,) = self._interp.get_output_details()
        self.input_spec, self.output_spec = _spec(self._inp, self.path.name), _spec(self._out, self.path.name)
        self.input_shape = self.input_spec.shape
        self.input_dtype = np.dtype(self.input_spec.dtype)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """One inference on float inputs in the model's layout; the batch must match the static shape (1, ...).

        A full-integer model (int8 I/O) gets its input quantized and its output dequantized with the
        tensors' own (scale, zero point), exactly as an app must do, so callers always see float scores.
        """
        return decode(self.run_raw(encode(inputs, self.input_spec)), self.output_spec)

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """One inference on exactly the input tensor (dtype and shape) the interpreter holds; raw output."""
        check_raw(x, self.input_spec, "LiteRT")
        self._interp.set_tensor(self._inp["index"], np.ascontiguousarray(x))
        self._interp.invoke()
        return np.array(self._interp.get_tensor(self._out["index"]))  # a copy: the buffer is reused

    def close(self) -> None:
        self._interp = None  # type: ignore[assignment]


def _spec(detail: dict[str, Any], name: str) -> TensorSpec:
    """The I/O contract's view of an interpreter tensor: dtype, shape and (for integers) its quantization."""
    dtype = np.dtype(detail["dtype"]).name
    if dtype not in DTYPES:
        raise UsageError(f"{name}: tensor dtype {dtype} is outside the I/O contract ({', '.join(DTYPES)})")
    scale, zero_point = detail["quantization"]
    q = (float(scale), int(zero_point)) if np.dtype(dtype).kind in "iu" and scale else (None, None)
    return TensorSpec(dtype, tuple(int(d) for d in detail["shape"]), None, *q)


def open_runner(path: str | Path, threads: int = 0) -> TFLiteRunner:
    return TFLiteRunner(path, threads=threads)


def op_counts(path: str | Path) -> dict[str, int]:
    """Builtin-op histogram of a ``.tflite`` read straight from its flatbuffer (before any delegate).

    Reading the file rather than the interpreter's node list keeps XNNPACK's fused ``DELEGATE`` node out
    of the counts, so they describe the graph the converter wrote.
    """
    schema = _schema()
    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAs(buf, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # builtin codes ≥ 127 live in BuiltinCode(); the deprecated byte field saturates at 127
        op = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        custom = code.CustomCode()
        codes.append(f"CUSTOM:{custom.decode()}" if custom else names.get(op, f"OP_{op}"))
    counts: collections.Counter[str] = collections.Counter()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for i in range(graph.OperatorsLength()):
            counts[codes[graph.Operators(i).OpcodeIndex()]] += 1
    return dict(sorted(counts.items()))


def _schema() -> Any:
    for module in ("ai_edge_litert.schema_py_generated", "tflite_runtime.schema_py_generated"):
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    raise MissingDependencyError.for_extra("the LiteRT flatbuffer schema (ai-edge-litert)", "tflite")
