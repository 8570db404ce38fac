"""Ctrl-C that means stop, without leaving anything half-written.

Every writer writes a temp file and renames it into place, and removes the temp file when interrupted. A
few steps rename several files that only make sense together (an artifact and its manifest); they run
inside :func:`deferred`, which holds a Ctrl-C until the step is complete and then raises it.

Imports: the CLI imports torch, numpy and the runtimes lazily, inside a command. A KeyboardInterrupt that
lands inside one of those imports leaves the library half-initialized (numpy without ``multiply``, a later
"internal error"), or is swallowed by the library's own import fallbacks. The CLI's handler
(:func:`installed`) therefore never raises inside an import: it asks again 50 ms later, until the import is done.

Python delivers Ctrl-C to the main thread only. Work in other threads (a device measuring in the fan-out)
learns of it through :data:`requested`, which long loops poll with :func:`check` between steps: a thread
still inside a runtime when the process exits can abort it from C++ ("terminate called ...").
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["check", "deferred", "installed", "requested"]

requested = threading.Event()  # set from Ctrl-C until the threads it concerns have stopped
_RETRY_S = 0.05  # how soon a Ctrl-C that arrived inside an import is raised again

_held = 0  # depth of deferred() blocks running under the CLI's handler
_pending = False  # a Ctrl-C arrived while held


def check() -> None:
    """Raise KeyboardInterrupt in this thread if Ctrl-C was pressed (cheap: call it between steps)."""
    if requested.is_set():
        raise KeyboardInterrupt


def _importing(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _held:
        _pending = True
    elif _importing(frame):  # raise it again once the import is over
        again = threading.Timer(_RETRY_S, signal.raise_signal, (signal.SIGINT,))
        again.daemon = True
        again.start()
    else:
        raise KeyboardInterrupt


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Within the block, Ctrl-C raises KeyboardInterrupt everywhere except inside an import or :func:`deferred`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the block to completion even if SIGINT arrives; raise KeyboardInterrupt after it, if one did.

    Only the main thread receives signals in Python; elsewhere (and under a handler someone else installed,
    such as training's stop flag) the block just runs.
    """
    global _held, _pending
    current = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if current is _handler:
        _held += 1
        try:
            yield
        finally:
            _held -= 1
        if not _held and _pending:
            _pending = False
            raise KeyboardInterrupt
        return
    if current is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, current)
    if caught:
        raise KeyboardInterrupt
