"""The host device: runs artifacts in their host runtimes (one worker process each, in rounds) and returns
the shared result records.

The environment fingerprint (CPU model, cores, OS, governor, Python, toolkit version) goes into the
record's ``device`` block, which the schema leaves open, so a stored number always says where it came
from. Temperatures come from ``/sys/class/thermal`` where a container exposes it.
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
from toolkit.profile.runner import Measurement, host_temperature_c
from toolkit.profile.stats import summarize
from toolkit.schemas import validate_record

__all__ = ["HostDevice", "build_record", "cpu_governor", "cpu_model", "validate_record"]


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
def _describe() -> dict[str, Any]:
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
    }


# What each runner imports lazily: paid once per process, so it must not count as the model's load time.
_RUNTIME_IMPORTS = {".pte": ("torch", "executorch.runtime"), ".onnx": ("onnxruntime",),
                    ".tflite": ("ai_edge_litert.interpreter",)}  # fmt: skip


def _import_runtime(artifact: Path) -> None:
    import contextlib
    import importlib

    from toolkit.runtimes import RUNNER_MODULES

    for module in (RUNNER_MODULES.get(artifact.suffix), *_RUNTIME_IMPORTS.get(artifact.suffix, ())):
        if module is not None:
            with contextlib.suppress(ImportError):  # open_runner raises the one-line error naming the extra
                importlib.import_module(module)


class HostDevice:
    """This machine (``DeviceBackend`` with ``kind == "host"``): artifacts run in worker processes, in rounds."""

    kind = "host"

    def describe(self) -> dict[str, Any]:
        return dict(_describe())

    def temperature_c(self) -> float | None:
        return host_temperature_c()

    def run(self, artifact: Path, config: ProfileConfig) -> dict[str, Any]:
        """Measure ``artifact`` (its manifest must sit beside it); raises UsageError if it cannot load."""
        from toolkit.errors import UsageError
        from toolkit.profile.rounds import measure_host

        artifact = Path(artifact)
        if not artifact.exists():
            raise UsageError(f"artifact not found: {artifact}")
        res = measure_host([artifact], config, config.threads, read_temp=self.temperature_c)
        if res.records[0] is None:
            raise UsageError(res.failures[0].split(": ", 1)[1] if res.failures else f"could not measure {artifact}")
        return res.records[0]

    def run_rounds(
        self,
        artifacts: list[Path],
        config: ProfileConfig,
        threads: int | None,
        *,
        stop: Any = None,
        on_record: Any = None,
    ) -> Any:
        """Every artifact in interleaved rounds (:func:`toolkit.profile.rounds.measure_host`); ``threads`` None
        autotunes each. Returns a HostRun (records by position, failure lines)."""
        from toolkit.profile.rounds import measure_host

        return measure_host(artifacts, config, threads, stop=stop, on_record=on_record, read_temp=self.temperature_c)
