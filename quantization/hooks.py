"""The few calls an exporter needs for ``--precision int8``, so each backend's int8 branch is a few lines.

The CLI puts ``calibration`` (folder or None), ``calibration_samples`` (int), ``eval_data`` (labeled folder
or None) and optionally ``scheme`` into ``ExportConfig.options``; each exporter then does, e.g. ExecuTorch::

    from quantization import hooks
    cal, qcfg = hooks.prepare(model, "executorch", cfg.options)
    program = hooks.xnnpack_program(model, example, cal, qcfg)      # lower it as usual, write out_path
    extras["quantization"] = hooks.manifest(model, qcfg, cal, cfg.options, lambda x: run_pte(out_path, x))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from quantization.accuracy import compare_accuracy, load_labeled_folder, predict_batched
from quantization.calibration import CalibrationSet, load_calibration
from quantization.config import DEFAULT_SCHEME, QuantConfig
from quantization.rewrites import fold_tf_padding

__all__ = ["OPTION_KEYS", "manifest", "model_for", "prepare", "xnnpack_program"]

OPTION_KEYS = ("scheme", "calibration", "calibration_samples", "eval_data", "fold_padding")


def prepare(model: torch.nn.Module, target: str, options: dict[str, Any]) -> tuple[CalibrationSet | None, QuantConfig]:
    """(calibration set or None, config) from export options; UsageError for a bad scheme or folder."""
    from toolkit.data import TF_PREPROCESSING

    qcfg = QuantConfig(
        target,
        options.get("scheme") or DEFAULT_SCHEME[target],
        calibration_samples=int(options.get("calibration_samples") or 100),
        fold_padding=bool(options.get("fold_padding", True)),
    )
    cal = None
    if qcfg.is_static:
        prep = getattr(model, "preprocessing", None) or TF_PREPROCESSING
        cal = load_calibration(options.get("calibration"), model.resolution, prep, qcfg.calibration_samples)
    return cal, qcfg


def model_for(model: torch.nn.Module, qcfg: QuantConfig) -> torch.nn.Module:
    """The graph to quantize: pad-free for int8 (exact, faster), the model itself otherwise."""
    return fold_tf_padding(model) if qcfg.fold_padding and qcfg.scheme in ("int8", "int8-dynamic") else model


def xnnpack_program(
    model: torch.nn.Module, example: torch.Tensor, cal: CalibrationSet | None, qcfg: QuantConfig
) -> torch.export.ExportedProgram:
    from quantization.xnnpack import quantize_pt2e

    return quantize_pt2e(model_for(model, qcfg), example, cal, qcfg)


def manifest(
    model: torch.nn.Module,
    qcfg: QuantConfig,
    cal: CalibrationSet | None,
    options: dict[str, Any],
    run: Callable[[np.ndarray], np.ndarray] | None,
    layers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The manifest's quantization record: scheme, calibration, and accuracy on images calibration never saw.

    ``run`` maps one NCHW image batch to the artifact's logits (None where no runtime exists, e.g. Core ML
    on Linux). Agreement uses ``eval_data`` when given, else the bundled photos unless they calibrated.
    """
    from toolkit.data import TF_PREPROCESSING, sample_images

    prep = getattr(model, "preprocessing", None) or TF_PREPROCESSING
    x, y = None, None
    if options.get("eval_data"):
        names = getattr(model, "class_names", None) or [str(i) for i in range(model.num_classes)]
        x, y = load_labeled_folder(options["eval_data"], model.resolution, prep, names)
    elif cal is None or cal.source != "bundled sample photos":
        x = sample_images(model.resolution, prep)
    accuracy = None
    if run is not None and x is not None:
        with torch.no_grad():
            ref = predict_batched(lambda b: model.eval()(torch.from_numpy(b)).numpy(), x)
        accuracy = compare_accuracy(ref, predict_batched(run, x), y).to_dict()
    return {
        "scheme": qcfg.scheme,
        "pad_folding": qcfg.fold_padding and qcfg.scheme in ("int8", "int8-dynamic"),
        "calibration": cal.to_manifest() if cal is not None else None,
        "calibration_warnings": list(cal.warnings) if cal is not None else [],
        "accuracy": accuracy,
        "layers": layers or None,
    }
