"""A Core ML graph pass that moves each zero ``pad`` into the conv after it (``pad_type="custom"``).

The published MobileNet V1 pads (0, 1) on the bottom/right before every stride-2 conv. coremltools keeps
that as five standalone ``pad`` ops (it has no pad+conv fusion for ML Programs), and on the CPU each one is
an extra pass over the activation. A MIL ``conv`` takes its own ``pad = [before_h, after_h, before_w,
after_w]``, so ``pad(x, 0) → conv(valid)`` equals ``conv(x, pad_type="custom", pad=...)`` exactly: the
same products over the same (zero-extended) input.

The rewrite applies only to a constant-mode pad with value 0 that pads nothing but the two spatial axes and
feeds convs alone (and is not a graph output); other pads are left as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PASS_NAME", "pipeline_with_pad_fusion"]

PASS_NAME = "toolkit::fuse_zero_pad_into_conv"
_registered = False


def pipeline_with_pad_fusion() -> Any:
    """coremltools' default pass pipeline with :data:`PASS_NAME` first among the graph optimizations."""
    import coremltools as ct

    _register()
    pipeline = ct.PassPipeline.DEFAULT
    names = list(pipeline.passes)
    # run before the default pad/transpose and cast passes rewrite the neighbourhood
    at = names.index("common::fuse_pad_conv") if "common::fuse_pad_conv" in names else 0
    pipeline.insert_pass(at, PASS_NAME)
    return pipeline


def _register() -> None:
    """Register the pass with coremltools once per process (registration is global there)."""
    global _registered
    if _registered:
        return
    from coremltools.converters.mil.mil import Builder as mb  # noqa: N813 (the coremltools idiom)
    from coremltools.converters.mil.mil.passes.graph_pass import AbstractGraphPass
    from coremltools.converters.mil.mil.passes.helper import block_context_manager
    from coremltools.converters.mil.mil.passes.pass_registry import PASS_REGISTRY, register_pass

    if PASS_NAME in PASS_REGISTRY:
        _registered = True
        return

    class fuse_zero_pad_into_conv(AbstractGraphPass):  # noqa: N801 (coremltools names passes in snake case)
        def apply(self, prog: Any) -> None:
            for f in prog.functions.values():
                self._block(f)

        @block_context_manager
        def _block(self, block: Any) -> None:
            for op in list(block.operations):
                for inner in op.blocks:
                    self._block(inner)
                amounts = _spatial_zero_pad(op) if op.op_type == "pad" else None
                if amounts is not None and _only_feeds_convs(op, block):
                    _fuse(mb, op, amounts, block)

    register_pass(namespace="toolkit")(fuse_zero_pad_into_conv)
    _registered = True


def _spatial_zero_pad(pad_op: Any) -> list[int] | None:
    """[before_h, after_h, before_w, after_w] of a zero constant pad on the last two axes only, else None."""
    mode = pad_op.inputs.get("mode")
    value = pad_op.inputs.get("constant_val")
    amounts = pad_op.inputs["pad"].val
    if amounts is None or (mode is not None and mode.val != "constant"):
        return None
    if value is not None and (value.val is None or float(value.val) != 0.0):
        return None
    amounts = np.asarray(amounts, dtype=np.int64).reshape(-1)
    if len(amounts) < 4 or np.any(amounts[:-4]) or np.any(amounts < 0):
        return None
    return [int(a) for a in amounts[-4:]]


def _only_feeds_convs(pad_op: Any, block: Any) -> bool:
    out = pad_op.outputs[0]
    children = out.child_ops
    if out in block.outputs or not children:
        return False
    return all(c.op_type == "conv" and c.inputs["x"] is out and c.inputs["x"].rank == 4 for c in children)


def _fuse(mb: Any, pad_op: Any, extra: list[int], block: Any) -> None:
    for conv in list(pad_op.outputs[0].child_ops):
        kind = conv.inputs["pad_type"].val if "pad_type" in conv.inputs else "valid"
        own = conv.inputs["pad"].val if kind == "custom" and "pad" in conv.inputs else [0, 0, 0, 0]
        if kind not in ("valid", "custom"):
            continue  # "same" depends on the padded size; leave it
        args = {k: v for k, v in conv.inputs.items() if k not in ("x", "pad_type", "pad")}
        total = [int(a) + int(b) for a, b in zip(own, extra, strict=True)]
        new = mb.conv(x=pad_op.inputs["x"], pad_type="custom", pad=total, before_op=conv, name=conv.name + "_padded",
                      **args)  # fmt: skip
        block.replace_uses_of_var_after_op(anchor_op=conv, old_var=conv.outputs[0], new_var=new)
        block.remove_ops([conv])
    if not pad_op.outputs[0].child_ops:
        block.remove_ops([pad_op])
