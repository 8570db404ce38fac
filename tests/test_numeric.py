"""The numpy-only NNLS and Student t quantile against known values, and no SciPy anywhere in the toolkit."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from toolkit.numeric import nnls, student_t_cdf, student_t_ppf

# t_{0.975, dof} to 12 digits (standard tables; e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2 to 3 decimals)
T975 = {1: 12.7062047361747, 2: 4.30265272974946, 3: 3.18244630528371, 5: 2.57058183563631,
        10: 2.22813885198627, 15: 2.13144954555978, 30: 2.04227245630124, 100: 1.98397151852355}  # fmt: skip


@pytest.mark.parametrize(("dof", "want"), sorted(T975.items()))
def test_t_quantile_matches_the_tables(dof: int, want: float) -> None:
    assert student_t_ppf(0.975, dof) == pytest.approx(want, abs=1e-10)
    assert student_t_ppf(0.025, dof) == pytest.approx(-want, abs=1e-10)
    assert student_t_cdf(want, dof) == pytest.approx(0.975, abs=1e-12)


def test_t_closed_forms_and_bad_input() -> None:
    # dof 1 is Cauchy: F(x) = 1/2 + atan(x)/π; dof 2: F(x) = 1/2 + x / (2·sqrt(2 + x²))
    for x in (-3.0, -0.5, 0.0, 0.7, 10.0):
        assert student_t_cdf(x, 1) == pytest.approx(0.5 + np.arctan(x) / np.pi, abs=1e-15)
        assert student_t_cdf(x, 2) == pytest.approx(0.5 + x / (2 * np.sqrt(2 + x * x)), abs=1e-15)
    assert student_t_ppf(0.5, 7) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="positive integer"):
        student_t_cdf(1.0, 0)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        student_t_ppf(1.0, 3)


def test_nnls_known_solutions() -> None:
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert nnls(a, np.array([1.0, 2.0, 3.0])) == pytest.approx([1.0, 2.0])  # interior: plain least squares
    # unconstrained optimum is (1.5, -0.5)-ish; the constraint pins x2 = 0 and x1 = mean of its rows
    assert nnls(a, np.array([2.0, -1.0, 1.0])) == pytest.approx([1.5, 0.0])
    assert nnls(a, -np.ones(3)) == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError, match="matrix"):
        nnls(a, np.ones(2))


def test_nnls_satisfies_the_optimality_conditions_on_random_problems() -> None:
    """KKT for min ‖Ax − b‖, x ≥ 0 (a convex problem, so they characterise the optimum): x ≥ 0, the gradient
    w = Aᵀ(b − Ax) is ≤ 0 where x = 0 and = 0 where x > 0 — including badly scaled and collinear columns."""
    rng = np.random.default_rng(0)
    for i in range(300):
        m, n = int(rng.integers(1, 20)), int(rng.integers(1, 8))
        a = rng.normal(size=(m, n)) * rng.choice([1e-4, 1.0, 1e4], size=n)
        if i % 4 == 0 and n > 1:
            a[:, 0] = a[:, 1]
        b = rng.normal(size=m)
        x = nnls(a, b)
        w = a.T @ (b - a @ x) * np.linalg.norm(a, axis=0) ** -1  # per unit column, so one tolerance fits
        assert (x >= 0).all()
        assert (w[x == 0] <= 1e-8).all() and np.abs(w[x > 0]).max(initial=0) <= 1e-8, (i, x, w)


def test_no_scipy_import_anywhere_in_the_toolkit() -> None:
    """The latency model's NNLS and t quantile are numpy-only; SciPy is not a declared dependency."""
    root = Path(__file__).resolve().parents[1] / "toolkit"
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] == "scipy"]
    assert not found
