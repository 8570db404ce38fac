"""Preprocessing per weight source, image loading and the bundled sample photos.

One :class:`Preprocessing` object travels with a model from weights to manifest to phone app, so
every runtime scales pixels the same way: ``x = (pixel / 255 - mean) / std`` in RGB order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "IMAGENET_PREPROCESSING",
    "IMAGE_EXTENSIONS",
    "TF_PREPROCESSING",
    "Preprocessing",
    "batch_sha256",
    "imagenet_labels",
    "list_images",
    "load_batch",
    "load_image",
    "sample_image_paths",
    "sample_images",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Preprocessing:
    """How pixels become the network input.

    ``mean``/``std`` are per RGB channel on the [0, 1] scale. ``crop_fraction`` is the share of the
    resized short side kept by the center crop (0.875 is the Inception/slim eval crop; 1.0 resizes the
    short side straight to ρ).
    """

    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    crop_fraction: float = 0.875
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need one value per RGB channel")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if not 0.0 < self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction}")
        if self.interpolation not in _RESAMPLE:
            raise ValueError(f"interpolation must be one of {', '.join(_RESAMPLE)}, got {self.interpolation!r}")

    @property
    def scale(self) -> tuple[float, float, float]:
        """Per-channel multiplier on 0..255 pixels (``x = pixel * scale + bias``), as Core ML wants."""
        return tuple(1.0 / (255.0 * s) for s in self.std)  # type: ignore[return-value]

    @property
    def bias(self) -> tuple[float, float, float]:
        return tuple(-m / s for m, s in zip(self.mean, self.std, strict=True))  # type: ignore[return-value]

    def to_dict(self) -> dict:
        return {**asdict(self), "scale": list(self.scale), "bias": list(self.bias), "layout": "RGB"}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        known = {"mean", "std", "crop_fraction", "interpolation"}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})

    def crop(self, image: Image.Image, resolution: int) -> np.ndarray:
        """Resize the short side and center-crop to ρ×ρ: uint8 RGB pixels, H × W × 3.

        Kept apart from :meth:`normalize` because a Core ML image input takes these pixels as they are,
        and the apps' own resize is tested against this one.
        """
        image = image.convert("RGB")
        w, h = image.size
        short = resolution / self.crop_fraction
        scale = short / min(w, h)
        new_w, new_h = max(resolution, round(w * scale)), max(resolution, round(h * scale))
        image = image.resize((new_w, new_h), _RESAMPLE[self.interpolation])
        left, top = (new_w - resolution) // 2, (new_h - resolution) // 2
        return np.asarray(image.crop((left, top, left + resolution, top + resolution)), dtype=np.uint8)

    def normalize(self, rgb: np.ndarray) -> np.ndarray:
        """``(pixel / 255 - mean) / std`` in float32, as CHW (the network's own layout)."""
        x = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def __call__(self, image: Image.Image, resolution: int) -> np.ndarray:
        """Resize the short side, center-crop to ρ×ρ and normalize: float32 CHW."""
        return self.normalize(self.crop(image, resolution))


_RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}

# Published Keras/TF weights: RGB scaled to [-1, 1] (Keras ``preprocess_input(mode="tf")``).
TF_PREPROCESSING = Preprocessing()
# torchvision-style checkpoints.
IMAGENET_PREPROCESSING = Preprocessing(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def load_image(path: str | Path) -> Image.Image:
    """Open an image fully (so the file handle closes) or raise ``ValueError`` with the path."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError) as e:
        raise ValueError(f"cannot read image {path}: {e}") from None


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in or below ``folder``, sorted for determinism."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def load_batch(
    paths: Iterable[str | Path], resolution: int, preprocessing: Preprocessing = TF_PREPROCESSING
) -> np.ndarray:
    """Preprocess images into one float32 NCHW batch; unreadable files raise ``ValueError``."""
    arrays = [preprocessing(load_image(p), resolution) for p in paths]
    if not arrays:
        raise ValueError("no images to load")
    return np.stack(arrays)


def sample_image_paths() -> list[Path]:
    """The bundled real photos (see ``assets/images/ATTRIBUTION.txt``)."""
    folder = resources.files("toolkit") / "assets" / "images"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".jpg"))


def sample_images(resolution: int, preprocessing: Preprocessing = TF_PREPROCESSING) -> np.ndarray:
    """The bundled photos as one preprocessed NCHW batch: the default for demos, calibration and parity."""
    return load_batch(sample_image_paths(), resolution, preprocessing)


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names in the order of the published classifiers."""
    text = (resources.files("toolkit") / "assets" / "imagenet_classes.txt").read_text(encoding="utf-8")
    return text.splitlines()


def batch_sha256(batch: np.ndarray | Sequence[np.ndarray]) -> str:
    """Content hash of an input batch, recorded in manifests so a calibration set is identifiable."""
    h = hashlib.sha256()
    for arr in batch:
        h.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
    return h.hexdigest()
