"""Fit a model's uncertain parameters to observed series, with honest uncertainty.

>>> from sdcluster.calibrate import calibrate
>>> res = calibrate("cluster_lifecycle", "examples/data/firm_counts.csv",          # doctest: +SKIP
...                 {"entry rate": (0.05, 1.0), "carrying capacity": (50, 2000)},
...                 time_offset=1980, payoff="poisson", method="least_squares", seed=1)
>>> print(res.table())                                                              # doctest: +SKIP
>>> res.plot("fit.png"); res.to_scenario("fitted.yaml")                             # doctest: +SKIP

Modules: :mod:`.data` (reading observations), :mod:`.payoff` (formulas),
:mod:`.search` (methods, budgets, starts), :mod:`.stats` (fit statistics),
:mod:`.uncertainty` (covariance, profiles, identifiability warnings),
:mod:`.result` (result object, plot, scenario file).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from ..errors import CalibrationError
from .data import DataError, Observations, Series, read_csv
from .evaluate import Evaluator, ParamSpec, resolve_params
from .payoff import PAYOFFS, Payoff
from .result import CalibrationResult
from .search import METHODS, run_search
from .stats import fit_table
from .uncertainty import Uncertainty, assess

__all__ = ["CalibrationResult", "DataError", "Observations", "PAYOFFS", "METHODS", "ParamSpec", "Series",
           "Uncertainty", "calibrate", "read_csv"]

log = logging.getLogger(__name__)


def calibrate(model: Any, data: Any, params: Mapping[str, Sequence[float]], *, payoff: str = "wss",
              method: str = "least_squares", n_starts: int | None = None, seed: int | None = 0,
              time: str | None = None, time_offset: float = 0.0, mapping: Mapping[str, str] | None = None,
              weights: Mapping[str, float] | None = None, sigma: Mapping[str, float] | None = None,
              fixed: Mapping[str, Any] | None = None, initial_time: float | None = None,
              final_time: float | None = None, time_step: float | None = None, max_evals: int | None = None,
              max_time: float | None = None, level: float = 0.95, profile: bool | Sequence[str] = False,
              progress: bool = True, options: Mapping[str, Any] | None = None) -> CalibrationResult:
    """Fit *params* of *model* to observed *data*.

    Parameters
    ----------
    model
        A :class:`sdcluster.Model`, a model file path or a bundled model name.
    data
        Observations: CSV path, :class:`pandas.DataFrame`, :class:`xarray.Dataset`
        or :class:`Observations` (see :meth:`Observations.from_any` for
        ``time``, ``time_offset``, ``mapping``, ``weights``, ``sigma``).
    params
        ``{name: (low, high)}``, ``{name: (low, high, initial guess)}`` or
        ``{name: {"bounds": (low, high), "initial": x0, "prior": (plo, phi)}}``
        (extra starting points and the differential-evolution population
        are drawn from the prior range); names are constants (model or
        Python names) or stocks whose initial value is one constant.
    payoff
        ``wss`` (normalised weighted sum of squares), ``gaussian``
        (log-likelihood, noise estimated unless ``sigma`` given), ``poisson``
        or ``negbin`` (counts); formulas in :mod:`sdcluster.calibrate.payoff`.
    method
        ``least_squares`` (bounded, multi-start), ``powell`` (derivative-free,
        multi-start) or ``de`` (differential evolution, then polished).
    n_starts
        Starting points of local methods (default 4; the initial guess first,
        then a seeded Latin hypercube).
    seed
        Seed for starts and differential evolution (same seed, same result).
    fixed
        Other parameter overrides held fixed during the fit (numbers or schedules).
    initial_time, final_time, time_step
        Run settings (default: the model's). Observations must lie in
        ``[initial_time, final_time]``.
    max_evals, max_time
        Budget (parameter sets, seconds); the best point so far is returned
        when it is used up.
    level
        Confidence level of intervals.
    profile
        ``True`` (all parameters) or a list of names: compute profile-likelihood
        intervals instead of only the Jacobian ones.
    progress
        Show a progress bar (only on a terminal).
    options
        Passed to the SciPy optimiser.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    DataError
        Malformed data, unknown series, observations outside the horizon.
    ParameterError
        Unknown parameter names (closest names suggested).
    CalibrationError
        Bad bounds, unknown payoff/method, no finite payoff anywhere, or no
        more observations than estimated quantities (checked before fitting).
    """
    from ..core.model import Model, load_model

    if not isinstance(model, Model):
        model = load_model(model)
    if not (isinstance(level, float) and 0 < level < 1):
        raise CalibrationError(f"level {level!r} must be a number between 0 and 1 (e.g. 0.95)")
    for label, val in (("max_evals", max_evals), ("max_time", max_time)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, (int, float)) or not val > 0):
            raise CalibrationError(f"{label} must be a positive number, got {val!r}")
    ts = model.time_settings
    t0 = ts["initial_time"] if initial_time is None else float(initial_time)
    t1 = ts["final_time"] if final_time is None else float(final_time)
    dt = ts["time_step"] if time_step is None else float(time_step)
    if not t1 > t0 or not dt > 0:
        raise CalibrationError(f"time settings initial_time={t0:g}, final_time={t1:g}, time_step={dt:g} are invalid")
    obs = Observations.from_any(data, time=time, time_offset=time_offset, mapping=mapping, weights=weights,
                                sigma=sigma).bind(model, t0, t1)
    specs = resolve_params(model, dict(params))
    fixed_py = {model.py_name(k): v for k, v in (fixed or {}).items()}
    clash = [s.name for s in specs if s.py_name in fixed_py]
    if clash:
        raise CalibrationError(f"parameter(s) {clash} are both calibrated and fixed")
    _check_degrees_of_freedom(obs, specs, str(payoff).lower())
    pay = Payoff(payoff, obs)
    n_starts = (1 if METHODS.get(str(method).lower()) == "de" else 4) if n_starts is None else n_starts
    ev = Evaluator(model, obs, specs, pay, fixed=fixed_py, initial_time=t0, time_step=dt, max_evals=max_evals,
                   max_time=max_time, progress=progress)
    try:
        outcome = run_search(ev, method, np.array([s.x0 for s in specs]), n_starts=n_starts, seed=seed,
                             options=dict(options or {}))
    finally:
        ev.close()
    theta = outcome.x
    unc = assess(ev, theta, outcome.value, level=level, profile=profile)
    sims = [s[0] for s in ev.simulate(theta[None, :], count=False)]
    fit = fit_table(obs.columns, [s.values for s in obs.series], sims)
    run_params = {**fixed_py, **{s.py_name: float(v) for s, v in zip(specs, theta)}}
    fitted = model.run(run_params, initial_time=t0, final_time=t1, time_step=dt,
                       outputs=list(dict.fromkeys(s.variable for s in obs.series)))
    time_settings = {k: v for k, v in (("initial_time", initial_time), ("final_time", final_time),
                                        ("time_step", time_step)) if v is not None}
    return CalibrationResult(
        model=model, observations=obs, specs=specs, values={s.name: float(v) for s, v in zip(specs, theta)},
        payoff=float(outcome.value), payoff_kind=payoff, method=outcome.method, success=outcome.success,
        message=outcome.message, n_evals=ev.n_evals, n_bad=ev.n_bad, elapsed=ev.elapsed, seed=seed, fit=fit,
        residuals=_residuals(obs, sims, model), fitted=fitted, uncertainty=unc, fixed=fixed_py,
        time=time_settings, bad_examples=ev.bad_examples, budget_hit=outcome.budget_hit, starts=outcome.starts)


def _check_degrees_of_freedom(obs: Observations, specs: Sequence[ParamSpec], payoff: str) -> None:
    """Refuse a fit with no more observations than estimated quantities, before any model run.

    With *n* observations and *p* estimated quantities (the parameters plus
    the payoff's nuisance parameters: an unknown Gaussian noise level or a
    negative-binomial dispersion per series) and *n <= p*, the fit can pass
    through every observation whatever the model, and no residual is left to
    estimate the uncertainty from: any "fit" would be meaningless.
    """
    nuisance = {"gaussian": sum(s.sigma is None for s in obs.series), "negbin": len(obs.series)}.get(payoff, 0)
    p = len(specs) + nuisance
    if obs.n > p:
        return
    extra = (f" + {nuisance} {'noise level' if payoff == 'gaussian' else 'dispersion'}(s) of the {payoff} payoff"
             if nuisance else "")
    raise CalibrationError(
        f"{Path(obs.source).name}: {obs.n} observation(s) for {len(specs)} parameter(s){extra} "
        f"({', '.join(s.name for s in specs)}): a fit needs more observations than estimated quantities "
        f"(at least {p + 1}); add observations or fit fewer parameters (hold the others with fixed= / --set)")


def _residuals(obs: Observations, sims: list[np.ndarray], model: Any) -> xr.Dataset:
    times = np.unique(np.concatenate([s.times for s in obs.series]))
    data = {}
    for s, m in zip(obs.series, sims):
        arr = np.full(times.size, np.nan)
        arr[np.searchsorted(times, s.times)] = s.values - m
        info = model.info(s.variable)
        data[s.column] = xr.Variable("time", arr, {"units": info.units, "long_name": f"residual of {s.column}",
                                                   "description": f"observed {s.column} minus simulated {info.name}"})
    ds = xr.Dataset(data, coords={"time": ("time", times, {"units": model.time_units, "long_name": "Time"})})
    ds.attrs.update({"time_offset": obs.time_offset, "data_source": Path(obs.source).name, "data_sha256": obs.sha256})
    return ds
