"""Quantization schemes per target, as frozen configs that validate themselves (the coremltools way).

A scheme name means the same thing on every target where it exists:

- ``int8``: static post-training int8, per-channel symmetric weights (depthwise included), per-tensor
  activations calibrated on real images. On Core ML this is ``int8-weights`` (activations need a device).
- ``int8-dynamic``: int8 weights, activations quantized at run time (no calibration set; TFLite calls it
  dynamic range).
- ``fp16``: half-precision weights (TFLite) — Core ML's fp16 is the exporter's ``--precision fp16``.
- ``int8-weights``: Core ML linear 8-bit weights, fp16 compute.
- ``palettize-4|6|8``: Core ML k-means palettization, 2^n-entry look-up table per weight tensor.
- ``w8a8``: Core ML 8-bit weights and activations (activation calibration runs the model: macOS only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from toolkit.errors import UsageError

__all__ = [
    "DEFAULT_SCHEME",
    "FOLDS_PADDING",
    "OPTION_KEYS",
    "SCHEMES",
    "STATIC_SCHEMES",
    "QuantConfig",
    "supported_schemes",
]

SCHEMES: dict[str, tuple[str, ...]] = {
    "executorch": ("int8", "int8-dynamic"),
    "tflite": ("int8", "int8-dynamic", "fp16"),
    "onnx": ("int8", "int8-dynamic"),
    "coreml": ("int8-weights", "palettize-8", "palettize-6", "palettize-4", "w8a8"),
}
# What `--precision int8` means per target.
DEFAULT_SCHEME: dict[str, str] = {"executorch": "int8", "tflite": "int8", "onnx": "int8", "coreml": "int8-weights"}
# Where the pad-free rewrite (quantization.rewrites) pays: ExecuTorch and TFLite run the published explicit pad
# as its own op in int8 (each then gets the 3×3 back with asymmetric padding inside the conv: see
# quantization.xnnpack_padding and quantization.tflite_padding); the ONNX exporter already folds it into Conv
# ``pads`` and Core ML compresses weights only.
FOLDS_PADDING: dict[str, bool] = {"executorch": True, "tflite": True, "onnx": False, "coreml": False}
# The export options an int8 export reads (``ExportConfig.options``; see quantization.hooks): the pipeline keys
# them into its cache and refuses them on a float export.
OPTION_KEYS: tuple[str, ...] = ("scheme", "calibration", "calibration_samples", "eval_data", "fold_padding")
# Schemes whose activations are calibrated on images (the others never look at data).
STATIC_SCHEMES: frozenset[str] = frozenset({"int8", "w8a8"})
_BITS = {"int8": 8, "int8-dynamic": 8, "fp16": 16, "int8-weights": 8, "palettize-8": 8, "palettize-6": 6,
         "palettize-4": 4, "w8a8": 8}  # fmt: skip


def supported_schemes(target: str) -> tuple[str, ...]:
    """Schemes for ``target``; an unknown target raises UsageError naming the known ones."""
    try:
        return SCHEMES[target]
    except KeyError:
        raise UsageError(f"no quantization for target {target!r}; choose one of: {', '.join(SCHEMES)}") from None


@dataclass(frozen=True)
class QuantConfig:
    """One quantization recipe for one target.

    Args:
        target: executorch, tflite, onnx or coreml.
        scheme: one of ``SCHEMES[target]`` (``"int8"`` maps to Core ML's ``int8-weights``).
        calibration_samples: images used to calibrate static schemes (fewer available → a warning).
        per_channel: per-output-channel weight scales; per-tensor only to study its accuracy cost.
        fold_padding: replace each explicit ZeroPad + 3×3 stride-2 conv by the exactly equal pad-free 4×4
            conv before quantizing int8 (see :mod:`quantization.rewrites`; None = the target's default,
            :data:`FOLDS_PADDING`).
        ort_activation_type: ONNX static activations, ``uint8`` (ORT's x86 U8S8 fast path) or ``int8``.
        granularity: Core ML weight quantization granularity, ``per_channel`` or ``per_tensor``.
    """

    target: str
    scheme: str = "int8"
    calibration_samples: int = 100
    per_channel: bool = True
    fold_padding: bool | None = None
    ort_activation_type: str = "uint8"
    granularity: str = "per_channel"

    def __post_init__(self) -> None:
        allowed = supported_schemes(self.target)
        if self.target == "coreml" and self.scheme == "int8":
            object.__setattr__(self, "scheme", DEFAULT_SCHEME["coreml"])
        if self.scheme not in allowed:
            raise UsageError(
                f"scheme {self.scheme!r} is not supported for {self.target}; choose one of: {', '.join(allowed)}"
            )
        if self.fold_padding is None:
            object.__setattr__(self, "fold_padding", FOLDS_PADDING[self.target])
        if isinstance(self.calibration_samples, bool) or not isinstance(self.calibration_samples, int):
            raise UsageError(f"calibration_samples must be an integer, got {self.calibration_samples!r}")
        if self.calibration_samples < 1:
            raise UsageError(f"calibration_samples must be >= 1, got {self.calibration_samples}")
        if self.ort_activation_type not in ("uint8", "int8"):
            raise UsageError(f"ort_activation_type must be uint8 or int8, got {self.ort_activation_type!r}")
        if self.granularity not in ("per_channel", "per_tensor"):
            raise UsageError(f"granularity must be per_channel or per_tensor, got {self.granularity!r}")

    @property
    def is_static(self) -> bool:
        """True when the scheme calibrates activation ranges on images."""
        return self.scheme in STATIC_SCHEMES

    @property
    def folds_padding(self) -> bool:
        """True when the graph is rewritten pad-free before quantizing (int8 schemes only)."""
        return bool(self.fold_padding) and self.scheme in ("int8", "int8-dynamic")

    @property
    def weight_bits(self) -> int:
        return _BITS[self.scheme]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuantConfig:
        """Build from a dict (a manifest or CLI options); unknown keys raise UsageError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UsageError(f"unknown quantization option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)
