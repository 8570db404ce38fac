"""Real tiny artifacts of every kind the toolkit exports for a phone, cached between test runs."""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["phone_artifact", "tiny_artifact"]


@functools.cache
def phone_artifact(
    target: str, precision: str = "fp32", scheme: str | None = None, io: str = "float", layout: str | None = None
) -> Path:
    """A real MobileNet (α=0.25, ρ=32, 10 classes, calibrated random weights) exported for a phone.

    Exported into the toolkit cache (``$TOOLKIT_CACHE``) so re-runs reuse it (the pipeline's cache key
    covers weights, options and tool versions). ``io`` is the export's I/O contract: "float" (float32
    at the edges, the default) or "native" (int8 for full-integer TFLite, float16 for fp16 ExecuTorch);
    ``layout`` the input layout (None: the target's default, nhwc; "nchw" is named apart).
    Parity with PyTorch is not checked here (``verify=False``): the export tests do that; these
    artifacts test what the phone does with them. A first export takes 10-30 s.
    """
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export
    from toolkit.weights import cache_dir

    model = mobilenet_v1(0.25, 32, weights="random", num_classes=10)
    out = cache_dir() / "test-artifacts" / "android" / io  # the name does not say the I/O contract
    out.mkdir(parents=True, exist_ok=True)
    options = {"scheme": scheme} if scheme else {}
    cfg = ExportConfig(target=target, precision=precision, output_dir=out, options=options, verify=False, io=io,
                       layout=layout)  # fmt: skip
    return export(model, cfg, progress=False).path


def tiny_artifact(target: str) -> Path:
    """The same tiny model exported to any target (``onnx`` too, for services that run it) at its default
    precision and I/O contract; for a phone's formats this is :func:`phone_artifact`'s fp32 artifact."""
    if target in ("executorch", "tflite"):
        return phone_artifact(target)
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export
    from toolkit.weights import cache_dir

    model = mobilenet_v1(0.25, 32, weights="random", num_classes=10)
    out = cache_dir() / "test-artifacts" / "android"
    out.mkdir(parents=True, exist_ok=True)
    return export(model, ExportConfig(target=target, output_dir=out), progress=False).path
