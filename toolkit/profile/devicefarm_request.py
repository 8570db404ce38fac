"""What a ``devicefarm:PROJECT/POOL`` device needs besides its spec: the demo app, and approved device minutes.

Device Farm bills every device minute, so nothing is scheduled without a yes.
:func:`toolkit.profile.devicefarm_approve.approve_runs` (the CLI calls it before anything is built or uploaded)
checks the app, prints each pool's estimate (devices ×
estimated minutes per artifact, and the most the execution timeout lets it cost), asks once (``--yes``
skips the question; without a terminal and without ``--yes`` it refuses in one line) and returns a context in
which every ``devicefarm:`` device gets a :class:`FarmRequest`. Each device checks its exact estimate
against what was approved right before it schedules (:func:`farm_request` makes the request visible to the
devices the fan-out creates in its threads).
"""

from __future__ import annotations

import contextlib
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import UsageError
from toolkit.profile.devicefarm_spec import Estimate

__all__ = ["APPS", "FarmRequest", "app_platform", "current_request", "farm_request", "split_spec"]

APPS = {".apk": ("android", "ANDROID_APP"), ".ipa": ("ios", "IOS_APP")}  # app file → platform, upload type


def app_platform(app: Path) -> str:
    """``android`` for the demo app's .apk, ``ios`` for its .ipa; UsageError for anything else."""
    from toolkit.profile.android_protocol import PACKAGE
    from toolkit.profile.ios import BUNDLE_ID

    app = Path(app)
    if app.suffix not in APPS:
        raise UsageError(f"{app.name} is not an app Device Farm installs: pass the demo app's .apk or .ipa")
    if not app.is_file():
        raise UsageError(f"app not found: {app}")
    platform = APPS[app.suffix][0]
    try:
        with zipfile.ZipFile(app) as z:
            names = z.namelist()
            if platform == "android":
                manifest = z.read("AndroidManifest.xml") if "AndroidManifest.xml" in names else b""
                ok = PACKAGE.encode("utf-16-le") in manifest or PACKAGE.encode() in manifest  # binary XML strings
            else:
                plists = [n for n in names if n.startswith("Payload/") and n.endswith(".app/Info.plist")]
                ok = any(BUNDLE_ID.encode() in z.read(n) for n in plists)
    except zipfile.BadZipFile:
        raise UsageError(f"{app.name} is not an app package (not a zip archive)") from None
    if not ok:
        ident = PACKAGE if platform == "android" else BUNDLE_ID
        raise UsageError(f"{app.name} is not the toolkit's demo app (no {ident} in it): build android_demo/ or "
                         "ios_demo/ (see their READMEs)")  # fmt: skip
    return platform


@dataclass(frozen=True)
class FarmRequest:
    """What a ``devicefarm:`` device needs besides its spec: the app, and who approves the device minutes."""

    app: Path
    approve: Callable[[str, Estimate], bool] = field(default=lambda spec, estimate: False)

    @property
    def platform(self) -> str:
        return APPS[Path(self.app).suffix][0]


_REQUEST: FarmRequest | None = None
_REQUEST_LOCK = threading.Lock()


@contextlib.contextmanager
def farm_request(request: FarmRequest | None) -> Iterator[None]:
    """Make ``request`` the one every ``devicefarm:`` device created inside the block uses (all threads)."""
    global _REQUEST
    with _REQUEST_LOCK:
        before, _REQUEST = _REQUEST, request
    try:
        yield
    finally:
        with _REQUEST_LOCK:
            _REQUEST = before


def current_request() -> FarmRequest | None:
    return _REQUEST


def split_spec(ident: str) -> tuple[str, str]:
    """``PROJECT/POOL`` → (project, pool); each a name or an ARN (a pool ARN holds a '/' of its own)."""
    project, sep, pool = ident.strip().partition("/")
    if not sep or not project.strip() or not pool.strip():
        raise UsageError(f"devicefarm needs PROJECT/POOL (names or ARNs), e.g. 'devicefarm:my-app/Top Devices'; "
                         f"got {ident!r}")  # fmt: skip
    return project.strip(), pool.strip()
