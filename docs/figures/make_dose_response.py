"""Dose–response and timing figures of the six instruments of the bundled policy model.

Run ``python docs/figures/make_dose_response.py [outdir]`` (default ``docs/figures/out``); it
also prints the tables that docs/models/cluster_policy.md and docs/planner_guide.md quote.
Every instrument of ``scenarios/design/budget_20M.yaml`` (a ten-year programme, 0-2 million a
year) is swept alone, every point run over the same 48 members of the uncertainty ensemble as
the baseline; the figures show cumulative value added (and, for brokering, trust at the end).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "scenarios" / "design" / "budget_20M.yaml"
RUNS, SEED, POINTS = 48, 1, 9
KPIS = ["value_added:cum", "trust@end", "firms@end"]
#: Start years of the timing curves (a ten-year programme of 1 million a year).
STARTS = list(range(0, 21, 2))


def compute() -> tuple[dict, dict]:
    """Dose–response and timing Datasets of every instrument: ``({name: ds}, {name: ds})``."""
    from sdcluster.design import bind, load_space
    from sdcluster.design.response import response, with_kpis

    space = with_kpis(load_space(SPACE), KPIS)
    problem = bind(space, runs=RUNS, seed=SEED)
    names = [i.name for i in space.instruments]
    dose = {n: response(problem, n, points=POINTS) for n in names}
    timing = {n: response(problem, n, lever="start", values=STARTS, fixed={"amount": 1.0}) for n in names}
    return dose, timing


def _num(x: float) -> str:
    """Three significant digits, thousands separated (13,100; 0.717; -0.0105)."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    digits = 2 - int(math.floor(math.log10(abs(x))))
    return f"{round(x, digits):,.{max(0, digits)}f}".replace("-", "−")


def tables(dose: dict, timing: dict) -> str:
    """Markdown table: per instrument and KPI, the threshold, the gain at the largest dose, timing.

    KPIs an instrument does not move at all (P(better) 0 at every dose and start) are left out."""
    def band(ds, kpi, i):
        g = ds["gain_band"].sel(kpi=kpi).values[i]
        return f"{_num(g[1])} ({_num(g[0])} to {_num(g[2])})"

    lines = ["| instrument | KPI | smallest dose that works (P ≥ ½) | gain at 2 M/yr for 10 y: median (10–90 %) | "
             "P(better) at 2 M/yr | latest start that works at 1 M/yr |", "|---|---|---|---|---|---|"]
    for name, ds in dose.items():
        for kpi in KPIS:
            one, last = ds.sel(kpi=kpi), ds.sizes["point"] - 1
            if not (one["p_better"].values.any() or timing[name]["p_better"].sel(kpi=kpi).values.any()):
                continue
            thr = float(one["threshold"].values)
            tthr = float(timing[name]["threshold"].sel(kpi=kpi).values)
            lines.append(f"| {name} | {kpi} | {'never' if math.isnan(thr) else f'{thr:.2g} M/yr'} | "
                         f"{band(ds, kpi, last)} | {float(one['p_better'].values[last]):.0%} | "
                         f"{'never' if math.isnan(tthr) else f'year {tthr:.3g}'} |")
    return "\n".join(lines)


LOOP_WINDOW = (12, 60)


def loop_table() -> str:
    """Markdown: per instrument (2 M/yr, years 0-10), the loop group that gains most share of the loop
    activity through Firms (years 12-60) against the baseline (carries the effect) and the one that loses most
    (cancels it), with the changes of mean relative loop score."""
    import sdcluster
    from sdcluster.analysis import loops

    model = sdcluster.load_model("cluster_policy")
    names = ROOT / "models" / "cluster_policy.loops.yaml"
    base = {"technology shift devaluation fraction": 0}

    def shares(params):
        ds = loops.dominance(model, {**base, **params}, names=names)
        return loops.group_scores(ds, stock="firms").sel(time=slice(*LOOP_WINDOW)).mean("time").to_series()

    ref = shares({})
    lines = ["| instrument (2 M/yr, years 0–10) | carries (gains share) | cancels (loses share) |", "|---|---|---|"]
    for k in ["brokering", "platform", "training", "park", "entry subsidy", "brand"]:
        g = shares({f"{k} budget": 2.0, f"{k} start": 0, f"{k} end": 10})
        idx = ref.index.union(g.index)
        d = (g.reindex(idx, fill_value=0) - ref.reindex(idx, fill_value=0)).sort_values()
        lines.append(f"| {k} | {d.index[-1]} ({d.iloc[-1]:+.3f}) | {d.index[0]} ({d.iloc[0]:+.3f}) |")
    return "\n".join(lines)


def main(outdir: Path) -> None:
    """Write ``dose_response_<instrument>.png``, ``dose_response_brokering_trust.png`` and
    ``timing_brokering_trust.png`` into *outdir*."""
    import matplotlib

    matplotlib.use("Agg")
    from sdcluster.outputs.plot import save_figure
    from sdcluster.outputs.plot_response import response_figure

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    dose, timing = compute()
    for name, ds in dose.items():
        save_figure(response_figure(ds, "value_added:cum"), outdir, f"dose_response_{name}", formats=("png",))
    save_figure(response_figure(dose["brokering"], "trust@end"), outdir, "dose_response_brokering_trust",
                formats=("png",))
    save_figure(response_figure(timing["brokering"], "trust@end"), outdir, "timing_brokering_trust",
                formats=("png",))
    main.tables = tables(dose, timing)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out")
    print(main.tables)
    print()
    print(loop_table())
