"""Policy schedules: time-varying amounts applied to model parameters.

A schedule is a callable ``f(t) -> float`` (``t`` in model time units) that
also accepts a NumPy array of times and then returns an array, which is handy
for plotting a policy next to its effect.

**The one rule.** A schedule *adds* its value to the parameter's base value
(the scenario's ``parameters:`` override, or the model's default)::

    value(t) = base + schedule(t)

Outside its active time a schedule is exactly ``0`` (Table is the one shape
that holds its end values, see below), so the parameter has its base value.
A budget parameter that defaults to 0 therefore takes exactly the scheduled
amount; a cut is written as a negative amount.

**Boundaries.** Active intervals are half-open, ``[start, end)``: the schedule is
on *at* ``start`` and off again *at* ``end``, like Vensim's ``STEP`` and
``PULSE`` on the time grid. Because a simulation's clock is built by repeated
addition (``0.1 + 0.1 + ...``), a time within ``1e-9 * max(1, |b|)`` of a
boundary ``b`` counts as having reached it (:data:`TIME_TOLERANCE`).

==========  =========================================================  ==============================
shape       value at time ``t``                                        fields
==========  =========================================================  ==============================
Step        ``amount`` for ``start <= t < end`` (``end`` optional:      start, amount, end
            forever), else 0
Pulse       ``amount`` for ``start + k*every <= t < start + k*every     start, width, amount,
            + width`` (k = 0, 1, ...; only k = 0 without ``every``;     every, end
            pulses start before ``end`` if given), else 0
Ramp        0 before ``start``; ``amount * (t - start) / (end -        start, end, amount
            start)`` from ``start`` to ``end``; ``amount`` after
Table       piecewise-linear through ``points`` (``interpolation:      points, interpolation
            linear``) or holding each point's value until the next
            point (``step``); holds the first value before the first
            point and the last value after the last point
==========  =========================================================  ==============================
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import ScenarioError

#: Relative tolerance with which a time counts as having reached a boundary.
TIME_TOLERANCE = 1e-9

__all__ = ["Pulse", "Ramp", "Schedule", "Step", "TIME_TOLERANCE", "Table", "SHAPES"]


def _reached(t: Any, boundary: float) -> Any:
    """``t >= boundary`` allowing for float error in an accumulated clock."""
    return t >= boundary - TIME_TOLERANCE * np.maximum(1.0, np.abs(boundary))


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ScenarioError(f"{name}: value {value!r} is not a finite number")
    return value


def _out(values: Any, scalar: bool) -> Any:
    return float(values) if scalar else np.asarray(values, dtype=float)


class Schedule:
    """Base class of policy schedules (callables of model time).

    Subclasses define :meth:`__call__`, :meth:`support` (interval outside which
    the value is 0), :meth:`value_range` (smallest and largest value over all
    time) and :meth:`to_dict` (the fields of a scenario file's policy entry).
    """

    shape: ClassVar[str] = ""

    def __call__(self, t: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def support(self) -> tuple[float, float]:  # pragma: no cover - abstract
        """Return ``(a, b)``: the value is 0 for every ``t < a`` and ``t >= b``."""
        raise NotImplementedError

    def value_range(self) -> tuple[float, float]:  # pragma: no cover - abstract
        """Return the smallest and largest value the schedule takes over all time."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """Return the schedule as a scenario-file mapping (``shape`` plus fields)."""
        raise NotImplementedError

    def overlaps(self, other: "Schedule") -> bool:
        """Whether the two schedules may both be non-zero over an interval of time."""
        a1, b1 = self.support()
        a2, b2 = other.support()
        return max(a1, a2) < min(b1, b2)


@dataclass(frozen=True)
class Step(Schedule):
    """``amount`` from ``start`` (inclusive) until ``end`` (exclusive; ``None`` = forever).

    Parameters
    ----------
    start : float
        Time the amount switches on.
    amount : float
        Amount added to the parameter's base value, in the parameter's units.
    end : float or None
        Time the amount switches off again; must be after ``start``.
    """

    start: float
    amount: float
    end: float | None = None
    shape: ClassVar[str] = "step"

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _finite("start", self.start))
        object.__setattr__(self, "amount", _finite("amount", self.amount))
        if self.end is not None:
            object.__setattr__(self, "end", _finite("end", self.end))
            if self.end <= self.start:
                raise ScenarioError(f"end: end {self.end:g} is not after start {self.start:g}")

    def __call__(self, t: Any) -> Any:
        scalar = np.ndim(t) == 0
        t = np.asarray(t, dtype=float)
        on = _reached(t, self.start)
        if self.end is not None:
            on = on & ~_reached(t, self.end)
        return _out(np.where(on, self.amount, 0.0), scalar)

    def support(self) -> tuple[float, float]:
        return self.start, (math.inf if self.end is None else self.end)

    def value_range(self) -> tuple[float, float]:
        return min(0.0, self.amount), max(0.0, self.amount)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"shape": self.shape, "start": self.start}
        if self.end is not None:
            d["end"] = self.end
        d["amount"] = self.amount
        return d


@dataclass(frozen=True)
class Pulse(Schedule):
    """``amount`` during ``[start, start + width)``, optionally repeated ``every`` time units.

    Parameters
    ----------
    start : float
        Time the first pulse switches on.
    width : float
        Duration of each pulse (> 0).
    amount : float
        Amount added to the parameter's base value during a pulse.
    every : float or None
        Repeat interval (>= ``width``); ``None`` for a single pulse.
    end : float or None
        With ``every``: no pulse starts at or after ``end`` (a pulse that has
        started runs its full width). ``None`` = repeat forever.
    """

    start: float
    width: float
    amount: float
    every: float | None = None
    end: float | None = None
    shape: ClassVar[str] = "pulse"

    def __post_init__(self) -> None:
        for name in ("start", "width", "amount"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.width <= 0:
            raise ScenarioError(f"width: width {self.width:g} must be greater than 0")
        if self.every is not None:
            object.__setattr__(self, "every", _finite("every", self.every))
            if self.every < self.width:
                raise ScenarioError(
                    f"every: repeat interval {self.every:g} is shorter than the pulse width {self.width:g}"
                )
        if self.end is not None:
            object.__setattr__(self, "end", _finite("end", self.end))
            if self.end <= self.start:
                raise ScenarioError(f"end: end {self.end:g} is not after start {self.start:g}")
            if self.every is None:
                raise ScenarioError("end: 'end' of a pulse needs 'every' (a single pulse ends after its width)")

    def _count(self) -> int | None:
        """Number of pulses (``None`` = unbounded)."""
        if self.every is None:
            return 1
        if self.end is None:
            return None
        # pulses start at start + k*every for every k with that start < end
        span = (self.end - self.start) / self.every
        if not math.isfinite(span) or span > 1e15:
            return None  # more pulses than any run can see: treat as unbounded
        n = math.ceil(span)
        # a pulse starting exactly at end (within tolerance) does not count
        if _reached(self.start + (n - 1) * self.every, self.end):
            n -= 1
        return max(n, 1)

    def __call__(self, t: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):
            return self._evaluate(t)

    def _evaluate(self, t: Any) -> Any:
        scalar = np.ndim(t) == 0
        t = np.asarray(t, dtype=float)
        if self.every is None:
            k = np.zeros_like(t)
        else:
            k = np.floor((t - self.start) / self.every)
            # a time within tolerance of the next pulse start belongs to that pulse
            nxt = self.start + (k + 1) * self.every
            k = np.where(_reached(t, nxt), k + 1, k)
            count = self._count()
            if count is not None:
                k = np.minimum(k, count - 1)
            k = np.maximum(k, 0)
        begin = self.start + k * self.every if self.every is not None else np.full_like(t, self.start)
        on = _reached(t, begin) & ~_reached(t, begin + self.width)
        return _out(np.where(on, self.amount, 0.0), scalar)

    def support(self) -> tuple[float, float]:
        count = self._count()
        if count is None:
            return self.start, math.inf
        return self.start, self.start + (count - 1) * (self.every or 0.0) + self.width

    def value_range(self) -> tuple[float, float]:
        return min(0.0, self.amount), max(0.0, self.amount)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"shape": self.shape, "start": self.start, "width": self.width}
        if self.every is not None:
            d["every"] = self.every
        if self.end is not None:
            d["end"] = self.end
        d["amount"] = self.amount
        return d


@dataclass(frozen=True)
class Ramp(Schedule):
    """Linear rise from 0 at ``start`` to ``amount`` at ``end``, then held at ``amount``.

    Parameters
    ----------
    start, end : float
        Times the ramp begins and reaches its full amount (``end > start``).
    amount : float
        Amount reached at ``end`` and held afterwards.
    """

    start: float
    end: float
    amount: float
    shape: ClassVar[str] = "ramp"

    def __post_init__(self) -> None:
        for name in ("start", "end", "amount"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.end <= self.start:
            raise ScenarioError(f"end: end {self.end:g} is not after start {self.start:g}")

    def __call__(self, t: Any) -> Any:
        scalar = np.ndim(t) == 0
        t = np.asarray(t, dtype=float)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            frac = np.clip((t - self.start) / (self.end - self.start), 0.0, 1.0)
            frac = np.where(_reached(t, self.end), 1.0, np.where(_reached(t, self.start), frac, 0.0))
        return _out(self.amount * frac, scalar)

    def support(self) -> tuple[float, float]:
        return self.start, (math.inf if self.amount != 0 else self.start)

    def value_range(self) -> tuple[float, float]:
        return min(0.0, self.amount), max(0.0, self.amount)

    def to_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "start": self.start, "end": self.end, "amount": self.amount}


@dataclass(frozen=True)
class Table(Schedule):
    """A schedule given as ``(time, value)`` points.

    Parameters
    ----------
    points : sequence of (float, float)
        At least one point; times strictly increasing.
    interpolation : {'linear', 'step'}
        ``linear``: straight lines between points. ``step``: each point's value
        holds from its time (inclusive) until the next point's time.

    Notes
    -----
    The value equals each point's value exactly at the point's time. Before the
    first point the first value holds, after the last point the last value
    holds (as in a Vensim lookup); end the table with a 0 to switch it off.
    """

    points: tuple[tuple[float, float], ...]
    interpolation: str = "linear"
    shape: ClassVar[str] = "table"
    _t: np.ndarray = field(init=False, repr=False, compare=False)
    _v: np.ndarray = field(init=False, repr=False, compare=False)

    INTERPOLATIONS: ClassVar[tuple[str, ...]] = ("linear", "step")

    def __post_init__(self) -> None:
        pts = []
        for i, p in enumerate(self.points):
            try:
                tv = tuple(p)
            except TypeError:
                raise ScenarioError(f"points[{i}]: expected a [time, value] pair, got {p!r}") from None
            if len(tv) != 2:
                raise ScenarioError(f"points[{i}]: expected a [time, value] pair, got {p!r}")
            pts.append((_finite(f"points[{i}][0]", tv[0]), _finite(f"points[{i}][1]", tv[1])))
        if not pts:
            raise ScenarioError("points: a table needs at least one [time, value] point")
        for i in range(1, len(pts)):
            if pts[i][0] <= pts[i - 1][0]:
                raise ScenarioError(
                    f"points[{i}]: time {pts[i][0]:g} is not after the previous point's time {pts[i - 1][0]:g}"
                )
        if self.interpolation not in self.INTERPOLATIONS:
            raise ScenarioError(
                f"interpolation: {self.interpolation!r} is not one of {', '.join(self.INTERPOLATIONS)}"
            )
        object.__setattr__(self, "points", tuple(pts))
        object.__setattr__(self, "_t", np.array([p[0] for p in pts]))
        object.__setattr__(self, "_v", np.array([p[1] for p in pts]))

    def __call__(self, t: Any) -> Any:
        scalar = np.ndim(t) == 0
        t = np.asarray(t, dtype=float)
        # index of the last point reached (with the clock tolerance), -1 before the first
        tol = TIME_TOLERANCE * np.maximum(1.0, np.abs(self._t))
        idx = np.searchsorted(self._t - tol, t, side="right") - 1
        if self.interpolation == "step":
            out = self._v[np.clip(idx, 0, None)]
        else:
            out = np.interp(t, self._t, self._v)
            # exactly the point's value when t is (within tolerance) on a point
            on_point = (idx >= 0) & (np.abs(t - self._t[np.clip(idx, 0, None)]) <= tol[np.clip(idx, 0, None)])
            out = np.where(on_point, self._v[np.clip(idx, 0, None)], out)
        return _out(out, scalar)

    def support(self) -> tuple[float, float]:
        lo = self._t[0] if self._v[0] == 0 else -math.inf
        hi = self._t[-1] if self._v[-1] == 0 else math.inf
        if np.all(self._v == 0):
            return 0.0, 0.0
        return float(lo), float(hi)

    def value_range(self) -> tuple[float, float]:
        return float(self._v.min()), float(self._v.max())

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"shape": self.shape, "points": [list(p) for p in self.points]}
        if self.interpolation != "linear":
            d["interpolation"] = self.interpolation
        return d


#: Schedule classes by the ``shape`` name used in scenario files.
SHAPES: dict[str, type[Schedule]] = {cls.shape: cls for cls in (Step, Pulse, Ramp, Table)}
