"""``quantize()``: a quantized artifact from Python, written by the same path as ``toolkit export --precision int8``.

There is one int8 path: the exporter of each target runs the :mod:`quantization` recipe inside its own
lowering, and the export pipeline names, caches, verifies and measures the result. This function only
turns quantization's vocabulary (scheme, calibration set, held-out data) into export options and reads the
figures back out of the manifest, so a Python user and the CLI always get the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quantization.accuracy import AccuracyReport
from toolkit.export.base import ExportConfig
from toolkit.export.pipeline import ExportResult, export

__all__ = ["QuantizedArtifact", "quantize"]


@dataclass(frozen=True)
class QuantizedArtifact(ExportResult):
    """An exported quantized artifact, with its quantization record and accuracy at hand."""

    @property
    def quantization(self) -> dict[str, Any]:
        """The manifest's ``quantization`` record: scheme, pad folding, calibration, accuracy."""
        return self.manifest["quantization"]

    @property
    def accuracy(self) -> AccuracyReport | None:
        """Agreement with fp32 (and labeled top-1) on held-out images; None where nothing could run it."""
        acc = self.quantization.get("accuracy")
        return AccuracyReport.from_dict(acc) if acc is not None else None

    @property
    def size_bytes(self) -> int:
        return int(self.manifest["artifact"]["size_bytes"])

    @property
    def warnings(self) -> list[str]:
        return list(self.manifest.get("warnings") or [])


def quantize(
    model: torch.nn.Module,
    target: str,
    scheme: str = "int8",
    calibration: np.ndarray | str | Path | None = None,
    output_dir: str | Path = "artifacts",
    *,
    calibration_samples: int = 100,
    eval_data: Any = None,
    fold_padding: bool | None = None,
    layout: str | None = None,
    io: str = "float",
    force: bool = False,
    threads: int = 0,
) -> QuantizedArtifact:
    """Quantize ``model`` for ``target``, verify it, measure its accuracy, write it into ``output_dir``.

    Args:
        model: an fp32 MobileNetV1 (ideally from :func:`toolkit.mobilenet_v1`).
        scheme: one of ``quantization.SCHEMES[target]``; ``"int8"`` is each target's default int8.
        calibration: folder, preprocessed NCHW array, or None for the bundled photos.
        eval_data: held-out ``(images, labels)``, an NCHW array, or a labeled ImageFolder; default the
            bundled photos (flagged when they were also the calibration set).
        fold_padding: apply the exact pad-free rewrite before int8 (None = the target's default).
        layout: input layout, ``nhwc`` or ``nchw`` (ExecuTorch and TFLite; None = the target's default).
        io: ``"float"`` (float32 in and out) or ``"native"`` (int8 at the edges; TFLite int8 only).
        force: re-export even when an artifact with the same cache key is on disk.

    The artifact is named by the export contract (``mobilenet_v1-a0.25-r32-onnx-int8.onnx``). Raises
    UsageError for a bad scheme, io or data (nothing written), ToolkitError when the model fails to quantize.
    """
    options = {"scheme": scheme, "calibration": calibration, "calibration_samples": calibration_samples,
               "eval_data": eval_data, "fold_padding": fold_padding}  # fmt: skip
    cfg = ExportConfig(
        target=target, precision="int8", output_dir=Path(output_dir), layout=layout, io=io, force=force,
        threads=threads, options={k: v for k, v in options.items() if v is not None},
    )  # fmt: skip
    res = export(model, cfg, progress=False)
    return QuantizedArtifact(res.path, res.manifest, res.cache_hit, res.seconds)
