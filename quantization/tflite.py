"""TFLite int8 through litert-torch: PT2E full-integer (static), dynamic range, and fp16 weights.

litert-torch converts a PT2E-quantized graph when it is told which quantizer made it (``QuantConfig``):
static → full-integer kernels (litert-torch folds the first QUANTIZE and the last DEQUANTIZE into int8
graph I/O; :func:`float_io` puts them back inside for the default float32 contract), dynamic → weights
int8 with run-time activation quantization. fp16 uses litert-torch's fp16 recipe (ai-edge-quantizer).

The TFLite exporter (``toolkit/export/tflite.py``) does::

    module, quant_config = quantization.tflite.prepare_for_litert(model, example, calibration, cfg)
    if layout == "nhwc": module = litert_torch.to_channel_last_io(module, args=[0])  # after quantizing
    data = litert_torch.convert(module, (example_in_layout,), quant_config=quant_config).model_content()
    data = quantization.tflite.float_io(data)   # the default float32 I/O; skip it for io="native"
"""

from __future__ import annotations

from typing import Any

import torch

from quantization.calibration import CalibrationSet
from quantization.config import QuantConfig
from toolkit.errors import ToolkitError

__all__ = ["float_io", "litert_quant_config", "prepare_for_litert"]


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


def float_io(data: bytes) -> bytes:
    """A full-integer .tflite with float32 I/O: QUANTIZE before the int8 input, DEQUANTIZE after the output.

    litert-torch always writes int8 I/O for a static PT2E graph and has no flag for float I/O (its
    ``ConvertToTFLConfig`` exposes none), so the flatbuffer is edited the way TF's ``modify_model_interface``
    does in the other direction: each integer graph input gets a float tensor and a QUANTIZE with the same
    (scale, zero point) in front of it, each integer output a DEQUANTIZE behind it, and the signature is
    pointed at the float tensors. The integer math inside is unchanged; XNNPACK runs both ops.

    Raises ToolkitError for a model whose weights live outside the flatbuffer (> 2 GB layout).
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    model = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    if any(getattr(b, "offset", 0) > 1 for b in model.buffers or []):
        raise ToolkitError("float I/O rewrite needs a .tflite whose weights are inside the flatbuffer")
    sg = model.subgraphs[0]
    renamed: dict[int, int] = {}
    for pos, index in enumerate(sg.inputs):
        new = _float_twin(model, sg, index, "input")
        if new is not None:
            sg.operators.insert(0, _op(fb, _opcode(fb, model, fb.BuiltinOperator.QUANTIZE), new, index))
            sg.inputs[pos] = renamed[index] = new
    for pos, index in enumerate(sg.outputs):
        new = _float_twin(model, sg, index, "output")
        if new is not None:
            sg.operators.append(_op(fb, _opcode(fb, model, fb.BuiltinOperator.DEQUANTIZE), index, new))
            sg.outputs[pos] = renamed[index] = new
    for sig in model.signatureDefs or []:
        for m in (sig.inputs or []) + (sig.outputs or []):
            m.tensorIndex = renamed.get(m.tensorIndex, m.tensorIndex)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _float_twin(model: Any, sg: Any, index: int, role: str) -> int | None:
    """Index of a new float32 tensor shaped like integer tensor ``index`` (None if that one is float)."""
    from ai_edge_litert import schema_py_generated as fb

    t = sg.tensors[index]
    q = t.quantization
    if t.type not in (fb.TensorType.INT8, fb.TensorType.UINT8) or q is None or not q.scale:
        return None
    twin = fb.TensorT()
    twin.name, twin.type = t.name, fb.TensorType.FLOAT32
    twin.shape, twin.shapeSignature = t.shape, t.shapeSignature
    t.name = (t.name or b"") + f"_{role}_int8".encode()
    model.buffers.append(fb.BufferT())
    twin.buffer = len(model.buffers) - 1
    sg.tensors.append(twin)
    return len(sg.tensors) - 1


def _opcode(fb: Any, model: Any, builtin: int) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = fb.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 2  # v2: int8
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _op(fb: Any, opcode: int, src: int, dst: int) -> Any:
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode, [src], [dst]
    return op


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
