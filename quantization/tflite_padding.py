"""Give a pad-folded .tflite back its 3×3 kernels: TFLite ``SAME`` already is the published (0, 1) padding.

:func:`quantization.rewrites.fold_tf_padding` turns ZeroPad(0,1,0,1) + 3×3 stride-2 conv into a 4×4 stride-2
conv with padding 1 and a zero top row and left column, because a PyTorch conv cannot say "pad only the
bottom/right". litert-torch writes that as a 4×4 ``SAME`` conv: no PAD op, but 78% more multiply-adds in
those layers and, for depthwise, a 16-tap kernel where XNNPACK has a fast 9-tap one.

TFLite can say it: a 3×3 stride-2 ``SAME`` conv on an even side pads ``total = 3 - 2 = 1`` row, split as 0
before and 1 after, which is exactly (0, 1). So dropping the 4×4 kernel's zero first row and column and
keeping ``SAME`` computes the same sums over the same inputs: bit-identical output, in int8 too (a zero
weight adds ``w·(x - zero_point) = 0``; per-channel scales are untouched because the dropped taps are 0).
Odd sides would pad (1, 1) under ``SAME`` and are left alone.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

__all__ = ["shrink_folded_kernels"]


def shrink_folded_kernels(data: bytes) -> tuple[bytes, int]:
    """(model bytes, number of convs changed): each foldable 4×4 ``SAME`` stride-2 conv becomes 3×3 ``SAME``.

    A conv qualifies when its filter is a constant inside the flatbuffer, 4×4 with an all-zero first row and
    column (filters are ``[O, H, W, I]`` for CONV_2D and ``[1, H, W, C]`` for DEPTHWISE_CONV_2D), stride 2,
    dilation 1, and its input's height and width are even. Anything else is left exactly as it was.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    model = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    convs = {fb.BuiltinOperator.CONV_2D, fb.BuiltinOperator.DEPTHWISE_CONV_2D}
    buffer_users = Counter(t.buffer for sg in model.subgraphs for t in sg.tensors)
    changed = 0
    for sg in model.subgraphs:
        tensor_users = Counter(i for op in sg.operators for i in op.inputs)
        for op in sg.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) not in convs or tensor_users[op.inputs[1]] != 1:
                continue  # a filter shared with another op (or tensor) must not change under it
            if buffer_users[sg.tensors[op.inputs[1]].buffer] == 1 and _shrink(fb, model, sg, op):
                changed += 1
    if not changed:
        return data, 0
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), changed


def _shrink(fb: Any, model: Any, sg: Any, op: Any) -> bool:
    """Slice one conv's filter in place when that is exact; True if it did."""
    opts = op.builtinOptions
    if opts is None or opts.padding != fb.Padding.SAME or (opts.strideH, opts.strideW) != (2, 2):
        return False
    if (opts.dilationHFactor, opts.dilationWFactor) not in ((1, 1), (0, 0)):
        return False
    x, w = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]]
    if x.shape is None or len(x.shape) != 4 or x.shape[1] % 2 or x.shape[2] % 2:
        return False
    if w.shape is None or list(w.shape[1:3]) != [4, 4]:
        return False
    dtypes = {fb.TensorType.INT8: np.int8, fb.TensorType.FLOAT32: np.float32, fb.TensorType.FLOAT16: np.float16}
    dtype = dtypes.get(w.type)
    buf = model.buffers[w.buffer] if w.buffer < len(model.buffers) else None
    if dtype is None or buf is None or buf.data is None or getattr(buf, "offset", 0) > 1:
        return False
    kernel = np.frombuffer(np.asarray(buf.data, dtype=np.uint8).tobytes(), dtype=dtype).reshape(list(w.shape))
    if np.any(kernel[:, 0, :, :]) or np.any(kernel[:, :, 0, :]):
        return False
    small = np.ascontiguousarray(kernel[:, 1:, 1:, :])
    buf.data = np.frombuffer(small.tobytes(), dtype=np.uint8).copy()
    w.shape = np.array(small.shape, dtype=np.int32)
    if w.shapeSignature is not None and len(w.shapeSignature):
        w.shapeSignature = np.array(small.shape, dtype=np.int32)
    return True
