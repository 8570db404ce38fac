"""Real tiny exported artifacts for the Android tests, cached between runs."""

from __future__ import annotations

from pathlib import Path

__all__ = ["tiny_artifact"]


def tiny_artifact(target: str) -> Path:
    """A real MobileNet (α=0.25, ρ=32, 10 classes, calibrated random weights) exported to ``target``.

    Exported into the toolkit cache (``$TOOLKIT_CACHE``) so re-runs reuse it: the pipeline's cache key
    covers weights and tool versions. A first ONNX export takes 10-60 s, ExecuTorch 1-2 min.
    """
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export
    from toolkit.weights import cache_dir

    model = mobilenet_v1(0.25, 32, weights="random", num_classes=10)
    out = cache_dir() / "test-artifacts" / "android"
    out.mkdir(parents=True, exist_ok=True)
    return export(model, ExportConfig(target=target, output_dir=out), progress=False).path
