"""``sdcluster check``: re-run scenario files and fail on drift from a golden netCDF."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..scenarios.golden import DEFAULT_ATOL, DEFAULT_RTOL, compare_to_golden, read_golden, write_golden

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``check`` sub-command."""
    p = sub.add_parser(
        "check", help="re-run scenarios and compare with a golden file (exit 1 on drift)",
        description="Run SCENARIO files (a set file runs all its scenarios; file.yaml#name picks one) "
                    "and compare every variable, scenario and saved time with the golden netCDF. "
                    "A value moved when |new - golden| > atol + rtol*|golden|. Exit code 0: no drift; "
                    "1: drift (listed) or an error.")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO.yaml")
    p.add_argument("--against", required=True, type=Path, metavar="GOLDEN.nc", help="golden netCDF file")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help=f"relative tolerance (default {DEFAULT_RTOL:g})")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL, help=f"absolute tolerance (default {DEFAULT_ATOL:g})")
    p.add_argument("--update", action="store_true", help="(re)write the golden file from this run instead of checking")
    p.add_argument("--allow-out-of-range", action="store_true",
                   help="accept parameter values outside their declared range (warn instead)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=check)


def check(args: argparse.Namespace) -> int:
    """Run the scenarios; update the golden file or compare with it."""
    from ..scenarios.simulate import run_scenarios

    golden = None if args.update else read_golden(args.against)  # fail fast, before the runs
    ds = run_scenarios([str(s) for s in args.scenarios], allow_out_of_range=args.allow_out_of_range,
                       progress=not args.no_progress)
    if args.update:
        write_golden(ds, args.against)
        print(f"wrote golden file {args.against}: {ds.sizes['scenario']} scenario(s), "
              f"{len(ds.data_vars)} variable(s), {ds.sizes['time']} saved times")
        return 0
    report = compare_to_golden(ds, golden, rtol=args.rtol, atol=args.atol)
    report.golden = str(args.against)
    print(report.summary())
    return 0 if report.ok else 1
