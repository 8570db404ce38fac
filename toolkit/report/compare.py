"""``toolkit compare``: a CI regression gate between two result sets (DBs or JSON exports).

A variant regressed when both hold:
1. the slowdown is real: significant after Holm's correction over every variant compared, so comparing 32
   variants does not give 32 chances of a false alarm (the family-wise false-alarm rate stays at 5%);
2. and it matters: the candidate is more than ``tolerance`` (default 5%) slower.
A variant is **inconclusive** when neither holds nor is ruled out: not significant, yet its 95% interval
reaches past ``1 + tolerance``, so a slowdown that would count cannot be excluded (too few runs for the noise
of this machine). It does not fail the gate; the CLI names it and says how to measure longer.
Where the test comes from:
- **side by side** (host records whose artifacts are still on disk, unchanged): both artifacts are timed
  again in one request, paired round by round, each loaded afresh every round, and the ratio is that of the
  rounds' fastest runs (:mod:`toolkit.profile.side_by_side` says why). Two separate runs on a shared machine
  drift apart by 5-15%, all variants together, which no interval of either run can see; side by side the
  drift lands on both.
- **stored runs** (phones, cloud devices, artifacts gone, ``--stored``): Welch's t on the two records' log
  medians, each side's standard error from its stated interval (:mod:`toolkit.profile.intervals`). Records
  stored once their device has a history carry its measured run-to-run spread (:mod:`toolkit.between_runs`)
  and the test then accounts for the drift between the runs; records without it (a young DB, an app's JSON)
  are tested on their within-run error alone, exposed to that drift, with the minimum change to guard them.
  The table says which rows were decided this way.
``benchmarks/bench_compare.py`` measures both: how often each raises a false alarm on identical artifacts and
how often each catches a 10% slowdown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.profile.intervals import RatioTest, holm, ratio_test
from toolkit.profile.protocol import ProfileConfig
from toolkit.report.data import Row, to_rows

__all__ = ["DEFAULT_TOLERANCE", "SIDE_BY_SIDE", "STORED", "Comparison", "common_shift", "compare_records",
           "flagged_rows", "label", "remeasure"]  # fmt: skip

SIDE_BY_SIDE, STORED = "side by side", "stored runs"

DEFAULT_TOLERANCE = 0.05


@dataclass(frozen=True)
class Comparison:
    key: tuple[Any, ...]
    baseline: Row | None
    candidate: Row | None
    status: str  # regressed | improved | same | inconclusive | new | missing
    test: RatioTest | None = None
    basis: str = STORED  # or SIDE_BY_SIDE: where ``test`` comes from

    @property
    def ratio(self) -> float | None:
        """The deciding candidate ÷ baseline ratio (side by side when re-measured, else the stored medians')."""
        if self.test is not None:
            return self.test.ratio
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate.median_ms / self.baseline.median_ms

    @property
    def label(self) -> str:
        return label(self.key)

    @property
    def flags(self) -> list[str]:
        """``side: flag`` for every flag the compared rows carry (busy, bimodal)."""
        return [f"{side}: {f}" for side, row in (("baseline", self.baseline), ("candidate", self.candidate))
                if row is not None for f in row.flags]  # fmt: skip


def label(key: tuple[Any, ...]) -> str:
    """A match key as the table and the lines name it: ``host onnxruntime fp32 t2 mobilenet_v1-a0.50-r160``."""
    kind, variant, runtime, precision, delegate, threads = key
    extra = f" [{delegate}]" if delegate else ""
    return f"{kind} {runtime} {precision}{extra} t{threads} {variant}"


def _side(r: Row) -> tuple[float, float, int]:
    return (r.median_ms, r.se_log, r.dof)


def compare_records(
    baseline: Sequence[Mapping[str, Any]],
    candidate: Sequence[Mapping[str, Any]],
    tolerance: float = DEFAULT_TOLERANCE,
    side_by_side: Mapping[tuple[Any, ...], RatioTest] | None = None,
) -> list[Comparison]:
    """Pair rows by (device kind, variant, runtime, precision, delegate, threads) and classify each; a pair
    in ``side_by_side`` (from :func:`remeasure`) is decided by that test, the others by their stored runs."""
    base, cand = _rows(baseline), _rows(candidate)
    keys = sorted(set(base) | set(cand), key=lambda k: tuple(str(x) for x in k))
    paired = [k for k in keys if k in base and k in cand]
    side_by_side = side_by_side or {}
    tests = {k: side_by_side.get(k) or ratio_test(_side(base[k]), _side(cand[k])) for k in paired}
    significant = dict(zip(paired, holm([tests[k].p_value for k in paired]), strict=True))
    out = []
    for key in keys:
        b, c = base.get(key), cand.get(key)
        if b is None or c is None:
            out.append(Comparison(key, b, c, "new" if b is None else "missing"))
            continue
        t = tests[key]
        status = "inconclusive" if t.high > 1.0 + tolerance else "same"
        if significant[key] and t.ratio > 1.0 + tolerance:
            status = "regressed"
        elif significant[key] and t.ratio < 1.0 / (1.0 + tolerance):
            status = "improved"
        out.append(Comparison(key, b, c, status, t, SIDE_BY_SIDE if key in side_by_side else STORED))
    return out


def _rows(records: Sequence[Mapping[str, Any]]) -> dict[tuple[Any, ...], Row]:
    return {r.match_key: r for r in to_rows(records)}


def remeasure(
    baseline: Sequence[Mapping[str, Any]],
    candidate: Sequence[Mapping[str, Any]],
    config: ProfileConfig | None = None,
    *,
    wait: bool = True,
    say: Callable[[str], None] | None = None,
) -> tuple[dict[tuple[Any, ...], RatioTest], dict[tuple[Any, ...], str]]:
    """Time every pair whose two artifacts are on this host, unchanged, side by side in one request.

    Returns the side-by-side tests by match key and, for every pair left to its stored runs, why. Both sides
    run with the thread count the baseline's record used: autotuned rows pair as ``auto``, and two tuners'
    picks on a busy machine can differ (measured: 1 thread against 2 made an A/A pair read 0.84), so the
    candidate is timed in the configuration the baseline established. ``config`` is the budget (default the
    sweep's, ``ProfileConfig()``). The host's measurement lock is taken only when there is something to time
    (``wait``/``say`` as for a sweep)."""
    from toolkit.profile.side_by_side import Side, measure_side_by_side, not_remeasurable

    base, cand = _rows(baseline), _rows(candidate)
    why: dict[tuple[Any, ...], str] = {}
    todo: list[tuple[tuple[Any, ...], tuple[Side, Side]]] = []
    for key in sorted(set(base) & set(cand), key=lambda k: tuple(str(x) for x in k)):
        b, c = base[key], cand[key]
        reason = not_remeasurable(b.device_kind, b.artifact_path, b.sha256) or not_remeasurable(
            c.device_kind, c.artifact_path, c.sha256)  # fmt: skip
        if reason:
            why[key] = reason
            continue
        sides = tuple(Side(Path(r.artifact_path or ""), r.sha256, b.threads) for r in (b, c))
        todo.append((key, sides))  # type: ignore[arg-type]
    if not todo:
        return {}, why
    from toolkit.profile.lock import measurement_lock

    with measurement_lock("host", wait=wait, say=say):
        results = measure_side_by_side([pair for _, pair in todo], config or ProfileConfig())
    tests = {}
    for (key, _), got in zip(todo, results, strict=True):
        if isinstance(got, str):
            why[key] = got
        else:
            tests[key] = got
    return tests, why


def common_shift(rows: Sequence[Comparison], tolerance: float = DEFAULT_TOLERANCE) -> str | None:
    """A line when (nearly) every compared variant moved the same way by more than half the tolerance.

    A machine that was busier or slower in one run shifts every variant alike, and so does a change that
    slows everything (a runtime upgrade); two separate runs cannot tell them apart, so the gate does not
    try, but the reader should know which kind of result this is. Side-by-side pairs are not exposed to it."""
    ratios = sorted(c.test.ratio for c in rows if c.test is not None and c.basis == STORED)
    if len(ratios) < 3:
        return None
    mid = ratios[len(ratios) // 2]
    same_way = max(sum(r > 1 for r in ratios), sum(r < 1 for r in ratios)) / len(ratios)
    if abs(mid - 1.0) <= tolerance / 2 or same_way < 0.75:
        return None
    return (f"{same_way:.0%} of the {len(ratios)} variants moved the same way (median ratio {mid:.3f}): a "
            "machine that was busier or slower during one run looks exactly like this; only a side-by-side "
            "measurement tells it from a change (these rows were decided on their stored runs)")  # fmt: skip


def flagged_rows(rows: Sequence[Comparison]) -> list[str]:
    """One line per compared pair that leans on a busy or bimodal record."""
    return [f"{c.label}: {', '.join(c.flags)}" for c in rows if c.flags and c.status not in ("new", "missing")]
