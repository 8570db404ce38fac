"""Time several variants on this host in interleaved rounds: the input a latency model is fitted on.

Why interleaved: on a shared machine the load drifts, so every variant gets ``rounds`` slices of
``iterations / rounds`` timed runs in turn; a load spike then inflates all variants alike instead of one,
which is what a latency *model* needs. The rounds are the host's own (:mod:`toolkit.profile.rounds`).
Artifacts come from the export pipeline, whose cache key (model tensors, options, tool and toolkit versions)
alone decides whether a file on disk is reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.profile.protocol import ProfileConfig
from toolkit.variants import Variant

__all__ = ["measure_interleaved", "random_weight_artifact"]


def random_weight_artifact(variant: Variant, target: str, precision: str, artifacts_dir: Path | None = None) -> Any:
    """The ExportResult of ``variant`` with seeded random weights (latency does not depend on the weights),
    exported into ``artifacts_dir`` (default: the toolkit cache) or taken from there when its key matches."""
    from toolkit import mobilenet_v1
    from toolkit.export.base import ExportConfig
    from toolkit.export.pipeline import export
    from toolkit.weights import cache_dir

    out_dir = Path(artifacts_dir or cache_dir() / "select-artifacts")
    cfg = ExportConfig(target=target, precision=precision, output_dir=out_dir, verify=False)
    return export(mobilenet_v1(variant.alpha, variant.resolution, weights="random"), cfg, progress=False)


def measure_interleaved(
    variants: Sequence[Variant],
    target: str = "onnx",
    precision: str = "fp32",
    threads: int = 2,
    warmup: int = 10,
    iterations: int = 30,
    rounds: int = 3,
    artifacts_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """One host result record per variant, timed in ``rounds`` interleaved rounds by the host's one round-robin
    (:func:`toolkit.profile.rounds.measure_host`); ToolkitError naming any variant that could not be measured."""
    from toolkit.errors import ToolkitError
    from toolkit.profile.rounds import measure_host

    paths = [random_weight_artifact(v, target, precision, artifacts_dir).path for v in variants]
    cfg = ProfileConfig(threads=threads, warmup=warmup, iterations=iterations, rounds=rounds)
    res = measure_host(paths, cfg, threads)
    if res.failures:
        raise ToolkitError("; ".join(res.failures))
    return [r for r in res.records if r is not None]
