"""Wall time of the README's main job: the default host sweep, cold and warm (cached artifacts).

    python benchmarks/bench_sweep.py [--workdir DIR] [--extra "--alphas 0.25 --resolutions 128"]

Three runs of ``toolkit sweep`` (built-in defaults unless ``--extra``) in a fresh directory:
1. cold: empty artifact cache and DB (build + verify + profile + report);
2. warm: cached artifacts, fresh DB (every combination is measured again, nothing is built);
3. resume: same DB (nothing left to do: the cost of checking).
Prints a table and writes benchmarks/out/bench_sweep.json. Also reports user+sys CPU seconds, the
figure to trust on a shared machine where wall time depends on the neighbours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _run(workdir: Path, db: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "toolkit", "sweep", "--db", db, "--output-dir", "artifacts", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = [line for line in proc.stdout.splitlines() if " measured, " in line]
    return {"cmd": shlex.join(cmd), "exit": proc.returncode, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "summary": summary[-1] if summary else proc.stderr.strip().splitlines()[-1:]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--extra", default="", help="extra `toolkit sweep` arguments")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    workdir.mkdir(parents=True, exist_ok=True)
    extra = shlex.split(args.extra)
    runs = {"cold": _run(workdir, "cold.db", extra), "warm": _run(workdir, "warm.db", extra)}
    runs["resume"] = _run(workdir, "warm.db", extra)
    print(f"{'run':8s} {'wall s':>8s} {'cpu s':>8s}  exit  summary")
    for name, r in runs.items():
        print(f"{name:8s} {r['wall_s']:8.1f} {r['cpu_s']:8.1f}  {r['exit']:4d}  {r['summary']}")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} (cores: {os.cpu_count()})")
    OUT.mkdir(exist_ok=True)
    data = {"runs": runs, "workdir": str(workdir), "cores": os.cpu_count(), "loadavg_end": load,
            "machine": platform.platform(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    (OUT / "bench_sweep.json").write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
