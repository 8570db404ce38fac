"""Result records → flat report rows: one per device × runtime × precision × variant (latest wins)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Row", "group_rows", "ops_anchor", "to_rows"]


def ops_anchor(artifact: str) -> str:
    """The HTML/Markdown anchor of an artifact's per-operator section (the report's findings link to it)."""
    return "ops-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in artifact)


@dataclass(frozen=True)
class Row:
    device: str
    device_kind: str
    runtime: str
    runtime_version: str
    target: str
    precision: str
    delegate: str | None
    threads: int
    variant: str
    alpha: float | None
    resolution: int | None
    macs: int | None
    top1: float | None  # published ImageNet top-1 (TF-slim), None for custom variants
    weights: str | None
    n: int
    median_ms: float
    ci95_low_ms: float
    ci95_high_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    trimmed_mean_ms: float
    load_ms: float | None
    first_inference_ms: float | None
    peak_memory_mb: float | None
    timestamp: str
    preprocess_ms: float | None = None  # median per-frame preprocessing, timed beside each inference
    latency_source: str = "harness"  # or a cloud service's: service_samples, service_estimate (one number)
    low_ms: float = 0.0  # the stated interval (toolkit.profile.intervals.stated_interval): rounds ∪ bootstrap
    high_ms: float = 0.0
    se_log: float = 0.0  # its standard error of log(median) and degrees of freedom (the compare gate's input)
    dof: int = 200
    flags: tuple[str, ...] = ()  # busy, bimodal: the report greys the row, select and compare warn
    autotuned: bool = False
    artifact_file: str = ""
    sha256: str | None = None
    artifact_path: str | None = None  # where the host measured it (compare re-measures it side by side)

    @property
    def gmacs_per_s(self) -> float | None:
        """Achieved mult-adds per second at the median latency, in GMAC/s."""
        return self.macs / (self.median_ms * 1e6) if self.macs and self.median_ms else None

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.device, self.runtime, self.precision)

    @property
    def match_key(self) -> tuple[Any, ...]:
        """What ``compare`` pairs across two result sets (host name left out: CI machines change it).

        An autotuned row pairs as ``auto``: the tuner's pick may differ between runs, and the question is
        whether the best this runtime could do got slower."""
        threads = "auto" if self.autotuned else self.threads
        return (self.device_kind, self.variant, self.runtime, self.precision, self.delegate, threads)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flags": ",".join(self.flags), "gmacs_per_s": self.gmacs_per_s}


def _row(rec: Mapping[str, Any]) -> Row:
    from toolkit.cost import count
    from toolkit.errors import UsageError
    from toolkit.profile.intervals import flags_of, se_log, stated_interval
    from toolkit.variants import parse_name

    a, d, rt, s = rec["artifact"], rec["device"], rec["runtime"], rec["stats"]
    variant = a.get("variant") or a["file"]
    alpha = res = macs = top1 = None
    try:
        v = parse_name(variant)
        alpha, res, macs = v.alpha, v.resolution, count(v.alpha, v.resolution).macs
        top1 = v.accuracy.top1 if v.accuracy else None
    except UsageError:
        pass
    (low, high), (se, dof) = stated_interval(rec), se_log(rec)
    return Row(
        device=str(d.get("name")), device_kind=d["kind"], runtime=rt["name"], runtime_version=rt["version"],
        target=a.get("target") or rt["name"], precision=a.get("precision") or "?", delegate=rt.get("delegate"),
        threads=int(rec["config"]["threads"]), variant=variant, alpha=alpha, resolution=res, macs=macs, top1=top1,
        weights=a.get("weights"), n=s["n"], median_ms=s["median_ms"], ci95_low_ms=s["ci95_low_ms"],
        ci95_high_ms=s["ci95_high_ms"], p90_ms=s["p90_ms"], mean_ms=s["mean_ms"], std_ms=s["std_ms"],
        min_ms=s["min_ms"], trimmed_mean_ms=s["trimmed_mean_ms"], load_ms=rec.get("load_ms"),
        first_inference_ms=rec.get("first_inference_ms"), peak_memory_mb=rec.get("peak_memory_mb"),
        timestamp=rec["timestamp"], preprocess_ms=(rec.get("preprocess") or {}).get("stats", {}).get("median_ms"),
        latency_source=rec.get("latency_source") or "harness",
        low_ms=low, high_ms=high, se_log=se, dof=dof, flags=tuple(flags_of(rec)),
        autotuned=rec["config"].get("threads_chosen_by") == "autotune", artifact_file=a["file"], sha256=a.get("sha256"),
        artifact_path=a.get("path"),
    )  # fmt: skip


def to_rows(records: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Latest measurement per (device, runtime, precision, delegate, threads, variant), sorted for tables."""
    latest: dict[tuple[Any, ...], Row] = {}
    for rec in records:
        r = _row(rec)
        key = (r.device, r.device_kind, *r.match_key)
        if key not in latest or r.timestamp >= latest[key].timestamp:
            latest[key] = r
    return sorted(latest.values(), key=lambda r: (*r.group, -(r.alpha or 0), -(r.resolution or 0), r.variant))


def group_rows(rows: Iterable[Row]) -> dict[tuple[str, str, str], list[Row]]:
    """Rows per (device, runtime, precision), the report's table granularity."""
    out: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        out.setdefault(r.group, []).append(r)
    return out
