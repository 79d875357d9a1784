"""Scenario discovery: where in the uncertain parameters does a chosen policy fail to beat its reference?

A member of the ensemble is a *failure* of the chosen policy when its KPI (the
first objective's, by default) is not strictly better than the reference
scenario's in the same member (NaN counts as a failure). PRIM (Friedman and
Fisher 1999), as implemented in the EMA Workbench (Kwakkel 2017,
``ema_workbench.analysis.prim``), peels the parameter space into boxes where
failures are concentrated:

- **coverage**: share of all failures that fall inside the box;
- **density**: share of the members inside the box that are failures;
- **mass**: share of all members inside the box.

Each box is taken at the point of its peeling trajectory with the highest
coverage among those whose density reaches ``threshold`` (else the densest);
restrictions whose quasi p-values (lower and upper limit) are all above
``significance`` are then dropped (EMA's ``drop_restriction``) and coverage,
density and mass are those of the box that remains.

Why the EMA Workbench: it is BSD-licensed, maintained (TU Delft) and the
reference implementation of scenario discovery in robust decision making; the
``prim`` package on PyPI (1.0.0) is GPL-3, which an MIT library should not
depend on; EMA Workbench 3.0 needs Python 3.12 (we support 3.11), so the
2.5 line is used (same ``Prim`` API).
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SdclusterError, suggest
from .search import OptimizeResult

log = logging.getLogger(__name__)

__all__ = ["Discovery", "discover", "failures"]


@dataclass
class Discovery:
    """Result of :func:`discover`.

    Attributes
    ----------
    policy : str
        Name of the front point examined.
    kpi : str
        The KPI compared with the reference.
    x : pandas.DataFrame
        Sampled parameter values, one row per ensemble member.
    failed : numpy.ndarray
        True where the policy does not beat the reference.
    boxes : pandas.DataFrame
        One row per (box, restricted parameter): box, parameter, low, high,
        sampled_low, sampled_high, qp_low, qp_high (NaN for an unrestricted
        side), coverage, density, mass.
    trajectories : list of pandas.DataFrame
        Each box's peeling trajectory (coverage, density, mass, res_dim).
    against : str
        The scenario the policy is compared with.
    units : dict
        Units of each sampled parameter.
    """

    policy: str
    kpi: str
    x: pd.DataFrame
    failed: np.ndarray
    boxes: pd.DataFrame
    trajectories: list[pd.DataFrame] = field(default_factory=list)
    against: str = ""
    units: dict[str, str] = field(default_factory=dict)

    @property
    def failure_share(self) -> float:
        """Share of members in which the policy fails to beat the reference."""
        return float(self.failed.mean())


def best_point(result: OptimizeResult, objective: int = 0) -> int:
    """The front point (1-based) best on *objective*'s robust value."""
    o = result.space.objectives[objective]
    v = result.robust[o.label]
    return int(np.argmax(v if o.better == "higher" else -v)) + 1


def failures(result: OptimizeResult, point: int = 1, objective: int = 0, against: str | None = None) -> np.ndarray:
    """True for each member where front point *point* (1-based) does not beat the reference
    (or the ``compare_with`` scenario named *against*)."""
    if not 1 <= point <= len(result.X):
        raise SdclusterError(f"front point {point} does not exist; the front has points 1..{len(result.X)}")
    o = result.space.objectives[objective]
    v = result.kpis[o.kpi.label][point - 1]
    if against is None:
        r = result.reference[o.kpi.label]
    elif against in result.scenarios:
        r = result.scenarios[against][o.kpi.label]
    else:
        names = list(result.scenarios)
        raise SdclusterError(f"{result.space.label}: {against!r} is not one of the compare_with scenarios "
                             f"({', '.join(names) or 'none'}).{suggest(against, names)}")
    better = v > r if o.kpi.better == "higher" else v < r
    return ~(better & np.isfinite(v))


def discover(result: OptimizeResult, point: int | None = None, objective: int = 0, *, against: str | None = None,
             threshold: float = 0.8, peel_alpha: float = 0.05, significance: float = 0.05,
             max_boxes: int = 3) -> Discovery:
    """PRIM boxes of the uncertain parameters in which front point *point* fails to beat the reference.

    Parameters
    ----------
    result
        An optimisation result over an ensemble (the space needs ``uncertainty``).
    point
        Front point (1-based, as in ``front.csv``); default: the best on the objective.
    objective
        Index of the objective whose KPI is compared (default: the first).
    against
        Compare with this ``compare_with`` scenario instead of the reference.
    threshold
        Density a box should reach.
    peel_alpha
        Share of members peeled per PRIM step.
    significance
        A restricted parameter whose quasi p-values (PRIM's test that the restriction
        arose by chance) all exceed this is dropped from the box.
    max_boxes
        Most boxes to find.
    """
    p = result.problem
    if p.samples is None:
        raise SdclusterError(f"{result.space.label}: scenario discovery needs an ensemble; the space has no "
                             "'uncertainty'")
    point = best_point(result, objective) if point is None else point
    failed = failures(result, point, objective, against)
    x = pd.DataFrame({name: np.asarray(v, dtype=float) for name, v in p.samples.items()})
    o = result.space.objectives[objective]
    name = f"{result.space.name}_point_{point:02d}"
    units = {c: p.model.info(c).units or "1" for c in x.columns}
    columns = ["box", "parameter", "low", "high", "sampled_low", "sampled_high", "qp_low", "qp_high", "coverage",
               "density", "mass"]
    if not failed.any() or failed.all():
        log.info("%s fails in %d of %d members: nothing for PRIM to separate", name, failed.sum(), failed.size)
        return Discovery(name, o.kpi.label, x, failed, pd.DataFrame(columns=columns),
                         against=against or result.space.reference.name, units=units)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from ema_workbench.analysis import prim
        except ImportError:
            raise SdclusterError("scenario discovery needs the EMA Workbench: pip install 'sdcluster[discovery]'") \
                from None
        logging.getLogger("EMA").setLevel(logging.WARNING)
        alg = prim.Prim(x, failed, threshold=threshold, peel_alpha=peel_alpha)
        rows, trajectories = [], []
        for b in range(max_boxes):
            box = alg.find_box()
            if box is None:
                break
            traj = box.peeling_trajectory
            ok = traj[traj["density"] >= threshold]
            pick = int(ok["coverage"].idxmax()) if len(ok) else int(traj["density"].idxmax())
            box.select(pick)
            qp = {k: [np.nan if q < 0 else float(q) for q in v] for k, v in box.qp[pick].items()}
            for col, sides in qp.items():  # a restriction no side of which is significant is dropped
                if all(np.isnan(q) or q > significance for q in sides):
                    box.drop_restriction(col)
            cur = box._cur_box
            lims, full = box.box_lims[cur], box.box_lims[0]
            stats = box.peeling_trajectory.iloc[cur]
            trajectories.append(traj.copy())
            for col in x.columns:
                lo, hi = float(lims[col].iloc[0]), float(lims[col].iloc[1])
                if lo == float(full[col].iloc[0]) and hi == float(full[col].iloc[1]):
                    continue
                q_lo, q_hi = qp.get(col, [np.nan, np.nan])
                rows.append({"box": b + 1, "parameter": col, "low": lo, "high": hi,
                             "sampled_low": float(x[col].min()), "sampled_high": float(x[col].max()),
                             "qp_low": q_lo, "qp_high": q_hi,
                             "coverage": float(stats["coverage"]), "density": float(stats["density"]),
                             "mass": float(stats["mass"])})
            if stats["density"] < threshold:
                break
    return Discovery(name, o.kpi.label, x, failed, pd.DataFrame(rows, columns=columns), trajectories,
                     against or result.space.reference.name, units)


def figure(d: Discovery, path: Any) -> None:
    """Members in the two parameters of box 1 most often restricted, failures marked, box drawn;
    and box 1's coverage-density trade-off."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    box1 = d.boxes[d.boxes["box"] == 1] if len(d.boxes) else d.boxes
    names = list(box1["parameter"])[:2]
    others = [c for c in d.x.columns if c not in names]
    while len(names) < 2 and others:
        names.append(others.pop(0))
    a, b = names[0], names[1] if len(names) > 1 else names[0]
    ax.scatter(d.x[a][~d.failed], d.x[b][~d.failed], s=10, c="C0", label=f"beats {d.against}")
    ax.scatter(d.x[a][d.failed], d.x[b][d.failed], s=14, c="C3", marker="x", label="fails to beat it")
    if len(box1):
        lim = {r.parameter: (r.low, r.high) for r in box1.itertuples()}
        (x0, x1) = lim.get(a, (d.x[a].min(), d.x[a].max()))
        (y0, y1) = lim.get(b, (d.x[b].min(), d.x[b].max()))
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="k", lw=1.5,
                               label=f"PRIM box 1 (coverage {box1['coverage'].iloc[0]:.2f}, "
                                     f"density {box1['density'].iloc[0]:.2f})"))
    ax.set_xlabel(f"{a} ({d.units.get(a, '1')})")
    ax.set_ylabel(f"{b} ({d.units.get(b, '1')})")
    ax.set_title(f"{d.policy}: where it fails on {d.kpi} ({d.failure_share:.0%} of members)", fontsize=9)
    ax.legend(fontsize=7)
    if d.trajectories:
        t = d.trajectories[0]
        ax2.plot(t["coverage"], t["density"], "o-", ms=3)
        ax2.set_xlabel("coverage (share of failures inside the box, 1)")
        ax2.set_ylabel("density (share of failures among members in the box, 1)")
        ax2.set_title("PRIM peeling trajectory of box 1", fontsize=9)
    else:
        ax2.text(0.5, 0.5, "no box: the policy fails in no member or in all", ha="center", va="center")
        ax2.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
