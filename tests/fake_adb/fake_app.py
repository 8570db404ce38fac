"""The fake phone's BenchmarkActivity: the app's headless benchmark, run with the host runtime.

Started in the background by the fake ``adb shell am start``. Mirrors
android_demo/app/.../BenchmarkActivity.java step by step: open the model's manifest, preprocess the
bundled photo per the manifest, pick the runtime by file type (.pte → ExecuTorch, .tflite → LiteRT,
anything else rejected with the app's message), run the BenchmarkLoop protocol (cooldown, timed
load, timed first inference, warm-up, timed iterations or duration), and write the result record, or
``<run_id>.error.json``, under the app's external files dir. A device may opt in to running .onnx
with ONNX Runtime (``"host_formats"``), which the real app cannot: the fast tests use it to skip a
~60 s ExecuTorch lowering; a slow test runs a real .pte.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

PACKAGE = "org.mobilenet.toolkit.demo"
RESULTS = f"/sdcard/Android/data/{PACKAGE}/files/results"
APP_FORMATS = {".pte": "executorch", ".tflite": "tflite"}


def main(state_dir: str, serial: str, extras_json: str) -> None:
    state = Path(state_dir)
    dev = json.loads((state / "state.json").read_text())["devices"][serial]
    extras = json.loads(extras_json)
    root = state / "fs" / serial
    run_id = str(extras.get("run_id") or f"run-{int(time.time() * 1000)}")
    out_dir = root / RESULTS.lstrip("/")

    def log(level: str, msg: str) -> None:
        with (root / ".logcat").open("a") as f:
            f.write(f"{level}/MobilenetBench({os.getpid()}): {msg}\n")

    model_path = str(extras.get("model_path", ""))
    stage = "arguments"
    try:
        if dev.get("scenario") == "never_write":
            log("I", f"run {run_id}: {Path(model_path).name} loading")
            log("W", "XNNPACK: waiting for the big cores (scripted hang)")
            return
        stage = "manifest"
        model = root / model_path.lstrip("/")
        manifest_file = model.with_name(model.name + ".manifest.json")
        if not manifest_file.is_file():
            raise OSError(f"no manifest beside {model.name} (expected {manifest_file.name})")
        manifest = json.loads(manifest_file.read_text())
        # The app builds the input first; checking the format first only saves the fake its imports.
        formats = {**APP_FORMATS, **dict.fromkeys(dev.get("host_formats", []), "host")}
        if model.suffix not in formats:
            stage = "load"
            raise ValueError(f"IllegalArgumentException: unsupported model {model.name}; the app runs .pte and .tflite")
        stage = "input"
        x = _input(manifest)
        stage = "load"
        log("I", f"run {run_id}: {model.name} on {model.suffix}")
        record = _measure(model, manifest, x, extras, dev)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / f"{run_id}.json.tmp"
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, out_dir / f"{run_id}.json")
        log("I", f"run {run_id} done: {len(record['latency_ms'])} iterations")
    except Exception as e:  # the app catches Throwable and writes the error record
        msg = str(e) if str(e).startswith(("Illegal", "IOException")) else f"{type(e).__name__}: {e}"
        log("E", f"run {run_id} failed at {stage}: {msg}")
        out_dir.mkdir(parents=True, exist_ok=True)
        err = {"error": msg.replace("\n", " "), "stage": stage, "model_path": model_path, "timestamp": _now()}
        (out_dir / f"{run_id}.error.json").write_text(json.dumps(err, indent=2))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _input(manifest: dict):
    """The bundled photo (the APK ships chelsea_cat.jpg) preprocessed per the manifest, in its layout."""
    from toolkit.data import Preprocessing, load_batch, sample_image_paths
    from toolkit.runtimes import to_layout

    photo = next(p for p in sample_image_paths() if p.name == "chelsea_cat.jpg")
    prep = Preprocessing.from_dict(manifest["preprocessing"])
    return to_layout(load_batch([photo], int(manifest["variant"]["resolution"]), prep), manifest["input"]["layout"])


def _measure(model: Path, manifest: dict, x, extras: dict, dev: dict) -> dict:
    from toolkit.profile.stats import summarize
    from toolkit.runtimes import open_runner
    from toolkit.weights import file_sha256

    threads, warmup = int(extras.get("threads", 0)), int(extras.get("warmup", 10))
    iterations, duration = int(extras.get("iterations", 100)), float(extras.get("duration", 0.0))
    cooldown = float(extras.get("cooldown", 0.0))
    if cooldown > 0:
        time.sleep(cooldown)
    t0 = time.perf_counter_ns()
    runner = open_runner(model, threads=threads)
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    try:
        t0 = time.perf_counter_ns()
        first = runner.run(x)
        first_ms = (time.perf_counter_ns() - t0) / 1e6
        if first.size != manifest["variant"]["num_classes"]:
            classes = manifest["variant"]["num_classes"]
            raise ValueError(f"model output has {first.size} values, its manifest says {classes} classes")
        for _ in range(warmup):
            runner.run(x)
        lat = []
        end = time.perf_counter_ns() + int(duration * 1e9)
        while True:
            t0 = time.perf_counter_ns()
            runner.run(x)
            t1 = time.perf_counter_ns()
            lat.append((t1 - t0) / 1e6)
            if (duration <= 0 and len(lat) >= iterations) or (duration > 0 and t1 >= end):
                break
        name, version = runner.name, runner.version
    finally:
        runner.close()
    props = dev["props"]
    return {
        "schema_version": 1,
        "timestamp": _now(),
        "device": {
            "name": f"{props['ro.product.manufacturer']} {props['ro.product.model']}",
            "os": f"Android {props['ro.build.version.release']} (API {props['ro.build.version.sdk']})",
            "cpu": props.get("ro.hardware"),
            "cores": os.cpu_count(),
            "governor": None,
            "abi": props.get("ro.product.cpu.abi"),
            "kind": "android",
        },
        "runtime": {
            "name": name,
            "version": version,
            "delegate": extras.get("delegate") or manifest.get("delegate") or "xnnpack",
        },
        "artifact": {
            "sha256": file_sha256(model),
            "file": model.name,
            "variant": manifest["variant"]["name"],
            "target": manifest.get("target"),
            "precision": manifest.get("precision"),
            "weights": (manifest.get("weights") or {}).get("kind"),
        },
        "config": {
            "threads": threads,
            "warmup": warmup,
            "iterations": iterations if duration <= 0 else len(lat),
            "duration_s": duration if duration > 0 else None,
            "cooldown_s": cooldown,
            "batch": 1,
        },
        "latency_ms": lat,
        "stats": summarize(lat).to_dict(),
        "load_ms": load_ms,
        "first_inference_ms": first_ms,
        "peak_memory_mb": None,
        "temperature_c": {"before": 31.0, "after": 31.5, "thermal_state": "light"},
        "notes": ["temperatures: battery sensor; input: chelsea_cat.jpg"],
    }


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
