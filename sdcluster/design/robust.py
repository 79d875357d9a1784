"""Robustness measures: one number per candidate from its KPI values over the ensemble members.

Definitions are in :mod:`sdcluster.design.space`. A member whose KPI is NaN (a
failed run, or a threshold never reached) counts as the worst possible value
for that candidate in that member.
"""
from __future__ import annotations

import numpy as np

from .space import Objective

__all__ = ["robust_value", "to_minimise"]


def _oriented(values: np.ndarray, better: str) -> np.ndarray:
    """Values turned so that higher is better; NaN becomes -inf (worst)."""
    v = np.asarray(values, dtype=float)
    v = v if better == "higher" else -v
    return np.where(np.isnan(v), -np.inf, v)


def robust_value(objective: Objective, values: np.ndarray, reference: np.ndarray,
                 best_alternative: np.ndarray | None) -> np.ndarray:
    """The robust value of each candidate (in the KPI's or the measure's own direction).

    Parameters
    ----------
    objective
        The objective (KPI direction and robustness measure).
    values
        KPI values, shape ``(P, N)`` (candidates x ensemble members).
    reference
        The reference scenario's KPI values, shape ``(N,)`` (for ``satisficing``
        against the reference).
    best_alternative
        Per member, the best KPI value among the reference and the comparison
        scenarios, shape ``(N,)`` (for ``regret``).

    Returns
    -------
    numpy.ndarray
        Shape ``(P,)``.
    """
    r = objective.robustness
    better = objective.kpi.better
    v = np.atleast_2d(np.asarray(values, dtype=float))
    if r.measure == "mean":  # NaN in any member propagates: the candidate counts as failed
        return v.mean(axis=1)
    if r.measure == "percentile":
        return np.percentile(v, r.q, axis=1)
    if r.measure == "regret":
        best = _oriented(best_alternative, better)[None, :]
        o = _oriented(v, better)
        with np.errstate(invalid="ignore"):
            regret = np.maximum(best - o, 0.0)
        regret = np.where(np.isnan(regret), 0.0, regret)  # -inf - -inf: both failed
        return regret.max(axis=1)
    if r.measure == "satisficing":
        o = _oriented(v, better)
        if r.threshold == "reference":
            t = _oriented(reference, better)[None, :]
        else:
            t = _oriented(np.array([float(r.threshold)]), better)[None, :]
        return (o > t).mean(axis=1)
    raise ValueError(f"unknown robustness measure {r.measure!r}")  # pragma: no cover - parser guards


def to_minimise(objective: Objective, robust: np.ndarray) -> np.ndarray:
    """Robust values as a minimisation objective (NaN, i.e. failed, becomes a large penalty)."""
    f = np.asarray(robust, dtype=float)
    f = -f if objective.better == "higher" else f
    return np.where(np.isfinite(f), f, 1e300)
