"""Calibration sets: real images, the inference preprocessing, a deterministic choice, a recorded hash.

Static int8 picks each activation's range from what the calibration images produce, so they must be
preprocessed exactly as at inference (the model's own :class:`toolkit.data.Preprocessing`) and be the
same images every run (sorted paths, evenly spaced picks) so an artifact can be rebuilt bit for bit.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import UsageError

__all__ = ["BUNDLED", "CalibrationSet", "CalibrationWarning", "load_calibration"]

BUNDLED = "bundled sample photos"  # CalibrationSet.source of the default calibration (and eval) set


class CalibrationWarning(UserWarning):
    """Fewer calibration images than asked, or unreadable files skipped."""


@dataclass(frozen=True)
class CalibrationSet:
    """Preprocessed NCHW float32 images plus where they came from.

    ``sha256`` is :func:`toolkit.data.batch_sha256` of ``images``: the manifest records it so two artifacts
    calibrated on different data are told apart.
    """

    images: np.ndarray
    source: str
    sha256: str
    paths: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int:
        return len(self.images)

    def batches(self, layout: str = "nchw") -> Iterator[np.ndarray]:
        """One-image batches (exported graphs have a static batch of 1), in ``layout``."""
        for x in self.images:
            x = x[None]
            yield np.ascontiguousarray(x.transpose(0, 2, 3, 1) if layout == "nhwc" else x)

    def to_manifest(self) -> dict[str, Any]:
        return {"count": self.count, "sha256": self.sha256, "source": self.source}


def _warn(message: str, notes: list[str]) -> None:
    notes.append(message)
    warnings.warn(message, CalibrationWarning, stacklevel=3)


def _spread(n_have: int, n_want: int) -> list[int]:
    """Evenly spaced indices: an ImageFolder sorts by class, so the first N would all be one class."""
    if n_want >= n_have:
        return list(range(n_have))
    return sorted({int(i) for i in np.linspace(0, n_have - 1, n_want).round()})


def _from_folder(folder: Path, resolution: int, preprocessing: Any, samples: int, notes: list[str]):
    from toolkit.data import list_images, load_image

    try:
        paths = list_images(folder)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    arrays, used, bad = [], [], 0
    # Try files in the spread order; replace unreadable ones by the next candidates until `samples` are read.
    order = _spread(len(paths), samples) + [i for i in range(len(paths)) if i not in _spread(len(paths), samples)]
    for i in order:
        if len(arrays) == samples:
            break
        try:
            arrays.append(preprocessing(load_image(paths[i]), resolution))
            used.append(str(paths[i]))
        except ValueError:
            bad += 1
    if bad:
        _warn(f"skipped {bad} unreadable file(s) in {folder}", notes)
    if not arrays:
        raise UsageError(f"no readable images in calibration folder {folder}")
    keep = np.argsort(used)  # deterministic order regardless of which files failed
    return np.stack([arrays[i] for i in keep]), tuple(used[i] for i in keep)


def load_calibration(
    source: np.ndarray | str | Path | None,
    resolution: int,
    preprocessing: Any = None,
    samples: int = 100,
) -> CalibrationSet:
    """The calibration set for one model.

    Args:
        source: a folder of images (searched recursively, sorted), an NCHW float32 batch already
            preprocessed, or None for the toolkit's bundled photos.
        resolution: the model's input side ρ.
        preprocessing: the model's preprocessing (default: TF [-1, 1]).
        samples: how many images to use; fewer available → CalibrationWarning and all of them are used.

    Raises UsageError when nothing readable is found.
    """
    from toolkit.data import TF_PREPROCESSING, batch_sha256, sample_image_paths, sample_images

    if samples < 1:
        raise UsageError(f"calibration samples must be >= 1, got {samples}")
    prep = preprocessing or TF_PREPROCESSING
    notes: list[str] = []
    paths: tuple[str, ...] = ()
    if source is None:
        images, label = sample_images(resolution, prep), BUNDLED
        paths = tuple(str(p) for p in sample_image_paths())
        idx = _spread(len(images), samples)
        images, paths = images[idx], tuple(paths[i] for i in idx)
    elif isinstance(source, np.ndarray):
        if source.ndim != 4 or source.shape[1:] != (3, resolution, resolution):
            raise UsageError(f"calibration array must be N×3×{resolution}×{resolution}, got {source.shape}")
        images, label = source[_spread(len(source), samples)].astype(np.float32), "array"
    else:
        folder = Path(source)
        images, paths = _from_folder(folder, resolution, prep, samples, notes)
        label = str(folder)
    if len(images) == 0:
        raise UsageError("calibration set is empty")
    if len(images) < samples:
        _warn(f"asked for {samples} calibration images but only {len(images)} exist in {label}; using them all", notes)
    images = np.ascontiguousarray(images, dtype=np.float32)
    return CalibrationSet(images, label, batch_sha256(images), paths, tuple(notes))
