"""Figures of dose–response and timing curves (:mod:`sdcluster.design.response`).

One figure per KPI, two panels sharing the swept level (annual amount or start
year) on the x axis: the KPI's median with its 10-90 % band over the ensemble,
beside the reference scenario's band; and the share of ensemble members in which
the policy beats the reference, with the one-half line and the threshold.
"""
from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .plot import COLOURS, FIG_WIDTH, _compact, _tidy_ticks

__all__ = ["response_figure"]


def _level_label(ds: xr.Dataset) -> str:
    lvl = ds["level"]
    units = lvl.attrs.get("units", "")
    return f"{lvl.attrs.get('long_name', 'level')}" + (f" [{units}]" if units else "")


def response_figure(ds: xr.Dataset, kpi: str) -> Figure:
    """Dose–response (or timing) figure of one KPI of a :func:`~sdcluster.design.response.response` Dataset.

    Parameters
    ----------
    ds
        The response Dataset.
    kpi
        One of ``ds.kpi`` (compare's KPI label, e.g. ``value_added:cum``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    one = ds.sel(kpi=kpi)
    order = np.argsort(one["level"].values)
    x = np.asarray(one["level"].values, dtype=float)[order]
    band = one["value_band"].values[order]  # (point, quantile)
    ref = one["reference_band"].values       # (quantile,)
    units = str(one["kpi_units"].values)
    fig = Figure(figsize=(FIG_WIDTH, 5.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.axhspan(ref[0], ref[-1], color="#bbbbbb", alpha=0.45, lw=0,
                label=f"reference {ds.attrs.get('reference_scenario', '')}: 10-90 %")
    top.axhline(ref[1], color="black", lw=1.2, ls="--", label="reference: median")
    top.fill_between(x, band[:, 0], band[:, -1], color=COLOURS[0], alpha=0.3, lw=0, label="policy: 10-90 %")
    top.plot(x, band[:, 1], color=COLOURS[0], lw=2, marker="o", ms=3.5, label="policy: median")
    top.set_ylabel(f"{kpi}" + (f" [{units}]" if units else ""))
    top.yaxis.set_major_formatter(_compact)
    top.legend(loc="best", fontsize="small", frameon=False)
    what = "Dose–response" if ds.attrs.get("lever") == "amount" else "Timing"
    top.set_title(f"{what}: {ds.attrs.get('instrument', '')} ({int(ds.attrs.get('members', 0))} ensemble members, "
                  "paired with the reference)", fontsize="medium")
    p = one["p_better"].values[order]
    bottom.plot(x, p, color=COLOURS[1], lw=2, marker="s", ms=3.5)
    bottom.axhline(0.5, color="black", lw=0.8, ls=":")
    thr = float(one["threshold"].values)
    if math.isfinite(thr):
        bottom.axvline(thr, color=COLOURS[1], lw=1, ls="--")
        bottom.annotate(f"threshold {thr:.3g}", (thr, 0.5), xytext=(4, 6), textcoords="offset points",
                        fontsize="small", color=COLOURS[1])
    material = ds.attrs.get("material", 0.01)
    bottom.set_ylabel(f"P(better than reference\nby > {float(material):.0%})")
    bottom.set_ylim(-0.03, 1.03)
    bottom.set_xlabel(_level_label(ds))
    for ax in (top, bottom):
        ax.grid(True, lw=0.3, alpha=0.5)
        _tidy_ticks(ax, "x")
    return fig
