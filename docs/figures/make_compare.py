"""Figures for docs/compare.md: three scenarios of the bundled ``cluster_lifecycle`` model.

Run ``python docs/figures/make_compare.py [outdir]`` (default ``docs/figures/out``); it also
prints the KPI table shown in the page.
"""
from __future__ import annotations

import sys
from pathlib import Path

#: Scenarios compared in the docs (scenario-file fields as mappings).
SCENARIOS = [
    {"name": "baseline", "model": "cluster_lifecycle", "time": {"final_time": 100},
     "description": "No intervention; a technology shift devalues capability in year 40."},
    {"name": "more_seed_entry", "model": "cluster_lifecycle", "time": {"final_time": 100},
     "description": "Investment attraction: exogenous entry raised from 0.5 to 3 firms/Year.",
     "parameters": {"seed entry rate": 3}},
    {"name": "milder_shift", "model": "cluster_lifecycle", "time": {"final_time": 100},
     "description": "Diversified knowledge base: the technology shift makes 20 % of the reference capability obsolete instead of all of it.",
     "parameters": {"technology shift devaluation fraction": 0.2}},
]
KPIS = ["firms@30", "firms:t>=150", "value_added:cum[0,60]", "value_added:npv[0,100,r=0.03]", "firms:peak",
        "value_added@45"]
OUTPUTS = ["firms", "value_added", "capability"]


def main(outdir: Path) -> None:
    """Write ``compare_trajectories.png``, ``compare_differences.png``, ``compare_kpis.png``
    and ``compare_stages.png`` into *outdir*."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import sdcluster
    from sdcluster import compare, lifecycle, plot

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ds = sdcluster.run_scenarios(SCENARIOS, outputs=OUTPUTS, progress=False)
    table = compare.kpi_table(ds, KPIS, baseline="baseline")
    smap = lifecycle.stages_by_scenario(ds["value_added"])
    figs = {
        "compare_trajectories": plot.trajectories(ds, OUTPUTS, baseline="baseline"),
        "compare_differences": plot.differences(ds, "baseline", ["firms", "value_added"]),
        "compare_kpis": plot.kpi_bars(table),
        "compare_stages": plot.stage_bands(ds, "value_added", smap, baseline="baseline"),
    }
    for stem, fig in figs.items():
        plot.save_figure(fig, outdir, stem, formats=("png",))
        plt.close(fig)
    print(compare.to_markdown(table))
    for sc, lst in smap.items():
        print(f"{sc}: " + "; ".join(f"{s.name} {s.start:g}-{s.end:g}" for s in lst))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "out")
