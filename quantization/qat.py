"""Quantization-aware training for the XNNPACK int8 scheme (PT2E QAT), for when post-training int8 loses
too much: fine-tune with fake-quant in the graph, then convert to the same int8 program PTQ produces.

    gm = prepare_qat(model, example)            # train-mode graph with fake-quant observers
    ... a few epochs of the usual loop on gm ...
    program = convert_qat(gm, example)          # ExportedProgram → quantization.xnnpack.lower_to_pte

Wiring into ``toolkit train --qat`` is the training command's job; this module is the library half.
"""

from __future__ import annotations

import torch

from toolkit.errors import ToolkitError

__all__ = ["convert_qat", "prepare_qat"]


def prepare_qat(model: torch.nn.Module, example: torch.Tensor, per_channel: bool = True) -> torch.fx.GraphModule:
    """A trainable graph of ``model`` with fake-quantize on weights and activations (BatchNorm kept live).

    Fold the pads first (:func:`quantization.rewrites.fold_tf_padding`) if the result is meant for speed.
    """
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=per_channel, is_qat=True)
    )
    try:
        graph = torch.export.export(model.train(), (example,), strict=False).module()
        return prepare_qat_pt2e(graph, quantizer)
    except (RuntimeError, ValueError, TypeError, AssertionError) as e:
        raise ToolkitError(f"QAT preparation failed: {str(e).strip().splitlines()[0]}") from e


def convert_qat(prepared: torch.fx.GraphModule, example: torch.Tensor) -> torch.export.ExportedProgram:
    """The int8 program of a QAT-trained graph (eval-mode BatchNorm, observers frozen), ready to lower."""
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    move_exported_model_to_eval(prepared)
    with torch.no_grad():
        converted = convert_pt2e(prepared)
    return torch.export.export(converted, (example,), strict=False)
