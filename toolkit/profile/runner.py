"""The measurement loop, in one place: every timed run of the host goes through :func:`_timed_loop`.

Order of one measurement (the Android and iOS apps follow the same order, see protocol.py):
cooldown pause → thermal gate → load (timed) → first inference (timed apart, it pays for lazy
allocation and kernel selection) → ``warmup`` untimed runs → ``iterations`` timed runs (or as many as
fit in ``duration_s``) → temperature after. Each timed run is bracketed by two ``perf_counter_ns``
reads and nothing else, so the harness adds ~100 ns per inference (benchmarks/bench_harness.py).

:func:`measure` runs that order for one artifact in this process (a library call). The host device itself
measures through :mod:`toolkit.profile.rounds`: the same loop, sliced into interleaved rounds, in one
worker process per runtime, with load, first inference and peak memory from a fresh process per artifact
(:mod:`toolkit.profile.memory`). :func:`measure`'s own peak memory is the growth of this process's resident
set over the pre-load baseline, which an allocator that reuses freed pages can hide.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import interrupts
from toolkit.profile.protocol import ProfileConfig
from toolkit.runtimes.base import Runner

__all__ = ["Measurement", "host_temperature_c", "measure", "profile_input", "rss_mb", "thermal_gate"]

THERMAL_POLL_S = 5.0
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class Measurement:
    """Raw outcome of one measurement; :func:`toolkit.profile.host.build_record` turns it into a record."""

    runtime: str
    runtime_version: str
    samples_ms: list[float]
    load_ms: float
    first_inference_ms: float
    peak_memory_mb: float | None
    temp_before_c: float | None
    temp_after_c: float | None
    notes: list[str] = field(default_factory=list)
    preprocess_ms: list[float] | None = None  # one per timed inference, when frames were preprocessed
    preprocess_steps: str | None = None


def rss_mb() -> float | None:
    """Current resident set size in MB (Linux ``/proc/self/statm``), None elsewhere."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _maxrss_mb() -> float:
    # Linux reports KiB, macOS bytes
    raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return raw / 2**20 if sys.platform == "darwin" else raw / 1024


def host_temperature_c(root: Path = Path("/sys/class/thermal")) -> float | None:
    """Hottest plausible ``thermal_zone*/temp`` (millidegrees) or None where none is readable."""
    values = []
    for zone in sorted(root.glob("thermal_zone*/temp")):
        try:
            v = int(zone.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
        if 0.0 < v < 150.0:  # some zones report 0 or absurd values when the sensor is absent
            values.append(v)
    return max(values) if values else None


def thermal_gate(
    read_temp: Callable[[], float | None],
    max_temp_c: float | None,
    limit_s: float,
    *,
    poll_s: float = THERMAL_POLL_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """Wait until the temperature is at or below ``max_temp_c``, at most ``limit_s``; return notes.

    A device still too hot at the limit is measured anyway: the result is recorded with a note (and the
    CLI warns), because dropping it would hide the condition the user has to fix.
    """
    if max_temp_c is None:
        return []
    temp = read_temp()
    if temp is None:
        return ["thermal gate skipped: no readable temperature sensor"]
    start, polls = clock(), 0
    while temp is not None and temp > max_temp_c:
        waited = clock() - start
        if waited >= limit_s:
            return [
                f"warning: still {temp:.1f} °C after waiting {waited:.0f} s (gate {max_temp_c:.1f} °C); measured hot"
            ]
        sleep(min(poll_s, max(limit_s - waited, 0.0)))
        polls += 1
        temp = read_temp()
    return [f"thermal gate: waited {clock() - start:.0f} s to cool to {temp:.1f} °C"] if polls else []


class PhotoFrame:
    """One frame's preprocessing, as a camera app does it before every inference: the decoded photo resized
    and center-cropped, normalized, and written in the artifact's input layout (decode excluded).

    The phone apps time the same steps beside each inference (a record's ``preprocess`` block); the host
    does too, so a user sees the whole pixels-to-scores latency wherever it was measured.
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        from toolkit.data import Preprocessing, load_image, sample_image_paths
        from toolkit.runtimes import to_layout

        self._to_layout = to_layout  # resolved once: __call__ runs inside the timed preprocessing
        self._prep = Preprocessing.from_dict(manifest.get("preprocessing") or {})
        self._resolution = int(manifest["variant"]["resolution"])
        self._layout = (manifest.get("input") or {}).get("layout", "nchw")
        self._photo = load_image(sample_image_paths()[0])
        w, h = self._photo.size
        self.steps = (f"resize {w}x{h} ({self._prep.interpolation}), crop {self._resolution}, normalize, "
                      f"write float32 {self._layout}")  # fmt: skip

    def __call__(self) -> np.ndarray:
        return self._to_layout(self._prep(self._photo, self._resolution)[None], self._layout)


def profile_input(manifest: dict[str, Any]) -> np.ndarray:
    """One real photo, preprocessed as the manifest says, in the artifact's input layout (batch 1)."""
    return PhotoFrame(manifest)()


def _timed_loop(
    run: Callable[[np.ndarray], Any],
    x: np.ndarray,
    config: ProfileConfig,
    frame: Callable[[], np.ndarray] | None = None,
) -> tuple[list[float], list[float] | None]:
    """Timed inferences, and with a ``frame`` the preprocessing of a new input before each, timed apart
    (sample ``i`` of both is one frame from pixels to scores). Returns (inference, preprocess) in ms."""
    clock = time.perf_counter_ns
    check = interrupts.check  # Ctrl-C reaches a measuring thread through this, outside the timed bracket
    samples: list[int] = []
    pre: list[int] = []
    deadline = None if config.duration_s is None else clock() + int(config.duration_s * 1e9)
    while True:
        if frame is not None:
            p0 = clock()
            x = frame()
            pre.append(clock() - p0)
        t0 = clock()
        run(x)
        t1 = clock()
        samples.append(t1 - t0)
        if (t1 >= deadline) if deadline is not None else len(samples) >= config.iterations:
            break
        check()
    return [s / 1e6 for s in samples], ([s / 1e6 for s in pre] if frame is not None else None)


def measure(
    open_runner: Callable[[], Runner],
    x: np.ndarray,
    config: ProfileConfig,
    *,
    read_temp: Callable[[], float | None] = host_temperature_c,
    sleep: Callable[[float], None] = time.sleep,
    frame: Callable[[], np.ndarray] | None = None,
) -> Measurement:
    """Measure one artifact: ``open_runner()`` loads it (timed), ``x`` is the input batch; with a ``frame``
    (:class:`PhotoFrame`) each timed inference gets a newly preprocessed input, timed apart.

    Raises whatever ``open_runner`` or ``run`` raise (the backend turns them into one-line errors).
    """
    if config.cooldown_s:
        sleep(config.cooldown_s)
    notes = thermal_gate(read_temp, config.max_temp_c, config.temp_wait_limit_s, sleep=sleep)
    temp_before = read_temp()
    gc.collect()
    base_rss, base_max = rss_mb(), _maxrss_mb()
    t0 = time.perf_counter_ns()
    runner = open_runner()
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    try:
        rss_seen = [rss_mb()]
        t0 = time.perf_counter_ns()
        runner.run(x)
        first_ms = (time.perf_counter_ns() - t0) / 1e6
        rss_seen.append(rss_mb())
        for _ in range(config.warmup):
            runner.run(x)
            interrupts.check()
        samples, pre = _timed_loop(runner.run, x, config, frame)
        rss_seen.append(rss_mb())
        name, version = runner.name, str(runner.version)
    finally:
        runner.close()
    peak = _peak_growth(base_rss, base_max, rss_seen)
    steps = getattr(frame, "steps", None) if frame is not None else None
    return Measurement(name, version, samples, load_ms, first_ms, peak, temp_before, read_temp(), notes, pre, steps)


def _peak_growth(base_rss: float | None, base_max: float, seen: list[float | None]) -> float | None:
    """Peak RSS growth over the baseline, in MB (see the module docstring)."""
    max_now = _maxrss_mb()
    if base_rss is None:  # no /proc: the high-water mark is all there is
        return max(max_now - base_max, 0.0)
    peak = max(v for v in seen if v is not None) if any(v is not None for v in seen) else base_rss
    if max_now > base_max:
        peak = max(peak, max_now)
    return round(max(peak - base_rss, 0.0), 3)
