"""The quantization library: one recipe per target, calibration, exact int8 rewrites, accuracy checks.

Importable on its own: it needs torch and numpy, and from the toolkit only its lowest layers (``toolkit.data``,
``toolkit.errors``, ``toolkit._deps``); each target's runtime is imported only when a recipe runs. The
exporters call it, never the reverse: ``toolkit export --precision int8`` reads its options through
:mod:`quantization.hooks` and runs the per-target recipe (:func:`quantization.xnnpack.quantize_pt2e`,
:func:`quantization.tflite.prepare_for_litert`, :func:`quantization.onnx.quantize_onnx`,
:func:`quantization.coreml.compress_mlmodel`) inside its own lowering. From Python, one call writes a
verified int8 artifact with its accuracy figures through that same path::

    from toolkit.export import quantize
    art = quantize(model, target="executorch", scheme="int8", calibration=images, eval_data=(x_test, y_test))
    art.accuracy.summary(), art.manifest["quantization"]
"""

from __future__ import annotations

from quantization.accuracy import AccuracyReport
from quantization.calibration import CalibrationSet, CalibrationWarning, load_calibration
from quantization.config import DEFAULT_SCHEME, SCHEMES, QuantConfig, supported_schemes

__all__ = [
    "DEFAULT_SCHEME",
    "SCHEMES",
    "AccuracyReport",
    "CalibrationSet",
    "CalibrationWarning",
    "QuantConfig",
    "load_calibration",
    "supported_schemes",
]
