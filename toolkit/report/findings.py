"""Findings the report states instead of leaving to the reader: points that break the expected monotonicity.

A wider (α) or larger (ρ) MobileNet does strictly more work, so on one device, runtime, precision and thread
setting it should never be faster. When a bigger variant's whole stated interval lies below a smaller one's
(:func:`toolkit.profile.intervals.stated_interval`, between rounds on the host), the ordering is broken beyond
measurement noise: a runtime picking a different kernel, a shape that falls off a fast path, or a machine
that changed under one of the two. The report lists each such pair, marks both points, and links each
artifact's per-operator profile (``toolkit profile --ops``) so the cause can be read, or says how to make one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.profile.ops import OpsProfile
from toolkit.report.data import Row, ops_anchor

__all__ = ["OPS_HOWTO", "Anomaly", "anomalous_files", "finding_lines", "monotonicity", "ops_for"]


@dataclass(frozen=True)
class Anomaly:
    """``bigger`` does more work than ``smaller`` yet measured faster beyond both intervals."""

    bigger: Row
    smaller: Row

    @property
    def text(self) -> str:
        b, s = self.bigger, self.smaller
        name = lambda r: r.variant.removeprefix("mobilenet_v1-")  # noqa: E731
        return (f"{name(b)} measured faster than the smaller {name(s)} on {b.device} ({b.runtime} {b.precision}): "
                f"{b.median_ms:.3f} ms [{b.low_ms:.3f}, {b.high_ms:.3f}] against {s.median_ms:.3f} ms "
                f"[{s.low_ms:.3f}, {s.high_ms:.3f}]")  # fmt: skip


def _setting(r: Row) -> tuple:
    return (r.device, r.device_kind, r.runtime, r.precision, r.delegate, "auto" if r.autotuned else r.threads)


def monotonicity(rows: Sequence[Row]) -> list[Anomaly]:
    """Every pair in one setting where the variant with α and ρ both at least as large is faster beyond both
    intervals. Estimates (a service's single figure) are left out: they have no interval."""
    by: dict[tuple, list[Row]] = {}
    for r in rows:
        if r.alpha is not None and r.resolution is not None and r.latency_source != "service_estimate":
            by.setdefault(_setting(r), []).append(r)
    out = []
    for group in by.values():
        for big in group:
            for small in group:
                bigger = big.alpha >= small.alpha and big.resolution >= small.resolution
                larger = bigger and (big.alpha, big.resolution) != (small.alpha, small.resolution)
                if larger and big.high_ms < small.low_ms:
                    out.append(Anomaly(big, small))
    return sorted(out, key=lambda a: (_setting(a.bigger), -a.bigger.alpha, -a.bigger.resolution, a.smaller.variant))


def anomalous_files(anomalies: Sequence[Anomaly]) -> set[str]:
    return {r.artifact_file for a in anomalies for r in (a.bigger, a.smaller)}


def ops_for(row: Row, profiles: Sequence[OpsProfile]) -> OpsProfile | None:
    """The per-operator profile of the row's artifact (same bytes, else same file name), if the report has one."""
    for p in profiles:
        if (row.sha256 and p.sha256 == row.sha256) or p.artifact == row.artifact_file:
            return p
    return None


def finding_lines(
    anomalies: Sequence[Anomaly], profiles: Sequence[OpsProfile]
) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Per anomaly: its sentence, and per artifact of the pair (file, anchor of its per-operator profile or
    None when the report has none, in which case the renderer says how to make one)."""
    out = []
    for a in anomalies:
        links = []
        for r in (a.bigger, a.smaller):
            prof = ops_for(r, profiles)
            links.append((r.artifact_file, ops_anchor(prof.artifact) if prof else None))
        out.append((a.text, links))
    return out


OPS_HOWTO = "toolkit profile {files} --ops --json ops.json, then toolkit report --ops ops.json"
