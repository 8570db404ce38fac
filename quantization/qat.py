"""Quantization-aware training for the XNNPACK int8 scheme (PT2E QAT), for when post-training int8 loses
too much: fine-tune with fake-quant in the graph, then convert to the same int8 program PTQ produces.

    gm = prepare_qat(model, batch)              # pad-free train-mode graph, fake-quant on weights + activations
    ... a few epochs of the usual loop on gm (set_training(gm, True/False) around validation) ...
    state = float_state_dict(gm, model)         # the fine-tuned float weights, loadable into ``model``
    program = convert_qat(gm, example)          # int8 ExportedProgram → the ExecuTorch exporter (qat_program)

The graph is the pad-free rewrite (:func:`quantization.rewrites.fold_tf_padding`) that PTQ quantizes for
ExecuTorch. Its 4×4 kernels hold the published 3×3 in the bottom-right corner; :func:`prepare_qat` masks
the gradient of the other seven taps, so they stay exactly zero under every optimizer this toolkit uses
(zero gradient, zero weight → zero decay, zero momentum) and the trained weights fold back into the
published architecture (:func:`float_state_dict`). ``toolkit train --qat`` (toolkit/training/qat.py) wires
this into the training loop and the export pipeline.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from toolkit.errors import ToolkitError, UsageError

__all__ = [
    "QAT_NAME",
    "convert_qat",
    "export_key",
    "float_state_dict",
    "prepare_qat",
    "program_sha256",
    "set_training",
]

QAT_NAME = "int8-qat"  # artifact-name component: a QAT artifact never shares a file (or cache key) with PTQ's


def _folded_masks(model: nn.Module, folded: nn.Module) -> dict[str, torch.Tensor]:
    """``{weight name: 0/1 mask}`` for each conv the pad-free rewrite turned from 3×3 into 4×4."""
    before = model.state_dict()
    masks = {}
    for name, w in folded.state_dict().items():
        was = before.get(name)
        if was is not None and w.dim() == 4 and w.shape[-2:] == (4, 4) and was.shape[-2:] == (3, 3):
            mask = torch.zeros_like(w)
            mask[:, :, 1:, 1:] = 1.0
            masks[name] = mask
    return masks


@contextlib.contextmanager
def _conv2d_bn_patterns_only(graph: torch.fx.GraphModule) -> Iterator[None]:
    """Let PT2E's QAT conv-BN fuse (prepare) and fold (convert) try only the conv2d patterns.

    Both passes trace their pattern set for conv1d, conv2d, conv_transpose1d and conv_transpose2d, each
    with ``torch.export`` (~0.4 s a pattern); patterns of an op the graph does not contain cannot match.
    Measured on the digits α 0.25 graph: convert 38.5 s → 12.7 s with a byte-identical ``.pte``. Any other
    conv op in ``graph``, or a torchao without these helpers, runs the library's passes unchanged.
    """
    import torch.nn.functional as F

    convs = {str(n.target) for n in graph.graph.nodes if n.op == "call_function" and "conv" in str(n.target)}
    try:
        from torchao.quantization.pt2e import qat_utils

        helpers = {name: getattr(qat_utils, name) for name in ("_fuse_conv_bn_qat_helper", "_fold_conv_bn_qat_helper")}
    except (ImportError, AttributeError):
        helpers = {}
    if not helpers or any(not c.startswith("aten.conv2d") for c in convs):
        yield
        return

    def conv2d_only(helper: Any) -> Any:
        return lambda m, conv_fn, *args, **kwargs: helper(m, conv_fn, *args, **kwargs) if conv_fn is F.conv2d else m

    try:
        for name, helper in helpers.items():
            setattr(qat_utils, name, conv2d_only(helper))
        yield
    finally:
        for name, helper in helpers.items():
            setattr(qat_utils, name, helper)


# torchao's QAT conv-BN patterns hard-code BatchNorm's eps ("TODO: allow setting eps"); MobileNet's is 1e-3.
_TORCHAO_BN_EPS = 1e-5
_BN_META = "toolkit_bn"  # GraphModule.meta key: {running_var buffer name: (momentum, eps)} of the float model


def _without_dropout(model: nn.Module) -> nn.Module:
    """Dropout (1e-3 in the paper's recipe) left out of the QAT graph: PT2E's train/eval rewrite resets any
    dropout to its pattern's p=0.5, and a few fine-tuning epochs do not need it."""
    for name, child in model.named_children():
        if isinstance(child, nn.Dropout):
            setattr(model, name, nn.Identity())
        else:
            _without_dropout(child)
    return model


def _restore_bn_literals(prepared: torch.fx.GraphModule, model: nn.Module) -> None:
    """Put the float model's BatchNorm eps and momentum back where PT2E's QAT rewrite put its own.

    The rewrite rebuilds every conv-BN with eps 1e-5: in the ``batch_norm`` op (normalization and the
    running statistics it updates) and in the ``sqrt(running_var + eps)`` that scales weights before their
    fake-quant. Both are keyed here by their running-variance buffer, so each BN gets its own module's value.
    """
    bns = {f"{name}.running_var": (m.momentum, m.eps) for name, m in model.named_modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm)}  # fmt: skip
    for node in prepared.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target is torch.ops.aten.batch_norm.default and getattr(node.args[4], "target", None) in bns:
            momentum, eps = bns[node.args[4].target]
            node.args = (*node.args[:6], momentum, eps, *node.args[8:])
        elif (
            node.target is torch.ops.aten.add.Tensor
            and getattr(node.args[0], "target", None) in bns
            and (node.args[1] == _TORCHAO_BN_EPS)
        ):
            node.args = (node.args[0], bns[node.args[0].target][1])
    prepared.recompile()
    prepared.meta[_BN_META] = bns


def prepare_qat(
    model: nn.Module, example: torch.Tensor, per_channel: bool = True, fold_padding: bool = True
) -> torch.fx.GraphModule:
    """A trainable, pad-free graph of ``model`` with fake-quantize on weights and activations.

    BatchNorm stays live (PT2E simulates its folding into the conv) with the model's own eps and momentum.
    The batch axis is dynamic, so one graph trains and validates at any batch size ≥ 2; switch modes with
    :func:`set_training` (``gm.train()``/``gm.eval()`` do the same).

    Args:
        model: the trained float model (left untouched).
        example: an NCHW batch of the training shape (a batch of 1 is repeated: BatchNorm trains on ≥ 2).
        fold_padding: apply the exact pad-free rewrite first, as PTQ does for ExecuTorch.

    Raises ToolkitError (one line) when torch.export or the quantizer rejects the model.
    """
    import types

    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    from quantization.rewrites import fold_tf_padding

    graph_model = _without_dropout(fold_tf_padding(model) if fold_padding else copy.deepcopy(model))
    masks = _folded_masks(model, graph_model)
    example = example if example.shape[0] >= 2 else example.repeat(2, 1, 1, 1)
    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=per_channel, is_qat=True)
    )
    batch = torch.export.Dim("batch", min=2)
    try:
        graph = torch.export.export(
            graph_model.train(), (example,), dynamic_shapes=({0: batch},), strict=False
        ).module()
        with _conv2d_bn_patterns_only(graph):
            prepared = prepare_qat_pt2e(graph, quantizer)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ToolkitError(f"QAT preparation failed: {first}") from e
    _restore_bn_literals(prepared, graph_model)
    params = dict(prepared.named_parameters())
    for name, mask in masks.items():
        params[name].register_hook(lambda grad, m=mask: grad * m)
    # PT2E installs train()/eval() that raise on an exported graph; these switch it as set_training does
    prepared.train = types.MethodType(lambda self, mode=True: set_training(self, mode) or self, prepared)
    prepared.eval = types.MethodType(lambda self: set_training(self, False) or self, prepared)
    return prepared


def set_training(prepared: torch.fx.GraphModule, training: bool) -> None:
    """Train mode: batch-statistics BatchNorm and observers tracking activation ranges; eval mode: running
    statistics and frozen observers, so validation images never move the int8 ranges.

    An exported graph ignores ``Module.train``; its BatchNorm mode is the ``training`` argument of each
    ``batch_norm`` op, set here directly (torchao's ``move_exported_model_to_train/eval`` re-trace patterns
    for ~3 s a call and reset every BN's eps to 1e-5).
    """
    from torchao.quantization.pt2e import disable_observer, enable_observer

    for node in prepared.graph.nodes:
        if node.op == "call_function" and node.target is torch.ops.aten.batch_norm.default:
            node.args = (*node.args[:5], training, *node.args[6:])
    prepared.recompile()
    prepared.apply(enable_observer if training else disable_observer)


def float_state_dict(prepared: torch.fx.GraphModule, model: nn.Module) -> dict[str, torch.Tensor]:
    """The fine-tuned float weights and BatchNorm statistics of ``prepared`` under ``model``'s names.

    Folded 4×4 kernels go back to the published 3×3 (their masked taps are still exactly zero), so the
    result loads into ``model``'s architecture and saves as an ordinary checkpoint.
    """
    trained = prepared.state_dict()
    out = {}
    for name, ref in model.state_dict().items():
        if name not in trained:
            raise ToolkitError(f"the QAT graph has no tensor {name!r}; was it prepared from this model?")
        t = trained[name].detach().clone()
        if t.shape != ref.shape:
            if t.dim() != 4 or tuple(t.shape[-2:]) != (4, 4) or tuple(ref.shape[-2:]) != (3, 3):
                raise ToolkitError(f"{name}: QAT shape {tuple(t.shape)} does not fold back to {tuple(ref.shape)}")
            if t[:, :, 0, :].abs().max() > 0 or t[:, :, :, 0].abs().max() > 0:
                raise ToolkitError(f"{name}: the pad-free kernel's zero taps were trained; cannot fold back")
            t = t[:, :, 1:, 1:].contiguous()
        out[name] = t.to(ref.dtype)
    return out


def convert_qat(prepared: torch.fx.GraphModule, example: torch.Tensor) -> torch.export.ExportedProgram:
    """The int8 program of a QAT-trained graph (BatchNorm folded, observers frozen), ready to lower.

    ``prepared`` is consumed: take :func:`float_state_dict` first.
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    set_training(prepared, False)
    # convert folds each BN into its conv with torchao's eps 1e-5 (tests/test_quant_qat.py pins this): shift
    # running_var so the fold computes sqrt(var + the model's eps), as the fake-quant graph trained with
    buffers = dict(prepared.named_buffers())
    with torch.no_grad():
        for name, (_, eps) in prepared.meta.get(_BN_META, {}).items():
            buffers[name].add_(eps - _TORCHAO_BN_EPS)
    try:
        with torch.no_grad(), _conv2d_bn_patterns_only(prepared):
            converted = convert_pt2e(prepared)
        return torch.export.export(converted, (example,), strict=False)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ToolkitError(f"QAT conversion to int8 failed: {first}") from e


def program_sha256(program: torch.export.ExportedProgram) -> str:
    """Hash of what a converted program computes: its graph (int8 scales are literals in it) and tensors."""
    h = hashlib.sha256(str(program.graph).encode())
    tensors = {**program.state_dict, **{f"const:{k}": v for k, v in program.constants.items()}}
    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def export_key(target: str, precision: str, options: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(cache-key part, artifact-name component) of an export whose ``options["qat_program"]`` is set.

    Only ExecuTorch's static int8 lowers a PT2E QAT program; anything else is a one-line UsageError.
    """
    from quantization import hooks

    if target != "executorch" or precision != "int8":
        raise UsageError(f"a QAT program exports to executorch int8 only, not {target} {precision}")
    if hooks.config(target, options).scheme != "int8":
        raise UsageError("a QAT program is static int8; drop the scheme option")
    if options.get("calibration") is not None or options.get("calibration_samples") is not None:
        raise UsageError("a QAT program needs no calibration: its ranges were learned during training")
    key = {**hooks.cache_options(target, options), "qat_program": program_sha256(options["qat_program"])}
    return key, QAT_NAME
