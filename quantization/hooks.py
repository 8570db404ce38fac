"""The few calls an exporter needs for ``--precision int8``, so each backend's int8 branch is a few lines.

The CLI puts ``scheme`` (None = the target's int8), ``calibration`` (folder or None = bundled photos),
``calibration_samples``, ``eval_data`` (labeled folder or None) and ``fold_padding`` (None = the target's
default) into ``ExportConfig.options``; from Python ``calibration`` may also be an NCHW array and
``eval_data`` an ``(images, labels)`` pair. An exporter then does, e.g. ExecuTorch::

    from quantization import hooks
    cal, qcfg = hooks.prepare(model, "executorch", cfg.options)
    program = hooks.xnnpack_program(model, example, cal, qcfg)        # lower it as usual, write out_path
    extras["quantization"] = hooks.record(qcfg, cal)

and the export pipeline, once the artifact runs on the host, adds ``hooks.measure(model, record, options, run)``
(agreement with fp32, and labeled top-1 with ``eval_data``) to that record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quantization.accuracy import compare_accuracy, eval_set, model_logits, predict_batched
from quantization.calibration import BUNDLED, CalibrationSet, load_calibration
from quantization.config import DEFAULT_SCHEME, OPTION_KEYS, QuantConfig
from quantization.rewrites import fold_tf_padding
from toolkit.errors import UsageError

__all__ = [
    "BUNDLED",
    "OPTION_KEYS",
    "QAT_NAME",
    "cache_options",
    "config",
    "measure",
    "model_for",
    "name_component",
    "prepare",
    "program_sha256",
    "qat_cache_options",
    "record",
    "xnnpack_program",
]

DEFAULT_SAMPLES = 100
QAT_NAME = "int8-qat"  # artifact-name component: a QAT artifact never shares a file (or cache key) with PTQ's


def config(target: str, options: dict[str, Any]) -> QuantConfig:
    """The QuantConfig the options ask for; UsageError (listing the valid schemes) before any work is done."""
    samples = options.get("calibration_samples")
    return QuantConfig(
        target,
        options.get("scheme") or DEFAULT_SCHEME[target],
        calibration_samples=DEFAULT_SAMPLES if samples is None else samples,
        fold_padding=options.get("fold_padding"),
    )


def name_component(target: str, options: dict[str, Any]) -> str:
    """``int8`` for the target's own int8 scheme, else the scheme (``int8-dynamic``, ``palettize-4``...).

    The artifact name then tells two quantized files of one variant apart, as DESIGN.md's naming wants.
    """
    scheme = config(target, options).scheme
    return "int8" if scheme == DEFAULT_SCHEME[target] else scheme


def prepare(model: torch.nn.Module, target: str, options: dict[str, Any]) -> tuple[CalibrationSet | None, QuantConfig]:
    """(calibration set or None, config) from export options; UsageError for a bad scheme or folder."""
    from toolkit.data import TF_PREPROCESSING

    qcfg = config(target, options)
    cal = None
    if qcfg.is_static:
        prep = getattr(model, "preprocessing", None) or TF_PREPROCESSING
        cal = load_calibration(options.get("calibration"), model.resolution, prep, qcfg.calibration_samples)
    return cal, qcfg


def model_for(model: torch.nn.Module, qcfg: QuantConfig) -> torch.nn.Module:
    """The graph to quantize: pad-free where the target runs pads as separate int8 ops, else the model."""
    return fold_tf_padding(model) if qcfg.folds_padding else model


def xnnpack_program(
    model: torch.nn.Module, example: torch.Tensor, cal: CalibrationSet | None, qcfg: QuantConfig
) -> torch.export.ExportedProgram:
    from quantization.xnnpack import quantize_pt2e

    return quantize_pt2e(model_for(model, qcfg), example, cal, qcfg)


def _folder_fingerprint(folder: str | Path) -> str:
    """sha256 over the folder's image paths, sizes and mtimes: a changed calibration set re-exports."""
    from toolkit.data import list_images

    h = hashlib.sha256()
    try:
        paths = list_images(folder)
    except (FileNotFoundError, ValueError):
        return "missing"
    for p in paths:
        st = Path(p).stat()
        h.update(f"{Path(p).relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _data_fingerprint(value: Any) -> dict[str, Any]:
    """A folder by its listing, an in-memory array (or ``(images, labels)``) by its bytes."""
    if isinstance(value, (np.ndarray, tuple, list)):
        parts = value if isinstance(value, (tuple, list)) else (value,)
        h = hashlib.sha256()
        for part in parts:
            a = np.ascontiguousarray(part)
            h.update(f"{a.dtype}{a.shape}".encode() + a.tobytes())
        return {"array_sha256": h.hexdigest()}
    return {"path": str(Path(value).resolve()), "fingerprint": _folder_fingerprint(value)}


def cache_options(target: str, options: dict[str, Any]) -> dict[str, Any]:
    """What of the quantization options changes the artifact or its manifest (the export cache key)."""
    out: dict[str, Any] = {"quantization": config(target, options).to_dict()}
    for key in ("calibration", "eval_data"):
        if options.get(key) is not None:
            out[key] = _data_fingerprint(options[key])
    return out


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


def qat_cache_options(target: str, precision: str, options: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(cache-key part, artifact-name component) of an export whose ``options["qat_program"]`` is set
    (the int8 program ``toolkit train --qat`` converted). Only ExecuTorch's static int8 lowers a PT2E QAT
    program; anything else is a one-line UsageError.
    """
    if target != "executorch" or precision != "int8":
        raise UsageError(f"a QAT program exports to executorch int8 only, not {target} {precision}")
    if config(target, options).scheme != "int8":
        raise UsageError("a QAT program is static int8; drop the scheme option")
    if options.get("calibration") is not None or options.get("calibration_samples") is not None:
        raise UsageError("a QAT program needs no calibration: its ranges were learned during training")
    key = {**cache_options(target, options), "qat_program": program_sha256(options["qat_program"])}
    return key, QAT_NAME


def record(qcfg: QuantConfig, cal: CalibrationSet | None, layers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The manifest's quantization record before the artifact has run: scheme, pad folding, calibration."""
    return {
        "scheme": qcfg.scheme,
        "weight_bits": qcfg.weight_bits,
        "pad_folding": qcfg.folds_padding,
        "calibration": cal.to_manifest() if cal is not None else None,
        "calibration_warnings": list(cal.warnings) if cal is not None else [],
        "accuracy": None,
        "layers": layers or None,
    }


def measure(
    model: torch.nn.Module,
    quant_record: dict[str, Any],
    options: dict[str, Any],
    run: Callable[[np.ndarray], np.ndarray],
) -> dict[str, Any] | None:
    """Agreement with fp32 (and labeled top-1 with ``eval_data``), on images the calibration never saw.

    ``run`` maps an NCHW batch to the artifact's logits. Without ``eval_data`` the bundled photos are used,
    unless they were the calibration set: then the figure is recorded but flagged ``on_calibration_images``.
    """
    from toolkit.data import TF_PREPROCESSING

    prep = getattr(model, "preprocessing", None) or TF_PREPROCESSING
    x, y, source = eval_set(options.get("eval_data"), model, prep)
    if not len(x):  # an empty eval set: the caller measures accuracy its own way
        return None
    calibration = quant_record.get("calibration") or {}
    ref = model_logits(model, x)
    report = compare_accuracy(ref, predict_batched(run, x), y)
    return {
        **report.to_dict(),
        "source": source,
        "on_calibration_images": calibration.get("source") == BUNDLED and source == BUNDLED,
        "meets_bars": report.meets_bars(),
    }
