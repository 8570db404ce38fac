"""sklearn's handwritten digits (real scans, 8×8, 10 classes) written as an ImageFolder of PNGs.

Import the fixture into a test module (``from tests._digits import digits_folder  # noqa: F401``).
The split is stratified and seeded, so every run sees the same 1437 train / 360 val images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

__all__ = ["DIGITS_RES", "digits_folder", "write_digits"]

DIGITS_RES = 32  # 8×8 upscaled 4× (nearest), the smallest ρ MobileNet takes


def write_digits(root: Path, side: int = DIGITS_RES, val_fraction: float = 0.2, seed: int = 0) -> Path:
    """Write ``root/train/<digit>/*.png`` and ``root/val/<digit>/*.png`` (RGB, ``side``×``side``)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    scale = side // 8
    for label in range(10):
        idx = np.flatnonzero(digits.target == label)
        rng.shuffle(idx)
        n_val = round(len(idx) * val_fraction)
        for split, members in (("val", idx[:n_val]), ("train", idx[n_val:])):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            for i in members:
                gray = (digits.images[i] * (255.0 / 16.0)).round().astype(np.uint8)  # 0..16 → 0..255
                big = np.kron(gray, np.ones((scale, scale), np.uint8))
                Image.fromarray(np.stack([big] * 3, axis=-1)).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits(tmp_path_factory.mktemp("digits"))
