"""Compare scenarios: differences from a baseline, KPIs and rankings.

Every function takes a :class:`xarray.Dataset` with dimensions ``(scenario,
time)`` as returned by :func:`sdcluster.run_scenarios` and returns xarray or
pandas objects, so a modeller can continue in plain xarray/pandas.

KPI syntax
----------
A KPI is written as a short string (the same on the command line and in
Python)::

    [min:|max:] VARIABLE ( @TIME | :MEASURE ) [/cost[=COST_VARIABLE]]

``VARIABLE@T``
    value at time ``T`` (a number in model time units, ``start`` or ``end``);
    linearly interpolated when ``T`` falls between saved times.
``VARIABLE:cum[T0,T1]``
    cumulative value over the window, the trapezoidal integral of the
    variable over time (units: variable units x time units). ``:cum`` alone
    is the whole horizon.
``VARIABLE:peak[T0,T1]`` / ``VARIABLE:peak_time[T0,T1]``
    largest value in the window, and the (first) time at which it occurs.
``VARIABLE:t>=X`` / ``VARIABLE:t<=X``
    first time the variable reaches ``X`` from below (``>=``) or falls to
    ``X`` (``<=``), linearly interpolated between saved times; NaN when never
    reached (e.g. critical mass never attained).
``VARIABLE:npv[T0,T1,r=R]``
    discounted cumulative value: the trapezoidal integral of
    ``v(t) * (1 + R) ** -(t - T0)``; ``npv[r=R]`` covers the whole horizon.
``.../cost``
    cost-effectiveness: the KPI's extra value over the baseline divided by the
    extra cumulative public cost over the baseline, the cost variable being
    read at the KPI's end time (``T`` for ``@T``, ``T1`` for windows, the final
    time otherwise). The cost variable defaults to ``cumulative_public_cost``;
    ``/cost=NAME`` picks another. Undefined (NaN) for the baseline and for
    scenarios that cost the same as the baseline.
``min:`` / ``max:``
    ranking direction: rank 1 goes to the smallest (``min``) or largest
    (``max``) value. Default: :func:`better_direction`, the one definition
    of "better" shared by ``compare``, ``ensemble``, the robustness tables
    and the brief: lower is better for times to a threshold
    (``t>=``/``t<=``: earlier is better) and for costs (a variable whose name
    has the word ``cost`` or ``spending``, e.g. ``cumulative_public_cost``);
    higher is better otherwise, including every ``/cost`` ratio (more outcome
    per unit of money).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ScenarioError, SdclusterError, suggest

if TYPE_CHECKING:  # pragma: no cover
    from ..brief.questions import Question

log = logging.getLogger(__name__)

#: Default name of the variable holding cumulative public spending.
COST_VARIABLE = "cumulative_public_cost"

MEASURES = ("at", "cum", "peak", "peak_time", "t>=", "t<=", "npv")

#: Words that make a variable a cost (lower is better), matched against the
#: ``_``-separated words of its Python name.
COST_WORDS = ("cost", "costs", "spending", "expenditure")

#: Columns of the tidy KPI table, in order.
TABLE_COLUMNS = ["scenario", "kpi", "value", "units", "delta", "ratio", "rank", "better", "variable", "description",
                 "reference", "question"]


class KPIError(SdclusterError):
    """A KPI specification is malformed or refers to data the Dataset does not hold."""


# --------------------------------------------------------------------------- helpers
def time_units(ds: xr.Dataset | xr.DataArray) -> str:
    """Return the time unit of *ds* (``time`` coordinate attrs, then Dataset attrs), or ``""``."""
    if "time" in ds.coords:
        u = ds["time"].attrs.get("units")
        if u:
            return str(u)
    return str(ds.attrs.get("time_units", ""))


def _units(da: xr.DataArray) -> str:
    return str(da.attrs.get("units", "") or "")


def _times_units(units: str, tu: str) -> str:
    """Units of an integral over time: ``'EUR/Year' x 'Year' -> 'EUR'``."""
    if not tu:
        return units
    if not units or units == "1" or units.lower() == "dmnl":
        return tu
    for suffix in (f"/{tu}", f" / {tu}", f" per {tu}"):
        if units.endswith(suffix):
            return units[: -len(suffix)]
    return f"{units}*{tu}"


def _check_baseline(ds: xr.Dataset, baseline: str) -> None:
    if "scenario" not in ds.dims:
        raise ScenarioError(f"the Dataset has no 'scenario' dimension (dims: {dict(ds.sizes)}); cannot compare")
    names = [str(s) for s in ds["scenario"].values]
    if baseline not in names:
        raise ScenarioError(
            f"baseline {baseline!r} is not one of the scenarios {names}." + suggest(baseline, names)
        )


def _check_variable(ds: xr.Dataset, name: str, what: str = "variable") -> xr.DataArray:
    if name not in ds.data_vars:
        raise KPIError(
            f"{what} {name!r} is not in the results; available: {sorted(ds.data_vars)}."
            + suggest(name, list(ds.data_vars))
        )
    da = ds[name]
    extra = set(da.dims) - {"scenario", "time"}
    if extra or "time" not in da.dims:
        raise KPIError(f"{what} {name!r} has dims {da.dims}; KPIs need ('scenario', 'time') or ('time',)")
    return da


# --------------------------------------------------------------------------- deltas and ratios
def _against(ds: xr.Dataset, baseline: str | None, references: Mapping[str, str | None] | None
             ) -> tuple[np.ndarray, str]:
    """Index of each scenario's reference (-1: none) and how messages name it."""
    if references is None:
        if baseline is None:
            raise ScenarioError("give a baseline scenario or each scenario's reference")
        _check_baseline(ds, baseline)
    names = [str(s) for s in ds["scenario"].values]
    idx = reference_index(names, baseline, references)
    return idx, (baseline if references is None else "each scenario's reference")


def _pick(da: xr.DataArray, idx: np.ndarray) -> xr.DataArray:
    """``da`` of each scenario's reference (NaN where there is none)."""
    picked = da.isel(scenario=np.maximum(idx, 0)).assign_coords(scenario=da["scenario"].values)
    return picked.where(xr.DataArray(idx >= 0, dims="scenario", coords={"scenario": da["scenario"].values}))


def differences(ds: xr.Dataset, baseline: str | None = None, variables: Sequence[str] | None = None,
                references: Mapping[str, str | None] | None = None) -> xr.Dataset:
    """Return each scenario minus the baseline scenario (or its own reference), per variable and time.

    Parameters
    ----------
    ds
        Results with dimensions ``(scenario, time)``.
    baseline
        Name of the baseline scenario (a value of the ``scenario`` coordinate).
    variables
        Variables to include (default: all data variables with a time dimension).
    references
        Scenario -> its own reference (instead of one baseline); scenarios without
        one are NaN.

    Returns
    -------
    xarray.Dataset
        Same shape as *ds*; the baseline row is zero. Units are kept;
        ``long_name`` becomes ``"<long_name>, difference from <baseline>"``; with
        *references* a ``reference`` coordinate names each scenario's reference.
    """
    idx, against = _against(ds, baseline, references)
    names = list(variables) if variables is not None else [v for v in ds.data_vars if "time" in ds[v].dims]
    out = xr.Dataset(attrs={**ds.attrs, "baseline": baseline or ""})
    for name in names:
        da = _check_variable(ds, name)
        d = da - _pick(da, idx)
        d.attrs = {
            **da.attrs,
            "long_name": f"{da.attrs.get('long_name', name)}, difference from {against}",
        }
        out[name] = d
    if references is not None:
        out = out.assign_coords(reference=("scenario", [str(ds["scenario"].values[i]) if i >= 0 else ""
                                                        for i in idx]))
    out["time"].attrs = dict(ds["time"].attrs)
    return out


def ratios(ds: xr.Dataset, baseline: str | None = None, variables: Sequence[str] | None = None,
           references: Mapping[str, str | None] | None = None) -> xr.Dataset:
    """Return each scenario divided by the baseline or its own reference (NaN where that is 0 or missing).

    Units become ``"1"``; ``long_name`` becomes ``"<long_name> relative to <baseline>"``.
    """
    idx, against = _against(ds, baseline, references)
    names = list(variables) if variables is not None else [v for v in ds.data_vars if "time" in ds[v].dims]
    out = xr.Dataset(attrs={**ds.attrs, "baseline": baseline or ""})
    for name in names:
        da = _check_variable(ds, name)
        base = _pick(da, idx)
        r = da / base.where(base != 0)
        r.attrs = {
            **da.attrs,
            "units": "1",
            "long_name": f"{da.attrs.get('long_name', name)} relative to {against}",
        }
        out[name] = r
    out["time"].attrs = dict(ds["time"].attrs)
    return out


# --------------------------------------------------------------------------- KPI specs
@dataclasses.dataclass(frozen=True)
class KPI:
    """One key performance indicator; build it with :func:`parse_kpi`.

    Attributes
    ----------
    variable
        Dataset variable the KPI is computed from.
    measure
        One of ``at``, ``cum``, ``peak``, ``peak_time``, ``t>=``, ``t<=``, ``npv``.
    time
        Time for ``at`` (number, or ``"start"``/``"end"``).
    window
        ``(t0, t1)`` for ``cum``, ``peak``, ``peak_time``, ``npv`` (``None`` = whole horizon;
        either end may be ``"start"``/``"end"``).
    threshold
        Level for ``t>=``/``t<=``.
    rate
        Discount rate per time unit for ``npv``.
    per_cost
        Cost-effectiveness: divide the extra value over the baseline by the extra cost.
    cost_variable
        Cost variable used when *per_cost* (``None`` = the table's default).
    better
        ``"higher"`` or ``"lower"``: which values rank first.
    """

    variable: str
    measure: str
    time: float | str | None = None
    window: tuple[float | str, float | str] | None = None
    threshold: float | None = None
    rate: float | None = None
    per_cost: bool = False
    cost_variable: str | None = None
    better: str = "higher"
    text: str = ""

    @property
    def label(self) -> str:
        """Canonical KPI string (parses back to an equal KPI)."""
        return self.text or format_kpi(self)


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TIME = rf"(?:{_NUM}|start|end)"
_KPI_RE = re.compile(
    rf"""^\s*(?:(?P<dir>min|max):)?
    (?P<var>[A-Za-z_][A-Za-z0-9_]*)
    (?:
        @(?P<at>{_TIME})
      | :(?P<measure>cum|peak_time|peak|npv)(?:\[(?P<args>[^\]]*)\])?
      | :t(?P<op>>=|<=)(?P<thr>{_NUM})
    )
    (?P<cost>/cost(?:=(?P<costvar>[A-Za-z_][A-Za-z0-9_]*))?)?\s*$""",
    re.VERBOSE,
)

SYNTAX_HELP = (
    "valid forms: VAR@T, VAR:cum[T0,T1], VAR:peak, VAR:peak_time, VAR:t>=X, VAR:t<=X, "
    "VAR:npv[T0,T1,r=R], each optionally prefixed 'min:'/'max:' and suffixed '/cost' or '/cost=NAME' "
    "(T: number, 'start' or 'end'); e.g. firms@30, value_added:cum[0,30], firms:t>=50, firms@30/cost"
)


def better_direction(variable: str, measure: str = "at", per_cost: bool = False) -> str:
    """Which values of a KPI are better when the KPI string does not say: ``"higher"`` or ``"lower"``.

    Times to a threshold: earlier (lower) is better. Costs (a variable whose
    name has one of :data:`COST_WORDS` as a word): lower is better. Everything
    else, and every ``/cost`` ratio (extra outcome per extra money): higher.
    """
    if measure in ("t>=", "t<="):
        return "lower"
    if per_cost:
        return "higher"
    words = re.split(r"[_\W]+", str(variable).lower())
    return "lower" if any(w in COST_WORDS for w in words) else "higher"


def _time_value(text: str, kpi: str) -> float | str:
    text = text.strip()
    if text in ("start", "end"):
        return text
    try:
        return float(text)
    except ValueError:
        raise KPIError(f"KPI {kpi!r}: {text!r} is not a time; use a number, 'start' or 'end'") from None


def parse_kpi(text: str) -> KPI:
    """Parse a KPI string such as ``"firms@30"`` or ``"value_added:npv[0,60,r=0.03]"``.

    See the module docstring for the syntax.

    Raises
    ------
    KPIError
        If *text* does not follow the syntax.
    """
    if isinstance(text, KPI):
        return text
    m = _KPI_RE.match(text or "")
    if not m:
        raise KPIError(f"cannot read KPI {text!r}; {SYNTAX_HELP}")
    var = m["var"]
    per_cost = bool(m["cost"])
    costvar = m["costvar"]
    time = window = thr = rate = None
    if m["at"] is not None:
        measure = "at"
        time = _time_value(m["at"], text)
    elif m["op"]:
        measure = "t" + m["op"]
        thr = float(m["thr"])
    else:
        measure = m["measure"]
        args = [a.strip() for a in m["args"].split(",")] if m["args"] is not None and m["args"].strip() else []
        if measure == "npv":
            rates = [a for a in args if a.startswith("r=")]
            if len(rates) != 1:
                raise KPIError(f"KPI {text!r}: npv needs exactly one discount rate 'r=R', e.g. npv[0,60,r=0.03]")
            try:
                rate = float(rates[0][2:])
            except ValueError:
                raise KPIError(f"KPI {text!r}: discount rate {rates[0][2:]!r} is not a number") from None
            if rate <= -1:
                raise KPIError(f"KPI {text!r}: discount rate must be > -1, got {rate}")
            args = [a for a in args if not a.startswith("r=")]
        if args:
            if len(args) != 2:
                raise KPIError(f"KPI {text!r}: a window is two times [T0,T1], got {len(args)} value(s)")
            window = (_time_value(args[0], text), _time_value(args[1], text))
            if all(isinstance(w, float) for w in window) and window[0] >= window[1]:
                raise KPIError(f"KPI {text!r}: window start {window[0]} must be before its end {window[1]}")
    if per_cost and measure in ("t>=", "t<=", "peak_time"):
        raise KPIError(f"KPI {text!r}: '/cost' applies to values (@T, cum, peak, npv), not to times")
    if m["dir"]:
        better = "lower" if m["dir"] == "min" else "higher"
    else:
        better = better_direction(var, measure, per_cost)
    return KPI(
        variable=var, measure=measure, time=time, window=window, threshold=thr, rate=rate,
        per_cost=per_cost, cost_variable=costvar, better=better, text=re.sub(r"\s+", "", text),
    )


def _fmt_t(t: float | str) -> str:
    if isinstance(t, str):
        return t
    return f"{t:g}"


def format_kpi(k: KPI) -> str:
    """Return the canonical string of a KPI (inverse of :func:`parse_kpi`)."""
    if k.measure == "at":
        body = f"{k.variable}@{_fmt_t(k.time)}"
    elif k.measure in ("t>=", "t<="):
        body = f"{k.variable}:{k.measure}{k.threshold:g}"
    else:
        args = [] if k.window is None else [_fmt_t(k.window[0]), _fmt_t(k.window[1])]
        if k.measure == "npv":
            args.append(f"r={k.rate:g}")
        body = f"{k.variable}:{k.measure}" + (f"[{','.join(args)}]" if args else "")
    if k.better != better_direction(k.variable, k.measure, k.per_cost):
        body = ("min:" if k.better == "lower" else "max:") + body
    if k.per_cost:
        body += "/cost" + (f"={k.cost_variable}" if k.cost_variable else "")
    return body


def parse_kpis(texts: Iterable[str | KPI]) -> list[KPI]:
    """Parse several KPI strings (or pass KPI objects through)."""
    return [t if isinstance(t, KPI) else parse_kpi(t) for t in texts]


# --------------------------------------------------------------------------- KPI arithmetic
def _resolve_t(t: float | str, times: np.ndarray, kpi: str) -> float:
    if t == "start":
        return float(times[0])
    if t == "end":
        return float(times[-1])
    t = float(t)
    if t < times[0] - 1e-9 * max(1.0, abs(times[0])) or t > times[-1] + 1e-9 * max(1.0, abs(times[-1])):
        raise KPIError(f"KPI {kpi!r}: time {t:g} is outside the simulated period [{times[0]:g}, {times[-1]:g}]")
    return min(max(t, float(times[0])), float(times[-1]))


def _window(k: KPI, times: np.ndarray) -> tuple[float, float]:
    if k.window is None:
        return float(times[0]), float(times[-1])
    t0, t1 = (_resolve_t(w, times, k.label) for w in k.window)
    if t0 >= t1:
        raise KPIError(f"KPI {k.label!r}: window [{t0:g}, {t1:g}] is empty")
    return t0, t1


def _clip(times: np.ndarray, values: np.ndarray, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """Samples of *values* (rows x time) restricted to [t0, t1], ends interpolated."""
    inside = (times > t0) & (times < t1)
    tt = np.concatenate([[t0], times[inside], [t1]])
    rows = [np.concatenate([[np.interp(t0, times, v)], v[inside], [np.interp(t1, times, v)]]) for v in values]
    return tt, np.array(rows).reshape(len(values), len(tt))


def _crossing(times: np.ndarray, v: np.ndarray, level: float, op: str) -> float:
    hit = v >= level if op == "t>=" else v <= level
    idx = np.flatnonzero(hit)
    if idx.size == 0:
        return math.nan
    i = int(idx[0])
    if i == 0:
        return float(times[0])
    v0, v1 = v[i - 1], v[i]
    return float(times[i - 1] + (level - v0) / (v1 - v0) * (times[i] - times[i - 1]))


def _raw(k: KPI, da: xr.DataArray) -> tuple[np.ndarray, str, float]:
    """KPI values per scenario (before /cost), units, and the KPI's end time."""
    da = da.transpose(..., "time")
    times = np.asarray(da["time"].values, dtype=float)
    vals = np.asarray(da.values, dtype=float).reshape(-1, times.size)
    u, tu = _units(da), time_units(da)
    if k.measure == "at":
        t = _resolve_t(k.time, times, k.label)
        return np.array([np.interp(t, times, v) for v in vals]), u, t
    if k.measure in ("t>=", "t<="):
        return np.array([_crossing(times, v, k.threshold, k.measure) for v in vals]), tu, float(times[-1])
    t0, t1 = _window(k, times)
    tt, vv = _clip(times, vals, t0, t1)
    if k.measure == "cum":
        return np.trapezoid(vv, tt, axis=-1), _times_units(u, tu), t1
    if k.measure == "npv":
        disc = (1.0 + k.rate) ** (-(tt - t0))
        return np.trapezoid(vv * disc, tt, axis=-1), _times_units(u, tu), t1
    if k.measure == "peak":
        return vv.max(axis=-1), u, t1
    if k.measure == "peak_time":
        return tt[np.argmax(vv, axis=-1)], tu, t1
    raise KPIError(f"unknown KPI measure {k.measure!r}")  # pragma: no cover - parser guards


def _description(k: KPI, tu: str) -> str:
    t = f" {tu}" if tu else ""
    if k.measure == "at":
        d = f"{k.variable} at {'time ' + _fmt_t(k.time) if not isinstance(k.time, str) else 'the ' + k.time}"
    elif k.measure in ("t>=", "t<="):
        d = f"first time {k.variable} {'reaches' if k.measure == 't>=' else 'falls to'} {k.threshold:g}"
    else:
        w = "whole horizon" if k.window is None else f"{_fmt_t(k.window[0])}-{_fmt_t(k.window[1])}{t}"
        d = {
            "cum": f"cumulative {k.variable} over {w}",
            "peak": f"peak {k.variable} over {w}",
            "peak_time": f"time of peak {k.variable} over {w}",
        }.get(k.measure) or f"{k.variable} discounted at {k.rate:g}/{tu or 'time unit'}, summed over {w}"
    if k.per_cost:
        d = f"extra {d} per unit of extra public cost vs baseline"
    return d


def reference_index(names: Sequence[str], baseline: str | None = None,
                    references: Mapping[str, str | None] | None = None) -> np.ndarray:
    """Index of each scenario's reference in *names* (-1: none).

    With *references* (scenario -> reference name), each scenario is compared with its own
    reference; otherwise every scenario with *baseline* (itself included).
    """
    names = [str(n) for n in names]
    if references is None:
        if baseline is None:
            return np.full(len(names), -1)
        return np.full(len(names), names.index(baseline))
    out = []
    for n in names:
        ref = references.get(n)
        if ref is not None and ref not in names:
            raise ScenarioError(f"scenario {n!r}: reference {ref!r} is not among the scenarios {names}."
                                + suggest(ref, names))
        out.append(-1 if ref is None else names.index(ref))
    return np.array(out, dtype=int)


def _relative(values: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``values - values[reference]`` (NaN without a reference)."""
    base = np.where(ref >= 0, values[np.maximum(ref, 0)], np.nan)
    return values - base


def evaluate_kpi(
    ds: xr.Dataset, kpi: str | KPI, baseline: str | None = None, cost_variable: str = COST_VARIABLE,
    references: Mapping[str, str | None] | None = None,
) -> xr.DataArray:
    """Compute one KPI for every scenario.

    Parameters
    ----------
    ds
        Results with dims ``(scenario, time)``.
    kpi
        KPI string or :class:`KPI`.
    baseline
        Baseline scenario; ``/cost`` KPIs need it or *references*.
    cost_variable
        Cost variable for ``/cost`` KPIs that do not name one.
    references
        Scenario -> its own reference (overrides *baseline* for ``/cost``); scenarios
        without one get NaN.

    Returns
    -------
    xarray.DataArray
        Dim ``scenario``; attrs ``units``, ``long_name`` (the KPI string) and ``description``.
    """
    k = parse_kpi(kpi) if isinstance(kpi, str) else kpi
    da = _check_variable(ds, k.variable)
    if "scenario" not in da.dims:
        da = da.expand_dims(scenario=ds["scenario"].values if "scenario" in ds.dims else ["(single)"])
    values, units, t_end = _raw(k, da)
    if k.per_cost:
        if baseline is None and references is None:
            raise KPIError(f"KPI {k.label!r}: cost-effectiveness needs a baseline scenario")
        if baseline is not None:
            _check_baseline(ds, baseline)
        cname = k.cost_variable or cost_variable
        if cname not in ds.data_vars:
            raise KPIError(
                f"KPI {k.label!r}: cost-effectiveness needs the cumulative public cost variable {cname!r}, "
                f"which the results do not hold; available: {sorted(ds.data_vars)}."
                + suggest(cname, list(ds.data_vars))
                + " Add it to the scenario outputs, or name another with '/cost=NAME' or --cost-variable."
            )
        cda = _check_variable(ds, cname, "cost variable")
        if "scenario" not in cda.dims:
            cda = cda.expand_dims(scenario=da["scenario"].values)
        cda = cda.transpose("scenario", "time")
        times = np.asarray(cda["time"].values, dtype=float)
        cost = np.array([np.interp(t_end, times, row) for row in np.asarray(cda.values, dtype=float)])
        names = [str(s) for s in da["scenario"].values]
        ref = reference_index(names, baseline, references)
        extra_cost = _relative(cost, ref)
        extra = _relative(values, ref)
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = np.isfinite(extra_cost) & (extra_cost != 0)
            values = np.where(ok, extra / np.where(ok, extra_cost, 1.0), np.nan)
        same = [n for i, n in enumerate(names) if ref[i] >= 0 and ref[i] != i and extra_cost[i] == 0]
        if same:
            log.debug("KPI %s: %s cost the same as their reference; cost-effectiveness undefined (NaN)",
                     k.label, same)
        units = f"{units or '1'} per {_units(cda) or 'cost unit'}"
    out = xr.DataArray(
        values, dims=("scenario",), coords={"scenario": da["scenario"].values},
        attrs={"units": units, "long_name": k.label, "description": _description(k, time_units(ds))},
    )
    return out


def default_kpis(ds: xr.Dataset, cost_variable: str = COST_VARIABLE, max_variables: int | None = None) -> list[KPI]:
    """KPIs used when none are asked for: final value and peak of every variable,
    plus final-value cost-effectiveness when *cost_variable* is present.

    With *max_variables*, only the first that many variables are used (the cost
    variable always counts), and a warning says so.
    """
    out: list[KPI] = []
    has_cost = cost_variable in ds.data_vars
    names = [v for v in ds.data_vars if "time" in ds[v].dims and not set(ds[v].dims) - {"scenario", "time"}]
    if max_variables is not None and len(names) > max_variables:
        keep = [v for v in names if v != cost_variable][: max_variables - int(has_cost)]
        log.warning("default KPIs cover the first %d of %d variables; name others with --kpi", len(keep), len(names))
        names = keep + ([cost_variable] if has_cost else [])
    for v in names:
        if v == cost_variable:
            out.append(parse_kpi(f"{v}@end"))
            continue
        out += [parse_kpi(f"{v}@end"), parse_kpi(f"{v}:peak")]
        if has_cost:
            out.append(parse_kpi(f"{v}@end/cost"))
    return out


def kpi_table(
    ds: xr.Dataset,
    kpis: Iterable[str | KPI] | None = None,
    baseline: str | None = None,
    cost_variable: str = COST_VARIABLE,
    questions: "Sequence[Question] | None" = None,
) -> pd.DataFrame:
    """Compute KPIs for every scenario as a tidy table.

    Parameters
    ----------
    ds
        Results with dims ``(scenario, time)``.
    kpis
        KPI strings or objects (default: :func:`default_kpis`).
    baseline
        Baseline scenario; ``delta`` and ``ratio`` are relative to it (NaN without one).
    cost_variable
        Default cost variable for ``/cost`` KPIs.
    questions
        :class:`~sdcluster.brief.questions.Question` groups (from
        :func:`~sdcluster.brief.questions.plan_questions`): then ``delta``, ``ratio`` and
        ``/cost`` are relative to each scenario's own reference, and ``rank`` orders the
        policies of one question by their gain over their reference (context and
        reference runs are not ranked).

    Returns
    -------
    pandas.DataFrame
        One row per (kpi, scenario), columns :data:`TABLE_COLUMNS`: ``value``,
        ``units``, ``delta`` (value - reference value), ``ratio`` (value / reference value),
        ``rank`` (1 = best within the KPI, or within the KPI and question; ties share a
        rank; NaN values unranked), ``better`` (``higher``/``lower``), ``variable``,
        ``description``, ``reference`` and ``question``.
    """
    if baseline is not None:
        _check_baseline(ds, baseline)
    names = [str(s) for s in ds["scenario"].values]
    references: dict[str, str | None] | None = None
    group: dict[str, str] = {}
    ranked: set[str] = set(names)
    if questions is not None:
        references = {n: None for n in names}
        ranked = set()
        for q in questions:
            references.update(q.references)
            ranked.update(q.policies)
            for n in q.scenarios:
                group.setdefault(n, q.text)
    ref = reference_index(names, baseline, references)
    klist = default_kpis(ds, cost_variable) if kpis is None else parse_kpis(kpis)
    if not klist:
        raise KPIError("no KPIs to compute: the results hold no (scenario, time) variables")
    frames = []
    for k in klist:
        da = evaluate_kpi(ds, k, baseline=baseline, cost_variable=cost_variable, references=references)
        vals = pd.Series(da.values, index=names, dtype=float)
        base = np.where(ref >= 0, vals.values[np.maximum(ref, 0)], np.nan)
        delta = pd.Series(vals.values - base, index=names)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = pd.Series(np.where((base != 0) & np.isfinite(base), vals.values / base, np.nan), index=names)
        if questions is None:
            ranks = vals.rank(ascending=(k.better == "lower"), method="min", na_option="keep")
        else:  # policies ranked within their question by their gain over their own reference
            score = vals if k.per_cost else delta
            ranks = pd.Series(np.nan, index=names)
            for q in questions:
                members = [n for n in q.policies if n in ranked]
                if members:
                    ranks[members] = score[members].rank(ascending=(k.better == "lower"), method="min",
                                                         na_option="keep")
        frames.append(
            pd.DataFrame(
                {
                    "scenario": vals.index,
                    "kpi": k.label,
                    "value": vals.values,
                    "units": da.attrs["units"],
                    "delta": delta.values,
                    "ratio": ratio.values,
                    "rank": ranks.astype("Int64").values,
                    "better": k.better,
                    "variable": k.variable,
                    "description": da.attrs["description"],
                    "reference": [names[i] if i >= 0 else "" for i in ref],
                    "question": [group.get(n, "") for n in names],
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    table.attrs["baseline"] = baseline
    return table[TABLE_COLUMNS]


def rank(table: pd.DataFrame, kpi: str | KPI) -> pd.DataFrame:
    """Return the rows of *table* for one KPI, best first (unranked NaN rows last).

    Raises
    ------
    KPIError
        If *kpi* is not in the table.
    """
    label = kpi.label if isinstance(kpi, KPI) else parse_kpi(kpi).label if _KPI_RE.match(kpi) else kpi
    labels = list(dict.fromkeys(table["kpi"]))
    if label not in labels:
        raise KPIError(f"KPI {label!r} is not in the table; it has {labels}." + suggest(label, labels))
    rows = table[table["kpi"] == label]
    return rows.sort_values("rank", na_position="last", kind="stable").reset_index(drop=True)


def wide(table: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    """Pivot a tidy KPI table to one row per scenario and one column per KPI."""
    order_k = list(dict.fromkeys(table["kpi"]))
    order_s = list(dict.fromkeys(table["scenario"]))
    w = table.pivot(index="scenario", columns="kpi", values=column)
    return w.loc[order_s, order_k]


@dataclasses.dataclass
class Comparison:
    """Everything :func:`compare` computes."""

    baseline: str | None
    differences: xr.Dataset
    ratios: xr.Dataset
    kpis: pd.DataFrame
    questions: "list[Question] | None" = None


def compare(
    ds: xr.Dataset,
    baseline: str | None = None,
    kpis: Iterable[str | KPI] | None = None,
    cost_variable: str = COST_VARIABLE,
    questions: "Sequence[Question] | None" = None,
) -> Comparison:
    """Differences, ratios and the KPI table of *ds* in one call.

    Against *baseline*, or, with *questions*, each scenario against its own reference.
    """
    if questions is None and baseline is None:
        raise ScenarioError("compare() needs a baseline scenario or questions with references")
    refs = None
    if questions is not None:
        refs = {str(n): None for n in ds["scenario"].values}
        for q in questions:
            refs.update(q.references)
    return Comparison(
        baseline=baseline,
        differences=differences(ds, baseline, references=refs),
        ratios=ratios(ds, baseline, references=refs),
        kpis=kpi_table(ds, kpis, baseline=baseline, cost_variable=cost_variable, questions=questions),
        questions=list(questions) if questions is not None else None,
    )


# --------------------------------------------------------------------------- text output
def _fmt_num(x: object) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or x is pd.NA:
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    head = ["KPI", "scenario", "value", "units", "Δ vs baseline", "rank"]
    rows = []
    for r in table.itertuples(index=False):
        rows.append([r.kpi, r.scenario, _fmt_num(r.value), r.units, _fmt_num(r.delta),
                     "–" if pd.isna(r.rank) else str(int(r.rank))])
    return head, rows


def to_markdown(table: pd.DataFrame) -> str:
    """Render the KPI table as a GitHub-flavoured Markdown table (``|`` escaped)."""
    head, rows = _rows(table)
    esc = lambda s: str(s).replace("|", r"\|")  # noqa: E731
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---", "---:", "---", "---:", "---:"]) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_text(table: pd.DataFrame) -> str:
    """Render the KPI table as an aligned plain-text table for a terminal."""
    head, rows = _rows(table)
    right = {2, 4, 5}
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda row: "  ".join(  # noqa: E731
        (str(c).rjust(w) if i in right else str(c).ljust(w)) for i, (c, w) in enumerate(zip(row, widths))
    ).rstrip()
    out = [fmt(head), "  ".join("-" * w for w in widths)]
    prev = None
    for row in rows:
        if prev is not None and row[0] != prev:
            out.append("")
        out.append(fmt(row))
        prev = row[0]
    return "\n".join(out) + "\n"
