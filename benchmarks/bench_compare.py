"""The regression gate's error rates, the stated interval's coverage, and what the bookkeeping costs.

    python benchmarks/bench_compare.py --quick          # 4 variants, 4 trials: a few minutes on a busy machine
    python benchmarks/bench_compare.py                  # 16 variants, 20 trials: the figures to publish
    python benchmarks/bench_compare.py --interference   # also: ORT's spinning pool next to ExecuTorch, 3 ways

The same ONNX Runtime artifacts sit in three folders, byte for byte: A1 and A2 (two builds of the same code)
and B, whose every inference is followed by a busy-wait of 10% of that variant's median (a known, real 10%
slowdown, injected in the worker processes by a ``sitecustomize`` this script writes, so the product's code
runs unchanged). Each trial is four separate measurements, in this order, at the sweep's default budget (10
warm-ups, 100 runs in 5 rounds, ``--threads`` as the sweep's default ``auto``):

1. a stored run of A (A1 and A2 in turn), one :func:`toolkit.profile.rounds.measure_host` call, as a sweep;
2. a stored run of B;
3. ``toolkit compare`` of the previous trial's A run with this one (:func:`toolkit.report.compare.remeasure`,
   then :func:`toolkit.report.compare_records`): the A1 and A2 files timed side by side;
4. ``toolkit compare`` of this trial's A and B runs: A and B timed side by side.

Reported for both gates, the one on stored runs (``--stored``: 1 against 1 of the trial before, 1 against 2)
and the side-by-side one (3, 4):

- **A/A false alarms**: per variant (how often one identical artifact is called regressed) and per comparison
  (how often ``toolkit compare`` would exit 1): target <= 5%;
- **A/B detection**: share of the 10%-slowed variants called regressed: target >= 95%;
- **coverage**: over the A runs, each stored in one results DB as a sweep stores it, the share of (run,
  variant) whose stated interval holds the variant's median over all runs (target >= 95%), next to the same
  for the within-run bootstrap CI alone;
- **overhead**: what measuring the 0.25-128 artifact alone adds beyond its inferences and the per-frame
  preprocessing timed before each (the measurement lock, the worker round trip carrying its 5 rounds, the CPU
  counters read where the artifact changes), per timed inference,
  against its median (target < 1%); none of it falls inside a timed sample.
Writes benchmarks/out/bench_compare.json (``--quick``: benchmarks/out/quick/) with the command, the machine
(CPU model, ISA flags, cores) and the load average before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
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
        extra = _spin.get(str(Path(path).resolve()))
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


def _copies(paths: list[Path], folder: Path) -> list[Path]:
    """The artifacts and their manifests copied into ``folder``: another build with the same bytes."""
    folder.mkdir(parents=True)
    for p in paths:
        for f in p.parent.glob(p.name + "*"):
            shutil.copy(f, folder / f.name)
    return [folder / p.name for p in paths]


def _spin(paths: list[Path], ref_ms: list[float]) -> dict[str, float]:
    return {str(p.resolve()): SLOWDOWN * ms for p, ms in zip(paths, ref_ms, strict=True)}


def _run(paths: list[Path], threads: int | None, spin: dict[str, float] | None) -> list[dict]:
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.profile.rounds import measure_host

    os.environ["BENCH_COMPARE_SPIN"] = json.dumps(spin or {})
    res = measure_host(paths, ProfileConfig(), threads)
    if res.failures:
        raise SystemExit("; ".join(res.failures))
    return [r for r in res.records if r is not None]


def _side_by_side(a: list[dict], b: list[dict], spin: dict[str, float] | None) -> tuple[dict, float]:
    """What ``toolkit compare A B`` times side by side (its own code), and the seconds it took."""
    from toolkit.report.compare import remeasure

    os.environ["BENCH_COMPARE_SPIN"] = json.dumps(spin or {})
    t0 = time.perf_counter()
    tests, why = remeasure(a, b)
    if why:
        raise SystemExit("; ".join(why.values()))
    return tests, time.perf_counter() - t0


def _rates(pairs: list[tuple[list[dict], list[dict]]], tests: list[dict] | None = None) -> dict:
    from toolkit.report import compare_records

    per_variant, per_compare, ratios, unsure = [], [], [], []
    for k, (a, b) in enumerate(pairs):
        rows = [c for c in compare_records(a, b, side_by_side=tests[k] if tests else None) if c.test is not None]
        per_variant += [c.status == "regressed" for c in rows]
        unsure += [c.status == "inconclusive" for c in rows]
        per_compare.append(any(c.status == "regressed" for c in rows))
        ratios += [round(c.test.ratio, 4) for c in rows]
    logs = [math.log(r) for r in ratios]
    return {"variants": len(per_variant), "regressed_share": sum(per_variant) / max(len(per_variant), 1),
            "comparisons": len(per_compare), "any_regressed_share": sum(per_compare) / max(len(per_compare), 1),
            "inconclusive_share": sum(unsure) / max(len(unsure), 1),
            "geomean_ratio": math.exp(statistics.fmean(logs)) if logs else None,
            "sd_log_ratio": statistics.stdev(logs) if len(logs) > 1 else None, "ratios": ratios}  # fmt: skip


def _stored(db, run: list[dict], run_id: str) -> list[dict]:
    """``run`` as the results DB stores it (what a sweep's report and compare then read)."""
    for rec in run:
        db.insert(rec, sweep_id=run_id)
    return db.records()[-len(run) :]


def _coverage(runs: list[list[dict]]) -> dict:
    from toolkit.profile.intervals import stated_interval

    by: dict[str, list[dict]] = {}
    for run in runs:
        for rec in run:
            by.setdefault(rec["artifact"]["variant"], []).append(rec)
    stated = boot = reproduced = pairs = 0
    n = history = history_in = 0
    for recs in by.values():
        center = statistics.median(r["stats"]["median_ms"] for r in recs)
        for r in recs:
            low, high = stated_interval(r)
            s = r["stats"]
            stated += low <= center <= high
            if "between_runs" in r:  # the store had this device's earlier runs to measure their drift from
                history += 1
                history_in += low <= center <= high
            boot += s["ci95_low_ms"] <= center <= s["ci95_high_ms"]
            n += 1
            for other in recs:
                if other is not r:
                    reproduced += low <= other["stats"]["median_ms"] <= high
                    pairs += 1
    return {"cases": n, "stated": stated / max(n, 1), "bootstrap_only": boot / max(n, 1),
            "with_history_cases": history, "stated_with_history": history_in / max(history, 1),
            "other_runs_inside": reproduced / max(pairs, 1)}  # fmt: skip


def _overhead(path: Path, median_ms: float, iterations: int = 100, rounds: int = 5) -> dict:
    """What one measurement of ``path`` alone adds beyond its inferences: the lock, and the one request that
    carries its rounds (pickling, the pipe, and the CPU counters read where the artifact changes)."""
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
    counters_us = (time.perf_counter() - t0) / 2000 * 1e6  # one read: where the artifact changes
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
    request_us = statistics.median(trips)  # includes the counter reads
    per_inference_us = (lock_us + request_us) / iterations
    # alone, the worker reads the counters twice per request (one window); a sweep of the 16 variants on one
    # runtime: one lock, one request, 16 × rounds + 1 counter reads (the artifact changes at every slice)
    trip_us = max(request_us - 2 * counters_us, 0.0)
    sweep16_us = (lock_us + trip_us + (16 * rounds + 1) * counters_us) / (16 * iterations)
    return {"lock_us": lock_us, "cpu_counters_us_per_read": counters_us, "request_us": request_us,
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
    ap.add_argument("--quick", action="store_true", help="4 variants, 4 trials")
    ap.add_argument("--runs", type=int, default=None, help="trials; default 20, quick 4")
    ap.add_argument("--threads", default="auto", help="as toolkit sweep --threads (default auto)")
    ap.add_argument("--target", default="onnx")
    ap.add_argument("--artifacts-dir", type=Path, default=None, help="where the artifacts are exported/cached")
    ap.add_argument("--interference", action="store_true", help="also measure ORT next to ExecuTorch, 3 ways")
    args = ap.parse_args(argv)
    from toolkit.profile.threads import parse_threads
    from toolkit.results import ResultsDB

    threads = parse_threads(args.threads)
    variants = QUICK if args.quick else ALL
    trials = args.runs or (4 if args.quick else 20)
    # the sweep's default (auto) is the figure to publish; a fixed thread count is a second, named run
    bench = bm.start("bench_compare" + ("" if args.threads == "auto" else f"_t{args.threads}"), args.quick, argv)
    started = time.time()
    built = _artifacts(variants, args.target, args.artifacts_dir)
    work = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    (work / "sitecustomize.py").write_text(SPIN)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(work), *filter(None, [os.environ.get("PYTHONPATH")])])
    a_dirs = [_copies(built, work / "A1"), _copies(built, work / "A2")]
    b_paths = _copies(built, work / "B")
    a_runs, b_runs, sbs_aa, sbs_ab, sbs_s = [], [], [], [], []
    show = lambda run: "  ".join(f"{r['stats']['median_ms']:.3f}" for r in run)  # noqa: E731
    with ResultsDB(work / "a.db") as db:
        for i in range(trials):
            a_runs.append(_stored(db, _run(a_dirs[i % 2], threads, None), f"A{i + 1}"))
            print(f"A{i + 1}: {show(a_runs[-1])}", flush=True)
            ref = [statistics.median(run[k]["stats"]["median_ms"] for run in a_runs) for k in range(len(built))]
            spin = _spin(b_paths, ref)
            b_runs.append(_run(b_paths, threads, spin))
            print(f"B{i + 1}: {show(b_runs[-1])}", flush=True)
            if i:
                tests, s = _side_by_side(a_runs[-2], a_runs[-1], None)
                sbs_aa.append(tests)
                sbs_s.append(s)
            tests, s = _side_by_side(a_runs[-1], b_runs[-1], spin)
            sbs_ab.append(tests)
            sbs_s.append(s)
            ratios = [" ".join(f"{t.ratio:.3f}" for t in x[-1].values()) if x else "-" for x in (sbs_aa, sbs_ab)]
            print(f"side by side {i + 1}: A/A {ratios[0]} | A/B {ratios[1]}", flush=True)
    aa = _rates(list(itertools.pairwise(a_runs)))
    ab = _rates(list(zip(a_runs, b_runs, strict=True)))
    saa = _rates(list(itertools.pairwise(a_runs)), sbs_aa)
    sab = _rates(list(zip(a_runs, b_runs, strict=True)), sbs_ab)
    cover = _coverage(a_runs)
    small = min(range(len(built)), key=lambda k: variants[k][0] * variants[k][1] ** 2)
    overhead = _overhead(built[small], statistics.median(run[small]["stats"]["median_ms"] for run in a_runs))
    flags = sorted({f for run in a_runs + b_runs for r in run for f in r.get("flags") or ()})
    busy = sum("busy" in (r.get("flags") or ()) for run in a_runs + b_runs for r in run)
    doc = {
        "wall_s": round(time.time() - started, 1), "target": args.target, "threads": args.threads,
        "variants": [f"{a:.2f}-{r}" for a, r in variants], "a_runs": len(a_runs), "b_runs": len(b_runs),
        "slowdown": SLOWDOWN, "targets": TARGETS,
        "false_alarm": aa, "detection": ab, "side_by_side": {"false_alarm": saa, "detection": sab,
        "compare_s": [round(s, 1) for s in sbs_s]}, "coverage": cover, "overhead": overhead,
        "flags_seen": flags, "busy_records": busy, "records": len(a_runs + b_runs) * len(built),
        "medians_ms": {"A": [[r["stats"]["median_ms"] for r in run] for run in a_runs],
                       "B": [[r["stats"]["median_ms"] for r in run] for run in b_runs]},
        "threads_used": {"A": [[r["config"]["threads"] for r in run] for run in a_runs],
                         "B": [[r["config"]["threads"] for r in run] for run in b_runs]},
    }  # fmt: skip
    if args.interference:
        doc["interference"] = _interference(args.artifacts_dir, 8 if args.quick else 40)
    rows = [
        ["side by side: A/A false alarms, per variant", f"{saa['regressed_share']:.1%} of {saa['variants']}", "≤ 5%"],
        ["side by side: A/A false alarms, per compare run",
         f"{saa['any_regressed_share']:.1%} of {saa['comparisons']}", "≤ 5%"],
        [f"side by side: A/B detection of a {SLOWDOWN:.0%} slowdown",
         f"{sab['regressed_share']:.1%} of {sab['variants']}", "≥ 95%"],
        ["side by side: inconclusive, A/A and A/B",
         f"{saa['inconclusive_share']:.1%} and {sab['inconclusive_share']:.1%}", ""],
        ["side by side: A/A ratio, geometric mean (sd of log)",
         f"{saa['geomean_ratio']:.4f} ({saa['sd_log_ratio']:.4f})", ""],
        [f"side by side: one compare of {len(built)} pairs, wall time",
         f"{statistics.median(sbs_s):.1f} s", ""],
        ["stored runs: A/A false alarms, per variant", f"{aa['regressed_share']:.1%} of {aa['variants']}", "≤ 5%"],
        ["stored runs: A/A false alarms, per compare run",
         f"{aa['any_regressed_share']:.1%} of {aa['comparisons']}", "≤ 5%"],
        [f"stored runs: A/B detection of a {SLOWDOWN:.0%} slowdown",
         f"{ab['regressed_share']:.1%} of {ab['variants']}", "≥ 95%"],
        ["coverage of the run-wide median, stated interval, all runs", f"{cover['stated']:.1%} of {cover['cases']}",
         ""],
        ["coverage, records stating the between-run spread (the store held 4+ earlier runs)",
         f"{cover['stated_with_history']:.1%} of {cover['with_history_cases']}", "≥ 95%"],
        ["coverage, within-run bootstrap CI alone", f"{cover['bootstrap_only']:.1%} of {cover['cases']}", ""],
        ["other runs' medians inside the stated interval", f"{cover['other_runs_inside']:.1%}", ""],
        [f"measuring overhead per inference ({overhead['inference_ms']:.3f} ms inference)",
         f"{overhead['per_inference_us']:.2f} µs = {overhead['share_of_inference']:.3%}", "< 1%"],
    ]  # fmt: skip
    title = (f"{len(variants)} variants on {args.target}, threads {args.threads}: {trials} trials (A run, B run, "
             "A/A and A/B side by side)")  # fmt: skip
    table = bm.table(title, ["figure", "measured", "target"], rows)
    notes = [f"{busy} of {doc['records']} records flagged busy by the measurement itself",
             f"the lock and the rounds' request in a 16-variant sweep: {overhead['sweep16_share']:.3%}"]  # fmt: skip
    if "interference" in doc:
        notes.append("interference (median of slice medians, ms): " + json.dumps(doc["interference"]["medians_ms"]))
    print(bm.markdown(table) + "\n\n" + "\n".join(notes))
    print(f"wrote {bm.finish(bench, tables=[table], data=doc, notes=notes)}")


if __name__ == "__main__":
    main()
