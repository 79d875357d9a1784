"""Search the policy space with pymoo: NSGA-II for a Pareto front, a genetic algorithm for one objective.

The search asks pymoo for a population, evaluates it over the whole ensemble
in vectorised passes (:meth:`Problem.evaluate <sdcluster.design.problem.Problem.evaluate>`),
and tells pymoo the robust objective values and the budget constraint. Every
candidate ever evaluated is kept; the result is the non-dominated set of the
*feasible* ones (within the bounds, whole numbers where required, planned cost
within the budget), so an infeasible candidate never reaches the output.

Why pymoo: it is the one well-kept library (measured against ``cma`` and
``scipy.optimize.differential_evolution`` in ``benchmarks/bench_optimize.py``)
that does both a multi-objective front (NSGA-II) and single-objective search
with repair operators and constraint handling, and lets us drive it
generation by generation (ask/tell), so a whole population goes into one
vectorised pass and wall-clock and evaluation budgets are ours to enforce.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import SdclusterError
from .problem import Problem, bind
from .robust import robust_value, to_minimise
from .space import PolicySpace, load_space

log = logging.getLogger(__name__)

__all__ = ["optimize", "OptimizeResult", "DEFAULTS"]

#: Search settings used when neither the space file nor the caller gives them.
DEFAULTS = {"algorithm": "auto", "population": 40, "generations": 30, "max_evaluations": None,
            "max_seconds": None, "seed": 1}


@dataclass
class OptimizeResult:
    """What :func:`optimize` found.

    Attributes
    ----------
    problem : Problem
        The bound policy space (model, levers, ensemble).
    X : numpy.ndarray
        Lever values of the front points, ``(F, d)``; columns ``problem.names``.
    robust : dict
        ``{objective label: robust value of each front point (F,)}``.
    kpis : dict
        ``{KPI label: values (F, members)}`` of the front points, run by run.
    cost : numpy.ndarray
        The model's cost variable at the end of each run ``(F, members)`` (NaN without one).
    planned_cost : numpy.ndarray
        Planned public cost of each front point (amount x years, summed).
    reference : dict
        ``{KPI label: values (members,)}`` of the reference scenario.
    scenarios : dict
        ``{name: {KPI label: values (members,)}}`` of the ``compare_with`` scenarios.
    history : list of dict
        Per generation: evaluations, seconds, feasible candidates, best value(s) or hypervolume.
    settings : dict
        The search settings used (algorithm, population, seed, budgets, runs).
    stopped : str
        Why the search ended (generations, evaluation budget, time budget).
    evaluations : int
        Candidates evaluated (each over the whole ensemble).
    runs : int
        Model runs made (candidates x members, plus the reference and comparisons).
    seconds : float
        Wall-clock time of the search.
    """

    problem: Problem
    X: np.ndarray
    robust: dict[str, np.ndarray]
    kpis: dict[str, np.ndarray]
    cost: np.ndarray
    planned_cost: np.ndarray
    reference: dict[str, np.ndarray]
    scenarios: dict[str, dict[str, np.ndarray]]
    history: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    stopped: str = ""
    evaluations: int = 0
    runs: int = 0
    seconds: float = 0.0

    @property
    def space(self) -> PolicySpace:
        """The policy space searched."""
        return self.problem.space

    @property
    def kpis_units(self) -> dict[str, str]:
        """Units of each KPI (from the model's variable units)."""
        return self.problem.kpi_units

    def parameters(self) -> dict[str, np.ndarray]:
        """Model parameter values of each front point ``{python name: (F,)}``."""
        return self.problem.parameters(self.X)

    def robust_of(self, values: dict[str, np.ndarray]) -> dict[str, float]:
        """Robust values of one scenario's KPI values ``{KPI label: (members,)}``."""
        return {o.label: float(robust_value(o, values[o.kpi.label][None, :], self.reference[o.kpi.label],
                                            self._best(o))[0]) for o in self.space.objectives}

    def _best(self, objective: Any) -> np.ndarray:
        return _best_alternative(objective, self.reference, self.scenarios)


def _best_alternative(objective: Any, reference: dict, scenarios: dict) -> np.ndarray:
    rows = [reference[objective.kpi.label]] + [s[objective.kpi.label] for s in scenarios.values()]
    m = np.vstack(rows)
    o = m if objective.kpi.better == "higher" else -m
    o = np.where(np.isnan(o), -np.inf, o)
    best = o.max(axis=0)
    return best if objective.kpi.better == "higher" else -best


def _nondominated(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of *F* (minimisation), duplicates kept once."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    if F.shape[1] == 1:
        return np.array([int(np.argmin(F[:, 0]))])
    front = NonDominatedSorting().do(F, only_non_dominated_front=True)
    _, first = np.unique(np.round(F[front], 12), axis=0, return_index=True)
    idx = np.asarray(front)[np.sort(first)]
    return idx[np.argsort(F[idx, -1], kind="stable")]


def _algorithm(name: str, n_obj: int, pop: int, repair: Any, sampling: Any) -> Any:
    if name == "auto":  # for one objective pymoo's GA did best in benchmarks/bench_optimize.py (section C)
        name = "nsga2" if n_obj > 1 else "ga"
    if name == "nsga2":
        from pymoo.algorithms.moo.nsga2 import NSGA2

        return NSGA2(pop_size=pop, sampling=sampling, repair=repair, eliminate_duplicates=True), name
    if n_obj > 1:
        raise SdclusterError(f"search algorithm {name!r} handles one objective; use nsga2 (or auto) for "
                             f"{n_obj} objectives")
    if name == "de":
        from pymoo.algorithms.soo.nonconvex.de import DE

        return DE(pop_size=pop, sampling=sampling, variant="DE/rand/1/bin", CR=0.9, F=0.8, repair=repair), name
    from pymoo.algorithms.soo.nonconvex.ga import GA

    return GA(pop_size=pop, sampling=sampling, repair=repair, eliminate_duplicates=True), name


def optimize(space: PolicySpace | str, *, model: Any = None, algorithm: str | None = None,
             population: int | None = None, generations: int | None = None,
             max_evaluations: int | None = None, max_seconds: float | None = None, seed: int | None = None,
             runs: int | None = None, chunk_size: int | None = None, initial: Any = None, progress: bool = False,
             callback: Callable[[dict[str, Any]], None] | None = None) -> OptimizeResult:
    """Find the best instrument mix (or the Pareto front) of a policy space, robust over an ensemble.

    Parameters
    ----------
    space
        A :class:`~sdcluster.design.space.PolicySpace` or the path of a policy space file.
    model
        A loaded model (default: the reference scenario's).
    algorithm
        ``auto`` (NSGA-II for several objectives, GA for one), ``nsga2``, ``de`` or ``ga``.
    population, generations
        Candidates per generation and the most generations.
    max_evaluations
        Stop once this many candidates have been evaluated (each over the whole ensemble).
    max_seconds
        Stop after the generation that passes this wall-clock time (the first
        generation always runs).
    seed
        Seed of the search (the ensemble has its own, in the space's ``uncertainty``).
    runs
        Ensemble members (default: the space's ``uncertainty.runs``).
    chunk_size
        Model runs per vectorised pass.
    initial
        Lever vectors ``(k, d)`` (columns as :attr:`Problem.names`) to put in the first
        generation, e.g. a mix found earlier; the rest is drawn at random.
    progress
        Show a progress bar.
    callback
        Called with each generation's history entry.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    ScenarioError, ParameterError
        For an invalid space; raised before any model run.
    """
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.core.repair import Repair
    from pymoo.problems.static import StaticProblem

    if not isinstance(space, PolicySpace):
        space = load_space(space)
    settings = {**DEFAULTS, **space.search}
    for key, value in (("algorithm", algorithm), ("population", population), ("generations", generations),
                       ("max_evaluations", max_evaluations), ("max_seconds", max_seconds), ("seed", seed)):
        if value is not None:
            settings[key] = value
    for key, least in (("population", 4), ("generations", 1)):
        if int(settings[key]) < least:
            raise SdclusterError(f"{space.label}: search.{key}: value {settings[key]} must be at least {least}")
    problem = bind(space, model, runs=runs, chunk_size=chunk_size)
    settings["runs"] = problem.members
    objectives = space.objectives
    t_start = time.perf_counter()

    fixed = problem.evaluate_scenarios([space.reference, *space.compare_with])
    ref_vals = {k: v[0] for k, v in fixed[0].items()}
    sc_vals = {s.name: {k: v[0] for k, v in r.items()} for s, r in zip(space.compare_with, fixed[1:])}
    best_alt = {o.label: _best_alternative(o, ref_vals, sc_vals) for o in objectives}

    class _Repair(Repair):
        def _do(self, _problem: Any, X: np.ndarray, **kwargs: Any) -> np.ndarray:
            return problem.repair(X)

    pm_problem = PymooProblem(n_var=len(problem.names), n_obj=len(objectives), n_ieq_constr=1,
                              xl=problem.lower, xu=problem.upper)
    pop_size = int(settings["population"])
    rng = np.random.default_rng(int(settings["seed"]))
    first = problem.lower + rng.random((pop_size, len(problem.names))) * (problem.upper - problem.lower)
    if initial is not None:
        given = np.atleast_2d(np.asarray(initial, dtype=float))
        if given.shape[1] != len(problem.names) or len(given) > pop_size:
            raise SdclusterError(f"initial: expected at most {pop_size} rows of {len(problem.names)} lever values "
                                 f"({', '.join(problem.names)}), got shape {given.shape}")
        first[:len(given)] = given
    algo, algo_name = _algorithm(settings["algorithm"], len(objectives), pop_size, _Repair(), problem.repair(first))
    settings["algorithm"] = algo_name
    algo.setup(pm_problem, termination=("n_gen", int(settings["generations"])), seed=int(settings["seed"]),
               verbose=False)

    archive_X, archive_F, archive_ok, archive_kpi, archive_cost = [], [], [], [], []
    history: list[dict[str, Any]] = []
    budget_evals = settings["max_evaluations"]
    budget_s = settings["max_seconds"]
    bar = _bar(progress, int(settings["population"]) * int(settings["generations"])
               if budget_evals is None else int(budget_evals))
    stopped = "generations"
    try:
        while algo.has_next():
            if budget_evals is not None and len(archive_X) and sum(len(x) for x in archive_X) >= budget_evals:
                stopped = "evaluation budget"
                break
            if budget_s is not None and archive_X and time.perf_counter() - t_start >= budget_s:
                stopped = "time budget"
                break
            pop = algo.ask()
            X = problem.repair(pop.get("X"))
            pop.set("X", X)
            vals = problem.evaluate(X, progress=None)
            F = np.column_stack([to_minimise(o, robust_value(o, vals[o.kpi.label], ref_vals[o.kpi.label],
                                                             best_alt[o.label])) for o in objectives])
            G = (problem.planned_cost(X) - space.budget)[:, None]
            ok = problem.feasible(X)
            Evaluator().eval(StaticProblem(pm_problem, F=F, G=G), pop)
            algo.tell(infills=pop)
            archive_X.append(X)
            archive_F.append(F)
            archive_ok.append(ok)
            archive_kpi.append(vals)
            archive_cost.append(vals["__cost__"])
            entry = _history_entry(len(history), archive_F, archive_ok, objectives, t_start)
            history.append(entry)
            bar.update(len(X))
            bar.set_postfix_str(entry["summary"])
            if callback is not None:
                callback(entry)
    finally:
        bar.close()
    if len(objectives) > 1:
        _add_hypervolume(history)
    allX = np.vstack(archive_X)
    allF = np.vstack(archive_F)
    ok = np.concatenate(archive_ok)
    if not ok.any():
        raise SdclusterError(f"{space.label}: no feasible candidate was found within the budget of "
                             f"{space.budget:g} {space.budget_units}; widen the lever ranges or the budget")
    feas = np.flatnonzero(ok)
    front = feas[_nondominated(allF[feas])]
    kpis = {o.kpi.label: np.vstack([a[o.kpi.label] for a in archive_kpi])[front] for o in objectives}
    cost = np.vstack(archive_cost)[front]
    Xf = allX[front]
    assert problem.feasible(Xf).all()
    robust = {o.label: robust_value(o, kpis[o.kpi.label], ref_vals[o.kpi.label], best_alt[o.label])
              for o in objectives}
    seconds = time.perf_counter() - t_start
    n_eval = len(allX)
    log.info("optimize %s: %d candidates x %d members in %.1f s (%s); %d front point(s)", space.name, n_eval,
             problem.members, seconds, stopped, len(front))
    return OptimizeResult(problem=problem, X=Xf, robust=robust, kpis=kpis, cost=cost,
                          planned_cost=problem.planned_cost(Xf), reference=ref_vals, scenarios=sc_vals,
                          history=history, settings=settings, stopped=stopped, evaluations=n_eval,
                          runs=problem.evaluations, seconds=seconds)


def _add_hypervolume(history: list[dict[str, Any]]) -> None:
    """Hypervolume of each generation's feasible front, all normalised by the same bounds
    (the range of every generation's front), with the reference point at 1.1."""
    from pymoo.indicators.hv import HV

    fronts = [h.pop("_front") for h in history]
    union = np.vstack([f for f in fronts if len(f)]) if any(len(f) for f in fronts) else np.empty((0, 1))
    if not len(union):
        return
    lo, hi = union.min(axis=0), union.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    hv = HV(ref_point=np.full(union.shape[1], 1.1))
    for h, f in zip(history, fronts):
        h["hypervolume"] = float(hv((f - lo) / span)) if len(f) else 0.0


def _history_entry(gen: int, archive_F: list, archive_ok: list, objectives: list,
                   t_start: float) -> dict[str, Any]:
    F = np.vstack(archive_F)
    ok = np.concatenate(archive_ok)
    entry: dict[str, Any] = {"generation": gen + 1, "evaluations": int(F.shape[0]),
                             "seconds": time.perf_counter() - t_start, "feasible": int(ok.sum())}
    Ff = F[ok]
    for j, o in enumerate(objectives):
        best = float(Ff[:, j].min()) if len(Ff) else np.nan
        entry[f"best {o.label}"] = -best if o.better == "higher" else best
    finite = Ff[np.all(Ff < 1e299, axis=1)]
    if len(objectives) > 1:
        entry["_front"] = finite[_nondominated(finite)] if len(finite) else finite
        entry["front points"] = len(entry["_front"])
    entry["summary"] = f"best={entry[f'best {objectives[0].label}']:.5g}"
    return entry


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(enabled: bool, total: int) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="candidate", desc="optimize", leave=False)
