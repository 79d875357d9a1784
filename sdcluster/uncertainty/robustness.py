"""How robust is a ranking of scenarios across uncertain parameters?

All functions take the Dataset of :func:`sdcluster.uncertainty.ensemble.run_ensemble`
(dims ``scenario``, ``run``, ``time``). KPIs use the syntax of
:mod:`sdcluster.analysis.compare` and are evaluated by its :func:`~sdcluster.analysis.compare.evaluate_kpi`,
run by run. Runs flagged ``failed`` (NaN/infinite outputs) are left out and counted.

Definitions (per KPI, over the *valid* runs, scenarios compared within the
same run, i.e. under the same sampled parameters):

- ``P(A beats B)``: share of runs in which A is strictly better than B
  (higher for ``better == "higher"``, lower otherwise). ``P(A beats B) +
  P(B beats A) + P(tie) = 1``.
- ``share ranked first``: share of runs in which the scenario is the best;
  a tie for first place is split equally among the tied scenarios, so the
  shares sum to 1. Runs where a scenario's KPI is NaN (e.g. a threshold never
  reached) count that scenario as worst in that run.
"""
from __future__ import annotations

import logging
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..analysis.compare import KPI, KPIError, evaluate_kpi, parse_kpi, parse_kpis
from ..errors import SdclusterError

log = logging.getLogger(__name__)

__all__ = ["percentile_bands", "kpi_samples", "beat_probability", "share_first", "robustness_table",
           "DEFAULT_PERCENTILES"]

#: Percentiles of the default confidence bands (like Vensim's sensitivity graphs: 50/75/95/100 %).
DEFAULT_PERCENTILES = (2.5, 5.0, 12.5, 25.0, 50.0, 75.0, 87.5, 95.0, 97.5)


def _valid_runs(ds: xr.Dataset) -> xr.Dataset:
    if "failed" not in ds:
        return ds
    failed = ds["failed"]
    if "scenario" in failed.dims:
        failed = failed.any("scenario")
    keep = ~np.asarray(failed.values, dtype=bool)
    if not keep.any():
        raise SdclusterError("every run of the ensemble failed (NaN/infinite outputs); nothing to summarise")
    if not keep.all():
        log.info("leaving out %d failed run(s) of %d", int((~keep).sum()), keep.size)
    return ds.isel(run=np.flatnonzero(keep))


def percentile_bands(ds: xr.Dataset, variables: Sequence[str] | None = None,
                     percentiles: Iterable[float] = DEFAULT_PERCENTILES) -> xr.Dataset:
    """Percentiles over runs of each variable at each time (and scenario).

    Returns
    -------
    xarray.Dataset
        The variables with the ``run`` dim replaced by ``percentile`` (0-100);
        attributes kept; ``attrs["valid_runs"]`` counts the runs used.
    """
    if "run" not in ds.dims:
        raise SdclusterError("percentile bands need an ensemble result with a 'run' dimension")
    q = np.asarray(list(percentiles), dtype=float)
    if q.size == 0 or np.any((q < 0) | (q > 100)):
        raise SdclusterError(f"percentiles must lie in [0, 100], got {q.tolist()}")
    valid = _valid_runs(ds)
    names = list(variables) if variables else [v for v in ds.data_vars if "time" in ds[v].dims and "run" in ds[v].dims]
    missing = [v for v in names if v not in ds.data_vars]
    if missing:
        raise SdclusterError(f"variables {missing} are not in the ensemble result; it has {sorted(ds.data_vars)}")
    out = {}
    for v in names:
        da = valid[v]
        vals = np.nanpercentile(da.values, q, axis=da.get_axis_num("run"))
        dims = ("percentile",) + tuple(d for d in da.dims if d != "run")
        out[v] = xr.Variable(dims, vals, attrs=dict(da.attrs))
    coords = {d: ds.coords[d] for d in ("scenario", "time") if d in ds.coords}
    coords["percentile"] = ("percentile", q, {"units": "%", "long_name": "percentile over runs"})
    bands = xr.Dataset(out, coords=coords)
    bands.attrs = {k: v for k, v in ds.attrs.items() if isinstance(v, (str, int, float))}
    bands.attrs["valid_runs"] = int(valid.sizes["run"])
    return bands


def kpi_samples(ds: xr.Dataset, kpis: Iterable[str | KPI], baseline: str | None = None) -> xr.Dataset:
    """KPI values run by run: one variable per KPI over ``(scenario, run)`` (or ``run``).

    Variables are named by the KPI string; ``/cost`` KPIs need *baseline* and are
    compared with the baseline *of the same run*.
    """
    klist = parse_kpis(kpis)
    if not klist:
        raise KPIError("no KPIs given")
    has_scenario = "scenario" in ds.dims
    if not has_scenario:
        ds = ds.expand_dims(scenario=["(model)"])
    names = [str(s) for s in ds["scenario"].values]
    n = ds.sizes["run"]
    out = {}
    for k in klist:
        if k.per_cost:
            if baseline is None:
                raise KPIError(f"KPI {k.label!r}: cost-effectiveness needs a baseline scenario")
            vals = np.empty((len(names), n))
            for r in range(n):  # the baseline of the same run
                vals[:, r] = evaluate_kpi(ds.isel(run=r), k, baseline=baseline).values
            attrs = dict(evaluate_kpi(ds.isel(run=0), k, baseline=baseline).attrs)
        else:
            flat = ds[[k.variable]] if k.variable in ds.data_vars else ds
            flat = flat.stack(case=("scenario", "run")).transpose("case", ...)
            labels = np.arange(flat.sizes["case"])
            flat = flat.drop_vars(["case", "scenario", "run"], errors="ignore").rename({"case": "scenario"})
            flat = flat.assign_coords(scenario=labels)
            da = evaluate_kpi(flat, k)
            vals = np.asarray(da.values, dtype=float).reshape(len(names), n)
            attrs = dict(da.attrs)
        out[k.label] = xr.Variable(("scenario", "run"), vals, attrs={**attrs, "better": k.better})
    res = xr.Dataset(out, coords={"scenario": ("scenario", names), "run": ds["run"].values})
    if "failed" in ds:
        res["failed"] = ds["failed"] if "scenario" in ds["failed"].dims else ds["failed"].expand_dims(
            scenario=names)
    if not has_scenario:
        res = res.isel(scenario=0, drop=True)
    return res


def _matrix(values: xr.DataArray, better: str) -> np.ndarray:
    v = np.asarray(values.transpose("scenario", "run").values, dtype=float)
    # NaN counts as worst
    return np.where(np.isnan(v), -np.inf, v) if better == "higher" else np.where(np.isnan(v), -np.inf, -v)


def _kpi_array(samples: xr.Dataset, kpi: str | KPI) -> tuple[xr.DataArray, str]:
    label = kpi.label if isinstance(kpi, KPI) else parse_kpi(kpi).label
    if label not in samples.data_vars:
        raise KPIError(f"KPI {label!r} is not among the evaluated KPIs {sorted(map(str, samples.data_vars))}")
    da = samples[label]
    if "failed" in samples:
        failed = samples["failed"]
        failed = failed.any("scenario") if "scenario" in failed.dims else failed
        da = da.isel(run=np.flatnonzero(~np.asarray(failed.values, dtype=bool)))
    if da.sizes["run"] == 0:
        raise SdclusterError("every run failed; no KPI values to compare")
    return da, da.attrs.get("better", parse_kpi(label).better)


def beat_probability(samples: xr.Dataset, kpi: str | KPI) -> pd.DataFrame:
    """``P(row scenario beats column scenario)`` on *kpi* over the valid runs (see module docstring)."""
    da, better = _kpi_array(samples, kpi)
    m = _matrix(da, better)
    names = [str(s) for s in da["scenario"].values]
    p = (m[:, None, :] > m[None, :, :]).mean(axis=-1)
    return pd.DataFrame(p, index=pd.Index(names, name="scenario"), columns=pd.Index(names, name="beats"))


def share_first(samples: xr.Dataset, kpi: str | KPI) -> pd.Series:
    """Share of valid runs in which each scenario ranks first on *kpi* (ties split)."""
    da, better = _kpi_array(samples, kpi)
    m = _matrix(da, better)
    best = m.max(axis=0)
    top = (m == best[None, :])
    share = (top / top.sum(axis=0, keepdims=True)).mean(axis=1)
    return pd.Series(share, index=pd.Index([str(s) for s in da["scenario"].values], name="scenario"),
                     name="share_first")


def robustness_table(samples: xr.Dataset, kpis: Iterable[str | KPI] | None = None,
                     percentiles: Sequence[float] = (5.0, 50.0, 95.0)) -> pd.DataFrame:
    """One row per (KPI, scenario): mean, percentiles, share ranked first, valid runs.

    *samples* is the result of :func:`kpi_samples` (with a ``scenario`` dim).
    """
    labels = [k.label if isinstance(k, KPI) else parse_kpi(k).label for k in kpis] if kpis is not None else \
        [str(v) for v in samples.data_vars if v != "failed"]
    rows = []
    for label in labels:
        da, better = _kpi_array(samples, label)
        first = share_first(samples, label)
        for s in da["scenario"].values:
            v = np.asarray(da.sel(scenario=s).values, dtype=float)
            finite = v[np.isfinite(v)]
            row = {"kpi": label, "scenario": str(s), "units": da.attrs.get("units", ""), "better": better,
                   "mean": float(finite.mean()) if finite.size else np.nan}
            for q in percentiles:
                row[f"p{q:g}"] = float(np.percentile(finite, q)) if finite.size else np.nan
            row["share_first"] = float(first[str(s)])
            row["valid_runs"] = int(v.size)
            row["nan_runs"] = int(v.size - finite.size)
            rows.append(row)
    return pd.DataFrame(rows)
