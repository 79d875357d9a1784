"""The explorer's controls, generated from scenario files, the parameter catalogue and an uncertainty spec.

Three kinds of control, each with a declared range and units that a value may
never leave:

``<instrument>.amount`` / ``.start`` / ``.duration``
    One *instrument* per parameter that a loaded scenario schedules with a
    ``step`` policy (e.g. ``brokering budget``). The amount's range is the
    parameter's declared range minus its base value (the schedule adds to the
    base, see :mod:`sdcluster.scenarios.schedules`); start and duration lie within the
    simulated period.
``<parameter>``
    One per uncertain parameter (the ensemble's distributions): its value in
    the central run. The band always comes from the whole distribution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from ..errors import ParameterError, suggest
from ..scenarios.schedules import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..core.model import Model
    from ..uncertainty.sampling import Uncertain
    from ..scenarios.scenario import Scenario

#: Roles of a control.
ROLES = ("amount", "start", "duration", "uncertain")


@dataclass(frozen=True)
class Control:
    """One input of the explorer.

    Attributes
    ----------
    key : str
        Identifier in the URL and state (``brokering_budget.amount``).
    label : str
        Text shown next to the control.
    units : str
        Units of the value.
    low, high : float
        Declared range; values outside are refused.
    default : float
        Value of the starting scenario.
    step : float
        Slider increment (typed values may be finer).
    role : str
        One of :data:`ROLES`.
    parameter : str
        The model parameter's Python name.
    help : str
        The parameter's comment from the model.
    """

    key: str
    label: str
    units: str
    low: float
    high: float
    default: float
    step: float
    role: str
    parameter: str
    help: str = ""

    def check(self, value: object) -> float:
        """Return *value* as a float within range, or raise :class:`ParameterError` saying what is valid."""
        text = str(value).strip() if value is not None else ""
        try:
            x = float(text) if isinstance(value, str) or value is None else float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            x = math.nan
        where = f"{self.label} ({self.key})"
        if isinstance(value, bool) or not math.isfinite(x):
            raise ParameterError(f"{where}: {text or 'an empty value'!r} is not a number; give a number "
                                 f"from {self.low:g} to {self.high:g} {self.units}".rstrip())
        if x < self.low or x > self.high:
            raise ParameterError(f"{where}: {x:g} is outside the declared range [{self.low:g}, {self.high:g}] "
                                 f"{self.units}".rstrip())
        return x


def nice_step(span: float, divisions: int = 100) -> float:
    """A 1-2-5 step giving about *divisions* steps over *span*."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / divisions
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _finite_or(value: float, fallback: float) -> float:
    return value if math.isfinite(value) else fallback


def instruments(scenarios: Sequence["Scenario"], model: "Model", extra: Iterable[str] = ()) -> list[str]:
    """Python names of the parameters scheduled with a ``step`` policy in *scenarios*, plus *extra*.

    Raises
    ------
    ParameterError
        For an *extra* name that is not a parameter of *model* (with the closest names).
    """
    names: list[str] = []
    settable = {p.py_name for p in model.parameters}
    for s in scenarios:
        for p in s.policies:
            if isinstance(p.schedule, Step):
                py = model.py_name(p.parameter)
                if py not in names:
                    names.append(py)
    for name in extra:
        try:
            py = model.py_name(name)
        except ParameterError:
            py = ""
        if py not in settable:
            valid = [p.name for p in model.parameters]
            raise ParameterError(f"--instrument {name!r}: {model.path.name} has no parameter of that name."
                                 f"{suggest(name, valid)}")
        if py not in names:
            names.append(py)
    return names


def instrument_controls(model: "Model", base: "Scenario", names: Sequence[str], period: tuple[float, float],
                        scenarios: Sequence["Scenario"]) -> list[Control]:
    """Amount, start and duration controls of each instrument, starting from *base*'s policy."""
    t0, t1 = period
    tstep = nice_step(t1 - t0, 120)
    out: list[Control] = []
    for py in names:
        info = model.info(py)
        base_value = base_value_of(base, model, py)
        mine = _first_step(base, model, py)
        any_step = mine or next((st for s in scenarios if (st := _first_step(s, model, py))), None)
        lo, hi = info.limits
        seen = abs(any_step.amount) if any_step else 1.0
        a_lo = _finite_or(lo, min(0.0, base_value)) - base_value
        a_hi = _finite_or(hi, base_value + 10 * max(seen, 1.0)) - base_value
        amount = mine.amount if mine else 0.0
        start = mine.start if mine else (any_step.start if any_step else t0)
        end = (mine.end if mine else (any_step.end if any_step else None))
        duration = (end if end is not None else t1) - start
        unit = model.time_units
        label = info.name
        out += [
            Control(f"{py}.amount", f"{label}: amount", info.units, a_lo, a_hi, amount,
                    nice_step(a_hi - a_lo), "amount", py, info.description),
            Control(f"{py}.start", f"{label}: start", unit, t0, t1, min(max(start, t0), t1), tstep, "start", py,
                    f"time the {label} policy starts"),
            Control(f"{py}.duration", f"{label}: duration", unit, 0.0, t1 - t0,
                    min(max(duration, 0.0), t1 - t0), tstep, "duration", py,
                    f"how long the {label} policy lasts (0: not at all)"),
        ]
    return out


def uncertain_controls(model: "Model", base: "Scenario", uncertain: "Uncertain") -> list[Control]:
    """One control per uncertain parameter: its value in the central run (default: *base*'s value)."""
    out: list[Control] = []
    py_of = uncertain.validate(model)
    for name, dist in uncertain.distributions.items():
        py = py_of[name]
        info = model.info(py)
        default = base_value_of(base, model, py)
        d_lo, d_hi = (float(v) for v in dist.ppf([0.001, 0.999]))
        s_lo, s_hi = dist.support
        lo = s_lo if math.isfinite(s_lo) else d_lo
        hi = s_hi if math.isfinite(s_hi) else d_hi
        m_lo, m_hi = info.limits
        lo = max(lo, m_lo) if math.isfinite(m_lo) else lo
        hi = min(hi, m_hi) if math.isfinite(m_hi) else hi
        lo, hi = min(lo, default), max(hi, default)
        out.append(Control(py, f"{info.name} ({dist})", info.units, lo, hi, default, nice_step(hi - lo),
                           "uncertain", py, info.description))
    return out


def base_value_of(scenario: "Scenario", model: "Model", py: str) -> float:
    """The constant value of parameter *py* in *scenario*: its override, else the model's default."""
    for key, value in scenario.parameters.items():
        if model.py_name(key) == py:
            return float(value)
    return float(model.info(py).default or 0.0)


def _first_step(scenario: "Scenario", model: "Model", py: str) -> Step | None:
    for p in scenario.policies:
        if isinstance(p.schedule, Step) and model.py_name(p.parameter) == py:
            return p.schedule
    return None
