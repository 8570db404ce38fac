"""Two small numerical tools the latency model needs, in numpy alone (no SciPy dependency).

* :func:`nnls`, non-negative least squares by the active-set method of Lawson and Hanson (*Solving Least
  Squares Problems*, 1974, ch. 23): the latency model's prices must be ≥ 0, and its problems are tiny
  (16 rows, ≤ 6 columns), so a plain active set is exact and fast.
* :func:`student_t_ppf`, the Student t quantile for an integer number of degrees of freedom: the CDF has
  a closed form then (Abramowitz & Stegun 26.7.3-4, a finite trigonometric sum), and bisection inverts
  it to machine precision. The latency interval only ever asks for integer dof.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["nnls", "student_t_cdf", "student_t_ppf"]


def nnls(a: np.ndarray, b: np.ndarray, max_iter: int | None = None) -> np.ndarray:
    """argmin ‖a·x − b‖₂ subject to x ≥ 0.

    Raises ValueError for mismatched shapes and RuntimeError if the active set does not settle (which,
    for a full-rank problem, it provably does within a few passes per column).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or b.shape != (a.shape[0],):
        raise ValueError(f"nnls needs a (m, n) matrix and an (m,) vector, got {a.shape} and {b.shape}")
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    a = a / norms  # NNLS is invariant under positive column scaling; unit columns make one tolerance fit all
    n = a.shape[1]
    x, passive = np.zeros(n), np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)  # a column whose entry stepped straight back out: ill-conditioned
    tol = 10 * np.finfo(float).eps * max(a.shape) * max(1.0, float(np.linalg.norm(b)))
    for _ in range(max_iter or 3 * n + 30):
        w = a.T @ (b - a @ x)  # the negative gradient: where it is positive, raising x lowers the residual
        free = ~passive & ~blocked
        if not free.any() or w[free].max() <= tol:
            return x / norms
        j = int(np.argmax(np.where(free, w, -np.inf)))
        passive[j] = True
        while True:  # solve on the passive set; step back until every passive x stays positive
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if not passive.any() or z[passive].min() > 0:
                break
            neg = passive & (z <= 0)
            step = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + step * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
        x = z
        if passive[j]:
            blocked[:] = False  # progress: every column may enter again
        else:
            blocked[j] = True  # it stepped straight back out (collinear columns): do not pick it again
    raise RuntimeError("nnls did not converge")


def student_t_cdf(x: float, dof: int) -> float:
    """P(T ≤ x) for a Student t with an integer ``dof`` ≥ 1, exact (finite sum, A&S 26.7.3-4)."""
    if dof < 1 or int(dof) != dof:
        raise ValueError(f"dof must be a positive integer, got {dof}")
    theta = math.atan(x / math.sqrt(dof))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if dof % 2:  # odd: (2/π)(θ + sinθ·cosθ·(1 + 2/3 cos²θ + 2·4/(3·5) cos⁴θ + …)), dof − 3 powers
        term, total = 1.0, 1.0 if dof > 1 else 0.0
        for k in range(1, (dof - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        inside = 2 / math.pi * (theta + s * math.cos(theta) * total)
    else:  # even: sinθ·(1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + …), dof − 2 powers
        term, total = 1.0, 1.0
        for k in range(1, dof // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        inside = s * total
    return 0.5 + 0.5 * inside  # `inside` is P(|T| ≤ x) signed like x


def student_t_ppf(p: float, dof: int) -> float:
    """The ``p`` quantile of a Student t with integer ``dof``, to ~1e-12 (bisection on the exact CDF)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if p < 0.5:
        return -student_t_ppf(1.0 - p, dof)
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, dof) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if student_t_cdf(mid, dof) < p else (lo, mid)
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)
