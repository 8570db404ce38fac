"""Many devices at once: a thread per device, each device's measurements in order, each result stored as it lands.

Why threads: the devices are elsewhere (a phone on USB, a phone in the cloud) and the host mostly waits on
adb or HTTP; the host itself is one device among them. A device's own measurements never overlap, so no
measurement shares its device with another. Every thread opens its own connection to the results DB (SQLite
in WAL mode: ``BEGIN IMMEDIATE`` queues the writers, one at a time). A device that fails, is unplugged or
refuses its credentials ends its own thread with one line; the others go on.

Ctrl-C sets a stop flag. Local devices finish the measurement in hand and stop; cloud devices stop waiting
and leave their jobs running on the service (their ids are in the DB, so the same command collects them
later). The main thread waits a few seconds for that, then raises :class:`InterruptedRunError` (exit code 130)
naming what was stored and which jobs are still running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.profile.protocol import DeviceGoneError, ProfileConfig, run_phone_sweep

__all__ = [
    "DeviceOutcome",
    "InterruptedRunError",
    "Item",
    "fan_out",
    "measure_on",
    "open_jobs_line",
    "profile_artifacts",
    "run_device",
]

GRACE_S = 10.0  # after Ctrl-C: how long to wait for devices to put down what they hold


class InterruptedRunError(ToolkitError):
    """Ctrl-C while devices were measuring: what finished is stored; the message names the jobs still running."""

    exit_code = 130


@dataclass(frozen=True)
class Item:
    """One measurement to make: a label for messages, the artifact, and its run key (None: from the record)."""

    label: str
    path: Path
    key: str | None = None


@dataclass
class DeviceOutcome:
    """What happened on one device; ``error`` is set when the device itself failed or went away."""

    spec: str
    name: str | None = None
    measured: list[dict[str, Any]] = field(default_factory=list)
    already: int = 0
    failures: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # cloud jobs still running when stopped
    error: str | None = None
    interrupted: bool = False
    lock_busy: bool = False  # another measurer held the device and we were told not to wait

    @property
    def label(self) -> str:
        return f"{self.spec} ({self.name})" if self.name and self.name not in self.spec else self.spec

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures and not self.pending and not self.interrupted

    def summary(self) -> str:
        """One line: the device and its outcome."""
        parts = [f"{len(self.measured)} measured"]
        parts += [f"{self.already} already in the DB"] if self.already else []
        parts += [f"{len(self.failures)} failed"] if self.failures else []
        parts += [f"{len(self.unsupported)} skipped"] if self.unsupported else []
        parts += [f"{len(self.pending)} job(s) still running"] if self.pending else []
        state = "interrupted" if self.interrupted else "failed" if self.error else "ok" if self.ok else "partly failed"
        line = f"{self.label}: {state}, {', '.join(parts)}"
        return f"{line}: {self.error}" if self.error else line


def measure_on(
    device: Any,
    items: Sequence[Item],
    config: ProfileConfig,
    threads: int | None,
    store: Any,
    out: DeviceOutcome,
    *,
    sweep_id: str | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
) -> DeviceOutcome:
    """Measure ``items`` on ``device`` in order, storing each record the moment it exists.

    Items whose key is already stored are counted, not measured. A cloud device (one with ``run_batch``)
    gets all its items at once; a local one goes through :func:`run_phone_sweep`'s rules: a refused
    artifact is a failure line and the rest go on, a vanished device ends the device's run.
    """
    from toolkit.profile.intervals import annotate
    from toolkit.profile.threads import measure_with_threads, record_choice
    from toolkit.runtimes.base import RuntimeUnavailableError

    stop = stop or threading.Event()
    todo = [it for it in items if not (store is not None and it.key and store.has(it.key))]
    out.already += len(items) - len(todo)

    def keep(item: Item, record: dict[str, Any]) -> dict[str, Any]:
        annotate(record)
        if store is not None and item.key:  # a sweep's request: never the same key twice, even from two sweeps
            if store.insert_once(record, key=item.key, sweep_id=sweep_id) is None:
                out.already += 1
                return record
        elif store is not None:
            store.insert(record, key=item.key, sweep_id=sweep_id)
        out.measured.append(record)
        if on_record is not None:
            on_record(record)
        return record

    rounds = getattr(device, "run_rounds", None)
    if rounds is not None:  # the host: every artifact in interleaved rounds, in worker processes
        from toolkit.profile.rounds import InterruptedMeasurementError

        try:
            res = rounds([it.path for it in todo], config, threads, stop=stop,
                         on_record=lambda i, rec: keep(todo[i], rec))  # fmt: skip
        except InterruptedMeasurementError:
            out.interrupted = True
            return out
        out.failures += res.failures
        return out

    batch = getattr(device, "run_batch", None)
    if batch is not None:
        by_sha = {_sha(it.path): it for it in reversed(todo)}  # the first item of each artifact
        landed_keys: set[str] = set()

        def landed(record: dict[str, Any]) -> None:
            item = by_sha[record["artifact"]["sha256"]]
            if item.key and item.key in landed_keys:  # several phones behind one device (a Device Farm pool)
                item = Item(item.label, item.path, _phone_key(item.key, record["device"]))
            landed_keys.add(item.key or "")
            keep(item, record_choice(record, "runtime_default"))

        res = batch([it.path for it in todo], config, on_result=landed)
        out.failures += res.failures
        out.error = res.error
        out.pending += res.pending
        out.interrupted = bool(res.pending) and stop.is_set()
        return out

    def measure(item: Item) -> dict[str, Any]:
        try:
            return keep(item, measure_with_threads(device, item.path, config, threads))
        except RuntimeUnavailableError as e:
            raise ToolkitError(str(e)) from None

    runs = ((it.label, lambda it=it: measure(it)) for it in todo if not stop.is_set())
    res = run_phone_sweep(runs)
    if res.stopped_early:
        out.error = res.failures.pop().split(": ", 1)[1]
    out.failures += res.failures
    out.interrupted = stop.is_set() and len(out.measured) + len(res.failures) < len(todo)
    return out


def _phone_key(key: str, device: dict[str, Any]) -> str:
    """The run key of a second (third, ...) phone's record of one request: the request's key and the phone."""
    import hashlib

    phone = [device.get("kind"), device.get("name"), device.get("serial")]
    return hashlib.sha256(f"{key}\n{phone}".encode()).hexdigest()[:32]


def _sha(path: Path) -> str:
    from toolkit.runtimes import read_manifest

    return read_manifest(path)["artifact"]["sha256"]


def run_device(
    spec: str,
    plan: Callable[[Any, dict[str, Any], DeviceOutcome], list[Item]],
    config: ProfileConfig,
    threads: int | None,
    db_path: Path | None,
    stop: threading.Event,
    *,
    sweep_id: str | None = None,
    on_record: Callable[[str, dict[str, Any]], None] | None = None,
    on_status: Callable[[str, str, str], None] | None = None,
    wait: bool = True,
    say: Callable[[str], None] | None = None,
) -> DeviceOutcome:
    """One device's whole run, in the calling thread, with its own DB connection.

    ``plan(device, description, outcome)`` returns the items to measure there (and may note unsupported
    ones on the outcome); ``on_record(spec, record)`` and ``on_status(spec, label, state)`` report progress.
    The device's measurement lock (:mod:`toolkit.profile.lock`) is held while it measures: another measurer
    of the same device is waited for (``say`` gets the line) or, with ``wait=False``, is this device's error.
    """
    from toolkit.profile.devices import get_device
    from toolkit.profile.lock import LockBusyError, device_lock_name, measurement_lock
    from toolkit.results import ResultsDB

    out = DeviceOutcome(spec)
    store = ResultsDB(db_path) if db_path is not None else None
    try:
        status = (lambda label, state: on_status(spec, label, state)) if on_status else None
        device = get_device(spec, store=store, progress=status, stop=stop)
        description = device.describe()
        out.name = description.get("name")
        items = plan(device, description, out)
        record = (lambda rec: on_record(spec, rec)) if on_record else None
        with measurement_lock(device_lock_name(description), wait=wait, say=say):
            measure_on(device, items, config, threads, store, out, sweep_id=sweep_id, on_record=record, stop=stop)
    except LockBusyError as e:
        out.error, out.lock_busy = str(e), True
    except (ToolkitError, DeviceGoneError) as e:
        out.error = str(e)
    except Exception as e:  # a bug on one device must not take the others down: say what it was
        out.error = f"{type(e).__name__}: {e} (TOOLKIT_DEBUG=1 shows the traceback)"
        import os

        if os.environ.get("TOOLKIT_DEBUG"):
            raise
    finally:
        if store is not None:
            store.close()
    return out


def open_jobs_line(db_path: Path | None) -> str:
    """The cloud jobs a re-run would collect (``id (device)``), read from the DB; empty when none."""
    if db_path is None or not Path(db_path).exists():
        return ""
    from toolkit.results import OPEN_JOB_STATES, ResultsDB

    with ResultsDB(db_path) as db:
        jobs = db.jobs(states=OPEN_JOB_STATES)
    return ", ".join(f"{j['job_id']} ({j['service']}: {j['device']})" for j in jobs)


def fan_out(
    specs: Sequence[str],
    work: Callable[[str, threading.Event], DeviceOutcome],
    *,
    max_parallel: int = 0,
    db_path: Path | None = None,
    grace_s: float = GRACE_S,
) -> list[DeviceOutcome]:
    """Run ``work(spec, stop)`` for every device, at most ``max_parallel`` at once (0: all), in spec order.

    Ctrl-C sets ``stop``, waits up to ``grace_s`` for the devices, then raises :class:`InterruptedRunError`.
    """
    stop = threading.Event()
    slots = threading.Semaphore(max_parallel or len(specs) or 1)
    outcomes = {spec: DeviceOutcome(spec) for spec in specs}
    # Waited on instead of Thread.join: a Ctrl-C landing inside join() can mark a running thread as finished
    # (CPython 3.11, bpo-45274's fix), after which the process would exit under a thread still in a runtime.
    done = {spec: threading.Event() for spec in specs}

    def worker(spec: str) -> None:
        try:
            with slots:
                if stop.is_set():
                    outcomes[spec].interrupted = True
                    return
                outcomes[spec] = work(spec, stop)
        except KeyboardInterrupt:  # interrupts.check() in a host measurement: Ctrl-C reached this thread
            outcomes[spec].interrupted = True
        finally:
            done[spec].set()

    threads = [threading.Thread(target=worker, args=(s,), name=f"device {s}", daemon=True) for s in specs]
    try:
        for t in threads:
            t.start()
        for spec in specs:
            while not done[spec].wait(0.2):
                pass
    except KeyboardInterrupt:
        from toolkit import interrupts

        stop.set()
        interrupts.requested.set()  # a host measurement in a device thread stops at its next run
        deadline = time.monotonic() + grace_s
        try:
            for spec, t in zip(specs, threads, strict=True):
                if t.ident is not None:  # started
                    done[spec].wait(max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        finally:
            interrupts.requested.clear()  # this run's threads have stopped (or been given up on)
        busy = [s for s, t in zip(specs, threads, strict=True) if t.ident is not None and not done[s].is_set()]
        raise InterruptedRunError(_interrupted_message(outcomes, busy, db_path)) from None
    return [outcomes[s] for s in specs]


def _interrupted_message(outcomes, busy, db_path) -> str:
    stored = sum(len(o.measured) for o in outcomes.values())  # busy: devices still holding their device
    running = open_jobs_line(db_path) or "; ".join(p for o in outcomes.values() for p in o.pending)
    line = f"interrupted: {stored} result(s) stored" + (f" in {db_path}" if db_path is not None else "")
    line += f"; still busy: {', '.join(busy)}" if busy else ""
    line += f"; jobs still running on the service: {running}" if running else ""
    return line + "; re-run the same command to collect the rest"


def profile_artifacts(
    artifacts: Sequence[Path],
    specs: Sequence[str],
    config: ProfileConfig,
    threads: int | None,
    db_path: Path | None,
    *,
    max_parallel: int = 0,
    on_record: Callable[[str, dict[str, Any]], None] | None = None,
    on_status: Callable[[str, str, str], None] | None = None,
    wait: bool = True,
    say: Callable[[str], None] | None = None,
) -> list[DeviceOutcome]:
    """Every artifact on every device (``toolkit profile``); records stored in ``db_path`` unless None."""
    items = [Item(Path(a).name, Path(a)) for a in artifacts]

    def work(spec: str, stop: threading.Event) -> DeviceOutcome:
        return run_device(spec, lambda *_: items, config, threads, db_path, stop, on_record=on_record,
                          on_status=on_status, wait=wait, say=say)  # fmt: skip

    return fan_out(specs, work, max_parallel=max_parallel, db_path=db_path)
