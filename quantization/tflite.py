"""TFLite int8 through litert-torch: PT2E full-integer (static), dynamic range, and fp16 weights.

litert-torch converts a PT2E-quantized graph when it is told which quantizer made it (``QuantConfig``):
static → full-integer kernels with float I/O (QUANTIZE/DEQUANTIZE at the ends), dynamic → weights int8
with run-time activation quantization. fp16 uses litert-torch's fp16 recipe (ai-edge-quantizer).

Exporter hook (``toolkit/export/tflite.py``)::

    module, quant_config = quantization.tflite.prepare_for_litert(model, example, calibration, cfg)
    if layout == "nhwc": module = litert_torch.to_channel_last_io(module, args=[0])  # after quantizing
    litert_torch.convert(module, (example_in_layout,), quant_config=quant_config).export(path)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from quantization.calibration import CalibrationSet
from quantization.config import QuantConfig
from toolkit.errors import ToolkitError

__all__ = ["convert_to_tflite", "litert_quant_config", "prepare_for_litert", "run_tflite"]


def _pt2e_quantizer(cfg: QuantConfig) -> Any:
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    dynamic = cfg.scheme == "int8-dynamic"
    return PT2EQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=cfg.per_channel, is_dynamic=dynamic)
    )


def litert_quant_config(cfg: QuantConfig, quantizer: Any = None) -> Any:
    """litert-torch's ``QuantConfig`` for ``cfg`` (pass the PT2E quantizer used to prepare the graph)."""
    from litert_torch.quantize.quant_config import QuantConfig as LitertQuantConfig

    if cfg.scheme == "fp16":
        from litert_torch.generative.quantize.quant_recipes import full_fp16_recipe

        return full_fp16_recipe()
    return LitertQuantConfig(pt2e_quantizer=quantizer if quantizer is not None else _pt2e_quantizer(cfg))


def prepare_for_litert(
    model: torch.nn.Module,
    example: torch.Tensor,
    calibration: CalibrationSet | None,
    cfg: QuantConfig,
    layout: str = "nchw",
) -> tuple[torch.nn.Module, Any]:
    """(module to convert, litert ``quant_config``): a calibrated PT2E graph for int8, the model for fp16.

    ``layout`` is the input layout of ``model`` and ``example`` (an exporter that wraps the model to take
    NHWC passes ``"nhwc"`` and the calibration images are transposed to match).

    Raises ToolkitError (one line) when export or quantization fails.
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if cfg.target != "tflite":
        raise ValueError(f"prepare_for_litert needs a tflite config, got {cfg.target}")
    model = model.eval()
    if cfg.scheme == "fp16":
        return model, litert_quant_config(cfg)
    if cfg.is_static and calibration is None:
        raise ValueError("static int8 needs a calibration set")
    quantizer = _pt2e_quantizer(cfg)
    try:
        graph = torch.export.export(model, (example,), strict=False).module()
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for x in calibration.batches(layout) if cfg.is_static else [example.numpy()]:
                prepared(torch.from_numpy(x))
            converted = convert_pt2e(prepared, fold_quantize=False)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as e:
        raise ToolkitError(f"TFLite int8 quantization failed: {_first_line(e)}") from e
    return converted, litert_quant_config(cfg, quantizer)


def convert_to_tflite(
    model: torch.nn.Module,
    example: torch.Tensor,
    calibration: CalibrationSet | None,
    cfg: QuantConfig,
    out_path: str | Path,
    layout: str = "nchw",
) -> Path:
    """Quantize and convert in one call (what :func:`quantization.quantize` uses); writes ``out_path``."""
    import litert_torch

    module, quant_config = prepare_for_litert(model, example, calibration, cfg)
    sample = example
    if layout == "nhwc":
        module = litert_torch.to_channel_last_io(module, args=[0])
        sample = example.permute(0, 2, 3, 1).contiguous()
    try:
        edge = litert_torch.convert(module, (sample,), quant_config=quant_config)
    except Exception as e:  # the converter raises many unrelated types; report one line
        raise ToolkitError(f"TFLite conversion of the {cfg.scheme} model failed: {_first_line(e)}") from e
    out_path = Path(out_path)
    edge.export(str(out_path))
    return out_path


def run_tflite(path: str | Path, images: np.ndarray, layout: str = "nchw", threads: int = 2) -> np.ndarray:
    """Logits of a .tflite on the LiteRT interpreter; ``images`` are NCHW, transposed for an NHWC model."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    logits = []
    for i in range(len(images)):
        x = images[i : i + 1]
        x = x.transpose(0, 2, 3, 1) if layout == "nhwc" else x
        interp.set_tensor(inp["index"], np.ascontiguousarray(x, dtype=np.float32))
        interp.invoke()
        logits.append(interp.get_tensor(out["index"]).reshape(1, -1).copy())
    return np.concatenate(logits)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
