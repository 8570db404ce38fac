"""Exact graph rewrites that make int8 graphs faster without changing what they compute.

The published MobileNet V1 pads (0, 1) on the bottom/right before every stride-2 3×3 conv. As its own
op that pad costs int8 most of its speed-up: litert-torch keeps each PAD with transposes and requantize
ops around it, and XNNPACK runs it as a separate pass over memory (see
/work/shared/reference/performance_notes.md). The same output comes from one convolution with no pad op:

    ZeroPad(0, 1, 0, 1) → Conv3×3(stride 2, padding 0)
        ≡ Conv4×4(stride 2, padding 1) whose kernel holds the 3×3 in its bottom-right corner, zeros elsewhere

For output row ``o`` the padded 3×3 conv reads input rows ``2o .. 2o+2`` (row H is the zero pad). The 4×4
conv with padding 1 reads rows ``2o-1 .. 2o+2``; its top row of weights is zero, so row ``2o-1`` (the
implicit top pad included) contributes nothing, and row H is its implicit bottom pad. Output sizes agree
when the input side is even: ``(H + 1 - 3)//2 + 1 == (H + 2 - 4)//2 + 1 == H/2``. Every stride-2 input
is even when ρ is a multiple of 32; for an odd side TF pads (1, 1) instead and this rewrite does not apply,
so :func:`fold_tf_padding` refuses it.

The 4×4 kernel does 78% more multiply-adds, so no runtime should run it: the lowerings hand the 3×3 back
with the padding inside the convolution (:mod:`quantization.xnnpack_padding`,
:mod:`quantization.tflite_padding`). fp32 runtimes already fuse the pad, so this is for int8 only.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["count_explicit_pads", "fold_tf_padding"]


def _folded_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """The 4×4 stride-2 padding-1 conv equal to ZeroPad(0,1,0,1) + ``conv`` (3×3, stride 2, padding 0)."""
    new = nn.Conv2d(
        conv.in_channels, conv.out_channels, 4, stride=2, padding=1, groups=conv.groups, bias=conv.bias is not None
    )
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, :, 1:, 1:] = conv.weight
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new.to(conv.weight.device, conv.weight.dtype)


def _stride2_input_sides(model: nn.Module, resolution: int) -> list[int]:
    """Spatial side entering each stride-2 conv for a square ``resolution`` input (3×3 convs halve it)."""
    sides, side = [], resolution
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            sides.append(side)
            side = (side + 1) // 2
    return sides


def fold_tf_padding(model: nn.Module, resolution: int | None = None) -> nn.Module:
    """A copy of ``model`` with every ``pad=ZeroPad2d((0,1,0,1))`` + 3×3 stride-2 conv folded into one conv.

    Works on any module whose blocks hold the pad and the conv as ``.pad`` and ``.conv`` children (the
    toolkit's ``ConvBNAct``). The original model is untouched; the copy keeps its metadata attributes
    (``weight_source``, ``preprocessing``, ``class_names``) and gets ``padding_folded = True``.

    Args:
        resolution: input side to check (default ``model.resolution``); an odd side entering a stride-2
            conv raises ValueError because TF padding is then (1, 1) and the rewrite would not be exact.
    """
    resolution = resolution if resolution is not None else getattr(model, "resolution", None)
    if resolution is not None:
        odd = [s for s in _stride2_input_sides(model, resolution) if s % 2]
        if odd:
            raise ValueError(f"resolution {resolution} gives odd stride-2 inputs {odd}: pad folding is not exact")
    out = copy.deepcopy(model)
    for block in out.modules():
        pad, conv = getattr(block, "pad", None), getattr(block, "conv", None)
        if not isinstance(pad, nn.ZeroPad2d) or not isinstance(conv, nn.Conv2d):
            continue
        if tuple(pad.padding) != (0, 1, 0, 1) or conv.kernel_size != (3, 3) or conv.stride != (2, 2):
            continue
        if conv.padding != (0, 0) or conv.dilation != (1, 1):
            continue
        block.conv = _folded_conv(conv)
        block.pad = None
    out.padding_folded = True
    return out


def count_explicit_pads(model: nn.Module) -> int:
    """Standalone ZeroPad2d modules left in ``model`` (0 after :func:`fold_tf_padding`)."""
    return sum(isinstance(m, nn.ZeroPad2d) for m in model.modules())
