"""Benchmark: calibration evaluations per second, vectorised path vs a plain PySD loop.

Measures, for the 3-parameter fit of the bundled life-cycle model to the
synthetic firm counts (``examples/data/synthetic_cluster_firm_counts.csv``):

1. evaluations/s of one differential-evolution generation (45 parameter sets)
   scored through sdcluster's evaluator (``Model.run_batch``, one vectorised pass);
2. evaluations/s of a plain loop of ``pysd`` ``model.run`` calls on the same 45
   parameter sets (fresh PySD model, ``return_columns=["firms"]``, same
   final time), also sampling the observation dates;
3. evaluations/s of a loop of sdcluster ``Model.run`` calls (one set at a
   time, NumPy lookups) on the same sets;
4. the ratios (median of ``--repeats`` repeats, measured in one run).

Plain PySD is slow here (several seconds per run of this model, mostly its
xarray-based lookups), so the plain loop runs only the first ``--plain-sets``
of the same parameter sets and the comparison is per evaluation;
5. time and evaluations to converge for the fit with ``least_squares``
   (1 start) and ``de`` (seed 0).

Run: ``python benchmarks/bench_calibrate.py [--repeats 3] [--no-fit]``
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "synthetic_cluster_firm_counts.csv"
BOUNDS = {"normal spin off fraction": (0.01, 0.2), "normal failure fraction": (0.02, 0.15),
          "reference cluster size": (20, 500)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--popsize", type=int, default=45, help="parameter sets per generation")
    ap.add_argument("--plain-sets", type=int, default=3, help="parameter sets in the plain PySD loop")
    ap.add_argument("--no-fit", action="store_true", help="skip the time-to-converge part")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    import sdcluster
    from sdcluster.calibrate import Observations, calibrate
    from sdcluster.calibrate.evaluate import Evaluator, resolve_params
    from sdcluster.calibrate.payoff import Payoff
    from sdcluster.core.checked_load import load_pysd_model
    from sdcluster.core.translate import translate

    model = sdcluster.load_model("cluster_lifecycle")
    ts = model.time_settings
    obs = Observations.from_any(DATA, time_offset=1980, mapping={"firms": "firms"}).bind(
        model, ts["initial_time"], ts["final_time"])
    specs = resolve_params(model, BOUNDS)
    ev = Evaluator(model, obs, specs, Payoff("poisson", obs), initial_time=ts["initial_time"],
                   time_step=ts["time_step"], progress=False)
    rng = np.random.default_rng(0)
    pop = ev.to_theta(rng.random((args.popsize, len(specs))))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = load_pysd_model(translate(model.path), model.path)  # PySD's Model, checked text
    obs_times = obs.series[0].times

    def plain_loop() -> np.ndarray:
        out = []
        for theta in pop[: args.plain_sets]:
            params = {s.py_name: float(v) for s, v in zip(specs, theta)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                df = plain.run(params=params, return_columns=["firms"], final_time=ev.final_time,
                               saveper=ts["time_step"], progress=False)
            out.append(np.interp(obs_times, df.index.values, df["firms"].values))
        return np.array(out)

    def batch() -> np.ndarray:
        return ev.simulate(pop, count=False)[0]

    def single_loop() -> np.ndarray:
        return np.concatenate([ev.simulate(theta[None, :], count=False)[0] for theta in pop])

    # same numbers on both paths (so the comparison is fair)
    a, b = batch(), plain_loop()
    rel = float(np.nanmax(np.abs(a[: len(b)] - b) / np.maximum(np.abs(b), 1e-12)))
    print(f"max relative difference batch vs plain PySD: {rel:.2e}", flush=True)
    t_batch, t_plain, t_single = [], [], []
    for _ in range(args.repeats):
        for fn, acc in ((batch, t_batch), (single_loop, t_single), (plain_loop, t_plain)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    mb, ms = statistics.median(t_batch), statistics.median(t_single)
    n = len(pop)
    mp = statistics.median(t_plain) * n / min(args.plain_sets, n)  # per-evaluation time scaled to n sets
    print(f"model: {model.path.name} ({'vectorised' if ev.vectorised else 'NOT vectorised: loop of runs'}), "
          f"{int(round((ev.final_time - ts['initial_time']) / ts['time_step']))} steps per run, {n} parameter sets")
    print(f"sdcluster batch (run_batch):  {n / mb:9.2f} evals/s  ({n} sets, median {mb:.3f} s of {args.repeats})")
    print(f"sdcluster Model.run loop:     {n / ms:9.2f} evals/s  ({n} sets, median {ms:.3f} s)")
    print(f"plain PySD model.run loop:    {n / mp:9.2f} evals/s  ({min(args.plain_sets, n)} sets, median "
          f"{statistics.median(t_plain):.3f} s)")
    print(f"ratio batch / plain PySD:     {mp / mb:9.1f}x   (target >= 5x)")
    print(f"ratio batch / Model.run loop: {ms / mb:9.1f}x", flush=True)
    if args.no_fit:
        return
    for method, kw in (("least_squares", {"n_starts": 1}), ("de", {"seed": 0})):
        t = time.perf_counter()
        res = calibrate(model, DATA, BOUNDS, mapping={"firms": "firms"}, time_offset=1980, payoff="poisson",
                        method=method, progress=False, **kw)
        dt = time.perf_counter() - t
        vals = ", ".join(f"{k}={v:.4g}" for k, v in res.values.items())
        print(f"fit {method:<14} {dt:7.2f} s  {res.n_evals:6d} evals  {res.n_evals / res.elapsed:7.1f} evals/s  "
              f"payoff {res.payoff:.4f}  {vals}")


if __name__ == "__main__":
    main()
