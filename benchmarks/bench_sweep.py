"""Wall time of the README's main job: the default host sweep, cold and warm (cached artifacts).

    python benchmarks/bench_sweep.py [--workdir DIR] [--extra "--alphas 0.25 --resolutions 128"] [--quick]

Three runs of ``toolkit sweep`` (built-in defaults unless ``--extra``) in a fresh directory:
1. cold: empty artifact cache and DB (build + verify + profile + report);
2. warm: cached artifacts, fresh DB (every combination is measured again, nothing is built);
3. resume: same DB (nothing left to do: the cost of checking).
Prints a table and writes benchmarks/out/bench_sweep.json. Also reports user+sys CPU seconds, the
figure to trust on a shared machine where wall time depends on the neighbours.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _machine as bm


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--extra", default="", help="extra `toolkit sweep` arguments")
    ap.add_argument("--quick", action="store_true", help="one variant (0.25-128) on onnx only (a smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/out/bench_sweep.json)")
    args = ap.parse_args(argv)
    if args.quick:
        args.extra = f"--alphas 0.25 --resolutions 128 --targets onnx --iterations 20 {args.extra}"
    run = bm.start("bench_sweep", args.quick, argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    workdir.mkdir(parents=True, exist_ok=True)
    extra = shlex.split(args.extra)
    runs = {"cold": _run(workdir, "cold.db", extra), "warm": _run(workdir, "warm.db", extra)}
    runs["resume"] = _run(workdir, "warm.db", extra)
    what = {"cold": "build, verify, profile, report", "warm": "artifacts cached, fresh database",
            "resume": "nothing left to do"}  # fmt: skip
    rows = [[name, what[name], f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}", r["exit"], r["summary"]]
            for name, r in runs.items()]  # fmt: skip
    sweep = "`toolkit sweep" + (f" {args.extra.strip()}" if args.extra.strip() else "") + "`"
    table = bm.table(sweep, ["run", "what", "wall s", "CPU s (user + sys)", "exit", "summary"], rows)
    print(bm.markdown(table))
    print(f"wrote {bm.finish(run, tables=[table], data={'runs': runs}, out=args.out)}")


if __name__ == "__main__":
    main()
