"""The integration loop sdcluster runs PySD models with.

PySD's translated module holds the model equations as Python functions and its
stateful objects (INTEG, SMOOTH, DELAY...). :class:`Engine` drives them with
the same Euler scheme as :meth:`pysd.py_backend.model.Model.run` — same order
of derivative evaluation and state updates, same time bookkeeping (PySD's own
:class:`~pysd.py_backend.components.Time` object), so the numbers are PySD's —
with three differences:

1. lookups are evaluated with NumPy (:mod:`sdcluster.core.fastlookup`);
2. results are collected straight into NumPy arrays (no per-step DataFrame);
3. parameters may be NumPy arrays of shape ``(N,)`` (or time schedules with
   an array base, see ``batch_size`` in :func:`_batch_size`): the whole model
   is then evaluated for *N* parameter sets at once (the vectorised ensemble
   path), equal run by run to plain PySD to 1e-9 relative (tested on every
   bundled model). For that path:

   - PySD's scalar-only helpers (``if_then_else``, ``xidz``, ``zidz``,
     ``pulse``, ``integer``, ``quantum``, ``modulo``) and the ``float(...)``
     PySD wraps around NumPy expressions are replaced in the model's
     namespace by versions that accept arrays and defer to PySD's own
     function for scalar arguments (:data:`VECTOR_FUNCTIONS`);
   - SMOOTH and DELAY states get a run axis after initialisation (keeping
     PySD's dtype, so PySD's truncation of an integer initial state on the
     first step is reproduced), and their derivatives are computed without
     ``np.roll`` (same arithmetic);
   - features the path cannot reproduce exactly are listed in
     :attr:`Engine.vector_blockers` (subscripts, unknown PySD functions,
     DELAY FIXED, ...) or detected at run time (a DELAY whose order PySD
     reduces differently per run); the runs are then made one by one and the
     reason is logged.

Before every run the module's components, dependency graph and cache
bookkeeping are restored from a snapshot taken at load time, so no parameter
or state of a previous run leaks into the next.
"""
from __future__ import annotations

import copy
import logging
import types
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from pysd.py_backend import functions as pysd_functions
from pysd.py_backend import statefuls as pysd_statefuls
from pysd.py_backend.lookups import HardcodedLookups

from . import fastlookup
from ..errors import RunError

log = logging.getLogger(__name__)

SMALL = pysd_functions.SMALL_VENSIM


# ---------------------------------------------------------------------------
# Array-aware replacements for PySD's scalar-only helper functions
# ---------------------------------------------------------------------------
def _is_array(*values: Any) -> bool:
    return any(isinstance(v, np.ndarray) and v.ndim > 0 for v in values)


def if_then_else(condition: Any, val_if_true: Callable, val_if_false: Callable) -> Any:
    """PySD's ``if_then_else``, element-wise when *condition* is an array."""
    if _is_array(condition):
        if condition.all():
            return val_if_true()
        if not condition.any():
            return val_if_false()
        with np.errstate(all="ignore"):
            return np.where(condition, val_if_true(), val_if_false())
    return pysd_functions.if_then_else(condition, val_if_true, val_if_false)


def xidz(numerator: Any, denominator: Any, x: Any) -> Any:
    """PySD's ``xidz``, element-wise for array denominators."""
    if _is_array(denominator):
        with np.errstate(all="ignore"):
            return np.where(np.abs(denominator) < SMALL, x, numerator / denominator)
    return pysd_functions.xidz(numerator, denominator, x)


def zidz(numerator: Any, denominator: Any) -> Any:
    """PySD's ``zidz``, element-wise for array denominators."""
    if _is_array(denominator):
        with np.errstate(all="ignore"):
            return np.where(np.abs(denominator) < SMALL, 0.0, numerator / denominator)
    return pysd_functions.zidz(numerator, denominator)


def pulse(time: Any, start: Any, repeat_time: Any = 0, width: Any = None,
          magnitude: Any = None, end: Any = None) -> Any:
    """PySD's ``pulse`` (Vensim PULSE/PULSE TRAIN, XMILE PULSE), element-wise for arrays."""
    if not _is_array(start, repeat_time, width, magnitude, end):
        return pysd_functions.pulse(time, start, repeat_time, width, magnitude, end)
    t = time()
    width = 0.5 * time.time_step() if width is None else width
    out = magnitude / time.time_step() if magnitude is not None else 1
    repeat = np.asarray(repeat_time)
    single = (start - SMALL <= t) & (t < start + width)
    with np.errstate(all="ignore"):
        in_train = (start <= t) & (True if end is None else t < end)
        train = in_train & (np.fmod(t - start + SMALL, np.where(repeat == 0, 1.0, repeat)) < width)
    return np.where(np.where(repeat == 0, single, train), out, 0 * np.asarray(out))


def integer(x: Any) -> Any:
    """PySD's ``integer`` (Vensim INTEGER: truncation toward zero), element-wise for arrays."""
    if _is_array(x):
        return np.trunc(x)
    return pysd_functions.integer(x)


def quantum(a: Any, b: Any) -> Any:
    """PySD's ``quantum`` (Vensim QUANTUM), element-wise for arrays."""
    if _is_array(a, b):
        with np.errstate(all="ignore"):
            return np.where(b < SMALL, a, b * np.trunc(a / np.where(b < SMALL, 1.0, b)))
    return pysd_functions.quantum(a, b)


def modulo(x: Any, m: Any) -> Any:
    """PySD's ``modulo`` (Vensim MODULO: ``x - quantum(x, m)``), element-wise for arrays."""
    if _is_array(x, m):
        return x - quantum(x, m)
    return pysd_functions.modulo(x, m)


_builtin_float = float


def as_float(value: Any) -> Any:
    """``float(value)``, except that arrays of shape ``(N,)`` pass through unchanged.

    PySD wraps unsubscripted NumPy expressions in ``float(...)`` (e.g.
    ``float(np.maximum(a, b))`` for Vensim's MAX); in the vectorised path
    those expressions are arrays of the run dimension.
    """
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value
    return _builtin_float(value)


#: PySD runtime names the vectorised path replaces, and what replaces them.
VECTOR_FUNCTIONS: dict[str, Callable] = {
    "if_then_else": if_then_else,
    "xidz": xidz,
    "zidz": zidz,
    "pulse": pulse,
    "integer": integer,
    "quantum": quantum,
    "modulo": modulo,
    "float": as_float,
}

#: PySD runtime names that already work element-wise on arrays.
ARRAY_SAFE = {"step", "ramp", "Integ", "NonNegativeInteg", "Smooth",
              "Delay", "DelayN", "Trend", "Forecast", "Initial", "HardcodedLookups", "Component",
              "np", "Path"}

#: Stateful classes whose arithmetic is element-wise (checked at load time).
ARRAY_SAFE_STATEFULS = (pysd_statefuls.Integ, pysd_statefuls.Smooth, pysd_statefuls.Delay,
                        pysd_statefuls.DelayN, pysd_statefuls.Trend, pysd_statefuls.Forecast,
                        pysd_statefuls.Initial)


@dataclass
class RunSettings:
    """Resolved time settings of one run."""

    initial_time: float
    final_time: float
    time_step: float
    saveper: float


class Engine:
    """Drives one loaded PySD model (see module docstring)."""

    def __init__(self, pysd_model: Any):
        self.pysd = pysd_model
        self.module = pysd_model.components._components
        self.fast_lookups = fastlookup.install(self.module, HardcodedLookups)
        for name, func in VECTOR_FUNCTIONS.items():
            if name in vars(self.module) or name == "float":
                setattr(self.module, name, func)
        self.vector_blockers = self._find_vector_blockers()
        names = set(pysd_model._namespace.values())
        self._pristine_components = {n: getattr(self.module, n) for n in names if hasattr(self.module, n)}
        self._pristine_dependencies = copy.deepcopy(pysd_model._dependencies)
        self._pristine_cached = set(pysd_model.cache.cached_funcs)
        self._control_vars = dict(pysd_model.components._control_vars)

    # -- capability ---------------------------------------------------------
    def _find_vector_blockers(self) -> list[str]:
        """Why this model cannot take array parameters (empty list if it can)."""
        reasons = []
        if self.pysd.subscripts:
            reasons.append("subscripted variables")
        for name, obj in vars(self.module).items():
            if isinstance(obj, pysd_statefuls.Stateful) and not isinstance(obj, ARRAY_SAFE_STATEFULS):
                reasons.append(f"{type(obj).__name__} (in {name})")
        for name, obj in vars(self.module).items():
            mod = getattr(obj, "__module__", "") or ""
            if (mod.startswith("pysd.") and callable(obj) and name not in ARRAY_SAFE
                    and name not in VECTOR_FUNCTIONS and not name.startswith("_")
                    and getattr(obj, "__name__", name) not in VECTOR_FUNCTIONS):
                reasons.append(f"function {name}")
        return sorted(set(reasons))

    @property
    def vectorisable(self) -> bool:
        """True when the model can run many parameter sets in one pass."""
        return not self.vector_blockers

    # -- state handling -----------------------------------------------------
    def reset(self) -> None:
        """Restore the model's equations, dependency graph and time settings as loaded."""
        model = self.pysd
        for name, func in self._pristine_components.items():
            setattr(self.module, name, func)
        for obj in model._dynamicstateful_elements:  # undo the vectorised path's ddt replacement, if any
            if getattr(obj.__dict__.get("ddt"), "__func__", None) in _FAST_DDT.values():
                del obj.__dict__["ddt"]
        model._dependencies = copy.deepcopy(self._pristine_dependencies)
        model.cache.cached_funcs = set(self._pristine_cached)
        model._constant_funcs = set()
        model._components_setter_tracker = {}
        model.cache.clean()
        model.time._set_control_vars(**self._control_vars)
        model.time.stage = "Load"

    def default_settings(self) -> RunSettings:
        """The model file's own time settings."""
        self.reset()
        t = self.pysd.time
        t.set_control_vars(initial_time=self._control_vars["initial_time"])
        return RunSettings(float(t.initial_time()), float(t.final_time()), float(t.time_step()),
                           float(t.saveper()))

    # -- running ------------------------------------------------------------
    def run(self, params: Mapping[str, Any], settings: RunSettings, outputs: Sequence[str],
            progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Run once; return saved times and ``{py_name: array}``.

        Each array has shape ``(T,)`` for scalar parameters or ``(T, N)`` when
        any parameter is an array of length ``N``. In the latter case the
        whole model is evaluated for the *N* parameter sets in one pass; when
        that cannot be done exactly (a feature found only at run time, such as
        a DELAY whose order PySD would reduce differently for different runs)
        the runs are made one by one, and the reason is logged.

        Parameters
        ----------
        params
            ``{py_name: value}`` where value is a number, an array of shape
            ``(N,)``, or a callable of model time ``f(t) -> value``.
        settings
            Time settings of the run.
        outputs
            Python names of the variables to record.
        progress
            Called with the number of steps done since the last call.
        """
        n = _batch_size(params)
        if n is None:
            return self._simulate(params, settings, outputs, progress, None)
        if self.vector_blockers:
            reason = "; ".join(self.vector_blockers)
        else:
            try:
                return self._simulate(params, settings, outputs, progress, n)
            except _NotVectorisable as exc:
                reason = str(exc)
        log.info("running %d parameter sets one by one (not vectorisable: %s)", n, reason)
        per_run = []
        times = np.empty(0)
        for i in range(n):
            one = {k: _run_value(v, i) for k, v in params.items()}
            times, vals = self._simulate(one, settings, outputs, progress, None)
            per_run.append(vals)
        return times, {name: np.stack([r[name] for r in per_run], axis=1) for name in outputs}

    def _simulate(self, params: Mapping[str, Any], settings: RunSettings, outputs: Sequence[str],
                  progress: Callable[[int], None] | None,
                  batch: int | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The Euler loop of :meth:`pysd.py_backend.model.Model.run`, for one or *batch* runs."""
        model = self.pysd
        self.reset()
        components = {}
        for name, value in params.items():
            components[name] = _as_component(value, model.time)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model._config_simulation(
                    components or None, list(outputs) or None, None, (settings.initial_time, {}),
                    settings.final_time, settings.time_step, settings.saveper, True, progress=False)
            except (TypeError, ValueError, IndexError, ArithmeticError) as exc:
                if batch is None:
                    raise
                raise _NotVectorisable(f"initialisation with array parameters failed ({exc})") from exc
            if batch is not None:
                self._broadcast_states(batch)
        time = model.time
        dyn = model._dynamicstateful_elements
        getters = [getattr(self.module, name) for name in outputs]
        rows: list[list[Any]] = []
        times: list[float] = []
        dt = time.time_step()
        clean = model.cache.clean if not model._macro_elements else model.clean_caches
        in_return, in_bounds, clock, tick, rnd = (time.in_return, time.in_bounds, time.__call__, time.update,
                                                  time.round)
        steps = 0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                while in_bounds():
                    if in_return():
                        times.append(rnd())
                        rows.append([g() for g in getters])
                    ddts = [c.ddt() for c in dyn]
                    for c, d in zip(dyn, ddts):
                        c.update(c.state + d * dt)
                    tick(clock() + dt)
                    clean()
                    steps += 1
                    if progress is not None and steps % 64 == 0:
                        progress(64)
                if in_return():
                    times.append(rnd())
                    rows.append([g() for g in getters])
            except (TypeError, ValueError, IndexError, ArithmeticError) as exc:
                if batch is None:
                    raise
                raise _NotVectorisable(f"a step with array parameters failed ({exc})") from exc
        if progress is not None:
            progress(steps % 64)
        out = {}
        for j, name in enumerate(outputs):
            if batch is None:
                out[name] = np.array([_scalar(r[j], name) for r in rows], dtype=float)
            else:
                arr = np.empty((len(rows), batch))
                for k, r in enumerate(rows):
                    arr[k] = _column(r[j], batch, name)
                out[name] = arr
        return np.asarray(times, dtype=float), out

    def _broadcast_states(self, n: int) -> None:
        """Give every multi-element stateful (SMOOTH, DELAY) a run axis of length *n*.

        PySD builds their states as ``np.array([init] * order)``; with scalar
        initial values that has no run axis, and the first array input would
        not fit. Raises :class:`_NotVectorisable` when PySD reduced a delay's
        order for the whole batch where single runs would keep different orders.
        """
        dt = self.pysd.time.time_step()
        for obj in self.pysd._dynamicstateful_elements:
            if isinstance(obj, (pysd_statefuls.Delay, pysd_statefuls.DelayN)):
                _check_delay_order(obj, dt)
            if isinstance(obj, (pysd_statefuls.Smooth, pysd_statefuls.Delay, pysd_statefuls.DelayN)):
                state = np.asarray(obj.state)  # keep PySD's dtype (an integer initial value gives an int state)
                if state.ndim != 1 and state.shape[1:] != (n,):
                    raise _NotVectorisable(f"unexpected state shape {state.shape} in {obj.py_name}")
                obj.state = np.array(np.broadcast_to(state.reshape(state.shape[0], -1), (state.shape[0], n)))
                if obj.shape_info is None and obj.state.dtype == float and type(obj).ddt in _FAST_DDT:
                    obj.ddt = types.MethodType(_FAST_DDT[type(obj).ddt], obj)
                if isinstance(obj, pysd_statefuls.DelayN):
                    times = np.asarray(obj.times)
                    obj.times = np.array(np.broadcast_to(times.reshape(times.shape[0], -1), (times.shape[0], n)))


def _smooth_ddt(self: Any) -> Any:
    """:meth:`pysd.py_backend.statefuls.Smooth.ddt` without ``np.roll`` (same arithmetic, same numbers)."""
    state = self.state
    targets = np.empty_like(state)
    targets[0] = self.input_func()
    targets[1:] = state[:-1]
    return (targets - state) * self.order / self.smooth_time_func()


def _delay_ddt(self: Any) -> Any:
    """:meth:`pysd.py_backend.statefuls.Delay.ddt` without ``np.roll`` (same arithmetic, same numbers)."""
    outflows = self.state / self.delay_time_func()
    inflows = np.empty_like(outflows)
    inflows[0] = self.input_func()
    inflows[1:] = outflows[:-1]
    return (inflows - outflows) * self.order


#: PySD's ``ddt`` methods replaced in the vectorised path (float states only; removed by :meth:`Engine.reset`).
_FAST_DDT = {pysd_statefuls.Smooth.ddt: _smooth_ddt, pysd_statefuls.Delay.ddt: _delay_ddt}


class _NotVectorisable(Exception):
    """Raised inside the vectorised path when it cannot reproduce single runs exactly."""


def _check_delay_order(obj: Any, dt: float) -> None:
    """Refuse a batch in which PySD's order reduction of a DELAY would differ between runs."""
    delay = np.atleast_1d(np.asarray(obj.delay_time_func(), dtype=float))
    order = int(obj.order_func())
    orders = np.full(delay.shape, order)
    while np.any(orders * dt > delay):
        orders = np.where(orders * dt > delay, orders - 1, orders)
    if np.any(orders != obj.order):
        raise _NotVectorisable(
            f"{obj.py_name}: delay time shorter than order x time step for some runs, so PySD would use "
            f"different delay orders ({sorted(set(orders.tolist()))}) in different runs")


def _column(value: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0 or arr.shape == (n,):
        return arr
    raise RunError(f"output {name!r} has shape {arr.shape}; expected a scalar or ({n},) "
                   "(subscripted variables cannot be collected yet)")


def _as_component(value: Any, time: Any) -> Any:
    """Turn a parameter value into what PySD's ``set_components`` accepts."""
    if callable(value):
        return lambda f=value: f(time())
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return lambda a=value: a
    return value


def _run_value(value: Any, i: int) -> Any:
    """The value of one parameter in run *i* of a batch."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value[i]
    if callable(value) and hasattr(value, "run_value"):
        return value.run_value(i)
    return value


def _batch_size(params: Mapping[str, Any]) -> int | None:
    """Number of runs carried by *params*: arrays of shape ``(N,)``, or callables (time
    schedules with a sampled base) that declare an integer ``batch_size``."""
    sizes = {len(v) for v in params.values() if isinstance(v, np.ndarray) and v.ndim > 0}
    sizes |= {int(b) for v in params.values() if callable(v)
              for b in [getattr(v, "batch_size", None)] if isinstance(b, (int, np.integer))}
    if len(sizes) > 1:
        raise RunError(f"parameter arrays have different lengths {sorted(sizes)}; all must have the same")
    return sizes.pop() if sizes else None


def _scalar(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RunError(f"output {name!r} is not a scalar (subscripted variables cannot be collected yet)") from None
