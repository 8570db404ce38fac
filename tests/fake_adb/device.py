"""Set up the fake phone(s) for a test: state dir, ``adb`` wrapper first on PATH (see fake_adb.py).

The fake phone runs the app's own Java code: :func:`app_classes` compiles benchcore, the app's runtime
backends and the fake runtime classes (``java/``) once per test session.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["APP_BACKENDS", "PIXEL_PROPS", "FakePhones", "app_classes", "bridge_server", "java_sources"]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# The app's pure-Java runtime layer: compiled into the fake phone as it is compiled into the APK.
APP_BACKENDS = tuple(
    ROOT / "android_demo/app/src/main/java/org/mobilenet/toolkit/demo" / f"{name}.java"
    for name in ("Backends", "LiteRtBackend", "ExecuTorchBackend", "Versions")
)
BUNDLED_PHOTO = ROOT / "toolkit/assets/images/chelsea_cat.jpg"  # what scripts/build_android_apk.sh bundles


def java_sources() -> list[Path]:
    """benchcore's main sources, the app's backends, and the fake phone (platform, bridge, fake runtimes)."""
    core = sorted((ROOT / "android_demo/benchcore/src/main/java").rglob("*.java"))
    return [*core, *APP_BACKENDS, *sorted((HERE / "java").rglob("*.java"))]


@functools.cache
def app_classes() -> Path:
    """The fake phone's compiled classes (once per session); skips the calling test without a JDK."""
    import pytest

    if not (shutil.which("javac") and shutil.which("java")):
        pytest.skip("the fake phone runs the app's Java code: needs a JDK (apt-get install default-jdk-headless)")
    out = Path(tempfile.mkdtemp(prefix="fake-phone-classes-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    done = subprocess.run(["javac", "-encoding", "UTF-8", "-nowarn", "-d", str(out), *map(str, java_sources())],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the fake phone's Java does not compile:\n{done.stderr}")
    return out


@functools.cache
def bridge_server() -> str:
    """The session's runtime bridge (runtime_bridge.py) on a Unix socket; its path. Imports happen once."""
    import time

    folder = Path(tempfile.mkdtemp(prefix="fake-phone-bridge-"))
    sock = folder / "bridge.sock"
    log = (folder / "bridge.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(HERE / "runtime_bridge.py"), str(sock)], stdout=log, stderr=log,
                            env=env, start_new_session=True)  # fmt: skip

    def stop() -> None:
        proc.kill()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 60
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the runtime bridge did not start: {(folder / 'bridge.log').read_text()[-2000:]}")
        time.sleep(0.05)
    return str(sock)


def _litert_version() -> str:
    for dist in ("ai-edge-litert", "tflite-runtime"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


PIXEL_PROPS = {
    "ro.product.manufacturer": "Google",
    "ro.product.model": "Pixel 8",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.soc.manufacturer": "Google",
    "ro.soc.model": "Tensor G3",
    "ro.board.platform": "zuma",
    "ro.hardware": "shiba",
    "ro.product.cpu.abi": "arm64-v8a",
}


class FakePhones:
    """The attached phones; ``add`` one per serial, then run the code under test with ``env``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        (self.state / "fs").mkdir(parents=True, exist_ok=True)
        self.bin = root / "bin"
        self.bin.mkdir(exist_ok=True)
        script = Path(__file__).with_name("fake_adb.py")
        adb = self.bin / "adb"
        adb.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
        adb.chmod(0o755)
        jvm = {"classpath": str(app_classes()), "bridge_socket": bridge_server(),
               "litert_version": _litert_version(), "photo": str(BUNDLED_PHOTO)}  # fmt: skip
        self._write({"devices": {}, "jvm": jvm})

    def _write(self, data: dict[str, Any]) -> None:
        (self.state / "state.json").write_text(json.dumps(data, indent=1))

    def read(self) -> dict[str, Any]:
        return json.loads((self.state / "state.json").read_text())

    def add(self, serial: str, *, state: str = "device", installed: bool = True, **extra: Any) -> None:
        data = self.read()
        data["devices"][serial] = {"state": state, "model": "Pixel_8", "props": dict(PIXEL_PROPS),
                                   "installed": installed, **extra}  # fmt: skip
        self._write(data)

    def update(self, serial: str, **changes: Any) -> None:
        data = self.read()
        data["devices"][serial].update(changes)
        self._write(data)

    def calls(self) -> list[list[str]]:
        """Every adb invocation so far, as argument lists (``-s SERIAL`` included)."""
        path = self.state / "adb-calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def shell_lines(self) -> list[str]:
        """The command lines sent with ``adb shell``, in order."""
        lines = []
        for argv in self.calls():
            while argv[:1] == ["-s"]:
                argv = argv[2:]
            if argv[:1] == ["shell"]:
                lines.append(" ".join(argv[1:]))
        return lines

    def wait_idle(self, serial: str, timeout_s: float = 60.0) -> None:
        """Wait until the fake app's last process (JVM and runtime bridges) has exited."""
        import time

        pid = self.read()["devices"].get(serial, {}).get("app_pid")
        deadline = time.monotonic() + timeout_s
        while pid and time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def file(self, serial: str, device_path: str) -> Path:
        return self.state / "fs" / serial / device_path.lstrip("/")

    def env(self) -> dict[str, str]:
        """PATH with the fake adb first, and the state dir for it."""
        return {"PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}", "FAKE_ADB_STATE": str(self.state)}
