"""A quiet console: third-party output goes to a log file, the toolkit's own lines and its progress stay.

The main job runs as a real process with stderr piped (not a terminal), so its progress comes as plain lines;
every stderr line must be one the toolkit writes, whatever the converters and runtimes print meanwhile.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit._deps import HAS_EXECUTORCH, HAS_ONNX, HAS_ONNXRUNTIME

REPO = Path(__file__).resolve().parents[1]


def run(
    args: list[str], home: Path, *, cwd: Path | None = None, code: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOOLKIT_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")])}  # fmt: skip
    env.pop("TOOLKIT_RESULTS", None)
    env.pop("TOOLKIT_DEBUG", None)
    cmd = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "toolkit", *args]
    return subprocess.run(cmd, env=env, cwd=cwd or home, text=True, capture_output=True, timeout=timeout, check=False)


def logs(home: Path) -> list[Path]:
    return sorted((home / "logs").glob("*.log"))


def test_capture_takes_native_and_python_output_but_not_the_toolkits(tmp_path):
    code = """
import os, sys, warnings, logging
from pathlib import Path
from toolkit import console
console.capture(Path('cap.log'), header='header')
os.write(2, b'[threadpool.cpp:66] native line\\n')           # C++ writing to fd 2
print('python line', file=sys.stderr)
warnings.warn('a library warning')
logging.getLogger('coremltools').warning('Torch version 9 has not been tested')
console.err.print('toolkit line')
console.release()
print('after release', file=sys.stderr)
"""
    res = run([], tmp_path, code=code)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == ["toolkit line", "after release"]
    log = (tmp_path / "cap.log").read_text()
    for line in ("header", "[threadpool.cpp:66] native line", "python line", "a library warning", "has not been"):
        assert line in log


@pytest.mark.skipif(not (HAS_EXECUTORCH and HAS_ONNX and HAS_ONNXRUNTIME), reason="the main job's two runtimes")
def test_main_job_prints_only_the_toolkits_own_lines(tmp_path):
    combos = [(32, t) for t in ("executorch", "onnx")]
    res = run(["sweep", "--alphas", "0.25", "--resolutions", "32", "--iterations", "20", "--warmup", "2",
               "--threads", "1", "--jobs", "1"], tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stderr.splitlines()
    progress = re.compile(r"^(build|profile) [12]/2 mobilenet_v1-a0\.25-r32 (executorch|onnx) fp32 \(\d+ s\)$")
    # the toolkit's own warning when other processes loaded the machine during the timing (a shared CI box)
    flagged = re.compile(r"^\d measurement\(s\) flagged (busy|bimodal): .*; the report greys them")
    assert all(progress.match(line) or flagged.match(line) for line in lines), res.stderr
    assert sum(bool(progress.match(line)) for line in lines) == 2 * len(combos)  # one per build, one per measure
    assert len(lines) <= 2 * len(combos) + 2
    # results and reports in the per-user data dir, each named on stdout
    assert f"results DB: {tmp_path / 'results.db'}" in res.stdout
    assert f"artifacts: {tmp_path / 'artifacts'}" in res.stdout
    assert (tmp_path / "reports" / "report.html").is_file() and str(tmp_path / "reports") in res.stdout
    assert len(logs(tmp_path)) == 1  # the chatter went somewhere: one log for the run
    again = run(["report", "-f", "csv"], tmp_path, cwd=tmp_path / "reports")  # another directory, same results
    assert again.returncode == 0 and f"read 2 record(s) from {tmp_path / 'results.db'}" in again.stdout, again.stderr


@pytest.mark.skipif(not HAS_EXECUTORCH, reason="the executorch extra")
def test_single_export_names_its_stages(tmp_path):
    res = run(["export", "-t", "executorch", "-a", "0.25", "-r", "32", "-w", "random", "-o", "out"], tmp_path)
    assert res.returncode == 0, res.stderr
    name = "mobilenet_v1-a0.25-r32-executorch-fp32.pte"
    stages = [re.fullmatch(rf"{re.escape(name)}: (\w+) \(\d+ s\)", line) for line in res.stderr.splitlines()]
    assert all(stages), res.stderr
    assert [m.group(1) for m in stages] == ["exporting", "tracing", "lowering", "serializing", "verifying", "writing"]


def test_errors_name_the_log_and_verbose_writes_none(tmp_path):
    res = run(["export", "-t", "onnx", "-w", str(tmp_path / "missing.h5")], tmp_path)
    assert res.returncode == 2
    (line,) = res.stderr.splitlines()
    (log,) = logs(tmp_path)
    assert line.startswith("error: weights not found") and line.endswith(f"(log: {log})")
    assert "missing.h5" in log.read_text().splitlines()[0]  # the header names the command
    shown = run(["--verbose", "export", "-t", "onnx", "-w", str(tmp_path / "missing.h5")], tmp_path)
    assert shown.returncode == 2 and "(log:" not in shown.stderr and len(logs(tmp_path)) == 1
