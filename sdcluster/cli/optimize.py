"""``sdcluster optimize``: search a policy space for the best instrument mix, robust over an ensemble."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize", help="find the best instrument mix for a budget (Pareto front, robust over an ensemble)",
        description="Search the policy space SPACE.yaml (levers, budget, objectives, uncertainty; see "
                    "docs/policy_design.md) and write the front table, figures and one runnable scenario file "
                    "per front point into DIR.")
    p.add_argument("space", type=Path, metavar="SPACE.yaml")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder (replaced)")
    p.add_argument("--algorithm", choices=("auto", "nsga2", "de", "ga"), help="search algorithm (pymoo)")
    p.add_argument("--population", type=int, help="candidates per generation")
    p.add_argument("--generations", type=int, help="most generations")
    p.add_argument("--max-evaluations", type=int, help="stop after this many candidates")
    p.add_argument("--max-seconds", type=float, help="stop after this wall-clock time")
    p.add_argument("--seed", type=int, help="seed of the search")
    p.add_argument("--runs", type=int, help="ensemble members (default: the space's uncertainty.runs)")
    p.add_argument("--discover", metavar="N", type=int, nargs="?", const=0,
                   help="also run scenario discovery (PRIM) for front point N (default: the best on the first "
                        "objective): where does it fail to beat the reference?")
    p.add_argument("--against", metavar="SCENARIO",
                   help="with --discover: compare with this compare_with scenario instead of the reference")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..design import load_space, optimize
    from ..design.outputs import write_outputs
    from ..errors import ParameterError

    if args.against and args.discover is None:
        raise ParameterError("--against applies to scenario discovery; add --discover")
    for name in ("population", "generations", "max_evaluations", "runs"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ParameterError(f"--{name.replace('_', '-')} = {v}: give a positive whole number")
    space = load_space(args.space)
    parent = args.output.parent if str(args.output.parent) else Path(".")
    if not parent.is_dir():
        raise ParameterError(f"{args.output}: the output folder's parent {parent} does not exist")
    result = optimize(space, algorithm=args.algorithm, population=args.population, generations=args.generations,
                      max_evaluations=args.max_evaluations, max_seconds=args.max_seconds, seed=args.seed,
                      runs=args.runs, progress=True)
    discovery = None
    if args.discover is not None:
        from ..design.discovery import discover

        discovery = discover(result, point=args.discover or None, against=args.against)
    write_outputs(result, args.output, discovery=discovery)
    print((args.output / "summary.md").read_text(encoding="utf-8"))
    return 0
