"""Real tiny artifacts of every kind the toolkit exports for a phone, cached between test runs."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

__all__ = ["HAS_IO_OPTION", "phone_artifact"]


def _has_io_option() -> bool:
    from toolkit.export import ExportConfig

    return "io" in {f.name for f in dataclasses.fields(ExportConfig)}


HAS_IO_OPTION = _has_io_option()


@functools.cache
def phone_artifact(target: str, precision: str = "fp32", scheme: str | None = None, io: str | None = None) -> Path:
    """A real MobileNet (α=0.25, ρ=32, 10 classes, calibrated random weights) exported for a phone.

    Exported into the toolkit cache (``$TOOLKIT_CACHE``) so re-runs reuse it (the pipeline's cache key
    covers weights, options and tool versions). ``io`` is the export's I/O contract ("float" or
    "native"; None = the exporter's default). Parity with PyTorch is not checked here (``verify=False``):
    the export tests do that; these artifacts test what the phone does with them. A first export takes
    10-30 s.
    """
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export
    from toolkit.weights import cache_dir

    model = mobilenet_v1(0.25, 32, weights="random", num_classes=10)
    out = cache_dir() / "test-artifacts" / "android" / (io or "default")
    out.mkdir(parents=True, exist_ok=True)
    options = {"scheme": scheme} if scheme else {}
    extra = {"io": io} if io is not None else {}
    cfg = ExportConfig(target=target, precision=precision, output_dir=out, options=options, verify=False, **extra)
    return export(model, cfg, progress=False).path
