#!/usr/bin/env python3
"""Benchmark the compiled path: single runs against PySD, the PySD engine and Simlin.

Usage::

    python benchmarks/bench_compiled.py [--repeats 7] [--mc-runs 10000] [--skip-mc]

Prints, measured in this one run of the script (medians; the machine is shared,
read the ratios):

A. per bundled model (Vensim file): one ``Model.run`` on the compiled kernel
   (default outputs, full Dataset) against one run of plain PySD
   (``pysd.read_vensim(...).run()``), one ``Model.run`` on sdcluster's PySD
   engine (``engine="pysd"``) and pysimlin's ``simulate().run_to_end()``;
B. compile cost in a fresh process: cold (empty cache: code generation and
   Numba compilation) and cached (verified artefact loaded from disk), each
   including the import of Numba, plus the wall and CPU time of the kernel
   compilation alone;
C. small batches (N = 20, 50) of ``cluster_policy``: ``run_batch`` compiled
   against the vectorised PySD engine;
D. a Monte Carlo of ``--mc-runs`` runs of ``cluster_policy`` (five parameters,
   +/-20 %, every stock recorded) in one ``run_batch``: the compiled kernel
   (``engine="compiled"``) against the vectorised PySD engine (and their
   largest relative difference; ``engine="auto"`` picks the vectorised engine
   from ``sdcluster.core.model.LARGE_BATCH`` runs), and against a plain PySD loop
   (median single run x runs).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_core import median_time  # noqa: E402

MODELS = ["cluster_lifecycle", "cluster_policy", "cooperative_action"]

_COMPILE_PROBE = """
import json, sys, time
import sdcluster
out = []
for name in sys.argv[1:]:
    model = sdcluster.load_model(name)
    t1 = time.perf_counter(); c1 = time.process_time()
    compiled = model.compiled
    t2 = time.perf_counter(); c2 = time.process_time()
    out.append({"wall": t2 - t1, "cpu": c2 - c1, "from_cache": compiled.from_cache})
print(json.dumps(out))
"""

#: A small model compiled first in the 'warm' process, so that Numba's one-off start-up is paid.
WARM = str(ROOT / "tests" / "core" / "fixtures" / "small_cluster.mdl")


def _probe(names: list[str], cache: Path) -> list[dict]:
    env = {**os.environ, "SDCLUSTER_CACHE_DIR": str(cache)}
    res = subprocess.run([sys.executable, "-c", _COMPILE_PROBE, *names], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def compile_cost(name: str, cache: Path) -> tuple[dict, dict, dict]:
    """Getting the kernel of *name* (``model.compiled``) in fresh processes sharing *cache*:
    cold (empty cache, first model of the process), cached as the first model of a process
    (Numba's start-up included) and cached once Numba has started (after another model)."""
    cold = _probe([name, WARM], cache)[0]
    first = _probe([name], cache)[0]
    warm = _probe([WARM, name], cache)[1]
    return cold, first, warm


def plain_pysd(name: str, work: Path):
    import pysd

    import sdcluster

    src = sdcluster.core.model.resolve_model_path(name)
    copy = Path(tempfile.mkdtemp(dir=work)) / src.name
    shutil.copy(src, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysd.read_vensim(str(copy)) if copy.suffix == ".mdl" else pysd.read_xmile(str(copy))


def simlin_run(name: str):
    import simlin

    import sdcluster

    model = simlin.load(str(sdcluster.core.model.resolve_model_path(name + ".xmile")))

    def run():
        with model.simulate() as sim:
            sim.run_to_end()
    return run


def section_a(repeats: int, work: Path) -> None:
    import sdcluster

    print("A. single runs, default outputs (median of", repeats, "repeats)")
    print(f"{'model':<22}{'steps':>6}{'compiled':>11}{'simlin':>10}{'PySD':>10}{'PySD eng.':>11}"
          f"{'vs simlin':>11}{'vs PySD':>10}{'vs engine':>11}")
    for name in MODELS:
        model = sdcluster.load_model(name)
        model.run()  # compile / load the kernel, warm up
        old = sdcluster.load_model(name, engine="pysd")
        plain = plain_pysd(name, work)
        sim = simlin_run(name)
        sim()
        t_c = median_time(lambda: model.run(), repeats)
        t_s = median_time(sim, repeats)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            t_p = median_time(lambda: plain.run(), max(3, repeats // 2))
        t_o = median_time(lambda: old.run(), max(3, repeats // 2))
        s = model.time_settings
        steps = int(round((s["final_time"] - s["initial_time"]) / s["time_step"]))
        print(f"{name:<22}{steps:>6}{t_c * 1e3:>9.2f}ms{t_s * 1e3:>8.2f}ms{t_p * 1e3:>8.0f}ms{t_o * 1e3:>9.0f}ms"
              f"{t_c / t_s:>10.2f}x{t_p / t_c:>9.0f}x{t_o / t_c:>10.0f}x")
    print("   (vs simlin: compiled time / Simlin time, target <= 2; vs PySD / engine: speed-up, target >= 50)")


def section_b(work: Path) -> None:
    print("\nB. getting the kernel (model.compiled) in fresh processes, seconds wall / CPU")
    print(f"{'model':<22}{'cold':>16}{'cached, 1st model':>20}{'cached, Numba started':>24}")
    for name in MODELS:
        cache = Path(tempfile.mkdtemp(dir=work))
        cold, first, warm = compile_cost(name, cache)
        assert not cold["from_cache"] and first["from_cache"] and warm["from_cache"], (cold, first, warm)
        print(f"{name:<22}{cold['wall']:>8.2f} /{cold['cpu']:>6.2f}{first['wall']:>12.2f} /{first['cpu']:>6.2f}"
              f"{warm['wall']:>16.3f} /{warm['cpu']:>6.3f}")
    print("   (cold: code generation + Numba compilation, target < 10 s for cluster_policy; cached: verified")
    print("    artefact loaded, target < 0.5 s; the first model of a process also pays Numba's start-up)")


def _sample(model, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for p in model.parameters:
        if p.default:
            lo, hi = p.limits
            vals = p.default * (1 + 0.2 * (2 * rng.random(n) - 1))
            vals = np.clip(vals, lo if np.isfinite(lo) else -np.inf, hi if np.isfinite(hi) else np.inf)
            out[p.py_name] = vals
        if len(out) == 5:
            break
    return out


def section_c(repeats: int) -> None:
    import sdcluster

    print("\nC. small batches of cluster_policy (run_batch, default outputs)")
    model = sdcluster.load_model("cluster_policy")
    old = sdcluster.load_model("cluster_policy", engine="pysd")
    for n in (20, 50):
        params = _sample(model, n, seed=n)
        model.run_batch(params)
        t_c = median_time(lambda: model.run_batch(params), repeats)
        t_o = median_time(lambda: old.run_batch(params), max(3, repeats // 2))
        print(f"   N={n}: compiled {t_c * 1e3:.1f} ms ({t_c / n * 1e3:.2f} ms/run), vectorised PySD engine "
              f"{t_o * 1e3:.0f} ms -> {t_o / t_c:.0f}x")


def section_d(runs: int, work: Path) -> None:
    import sdcluster

    print(f"\nD. Monte Carlo of {runs:,} runs of cluster_policy (one run_batch, all stocks)")
    model = sdcluster.load_model("cluster_policy", engine="compiled")
    old = sdcluster.load_model("cluster_policy", engine="pysd")
    params = _sample(model, runs, seed=1)
    outputs = [s.py_name for s in model.stocks]
    model.run_batch({k: v[:2] for k, v in params.items()}, outputs=outputs)
    start = time.perf_counter()
    a = model.run_batch(params, outputs=outputs)
    t_c = time.perf_counter() - start
    start = time.perf_counter()
    b = old.run_batch(params, outputs=outputs)
    t_o = time.perf_counter() - start
    worst = max(float(np.nanmax(np.abs(a[v].values - b[v].values) / np.maximum(np.abs(b[v].values), 1e-300)))
                for v in outputs)
    plain = plain_pysd("cluster_policy", work)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        t_p = median_time(lambda: plain.run(), 3)
    t_auto = t_o if runs >= sdcluster.core.model.LARGE_BATCH else t_c
    print(f"   compiled: {t_c:.2f} s ({t_c / runs * 1e3:.3f} ms/run); vectorised PySD engine: {t_o:.2f} s "
          f"-> compiled/vectorised time {t_c / t_o:.2f}; largest relative difference {worst:.1e}")
    print(f"   plain PySD loop (median single run {t_p:.2f} s x {runs:,}): {t_p * runs:.0f} s -> "
          f"{t_p * runs / t_c:,.0f}x (compiled), {t_p * runs / t_auto:,.0f}x (engine='auto')")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--mc-runs", type=int, default=10_000)
    ap.add_argument("--skip-mc", action="store_true")
    args = ap.parse_args(argv)
    print(f"python {sys.version.split()[0]}, one process, medians; machine shared: read the ratios\n")
    with tempfile.TemporaryDirectory() as work:
        os.environ.setdefault("SDCLUSTER_CACHE_DIR", str(Path(work) / "cache"))
        section_a(args.repeats, Path(work))
        section_b(Path(work))
        section_c(args.repeats)
        if not args.skip_mc:
            section_d(args.mc_runs, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
