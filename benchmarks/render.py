"""Render BENCHMARKS.md from the JSON the benchmark scripts wrote into benchmarks/out/.

    python benchmarks/render.py            # rewrite BENCHMARKS.md
    python benchmarks/render.py --check    # exit 1 if BENCHMARKS.md is not what the JSON renders to

Nothing on the page is typed by hand: each section's text says what its script measures and how to run it,
and every figure, the command that produced it, the machine and its load come from the script's JSON. A
section whose JSON is missing says so instead of showing figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import OUT, ROOT, markdown  # the scripts' own helper, beside this file

PAGE = ROOT / "BENCHMARKS.md"


@dataclass(frozen=True)
class Section:
    name: str  # the JSON file's stem in benchmarks/out/
    title: str
    what: str  # what is measured and how to read it, for a user
    command: str  # the full run
    quick: str  # a short smoke run of the same script


SECTIONS = (
    Section(
        "bench_export",
        "Export time and fp32 latency per target",
        "Each installed target exports the same seeded-random model through `toolkit export` (parity checked), "
        "beside ExecuTorch's own plain XNNPACK lowering as a reference. Each artifact is then timed in a fresh "
        "process per round (warm-up, then interleaved rounds), batch 1. The ratios to the fastest runtime and to "
        "the ExecuTorch reference are the figures to compare across machines.",
        "python benchmarks/bench_export.py",
        "python benchmarks/bench_export.py --quick",
    ),
    Section(
        "bench_quant",
        "int8 against fp32 on each host runtime",
        "Four artifacts per variant and runtime from the same weights: the runtime's documented default path "
        "(vendor) and `toolkit export` (toolkit), each in fp32 and int8 (vendor int8 keeps the published graph's "
        "explicit pads; toolkit int8 is pad-free where that is the default). Each runtime is timed in its own "
        "process, in interleaved rounds with the order rotated. Rows marked *same bytes* time two identical files: "
        "their ratio is the measurement noise.",
        "python benchmarks/bench_quant.py",
        "python benchmarks/bench_quant.py --quick",
    ),
    Section(
        "bench_io_casts",
        "What float32 I/O costs an fp16 ExecuTorch program",
        "The default fp16 `.pte` takes and returns float32, casting at both edges outside the XNNPACK delegate; "
        "`--io native` keeps float16 at the edges. Both are timed side by side in one process.",
        "python benchmarks/bench_io_casts.py",
        "python benchmarks/bench_io_casts.py --quick",
    ),
    Section(
        "bench_runtimes",
        "ExecuTorch against LiteRT, and the fixed per-inference costs",
        "The default ExecuTorch (channels-last input) and LiteRT artifacts of the same model, fp32 and int8, "
        "each runtime timed in a fresh process of its own per round (rotated order), with the ExecuTorch NCHW "
        "program beside its channels-last default. Then the per-operator profile of each default ExecuTorch "
        "artifact at the smallest variant: Transpose and standalone pad operators, and the time outside "
        "MobileNet's own layers as a share of one inference.",
        "python benchmarks/bench_runtimes.py",
        "python benchmarks/bench_runtimes.py --quick",
    ),
    Section(
        "bench_runtime_layers",
        "ExecuTorch against LiteRT int8, one layer at a time",
        "LiteRT's Python interpreter has no per-operator profiler, so the int8 gap of the whole models is split by "
        "construction: single-layer int8 models with MobileNet 1.0-224's own shapes, quantized by each runtime's "
        "own PT2E path, float32 NHWC input on both, each runtime timed in its own process per round. Each time "
        "includes the layer's input quantize and output dequantize. Both runtimes run XNNPACK, so a layer kind "
        "whose ratio stands out points at the XNNPACK build each one ships.",
        "python benchmarks/bench_runtime_layers.py",
        "python benchmarks/bench_runtime_layers.py --quick",
    ),
    Section(
        "bench_fma_ceiling",
        "fp32 FMA ceiling and how close the fastest artifact gets",
        "A C loop of independent fused multiply-adds, compiled here with `-march=native` at the widest vector the "
        "CPU has, gives the machine's fp32 ceiling (an FMA counts as two flops). With `bench_quant`'s figures "
        "from the same machine, the fastest fp32 1.0-224 artifact's GFLOP/s (2 × MACs / latency) is shown as a "
        "share of it.",
        "python benchmarks/bench_fma_ceiling.py",
        "python benchmarks/bench_fma_ceiling.py --quick",
    ),
    Section(
        "bench_harness",
        "Profiling harness: overhead, precision, per-operator totals",
        "Overhead: the harness's timed loop against a bare loop of the same runner, alternating order each "
        "round, and the harness's own cost per inference around a no-op. Precision: the 95% confidence interval "
        "of the median with the default profile settings, repeated. Per-operator profile: how the operator "
        "times (`toolkit profile --ops`) add up against the end-to-end latency measured beside them.",
        "python benchmarks/bench_harness.py",
        "python benchmarks/bench_harness.py --quick",
    ),
    Section(
        "bench_compare",
        "The regression gate: false alarms, detection, interval coverage",
        "Repeated host measurements of the same ONNX Runtime artifacts, as built (A, two copies) and with a "
        "known 10% slowdown injected after every inference (B), judged by `toolkit compare` both ways: timed "
        "again side by side (its default for host pairs) and on the stored runs alone (`--stored`): how often "
        "identical artifacts are called regressed, how often the real slowdown is caught, how often the stated "
        "interval holds the median over all runs, and what measuring costs beyond the inferences.",
        "python benchmarks/bench_compare.py",
        "python benchmarks/bench_compare.py --quick",
    ),
    Section(
        "bench_compare_t1",
        "The regression gate at one thread",
        "The same trials with every artifact at one thread (`--threads 1`). On this two-vCPU virtual machine a "
        "two-thread inference stalls now and then for milliseconds (the other vCPU is not always there), so "
        "two-thread slices scatter more than one-thread ones; the side-by-side gate reads each round's fastest "
        "run, which those stalls touch least, so it holds at both thread counts.",
        "python benchmarks/bench_compare.py --threads 1 --runs 12",
        "python benchmarks/bench_compare.py --threads 1 --quick",
    ),
    Section(
        "bench_sweep",
        "The default host sweep, end to end",
        "`toolkit sweep` with its defaults in a fresh directory: cold (build, verify, profile, report), warm "
        "(artifacts cached, fresh results database) and resume (nothing left to do). User + system CPU seconds "
        "are the figure to trust on a shared machine.",
        "python benchmarks/bench_sweep.py",
        "python benchmarks/bench_sweep.py --quick",
    ),
    Section(
        "bench_train",
        "Training throughput",
        "Images per second of the toolkit's training loop against plain eager PyTorch loops (with and without "
        "channels_last) on the same images.",
        "python benchmarks/bench_train.py",
        "python benchmarks/bench_train.py --quick",
    ),
    Section(
        "bench_latency_model",
        "Latency model on this host",
        "The 16 published variants timed in interleaved rounds on this host, then the latency model's "
        "leave-one-variant-out error (each variant predicted from the other 15) per runtime.",
        "python benchmarks/bench_latency_model.py",
        "python benchmarks/bench_latency_model.py --quick",
    ),
    Section(
        "bench_latency_model_published",
        "Latency model on the published phone figures",
        "No timing: the model fitted on the published phone latencies built into the toolkit. Per phone and "
        "runtime, the leave-one-variant-out error of its own fit, and the error of the few-shot transfer when "
        "only K variants of that phone are known (the prior fitted on the other phones), with how often the "
        "stated ~95% intervals hold the published figure.",
        "python benchmarks/bench_latency_model.py --published",
        "python benchmarks/bench_latency_model.py --published",
    ),
)

INTRO = """\
# Benchmarks

Every figure on this page was written by a script in `benchmarks/`, into `benchmarks/out/<script>.json`
together with the command that produced it, the machine (CPU, the vector instructions it has, cores, memory)
and the machine's load average before and after the run. This page is rendered from those files by
`python benchmarks/render.py`; the test suite checks that it is.

A run is marked **loaded** when the one-minute load average was above the number of cores before or after it:
other work shared the CPU, so its absolute times are inflated and only ratios measured side by side in that run
are worth reading. To measure on your machine, run the command under a section, then `python benchmarks/render.py`.
Every script also takes `--quick`, a short smoke run written to `benchmarks/out/quick/` and not shown here."""


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _machine_line(doc: dict[str, Any]) -> str:
    m, load = doc["machine"], doc["load"]
    isa = ", ".join(m.get("isa") or []) or "no listed vector extensions"
    memory = f", {m['memory_gib']:g} GiB" if m.get("memory_gib") else ""
    packages = ", ".join(f"{k} {v}" for k, v in sorted((m.get("packages") or {}).items()))
    when = doc["finished_utc"][:16].replace("T", " ")
    mark = f" **Loaded run**: {load['loaded']}." if load.get("loaded") else ""
    if not load.get("timed", True):
        mark = " Nothing is timed here, so the load does not change these figures."
    return (f"Measured {when} UTC on {m['cpu']} ({isa}), {m['cores']} cores{memory}; {m['os']}, Python "
            f"{m['python']}, toolkit {m['toolkit']}{', ' + packages if packages else ''}. Load average "
            f"{load['before'][0]:g} before, {load['after'][0]:g} after.{mark}")  # fmt: skip


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=116, break_on_hyphens=False, break_long_words=False)


def section(s: Section, doc: dict[str, Any] | None) -> str:
    parts = [f"## {s.title}", _wrap(s.what)]
    if doc is None:
        parts.append(f"Not measured yet on this machine. Run `{s.command}`, then `python benchmarks/render.py`.")
        return "\n\n".join(parts)
    parts.append(f"Command: `{doc['command']}`")
    parts.append(_wrap(_machine_line(doc)))
    for t in doc.get("tables") or []:
        parts.append((f"{t['title']}\n\n" if t.get("title") else "") + markdown(t))
    if doc.get("notes"):
        parts.append("\n".join(f"- {n}" for n in doc["notes"]))
    if s.quick != s.command:
        parts.append(f"Quick check of the script: `{s.quick}`.")
    return "\n\n".join(parts)


def render(out_dir: Path = OUT) -> str:
    """The whole page for the JSON files in ``out_dir`` (missing ones become "not measured yet")."""
    body = [section(s, _load(Path(out_dir) / f"{s.name}.json")) for s in SECTIONS]
    return "\n\n".join([INTRO, *body]) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when BENCHMARKS.md differs")
    ap.add_argument("--out-dir", type=Path, default=OUT)
    args = ap.parse_args(argv)
    text = render(args.out_dir)
    if args.check:
        same = PAGE.is_file() and PAGE.read_text(encoding="utf-8") == text
        print("BENCHMARKS.md is up to date" if same else "BENCHMARKS.md differs: run python benchmarks/render.py")
        return 0 if same else 1
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
