"""Figures of the brief: per question, a cost-outcome chart, sorted KPI bars and trajectories.

Every policy keeps one colour *and* one marker in all panels of its question
(:func:`policy_styles`). A panel never carries more than :data:`MAX_LINES`
distinguishable lines: with more policies, the best and the worst ones are
highlighted and the others drawn thin and grey ("other policies"). References
are black, context runs grey and dotted.
"""
from __future__ import annotations

import math
import textwrap
from typing import Mapping, Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis.compare import time_units
from ..outputs.plot import COLOURS, MARKERS, STAGE_STYLE, _tidy_ticks, axis_label, plt, time_label
from .findings import PolicyResult, kpi_phrase
from .questions import Question

#: Most distinguishable lines in one panel (references and highlighted policies).
MAX_LINES = 6
#: Most highlighted policies in a trajectory panel (the rest are grey).
MAX_HIGHLIGHTED = 4
REFERENCE_STYLES = ["-", "--", "-."]
OTHER = "#b0b0b0"
WIDTH = 12.0  # inches: three panels side by side at 100 dpi fill a 1200-pixel page


def policy_styles(policies: Sequence[str]) -> dict[str, dict]:
    """A colour and a marker per policy, in run order."""
    return {p: {"color": COLOURS[i % len(COLOURS)], "marker": MARKERS[i % len(MARKERS)]}
            for i, p in enumerate(policies)}


def highlighted(results: Sequence[PolicyResult], limit: int = MAX_HIGHLIGHTED) -> list[str]:
    """Policies drawn in colour in a trajectory panel: all when few, else the best and the worst."""
    names = [r.name for r in results]
    if len(names) <= limit:
        return names
    return names[: limit - 1] + names[-1:]


def _short(name: str, width: int = 24) -> str:
    return textwrap.shorten(name.replace("_", " "), width, placeholder="…")


def frontier(costs: Sequence[float], gains: Sequence[float], sign: float = 1.0) -> list[int]:
    """Indices of the efficient policies, cheapest first: no other policy (nor the reference,
    at cost 0 and gain 0) gives at least as much gain for no more cost."""
    pts = [(c, sign * g, i) for i, (c, g) in enumerate(zip(costs, gains)) if math.isfinite(c) and math.isfinite(g)]
    pts.sort(key=lambda p: (p[0], -p[1]))
    best, out = 0.0, []
    for c, g, i in pts:
        if g > best:
            out.append(i)
            best = g
    return out


def _spread_labels(ax, xs: Sequence[float], ys: Sequence[float], min_gap: float = 11.0) -> list[float]:
    """Vertical offsets (points) that keep labels of nearby markers at least *min_gap* points apart."""
    fig = ax.figure
    fig.canvas.draw_idle()
    disp = ax.transData.transform(np.column_stack([xs, ys]))
    scale = 72.0 / fig.dpi
    order = np.argsort(disp[:, 1])
    placed: list[tuple[float, float]] = []  # (x, label y) in points
    offsets = [0.0] * len(xs)
    for i in order:
        x, y = disp[i, 0] * scale, disp[i, 1] * scale
        ly = y
        for px, py in placed:
            if abs(px - x) < 80 and ly < py + min_gap:
                ly = py + min_gap
        placed.append((x, ly))
        offsets[i] = ly - y
    return offsets


def _cost_outcome(ax, results: Sequence[PolicyResult], styles: Mapping[str, dict], kpi, units: str,
                  money: str, uncertainty: Mapping[str, Mapping[str, float]], phrase: str) -> None:
    sign = 1.0 if kpi.better == "higher" else -1.0
    ax.axhline(0, color="black", lw=1)
    ax.annotate("reference", (0, 0), xytext=(3, 3), textcoords="offset points", fontsize=7)
    for r in results:
        u = uncertainty.get(r.name, {})
        yerr = xerr = None
        if "gain_low" in u:
            yerr = [[max(r.gain - u["gain_low"], 0)], [max(u["gain_high"] - r.gain, 0)]]
        if "cost_low" in u:
            xerr = [[max(r.cost - u["cost_low"], 0)], [max(u["cost_high"] - r.cost, 0)]]
        st = styles[r.name]
        ax.errorbar([r.cost], [r.gain], yerr=yerr, xerr=xerr, color=st["color"], marker=st["marker"], ms=7,
                    lw=0, elinewidth=1.2, capsize=3, label=_short(r.name), zorder=3)
    idx = frontier([r.cost for r in results], [r.gain for r in results], sign)
    if idx:
        xs = [0.0] + [results[i].cost for i in idx]
        ys = [0.0] + [results[i].gain for i in idx]
        ax.plot(xs, ys, color="#444444", ls=":", lw=1.2, zorder=2, label="efficient frontier")
    ax.set_xlabel(f"extra public cost vs reference [{money}]")
    ax.set_ylabel(textwrap.fill(f"gain in {phrase} [{units}]", 30))
    ax.set_title("(a) Cost and outcome" + (" (90 % intervals)" if uncertainty else ""), fontsize="medium",
                 loc="left")
    lo, hi = ax.get_xlim()
    ax.set_xlim(min(lo, -0.04 * hi), hi + 0.35 * (hi - min(lo, 0)))  # room for the labels
    _tidy_ticks(ax)
    xs, ys = [r.cost for r in results], [r.gain for r in results]
    for r, dy in zip(results, _spread_labels(ax, xs, ys)):
        ax.annotate(_short(r.name), (r.cost, r.gain), xytext=(7, dy - 3), textcoords="offset points", fontsize=7,
                    color=styles[r.name]["color"], arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.5}
                    if abs(dy) > 6 else None)


def _bars(ax, results: Sequence[PolicyResult], styles: Mapping[str, dict], kpi, units: str,
          uncertainty: Mapping[str, Mapping[str, float]], phrase: str) -> None:
    rows = list(results)[::-1]  # best at the top
    refs = list(dict.fromkeys(r.reference for r in results))  # same line styles as in panel (c)
    for y, r in enumerate(rows):
        st = styles[r.name]
        ax.barh(y, r.value - r.reference_value, left=r.reference_value, height=0.6, color=st["color"],
                alpha=0.85, edgecolor="black", lw=0.5)
        ax.plot([r.value], [y], marker=st["marker"], color="white", mec="black", ms=6, lw=0, zorder=3)
        u = uncertainty.get(r.name, {})
        if "gain_low" in u:  # the paired interval of the gain, drawn from the reference's point value
            lo, hi = r.reference_value + u["gain_low"], r.reference_value + u["gain_high"]
            ax.errorbar([r.value], [y], xerr=[[max(r.value - lo, 0)], [max(hi - r.value, 0)]],
                        color="black", lw=0, elinewidth=1, capsize=3, zorder=4)
        ls = REFERENCE_STYLES[refs.index(r.reference) % len(REFERENCE_STYLES)]
        ax.plot([r.reference_value] * 2, [y - 0.42, y + 0.42], color="black", lw=2, ls=ls, zorder=4)
    handles = [Line2D([], [], color="black", lw=2, ls=REFERENCE_STYLES[i % 3], label=f"{_short(ref)} (reference)")
               for i, ref in enumerate(refs)]
    ax.legend(handles=handles, fontsize=7, loc="best", frameon=True)
    ax.set_yticks(range(len(rows)), [_short(r.name) for r in rows], fontsize=8)
    values = [v for r in rows for v in (r.value, r.reference_value,
                                        r.reference_value + uncertainty.get(r.name, {}).get("gain_low", r.gain),
                                        r.reference_value + uncertainty.get(r.name, {}).get("gain_high", r.gain))]
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi) * 0.05, 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(f"{phrase} [{units}]")
    ax.set_title("(b) Best first; bars start at the reference", fontsize="medium", loc="left")
    _tidy_ticks(ax, "x")


def _trajectories(ax, ds: xr.Dataset, variable: str, question: Question, results: Sequence[PolicyResult],
                  styles: Mapping[str, dict], bands: xr.Dataset | None, kpi=None) -> None:
    t = ds["time"].values
    da = ds[variable]
    shown = highlighted(results)
    refs = list(dict.fromkeys(r.reference for r in results))
    n = t.size
    for r in results:
        if r.name not in shown:
            ax.plot(t, da.sel(scenario=r.name).values, color=OTHER, lw=0.8, zorder=1)
    if len(shown) < len(results):
        ax.plot([], [], color=OTHER, lw=0.8, label="other policies")
    for i, ref in enumerate(refs):
        ax.plot(t, da.sel(scenario=ref).values, color="black", lw=1.8, ls=REFERENCE_STYLES[i % 3],
                label=f"{_short(ref)} (reference)", zorder=2)
    context = [c for c in question.context if c not in refs][: max(0, MAX_LINES - len(refs) - len(shown))]
    for c in context:
        ax.plot(t, da.sel(scenario=c).values, color="#777777", lw=1, ls=":", label=f"{_short(c)} (context)")
    for k, name in enumerate(shown):
        st = styles[name]
        y = da.sel(scenario=name).values
        step = max(1, n // 7)
        ax.plot(t, y, color=st["color"], marker=st["marker"], ms=5, lw=1.4, markevery=((k * 2) % step, step),
                label=_short(name), zorder=3)
        if bands is not None and variable in bands:
            b = bands[variable].sel(scenario=name)
            ax.fill_between(t, b.isel(percentile=0).values, b.isel(percentile=-1).values, color=st["color"],
                            alpha=0.12, lw=0)
    if kpi is not None and kpi.measure == "at" and not isinstance(kpi.time, str):
        ax.axvline(float(kpi.time), color="#999999", lw=0.8, ls="--")
    ax.set_xlabel(time_label(ds))
    ax.set_ylabel(textwrap.fill(axis_label(da, variable), 28))
    ax.set_xlim(float(t[0]), float(t[-1]))
    ax.set_title("(c) Over time" + (" (90 % bands)" if bands is not None else ""), fontsize="medium", loc="left")
    ax.legend(fontsize=7, loc="best", frameon=True)
    _tidy_ticks(ax)


def question_figure(ds: xr.Dataset, question: Question, results: Sequence[PolicyResult], kpi, *,
                    units: str, money: str, uncertainty: Mapping[str, Mapping[str, float]] | None = None,
                    bands: xr.Dataset | None = None) -> Figure:
    """The three panels of a question with policies: cost-outcome, sorted bars, trajectories."""
    styles = policy_styles(question.policies)
    phrase = kpi_phrase(kpi, time_units(ds), ds["time"].values)
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 3.7), layout="constrained",
                             gridspec_kw={"width_ratios": [1.05, 1.0, 1.1]})
    _cost_outcome(axes[0], results, styles, kpi, units, money, uncertainty or {}, phrase)
    _bars(axes[1], results, styles, kpi, units, uncertainty or {}, phrase)
    _trajectories(axes[2], ds, kpi.variable, question, results, styles, bands, kpi)
    return fig


def context_figure(ds: xr.Dataset, question: Question, variable: str, stage_map: Mapping | None = None,
                   bands: xr.Dataset | None = None) -> Figure:
    """A question without policies: its runs over time, on the life-cycle stages of the first."""
    fig, ax = plt.subplots(figsize=(WIDTH * 0.5, 3.0), layout="constrained")
    t = ds["time"].values
    runs = question.context[:MAX_LINES]
    first = runs[0]
    for st in (stage_map or {}).get(first, []):
        face, hatch = STAGE_STYLE.get(st.name, ("#eeeeee", ""))
        ax.axvspan(st.start, st.end, facecolor=face, hatch=hatch, edgecolor="#7f7f7f", lw=0, zorder=0)
        ax.text((st.start + st.end) / 2, 0.97, st.name, transform=ax.get_xaxis_transform(), ha="center",
                va="top", fontsize=7)
    for i, name in enumerate(runs):
        ax.plot(t, ds[variable].sel(scenario=name).values, color="black" if i == 0 else COLOURS[i],
                ls=REFERENCE_STYLES[i % 3], lw=1.6, label=_short(name))
        if bands is not None and variable in bands:
            b = bands[variable].sel(scenario=name)
            ax.fill_between(t, b.isel(percentile=0).values, b.isel(percentile=-1).values, color="black",
                            alpha=0.12, lw=0)
    ax.set_xlabel(time_label(ds))
    ax.set_ylabel(axis_label(ds[variable], variable))
    ax.set_xlim(float(t[0]), float(t[-1]))
    ax.legend(fontsize=7, loc="lower right")
    _tidy_ticks(ax)
    return fig


def appendix_figure(ds: xr.Dataset, question: Question, order: Sequence[str], variables: Sequence[str]) -> Figure:
    """Every output of a question's runs over time (small multiples), highlighting as in the brief."""
    styles = policy_styles(question.policies)
    ncols = 4
    nrows = max(1, math.ceil(len(variables) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, 2.1 * nrows + 0.6), layout="constrained",
                             squeeze=False)
    t = ds["time"].values
    refs = list(dict.fromkeys(question.references[p] for p in question.policies))
    shown = list(order)[:MAX_HIGHLIGHTED - 1] + list(order)[-1:] if len(order) > MAX_HIGHLIGHTED else list(order)
    for ax, v in zip(axes.flat, variables):
        da = ds[v]
        for p in question.policies:
            if p not in shown:
                ax.plot(t, da.sel(scenario=p).values, color=OTHER, lw=0.7)
        for i, c in enumerate(question.context[:3]):
            ax.plot(t, da.sel(scenario=c).values, color="black" if c in refs else "#777777",
                    ls=REFERENCE_STYLES[i % 3], lw=1.4)
        for p in shown:
            ax.plot(t, da.sel(scenario=p).values, color=styles[p]["color"], marker=styles[p]["marker"], ms=3.5,
                    lw=1.1, markevery=max(1, t.size // 6))
        ax.set_title(textwrap.shorten(axis_label(da, v), 40, placeholder="…"), fontsize=8)
        ax.tick_params(labelsize=7)
        _tidy_ticks(ax, nbins=4)
    for ax in axes.flat[len(variables):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color="black" if c in refs else "#777777", ls=REFERENCE_STYLES[i % 3], lw=1.4,
                      label=_short(c, 24)) for i, c in enumerate(question.context[:3])]
    handles += [Line2D([], [], color=styles[p]["color"], marker=styles[p]["marker"], lw=1.1, label=_short(p, 24))
                for p in shown]
    if len(shown) < len(question.policies):
        handles.append(Line2D([], [], color=OTHER, lw=0.7, label="other policies"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    return fig
