"""One measurer at a time: a lock per machine (``host``) and per phone serial, across processes and users.

Why: two sweeps timing on the same two cores at once both get wrong numbers and neither knows. Whoever
times on a device (or builds on this host, which disturbs its timings) holds that device's lock; a second
measurer waits with one line saying for whom, or with ``wait=False`` stops with :class:`LockBusyError`.

How: a file per device under :func:`lock_dir` (``$TOOLKIT_LOCK_DIR``, else ``<tmp>/mobilenet-toolkit-locks``),
held with ``flock`` for as long as the measurement lasts, and holding the owner's pid, process start time,
command line and since when. The kernel drops a dead process's ``flock``, so a killed measurer never blocks
the next one; its note stays, and the next owner reads it: a pid that no longer runs the process that wrote
it (no such pid, or a pid reused by a process started at another time, or a zombie) is a stale owner, taken
over with one line. A note whose pid *and* start time still match a living process is respected even if
its ``flock`` is gone (a file system without working ``flock``): the newcomer waits.

The lock is re-entrant within a process (a sweep holds ``host`` while its measurement asks for it again)
and cheap: two system calls and a small write (benchmarks/bench_compare.py measures it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import functools
import json
import os
import re
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

__all__ = ["ENV_VAR", "LockBusyError", "device_lock_name", "lock_dir", "measurement_lock", "owner_alive",
           "process_start_time"]  # fmt: skip

ENV_VAR = "TOOLKIT_LOCK_DIR"
POLL_S = 0.5

_held: dict[str, list[Any]] = {}  # name -> [file, depth] for the locks this process holds
_guard = threading.Lock()


class LockBusyError(ToolkitError):
    """Another measurer holds the device and the caller asked not to wait (exit code 75, EX_TEMPFAIL)."""

    exit_code = 75


def lock_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or Path(tempfile.gettempdir()) / "mobilenet-toolkit-locks")


def device_lock_name(description: Mapping[str, Any]) -> str | None:
    """``host``, ``android-SERIAL``, ``ios-UDID``; None for a device no local measurer can disturb (cloud)."""
    kind = description.get("kind")
    if description.get("service") or kind not in ("host", "android", "ios"):
        return None
    if kind == "host":
        return "host"
    ident = description.get("serial") or description.get("name") or "default"
    return f"{kind}-{re.sub(r'[^A-Za-z0-9._-]', '_', str(ident))}"


def process_start_time(pid: int) -> int | None:
    """Clock ticks after boot at which ``pid`` started (field 22 of /proc/PID/stat); None if it is gone or a
    zombie. Two processes with one pid never share a start time, which is what makes a stale note certain."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()  # the command name may hold spaces and parentheses
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def owner_alive(owner: Mapping[str, Any]) -> bool:
    """True while the process the note names still runs (same pid, same start time)."""
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    start = process_start_time(pid)
    if start is None:
        if sys.platform.startswith("linux"):
            return False
        try:  # no /proc: the pid alone is all there is
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return owner.get("start_time") in (None, start)


def _describe(owner: Mapping[str, Any]) -> str:
    cmd = owner.get("command") or "?"
    return f"pid {owner.get('pid')} ({cmd[:120]}{'…' if len(cmd) > 120 else ''}) since {owner.get('since', '?')}"


def _read(f: Any) -> dict[str, Any] | None:
    f.seek(0)
    text = f.read().strip()
    if not text:
        return None
    try:
        owner = json.loads(text)
    except json.JSONDecodeError:
        return None
    return owner if isinstance(owner, dict) else None


@functools.cache
def _own_start_time(pid: int) -> int | None:
    """This process's start time, read once (a /proc open is most of what taking the lock costs); keyed by
    pid so that a forked child reads its own."""
    return process_start_time(pid)


def _write_owner(f: Any) -> None:
    me = {"pid": os.getpid(), "start_time": _own_start_time(os.getpid()),
          "command": shlex.join(sys.argv) if sys.argv and sys.argv[0] else sys.executable,
          "since": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")}  # fmt: skip
    f.seek(0)
    f.truncate()
    f.write(json.dumps(me))
    f.flush()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def measurement_lock(
    name: str | None, *, wait: bool = True, say: Callable[[str], None] | None = None, poll_s: float = POLL_S
) -> Iterator[None]:
    """Hold the measurement lock ``name`` (None: no lock) for the ``with`` block; see the module docstring."""
    if name is None:
        yield
        return
    say = say or _say
    with _guard:
        if name in _held:
            _held[name][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[name][1] -= 1
        return
    f = _acquire(name, wait, say, poll_s)
    with _guard:
        _held[name] = [f, 1]
    try:
        yield
    finally:
        with _guard:
            del _held[name]
        try:
            f.seek(0)
            f.truncate()  # a clean release leaves no note to take over
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()


def _acquire(name: str, wait: bool, say: Callable[[str], None], poll_s: float) -> Any:
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)  # another user's measurer must be able to take it after us
    f = os.fdopen(fd, "r+", encoding="utf-8")
    told = False
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            got = True
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                f.close()
                raise
            got = False
        owner = _read(f)
        mine = owner is not None and owner.get("pid") == os.getpid()
        if got and (owner is None or mine or not owner_alive(owner)):
            if owner is not None and not mine:
                say(f"took over the {name} measurement lock left by {_describe(owner)}: that process is gone")
            _write_owner(f)
            return f
        if got:  # a living owner without its flock (no working flock here): respect the note
            fcntl.flock(f, fcntl.LOCK_UN)
        who = _describe(owner) if owner else "another process"
        if not wait:
            f.close()
            raise LockBusyError(f"{name} is being measured by {who}; not waiting (--no-wait): try again later")
        if not told:
            say(f"waiting for the {name} measurement lock: held by {who}")
            told = True
        time.sleep(poll_s)
