"""Ctrl-C that means stop, without leaving anything half-written.

Every writer writes a temp file and renames it into place, and removes the temp file when interrupted. A
few steps rename several files that only make sense together (an artifact and its manifest); they run
inside :func:`deferred`, which holds a Ctrl-C until the step is complete and then raises it.

Python delivers Ctrl-C to the main thread only. Work in other threads (a device measuring in the fan-out)
learns of it through :data:`requested`, which long loops poll with :func:`check` between steps: a thread
still inside a runtime when the process exits can abort it from C++ ("terminate called ...").
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["check", "deferred", "requested"]

requested = threading.Event()  # set from Ctrl-C until the threads it concerns have stopped


def check() -> None:
    """Raise KeyboardInterrupt in this thread if Ctrl-C was pressed (cheap: call it between steps)."""
    if requested.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run the block to completion even if SIGINT arrives; raise KeyboardInterrupt after it, if one did.

    Only the main thread receives signals in Python; elsewhere (and under a non-default handler that
    someone else installed, such as training's stop flag) the block just runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield
        return
    caught: list[Any] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
