"""``--device`` specs → backends: ``host``, ``android[:SERIAL]``, ``ios[:UDID]``.

The phone modules are imported only when asked for, so profiling on the host never loads adb or
usbmux code.
"""

from __future__ import annotations

from toolkit.errors import UsageError
from toolkit.profile.protocol import DeviceBackend

__all__ = ["DEVICE_KINDS", "get_device"]

DEVICE_KINDS = ("host", "android[:SERIAL]", "ios[:UDID]")


def get_device(spec: str) -> DeviceBackend:
    """The backend for ``spec``; UsageError lists the valid forms for anything else."""
    kind, _, ident = (spec or "").strip().partition(":")
    kind = kind.lower()
    if kind == "host" and not ident:
        from toolkit.profile.host import HostDevice

        return HostDevice()
    if kind == "android":
        from toolkit.profile.android import AndroidDevice

        return AndroidDevice(ident or None)
    if kind == "ios":
        from toolkit.profile.ios import IOSDevice

        return IOSDevice(ident or None)
    raise UsageError(f"unknown device {spec!r}; choose one of: {', '.join(DEVICE_KINDS)}")
