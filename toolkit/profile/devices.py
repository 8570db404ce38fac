"""``--device`` specs → backends: ``host``, ``android[:SERIAL]``, ``android:all``, ``ios[:UDID]``, ``aihub:NAME``,
``devicefarm:PROJECT/POOL``.

The phone and cloud modules are imported only when asked for, so profiling on the host never loads adb,
usbmux or the AI Hub client. ``android:all`` stands for every phone adb lists, expanded once by
:func:`expand_specs` so each phone becomes a device of its own in a fan-out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from toolkit.errors import UsageError
from toolkit.profile.protocol import DeviceBackend

__all__ = ["DEVICE_KINDS", "device_kind", "expand_specs", "get_device"]

DEVICE_KINDS = ("host", "android[:SERIAL]", "android:all", "ios[:UDID]", "aihub:NAME", "devicefarm:PROJECT/POOL")
_KINDS = ("host", "android", "ios", "aihub", "devicefarm")
_NEEDS_IDENT = {
    "aihub": " (aihub needs the phone's name, e.g. 'aihub:Samsung Galaxy S24')",
    "devicefarm": " (devicefarm needs a project and a device pool, e.g. 'devicefarm:my-app/Top Devices')",
}


def _split(spec: str) -> tuple[str, str]:
    kind, _, ident = (spec or "").strip().partition(":")
    kind, ident = kind.strip().lower(), ident.strip()
    if kind not in _KINDS or (kind == "host" and ident) or (kind in _NEEDS_IDENT and not ident):
        hint = _NEEDS_IDENT.get(kind, "")
        raise UsageError(f"unknown device {spec!r}; choose one of: {', '.join(DEVICE_KINDS)}{hint}")
    return kind, ident


def device_kind(spec: str) -> str:
    """The backend kind a spec names (host, android, ios, aihub or devicefarm); UsageError for anything else."""
    return _split(spec)[0]


def expand_specs(specs: Iterable[str]) -> list[str]:
    """Validated specs in order, duplicates dropped, ``android:all`` replaced by one spec per attached phone."""
    out: list[str] = []
    for spec in specs:
        kind, ident = _split(spec)
        if kind == "android" and ident.lower() == "all":
            from toolkit.profile.android import AndroidDeviceError, list_devices

            phones = list_devices()
            if not phones:
                raise AndroidDeviceError("android:all: no Android device attached (adb devices lists none)")
            expanded = [f"android:{p['serial']}" for p in phones]
        else:
            expanded = [f"{kind}:{ident}" if ident else kind]
        out += [s for s in expanded if s not in out]
    return out


def get_device(
    spec: str, *, store: Any = None, progress: Callable[[str, str], None] | None = None, stop: Any = None
) -> DeviceBackend:
    """The backend for ``spec``; UsageError lists the valid forms for anything else.

    ``store`` (a results DB), ``progress`` and ``stop`` matter to cloud devices, which keep job ids in the
    store, report job states as they change and return early when ``stop`` (a threading.Event) is set.
    """
    kind, ident = _split(spec)
    if kind == "host":
        from toolkit.profile.host import HostDevice

        return HostDevice()
    if kind == "android":
        if ident.lower() == "all":
            raise UsageError("android:all stands for several phones: expand it with expand_specs() first")
        from toolkit.profile.android import AndroidDevice

        return AndroidDevice(ident or None)
    if kind == "ios":
        from toolkit.profile.ios import IOSDevice

        return IOSDevice(ident or None)
    if kind == "devicefarm":  # the app comes from the CLI's request (toolkit.profile.devicefarm_request)
        from toolkit.profile.devicefarm import DeviceFarmDevice

        return DeviceFarmDevice(ident, store=store, progress=progress, stop=stop)
    from toolkit.profile.aihub import AIHubDevice

    return AIHubDevice(ident, store=store, progress=progress, stop=stop)
