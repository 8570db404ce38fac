"""Shared data for the quantization tests: a MobileNet V1 trained on real handwritten digits.

sklearn's ``load_digits`` (1797 real 8×8 scans) upsampled to 32×32 RGB in [-1, 1]; a 70/30 stratified
split. The α=0.25 ρ=32 model is trained once (plain Adam loop, 10 epochs) and cached on disk in the temp
dir, keyed by the recipe version, so later sessions load it in milliseconds. Calibration uses training
images only; every accuracy figure is on the held-out 30%.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

__all__ = ["digits_model", "digits_split"]

RECIPE = "v1-a0.25-r32-adam2e-3-e10-bnrecal"


@functools.lru_cache(maxsize=1)
def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test), NCHW float32 32×32 RGB in [-1, 1]."""
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0 * 2 - 1)[:, None]
    x = F.interpolate(x, size=32, mode="bilinear", align_corners=False).repeat(1, 3, 1, 1).numpy()
    itr, ite = train_test_split(np.arange(len(x)), test_size=0.3, random_state=0, stratify=d.target)
    return x[itr], d.target[itr], x[ite], d.target[ite]


def _train(path: Path) -> None:
    import torch.nn.functional as F

    from toolkit.builder import calibrate_batchnorm
    from toolkit.models.mobilenet_v1 import MobileNetV1

    x, y, _, _ = (torch.from_numpy(a) for a in digits_split())
    torch.manual_seed(0)
    model = MobileNetV1(0.25, 10, resolution=32, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(10):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(perm), 64):
            b = perm[i : i + 64]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    calibrate_batchnorm(model, x)  # exact running statistics over the whole training set
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, path)


def digits_model() -> torch.nn.Module:
    """The trained digits model (eval mode, metadata attached like the toolkit's builder does)."""
    from safetensors.torch import load_file

    from toolkit.data import TF_PREPROCESSING
    from toolkit.models.mobilenet_v1 import MobileNetV1

    path = Path(tempfile.gettempdir()) / f"toolkit-quant-digits-{RECIPE}.safetensors"
    if not path.exists():
        _train(path)
    model = MobileNetV1(0.25, 10, resolution=32, dropout=0.0)
    model.load_state_dict(load_file(str(path)))
    model.eval()
    model.preprocessing = TF_PREPROCESSING
    model.class_names = [str(i) for i in range(10)]
    return model
