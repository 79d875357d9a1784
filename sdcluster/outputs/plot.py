"""Figures for scenario comparisons (matplotlib, Agg backend).

All figures are readable in greyscale: each scenario has its own line style
and marker (and a hatch pattern in bar charts), the baseline is drawn as a
thick black solid line; axes are labelled ``long_name [units]`` from the
variables' attrs and the time axis with the model's time unit. Legends sit
below the panels so they never cover data or overlap tick labels.

Functions return :class:`matplotlib.figure.Figure` objects; :func:`save_figure`
writes them (PNG and SVG by default) atomically.
"""
from __future__ import annotations

import io as _io
import itertools
import logging
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # never needs a display; must precede pyplot-based imports
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from ..analysis import compare as _compare  # noqa: E402
from ..errors import OutputError, SdclusterError, suggest  # noqa: E402
from .io import atomic_write  # noqa: E402
from ..analysis.lifecycle import STAGES, Stage, stages_by_scenario  # noqa: E402

log = logging.getLogger(__name__)

#: Line styles, markers and hatches cycled over non-baseline scenarios.
LINESTYLES = ["--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 2)), "-"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
HATCHES = ["//", "..", "xx", "\\\\", "oo", "--", "++", "**"]
#: Colour-blind-safe palette (Okabe-Ito) whose members also differ in lightness.
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8c564b", "#555555"]
#: Fill grey level and hatch per life-cycle stage (distinct in greyscale).
STAGE_STYLE = {
    "emergence": ("#f2f2f2", ""),
    "growth": ("#cfcfcf", "//"),
    "maturity": ("#a8a8a8", ""),
    "decline": ("#dcdcdc", "xx"),
    "renewal": ("#bdbdbd", ".."),
    "collapse": ("#8a8a8a", "\\\\"),
    "no cluster": ("#ffffff", "--"),
}

FIG_WIDTH = 7.5  # inches, readable in an A4 page or a browser


def axis_label(da: xr.DataArray | None, name: str = "", units: str | None = None) -> str:
    """``"long_name [units]"`` from a DataArray's attrs (units omitted when unknown)."""
    if da is not None:
        name = str(da.attrs.get("long_name") or da.name or name)
        units = da.attrs.get("units", units)
    return f"{name} [{units}]" if units not in (None, "") else name


def time_label(ds: xr.Dataset | xr.DataArray) -> str:
    """Label of the time axis, e.g. ``"time [Year]"``."""
    tu = _compare.time_units(ds)
    return f"time [{tu}]" if tu else "time"


def scenario_styles(scenarios: Sequence[str], baseline: str | None = None) -> dict[str, dict]:
    """Matplotlib line keyword arguments per scenario (baseline: thick black solid)."""
    out: dict[str, dict] = {}
    others = itertools.count()
    for s in scenarios:
        if s == baseline:
            out[s] = dict(color="black", linestyle="-", linewidth=2.6, marker=None, zorder=5,
                          label=_baseline_label(s))
            continue
        i = next(others)
        out[s] = dict(
            color=COLOURS[i % len(COLOURS)], linestyle=LINESTYLES[i % len(LINESTYLES)],
            marker=MARKERS[i % len(MARKERS)], linewidth=1.6, markersize=5, zorder=3, label=s,
            hatch=HATCHES[i % len(HATCHES)], _index=i,
        )
    return out


def _baseline_label(name: str) -> str:
    return name if "baseline" in name.lower() else f"{name} (baseline)"


def _line_kw(style: dict) -> dict:
    return {k: v for k, v in style.items() if k != "hatch" and not k.startswith("_")}


def _names(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in ds["scenario"].values] if "scenario" in ds.dims else ["run"]


def _variables(ds: xr.Dataset, variables: Sequence[str] | None) -> list[str]:
    if variables is None:
        return [v for v in ds.data_vars if "time" in ds[v].dims]
    missing = [v for v in variables if v not in ds.data_vars]
    if missing:
        raise _compare.KPIError(
            f"cannot plot {missing[0]!r}: not in the results; available: {sorted(ds.data_vars)}."
            + suggest(missing[0], list(ds.data_vars))
        )
    return list(variables)


def _grid(n: int, ncols: int, height: float = 2.6) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(FIG_WIDTH, height * nrows + 1.0), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _legend_below(fig: Figure, handles, labels) -> None:
    if not handles:
        return
    # one row when the labels fit the figure width (about 90 characters), else 3-4 columns
    if sum(len(s) + 6 for s in labels) <= 90:
        ncol = len(labels)
    else:
        ncol = min(len(labels), 3 if max(len(s) for s in labels) > 18 else 4)
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, fontsize="small")


def _compact(x: float, _pos: object = None) -> str:
    """Short tick label: 25000 -> '25k', 1.5e6 -> '1.5M' (plain below 10 000)."""
    size = abs(x)
    for threshold, div, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if size >= threshold:
            return f"{x / div:.4g}{suffix}"
    if size != 0 and size < 1e-3:
        return f"{x:.1e}"
    return f"{x:.4g}"


def _tidy_ticks(ax, axes: str = "xy", nbins: int = 5) -> None:
    """At most *nbins* ticks per axis with compact labels, so tick labels never collide."""
    for name in axes:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
        axis.set_major_formatter(FuncFormatter(_compact))


def _markevery(n: int, style: dict | None = None) -> tuple[int, int]:
    """About 8 markers per line, staggered between scenarios so markers do not coincide."""
    step = max(1, n // 8)
    i = (style or {}).get("_index", 0)
    return ((i * max(1, step // 3)) % step, step)


def _title(text: str, width: int = 38) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def trajectories(
    ds: xr.Dataset,
    variables: Sequence[str] | None = None,
    baseline: str | None = None,
    ncols: int = 2,
    title: str | None = None,
) -> Figure:
    """One panel per variable, one line per scenario; the baseline drawn thick black.

    Parameters
    ----------
    ds
        Results with dims ``(scenario, time)`` (or only ``time``).
    variables
        Variables to show (default: all with a time dimension).
    baseline
        Scenario to emphasise.
    ncols
        Panels per row.
    title
        Figure title.
    """
    names = _variables(ds, variables)
    if not names:
        raise SdclusterError("nothing to plot: the results hold no variables over time")
    scen = _names(ds)
    styles = scenario_styles(scen, baseline)
    fig, axes = _grid(len(names), ncols)
    n_t = ds.sizes["time"]
    for ax, name in zip(axes.flat, names):
        da = ds[name]
        for s in scen:
            y = da.sel(scenario=s) if "scenario" in da.dims else da
            ax.plot(ds["time"].values, y.values, markevery=_markevery(n_t, styles[s]), **_line_kw(styles[s]))
        ax.set_xlabel(time_label(ds))
        ax.set_ylabel(_title(axis_label(da, name), 28))
        ax.set_title(_title(str(da.attrs.get("long_name", name))), fontsize="medium")
        ax.grid(True, color="0.9")
        _tidy_ticks(ax)
    h, lab = axes.flat[0].get_legend_handles_labels()
    _legend_below(fig, h, lab)
    if title:
        fig.suptitle(title)
    return fig


def differences(
    ds: xr.Dataset, baseline: str, variables: Sequence[str] | None = None, ncols: int = 2
) -> Figure:
    """One panel per variable: each scenario minus the baseline (zero line in black)."""
    d = _compare.differences(ds, baseline, _variables(ds, variables))
    scen = [s for s in _names(ds) if s != baseline]
    styles = scenario_styles(_names(ds), baseline)
    names = list(d.data_vars)
    fig, axes = _grid(len(names), ncols)
    n_t = ds.sizes["time"]
    for ax, name in zip(axes.flat, names):
        da = d[name]
        ax.axhline(0.0, color="black", linewidth=1.8, label=_baseline_label(baseline))
        for s in scen:
            ax.plot(ds["time"].values, da.sel(scenario=s).values, markevery=_markevery(n_t, styles[s]),
                    **_line_kw(styles[s]))
        ax.set_xlabel(time_label(ds))
        ax.set_ylabel(_title(f"Δ {axis_label(ds[name], name)}", 28))
        ax.set_title(_title(f"{ds[name].attrs.get('long_name', name)}: difference from {baseline}"),
                     fontsize="medium")
        ax.grid(True, color="0.9")
        _tidy_ticks(ax)
    h, lab = axes.flat[0].get_legend_handles_labels()
    _legend_below(fig, h, lab)
    return fig


def kpi_bars(
    table: pd.DataFrame, kpis: Sequence[str] | None = None, baseline: str | None = None, ncols: int = 2
) -> Figure:
    """Horizontal bars per KPI (one panel each), one hatched bar per scenario.

    Parameters
    ----------
    table
        Tidy KPI table from :func:`sdcluster.analysis.compare.kpi_table`.
    kpis
        KPI labels to show (default: all, in table order).
    baseline
        Scenario drawn in black (default: ``table.attrs['baseline']``).
    """
    baseline = baseline if baseline is not None else table.attrs.get("baseline")
    labels = list(dict.fromkeys(table["kpi"])) if kpis is None else list(kpis)
    if not labels:
        raise SdclusterError("no KPIs to plot")
    scen = list(dict.fromkeys(table["scenario"]))
    styles = scenario_styles(scen, baseline)
    fig, axes = _grid(len(labels), ncols, height=0.35 * len(scen) + 1.4)
    for ax, label in zip(axes.flat, labels):
        if label not in set(table["kpi"]):
            raise _compare.KPIError(f"KPI {label!r} is not in the table." + suggest(label, set(table["kpi"])))
        rows = table[table["kpi"] == label].set_index("scenario").reindex(scen)
        y = np.arange(len(scen))[::-1]
        vals = rows["value"].to_numpy(dtype=float)
        for yi, s, v in zip(y, scen, vals):
            st = styles[s]
            face = "black" if s == baseline else st["color"]
            ax.barh(yi, 0.0 if np.isnan(v) else v, color=face, edgecolor="black",
                    hatch=None if s == baseline else st.get("hatch"), alpha=0.85)
            if np.isnan(v):
                ax.text(0, yi, " n/a", va="center", ha="left", fontsize="small")
        ax.set_yticks(y, scen, fontsize="small")
        units = rows["units"].dropna().iloc[0] if rows["units"].notna().any() else ""
        ax.set_xlabel(f"[{units}]" if units else "value", fontsize="small")
        ax.set_title(_title(label, 34), fontsize="medium")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.grid(True, axis="x", color="0.85")
        ax.set_axisbelow(True)
        ax.margins(x=0.08)
        _tidy_ticks(ax, "x", nbins=4)
    return fig


def stage_bands(
    ds: xr.Dataset,
    variable: str,
    stage_map: Mapping[str, Sequence[Stage]] | None = None,
    baseline: str | None = None,
    **stage_kwargs,
) -> Figure:
    """One panel per scenario: *variable* over time on shaded, hatched life-cycle stage bands.

    *stage_map* (scenario -> stages) defaults to :func:`sdcluster.analysis.lifecycle.stages_by_scenario`
    with *stage_kwargs*.
    """
    da = ds[_variables(ds, [variable])[0]]
    scen = _names(ds)
    stage_map = stage_map if stage_map is not None else stages_by_scenario(da, **stage_kwargs)
    styles = scenario_styles(scen, baseline)
    ncols = 1 if len(scen) < 3 else 2
    fig, axes = _grid(len(scen), ncols, height=2.0)
    seen: set[str] = set()
    for ax, s in zip(axes.flat, scen):
        y = da.sel(scenario=s) if "scenario" in da.dims else da
        for st in stage_map.get(s, stage_map.get(str(da.name), [])):
            face, hatch = STAGE_STYLE.get(st.name, ("#eeeeee", ""))
            ax.axvspan(st.start, st.end, facecolor=face, hatch=hatch, edgecolor="#7f7f7f", linewidth=0, zorder=0)
            seen.add(st.name)
        ax.plot(ds["time"].values, y.values, **{**_line_kw(styles[s]), "color": "black", "label": None},
                markevery=_markevery(ds.sizes["time"], styles[s]))
        ax.set_title(_baseline_label(s) if s == baseline else s, fontsize="medium")
        ax.set_xlabel(time_label(ds))
        ax.set_ylabel(_title(axis_label(da, variable), 24), fontsize="small")
        ax.set_xlim(float(ds["time"][0]), float(ds["time"][-1]))
        _tidy_ticks(ax)
    handles = [Patch(facecolor=STAGE_STYLE[n][0], hatch=STAGE_STYLE[n][1], edgecolor="#7f7f7f", label=n)
               for n in STAGES if n in seen]
    _legend_below(fig, handles, [h.get_label() for h in handles])
    fig.suptitle(f"Life-cycle stages of {da.attrs.get('long_name', variable)}", fontsize="medium")
    return fig


def stage_timeline(stage_map: Mapping[str, Sequence[Stage]], time_units: str = "") -> Figure:
    """Gantt-style chart: one row per scenario, one hatched bar per life-cycle stage."""
    scen = list(stage_map)
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.45 * len(scen) + 1.4), layout="constrained")
    seen: set[str] = set()
    for row, s in enumerate(scen[::-1]):
        for st in stage_map[s]:
            face, hatch = STAGE_STYLE.get(st.name, ("#eeeeee", ""))
            ax.broken_barh([(st.start, st.duration)], (row - 0.35, 0.7), facecolors=face, hatch=hatch,
                           edgecolor="black", linewidth=0.6)
            seen.add(st.name)
    ax.set_yticks(range(len(scen)), scen[::-1], fontsize="small")
    ax.set_xlabel(f"time [{time_units}]" if time_units else "time")
    handles = [Patch(facecolor=STAGE_STYLE[n][0], hatch=STAGE_STYLE[n][1], edgecolor="black", label=n)
               for n in STAGES if n in seen]
    _legend_below(fig, handles, [h.get_label() for h in handles])
    return fig


#: metadata that would make identical figures differ between runs (creation dates)
_NO_DATES = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}, "png": {}}


def savefig_reproducible(fig: Figure, target: Any, fmt: str, dpi: int = 120) -> None:
    """``fig.savefig`` whose output is byte-identical between identical runs.

    No creation dates in SVG/PDF metadata, and SVG element ids derived from a
    fixed salt instead of a random one (``svg.hashsalt``).
    """
    with matplotlib.rc_context({"svg.hashsalt": "sdcluster"}):
        fig.savefig(target, format=fmt, dpi=dpi, metadata=_NO_DATES.get(fmt, {}))


def save_figure(fig: Figure, outdir: str | Path, stem: str, formats: Sequence[str] = ("png", "svg"),
                dpi: int = 120) -> list[Path]:
    """Write *fig* as ``outdir/stem.<fmt>`` for each format, atomically; return the paths."""
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise OutputError(f"figure folder {outdir} does not exist")
    paths = []
    for fmt in formats:
        if fmt not in ("png", "svg", "pdf"):
            raise OutputError(f"figure format {fmt!r} is not supported; use png, svg or pdf")
        paths.append(atomic_write(outdir / f"{stem}.{fmt}",
                                  lambda tmp, f=fmt: savefig_reproducible(fig, tmp, f, dpi)))
    return paths


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 120) -> bytes:
    """Render *fig* to bytes (for embedding in a report)."""
    buf = _io.BytesIO()
    savefig_reproducible(fig, buf, fmt, dpi)
    return buf.getvalue()


def comparison_figures(
    ds: xr.Dataset,
    baseline: str,
    table: pd.DataFrame | None = None,
    stage_variable: str | None = None,
    stage_map: Mapping[str, Sequence[Stage]] | None = None,
    variables: Sequence[str] | None = None,
    max_panels: int = 12,
) -> dict[str, Figure]:
    """The standard set of comparison figures, keyed by file stem.

    At most *max_panels* variables (and KPIs) are drawn, so figures stay readable;
    a warning names what was left out.

    ``trajectories``, ``differences``, ``kpis`` (when *table* is given),
    ``stages`` and ``stage_timeline`` (when *stage_variable* is given).
    """
    names = _variables(ds, variables)
    if len(names) > max_panels:
        log.warning("figures show the first %d of %d variables (%s, ...); choose others with outputs/--outputs",
                    max_panels, len(names), ", ".join(names[:3]))
        names = names[:max_panels]
    figs = {
        "trajectories": trajectories(ds, names, baseline=baseline),
        "differences": differences(ds, baseline, names),
    }
    if table is not None and len(table):
        labels = list(dict.fromkeys(table["kpi"]))
        if len(labels) > max_panels:
            log.warning("the KPI figure shows the first %d of %d KPIs; all are in the table", max_panels, len(labels))
        figs["kpis"] = kpi_bars(table, labels[:max_panels], baseline=baseline)
    if stage_variable is not None:
        if stage_map is None:
            stage_map = stages_by_scenario(ds[stage_variable])
        figs["stages"] = stage_bands(ds, stage_variable, stage_map, baseline=baseline)
        figs["stage_timeline"] = stage_timeline(stage_map, _compare.time_units(ds))
    return figs
