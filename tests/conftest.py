"""Session-wide test setup: the toolkit's per-user files and the measurement locks live in this session's own dirs.

The lock (toolkit/profile/lock.py) is per machine on purpose; a test session sharing it with another session,
or with a real sweep on the same machine, would wait for it. Tests that exercise the lock set their own.
Without a data dir of its own, a test that runs a command on its defaults would write into the real user's data
directory (results DB, logs, sweep artifacts) and read whatever results a previous sweep left there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

os.environ.setdefault("TOOLKIT_LOCK_DIR", tempfile.mkdtemp(prefix="toolkit-test-locks-"))


@pytest.fixture(autouse=True, scope="session")
def _toolkit_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("TOOLKIT_HOME", "TOOLKIT_RESULTS")}
    os.environ["TOOLKIT_HOME"] = str(tmp_path_factory.mktemp("toolkit_home"))  # subprocesses inherit it
    os.environ.pop("TOOLKIT_RESULTS", None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
