"""The host device: runs artifacts in their host runtimes (one worker process each, in rounds) and returns
the shared result records.

The environment fingerprint (CPU model, cores, OS, governor, Python, toolkit version) goes into the
record's ``device`` block, which the schema leaves open, so a stored number always says where it came
from. Temperatures come from ``/sys/class/thermal`` where a container exposes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.profile.host_record import build_record, cpu_governor, cpu_model, host_description
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.runner import host_temperature_c
from toolkit.schemas import validate_record

__all__ = ["HostDevice", "build_record", "cpu_governor", "cpu_model", "validate_record"]


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
        return dict(host_description())

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
