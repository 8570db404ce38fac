"""Session-wide test setup: measurement locks live in a directory of this test session's own.

The lock (toolkit/profile/lock.py) is per machine on purpose; a test session sharing it with another session,
or with a real sweep on the same machine, would wait for it. Tests that exercise the lock set their own.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("TOOLKIT_LOCK_DIR", tempfile.mkdtemp(prefix="toolkit-test-locks-"))
