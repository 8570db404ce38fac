"""What the CLI prints after an export: one screen with size, cost, parity, path and how to load it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

from toolkit.errors import UsageError

__all__ = ["PHONE_HINTS", "read_labels", "summary"]

# How an app loads each format (the demo apps in android_demo/ and ios_demo/ do exactly this).
PHONE_HINTS: dict[str, str] = {
    "executorch": "Android: org.pytorch.executorch Module.load(path); iOS: ExecuTorch Module(filePath:) "
    "with the XNNPACK backend linked",
    "coreml": "iOS/macOS: add the .mlpackage to Xcode (or MLModel.compileModel(at:)), then "
    "VNCoreMLModel / MLModel(contentsOf:); input is an image, output the class probabilities",
    "tflite": "Android: LiteRT Interpreter(File) (com.google.ai.edge.litert), XNNPACK on by default; "
    "iOS: TensorFlowLiteSwift Interpreter(modelPath:)",
    "onnx": "Android: onnxruntime-android OrtSession; iOS: onnxruntime-objc ORTSession",
}


def read_labels(path: str | Path, num_classes: int | None) -> list[str]:
    """Class names from a text file, one per line; the count must match the classifier."""
    try:
        names = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as e:
        raise UsageError(f"cannot read labels file {path}: {e.strerror or e}") from None
    if num_classes is not None and len(names) != num_classes:
        raise UsageError(f"{path} has {len(names)} labels but the model has {num_classes} classes")
    return names


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _parity(m: dict[str, Any]) -> str:
    p = m.get("parity")
    if p is None:
        return "[yellow]not verified[/]"
    if p["method"] == "spec_check":
        return "spec check passed (no host runtime)"
    # int8: the quantization line below carries the one top-1 agreement figure (on images calibration never saw)
    quantized = (m.get("quantization") or {}).get("accuracy") is not None
    agreement = "" if quantized else f"top-1 {p['top1_agreement']:.0%}, "
    return (
        f"{agreement}cos {p['cosine']:.6f}, max err {p['max_rel_abs_err']:.1e}, "
        f"SNR {p['snr_db']:.0f} dB ({p['n_images']} photos, {p['runtime']})"
    )


def _quantization(q: dict[str, Any]) -> str:
    """``quantized (int8, pad-free, 100 calibration images): top-1 agreement with fp32 98.0% on 540 images; ...``."""
    cal = q.get("calibration")
    how = ", ".join(
        [q["scheme"]]
        + (["pad-free"] if q.get("pad_folding") else [])
        + ([f"{cal['count']} calibration images"] if cal else [])
    )
    acc = q.get("accuracy")
    if acc is None:
        return f"quantized ({how}); accuracy not measured"
    text = f"quantized ({how}): top-1 agreement with fp32 {acc['top1_agreement']:.1%} on {acc['n_images']} images"
    if acc.get("n_labeled"):
        text += f"; top-1 fp32 {acc['fp32_top1']:.1%} → int8 {acc['quantized_top1']:.1%}"
    return text


def summary(results: list[Any], skipped: dict[str, str]) -> Group:
    """A rich renderable: one row per artifact, then where each went and how a phone loads it."""
    table = Table(title="exported", show_lines=False)
    for col in ("target", "precision", "size", "M MACs", "parity", "cache", "seconds"):
        table.add_column(col, justify="right" if col in ("size", "M MACs", "seconds") else "left")
    lines: list[str] = []
    for r in results:
        m = r.manifest
        backend = m.get("backend", {})
        delegated = (
            f" [dim]({backend['delegated_ops']}/{backend['total_ops']} ops on {m['delegate']})[/]"
            if "delegated_ops" in backend
            else ""
        )
        table.add_row(m["target"], m["precision"], _size(m["artifact"]["size_bytes"]),
                      f"{m['cost']['macs'] / 1e6:.1f}", _parity(m), "hit" if r.cache_hit else "new",
                      f"{r.seconds:.1f}")  # fmt: skip
        lines.append(f"[bold]{r.path}[/]{delegated}\n  manifest {r.manifest_path.name}; {PHONE_HINTS[m['target']]}")
        if m.get("quantization"):
            lines.append(f"  {_quantization(m['quantization'])}")
        lines.extend(f"  [yellow]warning:[/] {w}" for w in m.get("warnings", []))
    lines.extend(f"[yellow]skipped {t}:[/] {why}" for t, why in skipped.items())
    return Group(table, *lines)
