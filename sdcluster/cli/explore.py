"""``sdcluster explore``: an interactive policy explorer in the browser."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore", help="explore policies interactively in the browser",
        description="Start a local web app to move a policy's amount, start and duration and see the "
                    "trajectories, an uncertainty band and KPI cards respond. Give scenario files (.yaml; "
                    "their instruments become controls) or a MODEL (bundled name or file). Only these files "
                    "and bundled models are ever loaded.")
    p.add_argument("target", nargs="+", metavar="SCENARIO.yaml|MODEL")
    p.add_argument("--uncertain", type=Path, metavar="FILE",
                   help="uncertain parameters (sdcluster ensemble format) for the band; default: "
                        "uncertainty/<model>.yaml next to the first scenario file, if it exists")
    p.add_argument("--no-uncertainty", action="store_true", help="no band: central runs only")
    p.add_argument("--runs", type=int, default=None, help="sampled runs behind the band (default 200)")
    p.add_argument("--instrument", action="append", default=[], metavar="PARAMETER",
                   help="offer another parameter as an instrument (amount, start, duration); repeatable")
    p.add_argument("--save-dir", type=Path, default=Path.cwd(),
                   help="folder where 'save as scenario' writes (default: the current folder)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050; 0 picks a free port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ParameterError
    from ..explore import build_explorer
    from ..explore.server import serve

    if args.runs is not None and args.runs < 1:
        raise ParameterError(f"--runs {args.runs}: give a positive number of runs")
    if not args.save_dir.is_dir():
        raise ParameterError(f"--save-dir {args.save_dir}: not an existing folder")
    explorer = build_explorer([str(t) for t in args.target], uncertain=args.uncertain,
                              use_uncertainty=not args.no_uncertainty, runs=args.runs,
                              extra_instruments=args.instrument, save_dir=args.save_dir)
    # one line per change from the ensemble layer would drown the terminal; failures still show
    logging.getLogger("sdcluster.uncertainty.ensemble").setLevel(logging.WARNING)
    serve(explorer, args.host, args.port, announce=lambda line: print(line, flush=True))
    print("stopped", flush=True)
    return 0
