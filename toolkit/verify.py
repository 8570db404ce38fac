"""Parity of an exported artifact against the PyTorch model, on real photos.

One comparison helper (:func:`compare`) and one tolerance registry (:data:`TOLERANCES`), the
ExecuTorch ``tolerance.py`` way: every threshold sits in a frozen table with the reason for its number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ToolkitError, UsageError

__all__ = [
    "TOLERANCES",
    "ParityReport",
    "Tolerance",
    "check_parity",
    "compare",
    "get_tolerance",
    "load_images",
    "rebuild_model",
    "reference_logits",
    "register_tolerance",
    "spec_check",
    "verify_artifact",
    "verify_runner",
]

SNR_CAP_DB = 300.0  # reported when artifact and reference agree bit for bit (JSON has no infinity)


@dataclass(frozen=True)
class Tolerance:
    """Pass/fail thresholds for one precision; ``None`` means the figure is reported but not gated."""

    min_top1_agreement: float | None = None
    max_rel_abs_err: float | None = None  # max |Δlogit| / (max logit - min logit) over the batch
    min_cosine: float | None = None  # per-image cosine similarity, worst image
    min_top5_overlap: float | None = None


TOLERANCES: dict[str, Tolerance] = {
    # fp32 runtimes only reorder float sums (XNNPACK/ORT/LiteRT kernels use other blockings and FMA):
    # errors are ~1e-6 of the logit range, so 1e-3 leaves margin yet catches a wrong op or layout,
    # and the predicted class must never change.
    "fp32": Tolerance(min_top1_agreement=1.0, max_rel_abs_err=1e-3),
    # fp16 has an 11-bit mantissa (~5e-4 relative per op) compounded over 28 layers: logits drift by
    # ~1% of their range, so only the direction is gated; 0.999 cosine ≈ 4.5% relative error at most.
    "fp16": Tolerance(min_cosine=0.999),
    # int8 (static, per-channel weights, per-tensor activations): the export gate only catches a broken
    # artifact (wrong layout, scale or weights give cosine near 0); the accuracy bars of issue 6 (agreement
    # ≥ 97%, top-1 within 1 pt on held-out data) are measured and recorded by quantization.hooks.measure.
    "int8": Tolerance(min_cosine=0.9),
}


def register_tolerance(precision: str, tolerance: Tolerance) -> None:
    """Add a precision's thresholds (e.g. the quantization work's int8); a duplicate name raises.

    Suggested int8 entry: ``Tolerance(min_top1_agreement=0.97)`` (per-channel int8 flips ~1-3% of
    top-1 decisions on near-ties, which ImageNet accuracy deltas of ≤1 point confirm).
    """
    if precision in TOLERANCES:
        raise ValueError(f"tolerance for {precision!r} is already registered")
    TOLERANCES[precision] = tolerance


def get_tolerance(precision: str) -> Tolerance:
    try:
        return TOLERANCES[precision]
    except KeyError:
        raise UsageError(f"no parity tolerance for precision {precision!r}; known: {', '.join(TOLERANCES)}") from None


@dataclass
class ParityReport:
    """Agreement between reference and artifact logits. Figures are None for a static spec check."""

    precision: str | None
    n_images: int
    top1_agreement: float | None = None
    top5_overlap: float | None = None
    cosine: float | None = None  # worst image
    max_abs_err: float | None = None
    logit_range: float | None = None
    max_rel_abs_err: float | None = None
    snr_db: float | None = None
    passed: bool = True
    failures: list[str] = field(default_factory=list)
    method: str = "runtime"  # "runtime" (ran the artifact) or "spec_check" (no runtime on this OS)
    runtime: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for the CLI."""
        if self.method == "spec_check":
            return f"spec check {'passed' if self.passed else 'FAILED'} (no {self.runtime or ''} runtime here)"
        return (
            f"top-1 {self.top1_agreement:.0%}, top-5 overlap {self.top5_overlap:.0%}, cosine {self.cosine:.6f}, "
            f"max err {self.max_rel_abs_err:.1e} of range, SNR {self.snr_db:.1f} dB on {self.n_images} images"
        )


def compare(
    reference_logits: np.ndarray,
    artifact_logits: np.ndarray,
    *,
    tolerance: Tolerance | str | None = None,
    precision: str | None = None,
) -> ParityReport:
    """Compare two (N, classes) logit arrays; gate them on ``tolerance`` (a Tolerance or a precision).

    With neither ``tolerance`` nor ``precision`` the report just measures (``passed`` stays True).
    """
    ref = np.asarray(reference_logits, dtype=np.float64).reshape(len(reference_logits), -1)
    art = np.asarray(artifact_logits, dtype=np.float64).reshape(len(artifact_logits), -1)
    if ref.shape != art.shape:
        raise ToolkitError(f"artifact output shape {art.shape} differs from the reference {ref.shape}")
    k = min(5, ref.shape[1])
    top5_ref, top5_art = np.argsort(-ref, axis=1)[:, :k], np.argsort(-art, axis=1)[:, :k]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(top5_ref, top5_art, strict=True)])
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(art, axis=1)
    cos = np.where(norms > 0, np.sum(ref * art, axis=1) / np.maximum(norms, 1e-300), 1.0)
    diff = ref - art
    max_abs = float(np.max(np.abs(diff)))
    span = float(ref.max() - ref.min())
    noise = float(np.sum(diff**2))
    snr = SNR_CAP_DB if noise == 0 else min(SNR_CAP_DB, 10 * math.log10(max(float(np.sum(ref**2)), 1e-300) / noise))
    report = ParityReport(
        precision=precision,
        n_images=len(ref),
        top1_agreement=float(np.mean(top5_ref[:, 0] == top5_art[:, 0])),
        top5_overlap=float(overlap),
        cosine=float(np.min(cos)),
        max_abs_err=max_abs,
        logit_range=span,
        max_rel_abs_err=max_abs / span if span > 0 else max_abs,
        snr_db=float(snr),
    )
    if isinstance(tolerance, str) or (tolerance is None and precision is not None):
        tolerance = get_tolerance(tolerance if isinstance(tolerance, str) else precision)
    if tolerance is not None:
        report.failures = _failures(report, tolerance)
        report.passed = not report.failures
    return report


def _failures(r: ParityReport, t: Tolerance) -> list[str]:
    out = []
    if t.min_top1_agreement is not None and r.top1_agreement < t.min_top1_agreement:
        out.append(f"top-1 agreement {r.top1_agreement:.2%} < {t.min_top1_agreement:.2%}")
    if t.max_rel_abs_err is not None and r.max_rel_abs_err > t.max_rel_abs_err:
        out.append(f"max abs error {r.max_rel_abs_err:.2e} of the logit range > {t.max_rel_abs_err:.0e}")
    if t.min_cosine is not None and r.cosine < t.min_cosine:
        out.append(f"cosine {r.cosine:.6f} < {t.min_cosine}")
    if t.min_top5_overlap is not None and r.top5_overlap < t.min_top5_overlap:
        out.append(f"top-5 overlap {r.top5_overlap:.2%} < {t.min_top5_overlap:.2%}")
    return out


def check_parity(report: ParityReport, what: str) -> ParityReport:
    """Raise ToolkitError carrying the figures when ``report`` failed its tolerance."""
    if not report.passed:
        raise ToolkitError(f"{what} failed parity ({report.precision}): {'; '.join(report.failures)}")
    return report


def reference_logits(model: Any, images_nchw: np.ndarray) -> np.ndarray:
    """The PyTorch model's fp32 logits for a float32 NCHW batch."""
    import torch

    with torch.no_grad():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(images_nchw, np.float32))).numpy()


def load_images(images: np.ndarray | str | Path | None, resolution: int, preprocessing: Any) -> np.ndarray:
    """An NCHW batch from an array, a folder of photos, or (None) the bundled sample photos."""
    from toolkit.data import list_images, load_batch, sample_images

    if images is None:
        return sample_images(resolution, preprocessing)
    if isinstance(images, np.ndarray):
        return images.astype(np.float32, copy=False)
    try:
        paths = list_images(images)
        if not paths:
            raise ValueError(f"no images in {images}")
        return load_batch(paths, resolution, preprocessing)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None


def verify_runner(runner: Any, layout: str, model: Any, images_nchw: np.ndarray, precision: str) -> ParityReport:
    """Run ``images_nchw`` through ``runner`` (in ``layout``) and the model; compare at ``precision``."""
    from toolkit.runtimes import run_batch

    report = compare(reference_logits(model, images_nchw), run_batch(runner, images_nchw, layout), precision=precision)
    report.runtime = getattr(runner, "name", None)
    return report


def rebuild_model(manifest: dict[str, Any]) -> Any:
    """The PyTorch model an artifact was exported from, rebuilt from its manifest's weights and config."""
    from toolkit.builder import mobilenet_v1

    v, w, m = manifest["variant"], manifest["weights"], manifest.get("model", {})
    if w.get("kind") == "random":
        spec: str | Path = "random"
    elif w.get("path") and Path(w["path"]).exists():
        spec = Path(w["path"])
    else:
        raise UsageError(f"the weights this artifact came from are gone ({w.get('path')}); pass the model explicitly")
    model = mobilenet_v1(
        float(v["alpha"]), int(v["resolution"]), weights=spec, num_classes=int(v["num_classes"]),
        activation=m.get("activation", "relu6"), padding=m.get("padding", "tf"), seed=int(w.get("seed") or 0),
    )  # fmt: skip
    from toolkit.export.pipeline import state_sha256

    expected = w.get("state_sha256")
    if expected and state_sha256(model) != expected:
        raise ToolkitError("the rebuilt PyTorch weights differ from the exported ones; pass the model explicitly")
    return model


def verify_artifact(
    path: str | Path,
    model: Any = None,
    images: np.ndarray | str | Path | None = None,
    *,
    threads: int = 0,
) -> ParityReport:
    """Re-check an artifact against PyTorch (the model is rebuilt from the manifest when not given).

    Where the format has no runtime on this OS (Core ML on Linux) the exporter's static spec check runs
    instead and the report says ``method="spec_check"``. The report is gated on the manifest's precision.
    """
    from toolkit.data import Preprocessing
    from toolkit.runtimes import RuntimeUnavailableError, open_runner, read_manifest

    path = Path(path)
    manifest = read_manifest(path)
    precision = manifest["precision"]
    model = model if model is not None else rebuild_model(manifest)
    try:
        runner = open_runner(path, threads=threads)
    except RuntimeUnavailableError as e:
        return spec_check(path, manifest["target"], model, precision, reason=str(e))
    try:
        prep = Preprocessing.from_dict(manifest["preprocessing"])
        x = load_images(images, int(manifest["variant"]["resolution"]), prep)
        return verify_runner(runner, manifest["input"]["layout"], model, x, precision)
    finally:
        runner.close()


def spec_check(path: Path, target: str, model: Any, precision: str, reason: str = "") -> ParityReport:
    """The exporter's ``verify_without_runtime`` hook as a ParityReport; raises if the target has none."""
    from toolkit.export.base import get_exporter

    hook = getattr(get_exporter(target), "verify_without_runtime", None)
    if hook is None:
        raise ToolkitError(f"cannot verify {path.name} here: {reason}")
    details = hook(path, model, precision)
    return ParityReport(precision=precision, n_images=0, method="spec_check", runtime=target, details=details)
