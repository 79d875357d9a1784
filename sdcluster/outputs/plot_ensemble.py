"""Figures of ensembles: confidence bands, KPI distributions, sensitivity tornado.

Styling (colours, labels with units, saving) comes from :mod:`sdcluster.outputs.plot`.
"""
from __future__ import annotations

import logging
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from ..errors import SdclusterError, suggest
from .plot import FIG_WIDTH, axis_label, scenario_styles, time_label
from ..uncertainty.robustness import percentile_bands

log = logging.getLogger(__name__)

__all__ = ["plot_bands", "plot_kpi_distributions", "plot_tornado"]


def _pairs(q: np.ndarray) -> list[tuple[float, float]]:
    """Symmetric percentile pairs, widest first: (2.5, 97.5), (5, 95), ..."""
    qs = sorted(float(x) for x in q)
    out = []
    for lo in qs:
        hi = 100.0 - lo
        if lo < 50 and any(abs(hi - x) < 1e-9 for x in qs):
            out.append((lo, hi))
    return out


def plot_bands(ds: xr.Dataset, variable: str, *, bands: xr.Dataset | None = None,
               baseline: str | None = None, title: str | None = None) -> Figure:
    """Confidence-band trajectories of *variable*: median line and nested percentile bands per scenario.

    Parameters
    ----------
    ds
        Ensemble result (``run`` dim), or already computed *bands* may be given.
    variable
        Variable to draw.
    bands
        Output of :func:`sdcluster.uncertainty.robustness.percentile_bands` (computed when omitted).
    baseline
        Scenario drawn in black.
    """
    if bands is None:
        bands = percentile_bands(ds, [variable])
    if variable not in bands:
        raise SdclusterError(f"cannot plot {variable!r}: not in the ensemble result; available: "
                             f"{sorted(bands.data_vars)}." + suggest(variable, list(bands.data_vars)))
    da = bands[variable]
    scen = [str(s) for s in da["scenario"].values] if "scenario" in da.dims else [""]
    styles = scenario_styles([s for s in scen if s], baseline)
    pairs = _pairs(da["percentile"].values)
    fig = Figure(figsize=(FIG_WIDTH, 3.6 * len(scen) if len(scen) > 1 else 4.2), layout="constrained")
    axes = fig.subplots(len(scen), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    t = da["time"].values
    for ax, s in zip(axes, scen):
        one = da.sel(scenario=s) if s else da
        colour = styles.get(s, {}).get("color", "#0072B2")
        for k, (lo, hi) in enumerate(pairs):
            alpha = 0.15 + 0.5 * (k + 1) / (len(pairs) + 1)
            ax.fill_between(t, one.sel(percentile=lo).values, one.sel(percentile=hi).values, color=colour,
                            alpha=alpha, linewidth=0, label=f"{100 - 2 * lo:g} % band ({lo:g}-{hi:g} pct.)")
        if np.any(np.isclose(da["percentile"].values, 50)):
            ax.plot(t, one.sel(percentile=50.0).values, color="black" if s == baseline else colour,
                    linewidth=1.8, label="median")
        ax.set_ylabel(axis_label(da))
        ax.set_title(s or variable, fontsize="medium", loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="best", frameon=False)
    axes[-1].set_xlabel(time_label(bands))
    fig.suptitle(title or f"{axis_label(da)}: spread over {bands.attrs.get('valid_runs', '?')} runs",
                 fontsize="medium")
    return fig


def plot_kpi_distributions(samples: xr.Dataset, kpi: str, *, baseline: str | None = None,
                           bins: int = 40, log: bool | None = None) -> Figure:
    """Histogram of one KPI over runs, one outline per scenario, medians marked.

    *samples* is the result of :func:`sdcluster.uncertainty.robustness.kpi_samples`. *log*: logarithmic
    value axis; by default chosen when all values are positive and span more than 20x
    between their 5th and 95th percentiles.
    """
    if kpi not in samples:
        raise SdclusterError(f"KPI {kpi!r} was not evaluated; available: {sorted(map(str, samples.data_vars))}")
    da = samples[kpi]
    if "scenario" not in da.dims:
        da = da.expand_dims(scenario=[""])
    names = [str(s) for s in da["scenario"].values]
    styles = scenario_styles([s for s in names if s], baseline)
    finite = np.asarray(da.values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        raise SdclusterError(f"KPI {kpi!r} is NaN in every run; nothing to plot")
    if log is None:
        p5, p95 = np.percentile(finite, [5, 95])
        log = bool(finite.min() > 0 and p95 > 20 * p5)
    if log and finite.min() <= 0:
        raise SdclusterError(f"KPI {kpi!r} has values <= 0; a logarithmic axis cannot show them")
    edges = (np.geomspace(finite.min(), finite.max(), bins + 1) if log and finite.max() > finite.min()
             else np.histogram_bin_edges(finite, bins=bins))
    fig = Figure(figsize=(FIG_WIDTH, 4.2), layout="constrained")
    ax = fig.subplots()
    for s in names:
        v = np.asarray(da.sel(scenario=s).values, dtype=float)
        v = v[np.isfinite(v)]
        st = styles.get(s, {"color": "#0072B2", "linestyle": "-"})
        ax.hist(v, bins=edges, histtype="step", linewidth=2.0 if s == baseline else 1.5, color=st["color"],
                linestyle=st.get("linestyle", "-"), label=f"{s} (median {np.median(v):.4g})" if s else None)
        ax.axvline(np.median(v), color=st["color"], linestyle=st.get("linestyle", "-"), linewidth=1)
    if log:
        ax.set_xscale("log")
    units = da.attrs.get("units", "")
    ax.set_xlabel((f"{kpi} [{units}]" if units else kpi) + (", log scale" if log else ""))
    ax.set_ylabel("runs [count]")
    ax.set_title(da.attrs.get("description", kpi), fontsize="medium", loc="left")
    ax.grid(alpha=0.3)
    if any(names):
        ax.legend(fontsize="small", frameon=False)
    return fig


def plot_tornado(table: pd.DataFrame, kpi: str | None = None) -> Figure:
    """Horizontal bars of Sobol ``S1``/``ST`` or Morris ``mu_star`` per parameter, largest on top."""
    labels = list(dict.fromkeys(table["kpi"]))
    if not labels:
        raise SdclusterError("the sensitivity table is empty")
    kpi = kpi or labels[0]
    if kpi not in labels:
        raise SdclusterError(f"KPI {kpi!r} is not in the table; it has {labels}." + suggest(kpi, labels))
    rows = table[table["kpi"] == kpi]
    sobol = "ST" in rows.columns
    key = "ST" if sobol else "mu_star"
    rows = rows.sort_values(key, ascending=True, na_position="first")
    y = np.arange(len(rows))
    fig = Figure(figsize=(FIG_WIDTH, 1.2 + 0.45 * len(rows)), layout="constrained")
    ax = fig.subplots()
    if sobol:
        ax.barh(y + 0.2, rows["ST"], height=0.4, xerr=rows["ST_conf"], color="#0072B2",
                label="total-order ST (with interactions)")
        ax.barh(y - 0.2, rows["S1"], height=0.4, xerr=rows["S1_conf"], color="#E69F00", hatch="//",
                label="first-order S1 (alone)")
        ax.set_xlabel("Sobol index [share of KPI variance]")
        ax.legend(fontsize="small", frameon=False, loc="lower right")
    else:
        ax.barh(y, rows["mu_star"], xerr=rows["mu_star_conf"], color="#0072B2")
        ax.set_xlabel(f"Morris mu* [{kpi} units per move across the distribution]")
    ax.set_yticks(y, rows["parameter"])
    ax.set_ylabel("parameter")
    ax.set_title(f"Sensitivity of {kpi}", fontsize="medium", loc="left")
    ax.grid(axis="x", alpha=0.3)
    return fig

