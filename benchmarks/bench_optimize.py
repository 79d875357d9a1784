"""Policy design (``sdcluster optimize``): speed, the acceptance run, and the search libraries compared.

Usage::

    python benchmarks/bench_optimize.py [--sections ABC] [--runs 200] [--population 40]
                                        [--generations 25] [--max-seconds 480] [--loop-runs 10]
                                        [--lib-runs 30] [--lib-evals 600] [--seed 1]
                                        [--out DIR] [--against SCENARIO]

Prints, each figure measured in this run:

A. Evaluation speed on the bundled policy model (``scenarios/design/budget_20M.yaml``):
   one generation, ``--population`` candidates x ``--runs`` ensemble members, evaluated
   in vectorised passes (:meth:`Problem.evaluate`) against a plain loop of
   :meth:`Model.run` (``--loop-runs`` runs timed and scaled): model runs per second
   and the ratio.
B. The acceptance run: the Pareto front (cost vs the 10th percentile of cumulative value
   added) over 6 instruments x (amount, start) with ``--runs`` members, population
   ``--population``, at most ``--generations`` generations and ``--max-seconds``:
   wall time (target < 10 minutes), candidates and model runs per second, and the best
   front point within the 20 million budget against every bundled hand-written
   scenario whose mean paid cost is <= 20 million, on the same robustness measure.
   With ``--out DIR`` also writes the outputs there, with scenario discovery (PRIM) of
   that point against ``--against``.
C. The search libraries on the single-objective version of the same problem
   (10th percentile of cumulative value added, budget 20 million), each given the
   same number of candidates (``--lib-evals``) over the same ``--lib-runs`` members and
   the same repair: pymoo DE and GA (ask/tell), ``cma`` (CMA-ES, ask/tell) and
   ``scipy.optimize.differential_evolution`` (vectorised, deferred updating).
   Best value found and wall time.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPACE = ROOT / "scenarios" / "design" / "budget_20M.yaml"


def section_a(args) -> None:
    from sdcluster.design import bind, load_space

    space = load_space(SPACE)
    problem = bind(space, runs=args.runs)
    rng = np.random.default_rng(args.seed)
    X = problem.repair(problem.lower + rng.random((args.population, len(problem.names)))
                       * (problem.upper - problem.lower))
    problem.evaluate(X[:2])  # warm up
    t = time.perf_counter()
    problem.evaluate(X)
    vec = time.perf_counter() - t
    n = args.population * problem.members
    params = problem.parameters(X)
    base = dict(problem.base)
    t = time.perf_counter()
    for k in range(args.loop_runs):
        i, j = divmod(k, problem.members)
        one = dict(base)
        one.update({py: float(v[i]) for py, v in params.items()})
        one.update({name: float(v[j]) for name, v in problem.samples.items()})
        problem.model.run(one, outputs=problem.outputs, check_limits=False, **problem.time)
    loop = (time.perf_counter() - t) / args.loop_runs
    print("A. evaluation speed (one generation)")
    print(f"   vectorised: {args.population} candidates x {problem.members} members = {n} runs in {vec:.1f} s "
          f"-> {n / vec:.0f} runs/s ({args.population / vec:.2f} candidates/s)")
    print(f"   plain loop of Model.run: {loop * 1000:.0f} ms/run ({args.loop_runs} timed) -> {1 / loop:.1f} runs/s")
    print(f"   speed-up: {loop * n / vec:.0f}x")


def section_b(args) -> None:
    from sdcluster.design import optimize

    t = time.perf_counter()
    r = optimize(SPACE, runs=args.runs, population=args.population, generations=args.generations,
                 max_seconds=args.max_seconds, seed=args.seed, progress=False)
    wall = time.perf_counter() - t
    o = r.space.objectives[0]
    print("B. acceptance run (Pareto front, cost vs outcome)")
    print(f"   {r.evaluations} candidates x {r.problem.members} members ({r.runs} model runs incl. "
          f"{1 + len(r.space.compare_with)} fixed scenarios) in {wall:.0f} s = {wall / 60:.1f} min "
          f"(target < 10 min); stopped by {r.stopped}; {r.runs / wall:.0f} runs/s")
    paid = np.nanmean(r.cost, axis=1)
    ok = paid <= r.space.budget * (1 + 1e-9)
    best = int(np.flatnonzero(ok)[np.argmax(r.robust[o.label][ok])])
    b = r.robust[o.label][best]
    print(f"   {len(r.X)} front points; best within {r.space.budget:g} {r.space.budget_units}: point {best + 1}, "
          f"{o.label} = {b:.1f} at mean paid cost {paid[best]:.2f}")
    print(f"   {'scenario':28s} {'paid cost':>9s} {o.label:>22s} {'optimised - it':>14s} {'%':>7s}")
    rows = [(r.space.reference.name, r.reference), *r.scenarios.items()]
    worst_margin = np.inf
    for name, vals in rows:
        c = float(np.nanmean(vals["__cost__"]))
        if c > r.space.budget * (1 + 1e-9):
            continue
        v = r.robust_of(vals)[o.label]
        worst_margin = min(worst_margin, b - v)
        print(f"   {name:28s} {c:9.2f} {v:22.1f} {b - v:14.1f} {100 * (b - v) / abs(v):7.2f}")
    print(f"   smallest margin over a hand-written scenario within budget: {worst_margin:.1f} "
          f"({'at least as good as every one' if worst_margin >= 0 else 'BEATEN by one'})")
    print("   levers of the best point: " + ", ".join(f"{n}={x:.3g}" for n, x in zip(r.problem.names, r.X[best])))
    if args.out:
        from sdcluster.design.discovery import discover
        from sdcluster.design.outputs import write_outputs

        found = discover(r, point=best + 1, against=args.against)
        write_outputs(r, args.out, discovery=found)
        print(f"   outputs in {args.out}; scenario discovery of point {best + 1} against {args.against}:")
        print("   " + found.boxes.to_string(index=False, float_format=lambda v: f"{v:.3g}").replace("\n", "\n   "))


def _single_objective(args):
    """The single-objective problem of section C: a function of a population (in [0, 1]^d)."""
    import dataclasses

    from sdcluster.design import bind, load_space

    space = load_space(SPACE)
    space = dataclasses.replace(space, objectives=space.objectives[:1], compare_with=[])
    problem = bind(space, runs=args.lib_runs)
    from sdcluster.design.robust import robust_value

    o = space.objectives[0]
    ref = problem.evaluate_scenarios([space.reference])[0][o.kpi.label][0]
    span = problem.upper - problem.lower
    log = {"evals": 0, "best": -np.inf}

    def f(U: np.ndarray) -> np.ndarray:  # rows in [0, 1]^d; returns values to minimise
        X = problem.repair(problem.lower + np.clip(U, 0, 1) * span)
        v = robust_value(o, problem.evaluate(X)[o.kpi.label], ref, None)
        log["evals"] += len(X)
        log["best"] = max(log["best"], float(np.nanmax(v)))
        return -np.where(np.isfinite(v), v, -1e300)

    return problem, f, log


def section_c(args) -> None:
    import cma
    from scipy.optimize import differential_evolution

    print(f"C. search libraries, single objective, {args.lib_evals} candidates x {args.lib_runs} members each")
    pop = args.population
    results = []

    def run_pymoo(kind: str):
        from pymoo.algorithms.soo.nonconvex.de import DE
        from pymoo.algorithms.soo.nonconvex.ga import GA
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.problem import Problem as PP
        from pymoo.problems.static import StaticProblem

        problem, f, log = _single_objective(args)
        pp = PP(n_var=len(problem.names), n_obj=1, xl=0.0, xu=1.0)
        algo = DE(pop_size=pop, variant="DE/rand/1/bin", CR=0.9, F=0.8) if kind == "de" else \
            GA(pop_size=pop, eliminate_duplicates=True)
        algo.setup(pp, termination=("n_evals", args.lib_evals), seed=args.seed, verbose=False)
        while algo.has_next() and log["evals"] < args.lib_evals:
            p = algo.ask()
            Evaluator().eval(StaticProblem(pp, F=f(p.get("X"))[:, None]), p)
            algo.tell(infills=p)
        return log

    def run_cma():
        problem, f, log = _single_objective(args)
        es = cma.CMAEvolutionStrategy(np.full(len(problem.names), 0.5), 0.3,
                                      {"bounds": [0, 1], "popsize": pop, "seed": args.seed, "verbose": -9})
        while log["evals"] < args.lib_evals:
            U = np.array(es.ask())
            es.tell(list(U), list(f(U)))
        return log

    def run_scipy():
        problem, f, log = _single_objective(args)
        d = len(problem.names)
        per = max(1, round(pop / d))
        maxiter = max(1, args.lib_evals // (per * d) - 1)
        differential_evolution(lambda U: f(np.atleast_2d(U.T)), [(0, 1)] * d, popsize=per, maxiter=maxiter,
                               seed=args.seed, polish=False, vectorized=True, updating="deferred", tol=0)
        return log

    for name, fn in (("pymoo DE", lambda: run_pymoo("de")), ("pymoo GA", lambda: run_pymoo("ga")),
                     ("cma CMA-ES", run_cma), ("scipy differential_evolution", run_scipy)):
        t = time.perf_counter()
        log = fn()
        results.append((name, log["best"], log["evals"], time.perf_counter() - t))
    best = max(r[1] for r in results)
    print(f"   {'library':30s} {'best p10(value_added:cum)':>26s} {'vs best':>9s} {'candidates':>10s} {'time':>7s}")
    for name, b, n, s in results:
        print(f"   {name:30s} {b:26.1f} {100 * (b - best) / abs(best):8.2f}% {n:10d} {s:6.0f}s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sections", default="ABC")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--population", type=int, default=40)
    p.add_argument("--generations", type=int, default=25)
    p.add_argument("--max-seconds", type=float, default=480.0)
    p.add_argument("--loop-runs", type=int, default=10)
    p.add_argument("--lib-runs", type=int, default=30)
    p.add_argument("--lib-evals", type=int, default=600)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, help="section B: write the outputs (with scenario discovery) here")
    p.add_argument("--against", default="networks_and_innovation",
                   help="section B with --out: the scenario discovery compares with this scenario")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    print(f"python {sys.version.split()[0]}; {SPACE.relative_to(ROOT)}")
    for s in args.sections.upper():
        {"A": section_a, "B": section_b, "C": section_c}[s](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
