"""Search methods: bounded least squares, Powell, differential evolution.

All methods work in the unit cube (each parameter rescaled to [0, 1] between
its bounds) so that parameters of very different magnitude are treated alike.

``least_squares``
    :func:`scipy.optimize.least_squares` (trust-region reflective, bounded) on
    the payoff's residual vector, with a finite-difference Jacobian computed
    in one vectorised batch of runs. Nuisance parameters (Gaussian noise,
    negative-binomial dispersion) are re-estimated between rounds.
``powell``
    :func:`scipy.optimize.minimize` with ``method="Powell"`` (derivative-free,
    bounded; the method Vensim's optimiser uses) on the scalar payoff.
``de``
    :func:`scipy.optimize.differential_evolution` with ``vectorized=True``:
    each generation is one batch of runs. The best member is then polished
    with ``least_squares``.

Local methods run from ``n_starts`` points: the initial guess, then a Latin
hypercube sample (seeded). Every method stops early when the evaluation or
wall-clock budget is used up and returns the best point seen so far.
"""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution, least_squares, minimize
from scipy.stats import qmc

from ..errors import CalibrationError
from .evaluate import BudgetExhausted, Evaluator

log = logging.getLogger(__name__)

#: Method names and their aliases.
METHODS = {"least_squares": "least_squares", "lsq": "least_squares", "powell": "powell",
           "de": "de", "differential_evolution": "de"}


@dataclass
class SearchOutcome:
    """What a search found and how it ended."""

    x: np.ndarray
    value: float
    success: bool
    message: str
    method: str
    starts: list[dict[str, Any]] = field(default_factory=list)
    budget_hit: bool = False


def start_points(ev: Evaluator, x0: np.ndarray, n_starts: int, seed: int | None) -> np.ndarray:
    """The initial guess followed by ``n_starts - 1`` Latin-hypercube points (unit cube)."""
    u0 = np.clip(ev.to_unit(x0), 0.0, 1.0)
    if n_starts <= 1:
        return u0[None, :]
    sample = qmc.LatinHypercube(d=len(u0), seed=seed).random(n_starts - 1)
    return np.vstack([u0, to_prior_box(ev, sample)])


def to_prior_box(ev: Evaluator, sample: np.ndarray) -> np.ndarray:
    """Map unit-cube samples into each parameter's prior range (unit-cube coordinates)."""
    plo = np.array([ev.to_unit(np.array([s.prior[0] if s.prior else s.lo for s in ev.specs]))]).ravel()
    phi = np.array([ev.to_unit(np.array([s.prior[1] if s.prior else s.hi for s in ev.specs]))]).ravel()
    return plo + sample * (phi - plo)


def run_search(ev: Evaluator, method: str, x0: np.ndarray, *, n_starts: int = 1, seed: int | None = None,
               options: dict[str, Any] | None = None) -> SearchOutcome:
    """Run *method* on *ev* and return the best point found.

    Parameters
    ----------
    ev
        The evaluator (holds bounds, payoff and budget).
    method
        ``least_squares``/``lsq``, ``powell`` or ``de``/``differential_evolution``.
    x0
        Initial guess (parameter values).
    n_starts
        Starting points for local methods (ignored by ``de``).
    seed
        Seed of the Latin hypercube starts and of differential evolution.
    options
        Passed to the SciPy routine (e.g. ``popsize``, ``maxiter``, ``xtol``).
    """
    name = METHODS.get(str(method).lower())
    if name is None:
        raise CalibrationError(f"unknown method {method!r}; choose one of least_squares, powell, de")
    if not isinstance(n_starts, int) or n_starts < 1:
        raise CalibrationError(f"n_starts must be a positive integer, got {n_starts!r}")
    options = dict(options or {})
    starts: list[dict[str, Any]] = []
    budget_hit = False
    message = ""
    success = False
    try:
        if name == "de":
            success, message = _de(ev, seed, options, starts)
            if not ev.check_budget_ok():
                raise BudgetExhausted("budget reached before polishing")
            best_u = ev.to_unit(ev.best_x) if ev.best_x is not None else np.full(len(ev.specs), 0.5)
            _lsq(ev, best_u, {}, starts)
        else:
            for u0 in start_points(ev, x0, n_starts, seed):
                if name == "least_squares":
                    ok, msg = _lsq(ev, u0, options, starts)
                else:
                    ok, msg = _powell(ev, u0, options, starts)
                success |= ok
                message = msg
    except BudgetExhausted as exc:
        budget_hit = True
        message = f"stopped early: {exc}; returning the best point so far"
        log.warning("calibration %s", message)
    if ev.best_x is None or not np.isfinite(ev.best_value):
        raise CalibrationError(f"no parameter set gave a finite payoff ({ev.n_evals} evaluations, "
                               f"{ev.n_bad} bad points); check bounds and data")
    if success and not budget_hit:
        message = message or "converged"
    return SearchOutcome(ev.best_x.copy(), ev.best_value, success and not budget_hit, message, name, starts,
                         budget_hit)


# ---------------------------------------------------------------------------
def _lsq(ev: Evaluator, u0: np.ndarray, options: dict[str, Any], starts: list) -> tuple[bool, str]:
    k = len(u0)
    cache: dict[bytes, np.ndarray] = {}
    nuisance: list = []

    def sims_at(u: np.ndarray) -> list[np.ndarray]:
        theta = ev.to_theta(u)
        sims = ev.simulate(theta[None, :])
        ev.observe(theta[None, :], ev.payoff.value(sims))
        return [s[0] for s in sims]

    def fun(u: np.ndarray) -> np.ndarray:
        key = u.tobytes()
        if key not in cache:
            cache.clear()
            sims = sims_at(u)
            cache[key] = ev.payoff.residuals(sims, nuisance)
        return cache[key]

    def jac(u: np.ndarray) -> np.ndarray:
        f0 = fun(u)
        h = 1e-6
        steps = np.where(u + h <= 1.0, h, -h)
        pts = np.repeat(u[None, :], k, axis=0) + np.diag(steps)
        thetas = ev.to_theta(pts)
        sims = ev.simulate(thetas)
        ev.observe(thetas, ev.payoff.value(sims))
        cols = []
        for j in range(k):
            fj = ev.payoff.residuals([s[j] for s in sims], nuisance)
            cols.append((fj - f0) / steps[j])
        jm = np.column_stack(cols)
        return np.where(np.isfinite(jm), jm, 0.0)

    first = sims_at(u0)
    nuisance[:] = ev.payoff.nuisance(first)
    u = u0
    ok, msg, rounds = False, "", 0
    opts = {"xtol": 1e-10, "ftol": 1e-12, "gtol": 1e-10, "x_scale": 1.0}
    opts.update(options)
    while True:
        rounds += 1
        if not np.all(np.isfinite(fun(u))):
            starts.append({"method": "least_squares", "start": ev.to_theta(u0).tolist(),
                           "value": float("inf"), "message": "not finite at the starting point"})
            return False, "starting point gives a bad run"
        res = least_squares(fun, u, jac=jac, bounds=(np.zeros(k), np.ones(k)), method="trf", **opts)
        u = res.x
        ok, msg = bool(res.success), str(res.message)
        if not ev.payoff.is_likelihood or ev.payoff.kind == "poisson" or rounds >= 8:
            break
        new = ev.payoff.nuisance(sims_at(u))
        change = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(new, nuisance))
        nuisance[:] = new
        cache.clear()
        if change < 1e-4:
            break
    theta = ev.to_theta(u)
    starts.append({"method": "least_squares", "start": ev.to_theta(u0).tolist(), "x": theta.tolist(),
                   "value": float(ev.payoff.value([s for s in ev.simulate(theta[None, :])])[0]),
                   "message": msg, "rounds": rounds})
    return ok, msg


def _powell(ev: Evaluator, u0: np.ndarray, options: dict[str, Any], starts: list) -> tuple[bool, str]:
    def fun(u: np.ndarray) -> float:
        v = float(ev.value(ev.to_theta(u)[None, :])[0])
        return v if np.isfinite(v) else 1e300

    opts = {"xtol": 1e-6, "ftol": 1e-10, "maxfev": 20_000}
    opts.update(options)
    res = minimize(fun, u0, method="Powell", bounds=[(0.0, 1.0)] * len(u0), options=opts)
    starts.append({"method": "powell", "start": ev.to_theta(u0).tolist(), "x": ev.to_theta(res.x).tolist(),
                   "value": float(res.fun), "message": str(res.message)})
    return bool(res.success), str(res.message)


def _de(ev: Evaluator, seed: int | None, options: dict[str, Any], starts: list) -> tuple[bool, str]:
    k = len(ev.specs)

    def fun(u: np.ndarray) -> np.ndarray:  # u: (k, S)
        return ev.value(ev.to_theta(np.asarray(u).T))

    opts = {"popsize": 15, "maxiter": 200, "tol": 1e-8, "init": "latinhypercube", "mutation": (0.5, 1.0),
            "recombination": 0.7}
    opts.update(options)
    if any(s.prior for s in ev.specs) and isinstance(opts.get("init"), str):
        size = max(5, int(opts["popsize"]) * k)
        opts["init"] = to_prior_box(ev, qmc.LatinHypercube(d=k, seed=seed).random(size))
    seed_kw = "rng" if "rng" in inspect.signature(differential_evolution).parameters else "seed"
    opts[seed_kw] = seed
    res = differential_evolution(fun, [(0.0, 1.0)] * k, vectorized=True, updating="deferred", polish=False,
                                 **opts)
    starts.append({"method": "de", "x": ev.to_theta(res.x).tolist(), "value": float(res.fun),
                   "message": str(res.message), "generations": int(res.nit)})
    return bool(res.success), str(res.message)
