"""The regression gate's error rates, the stated interval's coverage, and what the bookkeeping costs.

    python benchmarks/bench_compare.py --quick          # 4 variants, 4 + 3 runs: a few minutes on a busy machine
    python benchmarks/bench_compare.py                  # 16 variants, 20 + 20 runs: the figures to publish
    python benchmarks/bench_compare.py --interference   # also: ORT's spinning pool next to ExecuTorch, 3 ways

Every run is a separate :func:`toolkit.profile.rounds.measure_host` call (fresh worker processes, the default
budget: 10 warm-ups, 100 runs in 5 interleaved rounds, ``--threads`` as the sweep's default ``auto``) of the
same ONNX Runtime artifacts, alternating A (as built) and B (every inference followed by a busy-wait of 10% of
that variant's median: a known, real 10% slowdown, injected in the worker processes by a ``sitecustomize``
this script writes, so the product's code runs unchanged). Then, through :func:`toolkit.report.compare_records`
(the gate of ``toolkit compare``):

- **A/A false alarms**: consecutive A runs compared; per variant (how often one identical artifact is called
  regressed) and per comparison (how often ``toolkit compare`` would exit 1): target <= 5%;
- **A/B detection**: each A run against the B run after it: share of the 10%-slowed variants called
  regressed: target >= 95%;
- **coverage**: over the A runs, the share of (run, variant) whose stated interval holds the variant's median
  over all runs (target >= 95%), next to the same for the within-run bootstrap CI alone;
- **overhead**: what measuring the 0.25-128 artifact alone adds beyond its inferences and the per-frame
  preprocessing timed before each (the measurement lock, the worker round trip carrying its 5 rounds, the CPU
  counters read around each slice), per timed inference,
  against its median (target < 1%); none of it falls inside a timed sample.
Writes benchmarks/out/bench_compare.json (``--quick``: benchmarks/out/quick/) with the command, the machine
(CPU model, ISA flags, cores) and the load average before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import _machine as bm

ALL = [(a, r) for a in (1.0, 0.75, 0.5, 0.25) for r in (224, 192, 160, 128)]
QUICK = [(1.0, 224), (0.75, 192), (0.5, 160), (0.25, 128)]
TARGETS = {"false_alarm": 0.05, "detection": 0.95, "coverage": 0.95, "overhead": 0.01}
SLOWDOWN = 0.10

SPIN = """\
import json, os, time
from pathlib import Path
_spin = json.loads(os.environ.get("BENCH_COMPARE_SPIN") or "{}")
_nospin = bool(os.environ.get("BENCH_COMPARE_NOSPIN"))
if _spin or _nospin:
    import toolkit.runtimes as _rt
    _real = _rt.open_runner

    def open_runner(path, threads=0):
        if _nospin and str(path).endswith(".onnx"):
            from toolkit.runtimes.onnxruntime import OnnxRuntimeRunner
            return OnnxRuntimeRunner(Path(path), threads, allow_spinning=False)
        runner = _real(path, threads=threads)
        extra = _spin.get(Path(path).name)
        if extra:
            inner = runner.run

            def run(x, inner=inner, extra=extra / 1000.0):
                out = inner(x)
                end = time.perf_counter() + extra
                while time.perf_counter() < end:
                    pass
                return out

            runner.run = run
        return runner

    _rt.open_runner = open_runner
"""


def _artifacts(variants, target: str, artifacts_dir: Path | None) -> list[Path]:
    from toolkit.profile.interleaved import random_weight_artifact
    from toolkit.variants import Variant

    return [random_weight_artifact(Variant(a, r), target, "fp32", artifacts_dir).path for a, r in variants]


def _run(paths: list[Path], threads: int | None, spin: dict[str, float] | None) -> list[dict]:
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.profile.rounds import measure_host

    os.environ["BENCH_COMPARE_SPIN"] = json.dumps(spin or {})
    res = measure_host(paths, ProfileConfig(), threads)
    if res.failures:
        raise SystemExit("; ".join(res.failures))
    return [r for r in res.records if r is not None]


def _rates(pairs: list[tuple[list[dict], list[dict]]]) -> dict:
    from toolkit.report import compare_records

    per_variant, per_compare, ratios = [], [], []
    for a, b in pairs:
        rows = [c for c in compare_records(a, b) if c.test is not None]
        per_variant += [c.status == "regressed" for c in rows]
        per_compare.append(any(c.status == "regressed" for c in rows))
        ratios += [round(c.test.ratio, 4) for c in rows]
    return {"variants": len(per_variant), "regressed_share": sum(per_variant) / max(len(per_variant), 1),
            "comparisons": len(per_compare), "any_regressed_share": sum(per_compare) / max(len(per_compare), 1),
            "ratios": ratios}  # fmt: skip


def _coverage(runs: list[list[dict]]) -> dict:
    from toolkit.profile.intervals import stated_interval

    by: dict[str, list[dict]] = {}
    for run in runs:
        for rec in run:
            by.setdefault(rec["artifact"]["variant"], []).append(rec)
    stated = boot = reproduced = pairs = 0
    n = 0
    for recs in by.values():
        center = statistics.median(r["stats"]["median_ms"] for r in recs)
        for r in recs:
            low, high = stated_interval(r)
            s = r["stats"]
            stated += low <= center <= high
            boot += s["ci95_low_ms"] <= center <= s["ci95_high_ms"]
            n += 1
            for other in recs:
                if other is not r:
                    reproduced += low <= other["stats"]["median_ms"] <= high
                    pairs += 1
    return {"cases": n, "stated": stated / max(n, 1), "bootstrap_only": boot / max(n, 1),
            "other_runs_inside": reproduced / max(pairs, 1)}  # fmt: skip


def _overhead(path: Path, median_ms: float, iterations: int = 100, rounds: int = 5) -> dict:
    """What one measurement of ``path`` alone adds beyond its inferences: the lock, and the one request that
    carries its rounds (pickling, the pipe, and the CPU counters read around each slice)."""
    from toolkit.profile.environment import read_cpu
    from toolkit.profile.lock import measurement_lock
    from toolkit.profile.rounds import _Worker

    t0 = time.perf_counter()
    for _ in range(200):
        with measurement_lock("bench-compare-overhead"):
            pass
    lock_us = (time.perf_counter() - t0) / 200 * 1e6
    t0 = time.perf_counter()
    for _ in range(2000):
        read_cpu()
    counters_us = 2 * (time.perf_counter() - t0) / 2000 * 1e6
    w = _Worker(path.suffix)
    try:
        w.ask("load", [("k", str(path), 1)], 2)
        trips = []
        for _ in range(50):  # the rounds' request with one run per slice: all but those runs is bookkeeping
            t0 = time.perf_counter()
            got = w.ask("slices", [("k", 1, None, 0)] * rounds)
            # the timed runs and the frame preprocessed before each (measured work, in the record) are not bookkeeping
            work_ms = sum(g["samples"][0] + sum(g.get("preprocess") or []) for g in got)
            trips.append((time.perf_counter() - t0) * 1e6 - work_ms * 1e3)
    finally:
        w.close()
    request_us = statistics.median(trips)  # includes the counter reads around each slice
    per_inference_us = (lock_us + request_us) / iterations
    # a sweep of the 16 variants on one runtime: one lock, one request, 16 × rounds slices of counters
    trip_us = max(request_us - rounds * counters_us, 0.0)
    sweep16_us = (lock_us + trip_us + 16 * rounds * counters_us) / (16 * iterations)
    return {"lock_us": lock_us, "cpu_counters_us_per_slice": counters_us, "request_us": request_us,
            "per_inference_us": per_inference_us, "inference_ms": median_ms, "iterations": iterations,
            "share_of_inference": per_inference_us / (median_ms * 1e3),
            "sweep16_per_inference_us": sweep16_us, "sweep16_share": sweep16_us / (median_ms * 1e3)}  # fmt: skip


def _interference(art_dir: Path | None, reps: int) -> dict:
    """ExecuTorch 0.25-128 timed right after ORT 0.25-128 (2 threads, 20-run slices after 2 untimed runs, as the
    rounds do): ORT in the same process, ORT in its own process, ORT in its own process without spinning; and
    ORT itself with and without spinning. Median over ``reps`` of each slice's median, conditions rotated."""
    from toolkit.profile.rounds import _rotate, _Worker

    onnx, pte = _artifacts([(0.25, 128)], "onnx", art_dir)[0], _artifacts([(0.25, 128)], "executorch", art_dir)[0]
    workers = {}

    def start(name: str, items: list[Path], nospin: bool = False) -> None:
        os.environ["BENCH_COMPARE_NOSPIN"] = "1" if nospin else ""
        workers[name] = w = _Worker(items[0].suffix)
        w.ask("load", [(p.suffix, str(p), 2) for p in items], 10)

    start("same", [onnx, pte])
    start("ort", [onnx])
    start("et", [pte])
    start("ort_nospin", [onnx], nospin=True)
    os.environ["BENCH_COMPARE_NOSPIN"] = ""

    def timed(w: str, key: str) -> float:
        return statistics.median(workers[w].ask("slice", key, 20, None, 2)["samples"])

    conditions = {
        "et_own_process_after_ort": lambda: (timed("ort", ".onnx"), timed("et", ".pte"))[1],
        "et_same_process_after_ort": lambda: (timed("same", ".onnx"), timed("same", ".pte"))[1],
        "et_own_process_after_ort_nospin": lambda: (timed("ort_nospin", ".onnx"), timed("et", ".pte"))[1],
        "ort_spinning": lambda: (timed("et", ".pte"), timed("ort", ".onnx"))[1],
        "ort_not_spinning": lambda: (timed("et", ".pte"), timed("ort_nospin", ".onnx"))[1],
    }
    got: dict[str, list[float]] = {k: [] for k in conditions}
    try:
        for r in range(reps):
            for k in _rotate(list(conditions), r):
                got[k].append(conditions[k]())
    finally:
        for w in workers.values():
            w.close()
    return {"reps": reps, "medians_ms": {k: round(statistics.median(v), 4) for k, v in got.items()},
            "slices_ms": {k: [round(x, 4) for x in v] for k, v in got.items()}}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 variants, 4 A and 3 B runs")
    ap.add_argument("--runs", type=int, default=None, help="A runs (B runs: one fewer); default 20, quick 4")
    ap.add_argument("--threads", default="auto", help="as toolkit sweep --threads (default auto)")
    ap.add_argument("--target", default="onnx")
    ap.add_argument("--artifacts-dir", type=Path, default=None, help="where the artifacts are exported/cached")
    ap.add_argument("--interference", action="store_true", help="also measure ORT next to ExecuTorch, 3 ways")
    args = ap.parse_args(argv)
    from toolkit.profile.threads import parse_threads

    threads = parse_threads(args.threads)
    variants = QUICK if args.quick else ALL
    n_a = args.runs or (4 if args.quick else 20)
    bench = bm.start("bench_compare", args.quick, argv)
    started = time.time()
    paths = _artifacts(variants, args.target, args.artifacts_dir)
    site = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    (site / "sitecustomize.py").write_text(SPIN)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    a_runs, b_runs = [], []
    for i in range(n_a):
        a_runs.append(_run(paths, threads, None))
        print(f"A{i + 1}: " + "  ".join(f"{r['stats']['median_ms']:.3f}" for r in a_runs[-1]), flush=True)
        if i < n_a - 1:  # B after each A but the last: each A/B pair is two adjacent runs
            ref = {p.name: statistics.median(run[k]["stats"]["median_ms"] for run in a_runs)
                   for k, p in enumerate(paths)}  # fmt: skip
            b_runs.append(_run(paths, threads, {name: SLOWDOWN * ms for name, ms in ref.items()}))
            print(f"B{i + 1}: " + "  ".join(f"{r['stats']['median_ms']:.3f}" for r in b_runs[-1]), flush=True)
    aa = _rates(list(itertools.pairwise(a_runs)))
    ab = _rates(list(zip(a_runs, b_runs, strict=False)))
    cover = _coverage(a_runs)
    small = min(range(len(paths)), key=lambda k: variants[k][0] * variants[k][1] ** 2)
    overhead = _overhead(paths[small], statistics.median(run[small]["stats"]["median_ms"] for run in a_runs))
    flags = sorted({f for run in a_runs + b_runs for r in run for f in r.get("flags") or ()})
    busy = sum("busy" in (r.get("flags") or ()) for run in a_runs + b_runs for r in run)
    doc = {
        "wall_s": round(time.time() - started, 1), "target": args.target, "threads": args.threads,
        "variants": [f"{a:.2f}-{r}" for a, r in variants], "a_runs": len(a_runs), "b_runs": len(b_runs),
        "slowdown": SLOWDOWN, "targets": TARGETS,
        "false_alarm": aa, "detection": ab, "coverage": cover, "overhead": overhead,
        "flags_seen": flags, "busy_records": busy, "records": len(a_runs + b_runs) * len(paths),
        "medians_ms": {"A": [[r["stats"]["median_ms"] for r in run] for run in a_runs],
                       "B": [[r["stats"]["median_ms"] for r in run] for run in b_runs]},
        "threads_used": {"A": [[r["config"]["threads"] for r in run] for run in a_runs],
                         "B": [[r["config"]["threads"] for r in run] for run in b_runs]},
    }  # fmt: skip
    if args.interference:
        doc["interference"] = _interference(args.artifacts_dir, 8 if args.quick else 40)
    rows = [
        ["A/A false alarms, per variant", f"{aa['regressed_share']:.1%} of {aa['variants']}", "≤ 5%"],
        ["A/A false alarms, per compare run", f"{aa['any_regressed_share']:.1%} of {aa['comparisons']}", "≤ 5%"],
        [f"A/B detection of a {SLOWDOWN:.0%} slowdown", f"{ab['regressed_share']:.1%} of {ab['variants']}", "≥ 95%"],
        ["coverage of the run-wide median, stated interval", f"{cover['stated']:.1%} of {cover['cases']}", "≥ 95%"],
        ["coverage, within-run bootstrap CI alone", f"{cover['bootstrap_only']:.1%} of {cover['cases']}", ""],
        ["other runs' medians inside the stated interval", f"{cover['other_runs_inside']:.1%}", ""],
        [f"measuring overhead per inference ({overhead['inference_ms']:.3f} ms inference)",
         f"{overhead['per_inference_us']:.2f} µs = {overhead['share_of_inference']:.3%}", "< 1%"],
    ]  # fmt: skip
    title = (f"{len(variants)} variants on {args.target}, threads {args.threads}: {len(a_runs)} A runs, "
             f"{len(b_runs)} B runs")  # fmt: skip
    table = bm.table(title, ["figure", "measured", "target"], rows)
    notes = [f"{busy} of {doc['records']} records flagged busy by the measurement itself",
             f"the lock and the rounds' request in a 16-variant sweep: {overhead['sweep16_share']:.3%}"]  # fmt: skip
    if "interference" in doc:
        notes.append("interference (median of slice medians, ms): " + json.dumps(doc["interference"]["medians_ms"]))
    print(bm.markdown(table) + "\n\n" + "\n".join(notes))
    print(f"wrote {bm.finish(bench, tables=[table], data=doc, notes=notes)}")


if __name__ == "__main__":
    main()
