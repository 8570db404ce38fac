"""``toolkit compare``: a CI regression gate between two result sets (DBs or JSON exports).

A variant regressed when the candidate's whole 95% CI of the median lies above the baseline's CI
(stretched by ``tolerance``): overlapping intervals are noise we cannot tell from a change, and a
gate that cries wolf on shared CI machines gets switched off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.report.data import Row, to_rows

__all__ = ["Comparison", "compare_records"]


@dataclass(frozen=True)
class Comparison:
    key: tuple[Any, ...]
    baseline: Row | None
    candidate: Row | None
    status: str  # regressed | improved | same | new | missing

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate.median_ms / self.baseline.median_ms

    @property
    def label(self) -> str:
        kind, variant, runtime, precision, delegate, threads = self.key
        extra = f" [{delegate}]" if delegate else ""
        return f"{kind} {runtime} {precision}{extra} t{threads} {variant}"


def _status(b: Row, c: Row, tolerance: float) -> str:
    if c.ci95_low_ms > b.ci95_high_ms * (1.0 + tolerance):
        return "regressed"
    if c.ci95_high_ms * (1.0 + tolerance) < b.ci95_low_ms:
        return "improved"
    return "same"


def compare_records(
    baseline: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]], tolerance: float = 0.0
) -> list[Comparison]:
    """Pair rows by (device kind, variant, runtime, precision, delegate, threads) and classify each."""
    base = {r.match_key: r for r in to_rows(baseline)}
    cand = {r.match_key: r for r in to_rows(candidate)}
    out = []
    for key in sorted(set(base) | set(cand), key=lambda k: tuple(str(x) for x in k)):
        b, c = base.get(key), cand.get(key)
        status = "new" if b is None else "missing" if c is None else _status(b, c, tolerance)
        out.append(Comparison(key, b, c, status))
    return out
