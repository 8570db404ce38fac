"""Latency model accuracy: leave-one-variant-out MAPE on a host sweep of the 16 published variants.

Measures (or reuses) result records, fits :mod:`toolkit.latency_model` per (device, runtime, precision)
and reports the leave-one-variant-out mean absolute percentage error of the median for each feature set.

    python benchmarks/bench_latency_model.py                      # measure ORT fp32 with this script
    python benchmarks/bench_latency_model.py --targets onnx executorch
    python benchmarks/bench_latency_model.py --db results.sqlite  # use a `toolkit sweep` database instead
    python benchmarks/bench_latency_model.py --records benchmarks/out/host_sweep.json   # refit only

Measured records are written to ``benchmarks/out/host_sweep_<target>.json`` (atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _measure(targets: list[str], iterations: int, rounds: int, threads: int, reuse: bool) -> list[dict]:
    from toolkit.latency_model import measure_on_host
    from toolkit.variants import published_variants

    records = []
    for target in targets:
        t0 = time.perf_counter()
        recs = measure_on_host(published_variants(), target=target, precision="fp32", threads=threads,
                               warmup=10, iterations=iterations, rounds=rounds, reuse=reuse)  # fmt: skip
        print(f"{target}: measured 16 variants in {time.perf_counter() - t0:.0f} s", flush=True)
        path = OUT / f"host_sweep_{target}_t{threads}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(recs, indent=1))
        os.replace(tmp, path)
        records += recs
    return records


def _loglog_mape(records: list[dict], stat: str) -> dict[tuple, float]:
    """LOO MAPE of the single power law log t = a + b·log MACs, the baseline docs/selecting.md compares."""
    import numpy as np

    from toolkit.latency_model import variant_features
    from toolkit.select import config_key, latest_records
    from toolkit.variants import parse_name

    groups: dict[tuple, list[dict]] = {}
    for r in latest_records(records):
        groups.setdefault(config_key(r), []).append(r)
    out = {}
    for key, recs in sorted(groups.items()):
        x = np.log([variant_features(parse_name(r["artifact"]["variant"]))["macs"] for r in recs])
        y = np.log([r["stats"][stat] for r in recs])
        ape = []
        for i in range(len(recs)):
            keep = [j for j in range(len(recs)) if j != i]
            b, a = np.polyfit(x[keep], y[keep], 1)
            ape.append(abs(np.exp(a + b * x[i] - y[i]) - 1))
        out[key] = 100 * float(np.mean(ape))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=["onnx"])
    ap.add_argument("--records", nargs="*", type=Path, help="reuse saved result records (JSON lists)")
    ap.add_argument("--db", type=Path, help="a results database filled by `toolkit sweep`")
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse-artifacts", action="store_true", help="time cached artifacts without rebuilding")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.db:
        from toolkit.select import records_from_db

        records = records_from_db(args.db)
    elif args.records is not None:
        files = args.records or sorted(OUT.glob("host_sweep_*.json"))
        records = [r for p in files for r in json.loads(p.read_text())]
    else:
        records = _measure(args.targets, args.iterations, args.rounds, args.threads, args.reuse_artifacts)
    from toolkit.latency_model import loo_report

    for stat in ("median_ms", "trimmed_mean_ms"):
        print(f"\nleave-one-variant-out, {stat}:\n{loo_report(records, stat)}")
        for key, mape in _loglog_mape(records, stat).items():
            print(f"  log-log power law {' '.join(key)}: LOO MAPE {mape:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
