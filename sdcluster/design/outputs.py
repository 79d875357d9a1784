"""Write what :func:`~sdcluster.design.optimize` found: table, netCDF, figures, runnable scenario files.

Everything goes into a temporary folder next to the target, which is renamed
to the target only when complete (an existing target is replaced in the same
way), so a killed run never leaves a folder that looks finished.

Files in the output folder:

``front.csv``
    One row per front point: lever values, the model parameters they set,
    planned and mean paid public cost, each objective's robust value and each
    KPI's mean; plain CSV (no comment lines).
``front.nc``
    The same plus every KPI value run by run (``point x member``), with
    provenance attributes.
``comparison.csv``
    The reference and the ``compare_with`` scenarios over the same ensemble.
``scenarios/<space>_point_NN.yaml``
    Each front point as a self-contained scenario file (``sdcluster run`` it).
``front.png``, ``convergence.png``
    Public cost against the first objective with the hand-written scenarios
    overlaid; the best value (one objective) or hypervolume (several) per generation.
``summary.md``
    A short text for a policy brief.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from .. import __version__
from ..errors import OutputError
from .search import OptimizeResult

__all__ = ["write_outputs", "front_table", "comparison_table", "scenario_document"]


def front_table(result: OptimizeResult) -> pd.DataFrame:
    """One row per front point (see module docstring)."""
    p = result.problem
    params = result.parameters()
    rows = []
    for i in range(len(result.X)):
        row: dict[str, Any] = {"point": i + 1, "scenario": _point_name(result, i)}
        for j, name in enumerate(p.names):
            row[name] = float(result.X[i, j])
        for py, values in params.items():
            row[f"param:{p.model.info(py).name}"] = float(values[i])
        row["planned_cost"] = float(result.planned_cost[i])
        row["paid_cost_mean"] = float(np.nanmean(result.cost[i])) if np.isfinite(result.cost[i]).any() else np.nan
        for o in result.space.objectives:
            row[o.label] = float(result.robust[o.label][i])
        for label, v in result.kpis.items():
            row[f"mean({label})"] = float(np.mean(v[i]))
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(result: OptimizeResult) -> pd.DataFrame:
    """The reference and every ``compare_with`` scenario, with the same measures as the front."""
    rows = []
    for name, values in [(result.space.reference.name, result.reference), *result.scenarios.items()]:
        row: dict[str, Any] = {"scenario": name, "role": "reference" if values is result.reference else "compare_with"}
        c = values["__cost__"]
        row["paid_cost_mean"] = float(np.nanmean(c)) if np.isfinite(c).any() else np.nan
        row.update(result.robust_of(values))
        for o in result.space.objectives:
            row[f"mean({o.kpi.label})"] = float(np.mean(values[o.kpi.label]))
        rows.append(row)
    return pd.DataFrame(rows)


def _point_name(result: OptimizeResult, i: int) -> str:
    return f"{result.space.name}_point_{i + 1:02d}"


def scenario_document(result: OptimizeResult, i: int) -> tuple[str, dict[str, Any]]:
    """``(header comment, scenario mapping)`` of front point *i*: the reference plus the lever values."""
    space, p = result.space, result.problem
    ref = space.reference
    params = {str(k): float(v) for k, v in ref.parameters.items()}
    for py, values in result.parameters().items():
        params[p.model.info(py).name] = float(values[i])
    doc: dict[str, Any] = {"name": _point_name(result, i),
                           "description": f"Point {i + 1} of {len(result.X)} found by sdcluster optimize for "
                                          f"policy space {space.name!r} (planned cost "
                                          f"{result.planned_cost[i]:.4g} {space.budget_units}).".replace("  ", " "),
                           "model": ref.model}
    if ref.time:
        doc["time"] = {k: float(v) for k, v in ref.time.items()}
    doc["parameters"] = params
    if ref.policies:
        doc["policies"] = [pol.to_dict() for pol in ref.policies]
    if ref.outputs:
        doc["outputs"] = list(ref.outputs)
    lines = [f"Question: {space.question}" if space.question else f"Policy space {space.name}",
             f"Found by sdcluster {__version__} optimize ({result.settings['algorithm']}, seed "
             f"{result.settings['seed']}, {result.settings['runs']} ensemble members) from {space.source}.",
             "Reference " + (ref.source or ref.name) + " with the levers set; robust values over the ensemble:"]
    lines += [f"  {o.label} = {result.robust[o.label][i]:.6g}" for o in space.objectives]
    return "\n".join("# " + line for line in lines) + "\n", doc


def _figure_front(result: OptimizeResult, comparison: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = front_table(result)
    space = result.space
    outcome = space.objectives[0]
    xcol = "paid_cost_mean" if table["paid_cost_mean"].notna().all() else "planned_cost"
    units = space.budget_units
    fig, ax = plt.subplots(figsize=(7.5, 5))
    order = np.argsort(table[xcol].values)
    ax.plot(table[xcol].values[order], table[outcome.label].values[order], "o-", color="C0", ms=4,
            label=f"optimised ({len(table)} front point{'s' if len(table) != 1 else ''})")
    for _, row in comparison.iterrows():
        x = row["paid_cost_mean"] if xcol == "paid_cost_mean" else np.nan
        y = row[outcome.label]
        if not np.isfinite(x):
            continue
        within = x <= space.budget * (1 + 1e-9)
        ax.scatter([x], [y], marker="s" if row["role"] == "reference" else "^",
                   color="k" if row["role"] == "reference" else ("C3" if within else "0.6"), zorder=3)
        ax.annotate(row["scenario"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axvline(space.budget, color="0.5", ls=":", lw=1, label=f"budget {space.budget:g} {units}".strip())
    ax.set_xlabel(f"public cost paid, mean over ensemble ({units or 'money units'})")
    ax.set_ylabel(f"{outcome.label} ({result.kpis_units.get(outcome.kpi.label, '')})".replace(" ()", ""))
    ax.set_title(f"{space.name}: optimised mixes vs hand-written scenarios (triangles)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _figure_convergence(result: OptimizeResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = pd.DataFrame(result.history)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if "hypervolume" in h:
        ax.plot(h["evaluations"], h["hypervolume"], "o-", ms=3)
        ax.set_ylabel("hypervolume of the feasible front (normalised, 1)")
    else:
        o = result.space.objectives[0]
        ax.plot(h["evaluations"], h[f"best {o.label}"], "o-", ms=3)
        ax.set_ylabel(f"best {o.label}")
    ax.set_xlabel(f"candidates evaluated (each over {result.settings['runs']} ensemble members)")
    ax.set_title(f"{result.space.name}: convergence ({result.settings['algorithm']}, seed {result.settings['seed']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def front_dataset(result: OptimizeResult) -> xr.Dataset:
    """The front as an :class:`xarray.Dataset` (dims ``point``, ``lever``, ``member``) with provenance."""
    p = result.problem
    n = len(result.X)
    data: dict[str, Any] = {
        "levers": (("point", "lever"), result.X, {"long_name": "lever values of each front point"}),
        "planned_cost": ("point", result.planned_cost, {"units": result.space.budget_units,
                                                        "long_name": "planned public cost (amount x years)"}),
        "paid_cost": (("point", "member"), result.cost, {"units": result.space.budget_units,
                                                         "long_name": f"{result.space.cost_variable} at the end"}),
    }
    for j, o in enumerate(result.space.objectives):
        data[f"robust_{j}"] = ("point", result.robust[o.label], {"long_name": o.label, "better": o.better})
        data[f"kpi_{j}"] = (("point", "member"), result.kpis[o.kpi.label],
                            {"long_name": o.kpi.label, "better": o.kpi.better,
                             "units": result.kpis_units.get(o.kpi.label, "")})
    coords: dict[str, Any] = {"point": np.arange(1, n + 1), "lever": p.names,
                              "member": np.arange(p.members)}
    if p.samples is not None:
        for name, values in p.samples.items():
            coords[f"param_{p.model.py_name(name)}"] = ("member", values, {"long_name": name})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {"title": f"sdcluster optimize: {result.space.name}", "policy_space": str(result.space.source),
                "policy_space_sha256": result.space.sha256, "model_file": p.model.path.name,
                "model_sha256": p.model.sha256, "settings": json.dumps(result.settings, default=str),
                "stopped": result.stopped, "evaluations": result.evaluations, "model_runs": result.runs,
                "seconds": result.seconds, "sdcluster_version": __version__, "Conventions": "CF-1.8"}
    if p.samples is not None:
        ds.attrs["samples"] = json.dumps(p.samples.meta, default=str)
    return ds


def _summary(result: OptimizeResult, table: pd.DataFrame, comparison: pd.DataFrame) -> str:
    space = result.space
    o = space.objectives[0]
    sign = 1 if o.better == "higher" else -1
    within = comparison[(comparison["role"] == "compare_with")
                        & (comparison["paid_cost_mean"] <= space.budget * (1 + 1e-9))]
    affordable = table[table["paid_cost_mean"].fillna(table["planned_cost"]) <= space.budget * (1 + 1e-9)]
    best_i = int(np.argmax(sign * affordable[o.label].values))
    best = affordable.iloc[best_i]
    lines = [f"## Policy design: {space.name}", ""]
    if space.question:
        lines += [f"*{space.question}*", ""]
    lines += [f"Searched {result.evaluations} mixes ({result.settings['algorithm']}, seed "
              f"{result.settings['seed']}), each over the same {result.settings['runs']} ensemble members, "
              f"in {result.seconds:.0f} s; stopped by {result.stopped}. "
              f"{len(table)} mix(es) on the front; every one within the budget of {space.budget:g} "
              f"{space.budget_units}.", "",
              f"Best on {o.label}: **{best['scenario']}**, {o.label} = {best[o.label]:.6g} at a mean paid cost of "
              f"{best['paid_cost_mean']:.4g} {space.budget_units}.", ""]
    if len(within):
        j = int(np.argmax(sign * within[o.label].values))
        hand = within.iloc[j]
        diff = sign * (best[o.label] - hand[o.label])
        lines += [f"Best hand-written scenario within the budget: {hand['scenario']} ({o.label} = "
                  f"{hand[o.label]:.6g}); the optimised mix is {'better' if diff >= 0 else 'worse'} by "
                  f"{abs(diff):.4g} ({abs(diff) / abs(hand[o.label]) * 100 if hand[o.label] else math.nan:.2f} %).",
                  ""]
    lines += ["Levers of that mix:", ""]
    lines += [f"- {name} = {best[name]:.4g}" for name in result.problem.names]
    return "\n".join(lines) + "\n"


def _discovery_text(d: Any) -> str:
    lines = ["", f"### Where {d.policy} fails to beat {d.against}", "",
             f"It does not beat {d.against} on {d.kpi} in {d.failed.sum()} of {d.failed.size} ensemble members "
             f"({d.failure_share:.0%})."]
    if d.failed.any() and not d.failed.all() and d.boxes.empty:
        lines.append("PRIM finds no region of the uncertain parameters where these failures concentrate "
                     "(no restriction is significant): they are scattered.")
    for b, g in d.boxes.groupby("box"):
        lims = "; ".join(f"{r.parameter} in [{r.low:.4g}, {r.high:.4g}]" for r in g.itertuples())
        lines.append(f"- PRIM box {b} (coverage {g['coverage'].iloc[0]:.2f}, density {g['density'].iloc[0]:.2f}, "
                     f"mass {g['mass'].iloc[0]:.2f}): {lims}")
    return "\n".join(lines) + "\n"


def write_outputs(result: OptimizeResult, outdir: str | Path, *, discovery: Any = None,
                  overwrite: bool = True) -> Path:
    """Write every output file (module docstring) into *outdir*, atomically as a folder.

    With *discovery* (a :class:`~sdcluster.design.discovery.Discovery`) also
    ``discovery.csv`` (PRIM boxes) and ``discovery.png``.

    Raises
    ------
    OutputError
        When the parent folder does not exist or is not writable, or *outdir*
        exists and *overwrite* is false.
    """
    target = Path(outdir)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{target}: output folder's parent {parent} does not exist")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=parent))
    except OSError as exc:
        raise OutputError(f"{target}: cannot write in {parent} ({exc.strerror})") from None
    try:
        table = front_table(result)
        comparison = comparison_table(result)
        table.to_csv(tmp / "front.csv", index=False)
        comparison.to_csv(tmp / "comparison.csv", index=False)
        front_dataset(result).to_netcdf(tmp / "front.nc", engine="netcdf4")
        (tmp / "scenarios").mkdir()
        for i in range(len(result.X)):
            header, doc = scenario_document(result, i)
            text = header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
            (tmp / "scenarios" / f"{doc['name']}.yaml").write_text(text, encoding="utf-8")
        _figure_front(result, comparison, tmp / "front.png")
        _figure_convergence(result, tmp / "convergence.png")
        summary = _summary(result, table, comparison)
        if discovery is not None:
            from .discovery import figure

            discovery.boxes.to_csv(tmp / "discovery.csv", index=False)
            figure(discovery, tmp / "discovery.png")
            summary += _discovery_text(discovery)
        (tmp / "summary.md").write_text(summary, encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            os.replace(target, old / "previous")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _umask() -> int:
    u = os.umask(0)
    os.umask(u)
    return u
