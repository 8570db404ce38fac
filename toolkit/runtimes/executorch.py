"""ExecuTorch host runner (``executorch.runtime``): the same XNNPACK kernels the phone app links."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit._deps import require
from toolkit.errors import UsageError

__all__ = ["ExecuTorchRunner", "open_runner"]

require("executorch")

_SCALAR_HALF = 5  # c10::ScalarType::Half, as MethodMeta reports dtypes


class ExecuTorchRunner:
    """A loaded ``.pte``. Inputs are cast to the program's input dtype (fp16 programs take fp16).

    Threads: the pybindings expose one process-wide XNNPACK threadpool; ``threads > 0`` resets it
    (``_unsafe_reset_threadpool``, experimental API), ``0`` keeps the runtime default (one per core).
    """

    name = "executorch"

    def __init__(self, path: Path, threads: int = 0) -> None:
        import torch
        from executorch.runtime import Runtime

        from toolkit.export.manifest import package_version

        self.version = package_version("executorch") or "unknown"
        if threads > 0:
            from executorch.extension.pybindings import portable_lib

            portable_lib._unsafe_reset_threadpool(threads)
        try:
            self._program = Runtime.get().load_program(Path(path))
            self._method = self._program.load_method("forward")
        except (RuntimeError, ValueError) as e:
            raise UsageError(f"cannot load {Path(path).name} in ExecuTorch: {e}") from None
        meta = self._method.metadata.input_tensor_meta(0)
        self.input_shape = tuple(meta.sizes())
        self._dtype = torch.float16 if int(meta.dtype()) == _SCALAR_HALF else torch.float32
        self.threads = threads or portable_lib_thread_count()

    def run(self, inputs: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(inputs)).to(self._dtype)
        out = self._method.execute([x])[0]
        return out.float().numpy()

    def close(self) -> None:
        self._method = None
        self._program = None


def portable_lib_thread_count() -> int:
    from executorch.extension.pybindings import portable_lib

    return int(portable_lib._threadpool_get_thread_count())


def open_runner(path: Path, threads: int = 0) -> ExecuTorchRunner:
    return ExecuTorchRunner(path, threads)
