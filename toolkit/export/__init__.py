"""Export MobileNet V1 to ExecuTorch, Core ML, TFLite and ONNX behind one protocol and one pipeline.

``from toolkit.export import export, ExportConfig`` is the library entry point (``quantize`` for an int8
artifact with its accuracy figures); backends load lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolkit.export.base import PRECISIONS, TARGETS, ExportConfig, Exporter, get_exporter

__all__ = ["PRECISIONS", "TARGETS", "ExportConfig", "ExportResult", "Exporter", "QuantizedArtifact", "export",
           "export_targets", "get_exporter", "quantize"]  # fmt: skip

if TYPE_CHECKING:
    from toolkit.export.pipeline import ExportResult, export, export_targets
    from toolkit.export.quantized import QuantizedArtifact, quantize


def __getattr__(name: str) -> Any:
    # The pipeline imports torch; keep `import toolkit.export` light for the CLI's --help.
    if name in ("export", "export_targets", "ExportResult"):
        from toolkit.export import pipeline

        return getattr(pipeline, name)
    if name in ("quantize", "QuantizedArtifact"):
        from toolkit.export import quantized

        return getattr(quantized, name)
    raise AttributeError(f"module 'toolkit.export' has no attribute {name!r}")
