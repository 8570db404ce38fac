"""Where ExecuTorch int8 and LiteRT int8 differ, by layer kind: one MobileNet layer per model, same weights, int8.

    python benchmarks/bench_runtime_layers.py [--threads 1] [--rounds 5] [--runs 40] [--quick]

LiteRT's Python interpreter has no per-operator profiler, so the gap ``bench_runtimes.py`` measures on whole
models cannot be split by operator on its side. This splits it by construction instead: single-layer models
with MobileNet 1.0-224's own shapes (the first 3×3 conv, a pointwise 1×1 conv and a depthwise 3×3 conv at the
56×56 and 14×14 stages, each + ReLU), quantized by each runtime's own PT2E int8 path (per-channel weights,
calibrated on the same random images) with channels-last (NHWC) float input on both, and timed each runtime in a
fresh process per round (rotated order). Both runtimes call XNNPACK, so a layer kind whose ratio stands out
points at the XNNPACK build each one ships, not at the graph. Writes benchmarks/out/bench_runtime_layers.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import _machine as bm
import numpy as np

# name → (kind, in channels, out channels, size, stride): MobileNet 1.0-224's own layer shapes
LAYERS = {
    "conv3x3 s2 3→32 @224": ("conv", 3, 32, 224, 2),
    "pointwise 128→128 @56": ("pw", 128, 128, 56, 1),
    "depthwise 128 @56": ("dw", 128, 128, 56, 1),
    "pointwise 512→512 @14": ("pw", 512, 512, 14, 1),
    "depthwise 512 @14": ("dw", 512, 512, 14, 1),
}


def _module(kind: str, cin: int, cout: int, stride: int):
    import torch

    if kind == "pw":
        conv = torch.nn.Conv2d(cin, cout, 1, bias=True)
    else:
        conv = torch.nn.Conv2d(cin, cout, 3, stride, 1, groups=cin if kind == "dw" else 1, bias=True)
    torch.nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
    return torch.nn.Sequential(conv, torch.nn.ReLU()).eval()


def _build(name: str, out: Path) -> dict[str, str]:
    """The layer as an ExecuTorch int8 .pte and a LiteRT int8 .tflite, both taking float32 NHWC input."""
    import litert_torch
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from executorch.exir import to_edge_transform_and_lower
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
    from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config as litert_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from quantization.tflite import float_io

    kind, cin, cout, size, stride = LAYERS[name]
    torch.manual_seed(0)
    model = _module(kind, cin, cout, stride)
    cal = [torch.randn(1, cin, size, size) for _ in range(8)]
    stem = out / name.replace(" ", "_").replace("→", "-").replace("@", "r")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    # ExecuTorch: channels-last input (dim order 0,2,3,1), as the toolkit's default .pte
    example = cal[0].contiguous(memory_format=torch.channels_last)
    graph = torch.export.export(model, (example,), strict=False).module()
    xnnpack = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(graph, xnnpack)
    for x in cal:
        prepared(x.contiguous(memory_format=torch.channels_last))
    program = torch.export.export(convert_pt2e(prepared), (example,), strict=False)
    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    paths["executorch"] = str(stem.with_suffix(".pte"))
    Path(paths["executorch"]).write_bytes(edge.to_executorch().buffer)

    # LiteRT: NHWC input through a permute the converter folds, int8 by its own PT2E quantizer
    class Nhwc(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    wrapped, example = Nhwc(model).eval(), cal[0].permute(0, 2, 3, 1).contiguous()
    quantizer = PT2EQuantizer().set_global(litert_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(wrapped, (example,), strict=False).module(), quantizer)
    for x in cal:
        prepared(x.permute(0, 2, 3, 1).contiguous())
    converted = convert_pt2e(prepared, fold_quantize=False)
    edge_model = litert_torch.convert(converted, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer))
    paths["tflite"] = str(stem.with_suffix(".tflite"))
    edge_model.export(paths["tflite"])
    tflite = Path(paths["tflite"])
    tflite.write_bytes(float_io(tflite.read_bytes()))  # float32 at the edges, as the toolkit's default .tflite
    return paths


def _time_worker(runtime: str, paths: list[str], threads: int, warmup: int, runs: int) -> None:
    """Child process: one runtime, its layer models loaded once and timed interleaved; prints JSON (ms)."""
    calls = {}
    if runtime == "executorch":
        import torch
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime

        portable_lib._unsafe_reset_threadpool(threads)
        for p in paths:
            program = Runtime.get().load_program(Path(p))
            method = program.load_method("forward")
            n, c, h, w = tuple(method.metadata.input_tensor_meta(0).sizes())
            x = torch.randn(n, h, w, c).permute(0, 3, 1, 2)  # NHWC bytes under the logical NCHW sizes
            calls[p] = lambda prog=program, m=method, x=x: m.execute([x])
    else:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            from tflite_runtime.interpreter import Interpreter
        for p in paths:
            it = Interpreter(model_path=p, num_threads=threads)
            it.allocate_tensors()
            d = it.get_input_details()[0]
            x = np.random.default_rng(0).standard_normal(d["shape"]).astype(np.float32)

            def call(it=it, i=d["index"], x=x) -> None:
                it.set_tensor(i, x)
                it.invoke()

            calls[p] = call
    print(json.dumps(bm.interleaved(calls, warmup, runs, 1)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--build-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_runtime_layers")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 10 runs (a smoke run)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--_time", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._time:
        _time_worker(args._time[0], args._time[1:], args.threads, args.warmup, args.runs)
        return 0
    if args.quick:
        args.runs, args.rounds, args.warmup = 10, 2, 3
    run = bm.start("bench_runtime_layers", args.quick, argv)
    built = {name: _build(name, args.build_dir) for name in LAYERS}
    medians: dict[tuple[str, str], list[float]] = {}
    runtimes = ["executorch", "tflite"]
    for r in range(args.rounds):
        for rt in runtimes[r % 2 :] + runtimes[: r % 2]:
            mine = {built[name][rt]: name for name in LAYERS}
            cmd = [sys.executable, __file__, "--threads", str(args.threads), "--warmup", str(args.warmup), "--runs",
                   str(args.runs), "--_time", rt, *mine]  # fmt: skip
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            for p, samples in json.loads(out).items():
                medians.setdefault((mine[p], rt), []).append(float(np.median(samples)))
    rows = []
    for name in LAYERS:
        et, lt = np.asarray(medians[(name, "executorch")]), np.asarray(medians[(name, "tflite")])
        rows.append({"layer": name, "executorch_ms": float(np.median(et)), "tflite_ms": float(np.median(lt)),
                     "ratio": float(np.median(et / lt)), "ratio_min": float((et / lt).min()),
                     "ratio_max": float((et / lt).max())})  # fmt: skip
    cells = [[r["layer"], f"{r['executorch_ms'] * 1e3:.1f}", f"{r['tflite_ms'] * 1e3:.1f}",
              f"{r['ratio']:.2f} ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})"] for r in rows]  # fmt: skip
    table = bm.table(f"int8, one layer per model, {args.threads} thread(s), float32 NHWC input",
                     ["layer", "ExecuTorch µs", "LiteRT µs", "ET ÷ LiteRT (rounds min–max)"], cells)  # fmt: skip
    settings = {k: getattr(args, k) for k in ("threads", "warmup", "runs", "rounds")}
    path = bm.finish(run, tables=[table], data={"settings": settings, "rows": rows}, out=args.out)
    print(f"{bm.markdown(table)}\n\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
