"""The toolkit's own console, kept apart from what third-party libraries print.

Why: converters and runtimes print hundreds of lines a run (Python logging and warnings, tqdm bars, and C++
writing straight to file descriptor 2: ExecuTorch's threadpool and cpuinfo lines, absl, oneDNN) that bury
the result. :func:`capture` points fd 2 and ``sys.stderr`` at a log file for the rest of the command and
gives the toolkit's stderr console a duplicate of the original descriptor, so only the toolkit's own lines
reach the terminal (``toolkit --verbose`` skips the capture). An fd redirect, not a logging filter, because
the C++ lines never pass through Python; child processes (the sweep's build workers) inherit it.

Progress: :func:`task` marks one long step (an export, a measurement) and :func:`stage` names the phase it
is in (tracing, lowering, serializing, verifying, measuring): a spinner on a terminal, one plain line per
stage otherwise. Library code calls :func:`stage` freely; outside an active task it does nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

__all__ = ["capture", "err", "log_path", "new_log_path", "out", "release", "stage", "task"]

# Piped output (CI logs, `| less`) gets a wide fixed width instead of rich's 80-column default, so tables
# keep every column; a terminal keeps its own width.
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
out = Console(width=_PIPE_WIDTH)
err = Console(stderr=True, width=_PIPE_WIDTH)
_KEEP_LOGS = 20  # the newest logs kept in the log folder


@dataclass
class _Capture:
    log: Path
    saved_fd: int  # the original fd 2, restored by release()
    saved_stderr: Any  # the sys.stderr object before capture
    stream: TextIO  # the log, as sys.stderr sees it
    toolkit: TextIO  # where the toolkit's own lines go
    owns_toolkit: bool


_capture: _Capture | None = None


def _fd2_stream(stream: Any) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def new_log_path(folder: Path, command: str | None) -> Path:
    """A fresh log file name in ``folder`` (time, command, pid); the oldest beyond the newest 20 are deleted."""
    folder.mkdir(parents=True, exist_ok=True)
    old = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime)
    for p in old[: max(0, len(old) - _KEEP_LOGS + 1)]:
        p.unlink(missing_ok=True)
    return folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{command or 'toolkit'}-{os.getpid()}.log"


def capture(log: Path, header: str = "") -> Path:
    """Send fd 2 and ``sys.stderr`` to ``log`` until :func:`release`; :data:`err` keeps the real stderr."""
    global _capture
    if _capture is not None:
        return _capture.log
    log.parent.mkdir(parents=True, exist_ok=True)
    stream = open(log, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by release()
    if header:
        stream.write(header + "\n")
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    saved_fd = os.dup(2)
    owns = _fd2_stream(sys.stderr)  # a stream someone already swapped in (pytest) keeps the toolkit's lines
    toolkit = os.fdopen(os.dup(saved_fd), "w", buffering=1, encoding="utf-8", errors="replace") if owns else sys.stderr
    os.dup2(stream.fileno(), 2)
    _capture = _Capture(log, saved_fd, sys.stderr, stream, toolkit, owns)
    sys.stderr = stream
    err.file = toolkit
    return log


def release() -> Path | None:
    """Undo :func:`capture` (a no-op without one); returns the log file it wrote."""
    global _capture
    c, _capture = _capture, None
    if c is None:
        return None
    for s in (sys.stderr, c.stream, c.toolkit):
        with contextlib.suppress(OSError, ValueError):
            s.flush()
    os.dup2(c.saved_fd, 2)
    os.close(c.saved_fd)
    sys.stderr = c.saved_stderr
    err.file = None  # rich: back to whatever sys.stderr is
    if c.owns_toolkit:
        c.toolkit.close()
    c.stream.close()
    return c.log


def log_path() -> Path | None:
    """The log file of the capture in force, if any."""
    return _capture.log if _capture is not None else None


@dataclass
class _Task:
    name: str
    status: Any  # rich Status on a terminal, else None
    t0: float
    stage: str = ""


_task: _Task | None = None


@contextlib.contextmanager
def task(name: str, *, enabled: bool = True) -> Iterator[None]:
    """Show ``name`` and its current :func:`stage` while the block runs (the outermost task wins)."""
    global _task
    if not enabled or _task is not None:
        yield
        return
    status = _Spinner(name) if err.is_terminal else None
    _task = _Task(name, status, time.monotonic())
    try:
        yield
    finally:
        _task = None
        if status is not None:
            status.stop()


class _Spinner:
    """rich's ``Console.status`` without its stderr redirect, which would print captured output on the terminal."""

    def __init__(self, text: str) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self._spinner = Spinner("dots", text)
        self._live = Live(self._spinner, console=err, transient=True, redirect_stdout=False, redirect_stderr=False)
        self._live.start()

    def update(self, text: str) -> None:
        self._spinner.update(text=text)

    def stop(self) -> None:
        self._live.stop()


def stage(name: str) -> None:
    """The current task is now ``name`` (tracing, lowering, ...); shown only inside :func:`task`."""
    t = _task
    if t is None or t.stage == name:
        return
    t.stage = name
    if t.status is not None:
        t.status.update(f"{t.name}: {name}")
    else:
        err.print(f"{t.name}: {name} ({time.monotonic() - t.t0:.0f} s)", highlight=False, soft_wrap=True)
