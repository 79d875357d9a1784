"""Policy design: search a policy space for the best instrument mix, robust over an ensemble.

>>> from sdcluster.design import optimize                          # doctest: +SKIP
>>> result = optimize("scenarios/design/budget_20M.yaml")          # doctest: +SKIP
>>> write_outputs(result, "out/budget_20M")                        # doctest: +SKIP

- :mod:`~sdcluster.design.space`: the policy space file (levers, budget, objectives, robustness);
- :mod:`~sdcluster.design.problem`: the space bound to a model; vectorised evaluation;
- :mod:`~sdcluster.design.search`: the pymoo search (NSGA-II / differential evolution);
- :mod:`~sdcluster.design.outputs`: front table, figures, runnable scenario files;
- :mod:`~sdcluster.design.discovery`: scenario discovery (PRIM) for a chosen policy.
"""
from __future__ import annotations

from .problem import Problem, bind
from .search import OptimizeResult, optimize
from .space import PolicySpace, load_space

__all__ = ["PolicySpace", "Problem", "OptimizeResult", "bind", "load_space", "optimize"]
