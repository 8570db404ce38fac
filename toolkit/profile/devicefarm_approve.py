"""Asking before Device Farm bills: each pool's estimated device minutes, one question, then the approval.

Above the device (:mod:`toolkit.profile.devicefarm`) and the device registry (:mod:`toolkit.profile.devices`),
which it uses; the request itself, which the device reads, stays below in :mod:`toolkit.profile.devicefarm_request`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError, UsageError
from toolkit.profile.devicefarm_request import FarmRequest, app_platform, farm_request
from toolkit.profile.devicefarm_spec import APP_FORMATS, Estimate, estimate, plan_run, run_minutes
from toolkit.profile.protocol import ProfileConfig

__all__ = ["approve_runs"]


def _planned_minutes(device: Any, planned: Sequence[Any], config: ProfileConfig) -> list[float]:
    """Estimated minutes of what would run there: artifacts on disk, or sweep combinations not built yet."""
    from toolkit.cost import count

    out = []
    for item in planned:
        if isinstance(item, Path):
            with contextlib.suppress(ToolkitError):  # refused artifacts cost nothing: they are never sent
                out.append(plan_run(device.platform, item, config).minutes)
        elif item.artifact(Path()).suffix in APP_FORMATS[device.platform]:
            out.append(run_minutes(count(item.alpha, item.resolution).macs, config))
    return out


def approve_runs(
    specs: Sequence[str],
    *,
    apk: Path | None,
    ipa: Path | None,
    config: ProfileConfig,
    planned: Sequence[Any],
    yes: bool,
    interactive: bool,
    ask: Callable[[str], bool],
    echo: Callable[[str], None],
) -> contextlib.AbstractContextManager[None]:
    """Check the app, print each pool's device minutes, ask once; a context giving the devices their request.

    ``planned`` is what will be measured: artifact paths (``toolkit profile``) or the sweep's combinations
    (anything with ``alpha``, ``resolution`` and ``artifact(dir)``), an upper bound since a sweep skips
    what is stored. Each device refuses to schedule more device minutes than were approved here. Without a
    ``devicefarm:`` spec this only checks that no app was given for nothing.
    """
    from toolkit.profile.devicefarm import DeviceFarmDevice
    from toolkit.profile.devices import device_kind

    farm = [s.split(":", 1)[1] for s in specs if device_kind(s) == "devicefarm"]
    if not farm:
        if apk or ipa:
            raise UsageError("--apk/--ipa name the app for devicefarm:PROJECT/POOL devices; no such device was given")
        return contextlib.nullcontext()
    if (apk is None) == (ipa is None):
        raise UsageError("devicefarm devices need the demo app: pass --apk app-debug.apk or --ipa BenchApp.ipa "
                         "(one of them)")  # fmt: skip
    app = Path(apk or ipa)  # type: ignore[arg-type]
    app_platform(app)
    approved: dict[str, float] = {}
    for ident in farm:
        device = DeviceFarmDevice(ident, request=FarmRequest(app))
        minutes = _planned_minutes(device, planned, config)
        est = estimate(len(device.resolve()[2]), minutes)
        if not minutes:
            echo(f"devicefarm:{ident}: nothing to run (none of the artifacts runs in the {device.platform} app)")
            continue
        approved[ident] = est.minutes
        echo(f"devicefarm:{ident}: {est.line()}")
    if approved and not yes:
        if not interactive:
            raise UsageError("Device Farm bills device minutes: re-run with --yes to schedule (nothing was asked: "
                             "no terminal)")  # fmt: skip
        if not ask("Schedule on AWS Device Farm?"):
            raise ToolkitError("not scheduled: nothing was uploaded to Device Farm")

    def approve(ident: str, est: Estimate) -> bool:
        return est.minutes <= approved.get(ident, -1.0) + 1e-6

    return farm_request(FarmRequest(app, approve))
