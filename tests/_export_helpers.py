"""Shared, process-wide export fixtures: each (target, variant) is exported once per test session.

Exports take seconds (torch.export + lowering), so test modules share them through ``functools.cache``
instead of a conftest. Tests that modify an artifact copy it to their own ``tmp_path`` first.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from toolkit import mobilenet_v1
from toolkit.export import ExportConfig, export

__all__ = ["exported", "model", "shared_dir"]


@functools.cache
def shared_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="toolkit-export-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def model(alpha: float, resolution: int, seed: int = 0):
    """A random, BatchNorm-calibrated model: logits differ from photo to photo (not collapsed)."""
    return mobilenet_v1(alpha, resolution, weights="random", seed=seed)


@functools.cache
def exported(target: str, alpha: float, resolution: int, precision: str | None = None, dynamic: bool = False):
    out = shared_dir() / ("dynamic" if dynamic else "static")  # same artifact name, different bytes
    cfg = ExportConfig(target=target, precision=precision, output_dir=out, dynamic_batch=dynamic)
    return export(model(alpha, resolution), cfg, progress=False)


def independent_parity(res, alpha: float, resolution: int, precision: str = "fp32"):
    """Run an exported file on its host runtime (1 thread) apart from the pipeline and compare with torch.

    Returns (report, reference logits) so callers can assert parity and that the model is not collapsed.
    """
    from toolkit.data import sample_images
    from toolkit.runtimes import open_runner, run_batch
    from toolkit.verify import compare, reference_logits

    x = sample_images(resolution)
    runner = open_runner(res.path, threads=1)
    try:
        out = run_batch(runner, x, res.manifest["input"]["layout"])
    finally:
        runner.close()
    ref = reference_logits(model(alpha, resolution), x)
    return compare(ref, out, precision=precision), ref
