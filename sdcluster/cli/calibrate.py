"""``sdcluster calibrate``: fit model parameters to observed series and print a fit table.

The scenario file (``-o``) and the figure (``--plot``) are both prepared in
temporary files and moved into place together after the fit, so a failed or
killed calibration leaves the previous pair (or none), never a new figure
beside an old scenario file.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import math
from pathlib import Path

from ..errors import CalibrationError
from ..scenarios.params import parse_assignment

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate", help="fit parameters to observed data",
        description="Fit parameters of MODEL (a .mdl/.xmile path or bundled model name) to observed series in a "
                    "CSV file (a time column plus one column per series, named like model variables or mapped "
                    "with --map). Prints fitted values with intervals, fit statistics (R2, RMSE, MAPE, Theil "
                    "UM/US/UC) and identifiability warnings; -o writes a scenario file with the fitted values.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--data", required=True, type=Path, metavar="OBS.csv", help="observations (CSV, UTF-8)")
    p.add_argument("--param", action="append", required=True, default=[], metavar="NAME=LO:HI[:X0]",
                   help="parameter to fit with bounds (and optional initial guess); repeatable")
    p.add_argument("--time-column", help="name of the time column (default: 'time' or the first column)")
    p.add_argument("--time-offset", type=float, default=0.0,
                   help="subtracted from data times to give model time (e.g. 1990 if model time 0 is 1990)")
    p.add_argument("--map", action="append", default=[], metavar="COLUMN=VARIABLE",
                   help="compare a data column with a model variable of another name; repeatable")
    p.add_argument("--weight", action="append", default=[], metavar="COLUMN=W", help="series weight; repeatable")
    p.add_argument("--sigma", action="append", default=[], metavar="COLUMN=SD",
                   help="known measurement error (standard deviation) of a series; repeatable")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                   help="hold another parameter at a value during the fit; repeatable")
    p.add_argument("--payoff", default="wss", choices=["wss", "gaussian", "poisson", "negbin"])
    p.add_argument("--method", default="least_squares", choices=["least_squares", "powell", "de"])
    p.add_argument("--starts", type=int, help="starting points of local methods (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-evals", type=int, help="stop after this many model evaluations")
    p.add_argument("--max-time", type=float, help="stop after this many seconds (wall clock)")
    p.add_argument("--final-time", type=float, help="override FINAL TIME")
    p.add_argument("--time-step", type=float, help="override TIME STEP")
    p.add_argument("--profile", action="store_true", help="profile-likelihood intervals (slower)")
    p.add_argument("--plot", type=Path, metavar="FIG.png", help="save data vs fitted figure")
    p.add_argument("-o", "--output", type=Path, metavar="FITTED.yaml", help="write a scenario file")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def parse_param(text: str) -> tuple[str, tuple[float, ...]]:
    """Split ``"growth rate=0.1:2"`` / ``"growth rate=0.1:2:0.5"`` into a name and bounds.

    Raises
    ------
    CalibrationError
        Missing ``=``, empty name, or bounds that are not 2 or 3 finite numbers.
    """
    if "=" not in text:
        raise CalibrationError(f"--param {text!r}: expected NAME=LO:HI, e.g. --param 'growth rate=0.05:1.5'")
    name, _, raw = text.rpartition("=")
    name = name.strip()
    if not name:
        raise CalibrationError(f"--param {text!r}: the parameter name before '=' is empty")
    parts = raw.split(":")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise CalibrationError(f"--param {text!r}: bounds {raw!r} must be numbers LO:HI or LO:HI:X0") from None
    if len(values) not in (2, 3) or not all(math.isfinite(v) for v in values):
        raise CalibrationError(f"--param {text!r}: bounds {raw!r} must be two or three finite numbers LO:HI[:X0]")
    return name, values


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise CalibrationError(f"{flag} {item!r}: expected COLUMN=VALUE")
        k, _, v = item.rpartition("=")
        out[k.strip()] = v.strip()
    return out


def _floats(items: list[str], flag: str) -> dict[str, float] | None:
    out = {}
    for k, v in _pairs(items, flag).items():
        try:
            out[k] = float(v)
        except ValueError:
            raise CalibrationError(f"{flag} {k}={v!r}: not a number") from None
    return out or None


def run(args: argparse.Namespace) -> int:
    from ..calibrate import calibrate
    from ..calibrate.result import save_plot
    from ..outputs.io import atomic_path, check_output_path

    params = dict(parse_param(t) for t in args.param)
    if args.output:
        check_output_path(args.output, (".yaml", ".yml"))
    if args.plot:
        check_output_path(args.plot, (".png", ".svg", ".pdf"))
    result = calibrate(
        args.model, args.data, params, payoff=args.payoff, method=args.method, n_starts=args.starts,
        seed=args.seed, time=args.time_column, time_offset=args.time_offset,
        mapping=_pairs(args.map, "--map") or None, weights=_floats(args.weight, "--weight"),
        sigma=_floats(args.sigma, "--sigma"), fixed=dict(parse_assignment(a) for a in args.assignments),
        final_time=args.final_time, time_step=args.time_step, max_evals=args.max_evals, max_time=args.max_time,
        profile=args.profile, progress=not args.no_progress)
    print(result.table())
    with contextlib.ExitStack() as stack:  # both files are moved into place when the block ends
        if args.plot:
            save_plot(result.plot(), stack.enter_context(atomic_path(args.plot)), args.plot)
        if args.output:
            stack.enter_context(atomic_path(args.output)).write_text(result.scenario_text(args.output),
                                                                     encoding="utf-8")
    for path in (args.plot, args.output):
        if path:
            log.info("wrote %s", path)
    return 0
