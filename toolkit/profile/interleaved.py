"""Time several variants on this host in interleaved rounds: the input a latency model is fitted on.

Why interleaved: on a shared machine the load drifts, so every variant gets ``rounds`` slices of
``iterations / rounds`` timed runs in turn; a load spike then inflates all variants alike instead of one,
which is what a latency *model* needs. Artifacts come from the export pipeline, whose cache key (model
tensors, options, tool and toolkit versions) alone decides whether a file on disk is reused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.profile.host import HostDevice, build_record
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.runner import Measurement, profile_input
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
    """One host result record per variant, timed in ``rounds`` interleaved slices (see the module docstring)."""
    from toolkit.runtimes import open_runner

    built = []
    for v in variants:
        res = random_weight_artifact(v, target, precision, artifacts_dir)
        t0 = time.perf_counter()
        runner = open_runner(res.path, threads=threads)
        load_ms = (time.perf_counter() - t0) * 1e3
        x = profile_input(res.manifest)
        t0 = time.perf_counter()
        runner.run(x)
        first_ms = (time.perf_counter() - t0) * 1e3
        for _ in range(warmup):
            runner.run(x)
        built.append((res, runner, x, load_ms, first_ms, []))
    per_round = max(1, math.ceil(iterations / rounds))
    for _ in range(rounds):
        for _res, runner, x, _load, _first, samples in built:
            time.sleep(0.05)  # let ORT's spinning workers of the previous variant go idle
            for _ in range(per_round):
                t0 = time.perf_counter()
                runner.run(x)
                samples.append((time.perf_counter() - t0) * 1e3)
    device, config, records = HostDevice().describe(), ProfileConfig(threads=threads, warmup=warmup), []
    for res, runner, _x, load_ms, first_ms, samples in built:
        m = Measurement(res.manifest["runtime"]["name"], str(res.manifest["runtime"].get("version") or runner.version),
                        samples, load_ms, first_ms, None, None, None, [f"interleaved: {rounds} rounds"])  # fmt: skip
        runner.close()
        records.append(build_record(m, device, res.path, res.manifest, config))
    return records
