"""``toolkit profile``, ``sweep``, ``report`` and ``compare``: thin wrappers over toolkit.profile/report."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from rich.markup import escape

from toolkit.cli._app import app, console, err_console, on_interrupt

__all__ = ["compare", "print_comparison", "print_devices", "print_measured", "print_ops", "profile", "report",
           "run_with_progress", "sweep"]  # fmt: skip

_DB_HELP = "Results DB (default: $TOOLKIT_RESULTS, else results.db in the per-user data dir, $TOOLKIT_HOME)."
_DEVICE_HELP = ("host, android[:SERIAL], android:all, ios[:UDID], aihub:NAME or devicefarm:PROJECT/POOL; repeat it "
                "to measure on several devices at once.")  # fmt: skip
_APK_HELP = "The demo app's APK, for devicefarm:PROJECT/POOL devices (Android pools)."
_IPA_HELP = "The demo app's IPA, for devicefarm:PROJECT/POOL devices (iOS pools)."
_YES_HELP = "Schedule Device Farm runs without asking (they bill device minutes)."
_PARALLEL_HELP = "Devices measured at once (0 = all); each device's own measurements stay one at a time."
_THREADS_HELP = "N, 0 = runtime default, or auto = fastest of 1..cores (host; phones use their default)."
_ROUNDS_HELP = "Host: split the timed runs over R rounds interleaved across the artifacts (phones: one launch each)."
_WAIT_HELP = "If another measurer holds a device (or this host), wait for it; --no-wait: exit 75 at once."


def _say(line: str) -> None:
    err_console.print(f"[yellow]{escape(line)}[/]", highlight=False)


def _config(
    threads: int, warmup: int, iterations: int, duration: float | None, cooldown: float, max_temp: float | None,
    rounds: int = 5,
):  # fmt: skip
    from toolkit.errors import UsageError
    from toolkit.profile.protocol import ProfileConfig

    try:
        return ProfileConfig(threads=threads, warmup=warmup, iterations=iterations, duration_s=duration,
                             cooldown_s=cooldown, max_temp_c=max_temp, rounds=rounds)  # fmt: skip
    except ValueError as e:
        raise UsageError(str(e)) from None


def _print_record(rec: dict) -> None:
    s, cfg = rec["stats"], rec["config"]
    how = ", autotuned" if cfg.get("threads_chosen_by") == "autotune" else ""
    source = {"service_samples": ", timed by the service", "service_estimate": ", the service's estimate only"}
    from toolkit.profile.intervals import stated_interval

    first = rec.get("first_inference_ms")
    low, high = stated_interval(rec)
    rounds = rec.get("rounds")
    over = f" over {rounds['rounds']} rounds" if rounds else ""
    memory = _memory(rec)
    console.print(
        f"[bold]{rec['artifact']['file']}[/] on {rec['device']['name']} ({rec['runtime']['name']} "
        f"{rec['runtime']['version']}, {cfg['threads'] or 'default'} threads{how}, n={s['n']}"
        f"{source.get(rec.get('latency_source'), '')})\n"
        f"  median {s['median_ms']:.3f} ms  95% CI [{low:.3f}, {high:.3f}]{over}  "
        f"p90 {s['p90_ms']:.3f}  mean {s['mean_ms']:.3f} ± {s['std_ms']:.3f}  min {s['min_ms']:.3f}  "
        f"trimmed {s['trimmed_mean_ms']:.3f}\n  load {rec['load_ms'] or 0:.1f} ms  first inference "
        f"{'–' if first is None else f'{first:.2f} ms'}  peak memory {memory}",
        highlight=False,
    )
    if cfg.get("threads_tuning_ms"):
        tried = ", ".join(f"{n} → {ms:.3f} ms" for n, ms in cfg["threads_tuning_ms"].items())
        console.print(f"  thread autotune (median per thread count): {tried}", highlight=False)
    if rec.get("job"):
        console.print(f"  {rec['job']['service']} job {rec['job']['id']}: {rec['job'].get('url')}", highlight=False)
    for note in rec.get("notes") or []:
        err_console.print(f"[yellow]{note}[/]", highlight=False)


def _memory(rec: dict) -> str:
    """``+34.5 MB (fresh process; planned buffers 0.6 MB)``: the figure, how it was taken, what the runtime says."""
    peak = rec.get("peak_memory_mb")
    how = {"fresh_process_hwm": "fresh process", "fresh_process_hwm_unreset": "fresh process, unreset mark",
           "in_process_rss_growth": "growth in process"}.get(rec.get("peak_memory_method"), "")  # fmt: skip
    own = "; ".join(f"{k.replace('_', ' ')} {v:.1f} MB" for k, v in (rec.get("runtime_memory_mb") or {}).items())
    detail = "; ".join(x for x in (how, own) if x)
    return ("–" if peak is None else f"+{peak:.1f} MB") + (f" ({detail})" if detail else "")


def print_ops(prof, top: int = 10) -> None:
    """Per-op-type table, the slowest operators, and how the sum compares with the end-to-end time."""
    from rich.table import Table

    table = Table("op type", "ops", "µs / inference", "share", "", title=f"where time goes: {prof.label}")
    for r in prof.by_type():
        table.add_row(r.op_type, str(r.calls), f"{r.total_us:.1f}", f"{r.share:.1%}", "█" * round(r.share * 30))
    console.print(table)
    slow = Table("operator", "type", "µs", "share", title=f"slowest {top} operators")
    for r in sorted((o for o in prof.ops if not o.is_overhead), key=lambda o: -o.total_us)[:top]:
        slow.add_row(r.name, r.op_type, f"{r.total_us:.1f}", f"{r.share:.1%}")
    console.print(slow)
    console.print(
        f"operators {prof.operators_us:.1f} µs + outside operators {prof.total_us - prof.operators_us:.1f} µs "
        f"= {prof.total_us:.1f} µs per inference; end-to-end (unprofiled, interleaved) {prof.end_to_end_us:.1f} µs: "
        f"the profile sums to {prof.total_us / prof.end_to_end_us:.0%} of it ({prof.runs} runs, 10% trimmed means)",
        highlight=False,
    )
    if prof.note:
        err_console.print(f"[yellow]{prof.note}[/]", highlight=False)


@app.command("profile")
def profile(
    artifacts: list[Path] = typer.Argument(..., help="Exported artifacts (manifest beside each)."),
    device: list[str] = typer.Option(["host"], "--device", "-d", help=_DEVICE_HELP),
    threads: str = typer.Option("auto", "--threads", help=_THREADS_HELP),
    warmup: int = typer.Option(10, "--warmup", help="Untimed runs before timing."),
    iterations: int = typer.Option(100, "--iterations", "-n", help="Timed runs."),
    duration: float = typer.Option(None, "--duration", help="Time for S seconds instead of --iterations."),
    cooldown: float = typer.Option(0.0, "--cooldown", help="Pause S seconds before each artifact."),
    max_temp: float = typer.Option(None, "--max-temp-c", help="Wait (up to 5 min) until cooler than T °C."),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    store: bool = typer.Option(True, "--store/--no-store", help="Store the records in the results DB."),
    ops: bool = typer.Option(False, "--ops/--no-ops", help="Also show where time goes per operator (host, aihub)."),
    ops_json: Path = typer.Option(None, "--json", help="With --ops: write the per-operator profiles to FILE."),
    max_parallel: int = typer.Option(0, "--max-parallel", help=_PARALLEL_HELP),
    rounds: int = typer.Option(5, "--rounds", help=_ROUNDS_HELP),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=_WAIT_HELP),
    apk: Path = typer.Option(None, "--apk", help=_APK_HELP),
    ipa: Path = typer.Option(None, "--ipa", help=_IPA_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help=_YES_HELP),
) -> None:
    """Measure artifacts on one or more devices with the harness protocol, print and store the records."""
    from toolkit.errors import UsageError
    from toolkit.profile.devices import device_kind, expand_specs
    from toolkit.profile.fanout import profile_artifacts
    from toolkit.profile.ops import check_ops_request, write_ops_json
    from toolkit.profile.threads import parse_threads
    from toolkit.results import default_db_path

    n_threads = parse_threads(threads)
    cfg = _config(n_threads or 0, warmup, iterations, duration, cooldown, max_temp, rounds)
    specs = expand_specs(device)
    for kind in dict.fromkeys(device_kind(s) for s in specs):
        check_ops_request(artifacts, kind, ops, ops_json)  # refuse before measuring, never a fake table
    missing = [a for a in artifacts if not a.exists()]
    if missing:
        raise UsageError(f"artifact not found: {missing[0]}")
    db_path = (db or default_db_path()) if store else None
    profiles: list = []

    def landed(spec: str, rec: dict) -> None:
        _print_record(rec)
        if ops:
            profiles.append(_ops_of(rec, artifacts, iterations, warmup))
            print_ops(profiles[-1])

    with _farm(specs, apk, ipa, yes, cfg, artifacts):
        outcomes = profile_artifacts(artifacts, specs, cfg, n_threads, db_path, max_parallel=max_parallel,
                                     on_record=landed, on_status=_status, wait=wait, say=_say)  # fmt: skip
    if db_path is not None:
        console.print(f"stored {sum(len(o.measured) for o in outcomes)} record(s) in {db_path}")
    if ops_json is not None:
        console.print(f"wrote {write_ops_json(profiles, ops_json)}")
    print_devices(outcomes, always=len(specs) > 1)


def _ops_of(rec: dict, artifacts: list[Path], runs: int, warmup: int):
    """The record's per-operator profile: the service's per-layer profile, or the host runtime's profiler."""
    from toolkit.profile.ops import profile_ops
    from toolkit.report.ops import record_ops

    if rec.get("layers"):
        return record_ops(rec)
    path = next(a for a in artifacts if a.name == rec["artifact"]["file"])
    return profile_ops(path, threads=rec["config"]["threads"], runs=runs, warmup=warmup)


def _farm(specs: list[str], apk: Path | None, ipa: Path | None, yes: bool, config, planned: list):
    """Device Farm's app and device-minute approval, asked before anything runs (no-op without such a device)."""
    import sys

    from toolkit.profile.devicefarm_approve import approve_runs

    return approve_runs(specs, apk=apk, ipa=ipa, config=config, planned=planned, yes=yes,
                        interactive=sys.stdin.isatty(), ask=lambda q: typer.confirm(q, default=False, err=True),
                        echo=lambda line: err_console.print(escape(line), highlight=False))  # fmt: skip


def _status(spec: str, label: str, state: str) -> None:
    err_console.print(f"[dim]{escape(f'{spec}: {label}: {state}')}[/]", highlight=False)


def print_devices(outcomes, *, always: bool = False, details: bool = True) -> None:
    """One line per device (always with several devices, else only when something failed); raises on failure."""
    from toolkit.errors import ToolkitError

    bad = [o for o in outcomes if not o.ok]
    for o in outcomes if always or bad else ():
        style = "green" if o.ok else "red"
        err_console.print(f"[{style}]{escape(o.summary())}[/]", highlight=False)
        for line in o.failures if details else ():
            err_console.print(f"  [red]failed[/] {escape(line)}", highlight=False)
        for line in o.unsupported if details else ():
            err_console.print(f"  [dim]skipped {escape(line)}[/]", highlight=False)
        for line in o.pending:
            err_console.print(f"  [yellow]still running[/] {escape(line)}", highlight=False)
    if bad and all(o.lock_busy for o in bad):
        from toolkit.profile.lock import LockBusyError

        raise LockBusyError(bad[0].error if len(bad) == 1 else f"{len(bad)} device(s) busy with another measurer "
                            "(listed above); not waiting (--no-wait)")  # fmt: skip
    if bad:
        raise ToolkitError(f"{len(bad)} of {len(outcomes)} device(s) did not finish cleanly (listed above); "
                           "finished results are stored, and re-running the command resumes")  # fmt: skip


def _floats(text: str | None, cast: type) -> tuple:
    from toolkit.errors import UsageError

    try:
        return tuple(cast(x) for x in text.replace(",", " ").split()) if text else ()
    except ValueError:
        raise UsageError(f"not a list of numbers: {text!r}") from None


@app.command("sweep")
def sweep(
    alphas: str = typer.Option(None, "--alphas", help="Comma-separated α (default: 1.0,0.75,0.5,0.25)."),
    resolutions: str = typer.Option(None, "--resolutions", help="Comma-separated ρ (default: 224,192,160,128)."),
    targets: str = typer.Option(None, "--targets", help="Comma-separated targets (default: executorch,onnx on host)."),
    precisions: str = typer.Option("fp32", "--precisions", help="Comma-separated precisions."),
    device: list[str] = typer.Option(["host"], "--device", "-d", help=_DEVICE_HELP),
    max_parallel: int = typer.Option(0, "--max-parallel", help=_PARALLEL_HELP),
    weights: str = typer.Option("random", "--weights", "-w", help="random (latency only), imagenet or a checkpoint."),
    output_dir: Path = typer.Option(
        None, "--output-dir", "-o", help="Where artifacts are cached (default: artifacts/ in the data dir)."
    ),
    threads: str = typer.Option("auto", "--threads", help=_THREADS_HELP),
    warmup: int = typer.Option(10, "--warmup", help="Untimed runs before timing."),
    iterations: int = typer.Option(100, "--iterations", "-n", help="Timed runs per artifact."),
    duration: float = typer.Option(None, "--duration", help="Time each artifact for S seconds instead."),
    cooldown: float = typer.Option(0.0, "--cooldown", help="Pause S seconds before each artifact."),
    max_temp: float = typer.Option(None, "--max-temp-c", help="Wait (up to 5 min) until cooler than T °C."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Processes building artifacts in parallel."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Check parity of each new artifact."),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    report_dir: Path = typer.Option(
        None, "--report-dir", help="Where the report goes (default: OUTPUT_DIR/reports, else the data dir's)."
    ),
    sample: int = typer.Option(
        None,
        "--sample",
        help="Measure only K variants spread over the grid (3 is a good start) and predict the "
        "rest from other devices' data (see docs/selecting.md).",
        metavar="K",
    ),
    rounds: int = typer.Option(5, "--rounds", help=_ROUNDS_HELP),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=_WAIT_HELP),
    apk: Path = typer.Option(None, "--apk", help=_APK_HELP),
    ipa: Path = typer.Option(None, "--ipa", help=_IPA_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help=_YES_HELP),
) -> None:
    """Build, verify and profile every α × ρ × target × precision (resumable), then write the report."""
    from toolkit.paths import data_dir
    from toolkit.profile.sweep import SweepConfig, plan
    from toolkit.profile.threads import parse_threads

    report_dir = report_dir or (output_dir / "reports" if output_dir is not None else data_dir() / "reports")
    output_dir = output_dir or data_dir() / "artifacts"

    cfg = SweepConfig(
        alphas=_floats(alphas, float) or SweepConfig.alphas,
        resolutions=_floats(resolutions, int) or SweepConfig.resolutions,
        targets=tuple(t for t in (targets or "").replace(",", " ").split()), devices=tuple(device),
        max_parallel=max_parallel, weights=weights,
        precisions=tuple(precisions.replace(",", " ").split()), output_dir=output_dir, jobs=jobs, verify=verify,
        threads=parse_threads(threads), profile=_config(0, warmup, iterations, duration, cooldown, max_temp, rounds),
        sample=sample, wait_for_lock=wait,
    )  # fmt: skip
    with _farm(list(cfg.device_specs), apk, ipa, yes, cfg.profile, plan(cfg)):
        run_with_progress(cfg, db, report_dir)
    if sample is not None:
        from toolkit.cli.select import report_sample

        report_sample(cfg, db, report_dir)


@app.command("report")
def report(
    fmt: list[str] = typer.Option(["html", "md"], "--format", "-f", help="html, md, csv or json (repeatable)."),
    out: Path = typer.Option(None, "--out", help="Output directory (default: reports/ in the data dir)."),
    db: Path = typer.Option(None, "--db", help=_DB_HELP),
    ops: list[Path] = typer.Option(None, "--ops", help="Per-operator profiles (toolkit profile --ops --json FILE)."),
) -> None:
    """Tables per device × runtime × precision and plots from the results DB (+ per-operator profiles)."""
    from toolkit.paths import data_dir
    from toolkit.profile.ops import load_ops_json
    from toolkit.report import write_report
    from toolkit.results import ResultsDB

    out = out or data_dir() / "reports"
    with ResultsDB(db) as store:
        records = store.records()
    console.print(f"read {len(records)} record(s) from {store.path}", highlight=False)
    profiles = [p for path in ops or () for p in load_ops_json(path)]
    formats = [f for x in fmt for f in x.replace(",", " ").split()]
    on_interrupt(lambda: f"files already listed as written are complete; the rest of {out} is unchanged")
    for path in write_report(records, out, formats, op_profiles=profiles):
        console.print(f"wrote {path}", highlight=False)


@app.command("compare")
def compare(
    baseline: Path = typer.Argument(..., help="Baseline results: a DB or a JSON export."),
    candidate: Path = typer.Argument(..., help="Candidate results: a DB or a JSON export."),
    tolerance: float = typer.Option(
        0.05, "--tolerance", help="Smallest slowdown that counts as a regression (0.05 = 5%)."
    ),
    stored: bool = typer.Option(
        False, "--stored", help="Decide on the stored runs only; never time the artifacts again side by side."
    ),
    iterations: int = typer.Option(100, "--iterations", min=2, help="Side by side: timed runs per artifact."),
    rounds: int = typer.Option(5, "--rounds", min=2, help="Side by side: rounds (an odd count gets one more)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=_WAIT_HELP),
) -> None:
    """Exit 1 naming every variant that got slower (significant and beyond --tolerance).

    Host pairs whose artifacts are still on disk, unchanged, are timed again side by side (baseline and
    candidate paired in every round, each loaded afresh; the ratio is that of the rounds' fastest runs),
    since two separate runs drift apart; the rest are decided on their stored runs. Nothing is written."""
    from toolkit.errors import ToolkitError, UsageError
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.report.compare import compare_records, label, remeasure
    from toolkit.results import load_records

    if tolerance < 0:
        raise UsageError(f"--tolerance must be >= 0, got {tolerance}")
    base, cand = load_records(baseline), load_records(candidate)
    console.print(f"baseline: {len(base)} record(s) from {baseline}; candidate: {len(cand)} from {candidate}",
                  highlight=False)  # fmt: skip
    rows = compare_records(base, cand, tolerance)
    if not any(c.test is not None for c in rows):
        raise UsageError(f"nothing in common between {baseline} ({len(base)} records) and {candidate} "
                         f"({len(cand)} records): compare pairs device kind, variant, runtime, precision, "
                         "delegate and threads")  # fmt: skip
    if not stored:
        n = sum(c.test is not None for c in rows)
        err_console.print(f"timing the {n} pair(s) side by side where both artifacts are on this host "
                          "(--stored: decide on the stored runs only)...", highlight=False)  # fmt: skip
        budget = ProfileConfig(iterations=iterations, rounds=rounds)
        tests, why = remeasure(base, cand, budget, wait=wait, say=_say)
        for key, reason in why.items():
            err_console.print(f"[dim]{escape(label(key))}: stored runs ({escape(reason)})[/]", highlight=False)
        rows = compare_records(base, cand, tolerance, side_by_side=tests)
    bad = print_comparison(rows, tolerance, more=f"--iterations {iterations * 3}")
    if bad:
        names = ", ".join(f"{c.label} ({c.ratio - 1:+.1%})" for c in bad)
        raise ToolkitError(f"{len(bad)} variant(s) slower: {names}")


def run_with_progress(cfg, db: Path | None, report_dir: Path) -> None:
    """Run the sweep with progress on stderr, then print what happened and write the report.

    A terminal gets rich progress bars; a pipe or a CI log gets one plain line per finished item.
    """
    from toolkit.errors import ToolkitError
    from toolkit.profile.sweep import run_sweep
    from toolkit.report import write_report
    from toolkit.results import ResultsDB

    with ResultsDB(db) as store, _sweep_progress() as step:
        console.print(f"artifacts: {cfg.output_dir}\nresults DB: {store.path}", highlight=False)
        on_interrupt(lambda: f"finished artifacts are kept in {cfg.output_dir} and every measurement is stored in "
                     f"{store.path}; run the same command again to resume")  # fmt: skip
        outcome = run_sweep(cfg, store, progress=step, say=_say)
        records = store.records()
    print_measured(outcome.measured)
    console.print(f"{len(outcome.measured)} measured, {outcome.already} already in the DB, of {outcome.total}")
    for line in outcome.unsupported:
        console.print(f"[dim]skipped {line}[/]", highlight=False)
    for line in outcome.failures:
        err_console.print(f"[red]failed[/] {line}", highlight=False)
    if records:
        on_interrupt(lambda: f"every measurement is stored in {store.path}; `toolkit report --db {store.path}` "
                     "writes the report again")  # fmt: skip
        paths = write_report(records, report_dir, ("html", "md"))
        console.print("report: " + ", ".join(str(p) for p in paths if p.suffix in (".html", ".md")))
    if outcome.stopped_early:
        raise ToolkitError(f"{outcome.stopped_early}; re-run the same `toolkit sweep` command to resume")
    if len(outcome.devices) > 1:
        print_devices(outcome.devices, always=True, details=False)  # their lines are listed above
    if outcome.failures:
        kept = len(outcome.measured) + outcome.already
        rest = f"the other {kept} are stored" if kept else "nothing was stored"
        raise ToolkitError(f"{len(outcome.failures)} combination(s) failed (listed above); {rest}")


@contextlib.contextmanager
def _sweep_progress():
    """A ``step(phase, total, label, status=False)`` callback: rich bars on a terminal, else one plain line per
    finished item (and per status change: a cloud job's state)."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not err_console.is_terminal:
        done: dict[str, int] = {}
        t0 = time.monotonic()

        def line(phase: str, total: int, label: str, status: bool = False) -> None:
            if label and status:
                err_console.print(f"{phase}: {label} ({time.monotonic() - t0:.0f} s)", highlight=False, soft_wrap=True)
            elif label:
                done[phase] = done.get(phase, 0) + 1
                err_console.print(f"{phase} {done[phase]}/{total} {label} ({time.monotonic() - t0:.0f} s)",
                                  highlight=False, soft_wrap=True)  # fmt: skip

        yield line
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[item]}"))  # fmt: skip
    tasks: dict[str, int] = {}
    # no stdout/stderr redirect: rich's would print the captured third-party output above the bars
    with Progress(*columns, console=err_console, transient=False, redirect_stdout=False, redirect_stderr=False) as bar:

        def step(phase: str, total: int, label: str, status: bool = False) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{phase:8s}", total=total, item="")
            if label:
                bar.update(tasks[phase], advance=0 if status else 1, item=label)

        yield step


def print_measured(records: list[dict]) -> None:
    """One row per artifact this sweep measured, with the thread count it ran with and how it was chosen."""
    if not records:
        return
    from rich.table import Table

    from toolkit.profile.intervals import stated_interval

    table = Table(title="measured in this sweep")
    for name in ("variant", "target", "median ms [95% CI]", "threads", "autotune ms per count", "flags"):
        table.add_column(name, no_wrap=name != "autotune ms per count")
    flagged: dict[str, int] = {}
    for rec in records:
        s, cfg, art = rec["stats"], rec["config"], rec["artifact"]
        how = " (autotuned)" if cfg.get("threads_chosen_by") == "autotune" else ""
        tuned = " · ".join(f"{n}: {ms:.3f}" for n, ms in (cfg.get("threads_tuning_ms") or {}).items())
        low, high = stated_interval(rec)
        for f in rec.get("flags") or ():
            flagged[f] = flagged.get(f, 0) + 1
        table.add_row((art.get("variant") or art["file"]).removeprefix("mobilenet_v1-"),
                      f"{art.get('target') or ''} {art.get('precision') or ''}".strip() or "–",
                      f"{s['median_ms']:.3f} [{low:.3f}, {high:.3f}]",
                      f"{cfg['threads'] or 'default'}{how}", tuned or "–",
                      ", ".join(rec.get("flags") or ()) or "–")  # fmt: skip
    console.print(table)
    why = {"busy": "other processes took more than a tenth of the machine while they were timed",
           "bimodal": "their timings form two clusters"}  # fmt: skip
    for flag, n in flagged.items():
        err_console.print(f"[yellow]{n} measurement(s) flagged {flag}: {why.get(flag, flag)}; the report greys "
                          "them[/]", highlight=False)  # fmt: skip


def print_comparison(rows, tolerance: float = 0.05, more: str = "--iterations 300") -> list:
    """Print the compare table and any warnings; return the regressed comparisons."""
    from rich.table import Table

    from toolkit.report.compare import common_shift, flagged_rows

    table = Table("variant", "baseline ms [interval]", "candidate ms [interval]", "ratio [95% CI]", "decided on",
                  "status")  # fmt: skip
    style = {"regressed": "bold red", "improved": "green", "same": "", "inconclusive": "yellow", "new": "cyan",
             "missing": "yellow"}  # fmt: skip
    for c in rows:
        b, k = c.baseline, c.candidate
        fmt = lambda r: "–" if r is None else f"{r.median_ms:.3f} [{r.low_ms:.3f}, {r.high_ms:.3f}]"  # noqa: E731
        ratio = f"{c.test.ratio:.3f} [{c.test.low:.3f}, {c.test.high:.3f}]" if c.test else "–"
        status = c.status + (" ⚑" if c.flags else "")
        status = f"[{style[c.status]}]{status}[/]" if style[c.status] else status
        table.add_row(escape(c.label), fmt(b), fmt(k), ratio, c.basis if c.test else "–", status)
    console.print(table)
    for line in flagged_rows(rows):
        err_console.print(f"[yellow]⚑ leans on a flagged record: {escape(line)}[/]", highlight=False)
    shift = common_shift(rows, tolerance)
    if shift:
        err_console.print(f"[yellow]{escape(shift)}[/]", highlight=False)
    unsure = [c for c in rows if c.status == "inconclusive"]
    if unsure:
        err_console.print(f"[yellow]{len(unsure)} variant(s) inconclusive: not significantly slower, but the 95% "
                          f"interval reaches past +{tolerance:.0%}, so a slowdown of that size is not ruled out "
                          f"(too few runs for this machine's noise; side by side, time them longer: {more})[/]",
                          highlight=False)  # fmt: skip
    bad = [c for c in rows if c.status == "regressed"]
    if not bad:
        n = sum(c.test is not None for c in rows)
        console.print(f"[green]no change[/]: {n} variant(s) compared, none significantly slower by more than "
                      f"{tolerance:.0%}" + (f" ({len(unsure)} inconclusive)" if unsure else ""),
                      highlight=False)  # fmt: skip
    return bad
