"""Ensemble speed and memory, with ratios measured in one run.

Usage::

    python benchmarks/bench_ensemble.py [--runs 10000] [--big-runs 100000] [--pysd-runs 2]
                                        [--simlin-runs 300] [--repeats 3] [--model NAME]

Prints, each figure measured in this run:

A. Monte Carlo of the integrated policy model (``cluster_policy``; if it is not
   bundled yet, the largest bundled model, and says so) over its full horizon:
   wall time and peak memory of ``run_ensemble`` with ``--runs`` runs, against a
   plain PySD loop (``pysd.load(...).run(params=...)``, ``--pysd-runs`` runs
   timed and scaled). Target: >= 300x, aim 1000x.
B. The same number of runs of the small demo model ``benchmarks/demo_cluster.mdl``
   (8 variables, 3,200 steps) against a hand-written NumPy batched Euler of its
   equations (checked equal first). Target: within 3x.
C. The same demo model as a loop of pysimlin runs (its low-level ``Sim`` API, the
   fastest; ``--simlin-runs`` timed and scaled) against ensembles of 1,000 and
   ``--runs`` runs. Target: faster from 1,000 runs.
D. Peak memory of ``--big-runs`` runs of the model of A (chunked). Target: < 2 GB.

Every measurement that reports memory runs in a fresh child process (peak
resident set size of that process, ``ru_maxrss``); times are medians of
``--repeats`` repetitions where affordable.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from bench_core import median_time  # same folder: benchmarks are run as scripts

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO = HERE / "demo_cluster.mdl"


# --------------------------------------------------------------------------- helpers
def in_child(fn, *args):
    """Run ``fn(*args)`` in a fresh process; return its result and the child's peak RSS in MB."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(_measured, fn, *args).result()


def _measured(fn, *args):
    result = fn(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pick_model(name: str | None) -> tuple[Path, str]:
    models = {p.stem: p for p in sorted((ROOT / "models").glob("*.mdl"))}
    if name:
        return models[name], f"{name} (chosen)"
    if "cluster_policy" in models:
        return models["cluster_policy"], "cluster_policy (the integrated policy model)"
    biggest = max(models.values(), key=lambda p: p.stat().st_size)
    return biggest, (f"{biggest.stem} -- cluster_policy.mdl is not bundled yet, so the largest bundled "
                     "model stands in for it")


def uncertain_for(model, k: int = 5):
    """Uniform +/-20 % around the default of the first *k* parameters with a non-zero default."""
    from sdcluster.uncertainty.sampling import Uncertain, Uniform

    dists = {}
    for p in model.parameters:
        if len(dists) == k:
            break
        d = p.default
        if not d or p.name.lower().startswith(("initial time", "final time")):
            continue
        lo, hi = sorted((0.8 * d, 1.2 * d))
        plo, phi = p.limits
        lo = max(lo, plo) if not np.isnan(plo) else lo
        hi = min(hi, phi) if not np.isnan(phi) else hi
        if lo < hi:
            dists[p.name] = Uniform(lo, hi)
    return Uncertain(dists, seed=1)


# --------------------------------------------------------------------------- child jobs
def job_ensemble(path: str, runs: int, outputs: list[str] | None, chunk: int) -> dict:
    import sdcluster
    from sdcluster.uncertainty.ensemble import run_ensemble

    model = sdcluster.load_model(path)
    samples = uncertain_for(model).sample(runs)
    run_ensemble(model, samples.subset(0, min(runs, 50)), outputs=outputs, chunk_size=chunk)  # warm-up
    t = time.perf_counter()
    ds = run_ensemble(model, samples, outputs=outputs, chunk_size=chunk)
    wall = time.perf_counter() - t
    return {"wall": wall, "steps": int(round((model.time_settings["final_time"] - model.time_settings["initial_time"])
                                             / model.time_settings["time_step"])),
            "result_mb": ds.nbytes / 2**20, "failed": int(ds["failed"].sum())}


def job_plain_pysd(path: str, runs: int) -> dict:
    import shutil
    import tempfile

    import pysd

    import sdcluster

    model = sdcluster.load_model(path)
    samples = uncertain_for(model).sample(max(runs, 1))
    tmp = Path(tempfile.mkdtemp())
    copy = tmp / Path(path).name
    shutil.copy(path, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = pysd.read_vensim(str(copy))
        times = []
        for i in range(runs):
            t = time.perf_counter()
            plain.run(params={k: float(v[i]) for k, v in samples.items()})
            times.append(time.perf_counter() - t)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"per_run": statistics.median(times), "runs": runs}


# --------------------------------------------------------------------------- the hand-written baseline
def demo_samples(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"entry_fraction": rng.uniform(0.2, 0.4, n), "firm_lifetime": rng.uniform(8, 16, n),
            "carrying_capacity": rng.uniform(150, 250, n), "learning_rate": rng.uniform(0.05, 0.15, n),
            "forgetting_time": rng.uniform(3, 7, n), "initial_firms": rng.uniform(5, 15, n)}


LOOKUP_X = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 2.0])
LOOKUP_Y = np.array([1.0, 0.95, 0.8, 0.45, 0.0, 0.0])


def hand_euler(p: dict[str, np.ndarray], t0=0.0, t1=200.0, dt=0.0625, saveper=1.0) -> dict[str, np.ndarray]:
    """The demo model's equations written by hand: NumPy batched Euler, PySD's step order."""
    firms = p["initial_firms"].copy()
    knowledge = np.zeros_like(firms)
    nsave = int(round((t1 - t0) / saveper)) + 1
    every = int(round(saveper / dt))
    out_f = np.empty((nsave, firms.size))
    out_k = np.empty((nsave, firms.size))
    steps = int(round((t1 - t0) / dt))
    for s in range(steps + 1):
        if s % every == 0:
            out_f[s // every] = firms
            out_k[s // every] = knowledge
        if s == steps:
            break
        entry = firms * p["entry_fraction"] * np.interp(firms / p["carrying_capacity"], LOOKUP_X, LOOKUP_Y)
        exit_ = firms / p["firm_lifetime"]
        learning = firms * p["learning_rate"]
        forgetting = knowledge / p["forgetting_time"]
        firms = firms + (entry - exit_) * dt
        knowledge = knowledge + (learning - forgetting) * dt
    return {"firms": out_f.T, "knowledge": out_k.T}


def simlin_loop(runs: int, samples: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    import simlin

    model = simlin.load(str(DEMO))
    last = None
    t = time.perf_counter()
    for i in range(runs):
        # the low-level Sim is pysimlin's fastest path (model.run() also builds a DataFrame: ~6x slower)
        with model.simulate(overrides={k: float(v[i]) for k, v in samples.items()}) as sim:
            sim.run_to_end()
            last = sim.get_series("firms")
    return (time.perf_counter() - t) / runs, last


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--big-runs", type=int, default=100_000)
    ap.add_argument("--pysd-runs", type=int, default=2)
    ap.add_argument("--simlin-runs", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--model", help="bundled model for A and D (default: cluster_policy, else the largest)")
    args = ap.parse_args(argv)

    import sdcluster
    from sdcluster.uncertainty.ensemble import DEFAULT_CHUNK_SIZE, run_ensemble

    chunk = args.chunk_size or DEFAULT_CHUNK_SIZE
    path, label = pick_model(args.model)
    model = sdcluster.load_model(path)
    outputs = [s.py_name for s in model.stocks]
    print(f"sdcluster ensemble benchmark; Python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"chunk size {chunk}")

    # ---- A
    print(f"\nA. Monte Carlo of {label}")
    a, rss_a = in_child(job_ensemble, str(path), args.runs, outputs, chunk)
    p, _ = in_child(job_plain_pysd, str(path), args.pysd_runs)
    per_run = a["wall"] / args.runs
    print(f"   {a['steps']} steps, {len(outputs)} stocks kept, {len(uncertain_for(model).names)} uncertain parameters")
    print(f"   run_ensemble, {args.runs} runs: {a['wall']:.2f} s wall ({per_run * 1e3:.3f} ms/run), "
          f"peak RSS {rss_a:.0f} MB (result {a['result_mb']:.0f} MB), {a['failed']} failed runs")
    print(f"   plain PySD loop: {p['per_run']:.2f} s/run (median of {p['runs']} timed runs) -> "
          f"{args.runs} runs would take {p['per_run'] * args.runs / 3600:.1f} h")
    print(f"   ratio plain PySD / ensemble per run: {p['per_run'] / per_run:,.0f}x  (target >= 300x, aim 1000x)")

    # ---- B
    print("\nB. Small demo model (benchmarks/demo_cluster.mdl, 8 variables, 3,200 steps)")
    demo = sdcluster.load_model(DEMO)
    s = demo_samples(args.runs)
    ens = run_ensemble(demo, s, outputs=["firms", "knowledge"], chunk_size=chunk)
    hand = hand_euler(s)
    err = max(float(np.max(np.abs(ens[v].values - hand[v]) / np.maximum(np.abs(hand[v]), 1e-300)))
              for v in ("firms", "knowledge"))
    print(f"   hand-written Euler equals the ensemble to {err:.1e} relative")
    t_ens = median_time(lambda: run_ensemble(demo, s, outputs=["firms", "knowledge"], chunk_size=chunk),
                        args.repeats)
    t_hand = median_time(lambda: hand_euler(s), args.repeats)
    print(f"   run_ensemble {args.runs} runs: {t_ens:.2f} s ({t_ens / args.runs * 1e3:.4f} ms/run); "
          f"hand-written NumPy Euler: {t_hand:.2f} s ({t_hand / args.runs * 1e3:.4f} ms/run)")
    print(f"   ratio ensemble / hand-written: {t_ens / t_hand:.2f}x  (target <= 3x)")

    # ---- C
    print("\nC. Same demo model: loop of pysimlin runs")
    per_simlin, last = simlin_loop(args.simlin_runs, s)
    i = args.simlin_runs - 1
    diff = float(np.max(np.abs(last - ens.firms.values[i]) / np.abs(last)))
    small = demo_samples(1000)
    t_1k = median_time(lambda: run_ensemble(demo, small, outputs=["firms", "knowledge"], chunk_size=chunk),
                       args.repeats)
    print(f"   pysimlin: {per_simlin * 1e3:.3f} ms/run (mean of {args.simlin_runs} runs; "
          f"same numbers as sdcluster to {diff:.1e} relative)")
    print(f"   ensemble 1,000 runs: {t_1k / 1000 * 1e3:.4f} ms/run -> {per_simlin * 1000 / t_1k:.1f}x faster "
          f"than the pysimlin loop")
    print(f"   ensemble {args.runs:,} runs: {t_ens / args.runs * 1e3:.4f} ms/run -> "
          f"{per_simlin * args.runs / t_ens:.1f}x faster than the pysimlin loop")

    # ---- D
    if args.big_runs:
        print(f"\nD. {args.big_runs:,} runs of {path.stem} (chunks of {chunk}), {len(outputs)} stocks kept")
        d, rss_d = in_child(job_ensemble, str(path), args.big_runs, outputs, chunk)
        print(f"   wall {d['wall']:.1f} s, peak RSS {rss_d:.0f} MB (result {d['result_mb']:.0f} MB) "
              f"(target < 2048 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
