"""Parity of an exported artifact against the PyTorch model, on real photos.

One comparison helper (:func:`compare`) and one tolerance registry (:data:`TOLERANCES`), the
ExecuTorch ``tolerance.py`` way: every threshold sits in a frozen table with the reason for its number.
The reference is transformed the way the runner's output is (a Core ML classifier returns probabilities,
so the PyTorch logits are softmaxed first), and fp16 is judged against what fp16 arithmetic can reach on
the model at hand (:func:`fp16_reference_logits`, docs/export.md "fp16 parity").
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
    "fp16_reference_logits",
    "get_tolerance",
    "load_images",
    "rebuild_model",
    "reference_logits",
    "register_tolerance",
    "spec_check",
    "verify_artifact",
    "verify_outputs",
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
    # An artifact missing ``min_cosine`` still passes if its relative L2 error is at most this many times
    # the model's own fp16 evaluation's (fp16_reference_logits) and its worst cosine is at least
    # ``min_cosine_relative``: the bar is then what fp16 arithmetic can reach on this model, never stricter.
    max_err_vs_fp16_reference: float | None = None
    min_cosine_relative: float | None = None


TOLERANCES: dict[str, Tolerance] = {
    # fp32 runtimes only reorder float sums (XNNPACK/ORT/LiteRT kernels use other blockings and FMA):
    # errors are ~1e-6 of the logit range, so 1e-3 leaves margin yet catches a wrong op or layout,
    # and the predicted class must never change.
    "fp32": Tolerance(min_top1_agreement=1.0, max_rel_abs_err=1e-3),
    # fp16 has an 11-bit mantissa (~5e-4 relative per op) compounded over 28 layers: logits drift by
    # ~1% of their range, so only the direction is gated; 0.999 cosine ≈ 4.5% relative error at most.
    # But a random-weights network amplifies rounding ~1.2x per layer (5e-4 per layer grows to 0.09 at the
    # logits of 0.25-64), so PyTorch's own fp16 evaluation of it reaches only cosine 0.993 (rounding the input
    # photo alone: 0.9988) and no fp16 artifact can pass 0.999. So an artifact below 0.999 passes if its error
    # is ≤ 3x PyTorch's fp16 error (XNNPACK fp16 measured 1.15-1.65x: it folds BatchNorm in fp16; 3 leaves
    # room for kernels that accumulate in fp16) with cosine ≥ 0.9: other weights, a channel pair swapped in
    # block 6 or BGR input give errors of 44-150% and fail. Trained models are far inside 0.999 (digits:
    # PyTorch fp16 0.99999, error 0.1%, so 3x that is stricter than 0.999 and opens nothing).
    # On probabilities (Core ML; the reference is softmaxed too) the same numbers hold: fp32's 1e-3 of the
    # probability range bounds the likely classes' logit error at ~1e-3 nats (Δp ≈ p·Δz), and fp16's cosine
    # 0.999 keeps their probabilities within ~4.5%.
    "fp16": Tolerance(min_cosine=0.999, max_err_vs_fp16_reference=3.0, min_cosine_relative=0.9),
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
    """Agreement between reference and artifact outputs. Figures are None for a static spec check.

    The outputs are logits, or what the runner returns instead (``output_kind``: Core ML's classifier gives
    probabilities, compared with softmax(PyTorch logits)); ``logit_range`` is then the range of those.
    """

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
    output_kind: str = "logits"  # what was compared: logits, probabilities or log_probabilities
    rel_err: float | None = None  # ‖artifact - reference‖ / ‖reference‖ over the whole batch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for the CLI."""
        if self.method == "spec_check":
            why = self.details.get("no_runtime") or f"no {self.runtime or ''} runtime here"
            return f"spec check {'passed' if self.passed else 'FAILED'} ({why})"
        kind = "" if self.output_kind == "logits" else f" (on {self.output_kind.replace('_', '-')})"
        line = (
            f"top-1 {self.top1_agreement:.0%}, top-5 overlap {self.top5_overlap:.0%}, cosine {self.cosine:.6f}, "
            f"max err {self.max_rel_abs_err:.1e} of range, SNR {self.snr_db:.1f} dB on {self.n_images} images{kind}"
        )
        ref16 = self.details.get("fp16_reference")
        if ref16:
            line += (f"; below the cosine bar, so judged against PyTorch's own fp16 (cosine {ref16['cosine']:.6f}):"
                     f" error {ref16['ratio']:.2f}x its error (allowed {ref16['max_ratio']:g}x)")  # fmt: skip
        return line


def compare(
    reference_logits: np.ndarray,
    artifact_logits: np.ndarray,
    *,
    tolerance: Tolerance | str | None = None,
    precision: str | None = None,
    fp16_reference: np.ndarray | None = None,
) -> ParityReport:
    """Compare two (N, classes) output arrays; gate them on ``tolerance`` (a Tolerance or a precision).

    With neither ``tolerance`` nor ``precision`` the report just measures (``passed`` stays True).
    ``fp16_reference`` (the model's own fp16 outputs, :func:`fp16_reference_logits`, transformed like the
    others) lets a tolerance with ``max_err_vs_fp16_reference`` judge a model that fp16 itself cannot
    keep within ``min_cosine``.
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
    ref_norm = float(np.linalg.norm(ref))
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
        rel_err=float(np.linalg.norm(diff)) / ref_norm if ref_norm > 0 else float(np.linalg.norm(diff)),
    )
    if isinstance(tolerance, str) or (tolerance is None and precision is not None):
        tolerance = get_tolerance(tolerance if isinstance(tolerance, str) else precision)
    if tolerance is not None:
        if fp16_reference is not None and tolerance.max_err_vs_fp16_reference is not None:
            report.details["fp16_reference"] = _fp16_bar(ref, fp16_reference, report, tolerance)
        report.failures = _failures(report, tolerance)
        report.passed = not report.failures
    return report


def _fp16_bar(ref: np.ndarray, ref16: np.ndarray, r: ParityReport, t: Tolerance) -> dict[str, Any]:
    """How far the model's own fp16 evaluation is from fp32, and the artifact's error relative to it."""
    m = compare(ref, ref16)
    ratio = r.rel_err / m.rel_err if m.rel_err > 0 else (0.0 if r.rel_err == 0 else math.inf)
    limit = t.max_err_vs_fp16_reference
    return {"cosine": m.cosine, "rel_err": m.rel_err, "ratio": min(ratio, 1e9), "max_ratio": limit}


def _failures(r: ParityReport, t: Tolerance) -> list[str]:
    out = []
    if t.min_top1_agreement is not None and r.top1_agreement < t.min_top1_agreement:
        out.append(f"top-1 agreement {r.top1_agreement:.2%} < {t.min_top1_agreement:.2%}")
    if t.max_rel_abs_err is not None and r.max_rel_abs_err > t.max_rel_abs_err:
        out.append(f"max abs error {r.max_rel_abs_err:.2e} of the logit range > {t.max_rel_abs_err:.0e}")
    if t.min_cosine is not None and r.cosine < t.min_cosine:
        out += _below_cosine(r, t)
    if t.min_top5_overlap is not None and r.top5_overlap < t.min_top5_overlap:
        out.append(f"top-5 overlap {r.top5_overlap:.2%} < {t.min_top5_overlap:.2%}")
    return out


def _below_cosine(r: ParityReport, t: Tolerance) -> list[str]:
    """Failures of an artifact under ``min_cosine``: none if the fp16-relative bar (when measured) holds."""
    ref16 = r.details.get("fp16_reference")
    if ref16 is None:
        return [f"cosine {r.cosine:.6f} < {t.min_cosine}"]
    floor = t.min_cosine_relative if t.min_cosine_relative is not None else -1.0
    if r.rel_err <= ref16["max_ratio"] * ref16["rel_err"] and r.cosine >= floor:
        return []
    return [
        f"cosine {r.cosine:.6f} < {t.min_cosine}, and its error {r.rel_err:.4f} is {ref16['ratio']:.2f}x PyTorch's "
        f"own fp16 error {ref16['rel_err']:.4f} (cosine {ref16['cosine']:.6f}; allowed: ≤ {ref16['max_ratio']:g}x"
        f" with cosine ≥ {floor:g})"
    ]


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


def fp16_reference_logits(model: Any, images_nchw: np.ndarray) -> np.ndarray:
    """The model evaluated as fp16 inference computes it: what fp16 itself costs on this model.

    Weights, buffers, the input and every leaf module's output are rounded to fp16 and the arithmetic
    runs in fp32 (fp16 storage, fp32 accumulation, like XNNPACK's x86 f16 kernels). It is as far from fp32
    as ``model.half()`` on CPU (0.25-64: cosine 0.99289 both; the two differ by 0.7%, each from fp32 by
    8.6%) at near fp32 speed: 5 s for 1.0-224 on the six photos, where ``.half()`` convolutions take 94 s.
    """
    import copy

    import torch

    emulated = copy.deepcopy(model).eval()
    for t in [*emulated.parameters(), *emulated.buffers()]:
        if t.is_floating_point():
            t.data = t.data.half().float()
    for module in emulated.modules():
        if next(module.children(), None) is None:  # a leaf op: conv, BatchNorm, activation, pool, linear
            module.register_forward_hook(lambda _m, _inputs, out: out.half().float())
    x = torch.from_numpy(np.ascontiguousarray(images_nchw, np.float32)).half().float()
    with torch.no_grad():
        return emulated(x).numpy()


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


def verify_runner(
    runner: Any, layout: str, model: Any, images_nchw: np.ndarray, precision: str, io: Any = None
) -> ParityReport:
    """Run ``images_nchw`` through ``runner`` (in ``layout``) and the model; compare at ``precision``.

    ``io``: the manifest's declared (input, output) specs; inputs are then encoded and outputs decoded
    with them, as an app does (:mod:`toolkit.runtimes.declared`).
    """
    from toolkit.runtimes import output_kind, run_batch

    kind = output_kind(runner)
    report = verify_outputs(model, images_nchw, run_batch(runner, images_nchw, layout, io=io), precision, kind)
    report.runtime = getattr(runner, "name", None)
    return report


def verify_outputs(
    model: Any, images_nchw: np.ndarray, outputs: np.ndarray, precision: str, kind: str = "logits"
) -> ParityReport:
    """Compare an artifact's ``outputs`` for ``images_nchw`` (wherever it ran: here, or on a phone) with the model.

    The PyTorch logits are first turned into what the artifact returns (``kind``: softmax for a Core ML
    classifier's probabilities). When an fp16 artifact misses the absolute cosine bar, the model's own fp16
    evaluation decides whether fp16 could have met it (see :data:`TOLERANCES`).
    """
    from toolkit.runtimes import from_logits

    ref = from_logits(reference_logits(model, images_nchw), kind)
    report = compare(ref, outputs, precision=precision)
    if not report.passed and get_tolerance(precision).max_err_vs_fp16_reference is not None:
        ref16 = from_logits(fp16_reference_logits(model, images_nchw), kind)
        report = compare(ref, outputs, precision=precision, fp16_reference=ref16)
    report.output_kind = kind
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
    from toolkit.weights import state_sha256

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
    compute_units: str | None = None,
) -> ParityReport:
    """Re-check an artifact against PyTorch (the model is rebuilt from the manifest when not given).

    Where the format has no runtime on this OS (Core ML on Linux) the exporter's static spec check runs
    instead and the report says ``method="spec_check"``. The artifact is fed through its manifest's
    declared I/O, and a manifest that disagrees with the loaded runtime raises ToolkitError. The report is
    gated on the manifest's precision.
    ``compute_units`` (Core ML only) picks the Core ML compute units; other formats reject it.
    """
    from toolkit.data import Preprocessing
    from toolkit.runtimes import RuntimeUnavailableError, open_runner, read_manifest

    path = Path(path)
    manifest = read_manifest(path)
    precision = manifest["precision"]
    model = model if model is not None else rebuild_model(manifest)
    try:
        runner = open_runner(path, threads=threads, compute_units=compute_units)
    except RuntimeUnavailableError as e:
        return spec_check(path, manifest["target"], model, precision, reason=str(e))
    try:
        from toolkit.runtimes.declared import check_declared_io, declared_io

        check_declared_io(manifest, runner, path.name)
        prep = Preprocessing.from_dict(manifest["preprocessing"])
        x = load_images(images, int(manifest["variant"]["resolution"]), prep)
        io = declared_io(manifest, runner)
        return verify_runner(runner, manifest["input"]["layout"], model, x, precision, io=io)
    finally:
        runner.close()


def spec_check(path: Path, target: str, model: Any, precision: str, reason: str = "") -> ParityReport:
    """The exporter's ``verify_without_runtime`` hook as a ParityReport; raises if the target has none."""
    from toolkit.export.base import get_exporter

    hook = getattr(get_exporter(target), "verify_without_runtime", None)
    if hook is None:
        raise ToolkitError(f"cannot verify {path.name} here: {reason}")
    details = {**hook(path, model, precision), **({"no_runtime": reason} if reason else {})}
    return ParityReport(precision=precision, n_images=0, method="spec_check", runtime=target, details=details)
