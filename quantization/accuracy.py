"""How much a quantized artifact departs from its fp32 parent: top-1 agreement and labeled top-1.

Agreement is measured on images the calibration never saw, so a scheme cannot look good by fitting its
ranges to the test set; labeled top-1 (fp32 vs quantized on the same held-out images) is the number users
care about. The bars (issue 6): agreement ≥ 97% and top-1 within 1 point of fp32 for static int8.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import UsageError

__all__ = [
    "MAX_TOP1_DROP",
    "MIN_AGREEMENT",
    "AccuracyReport",
    "compare_accuracy",
    "eval_set",
    "load_labeled_folder",
    "model_logits",
    "predict_batched",
]

MIN_AGREEMENT = 0.97  # per-channel int8 flips ~1-3% of top-1 decisions, on near-ties
MAX_TOP1_DROP = 0.01  # one point of top-1


@dataclass(frozen=True)
class AccuracyReport:
    """Figures recorded in the manifest under ``quantization.accuracy``."""

    n_images: int
    top1_agreement: float
    n_labeled: int = 0
    fp32_top1: float | None = None
    quantized_top1: float | None = None

    @property
    def top1_drop(self) -> float | None:
        if self.fp32_top1 is None or self.quantized_top1 is None:
            return None
        return self.fp32_top1 - self.quantized_top1

    def meets_bars(self) -> bool:
        """Agreement ≥ 97% and (with labels) top-1 at most one point below fp32."""
        drop = self.top1_drop
        return self.top1_agreement >= MIN_AGREEMENT and (drop is None or drop <= MAX_TOP1_DROP + 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "top1_drop": self.top1_drop}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AccuracyReport:
        """Back from :meth:`to_dict` (a manifest's ``quantization.accuracy``; extra keys are ignored)."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def summary(self) -> str:
        text = f"top-1 agreement with fp32 {self.top1_agreement:.1%} on {self.n_images} images"
        if self.n_labeled:
            text += (
                f"; top-1 fp32 {self.fp32_top1:.1%} vs quantized {self.quantized_top1:.1%} ({self.n_labeled} labeled)"
            )
        return text


def predict_batched(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    """Logits of ``fn`` over ``images`` one at a time (exported artifacts have a static batch of 1)."""
    return np.concatenate(
        [np.asarray(fn(np.ascontiguousarray(images[i : i + 1]))).reshape(1, -1) for i in range(len(images))]
    )


def compare_accuracy(
    reference_logits: np.ndarray,
    quantized_logits: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
) -> AccuracyReport:
    """Agreement (and, given labels, top-1 of each) from two (N, classes) logit arrays."""
    ref, q = np.asarray(reference_logits), np.asarray(quantized_logits)
    if ref.shape != q.shape:
        raise ValueError(f"logit shapes differ: {ref.shape} vs {q.shape}")
    pr, pq = ref.argmax(1), q.argmax(1)
    report = AccuracyReport(n_images=len(ref), top1_agreement=float(np.mean(pr == pq)))
    if labels is not None:
        y = np.asarray(labels)
        if len(y) != len(ref):
            raise ValueError(f"{len(y)} labels for {len(ref)} images")
        report = AccuracyReport(
            len(ref), report.top1_agreement, len(y), float(np.mean(pr == y)), float(np.mean(pq == y))
        )
    return report


def load_labeled_folder(
    folder: str | Path, resolution: int, preprocessing: Any, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """An ImageFolder (``folder/<class>/<image>``) as an NCHW batch and integer labels.

    A subfolder is matched to the model's class by name, else by a numeric name (``3`` → class 3); a
    subfolder matching neither raises UsageError, since guessing would report a wrong accuracy.
    """
    from toolkit.data import list_images, load_batch

    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"eval data folder not found: {root}")
    index = {name: i for i, name in enumerate(class_names)}
    paths, labels = [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name in index:
            label = index[sub.name]
        elif sub.name.isdigit() and int(sub.name) < len(class_names):
            label = int(sub.name)
        else:
            raise UsageError(f"eval folder {sub} is not one of the model's classes (e.g. {class_names[0]!r})")
        files = list_images(sub)
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise UsageError(f"no labeled images in {root} (expected {root}/<class name>/<image>)")
    try:
        return load_batch(paths, resolution, preprocessing), np.asarray(labels)
    except ValueError as e:
        raise UsageError(str(e)) from None


def eval_set(eval_data: Any, model: Any, preprocessing: Any) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(images, labels or None, where they came from) for an accuracy check.

    ``eval_data``: ``(images, labels)``, an NCHW array, a labeled ImageFolder, or None for the bundled photos.
    """
    from quantization.calibration import BUNDLED
    from toolkit.data import sample_images

    if isinstance(eval_data, tuple):
        return np.asarray(eval_data[0], np.float32), np.asarray(eval_data[1]), "in-memory labeled images"
    if isinstance(eval_data, np.ndarray):
        return eval_data.astype(np.float32, copy=False), None, "in-memory images"
    if eval_data is not None:
        names = getattr(model, "class_names", None) or [str(i) for i in range(model.num_classes)]
        x, y = load_labeled_folder(eval_data, model.resolution, preprocessing, names)
        return x, y, str(eval_data)
    return sample_images(model.resolution, preprocessing), None, BUNDLED


def model_logits(model: Any, images: np.ndarray, chunk: int = 64) -> np.ndarray:
    """The PyTorch model's logits in chunks: one image at a time costs minutes on a few hundred images."""
    import torch

    with torch.no_grad():
        model = model.eval()
        return np.concatenate(
            [
                model(torch.from_numpy(np.ascontiguousarray(images[i : i + chunk]))).numpy()
                for i in range(0, len(images), chunk)
            ]
        )
