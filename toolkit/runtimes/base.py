"""The host-runtime contract: every exported format is loaded, run and timed the same way."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Runner", "RuntimeUnavailableError"]


class RuntimeUnavailableError(RuntimeError):
    """The optional runtime for a format is not installed (or cannot run on this OS); says what to install."""


@runtime_checkable
class Runner(Protocol):
    """A loaded artifact. ``run`` takes and returns the artifact's own layout (see its manifest)."""

    name: str  # runtime name as in the result schema: executorch, tflite, onnxruntime, coreml
    version: str

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """One inference on a float32 batch in the artifact's layout; returns float32 scores.

        Runners whose runtime takes a plain tensor also expose ``input_spec``/``output_spec``
        (:class:`toolkit.runtimes.io.TensorSpec`, read from the loaded runtime) and ``run_raw(x)``, which
        takes exactly that tensor (dtype and shape) and returns the raw output, refusing anything else
        as the phone runtimes do.
        """
        ...

    def close(self) -> None: ...
