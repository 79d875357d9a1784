"""Global sensitivity of KPIs to uncertain parameters: Sobol and Morris indices (SALib).

>>> from sdcluster.uncertainty.sampling import load_uncertain
>>> u = load_uncertain("params.yaml")                                              # doctest: +SKIP
>>> table = sensitivity("scenarios/baseline.yaml", u, ["firms@30"], method="sobol", n=512)  # doctest: +SKIP

Both methods sample *probabilities* ``u`` in the unit hypercube with SALib and
map them to parameter values with each distribution's inverse CDF
(:meth:`sdcluster.uncertainty.sampling.Distribution.ppf`), so the indices refer to the
declared distributions, whatever their shape:

- **Sobol** (Saltelli sampling, ``n * (d + 2)`` runs without second-order
  terms): ``S1`` is the share of the KPI's variance due to the parameter alone,
  ``ST`` the share including all its interactions; ``*_conf`` are bootstrap
  half-widths of the 95 % confidence intervals.
- **Morris** (``n`` trajectories, ``n * (d + 1)`` runs): ``mu_star`` is the mean
  absolute elementary effect of moving the parameter across its distribution
  (from its 1 % to its 99 % quantile, in ``levels`` steps), in KPI units;
  ``sigma`` signals non-linearity or interactions.

The runs go through :func:`sdcluster.uncertainty.ensemble.run_ensemble` (vectorised,
parallel or on Dask); runs that fail (NaN KPI) make SALib's estimates NaN, and
are reported.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..analysis.compare import KPI, parse_kpis
from ..errors import ParameterError, SdclusterError, suggest
from .ensemble import run_ensemble
from .robustness import kpi_samples
from .sampling import Uncertain

log = logging.getLogger(__name__)

__all__ = ["sensitivity", "ranked", "METHODS", "MORRIS_RANGE"]

METHODS = ("sobol", "morris")

#: Quantile range a Morris trajectory moves each parameter over (unbounded distributions need one).
MORRIS_RANGE = (0.01, 0.99)

#: Columns of the result table, per method.
COLUMNS = {"sobol": ["kpi", "parameter", "S1", "S1_conf", "ST", "ST_conf"],
           "morris": ["kpi", "parameter", "mu_star", "mu_star_conf", "mu", "sigma"]}


def _problem(uncertain: Uncertain, bounds: tuple[float, float]) -> dict[str, Any]:
    return {"num_vars": len(uncertain.names), "names": uncertain.names, "bounds": [list(bounds)] * len(uncertain.names)}


def sensitivity(target: Any, uncertain: Uncertain, kpis: Iterable[str | KPI], *, method: str = "sobol",
                n: int = 256, seed: int | None = None, levels: int = 4, scenario: str | None = None,
                num_resamples: int = 100, **ensemble: Any) -> pd.DataFrame:
    """Sobol or Morris indices of each KPI with respect to each uncertain parameter.

    Parameters
    ----------
    target
        Model or a scenario (file, object); several scenarios need *scenario* to pick one.
    uncertain
        The parameters and their distributions.
    kpis
        KPI strings (see :mod:`sdcluster.analysis.compare`); ``/cost`` KPIs are not supported here.
    method
        ``"sobol"`` or ``"morris"``.
    n
        Sobol: base sample size (a power of 2; ``n * (d + 2)`` runs). Morris: trajectories.
    seed
        Seed of the SALib sample (default: the declaration's seed).
    levels
        Morris grid levels (even number >= 2).
    scenario
        Which scenario of a multi-scenario target.
    **ensemble
        Passed to :func:`~sdcluster.uncertainty.ensemble.run_ensemble` (``workers``,
        ``scheduler``, ``chunk_size``, ``progress``, ``allow_out_of_range``...).

    Returns
    -------
    pandas.DataFrame
        One row per (kpi, parameter); columns :data:`COLUMNS` for the method.
        ``attrs``: ``runs``, ``method``, ``failed_runs``.
    """
    if method not in METHODS:
        raise ParameterError(f"sensitivity method {method!r} is unknown; valid: {', '.join(METHODS)}."
                             + suggest(str(method), list(METHODS)))
    klist = parse_kpis(kpis)
    if not klist:
        raise ParameterError("sensitivity needs at least one KPI")
    if any(k.per_cost for k in klist):
        raise ParameterError("cost-effectiveness KPIs (/cost) need a baseline scenario; sensitivity works on one "
                             "scenario at a time")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ParameterError(f"n = {n!r}: give a whole number >= 2")
    d = len(uncertain.names)
    if d < 2 and method == "sobol":
        raise ParameterError("Sobol indices need at least two uncertain parameters")
    seed = uncertain.seed if seed is None else seed
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        if n & (n - 1):
            raise ParameterError(f"n = {n}: Sobol sampling needs a power of 2 (e.g. 256, 512, 1024)")
        problem = _problem(uncertain, (0.0, 1.0))
        u = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    else:
        from SALib.sample import morris as morris_sample

        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2 or levels % 2:
            raise ParameterError(f"levels = {levels!r}: Morris needs an even number of levels >= 2")
        problem = _problem(uncertain, MORRIS_RANGE)
        u = morris_sample.sample(problem, n, num_levels=levels, seed=seed)
    tiny = np.finfo(float).eps
    samples = uncertain.transform(np.clip(u, tiny, 1 - tiny))
    samples.meta.update({"method": method, "seed": seed})
    log.info("%s sensitivity: %d runs for %d parameters", method, samples.n, d)
    ensemble.setdefault("outputs", list(dict.fromkeys(k.variable for k in klist)))  # only what the KPIs need
    ds = run_ensemble(target, samples, **ensemble)
    if "scenario" in ds.dims:
        names = [str(s) for s in ds["scenario"].values]
        if scenario is None and len(names) == 1:
            scenario = names[0]
        if scenario not in names:
            raise ParameterError(f"pick one scenario for the sensitivity analysis among {names}"
                                 + (f"; {scenario!r} is not one." + suggest(str(scenario), names) if scenario else ""))
        ds = ds.sel(scenario=scenario)
    values = kpi_samples(ds, klist)
    rows = []
    failed = 0
    for k in klist:
        y = np.asarray(values[k.label].values, dtype=float)
        bad = ~np.isfinite(y)
        failed = max(failed, int(bad.sum()))
        if bad.any():
            log.warning("KPI %s is NaN/infinite in %d of %d runs; its indices are not defined", k.label,
                        int(bad.sum()), y.size)
        rows += _analyse(method, problem, u, y, k.label, num_resamples, seed, levels)
    table = pd.DataFrame(rows, columns=COLUMNS[method])
    table.attrs.update({"runs": samples.n, "method": method, "failed_runs": failed,
                        "model_file": ds.attrs.get("model_file", "")})
    return table


def _analyse(method: str, problem: dict, u: np.ndarray, y: np.ndarray, label: str, num_resamples: int,
             seed: int | None, levels: int) -> list[dict[str, Any]]:
    names = problem["names"]
    if not np.all(np.isfinite(y)):
        return [{"kpi": label, "parameter": p} for p in names]
    if np.ptp(y) == 0:
        log.warning("KPI %s does not vary across runs; every index is 0", label)
    if method == "sobol":
        from SALib.analyze import sobol

        with np.errstate(divide="ignore", invalid="ignore"):
            res = sobol.analyze(problem, y, calc_second_order=False, num_resamples=num_resamples, seed=seed)
        return [{"kpi": label, "parameter": p, "S1": res["S1"][i], "S1_conf": res["S1_conf"][i],
                 "ST": res["ST"][i], "ST_conf": res["ST_conf"][i]} for i, p in enumerate(names)]
    from SALib.analyze import morris

    res = morris.analyze(problem, u, y, num_resamples=num_resamples, num_levels=levels, seed=seed)
    return [{"kpi": label, "parameter": p, "mu_star": res["mu_star"][i], "mu_star_conf": res["mu_star_conf"][i],
             "mu": res["mu"][i], "sigma": res["sigma"][i]} for i, p in enumerate(names)]


def ranked(table: pd.DataFrame, kpi: str | None = None) -> pd.DataFrame:
    """Rows of one KPI, most influential parameter first (by ``ST`` or ``mu_star``)."""
    key = "ST" if "ST" in table.columns else "mu_star"
    labels = list(dict.fromkeys(table["kpi"]))
    kpi = kpi or labels[0]
    if kpi not in labels:
        raise SdclusterError(f"KPI {kpi!r} is not in the table; it has {labels}." + suggest(kpi, labels))
    return table[table["kpi"] == kpi].sort_values(key, ascending=False, na_position="last").reset_index(drop=True)

