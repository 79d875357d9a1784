"""Link scores of the Loops that Matter method, evaluated on a recorded run.

For a link ``x -> z`` where ``z = f(x, y, ...)`` the link score at time ``t``
is (Schoenberg, Davidsen & Eberlein 2020, eq. 1)::

    LS(x -> z)_t = |Δ_x z / Δz| * sign(Δ_x z / Δx)

with ``Δz = z_t - z_{t-1}``, ``Δx = x_t - x_{t-1}`` and ``Δ_x z = f(x_t,
y_{t-1}, ...) - z_{t-1}``, the change ``z`` would have made had only ``x``
changed; it is 0 where ``Δz`` or ``Δx`` is 0 and at the initial time. The
partial ``f(x_t, y_{t-1}, ...)`` is computed by calling the model's own
equation (PySD's function for ``z``) with its inputs replaced by recorded
series — all time steps at once with NumPy arrays where the equation allows,
one step at a time otherwise.

A flow ``f`` into stock ``S`` scores ``|Δ_f N / ΔN| * sign(Δ_f N / Δf)``
where ``N`` is the stock's net flow (its INTEG rate expression): for an
ordinary inflow or outflow this is ``±|Δf / ΔN|``, the flow's share of the
change in the stock's net flow — the original 2020 flow-to-stock score, which
is what Simlin computes (see docs/loops.md for the 2023 variant).

SMOOTH and DELAY functions (any order) are scored like a Simlin/Stella
module: the link from their input is the product of the link scores along
their internal chain of stocks (the composite score of Schoenberg &
Eberlein 2020, section 6); the internal states are rebuilt from the recorded
input and output with PySD's own arithmetic and checked against PySD's result.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Mapping

import numpy as np

from .graph import CausalGraph, LoopAnalysisError

log = logging.getLogger(__name__)


def link_score(z: np.ndarray, partial: np.ndarray, x: np.ndarray) -> np.ndarray:
    """LTM link score series from ``z``, its partial ``f(x_t, others_{t-1})`` (index >= 1) and ``x``.

    All arrays have the run's length; ``partial[0]`` is ignored. The first
    value is 0 (no previous step).
    """
    out = np.zeros(len(z))
    dz = z[1:] - z[:-1]
    dx = x[1:] - x[:-1]
    dzx = partial[1:] - z[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = np.abs(dzx / dz) * np.sign(dzx / dx)
    out[1:] = np.where((dz == 0) | (dx == 0) | ~np.isfinite(ls), 0.0, ls)
    return out


class _FixedTime:
    """Stands in for PySD's Time object while an equation is re-evaluated at given times."""

    def __init__(self, real: Any, value: Any):
        self._real = real
        self._value = value

    def __call__(self) -> Any:
        return self._value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class Evaluator:
    """Re-evaluates a model's equations with their inputs replaced by recorded series.

    Parameters
    ----------
    pysd_model
        The loaded PySD model (after the run whose series are given).
    graph
        Its causal graph.
    series
        ``{py_name: array}`` recorded at every time step (inputs of every
        equation to evaluate, constants included), plus ``"time"``.
    """

    def __init__(self, pysd_model: Any, graph: CausalGraph, series: Mapping[str, np.ndarray]):
        self.module = pysd_model.components._components
        self.deps = self.module.component.dependencies
        self.graph = graph
        self.series = series
        self.n = len(series["time"])

    # -- the equation of a node and the names it reads ---------------------
    def _equation(self, target: str) -> tuple[Callable[[], Any], list[str]]:
        if target in self.graph.stocks:
            integ = getattr(self.module, f"_integ_{target}")
            reads = self.deps[f"_integ_{target}"]["step"]
            return integ.ddt, self._substitutable(reads)
        func = inspect.unwrap(getattr(self.module, target))
        return func, self._substitutable(self.deps.get(target, {}))

    def _substitutable(self, reads: Mapping[str, Any]) -> list[str]:
        names = []
        for k in reads:
            if k.startswith("__") or k == "time":
                continue
            obj = getattr(self.module, k, None)
            if getattr(obj, "args", None):  # a lookup called with an argument: a fixed function
                continue
            if k.startswith("_") and k not in self.graph.inputs:
                continue  # INITIAL values, data: constant during the run
            names.append(k)
        return names

    def net_flow(self, stock: str) -> np.ndarray:
        """The stock's net flow (its INTEG rate) at every time step."""
        func, reads = self._equation(stock)
        return self.evaluate(func, {k: self.series[k] for k in reads})

    def partial(self, target: str, source: str) -> np.ndarray:
        """``f(source_t, others_{t-1})`` for t >= 1 (index 0 is NaN)."""
        func, reads = self._equation(target)
        if source not in reads:
            raise LoopAnalysisError(f"{source!r} is not an input of {target!r}'s equation")
        return self.evaluate(func, {k: self.series[k] for k in reads}, current=source)

    def evaluate(self, func: Callable[[], Any], values: Mapping[str, np.ndarray],
                 current: str | None = None) -> np.ndarray:
        """*func* with its inputs replaced by *values* at every step; with *current*, the
        ceteris-paribus partial: *current* at t, every other input (and time) at t-1."""
        if current is None:
            return self._evaluate(func, values, self.series["time"], self.n)
        shifted = {k: (v[1:] if k == current else v[:-1]) for k, v in values.items()}
        part = self._evaluate(func, shifted, self.series["time"][:-1], self.n - 1)
        return np.concatenate([[np.nan], part])

    def _evaluate(self, func: Callable[[], Any], values: Mapping[str, np.ndarray], times: np.ndarray,
                  n: int) -> np.ndarray:
        module = vars(self.module)
        data = module.get("__data")
        saved = {k: module[k] for k in list(values) + ["time"] if k in module}
        real_time = data["time"] if data else None
        try:
            try:
                for k, v in values.items():
                    module[k] = (lambda a=v: a)
                module["time"] = lambda a=times: a
                if data is not None:
                    data["time"] = _FixedTime(real_time, times)
                with np.errstate(all="ignore"):
                    out = np.asarray(func(), dtype=float)
                if out.shape in ((), (1,)):
                    out = np.full(n, float(out))
                if out.shape == (n,):
                    return out
            except (TypeError, ValueError, IndexError, AttributeError, ArithmeticError):
                pass  # not vectorisable: evaluate step by step
            out = np.empty(n)  # one step at a time
            for i in range(n):
                for k, v in values.items():
                    module[k] = (lambda a=float(v[i]): a)
                module["time"] = lambda a=float(times[i]): a
                if data is not None:
                    data["time"] = _FixedTime(real_time, float(times[i]))
                with np.errstate(all="ignore"):
                    try:
                        out[i] = float(np.asarray(func()).reshape(-1)[0])
                    except ArithmeticError:  # e.g. a Python division by zero: no score at this step
                        out[i] = np.nan
            return out
        finally:
            module.update(saved)
            if data is not None:
                data["time"] = real_time


def stateful_composite(evaluator: Evaluator, node: str, source: str) -> np.ndarray:
    """Composite link score ``source -> node`` through a SMOOTH or DELAY function's internal stocks."""
    module = evaluator.module
    obj = getattr(module, node)
    kind = type(obj).__name__
    if kind not in ("Smooth", "Delay"):
        raise LoopAnalysisError(f"loop scores through {kind} ({node}) are not computed; supported: SMOOTH "
                                "(any order) and DELAY1/DELAY3/DELAYN material delays with a fixed order")
    owner = next((k for k, srcs in evaluator.graph.inputs.items() if node in srcs), None)
    series = evaluator.series
    step = evaluator.deps[node]["step"]
    time_func = obj.smooth_time_func if kind == "Smooth" else obj.delay_time_func
    in_reads = _reads(obj.input_func, step)
    if source not in in_reads:
        raise LoopAnalysisError(f"{node}: loops through its time constant ({source}) are not scored; only "
                                "loops through its input")
    tau = evaluator.evaluate(time_func, {k: series[k] for k in _reads(time_func, step)})
    u = evaluator.evaluate(obj.input_func, {k: series[k] for k in in_reads})
    u_part = evaluator.evaluate(obj.input_func, {k: series[k] for k in in_reads}, current=source)
    out = series[owner]
    order = int(obj.order)
    dt = float(series["time"][1] - series["time"][0])
    states = _rebuild_states(kind, order, u, tau, out, dt)
    # composite = product over the stages of LS(previous -> stage net flow)
    prev, prev_part, x = u, u_part, series[source]
    score = np.ones(evaluator.n)
    for k in range(order):
        s = states[:, k]
        if kind == "Smooth":
            net = (prev - s) * order / tau
            part = np.concatenate([[np.nan], (prev_part[1:] - s[:-1]) * order / tau[:-1]])
        else:
            inflow = prev if k == 0 else prev / tau
            net = (inflow - s / tau) * order
            part_in = prev_part[1:] if k == 0 else prev_part[1:] / tau[:-1]
            part = np.concatenate([[np.nan], (part_in - s[:-1] / tau[:-1]) * order])
        score *= link_score(net, part, x)
        prev = prev_part = x = s
    if kind == "Delay":  # output = last stage / delay time
        last = states[:, -1]
        score *= link_score(out, np.concatenate([[np.nan], last[1:] / tau[:-1]]), last)
    return score


def _reads(func: Any, step: Mapping[str, Any]) -> list[str]:
    """The model variables a stateful's lambda (``lambda: a() + b()``) reads."""
    names = set(getattr(getattr(func, "__code__", None), "co_names", ()))
    return [k for k in step if k in names]


def _rebuild_states(kind: str, order: int, u: np.ndarray, tau: np.ndarray, out: np.ndarray,
                    dt: float) -> np.ndarray:
    """Internal states of a SMOOTH/DELAY at every step, by PySD's recurrence; checked against its output."""
    n = len(u)
    states = np.empty((n, order))
    states[0] = out[0] if kind == "Smooth" else out[0] * tau[0]
    for i in range(n - 1):
        s = states[i]
        if kind == "Smooth":
            targets = np.roll(s, 1)
            targets[0] = u[i]
            d = (targets - s) * order / tau[i]
        else:
            outflows = s / tau[i]
            inflows = np.roll(outflows, 1)
            inflows[0] = u[i]
            d = (inflows - outflows) * order
        states[i + 1] = s + d * dt
    rebuilt = states[:, -1] if kind == "Smooth" else states[:, -1] / tau
    if not np.allclose(rebuilt, out, rtol=1e-9, atol=1e-12):
        raise LoopAnalysisError(f"could not rebuild the internal states of a {kind} (order {order}) from its "
                                "recorded input and output; its loop scores are not computed")
    return states
