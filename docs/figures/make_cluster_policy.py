"""Figures for docs/models/cluster_policy.md and docs/planner_guide.md, from the bundled scenarios.

Run ``python docs/figures/make_cluster_policy.py [outdir]`` (default ``docs/figures/out``).
It runs every ``scenarios/*.yaml`` once (model ``cluster_policy``) and also prints the
KPI table whose numbers the two pages quote.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "scenarios"

#: KPIs quoted in the planner's guide (sdcluster.analysis.compare syntax).
KPIS = ["firms@15", "firms@30", "firms@60", "firms:peak", "value_added@30", "value_added:cum", "value_added:cum/cost",
        "collective_efficiency@30", "capability@60", "trust@60", "cumulative_public_cost@60"]

#: Figures: stem -> (scenarios, variables, title).
FIGURES = {
    "cluster_policy_instruments": (
        ["baseline", "brokering", "platform", "training", "park", "entry_subsidy", "brand", "package"],
        ["firms", "value_added", "collective_efficiency", "capability"],
        "Each instrument alone (2 million/Year, years 2-12) and the combined package"),
    "cluster_policy_timing": (
        ["baseline", "brokering_early", "brokering_late"],
        ["firms", "value_added", "trust", "collective_efficiency"],
        "Network brokering early (years 2-12) or late (years 20-30), 1 million/Year"),
    "cluster_policy_overheated": (
        ["baseline", "moderate_push", "overheated_push", "budding_cooperation", "budding_overheated"],
        ["trust", "coordination_load", "participation_share", "value_added"],
        "The same 5 million for brokering: moderate (5 years) or over-heated (1 year)"),
    "cluster_policy_thin_air": (
        ["baseline", "thin_air", "thin_air_package"],
        ["firms", "value_added", "total_public_spending", "cumulative_public_cost"],
        "Thin air: entry subsidies + park building where no cluster exists"),
    "cluster_policy_environment": (
        ["baseline", "environment_only", "networks_and_innovation"],
        ["firms", "collective_efficiency", "capability", "value_added"],
        "Environment only (park + entry subsidies) vs networks + innovation, equal cost"),
    "cluster_policy_shock": (
        ["baseline", "technology_shock", "technology_shock_renewal"],
        ["capability", "firms", "value_added", "variety"],
        "Technology shock in year 40, with and without a renewal policy"),
    "cluster_policy_matching": (
        ["baseline", "grants", "matching", "brokering_and_grants", "brokering_and_matching"],
        ["value_added", "participation_share", "cumulative_public_cost", "cumulative_private_cofunding"],
        "Platform + brand as grants or as matching funds, with and without brokering"),
}


def run_library():
    """Run every bundled scenario file once; return the Dataset (dims scenario, time)."""
    import sdcluster

    files = sorted(SCENARIO_DIR.glob("*.yaml"))
    outputs = sorted({v for _, variables, _ in FIGURES.values() for v in variables}
                     | {"firms", "value_added", "collective_efficiency", "capability", "trust",
                        "cumulative_public_cost", "cumulative_private_cofunding"})
    return sdcluster.run_scenarios(files, outputs=outputs, progress=False)


def kpi_table(ds):
    """The KPI table of the planner's guide (values per scenario, wide form)."""
    from sdcluster import compare

    table = compare.kpi_table(ds, KPIS, baseline="baseline")
    return table, compare.wide(table)


def main(outdir: Path) -> None:
    """Write the ``cluster_policy_*.png`` figures into *outdir*."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sdcluster import plot

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ds = run_library()
    for stem, (scenarios, variables, title) in FIGURES.items():
        fig = plot.trajectories(ds.sel(scenario=scenarios), variables, baseline="baseline", title=title)
        plot.save_figure(fig, outdir, stem, formats=("png",))
        plt.close(fig)
    table, wide = kpi_table(ds)
    single = ["brokering", "platform", "training", "park", "entry_subsidy", "brand", "package",
              "environment_only", "networks_and_innovation"]
    sub = table[table["scenario"].isin(["baseline"] + single)]
    fig = plot.kpi_bars(sub, ["value_added:cum/cost", "collective_efficiency@30", "firms@30", "capability@60"],
                        baseline="baseline")
    plot.save_figure(fig, outdir, "cluster_policy_cost_effectiveness", formats=("png",))
    plt.close(fig)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out"
    main(out)
    import pandas as pd

    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    ds = run_library()
    _, wide = kpi_table(ds)
    wide["trust_min"] = ds["trust"].min("time").to_series()
    wide["cumulative_private_cofunding@60"] = ds["cumulative_private_cofunding"].isel(time=-1).to_series()
    print(wide.round(3).T.to_string())
