"""The quantization library: one recipe per target, calibration, exact int8 rewrites, accuracy checks.

Importable on its own (torch, numpy and ``toolkit.data``/``toolkit.errors``/``toolkit.runtimes.io``; each
target's runtime is imported only when used). Every artifact has float32 I/O unless ``io="native"``.
``toolkit export --precision int8`` calls the per-target hooks (:func:`quantization.xnnpack.quantize_pt2e`,
:func:`quantization.tflite.prepare_for_litert`, :func:`quantization.onnx.quantize_onnx`,
:func:`quantization.coreml.compress_mlmodel`); from Python, :func:`quantize` does everything for one target
and returns the artifact with its figures::

    art = quantization.quantize(model, target="executorch", scheme="int8", calibration=images,
                                out_path="m.pte", eval_data=(x_test, y_test))
    art.accuracy.summary(), art.manifest()
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quantization.accuracy import AccuracyReport, compare_accuracy, eval_set, model_logits
from quantization.calibration import BUNDLED, CalibrationSet, CalibrationWarning, load_calibration
from quantization.config import DEFAULT_SCHEME, SCHEMES, QuantConfig, supported_schemes
from quantization.rewrites import fold_tf_padding
from toolkit.errors import ToolkitError, UsageError
from toolkit.runtimes.io import validate_io

__all__ = [
    "DEFAULT_SCHEME",
    "SCHEMES",
    "AccuracyReport",
    "CalibrationSet",
    "CalibrationWarning",
    "QuantConfig",
    "QuantizedArtifact",
    "load_calibration",
    "quantize",
    "supported_schemes",
]

_EXT = {"executorch": ".pte", "tflite": ".tflite", "onnx": ".onnx", "coreml": ".mlpackage"}
# Schemes whose artifact can keep its compute dtype at the edges (io="native"); every other one computes
# in float (or, Core ML, takes an image and gives probabilities) and has float I/O only.
NATIVE_IO: dict[str, tuple[str, ...]] = {"tflite": ("int8",)}


@dataclass
class QuantizedArtifact:
    """A written quantized artifact and what the manifest should say about it."""

    path: Path
    config: QuantConfig
    calibration: CalibrationSet | None
    accuracy: AccuracyReport | None
    size_bytes: int
    layers: list[dict[str, Any]] = field(default_factory=list)  # Core ML compression report
    warnings: list[str] = field(default_factory=list)
    io: str = "float"  # float32 at the edges, or "native" (int8 I/O, TFLite int8 only)

    def manifest(self) -> dict[str, Any]:
        """The ``quantization`` section of the artifact manifest."""
        return {
            "scheme": self.config.scheme,
            "config": self.config.to_dict(),
            "calibration": self.calibration.to_manifest() if self.calibration is not None else None,
            "accuracy": self.accuracy.to_dict() if self.accuracy is not None else None,
            "layers": self.layers or None,
            "warnings": self.warnings,
            "io": self.io,
        }


def quantize(
    model: torch.nn.Module,
    target: str,
    scheme: str = "int8",
    calibration: np.ndarray | str | Path | CalibrationSet | None = None,
    out_path: str | Path | None = None,
    *,
    calibration_samples: int = 100,
    eval_data: Any = None,
    fold_padding: bool | None = None,
    layout: str = "nchw",
    io: str = "float",
) -> QuantizedArtifact:
    """Quantize ``model`` for ``target`` and write the artifact (temp file, then rename).

    Args:
        model: fp32 MobileNetV1 (``model.resolution``, optional ``preprocessing`` and ``class_names``).
        scheme: one of ``SCHEMES[target]``; ``"int8"`` is each target's default int8.
        calibration: folder, NCHW array, CalibrationSet, or None for the bundled photos.
        out_path: where to write (default ``./<variant>-<target>-<scheme><ext>``).
        eval_data: held-out ``(images, labels)``, an NCHW array, or a labeled ImageFolder; default the
            bundled photos (unless they were the calibration set).
        fold_padding: apply the exact pad-free rewrite before int8 (None = the target's default).
        layout: TFLite input layout, ``nchw`` or ``nhwc``.
        io: ``"float"`` (float32 in and out, quantize/dequantize inside the graph) or ``"native"`` (the
            compute dtype at the edges: int8 with the tensors' scale and zero point; TFLite int8 only).

    Raises UsageError for a bad scheme, io or data, ToolkitError when the model fails to quantize.
    """
    cfg = QuantConfig(target, scheme, calibration_samples=calibration_samples, fold_padding=fold_padding)
    if validate_io(io) == "native" and cfg.scheme not in NATIVE_IO.get(target, ()):
        raise UsageError(f"{target} {cfg.scheme} has no io='native' (float32 I/O only); it exists for tflite int8")
    model = model.eval()
    from toolkit.data import TF_PREPROCESSING

    prep = getattr(model, "preprocessing", None) or TF_PREPROCESSING
    cal = None
    if cfg.is_static or target == "coreml":
        cal = calibration if isinstance(calibration, CalibrationSet) else None
        if cal is None and cfg.is_static:
            cal = load_calibration(calibration, model.resolution, prep, cfg.calibration_samples)
    name = getattr(getattr(model, "variant", None), "name", "model")
    final = Path(out_path) if out_path is not None else Path(f"{name}-{target}-{cfg.scheme}{_EXT[target]}")
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}{_EXT[target]}")
    qmodel = fold_tf_padding(model) if cfg.folds_padding else model
    try:
        run, layers = _build(qmodel, cfg, cal, tmp, layout, io)
        x_eval, y_eval, source = eval_set(eval_data, model, prep)
        accuracy = None
        on_calibration = source == BUNDLED and cal is not None and cal.source == BUNDLED
        if run is not None and len(x_eval) and not on_calibration:  # never measured on the calibration images
            accuracy = compare_accuracy(model_logits(model, x_eval), run(tmp, x_eval), y_eval)
        _replace(tmp, final)
    finally:
        _remove(tmp)
    notes = list(cal.warnings) if cal is not None else []
    if accuracy is None:
        notes.append("accuracy not measured: no host runtime or no held-out images")
    return QuantizedArtifact(final, cfg, cal, accuracy, _size(final), layers, notes, io)


def _build(
    model: torch.nn.Module, cfg: QuantConfig, cal: CalibrationSet | None, tmp: Path, layout: str, io: str
) -> tuple:
    """Write the artifact at ``tmp``; return (runner(path, images) or None, Core ML layer report)."""
    example = torch.zeros(1, 3, model.resolution, model.resolution)
    if cfg.target == "executorch":
        from quantization import xnnpack

        data, left = xnnpack.lower(xnnpack.quantize_pt2e(model, example, cal, cfg))
        if left:
            raise ToolkitError(f"XNNPACK left ops outside the delegate: {left}")
        tmp.write_bytes(data)
        return xnnpack.run_pte, []
    if cfg.target == "tflite":
        from quantization import tflite

        tflite.convert_to_tflite(model, example, cal, cfg, tmp, layout, io=io)
        return (lambda p, x: tflite.run_tflite(p, x, layout)), []
    if cfg.target == "onnx":
        from quantization import onnx as qonnx

        with tempfile.TemporaryDirectory() as d:
            qonnx.quantize_onnx(qonnx.export_fp32_onnx(model, example, Path(d) / "fp32.onnx"), tmp, cal, cfg)
        return qonnx.run_onnx, []
    if cfg.target == "coreml":
        from quantization import coreml as qcoreml

        mlmodel, layers = qcoreml.compress_mlmodel(qcoreml.convert_fp32(model, example), cfg, cal)
        mlmodel.save(str(tmp))
        return None, layers
    raise UsageError(f"no quantization for target {cfg.target!r}")


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace(tmp: Path, final: Path) -> None:
    if final.is_dir():
        _remove(final)
    os.replace(tmp, final)
