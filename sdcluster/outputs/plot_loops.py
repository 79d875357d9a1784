"""Figures of loop dominance: stacked relative loop scores over time on life-cycle stage bands."""
from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..analysis.lifecycle import StageError, stages
from ..analysis.loops import group_scores
from .plot import COLOURS, FIG_WIDTH, HATCHES, STAGE_STYLE, time_label

#: Loops shown individually when a model has no loop names (the rest are summed).
TOP_LOOPS = 7


def shares(ds: xr.Dataset, top: int = TOP_LOOPS, stock: str | None = None) -> xr.DataArray:
    """Relative scores to stack: per named group, or the *top* loops (by mean |score|) and the rest.

    With *stock*, only the loops through that stock (renormalised among themselves).
    """
    if any(ds["group"].values) or stock is not None:
        return group_scores(ds, stock=stock)
    parts = ds["partition"].values
    main = int(np.bincount(parts).argmax())
    sel = ds["relative_loop_score"].isel(loop=np.flatnonzero(parts == main))
    order = np.argsort(-np.abs(sel).mean("time").values, kind="stable")
    keep = sel.isel(loop=np.sort(order[:top]))
    labels = [str(n) for n in keep["loop"].values]
    out = keep.rename(loop="group").assign_coords(group=labels)
    if sel.sizes["loop"] > top:
        rest = sel.isel(loop=np.sort(order[top:])).sum("loop").expand_dims(group=["other loops"])
        out = xr.concat([out, rest], dim="group")
    return out


def dominance_figure(ds: xr.Dataset, stage_variable: str | None = None, title: str | None = None,
                     stock: str | None = None) -> Figure:
    """Stacked relative loop scores (reinforcing above zero, balancing below) with stage bands.

    Parameters
    ----------
    ds
        A result of :func:`sdcluster.analysis.loops.dominance`.
    stage_variable
        Stock whose life-cycle stages (:func:`sdcluster.analysis.lifecycle.stages`) shade
        the background; default: *stock*, else the first stock in ``ds``; ``""`` for none.
    stock
        Show only the loops through this stock (see :func:`sdcluster.analysis.loops.group_scores`).
    """
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(FIG_WIDTH, 5.2), sharex=True, layout="constrained",
                                  gridspec_kw={"height_ratios": [3, 1]})
    t = ds["time"].values
    stocks = [v for v in ds.data_vars if ds[v].dims == ("time",) and v != "dominant"]
    var = (stock or (stocks[0] if stocks else "")) if stage_variable is None else stage_variable
    seen = []
    if var:
        try:
            for st in stages(ds[var]):
                face, hatch = STAGE_STYLE.get(st.name, ("#eeeeee", ""))
                for a in (ax, ax2):
                    a.axvspan(st.start, st.end, facecolor=face, hatch=hatch, edgecolor="#7f7f7f", linewidth=0,
                              zorder=0, alpha=0.6)
                if st.name not in seen:
                    seen.append(st.name)
        except StageError:
            pass
    handles = []
    if ds.sizes["loop"]:
        sh = shares(ds, stock=stock)
        pos = np.clip(sh.values, 0, None)
        neg = np.clip(sh.values, None, 0)
        labels = [str(g) for g in sh["group"].values]
        colours = [COLOURS[i % len(COLOURS)] for i in range(len(labels))]
        hatches = [HATCHES[i % len(HATCHES)] if i >= len(COLOURS) else "" for i in range(len(labels))]
        axis = list(sh.dims).index("group")
        pos, neg = np.moveaxis(pos, axis, 0), np.moveaxis(neg, axis, 0)
        for data in (pos, neg):
            polys = ax.stackplot(t, data, colors=colours, linewidth=0.3, edgecolor="white")
            for p, h in zip(polys, hatches):
                p.set_hatch(h)
        handles = [Patch(facecolor=c, hatch=h, label=lab) for c, h, lab in zip(colours, hatches, labels)]
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("relative loop score (1)\n+ reinforcing, − balancing", fontsize="small")
    if stock:
        ax.set_title(f"loops through {ds[stock].attrs.get('long_name', stock) if stock in ds else stock}",
                     fontsize="small")
    if var:
        ax2.plot(t, ds[var].values, color="black")
        ax2.set_ylabel(f"{ds[var].attrs.get('long_name', var)}\n({ds[var].attrs.get('units', '')})",
                       fontsize="small")
    ax2.set_xlabel(time_label(ds))
    ax2.set_xlim(float(t[0]), float(t[-1]))
    handles += [Patch(facecolor=STAGE_STYLE[n][0], hatch=STAGE_STYLE[n][1], edgecolor="#7f7f7f",
                      label=f"stage: {n}") for n in seen]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize="small", frameon=False)
    name = ds.attrs.get("scenario") or ds.attrs.get("model_file", "")
    fig.suptitle(title or f"Loop dominance, {name}", fontsize="medium")
    return fig


