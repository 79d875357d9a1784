#!/usr/bin/env python3
"""Benchmark the explorer: time from a control change to the updated chart data.

Usage::

    python benchmarks/bench_explore.py [--repeats 5] [--runs 200]

For the policy model (``scenarios/baseline.yaml`` + ``scenarios/brokering.yaml``)
each repeat sets a new brokering amount (so nothing is cached) and times what
the server does for one change: the view callback (:func:`sdcluster.explore.app.
update_view`: the explored setting's runs, band, KPI cards, stage bands and the
plotly figure) plus its serialisation to the JSON the browser receives. The
reference is run once beforehand, as in the app, where it changes only with the
reference or the assumptions. Baselines measured in the same process:

- with a band: one ``Model.run_batch`` of the same ``runs + 1`` parameter sets;
- without a band (``--no-uncertainty``): one ``Model.run`` of the same setting.

The browser's own drawing time is not included (see the Playwright tests for
the end-to-end path). Uncertainty: ``scenarios/uncertainty/cluster_policy.yaml``
when present, else the test fixture ``tests/explore/fixtures/cluster_policy_uncertain.yaml``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(func) -> tuple[float, float]:
    """``(wall seconds, CPU seconds of this process)`` of one call."""
    w, c = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - w, time.process_time() - c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args(argv)

    import numpy as np
    import plotly

    from sdcluster.explore import build_explorer
    from sdcluster.explore.app import update_view

    scenarios = [str(ROOT / "scenarios" / "baseline.yaml"), str(ROOT / "scenarios" / "brokering.yaml")]
    spec = ROOT / "scenarios" / "uncertainty" / "cluster_policy.yaml"
    if not spec.is_file():
        spec = ROOT / "tests" / "explore" / "fixtures" / "cluster_policy_uncertain.yaml"
    print(f"policy model, {args.runs}-run band from {spec.relative_to(ROOT)}; median of {args.repeats} "
          f"repeats, one process, python {sys.version.split()[0]}")
    rows = []
    for label, kwargs in ((f"band of {args.runs} runs", {"uncertain": spec, "runs": args.runs}),
                          ("single run", {"use_uncertainty": False})):
        ex = build_explorer(scenarios, **kwargs)
        view = ex.default_view()
        update_view(ex, dict(view.values), view.reference, view.kpi, list(view.outputs))  # warm: reference run
        amounts = iter(np.linspace(0.5, 4.5, 10 * args.repeats + 10))

        def change():
            values = {**view.values, "brokering_budget.amount": float(next(amounts))}
            out = update_view(ex, values, view.reference, view.kpi, list(view.outputs))
            json.dumps(out[0], cls=plotly.utils.PlotlyJSONEncoder)

        scenario = ex.scenario(view.values)
        params = scenario.apply(ex.model)
        if ex.samples is not None:
            arrays = {ex.model.py_name(n): np.append(ex.samples[n], ex.by_key[ex.model.py_name(n)].default)
                      for n in ex.samples}

            def call():
                ex.model.run_batch({**params, **arrays}, outputs=ex.outputs, **scenario.run_kwargs())
            direct = f"run_batch({args.runs + 1})"
        else:
            def call():
                ex.model.run(params=params, outputs=ex.outputs, **scenario.run_kwargs())
            direct = "Model.run"
        # interleaved, so that load from other jobs on the machine hits both alike
        pairs = [(timed(change), timed(call)) for _ in range(args.repeats)]
        t_change = [statistics.median(p[0][i] for p in pairs) for i in (0, 1)]
        t_direct = [statistics.median(p[1][i] for p in pairs) for i in (0, 1)]
        rows.append((label, t_change, direct, t_direct))
    print("wall: elapsed time; cpu: this process's CPU time (steadier when other jobs share the cores)")
    print(f"{'case':<18}{'':>6}{'change -> chart data':>22}{'direct call':>18}{'time':>10}{'ratio':>8}")
    print("-" * 82)
    for label, t_change, direct, t_direct in rows:
        for i, kind in enumerate(("wall", "cpu")):
            print(f"{label if i == 0 else '':<18}{kind:>6}{t_change[i] * 1000:>19.0f} ms{direct:>18}"
                  f"{t_direct[i] * 1000:>7.0f} ms{t_change[i] / t_direct[i]:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
