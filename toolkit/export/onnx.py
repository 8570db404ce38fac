"""ONNX target: ``torch.onnx.export(dynamo=True)`` into one self-contained ``.onnx`` (opset ≥ 17).

The dynamo exporter folds MobileNet's explicit ZeroPad2d into each Conv's ``pads`` (see
shared/reference/performance_notes.md), so the graph is 27 Conv + pool + Gemm-like ops and nothing else.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import torch

from toolkit._deps import require
from toolkit.errors import ToolkitError, UsageError
from toolkit.export.base import ExportConfig
from toolkit.runtimes.base import Runner

require("onnx")
require("onnxscript")

__all__ = ["DEFAULT_OPSET", "EXPORTER", "MIN_OPSET", "OnnxExporter"]

MIN_OPSET = 17  # LayerNorm-era opset every current runtime (ORT ≥ 1.14, onnxruntime-mobile) reads
DEFAULT_OPSET = 18  # torch.onnx's dynamo exporter's native opset: no version-conversion pass needed


class OnnxExporter:
    """fp32 ONNX; ``options={"opset": N}`` picks the opset, ``dynamic_batch`` a symbolic batch axis."""

    target = "onnx"
    extension = ".onnx"
    precisions = ("fp32",)
    natural_precision = "fp32"
    runtime = "onnxruntime"

    def tool_versions(self) -> dict[str, str]:
        from toolkit.export.manifest import package_version

        return {d: package_version(d) or "unknown" for d in ("onnx", "onnxscript")}

    def cache_options(self, cfg: ExportConfig) -> dict[str, Any]:
        return {"dynamic_batch": cfg.dynamic_batch, "opset": self._opset(cfg)}

    @staticmethod
    def _opset(cfg: ExportConfig) -> int:
        opset = int(cfg.options.get("opset", DEFAULT_OPSET))
        if opset < MIN_OPSET:
            raise UsageError(f"ONNX opset must be >= {MIN_OPSET}, got {opset}")
        return opset

    def export(
        self, model: torch.nn.Module, example: torch.Tensor, cfg: ExportConfig, out_path: Path, precision: str
    ) -> dict[str, Any]:
        import onnx

        from toolkit.export.manifest import package_version

        opset = self._opset(cfg)
        dynamic = {"x": {0: torch.export.Dim("batch", min=1, max=1024)}} if cfg.dynamic_batch else None
        try:
            program = torch.onnx.export(
                model, (example,), dynamo=True, external_data=False, opset_version=opset,
                input_names=["x"], output_names=["logits"], dynamic_shapes=dynamic, verbose=False,
            )  # fmt: skip
            program.optimize()
            program.save(str(out_path), external_data=False)
        except Exception as e:  # torch.onnx wraps every failure in its own types; keep one line
            raise ToolkitError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0]}") from e
        proto = onnx.load(str(out_path))
        try:
            onnx.checker.check_model(proto, full_check=True)
        except onnx.checker.ValidationError as e:
            raise ToolkitError(f"onnx.checker rejected the export: {str(e).splitlines()[0]}") from None
        ops = Counter(node.op_type for node in proto.graph.node)
        opset_found = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
        return {"opset": opset_found, "ops_by_type": dict(sorted(ops.items())), "total_ops": sum(ops.values()),
                "dynamic_batch": cfg.dynamic_batch, "input_name": "x", "output_name": "logits",
                "runtime_version": package_version("onnxruntime"),
                "input_shape": ["N" if cfg.dynamic_batch else 1, 3, model.resolution, model.resolution]}  # fmt: skip

    def open(self, path: Path, threads: int = 0) -> Runner:
        from toolkit.runtimes.onnxruntime import open_runner

        return open_runner(path, threads=threads)


EXPORTER = OnnxExporter()
