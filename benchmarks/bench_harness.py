"""Harness overhead versus a bare runtime loop, and the CI width the default settings give.

    python benchmarks/bench_harness.py [--variant 1.0-224] [--targets onnx,executorch] [--rounds 5]

1. Overhead: on the same loaded artifact, interleaved rounds of (a) a bare ``for`` loop of
   ``runner.run(x)`` timed as a whole and (b) the harness's timed loop (``toolkit.profile.runner``),
   both 100 runs after the same warm-up. Overhead = harness wall / bare wall - 1 (bar: ≤ 2%).
2. Precision: ``HostDevice().run`` with the default ProfileConfig (10 warm-ups, 100 runs), repeated;
   the 95% CI half-width of the median relative to the median (bar: ±2% on an idle host).
Prints tables and writes benchmarks/out/bench_harness.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _artifact(target: str, alpha: float, res: int) -> Path:
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export

    model = mobilenet_v1(alpha, res, weights="random")
    return export(
        model, ExportConfig(target=target, precision="fp32", output_dir=OUT / "artifacts"), progress=False
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="1.0-224")
    ap.add_argument("--targets", default="onnx,executorch")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    alpha, res = float(args.variant.split("-")[0]), int(args.variant.split("-")[1])
    results = {}
    ns = per_call_ns()
    print(f"harness cost per inference: {ns:.0f} ns (= {ns / 2.88e6:.4%} of 1.0-224 ET fp32's 2.88 ms idle median)")
    for target in args.targets.split(","):
        path = _artifact(target, alpha, res)
        results[target] = {"overhead": overhead(path, args.rounds), "precision": precision(path, args.repeats)}
        time.sleep(0.5)  # let ORT's spinning workers settle before the next runtime
    print(f"{args.variant} fp32, default threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'target':12s} {'bare ms':>9s} {'harness ms':>11s} {'overhead':>9s} {'CI ±% (median of repeats)':>27s}")
    for t, r in results.items():
        o, p = r["overhead"], r["precision"]
        print(f"{t:12s} {o['bare_ms']:9.3f} {o['harness_ms']:11.3f} {o['overhead']:+8.2%} "
              f"{p['halfwidth_rel_median']:26.2%}")  # fmt: skip
    OUT.mkdir(exist_ok=True)
    data = {"variant": args.variant, "harness_ns_per_inference": ns, "loadavg": os.getloadavg(),
            "cores": os.cpu_count(), "results": results,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    (OUT / "bench_harness.json").write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
