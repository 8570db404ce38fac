"""Export wall time per target and host latency of each fp32 artifact, side by side in one run.

    python benchmarks/bench_export.py [--variants 1.0-224,0.25-128] [--threads 2] [--quick]

Per variant: every installed target is exported through ``toolkit.export`` (``force=True``, parity on),
plus ExecuTorch's own reference path (plain ``to_edge_transform_and_lower(XnnpackPartitioner())``, no
toolkit code) as the baseline. Latency: every artifact is timed in a fresh process (one runtime per
process, as performance_notes.md prescribes), 10 warm-ups then ``--runs`` runs, repeated for
``--rounds`` interleaved rounds; the table shows the median of all samples and the ratios to the best
runtime and to the ExecuTorch reference. Ratios are the only figures comparable across runs here.
Writes benchmarks/out/bench_export.json (command, machine, load, table, samples).
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

TARGETS = ("executorch", "tflite", "onnx", "coreml")


def _reference_executorch(alpha: float, resolution: int, out_dir: Path) -> tuple[Path, float]:
    """ExecuTorch's documented XNNPACK path on the same weights, with no toolkit code in between."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from toolkit import mobilenet_v1

    model = mobilenet_v1(alpha, resolution, weights="random")
    start = time.perf_counter()
    exported = torch.export.export(model, (torch.zeros(1, 3, resolution, resolution),))
    program = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()]).to_executorch()
    path = out_dir / f"reference-a{alpha:.2f}-r{resolution}.pte"
    path.write_bytes(program.buffer)
    return path, time.perf_counter() - start


def _export_all(alpha: float, resolution: int, out_dir: Path) -> list[dict]:
    from toolkit import mobilenet_v1
    from toolkit.errors import MissingDependencyError, ToolkitError
    from toolkit.export import ExportConfig, export

    model = mobilenet_v1(alpha, resolution, weights="random")
    rows = []
    for target in TARGETS:
        cfg = ExportConfig(target=target, precision="fp32", output_dir=out_dir, force=True)
        start = time.perf_counter()
        try:
            res = export(model, cfg, progress=False)
        except MissingDependencyError as e:
            rows.append({"target": target, "skipped": str(e)})
            continue
        except (ToolkitError, ImportError) as e:  # a broken backend must not sink the others' numbers
            rows.append({"target": target, "skipped": f"failed: {type(e).__name__}: {e}"})
            continue
        rows.append({"target": target, "path": str(res.path), "layout": res.manifest["input"]["layout"],
                     "export_s": time.perf_counter() - start, "convert_s": res.manifest["export_seconds"],
                     "size_bytes": res.manifest["artifact"]["size_bytes"]})  # fmt: skip
    return rows


def _time_target_all(spec: str, out_dir: Path) -> dict:
    """Wall time of ``toolkit export --target all`` for one variant (library call, fresh dir, parity on)."""
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export_targets

    alpha, resolution = float(spec.split("-")[0]), int(spec.split("-")[1])
    model = mobilenet_v1(alpha, resolution, weights="random")
    start = time.perf_counter()
    try:
        results, skipped = export_targets(model, ["all"], ExportConfig(target="onnx", output_dir=out_dir),
                                          progress=False)  # fmt: skip
    except Exception as e:  # report, don't hide: one failing backend fails `--target all`
        return {"variant": spec, "failed": f"{type(e).__name__}: {e}", "seconds": time.perf_counter() - start}
    return {"variant": spec, "seconds": time.perf_counter() - start,
            "exported": [r.manifest["target"] for r in results], "skipped": skipped}  # fmt: skip


def _time_one(artifact: str, layout: str, resolution: int, threads: int, runs: int) -> None:
    """Child process: load one artifact, 10 warm-ups, ``runs`` timed runs; print the samples as JSON."""
    from toolkit.data import sample_images
    from toolkit.runtimes import RuntimeUnavailableError, open_runner, to_layout

    x = to_layout(sample_images(resolution)[:1], layout)
    try:
        runner = open_runner(Path(artifact), threads=threads)
    except RuntimeUnavailableError as e:
        print(json.dumps({"unavailable": str(e)}))
        return
    for _ in range(10):
        runner.run(x)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        runner.run(x)
        samples.append((time.perf_counter() - t0) * 1e3)
    runner.close()
    print(json.dumps({"samples_ms": samples, "runtime": runner.name, "version": runner.version}))


def _measure(rows: list[dict], resolution: int, threads: int, runs: int, rounds: int) -> None:
    """Interleaved rounds, one fresh process per (artifact, round); a short gap lets idle workers settle."""
    for row in rows:
        row.setdefault("samples_ms", [])
    for _ in range(rounds):
        for row in rows:
            if "path" not in row or row.get("unavailable"):
                continue
            cmd = [sys.executable, __file__, "--_time", row["path"], row["layout"], str(resolution), str(threads),
                   str(runs)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            result = json.loads(out)
            if "unavailable" in result:
                row["unavailable"] = result["unavailable"]
            else:
                row["samples_ms"] += result["samples_ms"]
                row["runtime"] = f"{result['runtime']} {result['version']}"
            time.sleep(0.2)


def _table(results: dict[str, list[dict]]) -> dict:
    from toolkit.profile.stats import summarize

    rows = []
    for variant, group in results.items():
        for row in group:
            if row.get("samples_ms"):
                stats = summarize(row["samples_ms"])
                row["median_ms"], row["p90_ms"] = stats.median_ms, stats.p90_ms
        timed = [r for r in group if "median_ms" in r]
        best = min((r["median_ms"] for r in timed if r["target"] != "executorch-reference"), default=None)
        ref = next((r["median_ms"] for r in timed if r["target"] == "executorch-reference"), None)
        for r in group:
            if "skipped" in r:
                rows.append([variant, r["target"], f"skipped: {r['skipped']}", "", "", "", "", ""])
                continue
            exp = f"{r['export_s']:.1f} ({r.get('convert_s', r['export_s']):.1f})"
            size = f"{r['size_bytes'] / 1e6:.2f}"
            if "median_ms" not in r:
                rows.append([variant, r["target"], exp, size, "no host runtime", "", "", ""])
                continue
            ratios = [f"{r['median_ms'] / best:.2f}×", f"{r['median_ms'] / ref:.2f}×"] if best and ref else ["", ""]
            rows.append([variant, r["target"], exp, size, f"{r['median_ms']:.3f}", f"{r['p90_ms']:.3f}", *ratios])
    columns = ["variant", "target", "export s (convert s)", "size MB", "median ms", "p90 ms", "vs best",
               "vs ET reference"]  # fmt: skip
    return bm.table("", columns, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="1.0-224,0.25-128", help="comma-separated α-ρ ('' = none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--all-variant", default="", help="also time --target all for this variant, e.g. 0.25-128")
    parser.add_argument("--quick", action="store_true", help="0.25-96 only, 1 round of 5 runs (a smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/out/bench_export.json)")
    args = parser.parse_args()
    if args.quick:
        args.variants, args.runs, args.rounds = "0.25-96", 5, 1
    run = bm.start("bench_export", args.quick)
    meta = {"threads": args.threads, "runs": args.runs, "rounds": args.rounds, "batch": 1}
    payload: dict = {"meta": meta, "results": {}, "target_all": None}
    notes: list[str] = []
    path = None
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for spec in filter(None, args.variants.split(",")):
            alpha, resolution = float(spec.split("-")[0]), int(spec.split("-")[1])
            out_dir = Path(tmp) / spec
            rows = _export_all(alpha, resolution, out_dir)
            ref_path, ref_s = _reference_executorch(alpha, resolution, out_dir)
            rows.append({"target": "executorch-reference", "path": str(ref_path), "layout": "nchw",
                         "export_s": ref_s, "size_bytes": ref_path.stat().st_size})  # fmt: skip
            _measure(rows, resolution, args.threads, args.runs, args.rounds)
            payload["results"][spec] = rows
            path = bm.finish(run, tables=[_table(payload["results"])], data=payload, out=args.out)  # a kill keeps it
        if args.all_variant:
            payload["target_all"] = t = _time_target_all(args.all_variant, Path(tmp) / "all")
            notes.append(f"`toolkit export --target all` for {t['variant']}: {t['seconds']:.0f} s"
                         + (f" (failed: {t['failed']})" if "failed" in t else ""))  # fmt: skip
            path = bm.finish(run, tables=[_table(payload["results"])], data=payload, notes=notes, out=args.out)
    print(bm.markdown(_table(payload["results"])))
    print("\n".join(notes))
    print(f"\nwrote {path}" if path else "nothing measured")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_time":
        _time_one(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
