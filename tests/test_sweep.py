"""Sweep end to end: a real subprocess sweep killed with SIGKILL, resumed, then reported and rendered."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests._export_helpers import exported
from toolkit.results import ResultsDB

VARIANTS = ((0.25, 32), (0.25, 64), (0.25, 96))


def _sweep_cmd(art_dir, db, work, resolutions: str = "32,64,96") -> list[str]:
    return [sys.executable, "-m", "toolkit", "sweep", "--alphas", "0.25", "--resolutions", resolutions,
            "--targets", "onnx", "--iterations", "30", "--warmup", "2", "--cooldown", "2", "--jobs", "1",
            "--output-dir", str(art_dir), "--db", str(db), "--report-dir", str(work / "reports")]  # fmt: skip


def _measuring(pid: int) -> bool:
    """True once ``pid`` has started a runtime worker process: it is in its measurement round-robin."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"toolkit.profile.worker" in (stat.parent / "cmdline").read_bytes():
                return True
        except (OSError, IndexError, ValueError):
            continue
    return False


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict:
    """One variant swept, then all three killed (SIGKILL) while measuring, then resumed; paths and outputs."""
    for a, r in VARIANTS:  # build through the shared export cache; the sweep then reuses the artifacts
        art_dir = exported("onnx", a, r).path.parent
    work = tmp_path_factory.mktemp("sweep")
    db = work / "results.db"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOOLKIT_LOCK_DIR": str(work / "locks")}
    first = subprocess.run(_sweep_cmd(art_dir, db, work, "32"), capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stdout[-1000:] + first.stderr[-2000:]
    cmd = _sweep_cmd(art_dir, db, work)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not _measuring(proc.pid):
        time.sleep(0.1)
    assert proc.poll() is None, "sweep finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with ResultsDB(db) as store:
        killed_rows = store.count()
    assert killed_rows == 1  # the round-robin stores its records at its end: nothing half-measured is kept
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    return {"db": db, "work": work, "killed_rows": killed_rows, "out": done.stdout, "err": done.stderr,
            "killed_pid": proc.pid}  # fmt: skip


def test_resumed_sweep_has_every_combination_once(swept):
    with ResultsDB(swept["db"]) as store:
        recs = store.records()
        keys = [k for (k,) in store._con.execute("SELECT run_key FROM results")]
    assert sorted(r["artifact"]["variant"] for r in recs) == sorted(f"mobilenet_v1-a0.25-r{r}" for _, r in VARIANTS)
    assert len(keys) == len(set(keys)) == len(VARIANTS)
    assert f"{len(VARIANTS) - swept['killed_rows']} measured, {swept['killed_rows']} already" in swept["out"]
    assert all(r["config"]["iterations"] == 30 and len(r["latency_ms"]) == 30 for r in recs)
    assert all(r["rounds"]["runs_per_round"] == [6] * 5 for r in recs)  # 30 runs in 5 interleaved rounds
    # the killed sweep's lock note is found stale (its pid is gone) and taken over, with a line
    assert f"took over the host measurement lock left by pid {swept['killed_pid']}" in swept["err"]


def test_two_sweeps_at_once_store_each_combination_once(tmp_path):
    art_dir = exported("onnx", 0.25, 32).path.parent
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOOLKIT_LOCK_DIR": str(tmp_path / "locks")}
    cmd = _sweep_cmd(art_dir, tmp_path / "r.db", tmp_path, "32")
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and first.poll() is None and not _measuring(first.pid):
        time.sleep(0.05)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    procs = [first, second]  # the second starts while the first measures: it must wait, then find it stored
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with ResultsDB(tmp_path / "r.db") as store:
        keys = [k for (k,) in store._con.execute("SELECT run_key FROM results")]
    assert len(keys) == 1
    summaries = sorted(next(ln for ln in out.splitlines() if " measured, " in ln) for out, _ in outs)
    assert summaries == ["0 measured, 1 already in the DB, of 1", "1 measured, 0 already in the DB, of 1"]
    assert f"waiting for the host measurement lock: held by pid {first.pid}" in outs[1][1]


def test_rerun_measures_nothing_new(swept, tmp_path):
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.profile.sweep import SweepConfig, run_sweep

    art_dir = exported("onnx", 0.25, 32).path.parent
    cfg = SweepConfig(alphas=(0.25,), resolutions=(32, 64, 96), targets=("onnx",), output_dir=art_dir,
                      profile=ProfileConfig(warmup=2, iterations=30, cooldown_s=2))  # fmt: skip
    with ResultsDB(swept["db"]) as store:
        out = run_sweep(cfg, store)
        assert (len(out.measured), out.already, store.count()) == (0, len(VARIANTS), len(VARIANTS))


def test_report_files_and_plots(swept, tmp_path):
    from toolkit.cli import main

    reports = swept["work"] / "reports"
    html = (reports / "report.html").read_text()
    assert "random (seed 0" in html and html.count("data:image/png;base64,") >= 2
    assert "src='http" not in html and 'src="http' not in html and "<link" not in html  # self-contained
    for stem in ("latency_heatmap", "latency_vs_macs"):
        assert (reports / "plots" / f"{stem}.png").read_bytes().startswith(b"\x89PNG")
    assert (
        main(["report", "--format", "csv", "--format", "json", "--out", str(tmp_path), "--db", str(swept["db"])]) == 0
    )
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert len(lines) == 1 + len(VARIANTS) and "gmacs_per_s" in lines[0]
    assert main(["compare", str(tmp_path / "results.json"), str(swept["db"])]) == 0


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_html_renders_in_headless_chromium(swept):
    from PIL import Image

    shot = swept["work"] / "report.png"
    profile = tempfile.mkdtemp()
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           f"--screenshot={shot}", "--window-size=1280,2000"]  # fmt: skip
    cmd.append((swept["work"] / "reports" / "report.html").as_uri())
    subprocess.run(cmd, capture_output=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    img = Image.open(shot).convert("L")
    assert img.size == (1280, 2000)
    lo, hi = img.getextrema()
    assert hi - lo > 100  # not blank: text and plots are drawn
    colors = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 50  # heatmap colours, not a white page
