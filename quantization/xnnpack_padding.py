"""Serialize each pad-folded 4×4 conv to XNNPACK as the published 3×3 conv with (0, 1) padding.

:func:`quantization.rewrites.fold_tf_padding` removes the explicit ZeroPad before each stride-2 conv by
writing a 4×4 stride-2 conv with padding 1 whose top row and left column are zero: exact, but a PyTorch
graph cannot say "pad bottom/right only", and the 16-tap kernel does 78% more work in those layers and
misses XNNPACK's fast 9-tap depthwise path. XNNPACK itself takes four separate paddings, so at
serialization the toolkit can hand it the original 3×3 kernel with ``top = left = 0, bottom = right = 1``:
the same products summed over the same inputs, without the pad op and without the dead taps.

ExecuTorch has no hook between its aten graph and the XNNPACK flatbuffer, so :func:`asymmetric_pad_convs`
wraps the XNNPACK backend's convolution visitor for the duration of a lowering. Inside it, a conv is
rewritten only when all of this holds (anything else is serialized exactly as before): not transposed,
4×4 kernel, stride 2, padding 1, dilation 1, even input height and width, a constant kernel whose first
row and column are zero. The patch is written against ExecuTorch's XNNPACK visitors as of
:data:`EXECUTORCH_RANGE`; on any other release it refuses in one line (``--keep-pads`` exports the
published graph, which needs no patch), and if the internals move within the range it raises ToolkitError
naming what it could not find rather than writing a wrong graph. The export pipeline verifies every artifact
anyway.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch

from toolkit._deps import check_patch_range
from toolkit.errors import ToolkitError

__all__ = ["EXECUTORCH_RANGE", "asymmetric_pad_convs"]

EXECUTORCH_RANGE = ("1.5", "1.6")  # the releases whose XNNPACK node visitors this patch was read from

_LOCK = threading.RLock()  # the patch is process-wide; two lowerings must not interleave it (nesting is fine)


@contextlib.contextmanager
def asymmetric_pad_convs(counter: list[int] | None = None) -> Iterator[None]:
    """Within this block, XNNPACK lowerings serialize folded 4×4 convs as 3×3 with (0, 1) padding.

    ``counter`` (a one-element list) is incremented once per conv rewritten, so a caller can record it.
    Raises ToolkitError (one line, naming ``--keep-pads``) outside :data:`EXECUTORCH_RANGE`.
    """
    check_patch_range("executorch", *EXECUTORCH_RANGE, patch="the pad-free int8 conv rewrite for XNNPACK",
                      avoid="export with --keep-pads to go without it")  # fmt: skip
    try:
        import executorch.backends.xnnpack.operators  # noqa: F401  (registers every visitor)
        from executorch.backends.xnnpack.operators import node_visitor
        from executorch.backends.xnnpack.utils.utils import get_input_node

        conv_visitor = node_visitor._node_visitor_dict["aten.convolution.default"]
        _ = conv_visitor.define_node, node_visitor.get_param_tensor
    except (ImportError, KeyError, AttributeError) as e:  # executorch moved its visitors: refuse, don't guess
        raise ToolkitError(f"this ExecuTorch has no XNNPACK conv visitor to patch ({e!r})") from e

    original_define, original_get_param = conv_visitor.define_node, node_visitor.get_param_tensor
    sliced: set[torch.fx.Node] = set()  # kernel nodes whose tensor must come out 3×3 while visiting

    def get_param_tensor(program: Any, node: torch.fx.Node) -> Any:
        value = original_get_param(program, node)
        if node in sliced and isinstance(value, torch.Tensor) and tuple(value.shape[-2:]) == (4, 4):
            return value[:, :, 1:, 1:].contiguous()
        return value

    def define_node(self: Any, node: torch.fx.Node, xnn_graph: Any, vals_to_ids: dict, debug_handle: int) -> None:
        kernels = _foldable_kernel_nodes(self._exported_program, node, get_input_node, original_get_param)
        if not kernels:
            return original_define(self, node, xnn_graph, vals_to_ids, debug_handle)
        saved = {k: k.meta["val"] for k in kernels}
        try:
            for k, val in saved.items():
                k.meta["val"] = torch.empty((*val.shape[:2], 3, 3), dtype=val.dtype, device="meta")
                sliced.add(k)
            original_define(self, node, xnn_graph, vals_to_ids, debug_handle)
        finally:
            for k, val in saved.items():
                k.meta["val"] = val
                sliced.discard(k)
        conv = xnn_graph.xnodes[-1].xnode_union
        if (conv.kernel_height, conv.kernel_width) != (3, 3):
            raise ToolkitError("XNNPACK conv visitor ignored the 3×3 kernel shape; ExecuTorch internals changed")
        conv.padding_top, conv.padding_left, conv.padding_bottom, conv.padding_right = 0, 0, 1, 1
        if counter is not None:
            counter[0] += 1

    with _LOCK:
        conv_visitor.define_node, node_visitor.get_param_tensor = define_node, get_param_tensor
        try:
            yield
        finally:
            conv_visitor.define_node, node_visitor.get_param_tensor = original_define, original_get_param


def _foldable_kernel_nodes(program: Any, node: torch.fx.Node, get_input_node: Any, get_param: Any) -> list:
    """The kernel's graph nodes (the weight, and the constant behind its dequantize) if ``node`` qualifies."""
    args = node.args
    if len(args) < 9 or args[6]:  # transposed
        return []
    stride, padding, dilation = (list(a) * (2 // len(a)) for a in (args[3], args[4], args[5]))
    if stride != [2, 2] or padding != [1, 1] or dilation != [1, 1]:
        return []
    x, kernel = get_input_node(node, 0), get_input_node(node, 1)
    x_shape, k_shape = tuple(x.meta["val"].shape), tuple(kernel.meta["val"].shape)
    if len(x_shape) != 4 or x_shape[2] % 2 or x_shape[3] % 2 or k_shape[2:] != (4, 4):
        return []
    nodes = [kernel]
    constant = kernel
    if kernel.op == "call_function" and kernel.args and isinstance(kernel.args[0], torch.fx.Node):
        constant = kernel.args[0]  # dequantize(int8 weight, scales, ...): the stored tensor is its input
        nodes.append(constant)
    try:
        value = get_param(program, constant)
    except RuntimeError:
        return []
    if not isinstance(value, torch.Tensor) or tuple(value.shape[-2:]) != (4, 4):
        return []
    if value[:, :, 0, :].any() or value[:, :, :, 0].any():
        return []
    return nodes
