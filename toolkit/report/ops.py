"""The report's per-operator section: a table per profile and one stacked bar chart across profiles.

Profiles come from ``toolkit profile --ops --json FILE`` (they are not result records: the shared
result schema, written by the phone apps too, has no place for them). The chart stacks each
profile's time by op type, so an fp32 and an int8 artifact side by side show which op types
got faster and which (pads, transposes, framework overhead) did not.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.profile.ops import OpProfile, OpsProfile
from toolkit.report.data import ops_anchor

__all__ = ["OPS_COLS", "ops_anchor", "ops_chart", "ops_html", "ops_markdown", "ops_rows", "ops_summary", "record_ops",
           "records_ops"]  # fmt: skip

OPS_COLS = ("op type", "ops", "µs / inference", "share")
_MAX_TYPES = 9  # legend entries before the rest is drawn as "other"


def record_ops(record: Mapping[str, Any]) -> OpsProfile | None:
    """A result record's per-layer profile (a cloud service's, e.g. AI Hub) as an operator profile.

    Each layer time is the service's own figure (AI Hub: the layer's fastest run, in µs), so the rows need
    not add up to the end-to-end median they are shown against; the note says so and names the compute
    units. None when the record has no timed layers.
    """
    timed = [x for x in record.get("layers") or () if x.get("time_us") is not None]
    if not timed:
        return None
    total = sum(x["time_us"] for x in timed) or 1.0
    ops = [OpProfile(f"{x['name']} [{x.get('compute_unit') or '?'}]", x["type"], 1, float(x["time_us"]),
                     x["time_us"] / total) for x in timed]  # fmt: skip
    rt, art, s = record["runtime"], record["artifact"], record["stats"]
    units = ", ".join(f"{u} {n}" for u, n in (rt.get("compute_units") or {}).items())
    service = (record.get("job") or {}).get("service", "the service")
    note = (f"per-layer times from {service} (each layer's fastest run, so they need not add up to the median)"
            + (f"; layers per compute unit: {units}" if units else ""))  # fmt: skip
    return OpsProfile(art["file"], rt["name"], rt["version"], int(record["config"]["threads"]), s["n"], 0,
                      s["median_ms"] * 1000.0, total, ops, variant=art.get("variant"), target=art.get("target"),
                      precision=art.get("precision"), sha256=art["sha256"], note=note,
                      device=record["device"].get("name"))  # fmt: skip


def records_ops(records: Sequence[Mapping[str, Any]]) -> list[OpsProfile]:
    """The per-layer profiles the records carry, the latest one per (device, artifact)."""
    latest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for rec in records:
        if rec.get("layers"):
            key = (rec["device"].get("name"), rec["artifact"]["sha256"])
            if key not in latest or rec["timestamp"] >= latest[key]["timestamp"]:
                latest[key] = rec
    return [p for p in map(record_ops, latest.values()) if p is not None]


def ops_rows(prof: OpsProfile) -> list[list[str]]:
    """Table cells per op type, slowest first."""
    return [[r.op_type, str(r.calls), f"{r.total_us:.1f}", f"{r.share:.1%}"] for r in prof.by_type()]


def ops_summary(prof: OpsProfile) -> str:
    """One line: the profile's sum against the unprofiled end-to-end time, and any runtime caveat."""
    line = (
        f"{prof.runs} profiled runs, {prof.threads or 'default'} threads: operators {prof.operators_us:.1f} µs + "
        f"outside operators {prof.total_us - prof.operators_us:.1f} µs = {prof.total_us:.1f} µs per inference, "
        f"{prof.total_us / prof.end_to_end_us:.0%} of the unprofiled end-to-end {prof.end_to_end_us:.1f} µs."
    )
    return f"{line} {prof.note}." if prof.note else line


def ops_markdown(profiles: Sequence[OpsProfile], chart_rel: str | None) -> list[str]:
    out = ["## Where time goes, per operator", ""]
    if chart_rel:
        out += [f"![per-operator time]({chart_rel})", ""]
    for prof in profiles:
        out += [f'<a id="{ops_anchor(prof.artifact)}"></a>', "", f"### {prof.label} ({prof.artifact})", ""]
        out += [ops_summary(prof), ""]
        out += ["| " + " | ".join(OPS_COLS) + " |", "|" + "---|" * len(OPS_COLS)]
        out += ["| " + " | ".join(cells) + " |" for cells in ops_rows(prof)] + [""]
    return out


def ops_html(profiles: Sequence[OpsProfile], chart_b64: str | None) -> list[str]:
    e = html.escape
    parts = ["<h2>Where time goes, per operator</h2>"]
    if chart_b64:
        parts.append(f"<img alt='per-operator time' src='data:image/png;base64,{chart_b64}'>")
    for prof in profiles:
        parts.append(f"<h3 id='{e(ops_anchor(prof.artifact))}'>{e(prof.label)} ({e(prof.artifact)})</h3>"
                     f"<p class=note>{e(ops_summary(prof))}</p><table>")  # fmt: skip
        parts.append("<tr>" + "".join(f"<th>{e(c)}</th>" for c in OPS_COLS) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>" for cells in ops_rows(prof)]
        parts.append("</table>")
    return parts


def _type_totals(profiles: Sequence[OpsProfile]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for prof in profiles:
        for r in prof.by_type():
            totals[r.op_type] = totals.get(r.op_type, 0.0) + r.total_us
    return totals


def ops_chart(profiles: Sequence[OpsProfile]) -> bytes | None:
    """Horizontal stacked bars: µs per inference by op type, one bar per profile."""
    if not profiles:
        return None
    from toolkit.report.plots import _plt, _png

    plt = _plt()
    ranked = sorted(_type_totals(profiles).items(), key=lambda kv: -kv[1])
    shown = [t for t, _ in ranked[:_MAX_TYPES]]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.55 * len(profiles)), layout="constrained")
    colors = plt.get_cmap("tab10").colors
    labels = [p.label for p in profiles]
    left = [0.0] * len(profiles)
    for i, op_type in enumerate([*shown, "other"]):
        widths = []
        for prof in profiles:
            by: Mapping[str, float] = {r.op_type: r.total_us for r in prof.by_type()}
            widths.append(
                by.get(op_type, 0.0) if op_type != "other" else sum(v for k, v in by.items() if k not in shown)
            )
        if any(widths):
            hatch = "//" if op_type.startswith("(") else None  # time outside any operator
            ax.barh(labels, widths, left=left, color=colors[i % len(colors)], label=op_type, height=0.6, hatch=hatch)
            left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.scatter([p.end_to_end_us for p in profiles], labels, marker="|", s=400, color="k", zorder=3,
               label="end-to-end (unprofiled)")  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlabel("µs per inference")
    ax.set_title("Where time goes, per op type")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
