"""Uncertainty in the brief: every scenario under the same sampled parameters, in one vectorised pass.

:func:`stacked_ensemble` stacks *scenarios x runs* parameter sets into one call of
:meth:`Model.run_batch <sdcluster.core.model.Model.run_batch>` (the engine behind
:func:`sdcluster.uncertainty.ensemble.run_ensemble`, which runs the scenarios one after another;
stacking them makes the per-time-step overhead shared by all scenarios, which is
what lets the main job include uncertainty). Every scenario sees the same samples
(common random numbers), so a policy and its reference differ, run by run, only by
the policy. :func:`summarise` turns the runs into what the brief shows: a 90 %
interval of each policy's gain over its reference and of its extra cost,
P(policy beats its reference), and, within each question, the share of runs in
which each policy ranks first.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import xarray as xr

from ..analysis.compare import KPI
from ..uncertainty.ensemble import _overlay, _sample_arrays
from ..errors import RunError
from ..uncertainty.robustness import kpi_samples
from .questions import Question

if TYPE_CHECKING:  # pragma: no cover
    from ..core.model import Model
    from ..scenarios.scenario import Scenario

log = logging.getLogger(__name__)

#: Percentiles of the intervals shown in the brief (a 90 % interval).
INTERVAL = (5.0, 95.0)


@dataclasses.dataclass(frozen=True)
class StackedValue:
    """One parameter of *S* scenarios x *n* runs: block *s* takes scenario *s*'s value (number,
    array of *n* or schedule callable) at time *t*."""

    parts: tuple
    n: int

    @property
    def batch_size(self) -> int:
        """Runs carried: scenarios x runs per scenario."""
        return len(self.parts) * self.n

    @staticmethod
    def _block(part: Any, t: Any, n: int) -> np.ndarray:
        value = part(t) if callable(part) else part
        return np.broadcast_to(np.asarray(value, dtype=float), (n,))

    def __call__(self, t: Any) -> np.ndarray:
        return np.concatenate([self._block(p, t, self.n) for p in self.parts])

    def run_value(self, i: int) -> Any:
        """The value of stacked run *i* alone (for a model run one set at a time)."""
        s, r = divmod(i, self.n)
        return lambda t, p=self.parts[s], r=r: float(self._block(p, t, self.n)[r])

    def to_dict(self) -> dict[str, Any]:
        """Description for provenance attributes."""
        return {"stacked": {"scenarios": len(self.parts), "runs": self.n}}


def stack_parameters(per_scenario: Sequence[Mapping[str, Any]], n: int, defaults: Mapping[str, float]
                     ) -> dict[str, Any]:
    """Stack per-scenario parameter mappings into one batch of ``len(per_scenario) * n`` runs."""
    keys = list(dict.fromkeys(k for p in per_scenario for k in p))
    out: dict[str, Any] = {}
    for key in keys:
        parts = tuple(p.get(key, defaults.get(key)) for p in per_scenario)
        if any(callable(x) for x in parts):
            out[key] = StackedValue(parts, n)
        else:
            out[key] = np.concatenate([np.broadcast_to(np.asarray(x, dtype=float), (n,)) for x in parts])
    return out


def stacked_ensemble(model: "Model", scenarios: Sequence["Scenario"], samples: Mapping[str, Any],
                     outputs: Sequence[str], *, allow_out_of_range: bool = False) -> xr.Dataset:
    """Run every scenario for every sampled parameter set in one vectorised pass.

    Returns the Dataset of :func:`sdcluster.uncertainty.ensemble.run_ensemble`'s shape: dims
    ``(scenario, run, time)``, ``failed`` flags, the sampled values as ``param_*``
    coordinates over ``run``; numbers equal to it (the same engine and arithmetic).

    Raises
    ------
    RunError
        When the scenarios do not share one time grid (run them with ``run_ensemble``).
    """
    arrays, n = _sample_arrays(model, samples)
    settings = [s.run_kwargs() for s in scenarios]
    if any(st != settings[0] for st in settings[1:]):
        raise RunError("the scenarios of one brief need the same time settings to run their uncertainty together")
    params = [_overlay(s.apply(model, allow_out_of_range=allow_out_of_range), arrays) for s in scenarios]
    defaults = {}
    for key in {k for p in params for k in p}:
        default = model.info(key).default
        defaults[key] = float(default) if isinstance(default, (int, float)) else np.nan
    stacked = stack_parameters(params, n, defaults)
    batch = model.run_batch(stacked, outputs=list(outputs), check_limits=not allow_out_of_range, **settings[0])
    names = [s.name for s in scenarios]
    data = {}
    for v in batch.data_vars:
        vals = np.asarray(batch[v].values, dtype=float).reshape(len(names), n, -1)
        data[v] = xr.Variable(("scenario", "run", "time"), vals, attrs=dict(batch[v].attrs))
    failed = np.zeros((len(names), n), dtype=bool)
    for v in data.values():
        failed |= ~np.isfinite(v.values).all(axis=-1)
    data["failed"] = xr.Variable(("scenario", "run"), failed, attrs={
        "long_name": "run failed", "units": "1", "description": "True where any output of the run is NaN or infinite"})
    coords: dict[str, Any] = {"scenario": ("scenario", names, {"long_name": "scenario"}),
                              "run": ("run", np.arange(n), {"long_name": "ensemble run index"}),
                              "time": ("time", batch["time"].values, dict(batch["time"].attrs))}
    for py, arr in arrays.items():
        info = model.info(py)
        coords[f"param_{py}"] = ("run", arr, {"long_name": info.name, "units": info.units,
                                              "description": f"sampled value of {info.name}"})
    out = xr.Dataset(data, coords=coords)
    attrs = {k: v for k, v in batch.attrs.items() if k not in ("parameters", "title")}
    meta = dict(getattr(samples, "meta", {}) or {})
    attrs.update(title=f"sdcluster brief ensemble of {model.path.name}", runs=n,
                 samples=json.dumps({**meta, "parameters": [model.info(p).name for p in arrays]}, default=str))
    if meta.get("seed") is not None:
        attrs["seed"] = int(meta["seed"])
    out.attrs = attrs
    if failed.any():
        log.warning("%d of %d runs failed (NaN/infinite outputs) and are left out", int(failed.any(0).sum()), n)
    return out


def summarise(ens: xr.Dataset, questions: Sequence[Question], kpi: KPI, cost_kpi: KPI | None
              ) -> dict[str, dict[str, float]]:
    """Per policy: 90 % intervals of its gain and extra cost over its reference (paired run by run),
    ``p_beats`` (share of runs in which it is strictly better than its reference) and
    ``share_first`` (share of runs in which it ranks first among its question's policies
    by gain; ties split). Runs that failed in any scenario are left out.
    """
    kpis = [kpi] + ([cost_kpi] if cost_kpi is not None else [])
    values = kpi_samples(ens, kpis)
    keep = ~np.asarray(ens["failed"].any("scenario").values, dtype=bool)
    names = [str(s) for s in values["scenario"].values]
    v = np.asarray(values[kpi.label].values, dtype=float)[:, keep]
    c = np.asarray(values[cost_kpi.label].values, dtype=float)[:, keep] if cost_kpi is not None else None
    sign = 1.0 if kpi.better == "higher" else -1.0
    lo, hi = INTERVAL
    out: dict[str, dict[str, float]] = {}
    for q in questions:
        gains = {}
        for p in q.policies:
            i, r = names.index(p), names.index(q.references[p])
            g = v[i] - v[r]
            gains[p] = g
            row = {"gain_low": float(np.percentile(g, lo)), "gain_high": float(np.percentile(g, hi)),
                   "p_beats": float(np.mean(sign * g > 0)), "runs": int(g.size),
                   "value_low": float(np.percentile(v[i], lo)), "value_high": float(np.percentile(v[i], hi))}
            if c is not None:
                dc = c[i] - c[r]
                row.update(cost_low=float(np.percentile(dc, lo)), cost_high=float(np.percentile(dc, hi)))
            out[p] = row
        if gains:
            m = sign * np.stack(list(gains.values()))
            m = np.where(np.isnan(m), -np.inf, m)
            top = m == m.max(axis=0, keepdims=True)
            share = (top / top.sum(axis=0, keepdims=True)).mean(axis=1)
            for p, s in zip(gains, share):
                out[p]["share_first"] = float(s)
    return out
