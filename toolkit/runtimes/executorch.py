"""ExecuTorch host runner (``executorch.runtime``): the same XNNPACK kernels the phone app links."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit._deps import require
from toolkit.errors import UsageError
from toolkit.runtimes.io import DTYPES, TensorSpec, check_raw, decode, encode

__all__ = ["ExecuTorchRunner", "open_runner"]

require("executorch")

# c10::ScalarType codes as MethodMeta reports them → the I/O contract's dtype names
_SCALAR_TYPES = {0: "uint8", 1: "int8", 5: "float16", 6: "float32"}


class ExecuTorchRunner:
    """A loaded ``.pte``. ``run`` encodes float inputs to the program's input dtype as an app must
    (:mod:`toolkit.runtimes.io`); ``run_raw`` takes exactly the tensor the program takes, nothing else.

    Threads: the pybindings expose one process-wide XNNPACK threadpool; ``threads > 0`` resets it
    (``_unsafe_reset_threadpool``, experimental API), ``0`` keeps the runtime default (one per core).
    """

    name = "executorch"

    def __init__(self, path: Path, threads: int = 0) -> None:
        from executorch.runtime import Runtime

        from toolkit._deps import installed_version

        self.version = installed_version("executorch") or "unknown"
        if threads > 0:
            from executorch.extension.pybindings import portable_lib

            portable_lib._unsafe_reset_threadpool(threads)
        try:
            self._program = Runtime.get().load_program(Path(path))
            self._method = self._program.load_method("forward")
        except (RuntimeError, ValueError) as e:
            raise UsageError(f"cannot load {Path(path).name} in ExecuTorch: {e}") from None
        meta = self._method.metadata
        self.input_spec = _spec(meta.input_tensor_meta(0), Path(path).name)
        self.output_spec = _spec(meta.output_tensor_meta(0), Path(path).name)
        self.input_shape = self.input_spec.shape
        self.threads = threads or portable_lib_thread_count()

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Float inputs in the program's layout → float32 scores (a program with integer I/O needs the
        manifest's quantization, which the method does not carry: use ``run_raw`` with encoded input)."""
        return decode(self.run_raw(encode(inputs, self.input_spec)), self.output_spec)

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """One inference on exactly the program's input tensor (dtype and shape); returns its raw output."""
        import torch

        check_raw(x, self.input_spec, "ExecuTorch")
        out = self._method.execute([torch.from_numpy(np.ascontiguousarray(x))])[0]
        return out.numpy().copy()

    def close(self) -> None:
        self._method = None
        self._program = None


def _spec(meta: object, name: str) -> TensorSpec:
    code = int(meta.dtype())  # type: ignore[attr-defined]
    if code not in _SCALAR_TYPES:
        raise UsageError(f"{name}: tensor dtype code {code} is outside the I/O contract ({', '.join(DTYPES)})")
    # integer I/O would carry its (scale, zero point) in the manifest only: the method does not know it
    return TensorSpec(_SCALAR_TYPES[code], tuple(int(d) for d in meta.sizes()))  # type: ignore[attr-defined]


def portable_lib_thread_count() -> int:
    from executorch.extension.pybindings import portable_lib

    return int(portable_lib._threadpool_get_thread_count())


def open_runner(path: Path, threads: int = 0) -> ExecuTorchRunner:
    return ExecuTorchRunner(path, threads)
