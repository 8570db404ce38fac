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
from toolkit.console import stage
from toolkit.errors import ToolkitError, UsageError
from toolkit.export.base import ExportConfig
from toolkit.runtimes.base import Runner

require("onnx")
require("onnxscript")

__all__ = ["DEFAULT_OPSET", "EXPORTER", "MIN_OPSET", "OnnxExporter"]

MIN_OPSET = 17  # LayerNorm-era opset every current runtime (ORT ≥ 1.14, onnxruntime-mobile) reads
DEFAULT_OPSET = 18  # torch.onnx's dynamo exporter's native opset: no version-conversion pass needed


class OnnxExporter:
    """ONNX; ``options={"opset": N}`` picks the opset, ``dynamic_batch`` a symbolic batch axis.

    int8 is ONNX Runtime's own quantization of the fp32 export (static QDQ per-channel, or dynamic), see
    :mod:`quantization.onnx`; the pads stay folded into Conv ``pads`` as in fp32.
    """

    target = "onnx"
    extension = ".onnx"
    precisions = ("fp32", "int8")
    natural_precision = "fp32"
    runtime = "onnxruntime"
    layouts = ("nchw",)  # ONNX Runtime's CPU convolutions take NCHW (NCHWc inside): NHWC would add a Transpose
    native_io: tuple[str, ...] = ()  # fp32 computes in float32; QDQ int8 quantizes inside the graph
    io_contract = "it takes float32 NCHW and returns float32 logits; int8 QDQ quantizes inside the graph"

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

        quant = None
        if precision == "int8":
            from quantization import hooks
            from quantization.onnx import quantize_onnx

            stage("quantizing")
            cal, qcfg = hooks.prepare(model, self.target, cfg.options)
            fp32 = out_path.with_name(f"{out_path.stem}.fp32{out_path.suffix}")
            try:
                self._export_fp32(hooks.model_for(model, qcfg), example, cfg, fp32)
                quantize_onnx(fp32, out_path, cal, qcfg)
            finally:
                fp32.unlink(missing_ok=True)
            quant = hooks.record(qcfg, cal)
        else:
            self._export_fp32(model, example, cfg, out_path)
        proto = onnx.load(str(out_path))
        try:
            onnx.checker.check_model(proto, full_check=True)
        except onnx.checker.ValidationError as e:
            raise ToolkitError(f"onnx.checker rejected the export: {str(e).splitlines()[0]}") from None
        ops = Counter(node.op_type for node in proto.graph.node)
        opset_found = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
        extras = {"opset": opset_found, "ops_by_type": dict(sorted(ops.items())), "total_ops": sum(ops.values()),
                  "dynamic_batch": cfg.dynamic_batch, "input_name": proto.graph.input[0].name,
                  "output_name": proto.graph.output[0].name, "runtime_version": package_version("onnxruntime"),
                  "input_shape": ["N" if cfg.dynamic_batch else 1, 3, model.resolution, model.resolution],
                  "input_dtype": _dtype(proto.graph.input[0]),
                  "output_dtype": _dtype(proto.graph.output[0])}  # fmt: skip
        if quant is not None:
            extras["quantization"] = quant
        return extras

    def _export_fp32(self, model: torch.nn.Module, example: torch.Tensor, cfg: ExportConfig, path: Path) -> None:
        """The dynamo export into one self-contained file (input ``x``, output ``logits``)."""
        dynamic = {"x": {0: torch.export.Dim("batch", min=1, max=1024)}} if cfg.dynamic_batch else None
        try:
            stage("tracing")
            program = torch.onnx.export(
                model, (example,), dynamo=True, external_data=False, opset_version=self._opset(cfg),
                input_names=["x"], output_names=["logits"], dynamic_shapes=dynamic, verbose=False,
            )  # fmt: skip
            stage("optimizing")
            program.optimize()
            stage("serializing")
            program.save(str(path), external_data=False)
        except Exception as e:  # torch.onnx wraps every failure in its own types; keep one line
            raise ToolkitError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0]}") from e

    def open(self, path: Path, threads: int = 0) -> Runner:
        from toolkit.runtimes.onnxruntime import open_runner

        return open_runner(path, threads=threads)


def _dtype(value: Any) -> str:
    """The I/O contract's name for a graph input/output's element type; ToolkitError for any other."""
    import onnx

    elem = value.type.tensor_type.elem_type
    names = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
             onnx.TensorProto.INT8: "int8", onnx.TensorProto.UINT8: "uint8"}  # fmt: skip
    if elem not in names:
        raise ToolkitError(f"ONNX {value.name} has element type {onnx.TensorProto.DataType.Name(elem)}")
    return names[elem]


EXPORTER = OnnxExporter()
