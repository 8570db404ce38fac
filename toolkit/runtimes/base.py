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
        """One inference on a float32 (or the artifact's input dtype) batch; returns logits as float32."""
        ...

    def close(self) -> None: ...
