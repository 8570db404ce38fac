"""Core ML compression with coremltools.optimize.coreml, on a converted ``MLModel`` (works on Linux).

- ``int8-weights``: linear symmetric int8 weights, per output channel (constexpr dequantize on device).
- ``palettize-8|6|4``: k-means look-up tables with 2^n entries per weight tensor (per-tensor LUT).
- ``w8a8``: int8 weights plus int8 activations; coremltools calibrates activations by *running* the
  model, which needs the Core ML framework, so on Linux it raises UsageError instead of guessing.

Every weight tensor is compressed (``weight_threshold=0``): coremltools' default of 2048 elements would
skip each depthwise filter and the whole of a small model.

The Core ML exporter (``toolkit/export/coreml.py``) calls it after its own ``ct.convert``::

    mlmodel, report = quantization.coreml.compress_mlmodel(mlmodel, cfg)   # report: per-layer dicts
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quantization.calibration import CalibrationSet
from quantization.config import QuantConfig
from toolkit.errors import ToolkitError, UsageError

__all__ = ["compress_mlmodel", "compression_report"]

_CONST_OPS = ("const", "constexpr_affine_dequantize", "constexpr_blockwise_shift_scale", "constexpr_lut_to_dense")


def _op_config(cfg: QuantConfig) -> Any:
    import coremltools.optimize.coreml as cto

    if cfg.scheme in ("int8-weights", "w8a8"):
        return cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity=cfg.granularity, weight_threshold=0
        )
    return cto.OpPalettizerConfig(mode="kmeans", nbits=cfg.weight_bits, granularity="per_tensor", weight_threshold=0)


def compress_mlmodel(
    mlmodel: Any, cfg: QuantConfig, calibration: CalibrationSet | None = None
) -> tuple[Any, list[dict[str, Any]]]:
    """(compressed MLModel, per-layer report) for ``cfg.scheme``; the input model is not modified.

    Raises UsageError for w8a8 off macOS, ToolkitError (one line) when coremltools fails.
    """
    import coremltools.optimize.coreml as cto

    from toolkit._deps import IS_MACOS

    if cfg.target != "coreml":
        raise ValueError(f"compress_mlmodel needs a coreml config, got {cfg.target}")
    if mlmodel.get_spec().WhichOneof("Type") != "mlProgram":
        raise UsageError("Core ML compression needs an ML Program (convert with convert_to='mlprogram')")
    before = _weight_table(mlmodel)
    config = cto.OptimizationConfig(global_config=_op_config(cfg))
    if cfg.scheme == "w8a8" and not IS_MACOS:
        raise UsageError("Core ML w8a8 calibrates activations by running the model: macOS only")
    if cfg.scheme == "w8a8" and calibration is None:
        raise UsageError("Core ML w8a8 needs a calibration set (--calibration DIR or the bundled photos)")
    try:
        if cfg.scheme == "w8a8":
            name = mlmodel.get_spec().description.input[0].name
            samples = [{name: x} for x in calibration.batches()]
            mlmodel = cto.experimental.linear_quantize_activations(mlmodel, config, samples)
            compressed = cto.linear_quantize_weights(mlmodel, config)
        elif cfg.scheme == "int8-weights":
            compressed = cto.linear_quantize_weights(mlmodel, config)
        else:
            compressed = cto.palettize_weights(mlmodel, config)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as e:
        text = str(e).strip()
        raise ToolkitError(f"Core ML {cfg.scheme} compression failed: {text.splitlines()[0] if text else e!r}") from e
    return compressed, compression_report(before, compressed)


def _weight_table(mlmodel: Any) -> dict[str, tuple[tuple[int, ...], int]]:
    """Weight const name → (shape, bytes) in the uncompressed program (fp16 or fp32 storage)."""
    table = {}
    for op in _main_ops(mlmodel):
        if op.op_type == "const" and op.outputs[0].val is not None:
            val = np.asarray(op.outputs[0].val)
            if val.ndim >= 2:
                table[op.outputs[0].name] = (tuple(val.shape), int(val.nbytes))
    return table


def _main_ops(mlmodel: Any) -> list[Any]:
    prog = mlmodel._mil_program
    if prog is None:
        raise ToolkitError("this MLModel carries no MIL program (load it from its .mlpackage with coremltools)")
    return list(prog.functions["main"].operations)


def compression_report(before: dict[str, tuple[tuple[int, ...], int]], compressed: Any) -> list[dict[str, Any]]:
    """One row per weight tensor: name, shape, original and compressed bytes, bits and the decoding op."""
    rows = []
    for op in _main_ops(compressed):
        if op.op_type not in _CONST_OPS[1:]:
            continue
        name = op.outputs[0].name
        stored = sum(int(np.asarray(v.val).nbytes) for v in op.inputs.values() if v.val is not None)
        base = name.removesuffix("_quantized").removesuffix("_palettized")
        shape, orig = before.get(name) or before.get(base) or (tuple(op.outputs[0].shape), None)
        n = int(np.prod(shape))
        rows.append({
            "name": base, "shape": list(shape), "op": op.op_type, "original_bytes": orig,
            "compressed_bytes": stored, "bits_per_weight": round(8 * stored / n, 3) if n else None,
        })  # fmt: skip
    return rows
