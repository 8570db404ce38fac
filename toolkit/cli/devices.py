"""``toolkit android ...``, ``toolkit ios ...`` and ``toolkit aihub ...``: the phones the toolkit can reach.

Each platform is a typer sub-app registered on the main app; the iOS group goes beside
:data:`android_app` as ``ios_app`` with ``app.add_typer(ios_app, name="ios")``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli._app import app, console

__all__ = ["aihub_app", "android_app", "find_apk", "ios_app"]

android_app = typer.Typer(help="The Android demo app: install it, list phones.", no_args_is_help=True)
app.add_typer(android_app, name="android")

_REPO = Path(__file__).resolve().parents[2]
# Gradle's debug APK (real ExecuTorch/LiteRT runtimes) first, then the Debian smoke build (stubs only).
APK_CANDIDATES = (
    _REPO / "android_demo" / "app" / "build" / "outputs" / "apk" / "debug" / "app-debug.apk",
    _REPO / "build" / "android" / "app-debug.apk",
)


def find_apk(apk: Path | None) -> Path:
    """The APK to install: ``--apk``, else the newest built one; ToolkitError says how to build it."""
    from toolkit.errors import ToolkitError, UsageError

    if apk is not None:
        if not apk.is_file():
            raise UsageError(f"APK not found: {apk}")
        return apk
    for candidate in APK_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise ToolkitError(
        "no built APK: run `./gradlew assembleDebug` in android_demo/ (see android_demo/README.md), or pass --apk"
    )


@android_app.command("install")
def android_install(
    apk: Path = typer.Option(None, "--apk", help="APK to install (default: the Gradle or smoke-build debug APK)."),
    serial: str = typer.Option(None, "--serial", "-s", help="Phone serial (see `toolkit android devices`)."),
) -> None:
    """Install (or update) the demo app on the attached phone."""
    from toolkit.profile.android import AndroidDevice

    path = find_apk(apk)
    if path == APK_CANDIDATES[1]:
        console.print("[yellow]note:[/] this is the smoke-build APK (no ExecuTorch/LiteRT runtimes); "
                      "build with Gradle for real runs")  # fmt: skip
    device = AndroidDevice(serial)
    device.install(path)
    console.print(f"installed {path.name} on {device.describe()['name']} ({device.serial})")


@android_app.command("devices")
def android_devices() -> None:
    """List attached Android devices as adb sees them."""
    from toolkit.profile.android import list_devices

    found = list_devices()
    if not found:
        console.print("no Android device: connect a phone with USB debugging enabled")
    for d in found:
        console.print(f"{d['serial']}\t{d['state']}\t{d.get('model', '')}")


ios_app = typer.Typer(help="The iOS demo app: list iPhones and whether they can run benchmarks.", no_args_is_help=True)
app.add_typer(ios_app, name="ios")


@ios_app.command("devices")
def ios_devices() -> None:
    """List connected iPhones: pairing, iOS version, Developer Mode, benchmark app installed."""
    from toolkit.profile.ios import list_phones

    phones = list_phones()
    if not phones:
        console.print("no iPhone connected: plug it in by USB, unlock it and tap Trust")
    for p in phones:
        if p["pair_state"] != "paired":
            console.print(f"{p['udid']}\t{p['pair_state']}")
            continue
        mode = {True: "on", False: "OFF", None: "n/a"}[p["developer_mode"]]
        app_state = "installed" if p["app_installed"] else "NOT installed (build ios_demo in Xcode)"
        console.print(f"{p['udid']}\t{p['name']}\tiOS {p['ios']}\tdeveloper mode {mode}\tapp {app_state}")


aihub_app = typer.Typer(help="Qualcomm AI Hub's cloud phones: list them, see the toolkit's jobs.", no_args_is_help=True)
app.add_typer(aihub_app, name="aihub")


@aihub_app.command("devices")
def aihub_devices(
    all_kinds: bool = typer.Option(False, "--all", help="Also list non-phone devices (compute, auto, IoT)."),
) -> None:
    """The devices AI Hub offers: the names `--device aihub:NAME` takes, with chipset and OS."""
    from toolkit.profile.aihub import list_devices

    for d in list_devices():
        attrs = dict(a.split(":", 1) for a in d.attributes if ":" in a)
        if all_kinds or attrs.get("os") in ("android", "ios"):
            console.print(f"{d.name}\t{attrs.get('os', '?')} {d.os}\t{attrs.get('chipset', '?')}", highlight=False)


@aihub_app.command("jobs")
def aihub_jobs(
    db: Path = typer.Option(None, "--db", help="Results DB (default: $TOOLKIT_RESULTS or results/results.db)."),
) -> None:
    """The AI Hub jobs the toolkit submitted: state, device, and the page with the service's logs."""
    from toolkit.results import ResultsDB

    with ResultsDB(db) as store:
        jobs = store.jobs("aihub")
    if not jobs:
        console.print("no AI Hub jobs in this results DB")
    for j in jobs:
        reason = f"\t{j['message']}" if j["state"] == "failed" and j["message"] else ""
        console.print(f"{j['job_id']}\t{j['state']}\t{j['kind']}\t{j['device']}\t{j['url'] or ''}{reason}",
                      highlight=False)  # fmt: skip
