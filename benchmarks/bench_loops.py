#!/usr/bin/env python3
"""Benchmark loop dominance: sdcluster's Loops that Matter vs Simlin's ``run(analyze_loops=True)``.

Usage::

    python benchmarks/bench_loops.py [--repeats 3]

For each bundled model prints the median of ``--repeats`` timings, measured in
this one process (read the ratios; the machine is shared):

- ``run``: ``Model.run`` saving every time step (what loop dominance records);
- ``dominance``: :func:`sdcluster.analysis.loops.dominance` for one run (the
  same run plus link, loop and relative loop scores; plus strongest-path
  discovery for a model with too many loops to enumerate);
- ``simlin``: ``simlin.load(xmile).run(analyze_loops=True)`` with its loops'
  relative-score series read (the independent engine, compiled Rust);
- ``enumerate``: Johnson's algorithm on the causal graph (sdcluster);

and, where both enumerate every loop, the largest |difference| between the two
engines' relative loop scores at Simlin's saved times.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_core import median_time  # noqa: E402

MODELS = ("cooperative_action", "cluster_lifecycle", "cluster_policy")


def _key(variables) -> frozenset:
    return frozenset(re.sub(r"_1$", "", v) for v in variables if not v.startswith(("_", "$")))


def bench(name: str, repeats: int) -> dict:
    import simlin

    import sdcluster
    from sdcluster.analysis import graph, loops

    xmile = ROOT / "models" / f"{name}.xmile"
    model = sdcluster.load_model(xmile)
    table = loops.structure(model)
    final = model.time_settings["final_time"]  # an explicit time setting makes dominance() re-run the model
    step = model.time_settings["time_step"]
    names = sorted({n for lp in table.loops for n in lp.nodes if not n.startswith("_")})
    out = {"model": name, "loops": len(table.loops), "mode": table.mode}
    out["run"] = median_time(lambda: model.run(saveper=step, outputs=names), repeats)
    ds_holder = {}
    out["dominance"] = median_time(lambda: ds_holder.setdefault("ds", loops.dominance(model, final_time=final)),
                                   repeats)
    g = graph.from_pysd(model.pysd)
    try:
        out["enumerate"] = median_time(lambda: graph.elementary_circuits(g), repeats)
    except graph.TooManyLoops:
        out["enumerate"] = float("nan")

    def simlin_run():
        run = simlin.load(str(xmile)).run(analyze_loops=True)
        return run, [lp.behavior_time_series for lp in run.loops]

    out["simlin"] = median_time(simlin_run, repeats)
    run, _ = simlin_run()
    out["simlin_mode"] = run.ltm_mode
    if table.mode == "exhaustive" and run.ltm_mode == "exhaustive":
        ds = loops.dominance(model, saveper=step)
        ours = {_key(lp.nodes): lp.name for lp in table.loops}
        times = run.results.index.values
        worst = 0.0
        for lp in run.loops:
            mine = ds["relative_loop_score"].sel(loop=ours[_key(lp.variables)]).sel(time=times, method="nearest")
            worst = max(worst, float(np.max(np.abs(mine.values - lp.behavior_time_series))))
        out["max_diff"] = worst
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'model':20s} {'loops':>6s} {'mode':>10s} {'run s':>7s} {'dominance s':>12s} {'dom/run':>8s} "
          f"{'simlin s':>9s} {'dom/simlin':>11s} {'enumerate s':>12s} {'max |Δ rel|':>12s}")
    for name in MODELS:
        r = bench(name, args.repeats)
        print(f"{r['model']:20s} {r['loops']:6d} {r['mode']:>10s} {r['run']:7.2f} {r['dominance']:12.2f} "
              f"{r['dominance'] / r['run']:8.2f} {r['simlin']:9.3f} {r['dominance'] / r['simlin']:11.1f} "
              f"{r['enumerate']:12.4f} {r.get('max_diff', float('nan')):12.2e}"
              + ("" if r["simlin_mode"] == "exhaustive" else f"  (simlin: {r['simlin_mode']}, no loops listed)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
