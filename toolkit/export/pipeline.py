"""The export pipeline every target shares: name, cache, temp-then-rename, verify, manifest.

A backend (:class:`toolkit.export.base.Exporter`) only writes a file at the temp path it is given; this
module decides where it goes, whether it is already there, whether it computes what PyTorch computes,
and what the manifest beside it says. Nothing is renamed into place before parity holds, so a failed
export never leaves a file where a good artifact was expected.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from toolkit.console import stage, task
from toolkit.errors import MissingDependencyError, ToolkitError, UsageError
from toolkit.export.base import (
    QUANT_OPTION_KEYS,
    TARGETS,
    ExportConfig,
    Exporter,
    UnsupportedIOError,
    UnsupportedLayoutError,
    check_io,
    check_layout,
    get_exporter,
)
from toolkit.export.manifest import (
    atomic_write_text,
    build_manifest,
    cache_key,
    declared_io,
    labels_path,
    remove_path,
    state_sha256,
    tree_sha256,
    write_manifest,
)
from toolkit.interrupts import deferred
from toolkit.runtimes import manifest_path, read_manifest

__all__ = [
    "ExportResult",
    "artifact_name",
    "cached",
    "check_output_dir",
    "check_request",
    "export",
    "export_targets",
    "resolve_precision",
    "state_sha256",
    "tree_sha256",
]


@dataclass(frozen=True)
class ExportResult:
    """One exported (or reused) artifact."""

    path: Path
    manifest: dict[str, Any]
    cache_hit: bool
    seconds: float = 0.0  # wall time of this call (export + verify, or the cache check)

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)


def artifact_name(model: torch.nn.Module, target: str, precision: str, extension: str) -> str:
    """``mobilenet_v1-a0.50-r224-coreml-fp16.mlpackage``: the naming contract of DESIGN.md."""
    return f"{model.variant.name}-{target}-{precision}{extension}"


def resolve_precision(exporter: Exporter, precision: str | None) -> str:
    """The requested precision, or the target's natural one; UsageError lists what the target supports."""
    precision = precision or exporter.natural_precision
    if precision not in exporter.precisions:
        raise UsageError(
            f"{exporter.target} does not support precision {precision!r}; choose one of: "
            f"{', '.join(exporter.precisions)}"
        )
    return precision


def check_request(cfg: ExportConfig) -> tuple[Exporter, str, Any, str]:
    """(exporter, precision, int8 cache fingerprint, artifact-name component) for ``cfg``, or the one-line
    UsageError an export would end with: precision, int8 options, I/O contract and input layout, checked
    before any work (the CLI calls it before building a model whose weights may need a download)."""
    exporter = get_exporter(cfg.target)
    precision = resolve_precision(exporter, cfg.precision)
    quant_key, name = _quantization_key(cfg, precision, exporter)
    check_io(exporter, name, cfg.io)
    layout = check_layout(exporter, cfg.layout)
    # another layout or integer/half edges are another artifact for the same weights: named apart, never
    # overwritten (the target's default layout and float I/O keep the plain name)
    name += f"-{layout}" if layout != exporter.layouts[0] else ""
    return exporter, precision, quant_key, f"{name}-io-native" if cfg.io == "native" else name


def check_output_dir(output_dir: Path) -> Path:
    """Create ``output_dir`` and prove it is writable, or raise a one-line UsageError."""
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / f".toolkit-write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to output dir {output_dir}: {e.strerror or e}") from None
    return output_dir


def export(
    model: torch.nn.Module,
    cfg: ExportConfig,
    *,
    images: np.ndarray | str | Path | None = None,
    progress: bool = True,
) -> ExportResult:
    """Export ``model`` to ``cfg.target``, verify it on real photos, write it and its manifest.

    Args:
        model: a MobileNetV1 (ideally from :func:`toolkit.mobilenet_v1`, which attaches weight source,
            preprocessing and class names).
        images: parity photos: an NCHW float32 batch, a folder, or None for the bundled photos.

    Returns the artifact path, its manifest and whether the cache was used. Raises UsageError for bad
    options or an unwritable dir, MissingDependencyError when the target's extra is not installed and
    ToolkitError (with the figures) when parity does not hold.
    """
    start = time.perf_counter()
    exporter, precision, quant_key, name = check_request(cfg)
    cfg = dataclasses.replace(cfg, layout=check_layout(exporter, cfg.layout))  # the exporter gets a real layout
    out_dir = check_output_dir(cfg.output_dir)
    final = out_dir / artifact_name(model, cfg.target, name, exporter.extension)
    model = model.eval()
    key = cache_key(model, exporter, cfg, precision, quant_key)
    if not cfg.force:
        hit = _cached(final, key, need_parity=cfg.verify)
        if hit is not None:
            return ExportResult(final, hit, True, time.perf_counter() - start)
    tmp = out_dir / f".{final.stem}.tmp-{os.getpid()}{exporter.extension}"
    remove_path(tmp)
    # exporters name their own stages (tracing, lowering, serializing) inside the task's spinner
    try:
        with task(final.name, enabled=progress):
            example = torch.zeros(1, 3, model.resolution, model.resolution)
            stage("exporting")
            t0 = time.perf_counter()
            extras = exporter.export(model, example, cfg, tmp, precision) or {}
            export_seconds = time.perf_counter() - t0
            if not tmp.exists():
                raise ToolkitError(f"{cfg.target} exporter wrote nothing at {tmp.name}")
            stage("verifying")
            parity, warnings = _verify(exporter, tmp, model, cfg, precision, extras, images)
            warnings += _quantization_warnings(extras.get("quantization"), random_weights=_is_random(model))
            manifest = build_manifest(
                model, exporter, cfg, precision, final, tmp, extras, key,
                parity=parity, warnings=warnings, export_seconds=export_seconds,
            )  # fmt: skip
            stage("writing")
            with deferred():  # labels, artifact and manifest go into place together or not at all
                _install(tmp, final, manifest, model)
    finally:
        remove_path(tmp)
    return ExportResult(final, manifest, False, time.perf_counter() - start)


def _quantization_key(cfg: ExportConfig, precision: str, exporter: Exporter) -> tuple[dict[str, Any] | None, str]:
    """(int8 recipe + data fingerprints for the cache key, artifact-name component); UsageError early.

    Quantization options on a float export are a mistake worth one line, not a silent no-op, except those
    the target's float export reads too (``float_options``, e.g. ExecuTorch's ``fold_padding``).
    """
    if cfg.options.get("qat_program") is not None:  # an int8 program from `toolkit train --qat`
        from quantization.hooks import qat_cache_options

        return qat_cache_options(cfg.target, precision, cfg.options)
    float_options = set(getattr(exporter, "float_options", ()))
    given = sorted(k for k in QUANT_OPTION_KEYS if cfg.options.get(k) is not None and k not in float_options)
    if precision != "int8":
        if given:
            raise UsageError(f"{', '.join(given)} only apply to --precision int8 (this export is {precision})")
        return None, precision
    from quantization import hooks

    return hooks.cache_options(cfg.target, cfg.options), hooks.name_component(cfg.target, cfg.options)


def cached(model: torch.nn.Module, cfg: ExportConfig) -> ExportResult | None:
    """The artifact :func:`export` would reuse for ``(model, cfg)``, found without exporting anything.

    The one reuse rule: an artifact on disk is reused only when its manifest carries the cache key of this
    export (model tensors, options, tool and toolkit versions) and its bytes still match. A sweep or a
    latency measurement asks this before planning its work; ``force`` means nothing is reusable.
    """
    start = time.perf_counter()
    exporter, precision, quant_key, name = check_request(cfg)
    cfg = dataclasses.replace(cfg, layout=check_layout(exporter, cfg.layout))
    final = Path(cfg.output_dir) / artifact_name(model, cfg.target, name, exporter.extension)
    if cfg.force:
        return None
    hit = _cached(final, cache_key(model.eval(), exporter, cfg, precision, quant_key), need_parity=cfg.verify)
    return None if hit is None else ExportResult(final, hit, True, time.perf_counter() - start)


def _cached(final: Path, key: str, need_parity: bool = False) -> dict[str, Any] | None:
    """The manifest of an up-to-date artifact at ``final`` (same key, same bytes), else None.

    An artifact exported with ``--no-verify`` is not reused by a verifying export (it is redone and checked).
    """
    if not final.exists() or not manifest_path(final).is_file():
        return None
    try:
        manifest = read_manifest(final)
    except UsageError:
        return None
    if manifest.get("cache_key") != key or (need_parity and manifest.get("parity") is None):
        return None
    if manifest.get("artifact", {}).get("sha256") != tree_sha256(final):
        return None
    return manifest


def _verify(
    exporter: Exporter,
    tmp: Path,
    model: torch.nn.Module,
    cfg: ExportConfig,
    precision: str,
    extras: dict[str, Any],
    images: np.ndarray | str | Path | None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """The declared I/O against the loaded runtime, then parity fed through that I/O as an app feeds it.

    Raises ToolkitError (artifact discarded) when the manifest would misdescribe the artifact or parity
    fails. With ``--no-verify`` only the I/O is checked, and only where the runtime is installed.
    """
    from toolkit.runtimes.base import RuntimeUnavailableError
    from toolkit.runtimes.declared import check_declared_io
    from toolkit.runtimes.declared import declared_io as runner_io
    from toolkit.verify import check_parity, load_images, spec_check, verify_runner

    unverified = ["not verified: exported with --no-verify; parity against PyTorch is unknown"]
    inp, out = declared_io(model, extras)
    declared = {"input": inp, "output": out}
    try:
        runner = exporter.open(tmp, threads=cfg.threads)
    except (RuntimeUnavailableError, MissingDependencyError) as e:
        if not cfg.verify:
            return None, unverified
        if not isinstance(e, RuntimeUnavailableError):
            raise
        report = spec_check(tmp, cfg.target, model, precision, reason=str(e))
        return report.to_dict(), [f"no {exporter.runtime} runtime on this host ({e}); verified by spec check only"]
    try:
        check_declared_io(declared, runner, f"{cfg.target} {precision} export")
        if not cfg.verify:
            return None, unverified
        x = load_images(images, model.resolution, getattr(model, "preprocessing", None) or _default_prep())
        layout, io = inp["layout"], runner_io(declared, runner)
        report = verify_runner(runner, layout, model, x, precision, io=io)
        if extras.get("quantization") is not None:
            from quantization.hooks import measure
            from toolkit.runtimes import run_batch

            quant = extras["quantization"]
            quant["accuracy"] = measure(model, quant, cfg.options, lambda b: run_batch(runner, b, layout, io=io))
    finally:
        runner.close()
    if precision == "int8" and _is_random(model):
        return report.to_dict(), [RANDOM_INT8_NOTE]
    check_parity(report, f"{cfg.target} {precision} export")
    return report.to_dict(), []


# Measured (docs/quantization.md): on a random-weights 0.5-128, 1% input noise alone moves the fp32 logits to
# cosine 0.88 — the same size as the int8 error — so an int8 gate there would only measure chaos.
RANDOM_INT8_NOTE = (
    "int8 parity is reported, not gated, on random weights: a random BatchNorm network amplifies any rounding "
    "(1% input noise moves its fp32 logits as far as int8 does); export trained weights to check int8 accuracy"
)


def _is_random(model: torch.nn.Module) -> bool:
    return getattr(getattr(model, "weight_source", None), "kind", None) == "random"


def _quantization_warnings(quant: dict[str, Any] | None, random_weights: bool) -> list[str]:
    """What a user must know about an int8 artifact: thin calibration, accuracy bars missed or unmeasured."""
    if quant is None:
        return []
    cal, acc = quant.get("calibration"), quant.get("accuracy")
    from quantization.calibration import BUNDLED

    if cal is not None and cal.get("source") == BUNDLED:
        out = [f"calibrated on the {cal['count']} bundled photos; pass --calibration DIR (~100 images like "
               "the ones the app will see) for activation ranges that fit your data"]  # fmt: skip
    else:
        out = list(quant.get("calibration_warnings") or [])
    if acc is None:
        out.append("int8 accuracy not measured (no host runtime, or --no-verify)")
    elif not acc["meets_bars"] and not random_weights:
        drop = f", top-1 {-acc['top1_drop'] * 100:+.1f} pt" if acc.get("top1_drop") is not None else ""
        hint = "more QAT epochs or a better float model" if quant.get("qat") else "more --calibration images or QAT"
        out.append(
            f"int8 misses the accuracy bar (agreement ≥ 97%, top-1 within 1 pt): agreement "
            f"{acc['top1_agreement']:.1%} on {acc['n_images']} images{drop}; try {hint}"
        )
    return out


def _default_prep() -> Any:
    from toolkit.data import TF_PREPROCESSING

    return TF_PREPROCESSING


def _install(tmp: Path, final: Path, manifest: dict[str, Any], model: torch.nn.Module) -> None:
    """Labels and manifest first (atomic each), then the artifact; a directory replaces the old one whole."""
    names = list(getattr(model, "class_names", None) or [f"class_{i}" for i in range(model.num_classes)])
    atomic_write_text(labels_path(final), "\n".join(names) + "\n")
    if final.is_dir():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    write_manifest(final, manifest)


def export_targets(
    model: torch.nn.Module,
    targets: Sequence[str],
    cfg: ExportConfig,
    *,
    images: np.ndarray | str | Path | None = None,
    progress: bool = True,
) -> tuple[list[ExportResult], dict[str, str]]:
    """Export to each target (``["all"]`` = every registered one) whose optional runtime is installed.

    Returns the results and ``{target: why it was skipped}`` (the MissingDependencyError text, which names
    the extra to install). With ``--target all`` and no precision each target uses its natural one; a
    precision a target lacks skips that target instead of failing the others.
    """
    names = list(TARGETS) if list(targets) == ["all"] else list(targets)
    results: list[ExportResult] = []
    skipped: dict[str, str] = {}
    unsupported: list[str] = []
    for target in names:
        one = dataclasses.replace(cfg, target=target)
        try:
            results.append(export(model, one, images=images, progress=progress))
        except MissingDependencyError as e:
            skipped[target] = str(e)
        except UsageError as e:
            unsupported_here = isinstance(e, (UnsupportedIOError, UnsupportedLayoutError))
            lacks = unsupported_here or "does not support precision" in str(e)
            if len(names) == 1 or not lacks:
                raise
            skipped[target] = str(e)
            unsupported.append(str(e))
    if not results and unsupported and len(unsupported) == len(skipped):
        raise UsageError("no target can export this combination: " + "; ".join(unsupported))
    return results, skipped
