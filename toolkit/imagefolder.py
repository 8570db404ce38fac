"""ImageFolder datasets: ``root/train/<class>/*`` + ``root/val/<class>/*``, or one folder split by seed.

Unreadable files are dropped when the folder is scanned (each file's header is opened once) and
counted, so a stray ``.DS_Store`` renamed to ``.jpg`` costs one line in the log, not a crash at epoch 7.
Training augmentation is seeded per (run seed, epoch, sample), so a run is reproducible whatever the
worker count and a resumed run sees exactly the crops an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from toolkit.data import IMAGE_EXTENSIONS, TF_PREPROCESSING, Preprocessing, load_image
from toolkit.errors import UsageError

__all__ = [
    "Augment",
    "EpochSampler",
    "FolderSplit",
    "ImageDataset",
    "collate_skip",
    "scan_classes",
    "scan_image_folder",
]

Sample = tuple[Path, int]


@dataclass(frozen=True)
class FolderSplit:
    """Class names (sorted folder names) and the (path, label) lists of each split."""

    classes: tuple[str, ...]
    train: list[Sample]
    val: list[Sample]
    skipped: list[Path] = field(default_factory=list)  # files that would not open
    layout: str = "train/val"  # or "split"


def _readable(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.verify()  # header + checksum where the format has one; no full decode
        return True
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return False


def scan_classes(
    root: str | Path, classes: Sequence[str] | None = None
) -> tuple[tuple[str, ...], list[Sample], list[Path]]:
    """(class names, readable samples, skipped files) of ``root/<class>/*``.

    With ``classes`` given (e.g. a checkpoint's), labels follow that order and an unknown class
    folder is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"data folder not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = {f.name: [p for p in sorted(f.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
             for f in folders}  # fmt: skip
    names = tuple(f.name for f in folders)
    if classes is not None:
        # an empty folder is not a class the model lacks: it is just empty (said below if nothing else is there)
        unknown = sorted(n for n in set(names) - set(classes) if found[n])
        if unknown:
            raise UsageError(f"{root} has class folders the model does not know: {', '.join(unknown[:5])}")
        names = tuple(classes)
    index = {n: i for i, n in enumerate(names)}
    samples: list[Sample] = []
    skipped: list[Path] = []
    for folder in folders:
        for p in found[folder.name]:
            (samples.append((p, index[folder.name])) if _readable(p) else skipped.append(p))
    if not samples:
        if folders and not any(found.values()):
            shown = ", ".join(f.name for f in folders[:5]) + (", ..." if len(folders) > 5 else "")
            raise UsageError(f"the class folders in {root} hold no images ({shown})")
        raise UsageError(
            f"{root} is not an ImageFolder: expected class sub-folders holding images "
            f"({', '.join(IMAGE_EXTENSIONS[:4])}, ...)" + (f"; {len(skipped)} files were unreadable" if skipped else "")
        )
    return names, samples, skipped


def _stable_fraction(path: Path, seed: int) -> float:
    """A per-file number in [0, 1) that depends only on its name and the seed (not on listing order)."""
    digest = hashlib.sha256(f"{seed}:{path.parent.name}/{path.name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def scan_image_folder(root: str | Path, val_split: float = 0.2, seed: int = 0) -> FolderSplit:
    """Read ``root``: its ``train/`` and ``val/`` sub-folders, or, without them, split it per class.

    The split is stratified and deterministic: each class keeps ``round(n * val_split)`` files (at
    least one when it has two or more) chosen by a seeded hash of the file name.
    """
    root = Path(root)
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, train, skipped = scan_classes(root / "train")
        _, val, skipped_val = scan_classes(root / "val", classes)
        split = FolderSplit(classes, train, val, skipped + skipped_val, "train/val")
    else:
        if not 0.0 < val_split < 1.0:
            raise UsageError(f"--val-split must be in (0, 1) when {root} has no train/ and val/ folders")
        classes, samples, skipped = scan_classes(root)
        train, val = [], []
        for label in range(len(classes)):
            members = sorted((s for s in samples if s[1] == label), key=lambda s: _stable_fraction(s[0], seed))
            n_val = max(1, round(len(members) * val_split)) if len(members) >= 2 else 0
            val += members[:n_val]
            train += members[n_val:]
        split = FolderSplit(classes, sorted(train), sorted(val), skipped, "split")
    if len(split.classes) < 2:
        raise UsageError(f"{root} has {len(split.classes)} class folder; a classifier needs at least two")
    if not split.val:
        raise UsageError(f"{root}: no validation images (add a val/ folder or more images per class)")
    return split


@dataclass(frozen=True)
class Augment:
    """Light training distortions, as the paper asks for small models.

    ``min_area`` limits how small a random crop may be (Inception uses 0.08, slim 0.05; the paper
    says MobileNet used fewer small crops, without a number, so 0.25 is our choice). Flips are for
    photos; turn them off for digits, text or anything with a handedness.
    """

    min_area: float = 0.25
    max_area: float = 1.0
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.min_area <= self.max_area <= 1.0:
            raise UsageError(f"crop areas must satisfy 0 < min_area <= max_area <= 1, got {self.min_area}")

    def __call__(
        self, image: Image.Image, resolution: int, prep: Preprocessing, rng: np.random.Generator
    ) -> np.ndarray:
        w, h = image.size
        box = (0, 0, w, h)
        for _ in range(10):  # rejection sampling as Inception's random-resized-crop
            area = w * h * rng.uniform(self.min_area, self.max_area)
            log_r = rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1]))
            cw, ch = round(np.sqrt(area * np.exp(log_r))), round(np.sqrt(area / np.exp(log_r)))
            if 0 < cw <= w and 0 < ch <= h:
                left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
                box = (left, top, left + cw, top + ch)
                break
        image = image.crop(box)
        if self.hflip and rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        # The crop already chose the content: resize straight to ρ×ρ with the source's mean/std.
        full = Preprocessing(prep.mean, prep.std, crop_fraction=1.0, interpolation=prep.interpolation)
        return full(image.resize((resolution, resolution), Image.BILINEAR), resolution)


class ImageDataset(torch.utils.data.Dataset):
    """(path, label) samples → (float32 CHW tensor, label) with the weight source's preprocessing.

    Keys are an index, or ``(index, seed)`` from :class:`EpochSampler` to augment reproducibly.
    A file that fails to decode yields ``None`` (dropped and counted by :func:`collate_skip`).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        resolution: int,
        preprocessing: Preprocessing = TF_PREPROCESSING,
        augment: Augment | None = None,
    ) -> None:
        self.samples, self.resolution, self.preprocessing, self.augment = (
            list(samples),
            resolution,
            preprocessing,
            augment,
        )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int] | None:
        index, seed = key if isinstance(key, tuple) else (key, index_seed(0, 0, key))
        path, label = self.samples[index]
        try:
            image = load_image(path)
        except ValueError:
            return None
        if self.augment is None:
            x = self.preprocessing(image, self.resolution)
        else:
            x = self.augment(image, self.resolution, self.preprocessing, np.random.default_rng(seed))
        return torch.from_numpy(x), label


def index_seed(seed: int, epoch: int, index: int) -> int:
    return (seed * 1_000_003 + epoch) * 10_000_019 + index


def collate_skip(items: list) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Stack a batch, dropping unreadable samples; the third value counts them."""
    good = [it for it in items if it is not None]
    if not good:
        return torch.empty(0), torch.empty(0, dtype=torch.long), len(items)
    return torch.stack([g[0] for g in good]), torch.tensor([g[1] for g in good]), len(items) - len(good)


class EpochSampler(torch.utils.data.Sampler):
    """One seeded permutation per epoch, yielding ``(index, augment seed)``; can start mid-epoch.

    Order and crops are functions of (seed, epoch, position) only, which is what makes ``--resume``
    reproduce an uninterrupted run.
    """

    def __init__(self, n: int, seed: int, epoch: int, start: int = 0) -> None:
        self.n, self.seed, self.epoch, self.start = n, seed, epoch, start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        gen = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
        order = torch.randperm(self.n, generator=gen).tolist()
        for i in order[self.start :]:
            yield i, index_seed(self.seed, self.epoch, i)

    def __len__(self) -> int:
        return self.n - self.start
