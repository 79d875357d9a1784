r"""How well the data pin each parameter down.

Jacobian covariance
    With :math:`J` the derivative of the simulated observations with respect
    to the parameters at the optimum (central differences, one vectorised
    batch of :math:`2p` runs), whitened row by row by each observation's
    standard deviation under the payoff's error model (:meth:`Payoff.sd`),

    .. math:: \mathrm{Cov}(\hat\theta) \approx s^2 (J_w^\top J_w)^{-1}

    with :math:`s^2 = P/(n-p)` for ``wss``, :math:`s^2 = n/(n-p)` for
    ``gaussian`` with estimated noise, and :math:`s^2=1` otherwise. Intervals
    are :math:`\hat\theta_j \pm q\,\mathrm{se}_j` with :math:`q` from Student's
    t (:math:`n-p` degrees of freedom; ``wss``/``gaussian``) or the normal
    distribution. The correlation matrix is
    :math:`\mathrm{Cov}_{jk}/(\mathrm{se}_j \mathrm{se}_k)`.

Profile likelihood (``profile=True``)
    Each parameter is fixed on a grid around its estimate while the others
    are re-fitted; the interval is where
    :math:`\Delta(-2\log L) = \chi^2_{1,\text{level}}` (3.84 at 95 %). For
    ``wss`` the payoff difference is scaled by :math:`1/s^2`. A side that
    never reaches the threshold inside the bounds is reported as flat
    (the data do not bound the parameter that way).

Warnings are raised for parameters at a bound, pairs with
:math:`|\text{correlation}| > 0.95`, rank-deficient Jacobians (a parameter or
combination with no effect on the fit) and flat profiles.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import stats as sps

from .evaluate import Evaluator
from .search import _lsq

log = logging.getLogger(__name__)

#: |correlation| above which a pair is reported as nearly unidentifiable.
CORR_LIMIT = 0.95

#: Fraction of the bound range within which an estimate counts as "at a bound".
BOUND_TOL = 1e-3


@dataclass
class Uncertainty:
    """Parameter uncertainty at the optimum (see module docstring)."""

    names: list[str]
    estimate: np.ndarray
    se: np.ndarray
    cov: np.ndarray
    corr: np.ndarray
    ci: np.ndarray
    level: float
    method: str
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rank: int = 0


def sensitivity(ev: Evaluator, theta: np.ndarray, rel_step: float = 1e-5) -> np.ndarray:
    """Central-difference Jacobian ``d(simulated obs)/d(parameter)``, shape ``(n_obs, p)``.

    Steps are *rel_step* of each parameter's bound range, one-sided at a bound.
    The ``2p`` runs are one batch and do not count against the budget.
    """
    k = len(theta)
    h = rel_step * (ev.hi - ev.lo)
    up = np.minimum(theta + h, ev.hi)
    down = np.maximum(theta - h, ev.lo)
    pts = np.repeat(theta[None, :], 2 * k, axis=0)
    for j in range(k):
        pts[2 * j, j] = up[j]
        pts[2 * j + 1, j] = down[j]
    sims = np.concatenate(ev.simulate(pts, count=False), axis=1)  # (2k, n_obs)
    jac = np.empty((sims.shape[1], k))
    for j in range(k):
        jac[:, j] = (sims[2 * j] - sims[2 * j + 1]) / (up[j] - down[j])
    return jac


def assess(ev: Evaluator, theta: np.ndarray, value: float, *, level: float = 0.95,
           profile: bool | Sequence[str] = False, profile_points: int = 6) -> Uncertainty:
    """Covariance, correlation, intervals (and optional profiles) at *theta*."""
    names = [s.name for s in ev.specs]
    k, n = len(theta), ev.obs.n
    sims1 = [s[0] for s in ev.simulate(theta[None, :], count=False)]
    nuisance = ev.payoff.nuisance(sims1)
    jac = sensitivity(ev, theta)
    sd = ev.payoff.sd(sims1, nuisance)
    jw = jac / sd[:, None]
    dof = n - k
    if ev.payoff.kind == "wss":
        s2 = value / dof if dof > 0 else math.inf
    elif ev.payoff.kind == "gaussian" and any(s.sigma is None for s in ev.obs.series):
        s2 = n / dof if dof > 0 else math.inf
    else:
        s2 = 1.0
    warnings: list[str] = []
    u, sv, vt = np.linalg.svd(np.where(np.isfinite(jw), jw, 0.0), full_matrices=False)
    tol = max(jw.shape) * np.finfo(float).eps * (sv[0] if sv.size and sv[0] > 0 else 1.0) * 1e4
    rank = int(np.sum(sv > tol))
    inv_sv2 = np.where(sv > tol, 1.0 / np.where(sv > tol, sv, 1.0) ** 2, 0.0)
    cov = s2 * (vt.T * inv_sv2) @ vt
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    if rank < k:
        null = vt[rank:]
        involved = [names[j] for j in range(k) if np.any(np.abs(null[:, j]) > 0.1)]
        for j in range(k):
            if names[j] in involved:
                se[j] = math.inf
        warnings.append(f"the fit is insensitive to a combination of {', '.join(involved)} (Jacobian rank {rank} "
                        f"< {k} parameters): these parameters are not identifiable from these data")
    if not math.isfinite(s2):
        se[:] = math.inf
        warnings.append(f"{n} observations for {k} parameters: no degrees of freedom left for uncertainty")
    with np.errstate(all="ignore"):
        denom = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
        corr = np.where(denom > 0, cov / denom, np.nan)
    np.fill_diagonal(corr, 1.0)
    for i in range(k):
        for j in range(i + 1, k):
            if np.isfinite(corr[i, j]) and abs(corr[i, j]) > CORR_LIMIT:
                warnings.append(f"parameters {names[i]!r} and {names[j]!r} are nearly unidentifiable: "
                                f"correlation {corr[i, j]:+.3f} (|r| > {CORR_LIMIT}); the data constrain a "
                                "combination of them, not each one")
    q = sps.t.ppf(0.5 + level / 2, dof) if ev.payoff.kind in ("wss", "gaussian") and dof > 0 \
        else sps.norm.ppf(0.5 + level / 2)
    ci = np.column_stack([theta - q * se, theta + q * se])
    unit = ev.to_unit(theta)
    for j, spec in enumerate(ev.specs):
        if unit[j] < BOUND_TOL or unit[j] > 1 - BOUND_TOL:
            side, b = ("lower", spec.lo) if unit[j] < 0.5 else ("upper", spec.hi)
            warnings.append(f"parameter {spec.name!r} = {theta[j]:.6g} is at its {side} bound {b:g}: the data "
                            "push it further; its interval is not meaningful (widen the bounds or fix it)")
    result = Uncertainty(names, theta.copy(), se, cov, corr, ci, level, "jacobian", warnings=warnings, rank=rank)
    chosen = names if profile is True else list(profile or [])
    if chosen:
        _profiles(ev, result, value, chosen, profile_points)
    for w in result.warnings:
        log.warning("%s", w)
    return result


def _profiles(ev: Evaluator, result: Uncertainty, value: float, chosen: list[str], points: int) -> None:
    from .evaluate import Evaluator as _Ev  # local: same class, fresh budget

    names = result.names
    theta = result.estimate
    scale = ev.payoff.deviance_scale(value, ev.obs.n, len(theta))
    threshold = float(sps.chi2.ppf(result.level, 1))
    ci = result.ci.copy()
    for name in chosen:
        if name not in names:
            from ..errors import CalibrationError, suggest

            raise CalibrationError(f"profile: {name!r} is not a calibrated parameter.{suggest(name, names)}")
        j = names.index(name)
        spec = ev.specs[j]
        others = [s for i, s in enumerate(ev.specs) if i != j]
        width = result.se[j] * 2.5 if math.isfinite(result.se[j]) and result.se[j] > 0 else 0.25 * (spec.hi - spec.lo)
        grid_vals, devs = [theta[j]], [0.0]
        bounded = {}
        def dev_at(v: float, warm: np.ndarray) -> tuple[float, np.ndarray]:
            """Delta(-2 log L) with parameter j fixed at v, the others re-fitted from *warm*."""
            if others:
                sub = _Ev(ev.model, ev.obs, others, ev.payoff, fixed={**ev.fixed, spec.py_name: v},
                          initial_time=ev.initial_time, time_step=ev.time_step, progress=False)
                _lsq(sub, np.clip(sub.to_unit(warm), 0, 1), {"max_nfev": 100}, [])
                best = sub.best_value
                warm = sub.best_x if sub.best_x is not None else warm
                sub.close()
            else:
                full = theta.copy()
                full[j] = v
                best = float(ev.payoff.value(ev.simulate(full[None, :], count=False))[0])
            return (max(scale * (best - value), 0.0) if math.isfinite(best) else math.inf), warm

        for side, bound in ((-1, spec.lo), (1, spec.hi)):
            prev_v, prev_d, crossed = theta[j], 0.0, None
            warm = np.delete(theta, j)  # continuation: each grid point starts from the previous optimum
            for i in range(1, points + 1):
                v = theta[j] + side * width * i / points * (1 + (i > points // 2))
                v = min(max(v, spec.lo), spec.hi)
                if v == prev_v:
                    break
                d, new_warm = dev_at(v, warm)
                grid_vals.append(v)
                devs.append(d)
                if d >= threshold:
                    # refine the bracket by bisection, then interpolate the signed root deviance
                    # sqrt(d), which is close to linear in the parameter
                    lo_v, lo_d, hi_v, hi_d = prev_v, prev_d, v, d
                    for _ in range(3):
                        mid = 0.5 * (lo_v + hi_v)
                        md, mw = dev_at(mid, warm)
                        grid_vals.append(mid)
                        devs.append(md)
                        if md >= threshold:
                            hi_v, hi_d = mid, md
                        else:
                            lo_v, lo_d, warm = mid, md, mw
                    r0, r1 = math.sqrt(lo_d), math.sqrt(hi_d) if math.isfinite(hi_d) else math.inf
                    frac = (math.sqrt(threshold) - r0) / (r1 - r0) if math.isfinite(r1) and r1 > r0 else 1.0
                    crossed = lo_v + frac * (hi_v - lo_v)
                    break
                prev_v, prev_d, warm = v, d, new_warm
            bounded[side] = crossed
            if crossed is None:
                result.warnings.append(
                    f"profile of {name!r} is flat towards its {'lower' if side < 0 else 'upper'} side: "
                    f"-2 log L rises by less than {threshold:.2f} up to {prev_v:.6g}; the data do not bound it "
                    "that way")
        order = np.argsort(grid_vals)
        result.profiles[name] = {"values": np.asarray(grid_vals)[order], "delta_deviance": np.asarray(devs)[order],
                                 "threshold": threshold}
        ci[j] = [bounded[-1] if bounded[-1] is not None else math.nan,
                 bounded[1] if bounded[1] is not None else math.nan]
    result.ci = ci
    result.method = "profile"
