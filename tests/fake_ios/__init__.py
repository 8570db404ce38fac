"""A fake iPhone for the iOS backend's tests: same Transport interface, the demo app played on the host.

The phone keeps its app's Documents in a temp dir. Launching the app with the benchmark arguments runs,
in a background thread as the real app would, what the iOS app does: read the manifest from
Documents/models/, preprocess a real photo at the manifest's resolution, load the artifact in its HOST
runtime (toolkit.runtimes.open_runner; .mlpackage cannot run on Linux, so that writes an error file like
the app does when a model fails), time load / first inference / warm-up / iterations with a monotonic
clock, and write Documents/results/ID.json in the shared schema. Faults (no pairing, Developer Mode off,
app missing, locked or unplugged after N launches, a hung app) are switches on :class:`FakePhone`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from toolkit.profile.ios import BUNDLE_ID, PhoneInfo

__all__ = ["FakePhone", "FakeTransport"]


@dataclass
class FakePhone:
    udid: str
    documents: Path
    product_type: str = "iPhone16,1"
    name: str = "iPhone 15 Pro"
    ios_version: str = "17.5.1"
    pair_state: str = "paired"
    developer_mode: bool | None = True
    apps: set[str] = field(default_factory=lambda: {BUNDLE_ID})
    unplug_after_launches: int | None = None
    lock_after_launches: int | None = None
    hang: bool = False
    launches: list[list[str]] = field(default_factory=list)
    pushes: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)


class FakeTransport:
    """Implements toolkit.profile.ios.Transport against FakePhone objects."""

    def __init__(self, *phones: FakePhone) -> None:
        self.phones = {p.udid: p for p in phones}

    def _phone(self, udid: str) -> FakePhone:
        if udid not in self.list_devices():
            raise ConnectionError(f"device {udid} disconnected")  # what usbmux reports for a gone phone
        return self.phones[udid]

    def list_devices(self) -> list[str]:
        # unplug_after_launches=N: the phone is gone as soon as launch N+1 has happened.
        return sorted(u for u, p in self.phones.items()
                      if p.unplug_after_launches is None or len(p.launches) <= p.unplug_after_launches)  # fmt: skip

    def pair_state(self, udid: str) -> str:
        return self._phone(udid).pair_state

    def info(self, udid: str) -> PhoneInfo:
        p = self._phone(udid)
        return PhoneInfo(udid, p.name, p.product_type, p.ios_version, p.developer_mode)

    def app_installed(self, udid: str, bundle_id: str) -> bool:
        return bundle_id in self._phone(udid).apps

    def push(self, udid: str, bundle_id: str, local: Path, remote_dir: str) -> None:
        self._phone(udid).pushes.append(local.name)
        dest = self._phone(udid).documents / remote_dir / local.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():
            shutil.rmtree(dest)
        (shutil.copytree if local.is_dir() else shutil.copyfile)(local, dest)

    def pull(self, udid: str, bundle_id: str, remote: str) -> bytes | None:
        path = self._phone(udid).documents / remote
        return path.read_bytes() if path.is_file() else None

    def launch(self, udid: str, bundle_id: str, arguments: list[str]) -> None:
        p = self._phone(udid)
        if p.lock_after_launches is not None and len(p.launches) >= p.lock_after_launches:
            raise RuntimeError("Unable to launch because the device was not, or could not be, unlocked")
        if bundle_id not in p.apps:
            raise RuntimeError(f"no app {bundle_id}")
        p.launches.append(list(arguments))
        if p.hang:
            return
        thread = threading.Thread(target=_benchmark_app, args=(p, arguments), daemon=True)
        p.threads.append(thread)
        thread.start()

    def battery_temperature_c(self, udid: str) -> float | None:
        return 30.5 + 0.5 * len(self._phone(udid).launches)


def _args(argv: list[str]) -> dict[str, str]:
    assert argv[0] == "--benchmark", argv
    return {argv[i][2:]: argv[i + 1] for i in range(1, len(argv), 2)}


def _benchmark_app(phone: FakePhone, argv: list[str]) -> None:
    """The iOS app's headless mode, on the host: writes results/ID.json or results/ID.error.txt."""
    a = _args(argv)
    results = phone.documents / "results"
    results.mkdir(parents=True, exist_ok=True)
    try:
        record = _measure(phone, a)
    except Exception as e:  # the app reports any failure as one line
        _atomic(results / f"{a['run-id']}.error.txt", f"{type(e).__name__}: {str(e).splitlines()[0]}\n")
        return
    _atomic(results / f"{a['run-id']}.json", json.dumps(record, indent=2))


def _measure(phone: FakePhone, a: dict[str, str]) -> dict:
    from toolkit.data import Preprocessing, load_batch, sample_image_paths
    from toolkit.profile.stats import summarize
    from toolkit.runtimes import open_runner, read_manifest, to_layout

    model = phone.documents / "models" / a["model"]
    manifest = read_manifest(model)
    x = load_batch(sample_image_paths()[:1], manifest["variant"]["resolution"],
                   Preprocessing.from_dict(manifest["preprocessing"]))  # fmt: skip
    x = to_layout(x, manifest["input"]["layout"])
    t0 = time.perf_counter_ns()
    runner = open_runner(model, threads=int(a["threads"]))
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    try:
        t0 = time.perf_counter_ns()
        runner.run(x)
        first_ms = (time.perf_counter_ns() - t0) / 1e6
        for _ in range(int(a["warmup"])):
            runner.run(x)
        samples: list[float] = []
        deadline = time.monotonic() + float(a["duration"]) if "duration" in a else None
        while (time.monotonic() < deadline or not samples) if deadline else len(samples) < int(a["iterations"]):
            t0 = time.perf_counter_ns()
            runner.run(x)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
        version = runner.version
    finally:
        runner.close()
    return {
        "schema_version": 1,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": {
            "kind": "ios",
            "name": phone.product_type,
            "os": f"iOS {phone.ios_version}",
            "cores": os.cpu_count(),
        },
        "runtime": {"name": manifest["runtime"]["name"], "version": version, "delegate": a["compute-units"]},
        "artifact": {
            "sha256": manifest["artifact"]["sha256"],
            "file": manifest["artifact"]["file"],
            "variant": manifest["variant"]["name"],
            "target": manifest["target"],
            "precision": manifest["precision"],
            "weights": manifest["weights"]["kind"],
        },
        "config": {"threads": int(a["threads"]), "warmup": int(a["warmup"]), "iterations": len(samples), "batch": 1},
        "latency_ms": samples,
        "stats": summarize(samples).to_dict(),
        "load_ms": load_ms,
        "first_inference_ms": first_ms,
        "temperature_c": {"thermal_state": "nominal"},
    }


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
