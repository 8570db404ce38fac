"""The report's four figures, as PNG bytes (matplotlib, headless Agg backend).

- latency heatmap over the α × ρ grid, one panel per device × runtime × precision;
- published top-1 vs measured latency with the Pareto frontier (the paper's trade-off, on your device);
- latency vs mult-adds, annotated with the achieved GMAC/s;
- int8 speedup over fp32 per runtime (only when int8 rows exist).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from toolkit.report.data import Row, group_rows

__all__ = ["heatmap", "int8_speedup", "latency_vs_macs", "make_plots", "pareto_front", "pareto_plot"]


def _plt():
    from toolkit._deps import require

    require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _plain_log(ax, *axes: str) -> None:
    """Log axes with plain numbers (0.5, 2, 10) instead of 5×10⁻¹."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for name in axes:
        axis = getattr(ax, f"{name}axis")
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _label(group: tuple[str, str, str]) -> str:
    return f"{group[1]} {group[2]} ({group[0]})"


def heatmap(rows: Sequence[Row]) -> bytes | None:
    """Median latency (ms) over α × ρ, one panel per group with at least one grid variant.

    A red frame marks a point that breaks the expected ordering (:mod:`toolkit.report.findings`); a flagged
    measurement (busy, bimodal) is written in grey with a ``*``.
    """
    from matplotlib.patches import Rectangle

    from toolkit.report.findings import anomalous_files, monotonicity

    odd = anomalous_files(monotonicity(rows))
    marked = False
    groups = {g: [r for r in rs if r.alpha is not None] for g, rs in group_rows(rows).items()}
    groups = {g: rs for g, rs in groups.items() if rs}
    if not groups:
        return None
    plt = _plt()
    cols = min(2, len(groups))  # two panels per row stay readable at page width
    nrows = -(-len(groups) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.6 * cols, 4.2 * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    for ax, (g, rs) in zip(axes.flat, groups.items(), strict=False):
        alphas = sorted({r.alpha for r in rs}, reverse=True)
        ress = sorted({r.resolution for r in rs}, reverse=True)
        grid = [[float("nan")] * len(ress) for _ in alphas]
        cell = {}
        for r in rs:
            grid[alphas.index(r.alpha)][ress.index(r.resolution)] = r.median_ms
            cell[(alphas.index(r.alpha), ress.index(r.resolution))] = r
        im = ax.imshow(grid, cmap="viridis_r", aspect="auto")
        ax.set_xticks(range(len(ress)), [str(x) for x in ress])
        ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
        ax.set_xlabel("resolution ρ")
        ax.set_ylabel("width α")
        ax.set_title(_label(g), fontsize=9)
        vmax = max(v for row in grid for v in row if v == v)
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                if v == v:
                    r = cell[(i, j)]
                    color = "#9a9a9a" if r.flags else "white" if v > 0.5 * vmax else "black"
                    ax.text(j, i, f"{v:.2f}{'*' if r.flags else ''}", ha="center", va="center", fontsize=8,
                            color=color)  # fmt: skip
                    if r.artifact_file in odd:
                        ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, ec="red", lw=2))
                    marked = marked or bool(r.flags) or r.artifact_file in odd
        fig.colorbar(im, ax=ax, label="median latency (ms)", shrink=0.8)
    if marked:
        fig.supxlabel("red frame: faster than a smaller variant beyond both intervals (see Findings); "
                      "* flagged busy or bimodal", fontsize=8)  # fmt: skip
    return _png(fig)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats: lower latency (x) and higher accuracy (y)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def pareto_plot(rows: Sequence[Row]) -> bytes | None:
    """Published top-1 vs median latency; frontier variants are joined and labelled."""
    groups = {g: [r for r in rs if r.top1 is not None] for g, rs in group_rows(rows).items()}
    groups = {g: rs for g, rs in groups.items() if rs}
    if not groups:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    for g, rs in groups.items():
        pts = [(r.median_ms, r.top1) for r in rs]
        (line,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", alpha=0.45, label=_label(g))
        front = sorted(pareto_front(pts), key=lambda i: pts[i][0])
        ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "-o", color=line.get_color(), lw=1.6)
        for i in front:
            ax.annotate(f"{rs[i].alpha:g}-{rs[i].resolution}", pts[i], fontsize=7, xytext=(3, -9),
                        textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    _plain_log(ax, "x")
    ax.set_xlabel("median latency (ms, log scale)")
    ax.set_ylabel("published ImageNet top-1 (%)")
    ax.set_title("Accuracy vs latency; lines join the Pareto frontier")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _png(fig)


def latency_vs_macs(rows: Sequence[Row]) -> bytes | None:
    """Median latency vs mult-adds per group; the legend gives the median achieved GMAC/s."""
    groups = {g: [r for r in rs if r.macs] for g, rs in group_rows(rows).items()}
    groups = {g: rs for g, rs in groups.items() if rs}
    if not groups:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    for g, rs in groups.items():
        rates = sorted(r.gmacs_per_s for r in rs)
        ax.plot([r.macs / 1e6 for r in rs], [r.median_ms for r in rs], "o",
                label=f"{_label(g)}: {rates[len(rates) // 2]:.1f} GMAC/s median, {rates[-1]:.1f} best")  # fmt: skip
        best = max(rs, key=lambda r: r.gmacs_per_s)
        ax.annotate(f"{best.gmacs_per_s:.1f} GMAC/s", (best.macs / 1e6, best.median_ms), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log(ax, "x", "y")
    ax.set_xlabel("mult-adds (millions, log)")
    ax.set_ylabel("median latency (ms, log)")
    ax.set_title("Latency vs mult-adds (achieved throughput)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _png(fig)


def int8_speedup(rows: Sequence[Row]) -> bytes | None:
    """fp32 median / int8 median per variant and runtime; None when no int8 row has an fp32 partner."""
    fp32 = {(r.device, r.runtime, r.variant): r for r in rows if r.precision == "fp32"}
    pairs = [(r, fp32[(r.device, r.runtime, r.variant)]) for r in rows
             if r.precision == "int8" and (r.device, r.runtime, r.variant) in fp32]  # fmt: skip
    if not pairs:
        return None
    plt = _plt()
    variants = sorted({q.variant for q, _ in pairs})
    runtimes = sorted({(q.device, q.runtime) for q, _ in pairs})
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(variants) * len(runtimes)), 4.5))
    width = 0.8 / len(runtimes)
    for k, rt in enumerate(runtimes):
        sp = {q.variant: f.median_ms / q.median_ms for q, f in pairs if (q.device, q.runtime) == rt}
        xs = [i + k * width for i, v in enumerate(variants) if v in sp]
        ax.bar(xs, [sp[v] for v in variants if v in sp], width, label=f"{rt[1]} ({rt[0]})")
    ax.axhline(1.0, color="k", lw=0.8)
    names = [v.replace("mobilenet_v1-", "") for v in variants]
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(variants))], names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("speedup of int8 over fp32 (×)")
    ax.set_title("int8 speedup per runtime")
    ax.legend(fontsize=8)
    return _png(fig)


def make_plots(rows: Sequence[Row]) -> dict[str, bytes]:
    """Every plot the rows support, by file stem."""
    made = {
        "latency_heatmap": heatmap(rows),
        "accuracy_vs_latency": pareto_plot(rows),
        "latency_vs_macs": latency_vs_macs(rows),
        "int8_speedup": int8_speedup(rows),
    }
    return {k: v for k, v in made.items() if v is not None}
