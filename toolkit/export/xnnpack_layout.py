"""Serve XNNPACK's layout copies of tensors whose NHWC and NCHW bytes are the same as no operator at all.

XNNPACK computes in NHWC. ExecuTorch's XNNPACK lowering (``ChannelsLastTaggedReshapePass``) converts a
tensor back to NCHW before any op that reads it in NCHW, and serializes each conversion as a Transpose.
In MobileNet that is the pooled (N, C, 1, 1) features before the classifier's reshape: a tensor whose
moved dimensions are all 1, so both layouts are the same bytes, yet the Transpose runs on every inference
and shows in every per-operator profile. Within :func:`elide_identity_layout_copies`, the XNNPACK visitor
of such a copy gives its output the input's value instead: no operator, no data movement, the same
values for the reshape that reads it.

A copy is elided only when all of this holds (anything else is serialized exactly as before): a 4-D
memory-format copy (``_to_copy``), every non-1 dimension keeps its relative order between NCHW and NHWC,
and every reader is a reshape (``view_copy``, directly or through quantize/dequantize tags), so no graph
input or output is aliased. The visitor was read from ExecuTorch :data:`EXECUTORCH_RANGE` (the release of
the pad-free conv patch, :mod:`quantization.xnnpack_padding`); on any other release the lowering runs
stock, which only keeps the copy, and if the visitor moved within the range the patch raises
ToolkitError rather than write a wrong graph. The export pipeline verifies every artifact anyway.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch

from quantization.xnnpack_padding import EXECUTORCH_RANGE
from toolkit._deps import in_patch_range
from toolkit.errors import ToolkitError

__all__ = ["elide_identity_layout_copies", "same_bytes_in_both_layouts"]

_LOCK = threading.RLock()  # process-wide patch: two lowerings must not interleave it (nesting is fine)
_NCHW, _NHWC = (0, 1, 2, 3), (0, 2, 3, 1)  # dimension order of each layout, as indices of the NCHW shape
_PASS_THROUGH = ("quantize_per_tensor", "dequantize_per_tensor")  # the int8 graph's tags around a copy


def same_bytes_in_both_layouts(shape_nchw: tuple[int, ...]) -> bool:
    """Whether a 4-D tensor of this (N, C, H, W) shape is laid out identically in NCHW and NHWC memory."""
    if len(shape_nchw) != 4:
        return False
    return [d for d in _NCHW if shape_nchw[d] != 1] == [d for d in _NHWC if shape_nchw[d] != 1]


@contextlib.contextmanager
def elide_identity_layout_copies(counter: list[int] | None = None) -> Iterator[None]:
    """Within this block, XNNPACK lowerings alias layout copies that move no bytes (module docstring).

    ``counter`` (a one-element list) is incremented once per copy elided. Outside :data:`EXECUTORCH_RANGE`
    this does nothing: the stock lowering is correct, it only keeps the copy.
    """
    if not in_patch_range("executorch", *EXECUTORCH_RANGE):
        yield
        return
    try:
        import executorch.backends.xnnpack.operators  # noqa: F401  (registers every visitor)
        from executorch.backends.transforms import get_shape
        from executorch.backends.xnnpack.operators import node_visitor
        from executorch.backends.xnnpack.operators.quant_params import QuantParams
        from executorch.backends.xnnpack.utils.utils import get_input_node

        copy_visitor = node_visitor._node_visitor_dict["aten._to_copy.default"]
        _ = copy_visitor.define_node, copy_visitor.define_tensor, QuantParams.from_inputs
    except (ImportError, KeyError, AttributeError) as e:  # executorch moved its visitors: refuse, don't guess
        raise ToolkitError(f"this ExecuTorch has no XNNPACK layout-copy visitor to patch ({e!r})") from e

    original_define = copy_visitor.define_node

    def define_node(self: Any, node: torch.fx.Node, xnn_graph: Any, vals_to_ids: dict, debug_handle: int) -> None:
        if not _elidable(node):
            return original_define(self, node, xnn_graph, vals_to_ids, debug_handle)
        source = get_input_node(node, 0)
        to_channels_last = node.kwargs.get("memory_format") == torch.channels_last
        quant = QuantParams.from_inputs(source, self._exported_program)
        # the input exactly as the stock visitor defines it; the copy's output is then the same value
        self.define_tensor(source, xnn_graph, vals_to_ids, quant_params=quant,
                           convert_to_nhwc=(not to_channels_last) and len(get_shape(source)) == 4)  # fmt: skip
        vals_to_ids[node] = vals_to_ids[source]
        if counter is not None:
            counter[0] += 1

    with _LOCK:
        copy_visitor.define_node = define_node
        try:
            yield
        finally:
            copy_visitor.define_node = original_define


def _elidable(node: torch.fx.Node) -> bool:
    """A 4-D memory-format copy that moves no bytes and is read only by reshapes."""
    val = node.meta.get("val")
    if not isinstance(val, torch.Tensor) or set(node.kwargs) - {"memory_format"}:
        return False
    if node.kwargs.get("memory_format") not in (torch.channels_last, torch.contiguous_format):
        return False
    if not same_bytes_in_both_layouts(tuple(int(d) for d in val.shape)):
        return False
    readers, todo = [], list(node.users)
    while todo:
        user = todo.pop()
        if user.op == "call_function" and any(tag in str(user.target) for tag in _PASS_THROUGH):
            todo.extend(user.users)
        else:
            readers.append(user)
    return bool(readers) and all(u.op == "call_function" and "view_copy" in str(u.target) for u in readers)
