"""Set up the fake phone(s) for a test: state dir, ``adb`` wrapper first on PATH (see fake_adb.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["PIXEL_PROPS", "FakePhones"]

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
        self._write({"devices": {}})

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

    def file(self, serial: str, device_path: str) -> Path:
        return self.state / "fs" / serial / device_path.lstrip("/")

    def env(self) -> dict[str, str]:
        """PATH with the fake adb first, and the state dir for it."""
        return {"PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}", "FAKE_ADB_STATE": str(self.state)}
