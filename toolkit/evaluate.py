"""Top-1/top-5 and a confusion matrix, shared by ``train``, ``eval`` and the quantization report.

:func:`evaluate` takes a PyTorch model or any callable from an NCHW float32 numpy batch to logits
(an exported artifact's runner), and data as a folder, a Dataset, a DataLoader, an ``(images,
labels)`` pair of arrays, or any iterable of such batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from toolkit.errors import UsageError

__all__ = ["EvalResult", "evaluate", "evaluate_checkpoint", "iter_batches"]


@dataclass(frozen=True)
class EvalResult:
    """Accuracy over ``n`` images; ``confusion[true, predicted]`` counts."""

    top1: float
    top5: float
    n: int
    confusion: np.ndarray
    class_names: tuple[str, ...] = ()
    skipped: int = 0  # images that could not be read
    note: str = ""  # which images were scored, when that is not simply a val/ split

    def name(self, i: int) -> str:
        return self.class_names[i] if i < len(self.class_names) else str(i)

    def most_confused(self, k: int = 5) -> list[tuple[str, str, int]]:
        """The ``k`` largest off-diagonal cells as (true class, predicted class, count)."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        flat = np.argsort(-off, axis=None, kind="stable")[:k]
        pairs = [np.unravel_index(i, off.shape) for i in flat]
        return [(self.name(int(t)), self.name(int(p)), int(off[t, p])) for t, p in pairs if off[t, p] > 0]

    def per_class_recall(self) -> np.ndarray:
        totals = self.confusion.sum(axis=1)
        return np.divide(np.diag(self.confusion), totals, out=np.zeros(len(totals)), where=totals > 0)

    def to_dict(self) -> dict[str, Any]:
        return {"top1": self.top1, "top5": self.top5, "n": self.n, "skipped": self.skipped,
                "most_confused": [list(p) for p in self.most_confused()]}  # fmt: skip

    def summary(self) -> str:
        return f"top-1 {self.top1:.2%}  top-5 {self.top5:.2%}  ({self.n} images)"


Batch = tuple[Any, Any]


def iter_batches(data: Any, batch_size: int = 64, **folder_kw: Any) -> Iterable[tuple[Any, Any, int]]:
    """Normalize every accepted data source into ``(images, labels, skipped)`` batches."""
    from toolkit.imagefolder import ImageDataset, collate_skip

    if isinstance(data, (str, Path)):
        from toolkit.imagefolder import scan_classes

        _, samples, skipped = scan_classes(data, folder_kw.get("class_names"))
        data = ImageDataset(samples, folder_kw["resolution"], folder_kw["preprocessing"])
        yield torch.empty(0), torch.empty(0, dtype=torch.long), len(skipped)
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
        data = torch.utils.data.DataLoader(data, batch_size=batch_size, collate_fn=collate_skip,
                                           num_workers=folder_kw.get("workers", 0),
                                           generator=torch.Generator().manual_seed(0))  # fmt: skip
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        images, labels = data
        for i in range(0, len(images), batch_size):
            yield images[i : i + batch_size], labels[i : i + batch_size], 0
        return
    for batch in data:
        yield (batch[0], batch[1], batch[2] if len(batch) > 2 else 0)


def _as_logits(model: torch.nn.Module | Callable, x: Any, device: str) -> np.ndarray:
    if isinstance(model, torch.nn.Module):
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
        return model(t.to(device)).float().cpu().numpy()
    arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return np.asarray(model(np.ascontiguousarray(arr, dtype=np.float32)))


@torch.no_grad()
def evaluate(
    model: torch.nn.Module | Callable[[np.ndarray], np.ndarray],
    data: Any,
    *,
    batch_size: int = 64,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    resolution: int | None = None,
    preprocessing: Any = None,
    device: str = "cpu",
    workers: int = 0,
) -> EvalResult:
    """Top-1/top-5 accuracy and confusion matrix of ``model`` on ``data``.

    A folder is read as ``<class>/*`` images with the model's own ``resolution``, ``preprocessing``
    and ``class_names`` (overridable). A PyTorch model is put in eval mode for the pass and restored.
    """
    names = tuple(class_names if class_names is not None else getattr(model, "class_names", ()) or ())
    kw = {"resolution": resolution or getattr(model, "resolution", None),
          "preprocessing": preprocessing or getattr(model, "preprocessing", None),
          "class_names": names or None, "workers": workers}  # fmt: skip
    if isinstance(data, (str, Path)) and (kw["resolution"] is None or kw["preprocessing"] is None):
        raise UsageError("evaluating a folder needs the model's resolution and preprocessing")
    was_training = isinstance(model, torch.nn.Module) and model.training
    if isinstance(model, torch.nn.Module):
        model.eval()
    k_classes = num_classes or len(names) or getattr(model, "num_classes", None)
    confusion = None if not k_classes else np.zeros((k_classes, k_classes), np.int64)
    n = top1 = top5 = skipped = 0
    try:
        for x, y, bad in iter_batches(data, batch_size, **kw):
            skipped += int(bad)
            if len(x) == 0:
                continue
            logits = _as_logits(model, x, device)
            labels = np.asarray(y.numpy() if isinstance(y, torch.Tensor) else y, dtype=np.int64).reshape(-1)
            if confusion is None:
                confusion = np.zeros((logits.shape[1],) * 2, np.int64)
            if labels.max(initial=0) >= logits.shape[1]:
                raise UsageError(f"label {labels.max()} but the model has {logits.shape[1]} classes")
            k = min(5, logits.shape[1])
            topk = np.argsort(-logits, axis=1, kind="stable")[:, :k]
            top1 += int((topk[:, 0] == labels).sum())
            top5 += int((topk == labels[:, None]).any(axis=1).sum())
            np.add.at(confusion, (labels, topk[:, 0]), 1)
            n += len(labels)
    finally:
        if was_training:
            model.train()
    if n == 0:
        raise UsageError("no readable images to evaluate")
    return EvalResult(top1 / n, top5 / n, n, confusion, names, skipped)


def evaluate_checkpoint(
    weights: str | Path,
    data: str | Path,
    *,
    alpha: float | None = None,
    resolution: int | None = None,
    batch_size: int = 64,
    workers: int = 0,
) -> EvalResult:
    """``toolkit eval``: load weights (α/ρ from a checkpoint's metadata unless given) and score a folder.

    ``data`` may be an ImageFolder root with a ``val/`` split (that split is scored) or a folder of
    class sub-folders. Class folders are matched to the model's class names by name.
    """
    from toolkit import mobilenet_v1
    from toolkit.weights import resolve

    meta = None
    if Path(str(weights)).suffix.lower() in (".safetensors", ".pt", ".pth"):
        meta = resolve(weights, alpha or 1.0, resolution or 224).meta
    if meta is None and (alpha is None or resolution is None):
        raise UsageError(f"{weights} carries no α/ρ metadata: pass --alpha and --resolution")
    alpha = alpha if alpha is not None else meta.alpha
    resolution = resolution or meta.resolution
    model = mobilenet_v1(alpha, resolution, weights=weights)
    images, note = _images_to_score(Path(data), meta, model, resolution)
    res = evaluate(model, images, batch_size=batch_size, resolution=resolution, workers=workers)
    return dataclasses.replace(res, note=note)


def _images_to_score(data: Path, meta: Any, model: torch.nn.Module, resolution: int) -> tuple[Any, str]:
    """The ``val/`` split; else the images held out when this checkpoint trained on ``data``; else all, said so.

    Training on a folder without ``val/`` holds out a seeded share per class (:func:`scan_image_folder`), so
    the same split is rebuilt here from the checkpoint's recorded ``val_split`` and ``seed``.
    """
    from toolkit.imagefolder import ImageDataset, scan_image_folder

    if (data / "val").is_dir():
        return data / "val", ""
    if (data / "train").is_dir():
        return data / "train", (f"{data} has no val/ split: scoring the training images in {data / 'train'}, "
                                "which overstates accuracy on new images")  # fmt: skip
    trained = ((meta.extra if meta is not None else {}) or {}).get("training") or {}
    same = trained.get("data") and _same_folder(Path(trained["data"]), data)
    if same and tuple(meta.class_names):
        split = scan_image_folder(data, trained.get("val_split", 0.2), trained.get("seed", 0))
        if split.classes == tuple(meta.class_names):
            ds = ImageDataset(split.val, resolution, model.preprocessing)
            how = f"--val-split {trained.get('val_split', 0.2):g}, seed {trained.get('seed', 0)}"
            return ds, (f"{data} has no val/ split: scoring the {len(split.val)} images held out when this model "
                        f"trained on it ({how}); the other {len(split.train)} trained it")  # fmt: skip
    return data, (f"{data} has no val/ split: scoring all of its images; any the model trained on make the "
                  "figure overstate accuracy on new images")  # fmt: skip


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
