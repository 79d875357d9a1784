"""Dose–response and timing curves of one instrument, with uncertainty bands.

A planner asks not only *whether* an instrument works but *how much* of it is
needed, *when* it must start, and *how sure* we can be. For one instrument of a
policy space (:mod:`sdcluster.design.space`), :func:`response` switches every
other instrument off (amount or share at 0, or at its lower bound when 0 is not
allowed), sweeps the instrument's annual amount (``lever="amount"``: a
dose–response curve) or its start year (``lever="start"``: a timing curve) over
its range, and runs every point over the policy space's ensemble.

Every point and the reference scenario run over the **same** ensemble members
(the same sampled parameter values): the gain of a point in member *m* is the
policy's effect in that uncertain world, so the band of gains is not widened by
the spread of the worlds themselves, and ``P(better)`` - the share of members
in which the policy beats the reference by a material margin (by default 1 %
of the reference's value, the brief's "material effect") - is a paired
probability (as in :mod:`sdcluster.brief.uncertainty`). The *threshold* is where ``P(better)``
first reaches one half: the smallest dose that works more often than not, or
the latest start that still does.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from typing import Any, Sequence

import numpy as np
import xarray as xr

from .. import __version__
from ..errors import ParameterError, suggest
from .problem import Problem
from .space import PolicySpace

log = logging.getLogger(__name__)

__all__ = ["response", "threshold", "with_kpis", "QUANTILES", "LEVERS", "MATERIAL"]

#: Quantiles of the value and gain bands (the 10-90 % band and the median).
QUANTILES = (0.1, 0.5, 0.9)
#: Levers that can be swept.
LEVERS = ("amount", "start")
#: A point "beats" the reference in a member when its gain exceeds this share of the reference's value.
MATERIAL = 0.01


def with_kpis(space: PolicySpace, kpis: Sequence[str]) -> PolicySpace:
    """*space* judged by *kpis* (compare's KPI syntax, e.g. ``trust@end``) instead of its objectives.

    Raises
    ------
    ParameterError
        A KPI that does not parse (the message gives the syntax).
    """
    from ..analysis.compare import KPIError, parse_kpi
    from .space import Objective, Robustness

    objectives = []
    for k in kpis:
        try:
            objectives.append(Objective(parse_kpi(k), Robustness()))
        except KPIError as exc:
            raise ParameterError(f"--kpi {k!r}: {exc}") from None
    if not objectives:
        raise ParameterError("no KPI given to judge the response by")
    return dataclasses.replace(space, objectives=objectives)


def _instrument(space: PolicySpace, name: str) -> Any:
    names = [i.name for i in space.instruments]
    for inst in space.instruments:
        if inst.name == name:
            return inst
    raise ParameterError(f"{space.label}: instruments: no instrument {name!r}; the space has {', '.join(names)}."
                         + suggest(name, names))


def _points(problem: Problem, inst: Any, lever: str, values: Sequence[float] | None, points: int,
            cap: float) -> np.ndarray:
    """The swept levels: *values* checked against the lever's range, or *points* over it (up to *cap*)."""
    setting = inst.amount if lever == "amount" else inst.start
    where = f"{problem.space.label}: instruments.{inst.name}.{lever}"
    if values is None:
        if points < 2:
            raise ParameterError(f"points = {points}: give at least 2 points to draw a curve")
        grid = np.linspace(setting.low, min(setting.high, cap), points)
        return np.unique(np.round(grid)) if setting.integer else grid
    grid = np.asarray([float(v) for v in values], dtype=float)
    if grid.size == 0:
        raise ParameterError(f"{where}: no values to sweep; give at least one")
    outside = [v for v in grid if not setting.low - 1e-12 <= v <= setting.high + 1e-12 or not math.isfinite(v)]
    if outside:
        raise ParameterError(f"{where}: value {outside[0]:g} lies outside the lever's range "
                             f"[{setting.low:g}, {setting.high:g}] in the policy space")
    if lever == "amount" and grid.max() > cap * (1 + 1e-9):
        raise ParameterError(f"{where}: value {grid.max():g} costs more than the space's budget of "
                             f"{problem.space.budget:g} {problem.space.budget_units} allows "
                             f"(at most {cap:g} a year with the other levers as set); raise budget.total")
    return grid


def _rows(problem: Problem, inst: Any, lever: str, grid: np.ndarray, fixed: dict[str, float]) -> np.ndarray:
    """Lever vectors: the swept lever over *grid*, this instrument's other levers fixed, the rest off."""
    X = np.empty((grid.size, len(problem.names)))
    for name, role, setting, col in problem._slots:
        if col is None:
            continue
        if name == inst.name and role == lever:
            X[:, col] = grid
        elif name == inst.name:
            default = setting.high if role in ("amount", "share", "duration") else setting.low
            X[:, col] = fixed.get(role, default)
        else:  # another instrument: off, or as early / short as it may be
            X[:, col] = 0.0 if role in ("amount", "share") and setting.low <= 0 <= setting.high else setting.low
    for role, value in fixed.items():
        if not any(n == inst.name and r == role and c is not None for n, r, _, c in problem._slots):
            raise ParameterError(f"{problem.space.label}: instruments.{inst.name}.{role}: not a searched lever of "
                                 "the instrument, so it cannot be fixed here")
    return X


def response(problem: Problem, instrument: str, lever: str = "amount", values: Sequence[float] | None = None,
             points: int = 11, fixed: dict[str, float] | None = None, material: float = MATERIAL) -> xr.Dataset:
    """Sweep one lever of one instrument and run each point over the policy space's ensemble.

    Parameters
    ----------
    problem
        A bound policy space (:func:`sdcluster.design.bind`).
    instrument
        Name of the instrument in the space (``brokering``, ``park``, ...).
    lever
        ``"amount"`` (dose–response: annual amount, in the space's money per
        time unit) or ``"start"`` (timing: start year).
    values
        Points to run (default: *points* evenly spaced over the lever's range).
    points
        Number of points when *values* is not given.
    fixed
        Values of the instrument's other levers (``{"amount": 1.0}`` for a timing
        curve); default: the largest amount and the earliest start the space allows.
    material
        A point beats the reference in a member when its gain, in the KPI's
        direction, exceeds this share of the reference's absolute value there.

    Returns
    -------
    xarray.Dataset
        Dims ``point`` (the swept values, coordinate ``level``), ``member`` and
        ``kpi``: ``value`` (kpi, point, member), ``reference`` (kpi, member),
        ``gain`` = value - reference, paired (kpi, point, member); the bands
        ``value_band``/``gain_band`` (kpi, point, quantile); ``p_better`` (kpi,
        point): share of members in which the point beats the reference in
        the KPI's direction by more than *material*; ``threshold`` (kpi): see :func:`threshold`;
        ``planned_cost`` (point). Attributes: instrument, lever, units,
        provenance (model file and hash, policy space and hash, ensemble).

    Raises
    ------
    ParameterError
        Unknown instrument (with the closest name), a lever the instrument does
        not have, or values outside the lever's range.
    """
    if lever not in LEVERS:
        raise ParameterError(f"lever {lever!r} is not one of {', '.join(LEVERS)}" + suggest(lever, LEVERS))
    space = problem.space
    inst = _instrument(space, instrument)
    setting = inst.amount if lever == "amount" else inst.start
    if setting is None or (lever == "amount" and inst.share is not None):
        raise ParameterError(f"{space.label}: instruments.{inst.name}: the instrument has no {lever} lever to sweep "
                             f"(the space gives {'a budget share' if inst.share is not None else 'no start'} instead)")
    if f"{inst.name}.{lever}" not in problem.names:
        raise ParameterError(f"{space.label}: instruments.{inst.name}.{lever}: fixed at {setting.low:g} in the "
                             "policy space; give it a range {low, high} to sweep it")
    col = problem.names.index(f"{inst.name}.{lever}")
    cap = math.inf
    if lever == "amount":  # the largest amount the budget allows with the other levers as set
        top = _rows(problem, inst, lever, np.array([setting.high]), dict(fixed or {}))
        cap = float(problem.repair(top)[0, col])
    grid = _points(problem, inst, lever, values, points, cap)
    X = problem.repair(_rows(problem, inst, lever, grid, dict(fixed or {})))
    planned = problem.planned_cost(X)
    ref = problem.evaluate_scenarios([space.reference])[0]
    res = problem.run_params(problem.parameters(X), X.shape[0])
    labels = list(dict.fromkeys(o.kpi.label for o in space.objectives))
    better = {o.kpi.label: o.kpi.better for o in space.objectives}
    value = np.stack([res[k] for k in labels])                      # (kpi, point, member)
    reference = np.stack([ref[k][0] for k in labels])               # (kpi, member)
    gain = value - reference[:, None, :]
    sign = np.array([1.0 if better[k] == "higher" else -1.0 for k in labels])[:, None, None]
    p_better = np.mean(sign * gain > material * np.abs(reference)[:, None, :], axis=2)
    q = np.asarray(QUANTILES)
    level_units = (f"{space.budget_units}/Year" if space.budget_units else "") if lever == "amount" else "Year"
    units = [problem.kpi_units.get(k, "") for k in labels]
    ds = xr.Dataset(
        {
            "value": (("kpi", "point", "member"), value, {"long_name": "KPI value of each point, run by run"}),
            "reference": (("kpi", "member"), reference,
                          {"long_name": f"KPI value of the reference scenario {space.reference.name!r}"}),
            "gain": (("kpi", "point", "member"), gain,
                     {"long_name": "KPI value minus the reference's in the same ensemble member"}),
            "value_band": (("kpi", "point", "quantile"), np.moveaxis(np.quantile(value, q, axis=2), 0, -1),
                           {"long_name": "quantiles of the KPI value over the ensemble"}),
            "gain_band": (("kpi", "point", "quantile"), np.moveaxis(np.quantile(gain, q, axis=2), 0, -1),
                          {"long_name": "quantiles of the paired gain over the reference"}),
            "reference_band": (("kpi", "quantile"), np.quantile(reference, q, axis=1).T,
                               {"long_name": "quantiles of the reference's KPI value"}),
            "p_better": (("kpi", "point"), p_better,
                         {"units": "1", "long_name": "share of ensemble members in which the point beats the "
                                                     "reference"}),
            "planned_cost": ("point", planned, {"units": space.budget_units,
                                                "long_name": "planned public cost (amount x active years)"}),
        },
        coords={"kpi": labels, "point": np.arange(grid.size), "member": np.arange(problem.members),
                "quantile": q,
                "level": ("point", X[:, col], {"units": level_units,
                                               "long_name": f"{inst.name} {lever}"
                                                            + (f" ({setting.parameter})" if setting.parameter else "")}),
                "better": ("kpi", [better[k] for k in labels]),
                "kpi_units": ("kpi", units)},
    )
    ds["threshold"] = ("kpi", [threshold(ds.sel(kpi=k), lever) for k in labels],
                       {"units": level_units, "long_name": "level at which P(better) crosses one half "
                                                           "(NaN: never)"})
    ds.attrs = {"title": f"sdcluster response: {inst.name} {lever}", "instrument": inst.name, "lever": lever,
                "policy_space": str(space.source), "policy_space_sha256": space.sha256,
                "reference_scenario": space.reference.name, "model_file": problem.model.path.name,
                "model_sha256": problem.model.sha256, "members": problem.members,
                "fixed": json.dumps(dict(fixed or {})),
                "material": material, "sdcluster_version": __version__, "Conventions": "CF-1.8"}
    if problem.samples is not None:
        ds.attrs["samples"] = json.dumps(problem.samples.meta, default=str)
    return ds


def threshold(one: xr.Dataset, lever: str) -> float:
    """Level at which ``P(better)`` of one KPI crosses one half, interpolated linearly.

    For a dose (``amount``), the smallest dose from which the policy beats the
    reference in at least half the members; for a start year, the latest start
    up to which it does. NaN when it never does; the first level when it always does.
    """
    level = np.asarray(one["level"].values, dtype=float)
    p = np.asarray(one["p_better"].values, dtype=float)
    order = np.argsort(level)
    level, p = level[order], p[order]
    if lever == "start":  # read from the latest start backwards
        level, p = level[::-1], p[::-1]
    ok = p >= 0.5
    if not ok.any():
        return math.nan
    i = int(np.argmax(ok))
    if i == 0:
        return float(level[0])
    lo, hi = p[i - 1], p[i]
    frac = (0.5 - lo) / (hi - lo) if hi != lo else 1.0
    return float(level[i - 1] + frac * (level[i] - level[i - 1]))
