"""The one I/O contract between a caller (host runner, Android app, iOS app) and an exported model.

A manifest's ``input`` and ``output`` blocks say what bytes the model takes and gives: a ``dtype``
(float32, float16, int8, uint8), a ``layout`` for the input (nchw, nhwc, or ``image``: a platform image
type fed RGB 0..255 pixels), and for integer tensors an affine ``quantization`` (scale, zero point).
Every caller turns the preprocessed photo into exactly those bytes with the rules below, and the
apps' cores (``benchcore`` in Java, ``BenchCore`` in Swift) are tested bit for bit against them:

- float32: the normalized value ``(pixel / 255 - mean) / std`` computed in float32.
- float16: that float32 value rounded to the nearest half, ties to even (IEEE 754 default).
- int8 / uint8: ``q = clamp(round_half_even(x / scale) + zero_point)``, the division in float32.
- output int8 / uint8: ``x = (q - zero_point) * scale`` in float32; float16 widens exactly.
- ``image`` layout: the cropped RGB pixels as uint8, height × width × 3 (the model normalizes).

By default every export has float32 I/O whatever its weights' precision (``io="float"``): the quantize
and dequantize steps live inside the graph, as LiteRT's converter does by default. ``io="native"``
keeps the compute dtype at the edges (int8 for full-integer TFLite, float16 for fp16 ExecuTorch) for
integer-only accelerators and apps that feed camera bytes directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.errors import UsageError

__all__ = [
    "DTYPES",
    "IO_CHOICES",
    "LAYOUTS",
    "TensorSpec",
    "check_raw",
    "decode",
    "encode",
    "encode_pixels",
    "validate_io",
]

DTYPES = ("float32", "float16", "int8", "uint8")
LAYOUTS = ("nchw", "nhwc", "image")
IO_CHOICES = ("float", "native")  # float32 at the edges (default), or the compute dtype


def validate_io(io: str) -> str:
    if io not in IO_CHOICES:
        raise UsageError(f"unknown I/O contract {io!r}; choose one of: {', '.join(IO_CHOICES)}")
    return io


@dataclass(frozen=True)
class TensorSpec:
    """What one model input or output holds: dtype, static shape, layout (inputs) and affine quantization."""

    dtype: str
    shape: tuple[int, ...]
    layout: str | None = None
    scale: float | None = None
    zero_point: int | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise UsageError(f"unsupported tensor dtype {self.dtype!r}; the apps feed {', '.join(DTYPES)}")
        if self.layout is not None and self.layout not in LAYOUTS:
            raise UsageError(f"unsupported input layout {self.layout!r}; expected one of {', '.join(LAYOUTS)}")
        if self.layout == "image" and self.dtype != "uint8":
            raise UsageError(f"an image input takes uint8 RGB pixels, not {self.dtype}")
        if self.scale is not None and not self.scale > 0:
            raise UsageError(f"quantization scale must be > 0, got {self.scale}")

    @property
    def is_integer(self) -> bool:
        return self.dtype in ("int8", "uint8")

    @property
    def is_quantized(self) -> bool:
        return self.scale is not None and self.zero_point is not None

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.numel * np.dtype(self.dtype).itemsize

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], side: str) -> TensorSpec:
        """The ``input`` or ``output`` block of a manifest; one clear line when it cannot be fed."""
        if side not in ("input", "output"):
            raise ValueError(f"side must be input or output, got {side!r}")
        block = manifest.get(side) or {}
        shape = block.get("shape")
        if not shape or not all(isinstance(d, int) for d in shape):
            raise UsageError(f"manifest {side}.shape must be static integers, got {shape!r}")
        q = block.get("quantization") or {}
        dtype = block.get("dtype", "float32")
        layout = block.get("layout") if side == "input" else None
        if side == "input" and layout is None:
            raise UsageError("manifest input.layout is missing")
        spec = cls(dtype, tuple(shape), layout, q.get("scale"), q.get("zero_point"))
        if spec.is_integer and layout != "image" and not spec.is_quantized:
            raise UsageError(f"manifest {side} is {dtype} but has no quantization (scale, zero_point)")
        return spec

    def to_manifest(self) -> dict[str, Any]:
        """The manifest fields this spec stands for (``quantization`` only for integer tensors)."""
        out: dict[str, Any] = {"shape": list(self.shape), "dtype": self.dtype}
        if self.layout is not None:
            out["layout"] = self.layout
        if self.is_quantized:
            out["quantization"] = {"scale": float(self.scale), "zero_point": int(self.zero_point)}
        return out


def encode(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """A normalized float32 tensor (already in ``spec.layout``) as the model's input dtype."""
    x = np.asarray(x)
    if tuple(x.shape) != tuple(spec.shape):  # never reshape: NCHW data in an NHWC tensor has the same size
        raise UsageError(f"the model expects input shape {list(spec.shape)}, got {list(x.shape)}")
    x = x.astype(np.float32, copy=False)
    if spec.dtype == "float32":
        return np.ascontiguousarray(x)
    if spec.dtype == "float16":
        return np.ascontiguousarray(x.astype(np.float16))
    _need_quantization(spec)
    info = np.iinfo(spec.dtype)
    q = np.rint(x / np.float32(spec.scale)) + np.float32(spec.zero_point)
    return np.ascontiguousarray(np.clip(q, info.min, info.max).astype(spec.dtype))


def decode(t: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """A model output of ``spec.dtype`` as float32 scores."""
    t = np.asarray(t)
    if np.dtype(t.dtype).name != spec.dtype:
        raise UsageError(f"output is {t.dtype}, its manifest says {spec.dtype}")
    if spec.is_integer:
        _need_quantization(spec)
        return (t.astype(np.float32) - np.float32(spec.zero_point)) * np.float32(spec.scale)
    return t.astype(np.float32)


def check_raw(x: np.ndarray, spec: TensorSpec, runtime: str) -> None:
    """Refuse a tensor the runtime would refuse: another dtype or another shape (byte count)."""
    x = np.asarray(x)
    if np.dtype(x.dtype).name != spec.dtype:
        raise UsageError(f"{runtime} input is {spec.dtype}, got {np.dtype(x.dtype).name}")
    if tuple(x.shape) != tuple(spec.shape):
        raise UsageError(f"{runtime} input has shape {list(spec.shape)}, got {list(x.shape)}")


def _need_quantization(spec: TensorSpec) -> None:
    if not spec.is_quantized:
        raise UsageError(f"an {spec.dtype} tensor needs its quantization (scale, zero point) from the manifest")


def encode_pixels(rgb: np.ndarray, spec: TensorSpec, mean: Any, std: Any) -> np.ndarray:
    """Cropped RGB pixels (H × W × 3, uint8) to the model input, exactly as the apps build it.

    ``image`` inputs take the pixels themselves; every other layout gets ``(pixel / 255 - mean) / std``
    in float32, laid out NCHW or NHWC, then :func:`encode`.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 uint8 pixels, got {rgb.dtype} {rgb.shape}")
    if spec.layout == "image":
        if rgb.size != spec.numel:
            raise UsageError(f"the model takes a {list(spec.shape)} image, got {rgb.shape[0]}x{rgb.shape[1]} pixels")
        return np.ascontiguousarray(rgb)
    x = rgb.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    x = x[None] if spec.layout == "nhwc" else x.transpose(2, 0, 1)[None]
    return encode(x, spec)
