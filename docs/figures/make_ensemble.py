"""Figures for docs/ensemble.md: how robust is a ranking of three ``cluster_lifecycle`` scenarios?

Run ``python docs/figures/make_ensemble.py [outdir]`` (default ``docs/figures/out``); it also
prints the robustness table, P(A beats B) and the Sobol indices quoted in the page.
"""
from __future__ import annotations

import sys
from pathlib import Path


def _sibling(name: str):
    """Import another figure script of this folder (the docs build loads them by path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The scenarios of docs/compare.md (defined once, in make_compare.py).
SCENARIOS = _sibling("make_compare").SCENARIOS
#: Uncertain parameters (model's own names) and their distributions.
UNCERTAIN = {
    "normal attraction fraction": {"distribution": "triangular", "low": 0.04, "mode": 0.07, "high": 0.12},
    "normal failure fraction": {"distribution": "uniform", "low": 0.04, "high": 0.1},
    "market size": {"distribution": "lognormal", "mu": 6.4, "sigma": 0.25},
    "knowledge absorption time": {"distribution": "truncnormal", "mean": 10, "sd": 4, "low": 3, "high": 30},
}
KPIS = ["value_added:cum[0,60]", "firms@30"]
RUNS = 1000
SEED = 42


def main(outdir: Path) -> None:
    """Write ``ensemble_bands.png``, ``ensemble_kpi.png`` and ``ensemble_tornado.png`` into *outdir*."""
    import matplotlib

    matplotlib.use("Agg")

    from sdcluster import plot
    from sdcluster.uncertainty.ensemble import run_ensemble
    from sdcluster.outputs.plot_ensemble import plot_bands, plot_kpi_distributions, plot_tornado
    from sdcluster.uncertainty.robustness import beat_probability, kpi_samples, robustness_table
    from sdcluster.uncertainty.sampling import Uncertain
    from sdcluster.scenarios.scenario import scenario_from_dict
    from sdcluster.uncertainty.sensitivity import sensitivity

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    scenarios = [scenario_from_dict(s) for s in SCENARIOS]
    uncertain = Uncertain(dict(UNCERTAIN), seed=SEED, source="docs/figures/make_ensemble.py")
    ds = run_ensemble(scenarios, uncertain.sample(RUNS), outputs=["firms", "value_added"])
    values = kpi_samples(ds, KPIS)
    table = robustness_table(values, KPIS)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    for k in KPIS:
        print(f"\nP(row beats column) on {k}:")
        print(beat_probability(values, k).round(3).to_string())
    sens = sensitivity(scenarios[0], uncertain, ["value_added:cum[0,60]"], method="sobol", n=512,
                       outputs=["value_added"])
    print("\n" + sens.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    figs = {
        "ensemble_bands": plot_bands(ds, "firms", baseline="baseline"),
        "ensemble_kpi": plot_kpi_distributions(values, "value_added:cum[0,60]", baseline="baseline"),
        "ensemble_tornado": plot_tornado(sens),
    }
    for stem, fig in figs.items():
        plot.save_figure(fig, outdir, stem, formats=("png",))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out")
