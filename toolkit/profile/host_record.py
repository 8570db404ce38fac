"""What a host measurement record says about the machine, and the record itself.

Below both the host device (:mod:`toolkit.profile.host`) and the rounds that measure on it
(:mod:`toolkit.profile.rounds`), so the rounds can build records without importing the device that calls them.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import platform
import socket
from pathlib import Path
from typing import Any

from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.runner import Measurement
from toolkit.profile.stats import summarize

__all__ = ["build_record", "cpu_governor", "cpu_model", "host_description"]


def cpu_model() -> str | None:
    """``model name`` from /proc/cpuinfo (Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def cpu_governor() -> str | None:
    try:
        return Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip() or None
    except OSError:
        return None


@functools.cache
def host_description() -> dict[str, Any]:
    """This machine as a record's ``device`` block (read once per process)."""
    from toolkit import __version__

    return {
        "kind": "host",
        "name": socket.gethostname() or "host",
        "serial": None,
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "governor": cpu_governor(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "toolkit_version": __version__,
    }


def build_record(
    m: Measurement, device: dict[str, Any], artifact: Path, manifest: dict[str, Any], config: ProfileConfig
) -> dict[str, Any]:
    """The shared result record (toolkit/schemas/result.schema.json) for one host measurement."""
    stats = summarize(m.samples_ms)
    weights = manifest.get("weights") or {}
    return {
        "schema_version": 1,
        "timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": device,
        "runtime": {"name": m.runtime, "version": m.runtime_version, "delegate": manifest.get("delegate")},
        "artifact": {
            "sha256": manifest["artifact"]["sha256"],
            "file": artifact.name,
            "path": str(artifact.resolve()),
            "variant": (manifest.get("variant") or {}).get("name"),
            "target": manifest.get("target"),
            "precision": manifest.get("precision"),
            "weights": weights.get("label") or weights.get("kind"),
        },
        "config": {
            "threads": config.threads,
            "warmup": config.warmup,
            "iterations": len(m.samples_ms),
            "duration_s": config.duration_s,
            "cooldown_s": config.cooldown_s,
            "max_temp_c": config.max_temp_c,
            "batch": 1,
        },
        "latency_ms": [round(s, 6) for s in m.samples_ms],
        "stats": stats.to_dict(),
        "load_ms": round(m.load_ms, 4),
        "first_inference_ms": round(m.first_inference_ms, 4),
        "peak_memory_mb": m.peak_memory_mb,
        "temperature_c": {"before": m.temp_before_c, "after": m.temp_after_c, "thermal_state": None},
        "notes": list(m.notes),
    } | _preprocess_block(m)


def _preprocess_block(m: Measurement) -> dict[str, Any]:
    """The frames' preprocessing, timed beside the inferences (as the phone apps report it), if any."""
    if not m.preprocess_ms:
        return {}
    block = {"latency_ms": [round(s, 6) for s in m.preprocess_ms], "stats": summarize(m.preprocess_ms).to_dict()}
    return {"preprocess": block | ({"steps": m.preprocess_steps} if m.preprocess_steps else {})}
