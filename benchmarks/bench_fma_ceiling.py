"""The machine's measured fp32 FMA ceiling, and how close each fp32 artifact of 1.0-224 gets to it.

    python benchmarks/bench_fma_ceiling.py [--threads 1 2] [--quick]

How close the fastest fp32 1.0-224 artifact gets to the ceiling measured by an FMA loop (not ``torch.mm``).
The loop is C compiled here with ``-march=native``: 12 independent accumulators per thread (enough
to cover FMA latency × ports on Zen/Intel cores), the widest vector the CPU has (AVX-512 when ``avx512f`` is
in /proc/cpuinfo, else AVX2), one pthread per core asked for. GFLOP/s counts an FMA as two flops, the same
convention as 2 × MACs for a network. The latencies are bench_quant.py's JSON (its fp32 medians), used only when it
was measured on this CPU. Writes benchmarks/out/bench_fma_ceiling.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import _machine as bm

_SOURCE = r"""
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef __AVX512F__
typedef __m512 vec; enum { LANES = 16 };
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define SUM(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 vec; enum { LANES = 8 };
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
static float SUM(__m256 v) {
  float t[8], s = 0;
  _mm256_storeu_ps(t, v);
  for (int i = 0; i < 8; i++) s += t[i];
  return s;
}
#endif
enum { ACC = 12 };
static long ITERS;
/* twelve named accumulators, so the compiler keeps them all in registers (an array may live in memory) */
#define STEP(a) a = FMA(a, x, y)
static void *work(void *out) {
  vec x = SET1(0.999999f), y = SET1(1e-7f);
  vec a0 = SET1(0), a1 = SET1(1), a2 = SET1(2), a3 = SET1(3), a4 = SET1(4), a5 = SET1(5);
  vec a6 = SET1(6), a7 = SET1(7), a8 = SET1(8), a9 = SET1(9), a10 = SET1(10), a11 = SET1(11);
  for (long n = 0; n < ITERS; n++) {
    STEP(a0); STEP(a1); STEP(a2); STEP(a3); STEP(a4); STEP(a5);
    STEP(a6); STEP(a7); STEP(a8); STEP(a9); STEP(a10); STEP(a11);
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
  }
  vec s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));
  s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));
  *(float *)out = SUM(s);
  return NULL;
}
int main(int argc, char **argv) {
  int threads = atoi(argv[1]); ITERS = atol(argv[2]);
  pthread_t t[256]; float sink[256];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, work, &sink[i]);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  double flops = 2.0 * LANES * ACC * (double)ITERS * threads;
  printf("%d %.6f %.3f %f\n", LANES, s, flops / s / 1e9, sink[0]);
  return 0;
}
"""

MACS_1_0_224 = 568_740_352  # toolkit.cost.count(1.0, 224).macs, as the paper's Table 8 rounds to 569 M


def measure(threads: int, iters: int, repeats: int) -> tuple[int, float]:
    """(vector lanes, best GFLOP/s of ``repeats`` runs) of the FMA loop on ``threads`` threads."""
    with tempfile.TemporaryDirectory() as d:
        src, exe = Path(d) / "fma.c", Path(d) / "fma"
        src.write_text(_SOURCE)
        subprocess.run(["gcc", "-O3", "-march=native", "-pthread", str(src), "-o", str(exe)], check=True)
        best, lanes = 0.0, 0
        for _ in range(repeats):
            out = subprocess.run([str(exe), str(threads), str(iters)], check=True, capture_output=True, text=True)
            lanes_s, _, gflops, _ = out.stdout.split()
            lanes, best = int(lanes_s), max(best, float(gflops))
    return lanes, best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--iters", type=int, default=200_000_000, help="FMA-loop iterations per thread")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--latency-json", type=Path, default=bm.OUT / "bench_quant.json",
                    help="bench_quant.py's JSON (its fp32 medians), if measured on this machine")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="10 M iterations, one repeat (a smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/out/bench_fma_ceiling.json)")
    args = ap.parse_args(argv)
    if args.quick:
        args.iters, args.repeats = 10_000_000, 1
    run = bm.start("bench_fma_ceiling", args.quick, argv)
    from toolkit.cost import count

    assert count(1.0, 224).macs == MACS_1_0_224
    ceiling, lanes_by = {}, {}
    for t in args.threads:
        lanes_by[t], ceiling[t] = measure(t, args.iters // 10 if t > 2 else args.iters, args.repeats)
    tables = [bm.table("FMA loop", ["threads", "vector lanes", "FMA ceiling GFLOP/s"],
                       [[t, lanes_by[t], f"{g:.1f}"] for t, g in ceiling.items()])]  # fmt: skip
    rows, notes = {}, []
    latency = json.loads(args.latency_json.read_text()) if args.latency_json.is_file() else None
    if latency is not None and latency["machine"]["cpu"] != run.machine["cpu"]:
        notes.append(f"{args.latency_json.name} was measured on another CPU; its latencies are not compared here")
        latency = None
    if latency is not None:
        t = max(ceiling)
        for path, ms in sorted(latency["data"]["medians_ms"].items()):
            if "a1.00-r224" in path and "fp32" in path:
                gflops = 2 * MACS_1_0_224 / (ms * 1e-3) / 1e9
                rows[Path(path).name] = {"median_ms": ms, "gflops": gflops, "share": gflops / ceiling[t]}
        columns = ["1.0-224 fp32 artifact (bench_quant)", "median ms", "GFLOP/s", f"share of the {t}-thread ceiling"]
        tables.append(bm.table("", columns, [[name, f"{r['median_ms']:.3f}", f"{r['gflops']:.1f}", f"{r['share']:.0%}"]
                                             for name, r in rows.items()]))  # fmt: skip
        if rows:
            best = max(rows.values(), key=lambda r: r["share"])
            notes.append(f"fastest fp32 1.0-224 artifact: {best['share']:.0%} of the {t}-thread FMA ceiling")
    for table in tables:
        print(bm.markdown(table) + "\n")
    print("\n".join(notes))
    data = {"iters": args.iters, "repeats": args.repeats, "ceiling_gflops": ceiling, "artifacts": rows}
    print(f"wrote {bm.finish(run, tables=tables, data=data, notes=notes, out=args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
