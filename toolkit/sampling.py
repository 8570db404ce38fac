"""Which K variants of a grid to measure when only K can be: the ones spread widest over the cost features.

A few-shot latency transfer (:mod:`toolkit.latency_transfer`) fits a device's scale and overhead on K
measured variants, so the K should span the cost features the latency depends on: pointwise mult-adds
(α²ρ²) and depthwise/activation work (αρ²). Each variant becomes a point z = (log pointwise MACs, log
depthwise MACs) in Mahalanobis coordinates over the grid (the two are correlated); K = 1 takes the
variant nearest the centre, K ≥ 2 the subset whose closest pair is farthest apart (maximin distance,
exhaustive over small grids, greedy farthest-point otherwise). On the 16 published variants K = 2
gives the two extremes (0.25-128 and 1.0-224) and K = 4 the four corners of the α × ρ grid. It lives
below both the sweep (which measures only these) and the latency model (which reads them back), so
neither imports the other.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from toolkit.cost import layer_costs
from toolkit.errors import UsageError
from toolkit.variants import Variant

__all__ = ["spread_sample"]

_EXHAUSTIVE_LIMIT = 5000  # subsets; beyond this the greedy farthest-point choice is used


def _point(v: Variant) -> tuple[float, float]:
    pw = dw = 0.0
    for layer in layer_costs(v.alpha, v.resolution):
        if layer.type == "Conv 1x1":
            pw += layer.macs
        elif layer.type in ("Conv DW 3x3", "Conv 3x3"):
            dw += layer.macs
    return math.log(pw), math.log(dw)


def spread_sample(variants: Sequence[Variant], k: int) -> list[Variant]:
    """The ``k`` variants of ``variants`` to measure, in the grid's order; UsageError unless 1 ≤ k ≤ len."""
    grid = list(dict.fromkeys(variants))
    if not 1 <= k <= len(grid):
        raise UsageError(f"--sample must be between 1 and the grid size {len(grid)}, got {k}")
    if k == len(grid):
        return grid
    z = _whitened([_point(v) for v in grid])
    if k == 1:
        return [grid[min(range(len(grid)), key=lambda i: (round(math.hypot(*z[i]), 9), grid[i].name))]]
    if math.comb(len(grid), k) <= _EXHAUSTIVE_LIMIT:
        best = max(itertools.combinations(range(len(grid)), k), key=lambda idx: _spread(z, idx))
    else:
        best = _greedy(z, k)
    return [grid[i] for i in sorted(best)]


def _whitened(points: list[tuple[float, float]]) -> list[tuple[float, ...]]:
    """Points in Mahalanobis coordinates: the two features are correlated (both grow with α and ρ), and
    distances should count their independent directions equally, not the shared one twice."""
    x = np.asarray(points, dtype=float)
    x = x - x.mean(axis=0)
    vals, vecs = np.linalg.eigh(np.cov(x, rowvar=False, bias=True))
    keep = vals > 1e-12 * max(vals.max(), 1e-300)
    w = x @ vecs[:, keep] / np.sqrt(vals[keep])
    return [tuple(round(float(c), 12) for c in row) for row in w]


def _spread(z: list[tuple[float, ...]], idx: Sequence[int]) -> tuple[float, float]:
    """(closest pair distance, total pairwise distance): maximin first, then the wider spread."""
    d = [math.dist(z[i], z[j]) for i, j in itertools.combinations(idx, 2)]
    return round(min(d), 9), round(sum(d), 9)


def _greedy(z: list[tuple[float, ...]], k: int) -> list[int]:
    pairs = itertools.combinations(range(len(z)), 2)
    chosen = list(max(pairs, key=lambda p: math.dist(z[p[0]], z[p[1]])))
    while len(chosen) < k:
        rest = [i for i in range(len(z)) if i not in chosen]
        chosen.append(max(rest, key=lambda i: min(math.dist(z[i], z[j]) for j in chosen)))
    return chosen
