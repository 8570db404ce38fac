"""Ctrl-C in every long command: exit 130, one line saying what was kept and how to resume, nothing half-written.

Each command runs as a real ``python -m toolkit`` process in a session of its own, and the test sends SIGINT
to that whole process group, as a terminal's Ctrl-C does (the sweep's build workers and the training data
loader get it too), at a seeded random moment while the command runs. Durations are fixed with --duration
or sized so the command is still running at the latest moment drawn, so the interrupt path is the one tested.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from toolkit._deps import HAS_EXECUTORCH, HAS_ONNX, HAS_ONNXRUNTIME

pytestmark = pytest.mark.skipif(
    not (HAS_EXECUTORCH and HAS_ONNX and HAS_ONNXRUNTIME) or sys.platform == "win32",
    reason="needs the executorch and onnx extras, and POSIX process groups",
)

REPO = Path(__file__).resolve().parents[1]
RNG = random.Random(21)  # the moments are random, but the same on every run
PARTIAL_MARKS = (".tmp", ".part", ".old-", ".toolkit-write-probe")


def interrupt(args: list[str], home: Path, earliest: float, latest: float) -> tuple[int, str, str, float]:
    """Run ``toolkit ARGS``, Ctrl-C it [earliest, latest] s (at random) after it starts; (rc, stdout, stderr, delay)."""
    env = {**os.environ, "TOOLKIT_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")]), "PYTHONUNBUFFERED": "1"}  # fmt: skip
    env.pop("TOOLKIT_RESULTS", None)
    delay = RNG.uniform(earliest, latest)
    before = set((home / "logs").glob("*.log"))
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", *args], env=env, cwd=home, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        # the moment is counted from when the command runs (its log exists), not from interpreter start-up
        deadline = time.monotonic() + 60
        while set((home / "logs").glob("*.log")) <= before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        assert proc.poll() is None, f"finished before the interrupt at {delay:.1f} s: {proc.communicate()}"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out, err, delay


def assert_stopped(rc: int, out: str, err: str, delay: float, *words: str) -> str:
    """Exit 130 and exactly one ``interrupted:`` line (the last), which names ``words``; returns that line."""
    why = f"after {delay:.1f} s: rc {rc}\nstdout:\n{out}\nstderr:\n{err}"
    assert rc == 130, why
    lines = [line for line in err.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("interrupted:")]
    assert len(said) == 1 and lines[-1] == said[0], why
    assert "Traceback" not in err, why
    for word in words:
        assert word in said[0], why
    return said[0]


def assert_nothing_half_written(*roots: Path) -> None:
    """No temp file anywhere, every artifact has a manifest naming its exact bytes, every DB opens."""
    from toolkit.export.manifest import tree_sha256
    from toolkit.results import ResultsDB
    from toolkit.runtimes import manifest_path, read_manifest
    from toolkit.weights import load_checkpoint

    for root in roots:
        for p in root.rglob("*"):
            assert not any(mark in p.name for mark in PARTIAL_MARKS), f"partial file left: {p}"
            if p.suffix in (".pte", ".onnx", ".tflite", ".mlpackage") and not p.name.startswith("."):
                assert manifest_path(p).is_file(), f"{p} has no manifest"
                assert read_manifest(p)["artifact"]["sha256"] == tree_sha256(p), f"{p} is not what its manifest says"
            if p.suffix == ".db":
                with ResultsDB(p) as db:
                    db.records()
            if p.suffix == ".safetensors":
                load_checkpoint(p)


def test_sweep_stops_and_keeps_what_it_measured(tmp_path):
    args = ["sweep", "--alphas", "0.25", "--resolutions", "32,64,96,128", "--targets", "executorch,onnx", "--threads",
            "1", "--warmup", "1", "--duration", "3", "--jobs", "2", "-o", str(tmp_path / "art")]  # fmt: skip
    # building: the sweep's own line (artifacts kept); measuring: the device fan-out's (results stored)
    line = assert_stopped(*interrupt(args, tmp_path, 3, 12), "stored in", "the same command")
    assert_nothing_half_written(tmp_path)
    assert str(tmp_path / "art") in line or "result(s) stored" in line


def test_profile_stops_with_the_records_stored(tmp_path):
    from tests._export_helpers import exported

    art = exported("onnx", 0.25, 32).path
    db = tmp_path / "r.db"
    args = ["profile", str(art), "--threads", "1", "--duration", "60", "--db", str(db)]
    assert_stopped(*interrupt(args, tmp_path, 1, 6), "0 result(s) stored", str(db), "re-run")
    assert_nothing_half_written(tmp_path)


def test_export_discards_the_artifact_in_progress(tmp_path):
    out = tmp_path / "art"
    args = ["export", "--target", "all", "-a", "1.0", "-r", "224", "--weights", "random", "-o", str(out)]
    assert_stopped(*interrupt(args, tmp_path, 1, 6), "discarded", str(out), "kept")
    assert_nothing_half_written(tmp_path)


def test_report_leaves_no_partial_file(tmp_path):
    from tests._export_helpers import exported
    from tests.test_report import _as
    from toolkit.profile.host import HostDevice
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.results import ResultsDB

    rec = HostDevice().run(exported("onnx", 0.25, 32).path, ProfileConfig(warmup=2, iterations=40))
    db = tmp_path / "r.db"
    with ResultsDB(db) as store:
        for a in ("1.00", "0.75", "0.50", "0.25"):
            for r in (224, 192, 160, 128):
                store.insert(_as(rec, f"mobilenet_v1-a{a}-r{r}", float(a) * r / 32))
    args = ["report", "--db", str(db), "--out", str(tmp_path / "rep"), "-f", "html", "-f", "md", "-f", "csv"]
    assert_stopped(*interrupt(args, tmp_path, 0.05, 0.3))
    assert_nothing_half_written(tmp_path)


@pytest.fixture(scope="module")
def digits_small(tmp_path_factory) -> Path:
    from tests._digits import write_digits

    return write_digits(tmp_path_factory.mktemp("digits"))


def test_train_saves_state_and_says_resume(tmp_path, digits_small):
    out = tmp_path / "c.safetensors"
    args = ["train", "--data", str(digits_small), "-a", "0.25", "-r", "32", "--weights", "random", "--epochs", "500",
            "--threads", "1", "--workers", "1", "--no-hflip", "--output", str(out), "--no-progress"]  # fmt: skip
    line = assert_stopped(*interrupt(args, tmp_path, 1, 6))
    assert "--resume" in line or "nothing was written" in line
    assert_nothing_half_written(tmp_path)


def test_eval_stops_without_writing(tmp_path):
    from PIL import Image

    from toolkit import mobilenet_v1
    from toolkit.weights import CheckpointMeta, save_checkpoint

    names = tuple(f"c{i}" for i in range(10))
    ckpt = save_checkpoint(mobilenet_v1(1.0, 224, num_classes=10).state_dict(), CheckpointMeta(1.0, 224, 10, names),
                           tmp_path / "m.safetensors")  # fmt: skip
    rng = np.random.default_rng(0)
    for i in range(1500):  # ~1500 inferences at 224: far longer than the latest interrupt
        folder = tmp_path / "data" / "val" / names[i % 10]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    args = ["eval", "--weights", str(ckpt), "--data", str(tmp_path / "data")]
    assert_stopped(*interrupt(args, tmp_path, 1, 5), "nothing was written")
    assert_nothing_half_written(tmp_path)


def test_ctrl_c_during_the_startup_imports_is_a_clean_stop(tmp_path):
    """Inside `import torch` a KeyboardInterrupt would leave numpy or torch half-initialized (a later
    'internal error: AttributeError ...') or be swallowed; the CLI raises it once the import is over."""
    for _ in range(2):
        args = ["export", "--target", "onnx", "-a", "0.25", "-r", "32", "--weights", "random", "-o", str(tmp_path)]
        assert_stopped(*interrupt(args, tmp_path, 0.0, 0.6))
    assert_nothing_half_written(tmp_path)
