"""A policy space bound to a model: lever vectors, repair, and vectorised evaluation.

:func:`bind` checks a :class:`~sdcluster.design.space.PolicySpace` against its
model before any run (unknown lever parameters, unknown objective variables,
bounds outside declared ranges, levers also sampled or scheduled) and returns a
:class:`Problem`. A candidate is a vector of lever values; a population is a
matrix ``(P, d)``. :meth:`Problem.evaluate` runs the whole population over the
whole ensemble (``P x N`` runs, the same *N* members for every candidate:
common random numbers) in vectorised passes of :meth:`Model.run_batch
<sdcluster.core.model.Model.run_batch>` and returns every KPI run by run.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..analysis.compare import evaluate_kpi
from ..uncertainty.ensemble import DEFAULT_CHUNK_SIZE, _overlay, _slice
from ..errors import ParameterError, ScenarioError, SdclusterError, suggest
from ..uncertainty.sampling import Samples, load_uncertain
from .space import PolicySpace, Setting, _roles, objective_variables, parameters_of

log = logging.getLogger(__name__)

__all__ = ["Problem", "bind"]

#: Relative slack with which a planned cost counts as within the budget.
BUDGET_TOLERANCE = 1e-9


@dataclass
class Problem:
    """A policy space bound to a loaded model and an ensemble (build with :func:`bind`)."""

    space: PolicySpace
    model: Any
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    names: list[str]
    base: dict[str, Any]
    samples: Samples | None
    horizon: tuple[float, float]
    time: dict[str, float]
    outputs: list[str]
    defaults: dict[str, float]
    chunk_size: int = DEFAULT_CHUNK_SIZE
    evaluations: int = 0
    kpi_units: dict[str, str] = field(default_factory=dict)
    _slots: list[tuple[str, str, Setting, int | None]] = field(default_factory=list)

    @property
    def members(self) -> int:
        """Ensemble members every candidate is run over (1 without uncertainty)."""
        return 1 if self.samples is None else self.samples.n

    # -- lever vectors -----------------------------------------------------
    def _values(self, X: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        """``{(instrument, role): values (P,)}`` for every role, fixed or searched."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = {}
        for inst, role, setting, col in self._slots:
            out[(inst, role)] = X[:, col] if col is not None else np.full(X.shape[0], setting.low)
        return out

    def _schedule(self, X: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``{instrument: (annual amount, start, active years)}`` for each candidate row."""
        v = self._values(X)
        t0, t1 = self.horizon
        out = {}
        for inst in self.space.instruments:
            n = np.atleast_2d(X).shape[0]
            if inst.start is not None:
                start = v[(inst.name, "start")]
            else:
                start = np.full(n, self.defaults.get(f"{inst.name}.start", t0))
            if inst.duration is not None:
                end = start + v[(inst.name, "duration")]
            else:
                end = np.full(n, self.defaults.get(f"{inst.name}.end", t1))
            years = self._active_years(start, end)
            if inst.share is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    amount = np.where(years > 0, v[(inst.name, "share")] * self.space.budget
                                      / np.where(years > 0, years, 1.0), 0.0)
            else:
                amount = v[(inst.name, "amount")]
            out[inst.name] = (amount, start, years)
        return out

    def _active_years(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Time during which a programme on ``[start, end)`` pays, counted in Euler steps of the run:
        the steps ``t_k = t0 + k*dt < t1`` with ``start <= t_k < end``, times ``dt``."""
        t0, t1 = self.horizon
        dt = float(self.time.get("time_step", self.model.time_settings["time_step"]))
        steps = round((t1 - t0) / dt)

        def first_step_at(t: np.ndarray) -> np.ndarray:
            return np.clip(np.ceil((np.asarray(t, dtype=float) - t0) / dt - 1e-9), 0, steps)

        return np.clip(first_step_at(end) - first_step_at(start), 0, None) * dt

    def planned_cost(self, X: np.ndarray) -> np.ndarray:
        """Planned public cost of each candidate: sum over instruments of amount x active years
        (the time steps on which the programme pays, see :meth:`_active_years`)."""
        return sum(a * y for a, _, y in self._schedule(X).values())

    def feasible(self, X: np.ndarray) -> np.ndarray:
        """True for rows within the bounds, on whole numbers where required, and within the budget."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        ok = np.all((X >= self.lower - 1e-12) & (X <= self.upper + 1e-12), axis=1)
        ok &= np.all(~self.integer | (X == np.round(X)), axis=1)
        return ok & (self.planned_cost(X) <= self.space.budget * (1 + BUDGET_TOLERANCE))

    def repair(self, X: np.ndarray) -> np.ndarray:
        """Clip to bounds, round integer levers, then scale amounts (or shares) down to the budget.

        A row whose fixed or lower-bounded spending alone exceeds the budget
        stays infeasible (the search's constraint handling discards it).
        """
        X = np.clip(np.atleast_2d(np.asarray(X, dtype=float)).copy(), self.lower, self.upper)
        X[:, self.integer] = np.round(X[:, self.integer])
        money = [col for _, role, _, col in self._slots if col is not None and role in ("amount", "share")]
        if not money:
            return X
        for _ in range(3):  # rounding after scaling can leave a little over; repeat
            cost = self.planned_cost(X)
            over = cost > self.space.budget
            if not over.any():
                break
            factor = np.where(over, self.space.budget / np.where(cost > 0, cost, 1.0), 1.0)
            X[:, money] = np.maximum(X[:, money] * factor[:, None] * (1 - 1e-12), self.lower[money])
            ints = [c for c in money if self.integer[c]]
            X[:, ints] = np.floor(X[:, ints])
        return X

    def parameters(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Model parameter values ``{python name: values (P,)}`` of each candidate row."""
        v = self._values(X)
        sched = self._schedule(X)
        out = {}
        for inst in self.space.instruments:
            amount, start, _ = sched[inst.name]
            out[self._py(inst.amount.parameter)] = amount
            if inst.start is not None:
                out[self._py(inst.start.parameter)] = start
            if inst.duration is not None:
                d = v[(inst.name, "duration")]
                if inst.duration.parameter is not None:
                    out[self._py(inst.duration.parameter)] = d
                else:
                    out[self._py(inst.end_parameter)] = start + d
        return out

    def _py(self, name: str) -> str:
        return self.model.py_name(name)

    @property
    def cost_py(self) -> str | None:
        """Python name of the space's cost variable, or None when the model has none."""
        try:
            return self.model.py_name(self.space.cost_variable)
        except SdclusterError:
            return None

    # -- running -------------------------------------------------------------
    def run_params(self, params: Mapping[str, Any], n: int, progress: Callable[[int], None] | None = None,
                   stacked: bool = False) -> dict[str, np.ndarray]:
        """Run *n* candidates (parameter overrides of length *n*, or scalars / callables) over the ensemble.

        With *stacked*, :attr:`base` already holds *n* scenarios' runs side by side,
        samples applied (see :meth:`evaluate_scenarios`).

        Returns
        -------
        dict
            ``{KPI label: values of shape (n, members)}``, and under ``"__cost__"`` the
            cost variable at the end of each run (NaN when the model has none).
        """
        m = self.members
        total = n * m
        full: dict[str, Any] = dict(self.base)
        for py, arr in params.items():
            a = np.asarray(arr, dtype=float) if not callable(arr) else arr
            full[py] = np.repeat(a, m) if isinstance(a, np.ndarray) and a.ndim else a
        if self.samples is not None and not stacked:  # a stacked base has its samples applied
            tiled = {self.model.py_name(k): np.tile(v, n) for k, v in self.samples.items()}
            full = _overlay(full, tiled)
        batched = any(isinstance(v, np.ndarray) and v.ndim for v in full.values()) or any(
            getattr(v, "batch_size", None) for v in full.values())
        out = {o.kpi.label: np.empty(total) for o in self.space.objectives}
        cost = np.empty(total)
        for start in range(0, total, self.chunk_size):
            stop = min(total, start + self.chunk_size)
            if batched:
                ds = self.model.run_batch(_chunk(full, start, stop), outputs=self.outputs, check_limits=False,
                                          **self.time)
            else:  # one scenario without uncertainty: a single run
                ds = self.model.run(full, outputs=self.outputs, check_limits=False, **self.time).expand_dims(run=[0])
            flat = ds.rename({"run": "scenario"})
            for o in self.space.objectives:
                da = evaluate_kpi(flat, o.kpi)
                out[o.kpi.label][start:stop] = np.asarray(da.values, dtype=float)
                self.kpi_units[o.kpi.label] = str(da.attrs.get("units", ""))
            if self.cost_py in ds:
                cost[start:stop] = np.asarray(ds[self.cost_py].isel(time=-1).values, dtype=float)
            else:
                cost[start:stop] = np.nan
            if progress is not None:
                progress(stop - start)
        self.evaluations += total
        res = {k: v.reshape(n, m) for k, v in out.items()}
        res["__cost__"] = cost.reshape(n, m)
        return res

    def evaluate(self, X: np.ndarray, progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
        """KPI values ``(P, members)`` of each candidate row of *X* (repaired first)."""
        X = self.repair(X)
        return self.run_params(self.parameters(X), X.shape[0], progress)

    def evaluate_scenarios(self, scenarios: list[Any]) -> list[dict[str, np.ndarray]]:
        """KPI values ``(1, members)`` of each hand-written scenario, all in one vectorised pass.

        Each scenario's parameters and policies are applied, the ensemble's samples
        put on top (as :func:`sdcluster.uncertainty.ensemble.run_ensemble` does), and the
        scenarios stacked along the run axis: scenario *s* owns runs
        ``s*N .. (s+1)*N - 1``.
        """
        m = self.members
        fulls = []
        for sc in scenarios:
            full = sc.apply(self.model)
            if self.samples is not None:
                full = _overlay(full, {self.model.py_name(k): np.asarray(v) for k, v in self.samples.items()})
            fulls.append(full)
        keys = sorted({k for f in fulls for k in f})
        stacked: dict[str, Any] = {}
        for key in keys:
            default = self.model.info(key).default
            pieces = [f.get(key, default) for f in fulls]
            if any(callable(x) for x in pieces):
                stacked[key] = _Stacked(tuple(pieces), m, self.model.info(key).name)
            else:
                stacked[key] = np.concatenate([np.broadcast_to(np.asarray(x, dtype=float), (m,)) for x in pieces])
        saved = self.base
        try:
            self.base = stacked
            res = self.run_params({}, len(scenarios), stacked=True)
        finally:
            self.base = saved
        return [{k: v[i][None, :] for k, v in res.items()} for i in range(len(scenarios))]


def _chunk(params: Mapping[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Runs ``start..stop-1`` of batched parameter values."""
    out = _slice(params, start, stop)
    return {k: (v.subset(start, stop) if isinstance(v, _Stacked) else v) for k, v in out.items()}


@dataclass(frozen=True)
class _Stacked:
    """Several scenarios' values of one parameter side by side: block *s* holds scenario *s*'s *m* runs.

    Each piece is a number, an array of *m* values, or a schedule callable (with or
    without a sampled base); the result at time *t* is an array of ``len(pieces) * m``.
    """

    pieces: tuple
    m: int
    parameter: str = ""

    @property
    def batch_size(self) -> int:
        return len(self.pieces) * self.m

    def __call__(self, t: Any) -> np.ndarray:
        return np.concatenate([np.broadcast_to(np.asarray(p(t) if callable(p) else p, dtype=float), (self.m,))
                               for p in self.pieces])

    def run_value(self, i: int) -> Any:
        p = self.pieces[i // self.m]
        if hasattr(p, "run_value"):
            return p.run_value(i % self.m)
        return p[i % self.m] if isinstance(p, np.ndarray) and p.ndim else p

    def subset(self, start: int, stop: int) -> "_Stacked":
        if start == 0 and stop == self.batch_size:
            return self
        return _SubStacked(self, start, stop)

    def to_dict(self) -> dict[str, Any]:
        return {"stacked scenarios": len(self.pieces), "runs each": self.m}


@dataclass(frozen=True)
class _SubStacked:
    """Runs ``start..stop-1`` of a :class:`_Stacked` value (one vectorised chunk)."""

    whole: _Stacked
    start: int
    stop: int

    @property
    def batch_size(self) -> int:
        return self.stop - self.start

    def __call__(self, t: Any) -> np.ndarray:
        return self.whole(t)[self.start:self.stop]

    def run_value(self, i: int) -> Any:
        return self.whole.run_value(self.start + i)

    def to_dict(self) -> dict[str, Any]:
        return {**self.whole.to_dict(), "runs": [self.start, self.stop]}


def bind(space: PolicySpace, model: Any = None, *, runs: int | None = None, seed: int | None = None,
         chunk_size: int | None = None) -> Problem:
    """Check *space* against its model and build the :class:`Problem` (no model run happens here).

    Parameters
    ----------
    space
        A parsed policy space.
    model
        A loaded model (default: the reference scenario's model).
    runs, seed
        Ensemble size and sampling seed (default: the space's ``uncertainty``
        settings, then the uncertainty file's).
    chunk_size
        Runs per vectorised pass.

    Raises
    ------
    ParameterError
        A lever names an unknown or non-constant parameter, its bounds leave the
        parameter's declared range, it is also sampled or scheduled; an
        objective names an unknown variable (each message names the file and field).
    """
    from ..core.model import load_model

    label = space.label
    ref = space.reference
    if model is None:
        if ref.model is None:
            raise ScenarioError(f"{label}: reference: the scenario names no model")
        model = load_model(ref.model)
    problems: list[str] = []
    params = [p.name for p in model.parameters]
    settable = {p.py_name for p in model.parameters}
    seen: dict[str, str] = {}
    for where, name in parameters_of(space):
        try:
            py = model.py_name(name)
        except SdclusterError:
            py = None
        if py not in settable:
            kind = "" if py is None else f" ({model.info(py).kind.lower()}, not a constant)"
            problems.append(f"{label}: {where}: {model.path.name} has no constant parameter {name!r}{kind}."
                            f"{suggest(name, params)}")
            continue
        if py in seen:
            problems.append(f"{label}: {where}: parameter {name!r} is already set by {seen[py]}")
        seen[py] = where
    variables = [v.name for v in model.variables] + [v.py_name for v in model.variables]
    for where, var in objective_variables(space) + [("cost_variable", space.cost_variable)]:
        try:
            model.py_name(var)
        except SdclusterError:
            if where == "cost_variable" and space.cost_variable == "cumulative_public_cost":
                continue  # the default: optional
            problems.append(f"{label}: {where}: {model.path.name} has no variable {var!r}.{suggest(var, variables)}"
                            " (KPIs name variables by their Python names)")
            continue
        if model.py_name(var) != var:
            problems.append(f"{label}: {where}: write the variable by its Python name "
                            f"{model.py_name(var)!r} in a KPI")
    if problems:
        raise ParameterError("\n".join(problems))
    try:
        base = ref.apply(model)
    except SdclusterError as exc:
        raise ScenarioError(f"{label}: reference: {exc}") from None
    for py, where in seen.items():
        if callable(base.get(py)):
            problems.append(f"{label}: {where}: the reference scenario puts a policy schedule on "
                            f"{model.info(py).name!r}; a lever replaces the constant, so remove that policy "
                            "from the reference")
    samples = None
    if space.uncertainty is not None:
        unc = load_uncertain(space.uncertainty)
        unc.validate(model)
        n = runs or space.runs or unc.runs or 100
        s = seed if seed is not None else (space.uncertainty_seed if space.uncertainty_seed is not None
                                           else unc.seed)
        samples = unc.sample(n, seed=s)
        for name, values in samples.items():  # as run_ensemble does: refuse values outside declared ranges
            info = model.info(name)
            outside = [float(v) for v in values if not info.in_limits(float(v))]
            if outside:
                problems.append(f"{label}: uncertainty: {space.uncertainty}: parameters.{name}: {len(outside)} of "
                                f"{len(values)} sampled values lie outside its declared range {info.range_text()} "
                                f"({info.units or 'dimensionless'}), e.g. {outside[0]:g}; narrow or truncate the "
                                "distribution")
        for name in samples:
            py = model.py_name(name)
            if py in seen:
                problems.append(f"{label}: {seen[py]}: parameter {model.info(py).name!r} is also uncertain in "
                                f"{space.uncertainty}; a lever must be a decision, not an uncertainty")
    lower, upper, integer, names, slots = [], [], [], [], []
    defaults: dict[str, float] = {}
    t0 = float(ref.time.get("initial_time", model.time_settings["initial_time"]))
    t1 = float(ref.time.get("final_time", model.time_settings["final_time"]))
    for inst in space.instruments:
        for role, setting in _roles(inst):
            col = None
            if not setting.fixed:
                col = len(lower)
                lower.append(setting.low)
                upper.append(setting.high)
                integer.append(setting.integer)
                names.append(f"{inst.name}.{role}")
            slots.append((inst.name, role, setting, col))
            where = f"instruments.{inst.name}.{role}"
            target = setting.parameter if role != "share" else None
            if role == "amount" and inst.share is not None:
                target = None
            if target is not None and not math.isnan(setting.low):
                info = model.info(target)
                for bound in (setting.low, setting.high):
                    if not info.in_limits(bound):
                        problems.append(f"{label}: {where}: bound {bound:g} lies outside {info.name!r}'s declared "
                                        f"range {info.range_text()} ({info.units or 'dimensionless'})")
        if inst.start is None:
            defaults[f"{inst.name}.start"] = t0
        if inst.duration is None and inst.end_parameter is None:
            defaults[f"{inst.name}.end"] = t1
        if inst.end_parameter is not None and inst.start is not None and inst.duration is not None:
            info = model.info(inst.end_parameter)
            hi = inst.start.high + inst.duration.high
            if not info.in_limits(hi) or not info.in_limits(inst.start.low + inst.duration.low):
                problems.append(f"{label}: instruments.{inst.name}.end: start + duration reaches {hi:g}, outside "
                                f"{info.name!r}'s declared range {info.range_text()}")
    if problems:
        raise ParameterError("\n".join(problems))
    if not names:
        raise ParameterError(f"{label}: instruments: every lever is fixed; give at least one a range (low, high)")
    outputs = sorted({model.py_name(o.kpi.variable) for o in space.objectives})
    try:
        outputs.append(model.py_name(space.cost_variable))
    except SdclusterError:
        pass
    for i, sc in enumerate(space.compare_with):
        if sc.run_kwargs() != ref.run_kwargs():
            raise ScenarioError(f"{label}: compare_with[{i}]: scenario {sc.name!r} has time settings "
                                f"{sc.run_kwargs()} unlike the reference's {ref.run_kwargs()}")
    return Problem(space=space, model=model, lower=np.array(lower, float), upper=np.array(upper, float),
                   integer=np.array(integer, bool), names=names, base=base, samples=samples, horizon=(t0, t1),
                   time=ref.run_kwargs(), outputs=sorted(set(outputs)), defaults=defaults,
                   chunk_size=chunk_size or int(space.search.get("chunk_size", DEFAULT_CHUNK_SIZE)), _slots=slots)
