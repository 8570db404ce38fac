"""TFLite export with litert-torch (no TensorFlow), NHWC input by default.

Android hands pixels over as NHWC (``Bitmap`` → ``ByteBuffer``), so the default artifact takes NHWC and
the model permutes to NCHW as its first op; the converter then rewrites the whole graph to TFLite's
native NHWC and the permute cancels out (the manifest records how many TRANSPOSE ops survived).
``fp16`` stores weights as float16 with DEQUANTIZE ops in front (the standard TFLite "float16
quantization"): half the size, computed in fp32 on CPU, or fp16 by the GPU delegate. Every artifact takes
float32 and returns float32 scores; full-integer int8 keeps int8 at its edges only with ``io="native"``.

litert-torch pulls jax and takes seconds to import, so it is imported inside :meth:`export` only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from toolkit._deps import require
from toolkit.console import stage
from toolkit.errors import MissingDependencyError, ToolkitError
from toolkit.export.base import ExportConfig
from toolkit.export.manifest import package_version
from toolkit.runtimes.base import Runner

__all__ = ["EXPORTER", "NHWCInput", "TFLiteExporter"]


class NHWCInput(torch.nn.Module):
    """Accept an NHWC batch and hand the wrapped NCHW model its own layout."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.permute(0, 3, 1, 2))


class TFLiteExporter:
    """litert-torch → ``.tflite``; host runner: the LiteRT interpreter (XNNPACK delegate)."""

    target = "tflite"
    extension = ".tflite"
    precisions = ("fp32", "fp16", "int8")
    natural_precision = "fp32"
    runtime = "tflite"
    layouts = ("nhwc", "nchw")  # camera pixels as they come, or the PyTorch layout (one TRANSPOSE in front)
    native_io = ("int8",)  # full-integer int8 can keep int8 at the edges; everything else computes in float
    io_contract = "it takes float32 and returns float32 scores"

    def tool_versions(self) -> dict[str, str | None]:
        return {name: package_version(name) for name in ("litert-torch", "ai-edge-litert", "ai-edge-quantizer")}

    def cache_options(self, cfg: ExportConfig) -> dict[str, Any]:
        return {"layout": cfg.layout}  # the pipeline keys int8's options itself

    def export(
        self, model: torch.nn.Module, example: torch.Tensor, cfg: ExportConfig, out_path: Path, precision: str
    ) -> dict[str, Any]:
        """Convert, optionally cast weights to fp16, write ``out_path``; return layout and op counts."""
        require("litert_torch")
        import litert_torch

        from quantization.tflite_padding import shrink_folded_kernels
        from toolkit.runtimes.tflite import op_counts

        nhwc = cfg.layout == "nhwc"
        sample = example.permute(0, 2, 3, 1).contiguous() if nhwc else example
        quant, shrunk = None, 0
        if precision == "int8":
            data, quant = self._int8(model, example, sample, cfg)
            data, shrunk = shrink_folded_kernels(data)  # the folded 4×4 kernels back to 3×3 SAME: exact
            if cfg.io == "float" and quant["scheme"] == "int8":  # only full-integer int8 has integer edges
                from quantization.tflite import float_io

                data = float_io(data)  # QUANTIZE in front, DEQUANTIZE behind: float32 edges, same int8 math
        else:
            module = (NHWCInput(model) if nhwc else model).eval()
            stage("converting")
            with torch.no_grad(), _quiet_litert():
                data = litert_torch.convert(module, (sample,)).model_content()
        if precision == "fp16":
            data = _fp16_weights(data)
        stage("serializing")
        _write(out_path, data)
        ops = op_counts(out_path)
        expected = {"CONV_2D": 14, "DEPTHWISE_CONV_2D": 13, "FULLY_CONNECTED": 1}
        missing = {k: (ops.get(k, 0), v) for k, v in expected.items() if ops.get(k, 0) != v}
        if missing:
            raise ToolkitError(f"unexpected TFLite graph: (found, expected) op counts {missing}; ops {ops}")
        io = _io_quantization(out_path)
        return {
            **io,
            "input_layout": cfg.layout,
            "input_shape": list(sample.shape),
            "delegate": "xnnpack",
            "runtime_version": package_version("ai-edge-litert"),
            "ops": ops,
            "op_total": sum(ops.values()),
            "pad_ops": ops.get("PAD", 0) + ops.get("PADV2", 0),
            "transpose_ops": ops.get("TRANSPOSE", 0),
            "same_padded_stride2_convs": shrunk,  # 3×3 SAME stride-2 convs standing in for pad + conv
            "weights_dtype": {"fp16": "float16", "int8": "int8"}.get(precision, "float32"),
            "labels": "sidecar",  # <artifact>.labels.txt, named in the manifest's labels_file
            **({"quantization": quant} if quant is not None else {}),
        }

    def _int8(
        self, model: torch.nn.Module, example: torch.Tensor, sample: torch.Tensor, cfg: ExportConfig
    ) -> tuple[bytes, dict[str, Any]]:
        """PT2E-quantize the (pad-free) NCHW graph, then let litert-torch take NHWC at the edges if asked."""
        import litert_torch

        from quantization import hooks
        from quantization.tflite import prepare_for_litert

        stage("quantizing")
        cal, qcfg = hooks.prepare(model, self.target, cfg.options)
        module, quant_config = prepare_for_litert(hooks.model_for(model, qcfg), example, cal, qcfg)
        if cfg.layout == "nhwc":
            module = litert_torch.to_channel_last_io(module, args=[0])
        try:
            stage("converting")
            with torch.no_grad(), _quiet_litert():
                data = litert_torch.convert(module, (sample,), quant_config=quant_config).model_content()
        except Exception as e:  # the converter raises many unrelated types; keep one line
            first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
            raise ToolkitError(f"TFLite {qcfg.scheme} conversion failed: {first}") from e
        return data, hooks.record(qcfg, cal)

    def open(self, path: Path, threads: int = 0) -> Runner:
        from toolkit.runtimes.tflite import open_runner

        return open_runner(path, threads=threads)


def _io_quantization(path: Path) -> dict[str, Any]:
    """The written model's I/O dtypes as the interpreter reads them, with (scale, zero point) for integers.

    Float32 unless a full-integer model was exported with ``io="native"``: litert-torch's PT2E path folds
    the first QUANTIZE and last DEQUANTIZE into int8 I/O, which the default export puts back inside the
    graph (:func:`quantization.tflite.float_io`).
    """
    from toolkit.runtimes.tflite import interpreter_module

    interp = interpreter_module()[0].Interpreter(model_path=str(path))
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    extras: dict[str, Any] = {"input_dtype": np.dtype(inp["dtype"]).name, "output_dtype": np.dtype(out["dtype"]).name}
    for key, d in (("input_quantization", inp), ("output_quantization", out)):
        scale, zero_point = d["quantization"]
        if np.dtype(d["dtype"]).kind in "iu" and scale:
            extras[key] = {"scale": float(scale), "zero_point": int(zero_point)}
    return extras


@contextlib.contextmanager
def _quiet_litert() -> Iterator[None]:
    """Hide litert-torch's per-stage progress log (the pipeline shows its own spinner)."""
    key, old = "LITERT_TORCH_SHOW_PROGRESS", os.environ.get("LITERT_TORCH_SHOW_PROGRESS")
    os.environ[key] = "n"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _fp16_weights(data: bytes) -> bytes:
    """Cast conv/FC weights to float16 with ai-edge-quantizer's ``float_casting`` (weights only)."""
    try:
        from ai_edge_quantizer import qtyping, quantizer
    except ImportError:
        raise MissingDependencyError.for_extra("ai-edge-quantizer (TFLite fp16)", "tflite") from None

    config = qtyping.OpQuantizationConfig(
        weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
        compute_precision=qtyping.ComputePrecision.FLOAT,
        explicit_dequantize=True,
    )
    q = quantizer.Quantizer(bytearray(data))
    q.update_quantization_recipe(regex=".*", operation_name="*", op_config=config, algorithm_key="float_casting")
    return bytes(q.quantize(enable_progress_report=False).quantized_model)


def _write(path: Path, data: bytes) -> None:
    """Write and fsync: the pipeline renames this temp file into place next."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


EXPORTER = TFLiteExporter()
