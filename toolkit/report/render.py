"""Report renderers: Markdown (+ PNG files), one self-contained HTML file, CSV rows, JSON records.

The HTML embeds its plots as base64 PNG and its CSS inline, so it can be mailed or attached to a CI
run as a single file. Every format states which weights were measured: random weights give real
latency but meaningless predictions, and a reader must not mistake the accuracy axis for measured.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.profile.ops import OpsProfile
from toolkit.report.data import Row, group_rows, to_rows
from toolkit.report.findings import OPS_HOWTO, anomalous_files, finding_lines, monotonicity
from toolkit.report.ops import ops_chart, ops_html, ops_markdown, records_ops

__all__ = ["FORMATS", "render_csv", "render_html", "render_markdown", "write_report"]

FORMATS = ("html", "md", "csv", "json")
_COLS = ("variant", "MMACs", "median ms", "prep ms", "95% CI", "p90", "mean ± std", "min", "trim. mean", "GMAC/s",
         "top-1*", "load ms", "1st ms", "mem MB")  # fmt: skip


def _f(x: float | None, spec: str = ".3f") -> str:
    return "–" if x is None else format(x, spec)


def _cells(r: Row, anomalous: set[str] = frozenset()) -> list[str]:
    estimate = " ≈" if r.latency_source == "service_estimate" else ""  # one service figure, no samples behind it
    marks = (" ⚠" if r.artifact_file in anomalous else "") + "".join(f" ⚑{f}" for f in r.flags)
    return [r.variant + estimate + marks, _f(r.macs / 1e6 if r.macs else None, ".0f"), _f(r.median_ms),
            _f(r.preprocess_ms), f"{r.low_ms:.3f}–{r.high_ms:.3f}", _f(r.p90_ms), f"{r.mean_ms:.3f} ± {r.std_ms:.3f}",
            _f(r.min_ms), _f(r.trimmed_mean_ms), _f(r.gmacs_per_s, ".1f"), _f(r.top1, ".1f"), _f(r.load_ms, ".1f"),
            _f(r.first_inference_ms, ".2f"), _f(r.peak_memory_mb, ".1f")]  # fmt: skip


def _summary(rows: Sequence[Row], records: Sequence[Mapping[str, Any]]) -> list[str]:
    weights = sorted({r.weights or "unknown" for r in rows})
    devices = {}
    for rec in records:
        d = rec["device"]
        via = f" (via {d['service']})" if d.get("service") else ""
        devices[d.get("name")] = (
            f"{d.get('name')}{via}: {d.get('cpu') or '?'}, {d.get('cores') or '?'} cores, {d.get('os')}"
        )
    cfgs = sorted({(r.threads, r.n) for r in rows})
    how = sorted({str(rec["config"].get("threads_chosen_by")) for rec in records} - {"None"})
    chosen = f" (thread count chosen by: {', '.join(how)})" if how else ""
    return [
        f"Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from {len(records)} stored measurements "
        f"({len(rows)} shown: the latest per device × runtime × precision × variant).",
        "Weights measured: " + "; ".join(weights) + ". Latency does not depend on weight values.",
        "Devices: " + "; ".join(devices.values()),
        "Protocol: batch 1, "
        + ", ".join(f"{t or 'default'} threads × {n} timed runs" for t, n in cfgs)
        + f"{chosen}; 95% CI of the median: the bootstrap interval (1000 resamples, SplitMix64) joined, on the "
        "host, with the interval between rounds (the artifacts interleaved, t on the round medians); where a "
        "measurement states this device's spread between runs, that spread is added (t on the combined error).",
        _between_runs_line(rows, records),
        "*top-1 is the published ImageNet figure (TF-slim float checkpoints), not measured here.",
        "prep ms: median per-frame preprocessing (resize, crop, normalize, write into the input), timed before "
        "each timed inference in the same loop; median + prep is one frame from camera pixels to scores.",
        *_sources(records),
        *_flag_lines(rows),
    ]


def _between_runs_line(rows: Sequence[Row], records: Sequence[Mapping[str, Any]]) -> str:
    """Per shown device, the between-run spread its latest measurement states, or that none is measured yet."""
    latest: dict[str, Mapping[str, Any]] = {}
    for rec in records:
        name, b = str(rec["device"].get("name")), rec.get("between_runs")
        if b and (name not in latest or rec["timestamp"] >= latest[name]["timestamp"]):
            latest[name] = {"timestamp": rec["timestamp"], **b}
    parts = []
    for device in sorted({r.device for r in rows}):
        b = latest.get(device)
        parts.append(
            f"{device}: between-run spread not yet measured on this device (the interval covers one run)"
            if b is None
            else f"{device}: runs drift by {math.expm1(b['se_log']):.1%} (sd of a run's median, from {b['records']} "
            f"repeated measurements over {b['runs']} runs, {b['dof']} dof)"
        )
    return "Between runs: " + "; ".join(parts) + "."


def _flag_lines(rows: Sequence[Row]) -> list[str]:
    """Say how many shown rows are flagged and what the marks mean."""
    busy = sum("busy" in r.flags for r in rows)
    bimodal = sum("bimodal" in r.flags for r in rows)
    if not busy and not bimodal:
        return []
    parts = [f"{busy} ⚑busy (other processes took more than a tenth of the machine while timed)"] if busy else []
    parts += [f"{bimodal} ⚑bimodal (two clusters of timings; the median describes neither)"] if bimodal else []
    return ["Flagged rows, greyed: " + "; ".join(parts) + "."]


def _findings_md(findings: list) -> list[str]:
    out = ["## Findings", ""]
    for text, links in findings:
        refs = [f"[{f} per operator](#{anchor})" for f, anchor in links if anchor]
        missing = [f for f, anchor in links if anchor is None]
        how = f"profile them per operator: `{OPS_HOWTO.format(files=' '.join(missing))}`" if missing else ""
        out.append(f"- ⚠ {text}. " + "; ".join(x for x in (", ".join(refs), how) if x) + ".")
    return [*out, ""]


def _findings_html(findings: list) -> list[str]:
    e = html.escape
    parts = ["<h2>Findings</h2><ul>"]
    for text, links in findings:
        refs = [f"<a href='#{e(anchor)}'>{e(f)} per operator</a>" for f, anchor in links if anchor]
        missing = [f for f, anchor in links if anchor is None]
        cmd = e(OPS_HOWTO.format(files=" ".join(missing)))
        how = f"profile them per operator: <code>{cmd}</code>" if missing else ""
        parts.append(f"<li class=finding>⚠ {e(text)}. " + "; ".join(x for x in (", ".join(refs), how) if x) + ".</li>")
    return [*parts, "</ul>"]


def _sources(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Say which numbers a cloud service timed, and mark the ones that are its estimate only."""
    kinds = {rec.get("latency_source") for rec in records}
    out = []
    if "service_samples" in kinds:
        out.append("Cloud phones (via a service): every inference as the service timed it on the phone; statistics "
                   "computed here from those times; load time is the service's first load.")  # fmt: skip
    if "service_estimate" in kinds:
        out.append("≈ the service returned only its estimate (its fastest inference): median, CI and p90 are that "
                   "one number, not a distribution.")  # fmt: skip
    return out


def render_markdown(
    rows: Sequence[Row],
    records: Sequence[Mapping[str, Any]],
    plots: Mapping[str, str],
    ops: Sequence[OpsProfile] = (),
    ops_chart: str | None = None,
) -> str:
    """Markdown with one table per device × runtime × precision; ``plots`` maps stem → relative path."""
    out = ["# MobileNet V1 latency report", ""]
    out += [f"- {s}" for s in _summary(rows, records)] + [""] if rows else []
    anomalies = monotonicity(rows)
    out += _findings_md(finding_lines(anomalies, ops)) if anomalies else []
    odd = anomalous_files(anomalies)
    for (device, runtime, precision), rs in group_rows(rows).items():
        out += [f"## {device} · {runtime} {rs[0].runtime_version} · {precision}", ""]
        out += ["| " + " | ".join(_COLS) + " |", "|" + "---|" * len(_COLS)]
        out += ["| " + " | ".join(_cells(r, odd)) + " |" for r in rs] + [""]
    for stem, rel in plots.items():
        out += [f"![{stem}]({rel})", ""]
    out += ops_markdown(ops, ops_chart) if ops else []
    return "\n".join(out)


_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
table{border-collapse:collapse;margin:8px 0 24px;font-size:12.5px}th,td{border:1px solid #ccc;padding:3px 7px;
text-align:right}th{background:#f0f3f7}td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#fafafa}
h1{font-size:22px}h2{font-size:16px;margin-top:28px}img{max-width:100%;border:1px solid #e4e4e4;margin:8px 0}
.note{color:#555}tr.flagged td{color:#9a9a9a}tr.anomaly td:first-child{color:#b00020;font-weight:600}
li.finding{margin:4px 0}"""


def render_html(
    rows: Sequence[Row],
    records: Sequence[Mapping[str, Any]],
    plots: Mapping[str, bytes],
    ops: Sequence[OpsProfile] = (),
    ops_chart: bytes | None = None,
) -> str:
    """One self-contained page: inline CSS, tables and base64-embedded PNG plots."""
    e = html.escape
    parts = ["<!doctype html><html lang=en><head><meta charset=utf-8><title>MobileNet V1 latency report</title>",
             f"<style>{_CSS}</style></head><body><h1>MobileNet V1 latency report</h1><ul class=note>"]  # fmt: skip
    parts += [f"<li>{e(s)}</li>" for s in (_summary(rows, records) if rows else [])] + ["</ul>"]
    anomalies = monotonicity(rows)
    parts += _findings_html(finding_lines(anomalies, ops)) if anomalies else []
    odd = anomalous_files(anomalies)
    for stem, png in plots.items():
        b64 = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{e(stem.replace('_', ' '))}</h2><img alt='{e(stem)}' src='data:image/png;base64,{b64}'>")
    for (device, runtime, precision), rs in group_rows(rows).items():
        parts.append(f"<h2>{e(device)} · {e(runtime)} {e(rs[0].runtime_version)} · {e(precision)}</h2><table><tr>")
        parts += [f"<th>{e(c)}</th>" for c in _COLS] + ["</tr>"]
        for r in rs:
            cls = " ".join(c for c, on in (("flagged", r.flags), ("anomaly", r.artifact_file in odd)) if on)
            row = "".join(f"<td>{e(c)}</td>" for c in _cells(r, odd))
            parts.append(f"<tr class='{cls}'>{row}</tr>" if cls else f"<tr>{row}</tr>")
        parts.append("</table>")
    if ops:
        parts += ops_html(ops, base64.b64encode(ops_chart).decode("ascii") if ops_chart else None)
    parts.append("</body></html>")
    return "".join(parts)


def render_csv(rows: Sequence[Row]) -> str:
    buf = io.StringIO()
    fields = list(rows[0].to_dict()) if rows else list(Row.__dataclass_fields__)
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r.to_dict())
    return buf.getvalue()


def _atomic(path: Path, data: str | bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    finally:  # interrupted: the previous file stays, no partial one beside it
        tmp.unlink(missing_ok=True)
    return path


def write_report(
    records: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    formats: Sequence[str] = ("html", "md"),
    *,
    op_profiles: Sequence[OpsProfile] = (),
) -> list[Path]:
    """Write the chosen formats to ``out_dir`` (report.html, report.md + plots/*.png, results.csv, results.json).

    ``op_profiles`` (from ``toolkit profile --ops --json``) add a per-operator section to HTML and Markdown,
    as do records that carry a service's per-layer profile (``layers``).
    """
    from toolkit.errors import UsageError
    from toolkit.results import write_json_export

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown report format {bad[0]!r}; choose from {', '.join(FORMATS)}")
    if not records and not op_profiles:
        raise UsageError("no results to report: run `toolkit profile` or `toolkit sweep` first")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = to_rows(records)
    op_profiles = [*op_profiles, *records_ops(records)]  # cloud records carry their per-layer profile
    written: list[Path] = []
    plots: dict[str, bytes] = {}
    chart: bytes | None = None
    if "html" in formats or "md" in formats:
        from toolkit.report.plots import make_plots

        plots, chart = make_plots(rows), ops_chart(op_profiles)
    if "md" in formats:
        (out / "plots").mkdir(exist_ok=True)
        rel = {stem: f"plots/{stem}.png" for stem in plots}
        written += [_atomic(out / rel[stem], png) for stem, png in plots.items()]
        chart_rel = "plots/per_operator_time.png" if chart else None
        written += [_atomic(out / chart_rel, chart)] if chart else []
        written.append(_atomic(out / "report.md", render_markdown(rows, records, rel, op_profiles, chart_rel)))
    if "html" in formats:
        written.append(_atomic(out / "report.html", render_html(rows, records, plots, op_profiles, chart)))
    if "csv" in formats:
        written.append(_atomic(out / "results.csv", render_csv(rows)))
    if "json" in formats:
        written.append(write_json_export(records, out / "results.json"))
    return written
