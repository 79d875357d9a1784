#!/usr/bin/env python3
"""Benchmark the core: cached vs first load, ``Model.run`` vs PySD's own ``run``.

Usage::

    python benchmarks/bench_core.py [--repeats 5]

Prints, for each model, the median of ``--repeats`` timings measured in this
one process (the machines are shared and noisy: read the ratios):

- first load (PySD translation into an empty cache, plus import) vs a cached
  load of the same file;
- one run of ``sdcluster`` ``Model.run`` vs one ``run`` of the same model
  loaded with plain PySD (fresh translation in a temporary folder).

Models: a lookup-free SIR model (``benchmarks/models/sir.mdl``, 3,200 steps),
the core test model with two lookups, and every bundled model.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_time(func, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_model(path: Path, repeats: int, work: Path) -> dict:
    import pysd

    import sdcluster

    def first_load():
        os.environ["SDCLUSTER_CACHE_DIR"] = tempfile.mkdtemp(dir=work)
        sdcluster.load_model(path)

    t_first = median_time(first_load, repeats)
    model = sdcluster.load_model(path)  # populate the last cache
    t_cached = median_time(lambda: sdcluster.load_model(path), repeats)

    copy = Path(tempfile.mkdtemp(dir=work)) / path.name
    shutil.copy(path, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = pysd.read_vensim(str(copy)) if copy.suffix == ".mdl" else pysd.read_xmile(str(copy))
        t_pysd = median_time(lambda: plain.run(), repeats)
    t_ours = median_time(lambda: model.run(), repeats)
    steps = int(round((model.time_settings["final_time"] - model.time_settings["initial_time"])
                      / model.time_settings["time_step"]))
    lookups = len(model._engine.fast_lookups)
    return dict(model=path.name, variables=len(model.variables), lookups=lookups, steps=steps,
                first=t_first, cached=t_cached, pysd=t_pysd, ours=t_ours)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    models = [ROOT / "benchmarks/models/sir.mdl", ROOT / "tests/core/fixtures/small_cluster.mdl"]
    models += sorted((ROOT / "models").glob("*.mdl"))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for path in models:
            rows.append(bench_model(path, args.repeats, Path(work)))
    print(f"median of {args.repeats} repeats, one process, python {sys.version.split()[0]}")
    head = (f"{'model':28} {'vars':>4} {'lkps':>4} {'steps':>6} {'first load':>11} {'cached':>9} "
            f"{'load ratio':>10} {'PySD run':>10} {'Model.run':>10} {'speed-up':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['model']:28} {r['variables']:4d} {r['lookups']:4d} {r['steps']:6d} {r['first']*1e3:9.1f}ms "
              f"{r['cached']*1e3:7.1f}ms {r['first']/r['cached']:9.1f}x {r['pysd']*1e3:8.1f}ms "
              f"{r['ours']*1e3:8.1f}ms {r['pysd']/r['ours']:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
