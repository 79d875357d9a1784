"""``sdcluster run``: run a model, or one or more scenario files."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import xarray as xr

from ..errors import ParameterError
from ..outputs.io import check_output_path, write_dataset
from ..scenarios.params import parse_assignment
from .table import format_table

log = logging.getLogger(__name__)

SCENARIO_SUFFIXES = (".yaml", ".yml")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run a model or scenario files",
        description="Run MODEL (a .mdl/.xmile path or bundled model name) once, or run one or more "
                    "scenario files (.yaml) into one result with a 'scenario' dimension.")
    p.add_argument("target", nargs="+", metavar="MODEL|SCENARIO.yaml")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter (model's own or Python name); repeatable")
    p.add_argument("--outputs", help="comma-separated variables to keep (default: all stocks and auxiliaries)")
    p.add_argument("--final-time", type=float, help="override FINAL TIME")
    p.add_argument("--time-step", type=float, help="override TIME STEP")
    p.add_argument("--saveper", type=float, help="override SAVEPER")
    p.add_argument("--allow-out-of-range", action="store_true",
                   help="accept parameter values outside their declared range (warn instead)")
    p.add_argument("-o", "--output", type=Path, help="write the result to FILE.nc (netCDF) or FILE.csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    outputs = [s.strip() for s in args.outputs.split(",") if s.strip()] if args.outputs else None
    targets = [str(t) for t in args.target]
    if args.output:
        check_output_path(args.output)
    if any(t.split("#")[0].lower().endswith(SCENARIO_SUFFIXES) for t in targets):
        ds = _run_scenarios(targets, args, outputs)
    else:
        ds = _run_model(targets, args, outputs)
    if args.output:
        write_dataset(ds, args.output)
        log.info("wrote %s", args.output)
    print(summary(ds))
    return 0


def _run_model(targets: list[str], args: argparse.Namespace, outputs: list[str] | None) -> xr.Dataset:
    from ..core.model import load_model

    if len(targets) != 1:
        raise ParameterError(f"run takes one model or several scenario files (.yaml); got {targets}")
    params = dict(parse_assignment(a) for a in args.assignments)
    model = load_model(targets[0])
    return model.run(params=params, final_time=args.final_time, time_step=args.time_step,
                     saveper=args.saveper, outputs=outputs, check_limits=not args.allow_out_of_range,
                     progress=True)


def _run_scenarios(targets: list[str], args: argparse.Namespace, outputs: list[str] | None) -> xr.Dataset:
    from ..scenarios.simulate import run_scenarios

    if args.assignments or any(v is not None for v in (args.final_time, args.time_step, args.saveper)):
        raise ParameterError("--set and time overrides apply to a model run; with scenario files put "
                             "them in the scenario (parameters:, time:)")
    bad = [t for t in targets if not t.split("#")[0].lower().endswith(SCENARIO_SUFFIXES)]
    if bad:
        raise ParameterError(f"cannot mix scenario files and models: {bad}")
    return run_scenarios(targets, allow_out_of_range=args.allow_out_of_range, outputs=outputs)


def summary(ds: xr.Dataset, max_vars: int = 12) -> str:
    """Text table of each variable at the first, middle and last saved time."""
    times = ds["time"].values
    picks = sorted({0, len(times) // 2, len(times) - 1})
    units = ds["time"].attrs.get("units", "")
    names = list(ds.data_vars)[:max_vars]
    extra = [d for d in ds.dims if d != "time"]
    headers = ["variable", "units"] + extra + [f"t={times[i]:g} {units}".strip() for i in picks]
    rows = []
    for name in names:
        var = ds[name]
        stacked = var.stack(_k=extra) if extra else var.expand_dims(_k=[None])
        for k in range(stacked.sizes["_k"]):
            one = stacked.isel(_k=k)
            key = one["_k"].item() if extra else ()
            labels = [str(v) for v in (key if isinstance(key, tuple) else (key,))] if extra else []
            rows.append([name, var.attrs.get("units", "")] + labels
                        + [float(one.isel(time=i)) for i in picks])
    text = format_table(headers, rows)
    if len(ds.data_vars) > max_vars:
        text += f"\n... {len(ds.data_vars) - max_vars} more variables (use -o to save all)"
    return text
