"""Harness overhead versus a bare runtime loop, and the CI width the default settings give.

    python benchmarks/bench_harness.py [--variant 1.0-224] [--targets onnx,executorch] [--rounds 5] [--quick]

1. Overhead: on the same loaded artifact, interleaved rounds of (a) a bare ``for`` loop of
   ``runner.run(x)`` timed as a whole and (b) the harness's timed loop (``toolkit.profile.runner``),
   both 100 runs after the same warm-up. Overhead = harness wall / bare wall - 1 (bar: ≤ 2%).
2. Precision: ``HostDevice().run`` with the default ProfileConfig (10 warm-ups, 100 runs), repeated;
   the 95% CI half-width of the median relative to the median (bar: ±2% on an idle host).
3. Per-operator profile (``toolkit profile --ops``, 1 thread): the operator rows' sum against the end-to-end
   latency timed beside them (near 1 when the profile accounts for the whole inference), and the share of
   the time inside real operators.
Prints a table and writes benchmarks/out/bench_harness.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import _machine as bm


def _artifact(target: str, alpha: float, res: int) -> Path:
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export

    model = mobilenet_v1(alpha, res, weights="random")
    return export(
        model, ExportConfig(target=target, precision="fp32", output_dir=bm.OUT / "artifacts"), progress=False
    ).path


def overhead(path: Path, rounds: int, n: int = 100) -> dict:
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.profile.runner import _timed_loop, profile_input
    from toolkit.runtimes import open_runner, read_manifest

    x = profile_input(read_manifest(path))
    runner = open_runner(path)
    for _ in range(10):
        runner.run(x)
    cfg = ProfileConfig(warmup=0, iterations=n)
    bare, harness = [], []

    def bare_loop() -> None:
        t0 = time.perf_counter()
        for _ in range(n):
            runner.run(x)
        bare.append((time.perf_counter() - t0) / n * 1e3)

    def harness_loop() -> None:
        t0 = time.perf_counter()
        _timed_loop(runner.run, x, cfg)
        harness.append((time.perf_counter() - t0) / n * 1e3)

    for r in range(rounds):  # alternate which goes first: the second of a pair must not always pay the same drift
        for loop in (bare_loop, harness_loop) if r % 2 == 0 else (harness_loop, bare_loop):
            loop()
    runner.close()
    b, h = statistics.median(bare), statistics.median(harness)
    return {"bare_ms": b, "harness_ms": h, "overhead": h / b - 1.0, "rounds": rounds, "runs": n}


def per_call_ns(n: int = 200_000) -> float:
    """Absolute harness cost per inference: the timed loop around a no-op minus a bare loop around it.

    Independent of the model and far less sensitive to noisy neighbours than the side-by-side ratio.
    """
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.profile.runner import _timed_loop

    def noop(x: object) -> None:
        return None

    cfg, best = ProfileConfig(warmup=0, iterations=n), []
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            noop(None)
        bare = time.perf_counter_ns() - t0
        t0 = time.perf_counter_ns()
        _timed_loop(noop, None, cfg)
        best.append((time.perf_counter_ns() - t0 - bare) / n)
    return min(best)


def precision(path: Path, repeats: int) -> dict:
    from toolkit.profile.host import HostDevice
    from toolkit.profile.protocol import ProfileConfig

    out = []
    for _ in range(repeats):
        s = HostDevice().run(path, ProfileConfig())["stats"]
        out.append({"median_ms": s["median_ms"], "ci95": [s["ci95_low_ms"], s["ci95_high_ms"]],
                    "halfwidth_rel": (s["ci95_high_ms"] - s["ci95_low_ms"]) / 2 / s["median_ms"]})  # fmt: skip
    return {"repeats": out, "halfwidth_rel_median": statistics.median(r["halfwidth_rel"] for r in out)}


def operator_profile(target: str, alpha: float, res: int, runs: int) -> dict:
    """How the per-operator times add up against the end-to-end latency measured beside them (1 thread)."""
    from toolkit.profile.ops import profile_ops

    p = profile_ops(_artifact(target, alpha, res), threads=1, runs=runs, warmup=max(2, runs // 6))
    return {"total_us": p.total_us, "end_to_end_us": p.end_to_end_us, "operators_us": p.operators_us,
            "sum_over_end_to_end": p.total_us / p.end_to_end_us,
            "operator_share": p.operators_us / p.total_us}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="1.0-224")
    ap.add_argument("--targets", default="onnx,executorch")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ops-runs", type=int, default=30, help="profiled runs of the per-operator check")
    ap.add_argument("--quick", action="store_true", help="0.25-128, one round and repeat (a smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/out/bench_harness.json)")
    args = ap.parse_args(argv)
    if args.quick:
        args.variant, args.rounds, args.repeats, args.ops_runs = "0.25-128", 1, 1, 6
    run = bm.start("bench_harness", args.quick, argv)
    alpha, res = float(args.variant.split("-")[0]), int(args.variant.split("-")[1])
    results = {}
    ns = per_call_ns()
    for target in args.targets.split(","):
        path = _artifact(target, alpha, res)
        results[target] = {"overhead": overhead(path, args.rounds), "precision": precision(path, args.repeats),
                           "operators": operator_profile(target, alpha, res, args.ops_runs)}  # fmt: skip
        time.sleep(0.5)  # let ORT's spinning workers settle before the next runtime
    rows = []
    for t, r in results.items():
        o, p, ops = r["overhead"], r["precision"], r["operators"]
        rows.append([t, f"{o['bare_ms']:.3f}", f"{o['harness_ms']:.3f}", f"{o['overhead']:+.2%}",
                     f"±{p['halfwidth_rel_median']:.2%}", f"{ops['sum_over_end_to_end']:.2f}",
                     f"{ops['operator_share']:.0%}"])  # fmt: skip
    columns = ["target", "bare loop ms", "harness ms", "overhead", "CI of the median", "operator sum / end-to-end",
               "share in operators"]  # fmt: skip
    table = bm.table(f"{args.variant} fp32, default threads (per-operator profile: 1 thread)", columns, rows)
    notes = [f"harness bookkeeping around a no-op: {ns:.0f} ns per inference"]
    print(bm.markdown(table) + "\n\n" + "\n".join(notes))
    data = {"variant": args.variant, "harness_ns_per_inference": ns, "results": results}
    print(f"wrote {bm.finish(run, tables=[table], data=data, notes=notes, out=args.out)}")


if __name__ == "__main__":
    main()
