"""A baseline and its candidate timed side by side: the regression gate that drift between runs cannot fool.

Why: on a shared machine two separate runs of the same artifacts differ by 5-15%, all variants together
(measured by ``benchmarks/bench_compare.py``: frequency, neighbours of a virtual machine, nothing visible
from inside). That is as large as the slowdowns a gate must catch, and no interval taken within one run can
see it. Timed in one request, baseline and candidate share the machine's state: artifacts 2k and 2k+1 are
a pair, timed back to back in every round with the first place alternating (:func:`measure_host` with
``paired``), so what drifts between rounds drifts for both.

Three choices make the test both calm on identical builds and sharp on real slowdowns (each measured by
``benchmarks/bench_compare.py`` and kept because it moved the figures there):

- **A fresh load every round.** Two loads of the same bytes in one process can differ by 5-10% for as long
  as they live (memory layout: Mytkowicz et al., "Producing wrong data without doing anything obviously
  wrong!", ASPLOS 2009). Loaded once, an A/A pair read 0.94 and 1.10 in all of its rounds, a "significant"
  difference that is the layout's. Reloaded every round (behind a random-sized allocation, as Curtsinger
  and Berger's Stabilizer re-randomizes layout), each round draws a new layout and the spread between rounds
  holds its effect.
- **The fastest run of each slice.** Noise on a shared machine only adds: a preempted thread, a stalled
  vCPU, a neighbour's cache traffic. The slice minimum is the run least touched by it (Chen and Revels,
  "Robust benchmarking in noisy environments", 2016), and a slower build moves it as it moves the median.
  At two threads on a two-vCPU machine the round medians scatter about 3× more than the minima. What it cannot
  see is a change confined to the slow tail (an occasional stall the candidate adds); the stored runs'
  medians and p90 in the table still show that.
- **A paired t test on the rounds.** Per round r, ``d_r = log(candidate_r / baseline_r)`` of the slice
  minima; the ratio is ``exp(mean d)``, its 95% interval ``exp(mean d ± t(R-1) · sd(d) / sqrt(R))``, and the
  p-value that of the paired t test of "no change". The two slices of a round are seconds apart at most, so
  the drift they share cancels in ``d_r``; what is left (noise within a round, the layouts drawn) is in the
  spread of the ``d_r``, which the t interval covers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.profile.intervals import RatioTest, log_ratio_test
from toolkit.profile.protocol import ProfileConfig

__all__ = ["Side", "measure_side_by_side", "not_remeasurable", "paired_ratio_test", "round_minima"]


@dataclass(frozen=True)
class Side:
    """What re-measuring one side of a pair takes: the file (checked against its sha256) and its threads."""

    path: Path
    sha256: str | None
    threads: int


def not_remeasurable(device_kind: str, path: str | None, sha256: str | None) -> str | None:
    """Why a stored record's artifact cannot be timed again here (None: it can)."""
    from toolkit.export.manifest import tree_sha256

    if device_kind != "host":
        return f"measured on {device_kind}: only host records are re-measured"
    if not path:
        return "the record does not name the artifact's path (measured by an older toolkit)"
    if not Path(path).exists():
        return f"{path} is gone"
    if sha256 and tree_sha256(Path(path)) != sha256:
        return f"{path} changed since it was measured"
    return None


def round_minima(record: dict) -> list[float]:
    """The fastest run of each round of a record measured in rounds (its samples are in time order)."""
    out, i = [], 0
    for n in record["rounds"]["runs_per_round"]:
        out.append(min(record["latency_ms"][i : i + n]))
        i += n
    return out


def paired_ratio_test(base_rounds: Sequence[float], cand_rounds: Sequence[float]) -> RatioTest | None:
    """Candidate ÷ baseline from one statistic per round (the slice minima), round by round (module
    docstring); None with < 2 rounds."""
    d = [math.log(c / b) for b, c in zip(base_rounds, cand_rounds, strict=True) if b > 0 and c > 0]
    if len(d) < 2:
        return None
    mean = math.fsum(d) / len(d)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (len(d) - 1))
    return log_ratio_test(mean, sd / math.sqrt(len(d)), len(d) - 1)


def measure_side_by_side(
    pairs: Sequence[tuple[Side, Side]], config: ProfileConfig, *, stop: threading.Event | None = None
) -> list[RatioTest | str]:
    """Time every (baseline, candidate) pair in one paired request; per pair its test, or why it has none.

    An odd ``config.rounds`` gets one more round (same runs, smaller slices), so that each side is timed
    first in half the rounds: whatever the second slice of a pair gains or loses cancels in the mean."""
    import dataclasses

    from toolkit.profile.rounds import measure_host

    if config.rounds % 2:  # each side first in as many rounds as the other: no order effect left in the ratio
        config = dataclasses.replace(config, rounds=config.rounds + 1)
    paths = [side.path for pair in pairs for side in pair]
    threads = [side.threads for pair in pairs for side in pair]
    run = measure_host(paths, config, threads, paired=True, stop=stop)
    failed = {Path(line.split(":", 1)[0]).name: line for line in run.failures}
    out: list[RatioTest | str] = []
    for k, (base, cand) in enumerate(pairs):
        b, c = run.records[2 * k], run.records[2 * k + 1]
        if b is None or c is None:
            lost = base if b is None else cand
            out.append(failed.get(lost.path.name, f"{lost.path.name}: not measured"))
            continue
        test = paired_ratio_test(round_minima(b), round_minima(c)) if "rounds" in b and "rounds" in c else None
        out.append(test or "fewer than 2 rounds: no paired test")
    return out
