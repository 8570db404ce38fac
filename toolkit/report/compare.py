"""``toolkit compare``: a CI regression gate between two result sets (DBs or JSON exports).

A variant regressed when both hold:
1. the slowdown is real: Welch's t on the log medians, each side's standard error taken from its stated
   interval (between rounds on the host, see :mod:`toolkit.profile.intervals`), is significant after Holm's
   correction over every variant compared, so comparing 32 variants does not give 32 chances of a false
   alarm (the family-wise false-alarm rate stays at 5%);
2. and it matters: the candidate's median is more than ``tolerance`` (default 5%) slower.
Why both: on a shared machine two runs of the same artifacts differ by a few percent in ways no
within-run interval sees (process placement, the neighbours of the moment); a gate that cries wolf on
those gets switched off. ``benchmarks/bench_compare.py`` measures how often this gate raises a false alarm
on identical artifacts and how often it catches a 10% slowdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.profile.intervals import RatioTest, holm, ratio_test
from toolkit.report.data import Row, to_rows

__all__ = ["DEFAULT_TOLERANCE", "Comparison", "common_shift", "compare_records", "flagged_rows"]

DEFAULT_TOLERANCE = 0.05


@dataclass(frozen=True)
class Comparison:
    key: tuple[Any, ...]
    baseline: Row | None
    candidate: Row | None
    status: str  # regressed | improved | same | new | missing
    test: RatioTest | None = None

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

    @property
    def flags(self) -> list[str]:
        """``side: flag`` for every flag the compared rows carry (busy, bimodal)."""
        return [f"{side}: {f}" for side, row in (("baseline", self.baseline), ("candidate", self.candidate))
                if row is not None for f in row.flags]  # fmt: skip


def _side(r: Row) -> tuple[float, float, int]:
    return (r.median_ms, r.se_log, r.dof)


def compare_records(
    baseline: Sequence[Mapping[str, Any]],
    candidate: Sequence[Mapping[str, Any]],
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[Comparison]:
    """Pair rows by (device kind, variant, runtime, precision, delegate, threads) and classify each."""
    base = {r.match_key: r for r in to_rows(baseline)}
    cand = {r.match_key: r for r in to_rows(candidate)}
    keys = sorted(set(base) | set(cand), key=lambda k: tuple(str(x) for x in k))
    paired = [k for k in keys if k in base and k in cand]
    tests = {k: ratio_test(_side(base[k]), _side(cand[k])) for k in paired}
    significant = dict(zip(paired, holm([tests[k].p_value for k in paired]), strict=True))
    out = []
    for key in keys:
        b, c = base.get(key), cand.get(key)
        if b is None or c is None:
            out.append(Comparison(key, b, c, "new" if b is None else "missing"))
            continue
        t = tests[key]
        status = "same"
        if significant[key] and t.ratio > 1.0 + tolerance:
            status = "regressed"
        elif significant[key] and t.ratio < 1.0 / (1.0 + tolerance):
            status = "improved"
        out.append(Comparison(key, b, c, status, t))
    return out


def common_shift(rows: Sequence[Comparison], tolerance: float = DEFAULT_TOLERANCE) -> str | None:
    """A line when (nearly) every compared variant moved the same way by more than half the tolerance.

    A machine that was busier or slower in one run shifts every variant alike, and so does a change that
    slows everything (a runtime upgrade); two separate runs cannot tell them apart, so the gate does not
    try, but the reader should know which kind of result this is."""
    ratios = sorted(c.test.ratio for c in rows if c.test is not None)
    if len(ratios) < 3:
        return None
    mid = ratios[len(ratios) // 2]
    same_way = max(sum(r > 1 for r in ratios), sum(r < 1 for r in ratios)) / len(ratios)
    if abs(mid - 1.0) <= tolerance / 2 or same_way < 0.75:
        return None
    return (f"{same_way:.0%} of the {len(ratios)} variants moved the same way (median ratio {mid:.3f}): a "
            "machine that was busier or slower during one run looks exactly like this; measure both in one "
            "interleaved request (toolkit profile A B) to tell it from a change")  # fmt: skip


def flagged_rows(rows: Sequence[Comparison]) -> list[str]:
    """One line per compared pair that leans on a busy or bimodal record."""
    return [f"{c.label}: {', '.join(c.flags)}" for c in rows if c.flags and c.status not in ("new", "missing")]
