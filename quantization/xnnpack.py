"""ExecuTorch / XNNPACK int8: PT2E with XNNPACKQuantizer, then lowering with the XNNPACK partitioner.

Static int8 is per-channel symmetric weights (depthwise included) and per-tensor affine activations from
a histogram observer over the calibration images; dynamic int8 quantizes activations at run time (XNNPACK
only has dynamic kernels for linear/1×1-style ops, so most of the graph stays fp32 there).

The ExecuTorch exporter (``toolkit/export/executorch.py``) calls :func:`quantize_pt2e` and lowers the
program it returns like any other (``lower_program``: every op inside the XNNPACK delegate)::

    ep = quantization.xnnpack.quantize_pt2e(model, example, calibration, cfg)   # torch.export.ExportedProgram
"""

from __future__ import annotations

from typing import Any

import torch

from quantization.calibration import CalibrationSet
from quantization.config import QuantConfig
from toolkit.errors import ToolkitError

__all__ = ["quantize_pt2e"]


def _quantizer(cfg: QuantConfig) -> Any:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    dynamic = cfg.scheme == "int8-dynamic"
    return XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=cfg.per_channel, is_dynamic=dynamic)
    )


def quantize_pt2e(
    model: torch.nn.Module, example: torch.Tensor, calibration: CalibrationSet | None, cfg: QuantConfig
) -> torch.export.ExportedProgram:
    """Quantized, re-exported program ready for ``to_edge_transform_and_lower``.

    Args:
        model: the fp32 model in eval mode (fold its pads first with :mod:`quantization.rewrites` for speed).
        example: one input of the exported shape (batch 1, NCHW).
        calibration: images for static int8; ignored by ``int8-dynamic``.

    Raises ToolkitError (one line) when torch.export or the quantizer rejects the model.
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if cfg.target != "executorch":
        raise ValueError(f"quantize_pt2e needs an executorch config, got {cfg.target}")
    if cfg.is_static and calibration is None:
        raise ValueError("static int8 needs a calibration set")
    model = model.eval()
    try:
        graph = torch.export.export(model, (example,), strict=False).module()
        prepared = prepare_pt2e(graph, _quantizer(cfg))
        with torch.no_grad():
            if cfg.is_static:
                for x in calibration.batches():
                    prepared(torch.from_numpy(x))
            else:
                prepared(example)
            converted = convert_pt2e(prepared)
        return torch.export.export(converted, (example,), strict=False)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ToolkitError(f"ExecuTorch int8 quantization failed: {first}") from e
