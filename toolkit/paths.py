"""Where the toolkit keeps its own files: one per-user data directory, not the current directory.

Why: results measured from one folder must be found from any other (``toolkit select`` after a sweep run
elsewhere), so the results DB, the sweep's artifacts and reports, and the console logs live in the
platform's data directory. ``$TOOLKIT_HOME`` moves all of it; ``$TOOLKIT_RESULTS`` (or ``--db``) moves
only the DB. Downloads stay in the cache directory (:func:`toolkit.weights.cache_dir`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["APP_DIR_NAME", "HOME_ENV", "data_dir", "describe"]

APP_DIR_NAME = "mobilenet-toolkit"
HOME_ENV = "TOOLKIT_HOME"


def data_dir() -> Path:
    """``$TOOLKIT_HOME``, else the platform's per-user data directory plus ``mobilenet-toolkit``.

    Linux and other Unix: ``$XDG_DATA_HOME`` or ``~/.local/share``; macOS: ``~/Library/Application
    Support``; Windows: ``%LOCALAPPDATA%``. Not created here: writers create what they write.
    """
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / APP_DIR_NAME


def describe(path: str | os.PathLike[str]) -> str:
    """A path as a user should read it: relative when under the current directory, else absolute."""
    p = Path(path).expanduser()
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p.resolve()) if not p.is_absolute() else str(p)
