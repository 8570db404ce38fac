"""An AI Hub profile (``InferenceJob.download_profile()``) as the toolkit's result record.

The profile is qai-hub 0.56's dict: ``execution_summary`` (times in µs, memory in bytes) and
``execution_detail`` (one dict per layer: name, type, compute unit, and from profile format 1.3 on the
layer's fastest time in µs). ``all_inference_times`` exists from format 1.2 on: then ``latency_ms`` holds
every inference the service timed on the phone and the toolkit's own statistics (stats.py) summarize them
(``latency_source: service_samples``). Older profiles carry only ``estimated_inference_time``, AI Hub's
fastest inference: it is stored as the one sample it is and labelled ``service_estimate``, so nobody reads
a median or a confidence interval into it.

The record is built by the host's :func:`toolkit.profile.host.build_record`, so its shape is the one every
other device writes; only what the service measures differently is filled in after.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.profile.protocol import ProfileConfig

__all__ = ["compute_units", "layers", "profile_record"]

_US_PER_MS = 1000.0
_MB = 2.0**20


def layers(profile: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-layer rows in execution order (time in µs where the service reported one)."""
    out = []
    for layer in profile.get("execution_detail") or ():
        out.append({"name": str(layer.get("name", "")), "type": str(layer.get("type", "")),
                    "compute_unit": layer.get("compute_unit"), "time_us": layer.get("execution_time"),
                    "cycles": layer.get("execution_cycles")})  # fmt: skip
    return out


def compute_units(profile: Mapping[str, Any]) -> dict[str, int]:
    """Layers per compute unit (NPU, GPU, CPU), as the service's own summary counts them."""
    counts: dict[str, int] = {}
    for layer in profile.get("execution_detail") or ():
        unit = layer.get("compute_unit")
        if unit in ("NPU", "GPU", "CPU"):
            counts[unit] = counts.get(unit, 0) + 1
    return counts


def _samples_ms(summary: Mapping[str, Any]) -> tuple[list[float], str]:
    times = [t for t in summary.get("all_inference_times") or () if t is not None and t > 0]
    if times:
        return [t / _US_PER_MS for t in times], "service_samples"
    estimate = summary.get("estimated_inference_time")
    if estimate:
        return [estimate / _US_PER_MS], "service_estimate"
    raise ToolkitError("the AI Hub profile holds no inference time (neither per-inference times nor an estimate)")


def _ms(summary: Mapping[str, Any], key: str) -> float | None:
    value = summary.get(key)
    return value / _US_PER_MS if value else None


def _notes(summary: Mapping[str, Any], source: str, config: ProfileConfig, units: Mapping[str, int]) -> list[str]:
    notes = ["AI Hub runs its own protocol on the phone: the toolkit's warm-up, cooldown and thermal gate do "
             "not apply; load_ms is the service's first (cold) load"]  # fmt: skip
    if config.threads:
        notes.append(f"{config.threads} threads were asked; AI Hub sets the runtime's threads itself (recorded as 0)")
    if source == "service_estimate":
        notes.append("latency is AI Hub's estimate only (its fastest inference), not per-inference times: "
                     "median, p90 and CI below are that one number")  # fmt: skip
    elif len(summary.get("all_inference_times") or ()) != config.iterations:
        notes.append(f"AI Hub timed {len(summary['all_inference_times'])} inferences ({config.iterations} asked)")
    warm, peak = _ms(summary, "warm_load_time"), summary.get("inference_memory_peak_range")
    extra = [f"warm load {warm:.1f} ms" if warm else "",
             f"inference peak memory {peak[0] / _MB:.1f}-{peak[1] / _MB:.1f} MB" if peak else "",
             "compute units: " + ", ".join(f"{u} {n}" for u, n in units.items()) if units else ""]  # fmt: skip
    if any(extra):
        notes.append("AI Hub: " + "; ".join(x for x in extra if x))
    return notes


def profile_record(
    profile: Mapping[str, Any],
    *,
    device: dict[str, Any],
    artifact: Path,
    manifest: dict[str, Any],
    config: ProfileConfig,
    runtime: str,
    job: Mapping[str, Any],
) -> dict[str, Any]:
    """The shared result record for one finished AI Hub profile job (validated by the caller's store)."""
    from toolkit.profile.host import build_record
    from toolkit.profile.runner import Measurement

    summary = profile.get("execution_summary") or {}
    samples, source = _samples_ms(summary)
    units = compute_units(profile)
    peak = summary.get("estimated_inference_peak_memory")
    m = Measurement(runtime=runtime, runtime_version=f"service-managed (AI Hub {job.get('service_version') or '?'})",
                    samples_ms=samples, load_ms=_ms(summary, "first_load_time") or 0.0, first_inference_ms=0.0,
                    peak_memory_mb=round(peak / _MB, 3) if peak else None, temp_before_c=None, temp_after_c=None,
                    notes=_notes(summary, source, config, units))  # fmt: skip
    protocol = dataclasses.replace(config, threads=0, warmup=0, duration_s=None, cooldown_s=0.0, max_temp_c=None)
    record = build_record(m, device, artifact, manifest, protocol)
    record["load_ms"] = _ms(summary, "first_load_time")
    record["first_inference_ms"] = None  # the service does not time a first inference apart
    record["runtime"]["delegate"] = config.delegate
    if units:
        record["runtime"]["compute_units"] = units
    record["latency_source"] = source
    record["job"] = {k: job.get(k) for k in ("service", "id", "url", "service_version")}
    record["layers"] = layers(profile)
    return record
