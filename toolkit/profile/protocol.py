"""The measurement protocol and the device-backend contract every device (host, Android, iOS) follows.

One :class:`ProfileConfig` says how to measure; a :class:`DeviceBackend` measures one artifact and
returns a result record in the shared schema (``toolkit/schemas/result.schema.json``). The host,
the Android app and the iOS app all run the same loop: load, first inference (timed separately),
``warmup`` untimed runs, then ``iterations`` timed runs (or as many as fit in ``duration_s``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from toolkit.schemas import result_schema_problem

__all__ = [
    "DeviceBackend",
    "DeviceError",
    "DeviceGoneError",
    "PhoneSweepOutcome",
    "ProfileConfig",
    "result_schema_problem",
    "run_phone_sweep",
]


class DeviceError(RuntimeError):
    """A device is missing, refused the artifact or vanished; the message is one line for the CLI."""


class DeviceGoneError(DeviceError):
    """The device went away mid-run (unplugged, locked): a sweep stops and keeps what it measured."""


@dataclass
class PhoneSweepOutcome:
    """Finished results, and one line per run that failed (a sweep stops when the phone goes away)."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stopped_early: bool = False


def run_phone_sweep(
    runs: Iterable[tuple[str, Callable[[], dict[str, Any]]]],
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> PhoneSweepOutcome:
    """Run labelled measurements in order: a rejected model is recorded and skipped, a vanished device
    stops the sweep. ``on_result`` stores each result as it arrives, so nothing finished is lost."""
    from toolkit.errors import ToolkitError

    out = PhoneSweepOutcome()
    for label, run in runs:
        try:
            result = run()
        except DeviceGoneError as e:
            out.failures.append(f"{label}: {e}")
            out.stopped_early = True
            break
        except ToolkitError as e:
            out.failures.append(f"{label}: {e}")
            continue
        out.results.append(result)
        if on_result is not None:
            on_result(result)
    return out


@dataclass(frozen=True)
class ProfileConfig:
    """How to measure. ``threads=0`` means the runtime's default; ``duration_s`` overrides iterations.

    ``rounds``: the host splits the timed runs over this many rounds, interleaved with the other artifacts
    of the same request (:mod:`toolkit.profile.rounds`); phones keep one artifact per app launch.
    """

    threads: int = 0
    warmup: int = 10
    iterations: int = 100
    duration_s: float | None = None
    cooldown_s: float = 0.0
    max_temp_c: float | None = None
    temp_wait_limit_s: float = 300.0
    delegate: str | None = None
    rounds: int = 5

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError(f"duration must be > 0 seconds, got {self.duration_s}")
        if self.cooldown_s < 0:
            raise ValueError(f"cooldown must be >= 0 seconds, got {self.cooldown_s}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class DeviceBackend(Protocol):
    """A place where artifacts run: the host, an Android phone over adb, an iPhone over usbmux, a cloud phone."""

    kind: str  # "host" | "android" | "ios" | "aihub"

    def describe(self) -> dict[str, Any]:
        """The result schema's ``device`` block (name, os, cpu, ...)."""
        ...

    def temperature_c(self) -> float | None:
        """Current temperature for the thermal gate, or None when unreadable."""
        ...

    def run(self, artifact: Path, config: ProfileConfig) -> dict[str, Any]:
        """Measure one artifact and return a schema-valid result record; raise DeviceError on failure."""
        ...
