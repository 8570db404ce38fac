"""What float32 I/O costs an fp16 ExecuTorch program: float-I/O vs native (float16) I/O latency, side by side.

    python benchmarks/bench_io_casts.py [--variants 1.0-224 0.25-128] [--rounds 5] [--runs 30] [--threads 2] [--quick]

The default fp16 ``.pte`` takes float32 and returns float32: XNNPACK takes no dtype-changing copy, so the
cast of the input to half and of the scores back to float run as two portable kernels outside the delegate
(docs/export.md "I/O contract"). ``--io native`` keeps float16 at both edges and nothing outside. Both
programs come from ``toolkit export --precision fp16`` (seeded-random weights: latency does not depend on
the values) and are timed in one fresh process, warm-up then interleaved rounds with the order rotated each
round, on inputs built once outside the timed loop as the apps do (float32 for one, float16 for the other).
Only the ratio measured in one run is meaningful; absolute milliseconds drift on a shared machine.
Prints a table and writes benchmarks/out/bench_io_casts.json (command, machine, load, samples, medians).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _machine as bm
import numpy as np

IOS = ("float", "native")


def _build(alpha: float, res: int, io: str, out: Path) -> Path:
    """``toolkit export -t executorch -p fp16 --io {io}`` of a seeded-random model (cached by the pipeline)."""
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export

    cfg = ExportConfig(target="executorch", precision="fp16", output_dir=out / io, io=io, verify=False)
    return export(mobilenet_v1(alpha, res, weights="random"), cfg, progress=False).path


def _time_worker(paths: list[str], warmup: int, runs: int, rounds: int, threads: int) -> None:
    """Child process: load every program, time them interleaved, print JSON samples (ms) per path."""
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    if threads > 0:
        portable_lib._unsafe_reset_threadpool(threads)
    calls = {}
    for p in paths:
        program = Runtime.get().load_program(Path(p))  # kept alive beside its method
        method = program.load_method("forward")
        meta = method.metadata.input_tensor_meta(0)
        dtype = {5: torch.float16, 6: torch.float32}[int(meta.dtype())]
        x = torch.from_numpy(np.random.default_rng(0).standard_normal(tuple(meta.sizes())).astype(np.float32))
        calls[p] = lambda prog=program, m=method, x=x.to(dtype): m.execute([x])
    print(json.dumps(bm.interleaved(calls, warmup, runs, rounds)))


def _table(rows: list[dict]) -> dict:
    columns = ["variant", "float I/O median ms", "native I/O median ms", "float/native", "float I/O p90",
               "native I/O p90"]  # fmt: skip
    cells = [[r["variant"], f"{r['float']['median_ms']:.3f}", f"{r['native']['median_ms']:.3f}", f"{r['ratio']:.3f}×",
              f"{r['float']['p90_ms']:.3f}", f"{r['native']['p90_ms']:.3f}"] for r in rows]  # fmt: skip
    return bm.table("fp16 .pte, batch 1", columns, cells)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["1.0-224", "0.25-128"])
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_io_casts")
    ap.add_argument("--quick", action="store_true", help="0.25-128 only, 2 rounds of 5 runs (a smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/out/bench_io_casts.json)")
    ap.add_argument("--_time", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._time:
        _time_worker(args._time, args.warmup, args.runs, args.rounds, args.threads)
        return 0
    if args.quick:
        args.variants, args.runs, args.rounds, args.warmup = ["0.25-128"], 5, 2, 2
    run = bm.start("bench_io_casts", args.quick, argv)
    settings = {"threads": args.threads, "warmup": args.warmup, "runs": args.runs, "rounds": args.rounds}
    rows = []
    for v in args.variants:
        alpha, res = float(v.split("-")[0]), int(v.split("-")[1])
        paths = {io: str(_build(alpha, res, io, args.build_dir / v)) for io in IOS}
        cmd = [sys.executable, __file__, "--warmup", str(args.warmup), "--runs", str(args.runs), "--rounds",
               str(args.rounds), "--threads", str(args.threads), "--_time", *paths.values()]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        samples = json.loads(out)
        row: dict = {"variant": v}
        for io, p in paths.items():
            s = np.asarray(samples[p])
            row[io] = {"path": p, "median_ms": float(np.median(s)), "p90_ms": float(np.percentile(s, 90)),
                       "samples_ms": samples[p]}  # fmt: skip
        row["ratio"] = row["float"]["median_ms"] / row["native"]["median_ms"]
        rows.append(row)
        print(bm.markdown(_table(rows[-1:])), flush=True)
        path = bm.finish(run, tables=[_table(rows)], data={**settings, "rows": rows}, out=args.out)
        time.sleep(1.0)
    print(f"\n{bm.markdown(_table(rows))}\n\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
