"""int8 vs fp32 latency per host runtime: each vendor's default path beside the toolkit's, in one run.

    python benchmarks/bench_quant.py [--variants 1.0-224 0.5-160 0.25-128] [--runtimes onnx] [--quick]

Four artifacts per (variant, runtime), same weights:

- ``vendor-fp32``: the runtime's documented plain path (``to_edge_transform_and_lower`` + XNNPACK,
  ``litert_torch.convert`` of the NCHW model, ``torch.onnx.export(dynamo=True)``);
- ``toolkit-fp32``: ``toolkit export`` (``toolkit.export.pipeline.export``), verified;
- ``vendor-int8``: PT2E static int8 of the published graph with its explicit pads (XNNPACKQuantizer /
  litert-torch's PT2E quantizer; ORT ``quantize_static`` QDQ for ONNX);
- ``toolkit-int8``: ``toolkit export --precision int8`` (pad-free where that is the default).

Each runtime is timed in its own fresh process (performance_notes.md: ORT's spinning threads disturb whatever
runs next), warm-up then interleaved rounds (order rotated each round) so a load spike hits every artifact
alike and none always runs first. Weights are seeded-random with BatchNorm calibrated on real photos (latency
does not depend on the values); calibration is the bundled photos. Only ratios measured in one run are
meaningful; absolute milliseconds drift. Writes benchmarks/out/bench_quant.json (command, machine, load,
table, samples and medians).
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

RUNTIMES = ("executorch", "tflite", "onnx")
KINDS = ("vendor-fp32", "toolkit-fp32", "vendor-int8", "toolkit-int8")
_EXT = {"executorch": ".pte", "tflite": ".tflite", "onnx": ".onnx"}


def _build(runtime: str, alpha: float, res: int, kind: str, out: Path) -> Path:
    """Write one artifact of ``kind`` (see the module docstring) under ``out``; reuse it if present."""
    import torch

    from toolkit import mobilenet_v1

    model = mobilenet_v1(alpha, res, weights="random")
    path = out / f"a{alpha:.2f}-r{res}-{runtime}-{kind}{_EXT[runtime]}"
    if path.exists():
        return path
    example = torch.zeros(1, 3, res, res)
    if kind.startswith("toolkit"):
        from toolkit.export import ExportConfig, export

        precision = kind.split("-")[1]
        res_ = export(model, ExportConfig(target=runtime, precision=precision, output_dir=out / "toolkit"),
                      progress=False)  # fmt: skip
        path.write_bytes(res_.path.read_bytes())
        return path
    if kind == "vendor-fp32":
        if runtime == "executorch":
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
            from executorch.exir import to_edge_transform_and_lower

            program = torch.export.export(model, (example,))
            edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
            path.write_bytes(edge.to_executorch().buffer)
        elif runtime == "tflite":
            import litert_torch

            litert_torch.convert(model, (example,)).export(str(path))
        else:
            torch.onnx.export(model.eval(), (example,), str(path), dynamo=True, external_data=False)
        return path
    from toolkit.export import quantize

    no_eval = np.zeros((0, 3, res, res), np.float32)  # accuracy is not what this benchmark measures
    art = quantize(model, runtime, "int8", None, out / "vendor", fold_padding=False, eval_data=no_eval)
    path.write_bytes(art.path.read_bytes())
    return path


def _time_worker(runtime: str, paths: list[str], warmup: int, runs: int, rounds: int, threads: int) -> None:
    """Child process: load every artifact of one runtime, time them interleaved, print JSON samples (ms)."""
    import torch

    calls = {}
    for p in paths:
        res = int(p.split("-r")[1].split("-")[0])
        x = np.random.default_rng(0).standard_normal((1, 3, res, res)).astype(np.float32)
        if runtime == "executorch":
            from executorch.runtime import Runtime

            program = Runtime.get().load_program(Path(p))  # kept alive beside its method
            xt = torch.from_numpy(x)
            calls[p] = lambda prog=program, m=program.load_method("forward"), xt=xt: m.execute([xt])
        elif runtime == "tflite":
            from ai_edge_litert.interpreter import Interpreter

            it = Interpreter(model_path=p, num_threads=threads)
            it.allocate_tensors()
            d = it.get_input_details()[0]
            xi = x.transpose(0, 2, 3, 1) if list(d["shape"]) == [1, res, res, 3] else x
            it.set_tensor(d["index"], np.ascontiguousarray(xi).astype(d["dtype"]))
            calls[p] = it.invoke
        else:
            import onnxruntime as ort

            o = ort.SessionOptions()
            o.intra_op_num_threads = threads
            s = ort.InferenceSession(p, o, providers=["CPUExecutionProvider"])
            name = s.get_inputs()[0].name
            calls[p] = lambda s=s, name=name, x=x: s.run(None, {name: x})
    # ORT's spinning threads must go idle before the next artifact runs
    print(json.dumps(bm.interleaved(calls, warmup, runs, rounds, settle_s=0.1 if runtime == "onnx" else 0.0)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["1.0-224", "0.5-160", "0.25-128"])
    ap.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_quant")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/out/bench_quant.json)")
    ap.add_argument("--build-only", action="store_true", help="build (or reuse) every artifact, time nothing")
    ap.add_argument("--quick", action="store_true", help="0.25-128 only, 2 rounds of 5 runs (a smoke run)")
    ap.add_argument("--_time", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._time:
        _time_worker(args._time[0], args._time[1:], args.warmup, args.runs, args.rounds, args.threads)
        return 0
    if args.quick:
        args.variants, args.runs, args.rounds, args.warmup = ["0.25-128"], 5, 2, 2
    run = bm.start("bench_quant", args.quick, argv)
    args.build_dir.mkdir(parents=True, exist_ok=True)
    built: dict[tuple[str, str, str], str] = {}
    medians: dict[str, float] = {}
    samples: dict[str, list[float]] = {}
    timed: list[str] = []
    for rt in args.runtimes:  # build then time one runtime at a time, so partial results survive a long run
        for v in args.variants:
            alpha, res = float(v.split("-")[0]), int(v.split("-")[1])
            for kind in KINDS:
                t0 = time.perf_counter()
                path = _build(rt, alpha, res, kind, args.build_dir)
                built[(v, rt, kind)] = str(path)
                print(f"built {path.name} ({path.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
        if args.build_only:
            continue
        paths = [p for (v, r, k), p in built.items() if r == rt]
        cmd = [sys.executable, __file__, "--warmup", str(args.warmup), "--runs", str(args.runs),
               "--rounds", str(args.rounds), "--threads", str(args.threads), "--_time", rt, *paths]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        for p, s in json.loads(out).items():
            samples[p], medians[p] = s, float(np.median(s))
        timed.append(rt)
        table = _table(args.variants, timed, built, medians)
        print(bm.markdown(_table(args.variants, [rt], built, medians)), flush=True)
        data = {"threads": args.threads, "warmup": args.warmup, "runs": args.runs, "rounds": args.rounds,
                "medians_ms": medians, "sizes": {p: Path(p).stat().st_size for p in built.values()},
                "samples_ms": samples}  # fmt: skip
        out_path = bm.finish(run, tables=[table], data=data, out=args.out)
        time.sleep(1.0)
    if not args.build_only and timed:
        print(f"wrote {out_path}")
    return 0


def _table(variants, runtimes, built, medians) -> dict:  # type: ignore[no-untyped-def]
    """Vendor and toolkit medians (ms) side by side, with their ratios."""
    columns = ["variant", "runtime", "vendor fp32", "toolkit fp32", "toolkit/vendor fp32", "vendor int8",
               "toolkit int8", "toolkit/vendor int8", "int8 speed-up (toolkit)", "size int8/fp32"]  # fmt: skip
    rows = []
    for v in variants:
        for rt in runtimes:
            vf, tf, vi, ti = (medians[built[(v, rt, k)]] for k in KINDS)
            size = (
                Path(built[(v, rt, "toolkit-int8")]).stat().st_size
                / Path(built[(v, rt, "toolkit-fp32")]).stat().st_size
            )
            same = _same_bytes(built[(v, rt, "vendor-fp32")], built[(v, rt, "toolkit-fp32")])
            rows.append([v, rt, f"{vf:.3f}", f"{tf:.3f}", f"{tf / vf:.2f}×{same}", f"{vi:.3f}", f"{ti:.3f}",
                         f"{ti / vi:.2f}×", f"{tf / ti:.2f}×", f"{size:.0%}"])  # fmt: skip
    return bm.table("Medians in ms, batch 1", columns, rows)


def _same_bytes(a: str, b: str) -> str:
    """ " (same bytes)" when two artifacts are byte-identical: their ratio is then pure measurement noise."""
    return " (same bytes)" if Path(a).read_bytes() == Path(b).read_bytes() else ""


if __name__ == "__main__":
    raise SystemExit(main())
