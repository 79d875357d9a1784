"""Evaluating parameter sets: simulate, sample at observation times, score.

:class:`Evaluator` is the only place the calibration touches the model. It
runs many parameter sets in one vectorised :meth:`sdcluster.Model.run_batch`
call where it can (differential-evolution populations, finite-difference
Jacobians) and single sets with :meth:`~sdcluster.Model.run`; it counts
evaluations, enforces the evaluation and wall-clock budget, remembers the best
point seen, and turns failed or NaN runs into bad points.
"""
from __future__ import annotations

import logging
import math
import sys
import time as _time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import CalibrationError, ParameterError, SdclusterError, suggest
from .data import Observations
from .payoff import Payoff

log = logging.getLogger(__name__)


class BudgetExhausted(Exception):
    """Raised inside an objective when the evaluation or time budget is used up."""


@dataclass
class ParamSpec:
    """One calibrated parameter.

    Attributes
    ----------
    name : str
        Name as the user gave it (a parameter, or a stock whose initial value
        is a single constant).
    py_name : str
        Python name of the constant that is set.
    lo, hi : float
        Search bounds.
    x0 : float
        Initial guess (inside the bounds).
    units : str
    prior : tuple of float or None
        Range ``(low, high)`` inside the bounds from which extra starting
        points (and the differential-evolution population) are drawn;
        ``None``: the bounds.
    """

    name: str
    py_name: str
    lo: float
    hi: float
    x0: float
    units: str = ""
    prior: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        """The model's own name of the constant that is set."""
        return self.name


def resolve_params(model: Any, params: dict[str, Any]) -> list[ParamSpec]:
    """Validate ``{name: (lo, hi[, x0])}`` against *model*; return the specs.

    A stock's name stands for the constant that sets its initial value
    (``firms`` -> ``initial firms``) when that initial value is exactly one
    model constant.

    Raises
    ------
    ParameterError
        Unknown name (closest names suggested), not a constant, or a stock
        whose initial value is not a single constant.
    CalibrationError
        Bounds not numbers, lower >= upper, outside the declared range, or an
        initial guess outside the bounds.
    """
    if not params:
        raise CalibrationError("no parameters to calibrate; give {name: (low, high)} for at least one")
    specs: list[ParamSpec] = []
    valid = [v.name for v in model.parameters] + [v.name for v in model.stocks]
    for name, spec in params.items():
        try:
            py = model.py_name(str(name))
        except ParameterError:
            raise ParameterError(f"{model.path.name}: unknown parameter {name!r}.{suggest(str(name), valid)}") \
                from None
        info = model.info(py)
        if info in model.stocks:
            py = _initial_constant(model, info)
            info = model.info(py)
        elif info not in model.parameters:
            raise ParameterError(f"{model.path.name}: {info.name!r} is a {info.kind.lower() or 'variable'}, "
                                 "not a constant; only constants (and stocks' initial values) can be calibrated")
        prior = None
        if isinstance(spec, Mapping):
            spec, prior = _from_mapping(name, spec)
        lo, hi, x0 = _bounds(name, spec, info)
        if prior is not None and not lo <= prior[0] < prior[1] <= hi:
            raise CalibrationError(f"parameter {name!r}: prior range [{prior[0]:g}, {prior[1]:g}] must be an "
                                   f"increasing range inside the bounds [{lo:g}, {hi:g}]")
        if any(s.py_name == py for s in specs):
            raise CalibrationError(f"parameter {info.name!r} is given twice")
        specs.append(ParamSpec(str(name), py, lo, hi, x0, info.units, prior))
    return specs


def _initial_constant(model: Any, stock: Any) -> str:
    deps = getattr(model.pysd, "_dependencies", {})
    inner = [k for k in deps.get(stock.py_name, {}) if k.startswith("_")]
    initial = deps.get(inner[0], {}).get("initial", {}) if len(inner) == 1 else {}
    consts = [k for k in initial if k in {p.py_name for p in model.parameters}]
    if len(initial) == 1 and len(consts) == 1:
        log.info("calibrating the initial value of stock %r through constant %r", stock.name,
                 model.info(consts[0]).name)
        return consts[0]
    raise ParameterError(f"{model.path.name}: the initial value of stock {stock.name!r} is not a single "
                         f"constant (it depends on {sorted(initial) or 'nothing'}); calibrate that constant instead")


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _from_mapping(name: str, spec: Mapping[str, Any]) -> tuple[list[Any], tuple[float, float] | None]:
    """``{"bounds": (lo, hi), "initial": x0, "prior": (plo, phi)}`` -> bounds list and prior."""
    unknown = sorted(set(spec) - {"bounds", "initial", "prior"})
    if unknown or "bounds" not in spec:
        raise CalibrationError(f"parameter {name!r}: a dict spec needs 'bounds' and may have 'initial' and "
                               f"'prior'; got keys {sorted(spec)}")
    try:
        parts = list(spec["bounds"])
    except TypeError:
        parts = [spec["bounds"]]
    if spec.get("initial") is not None:
        parts.append(spec["initial"])
    prior = spec.get("prior")
    if prior is not None:
        try:
            plo, phi = (float(v) for v in prior)
        except (TypeError, ValueError):
            raise CalibrationError(f"parameter {name!r}: prior {prior!r} must be (low, high) numbers") from None
        if not (math.isfinite(plo) and math.isfinite(phi)):
            raise CalibrationError(f"parameter {name!r}: prior {prior!r} must be finite")
        prior = (plo, phi)
    return parts, prior


def _bounds(name: str, spec: Any, info: Any) -> tuple[float, float, float]:
    try:
        parts = list(spec)
    except TypeError:
        parts = []
    if len(parts) not in (2, 3) or any(_num(p) is None for p in parts):
        raise CalibrationError(f"parameter {name!r}: bounds {spec!r} must be (low, high) or (low, high, initial) "
                               "finite numbers")
    lo, hi = float(parts[0]), float(parts[1])
    if lo >= hi:
        raise CalibrationError(f"parameter {name!r}: lower bound {lo:g} must be below upper bound {hi:g}")
    dlo, dhi = info.limits
    if (not math.isnan(dlo) and lo < dlo) or (not math.isnan(dhi) and hi > dhi):
        raise CalibrationError(f"parameter {name!r}: bounds [{lo:g}, {hi:g}] go outside the declared range "
                               f"{info.range_text()} of {info.name!r} ({info.units or 'dimensionless'})")
    if len(parts) == 3:
        x0 = float(parts[2])
        if not lo <= x0 <= hi:
            raise CalibrationError(f"parameter {name!r}: initial guess {x0:g} is outside the bounds [{lo:g}, {hi:g}]")
    else:
        default = info.default
        x0 = default if default is not None and lo <= default <= hi else 0.5 * (lo + hi)
    return lo, hi, x0


class Evaluator:
    """Simulate parameter sets and score them (see module docstring).

    Parameters
    ----------
    model
        A loaded :class:`sdcluster.Model`.
    obs
        Observations bound to *model*.
    specs
        Calibrated parameters.
    payoff
        The payoff.
    fixed
        Other parameter overrides applied to every run.
    initial_time, time_step
        Run settings; runs stop at the last observation.
    max_evals, max_time
        Budget: number of parameter sets and seconds (``None``: unlimited).
    progress
        Show a tqdm progress bar (only when stderr is a terminal).
    """

    def __init__(self, model: Any, obs: Observations, specs: list[ParamSpec], payoff: Payoff, *,
                 fixed: dict[str, Any] | None = None, initial_time: float, time_step: float,
                 max_evals: int | None = None, max_time: float | None = None, progress: bool = True):
        self.model = model
        self.obs = obs
        self.specs = specs
        self.payoff = payoff
        self.fixed = dict(fixed or {})
        self.lo = np.array([s.lo for s in specs])
        self.hi = np.array([s.hi for s in specs])
        self.initial_time = initial_time
        self.time_step = time_step
        steps = math.ceil((obs.last_time() - initial_time) / time_step - 1e-9)
        self.final_time = initial_time + max(steps, 1) * time_step
        self.outputs = list(dict.fromkeys(s.variable for s in obs.series))
        grid = initial_time + time_step * np.arange(max(steps, 1) + 1)
        self._interp = []
        for s in obs.series:
            pos = np.clip((s.times - initial_time) / time_step, 0, len(grid) - 1)
            i0 = np.minimum(np.floor(pos + 1e-9).astype(int), len(grid) - 2)
            frac = np.clip(pos - i0, 0.0, 1.0)
            self._interp.append((s.variable, i0, frac))
        self.max_evals = max_evals
        self.max_time = max_time
        self.n_evals = 0
        self.n_bad = 0
        self.bad_examples: list[dict[str, float]] = []
        self.best_x: np.ndarray | None = None
        self.best_value = math.inf
        self.started = _time.perf_counter()
        self.vectorised = bool(getattr(model, "vectorisable", False)) and hasattr(model, "run_batch")
        self._bar = _bar(progress, max_evals)

    # -- budget ---------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the evaluator was created."""
        return _time.perf_counter() - self.started

    def check_budget(self) -> None:
        """Raise :class:`BudgetExhausted` when the budget is used up."""
        if self.max_evals is not None and self.n_evals >= self.max_evals:
            raise BudgetExhausted(f"evaluation budget of {self.max_evals} reached")
        if self.max_time is not None and self.elapsed >= self.max_time:
            raise BudgetExhausted(f"time budget of {self.max_time:g} s reached")

    def check_budget_ok(self) -> bool:
        """True while budget remains."""
        try:
            self.check_budget()
        except BudgetExhausted:
            return False
        return True

    def close(self) -> None:
        """Close the progress bar."""
        self._bar.close()

    # -- conversions ------------------------------------------------------------
    def to_theta(self, u: np.ndarray) -> np.ndarray:
        """Unit-cube coordinates -> parameter values."""
        return self.lo + np.clip(u, 0.0, 1.0) * (self.hi - self.lo)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        """Parameter values -> unit-cube coordinates."""
        return (np.asarray(theta, dtype=float) - self.lo) / (self.hi - self.lo)

    # -- simulation -------------------------------------------------------------------
    def simulate(self, thetas: np.ndarray, count: bool = True) -> list[np.ndarray]:
        """Simulated values at the observation times: one ``(N, n_s)`` array per series.

        Rows of failed or non-finite runs are NaN (bad points). Counts *N*
        evaluations and checks the budget first when *count* is true.
        """
        thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
        if count:
            self.check_budget()
        n = thetas.shape[0]
        traj = self._trajectories(thetas)
        out = []
        for var, i0, frac in self._interp:
            a = traj[var]
            out.append(a[:, i0] * (1 - frac) + a[:, np.minimum(i0 + 1, a.shape[1] - 1)] * frac)
        bad = np.zeros(n, dtype=bool)
        for a in out:
            bad |= ~np.all(np.isfinite(a), axis=1)
        if count:
            self.n_evals += n
            self._bar.update(n)
            if bad.any():
                self._record_bad(thetas[bad])
        return out

    def _record_bad(self, thetas: np.ndarray) -> None:
        if self.n_bad == 0:
            log.warning("a model run produced NaN/inf (or failed) at %s; treated as a bad point",
                        self._describe(thetas[0]))
        self.n_bad += len(thetas)
        for t in thetas[: max(0, 5 - len(self.bad_examples))]:
            self.bad_examples.append({s.name: float(v) for s, v in zip(self.specs, t)})

    def _describe(self, theta: np.ndarray) -> str:
        return ", ".join(f"{s.name}={v:.6g}" for s, v in zip(self.specs, theta))

    def _trajectories(self, thetas: np.ndarray) -> dict[str, np.ndarray]:
        n = thetas.shape[0]
        kwargs = dict(initial_time=self.initial_time, final_time=self.final_time, time_step=self.time_step,
                      saveper=self.time_step, outputs=self.outputs)
        if n > 1 and self.vectorised:
            params = dict(self.fixed)
            params.update({s.py_name: thetas[:, j].copy() for j, s in enumerate(self.specs)})
            try:
                if hasattr(self.model, "run_arrays"):  # sdcluster Model: the same numbers without a Dataset
                    return {v: np.asarray(a, dtype=float)
                            for v, a in self.model.run_arrays(params, batch=True, **kwargs)[1].items()}
                ds = self.model.run_batch(params, **kwargs)
                return {v: np.asarray(ds[v].values, dtype=float) for v in self.outputs}
            except (SdclusterError, ArithmeticError, ValueError) as exc:
                log.debug("batch run failed (%s); evaluating one by one", exc)
        rows = [self._one(theta, kwargs) for theta in thetas]
        return {v: np.stack([r[v] for r in rows]) for v in self.outputs}

    def _one(self, theta: np.ndarray, kwargs: dict[str, Any]) -> dict[str, np.ndarray]:
        params = dict(self.fixed)
        params.update({s.py_name: float(v) for s, v in zip(self.specs, theta)})
        nt = int(round((self.final_time - self.initial_time) / self.time_step)) + 1
        try:
            if hasattr(self.model, "run_arrays"):
                return {v: np.asarray(a, dtype=float) for v, a in self.model.run_arrays(params, **kwargs)[1].items()}
            ds = self.model.run(params, **kwargs)
            return {v: np.asarray(ds[v].values, dtype=float) for v in self.outputs}
        except (SdclusterError, ArithmeticError, ValueError) as exc:
            log.debug("run failed at %s: %s", self._describe(theta), exc)
            return {v: np.full(nt, np.nan) for v in self.outputs}

    # -- scoring ---------------------------------------------------------------------
    def value(self, thetas: np.ndarray) -> np.ndarray:
        """Payoff of each parameter set (``inf`` for bad points); tracks the best."""
        thetas = np.atleast_2d(thetas)
        sims = self.simulate(thetas)
        vals = self.payoff.value(sims)
        self.observe(thetas, vals)
        return vals

    def observe(self, thetas: np.ndarray, vals: np.ndarray) -> None:
        """Remember the best of *thetas* scored *vals*."""
        i = int(np.argmin(vals))
        if vals[i] < self.best_value:
            self.best_value = float(vals[i])
            self.best_x = np.array(thetas[i], dtype=float)
            self._bar.set_postfix_str(f"best payoff {self.best_value:.6g}", refresh=False)


class _NullBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, *a: Any, **k: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(progress: bool, total: int | None) -> Any:
    if not progress or not sys.stderr.isatty():
        return _NullBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="eval", desc="calibrating", leave=False)
