"""A manifest's declared I/O against a loaded runtime: check it, and run the artifact through it.

The manifest is what an app reads to build its input bytes, so the toolkit proves the two agree before
an artifact is installed (:func:`check_declared_io`) and verifies every artifact by feeding it exactly
as an app would: the manifest's dtype and quantization, not the runtime's own view (:func:`declared_io`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.runtimes.base import Runner
from toolkit.runtimes.io import TensorSpec, decode, encode

__all__ = ["DeclaredIO", "check_declared_io", "declared_io", "describe", "run_declared"]

DeclaredIO = tuple[TensorSpec, TensorSpec]  # (input, output) as the manifest states them


def declared_io(manifest: Mapping[str, Any], runner: Runner) -> DeclaredIO | None:
    """The manifest's (input, output) specs where an app feeds the runtime a plain tensor, else None.

    None for a platform image input (Core ML builds its own pixel buffer), a symbolic batch axis, or a
    runner without ``run_raw``: those are fed by the runner itself.
    """
    inp = manifest.get("input") or {}
    if inp.get("layout") == "image" or not hasattr(runner, "run_raw"):
        return None
    shapes = (inp.get("shape") or [], (manifest.get("output") or {}).get("shape") or [])
    if not all(isinstance(d, int) for shape in shapes for d in shape):
        return None
    return TensorSpec.from_manifest(manifest, "input"), TensorSpec.from_manifest(manifest, "output")


def run_declared(runner: Runner, x: np.ndarray, io: DeclaredIO) -> np.ndarray:
    """One inference as an app makes it: encode with the manifest's input spec, decode with its output spec."""
    return decode(runner.run_raw(encode(x, io[0])), io[1])  # type: ignore[attr-defined]


def describe(spec: TensorSpec) -> str:
    """``int8 [1, 64, 64, 3] (scale 0.00784, zero point 0)``: one spec in an error line."""
    q = f" (scale {spec.scale:.6g}, zero point {spec.zero_point})" if spec.is_quantized else ""
    return f"{spec.dtype} {list(spec.shape)}{q}"


def check_declared_io(manifest: Mapping[str, Any], runner: Runner, name: str) -> None:
    """ToolkitError (one line) when the manifest's input or output differs from what the runtime loaded.

    Compares dtype and shape, and for integer tensors the (scale, zero point) where the runtime knows
    them (LiteRT does; an ExecuTorch method does not carry quantization). Runtimes without a tensor view
    (Core ML) or with a symbolic batch are not compared.
    """
    io = declared_io(manifest, runner)
    if io is None:
        return
    for side, declared in zip(("input", "output"), io, strict=True):
        actual = getattr(runner, f"{side}_spec", None)
        if actual is None:
            continue
        same = declared.dtype == actual.dtype and tuple(declared.shape) == tuple(actual.shape)
        if same and declared.is_integer and actual.is_quantized:
            same = (declared.scale, declared.zero_point) == (actual.scale, actual.zero_point)
        if not same:
            raise ToolkitError(
                f"{name}: the manifest declares {side} {describe(declared)} but the {runner.name} runtime "
                f"reads {describe(actual)}"
            )
