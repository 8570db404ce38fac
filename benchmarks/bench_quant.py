"""int8 vs fp32 latency per host runtime, side by side in one run, with and without the pad-free rewrite.

    python benchmarks/bench_quant.py --variants 1.0-224 0.5-160 --out bench_quant.json

Builds every artifact first (fp32; int8 from the vendor-default graph with explicit pads; int8 after
:func:`quantization.rewrites.fold_tf_padding`), then times each runtime in its own fresh process
(performance_notes.md: ORT's spinning threads disturb whatever runs next), warm-up then interleaved rounds
so a load spike on this shared machine hits fp32 and int8 alike. Weights are seeded-random with BatchNorm
calibrated on real photos: latency does not depend on the values, calibration is the bundled photos.
Only ratios measured in one run are meaningful here; absolute milliseconds drift ±10-20%.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RUNTIMES = ("executorch", "tflite", "onnx")
_EXT = {"executorch": ".pte", "tflite": ".tflite", "onnx": ".onnx"}


def _build(runtime: str, alpha: float, res: int, kind: str, out: Path) -> Path:
    """Write one artifact: kind is fp32, int8-pad (vendor default graph) or int8-fold (pad-free)."""
    import torch

    import quantization
    from toolkit import mobilenet_v1

    model = mobilenet_v1(alpha, res, weights="random")
    path = out / f"a{alpha:.2f}-r{res}-{runtime}-{kind}{_EXT[runtime]}"
    if path.exists():
        return path
    example = torch.zeros(1, 3, res, res)
    if kind == "fp32":
        if runtime == "executorch":
            from quantization.xnnpack import lower_to_pte

            path.write_bytes(lower_to_pte(torch.export.export(model, (example,))))
        elif runtime == "tflite":
            import litert_torch

            litert_torch.convert(model, (example,)).export(str(path))
        else:
            from quantization.onnx import export_fp32_onnx

            export_fp32_onnx(model, example, path)
        return path
    fold = kind == "int8-fold"
    quantization.quantize(model, runtime, "int8", None, path, fold_padding=fold, eval_data=np.zeros((0, 3, res, res)))
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

            method = Runtime.get().load_program(Path(p)).load_method("forward")
            xt = torch.from_numpy(x)
            calls[p] = lambda m=method, xt=xt: m.execute([xt])
        elif runtime == "tflite":
            from ai_edge_litert.interpreter import Interpreter

            it = Interpreter(model_path=p, num_threads=threads)
            it.allocate_tensors()
            it.set_tensor(it.get_input_details()[0]["index"], x)
            calls[p] = it.invoke
        else:
            import onnxruntime as ort

            o = ort.SessionOptions()
            o.intra_op_num_threads = threads
            s = ort.InferenceSession(p, o, providers=["CPUExecutionProvider"])
            name = s.get_inputs()[0].name
            calls[p] = lambda s=s, name=name, x=x: s.run(None, {name: x})
    samples: dict[str, list[float]] = {p: [] for p in paths}
    for p in paths:
        for _ in range(warmup):
            calls[p]()
    for _ in range(rounds):
        for p in paths:
            time.sleep(0.1)  # let ORT's spinning threads settle before the next artifact
            for _ in range(runs):
                t0 = time.perf_counter()
                calls[p]()
                samples[p].append((time.perf_counter() - t0) * 1e3)
    print(json.dumps(samples))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["1.0-224", "0.5-160"])
    ap.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_quant")
    ap.add_argument("--out", type=Path, default=None, help="write all samples and medians as JSON")
    ap.add_argument("--_time", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._time:
        _time_worker(args._time[0], args._time[1:], args.warmup, args.runs, args.rounds, args.threads)
        return 0
    args.build_dir.mkdir(parents=True, exist_ok=True)
    built: dict[tuple[str, str, str], str] = {}
    medians: dict[str, float] = {}
    samples: dict[str, list[float]] = {}
    for rt in args.runtimes:  # build then time one runtime at a time, so partial results survive a long run
        for v in args.variants:
            alpha, res = float(v.split("-")[0]), int(v.split("-")[1])
            for kind in ("fp32", "int8-pad", "int8-fold"):
                t0 = time.perf_counter()
                path = _build(rt, alpha, res, kind, args.build_dir)
                built[(v, rt, kind)] = str(path)
                print(f"built {path.name} ({path.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
        paths = [p for (v, r, k), p in built.items() if r == rt]
        cmd = [sys.executable, __file__, "--warmup", str(args.warmup), "--runs", str(args.runs),
               "--rounds", str(args.rounds), "--threads", str(args.threads), "--_time", rt, *paths]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        for p, s in json.loads(out).items():
            samples[p], medians[p] = s, float(np.median(s))
        print(_table(args.variants, [rt], built, medians), flush=True)
        if args.out:
            sizes = {p: Path(p).stat().st_size for p in built.values()}
            args.out.write_text(json.dumps({"medians_ms": medians, "sizes": sizes, "samples_ms": samples}, indent=1))
        time.sleep(1.0)
    done = [rt for rt in args.runtimes if all((v, rt, "fp32") in built for v in args.variants)]
    print(_table(args.variants, done, built, medians))
    return 0


def _table(variants, runtimes, built, medians) -> str:  # type: ignore[no-untyped-def]
    head = "| variant | runtime | fp32 ms | int8 (pads) ms | × | int8 (pad-free) ms | × | size int8/fp32 |"
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    for v in variants:
        for rt in runtimes:
            f, p, d = (built[(v, rt, k)] for k in ("fp32", "int8-pad", "int8-fold"))
            mf, mp, md = medians[f], medians[p], medians[d]
            size = Path(d).stat().st_size / Path(f).stat().st_size
            rows.append(
                f"| {v} | {rt} | {mf:.3f} | {mp:.3f} | {mf / mp:.2f}× | {md:.3f} | {mf / md:.2f}× | {size:.0%} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
