"""``sdcluster loops``: feedback loops of a model and their dominance over a run."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import ParameterError
from ..outputs.io import atomic_write_text, write_dataset
from ..scenarios.params import parse_assignment
from .table import format_table

log = logging.getLogger(__name__)

#: Loop-table rows printed (all are written with -o).
MAX_ROWS = 25


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loops", help="feedback loops and loop dominance (Loops that Matter)",
        description="List the feedback loops of MODEL (path or bundled name) with their polarity, and "
                    "compute loop dominance over a run of the model or of each scenario in SCENARIO.yaml "
                    "(link, loop and relative loop scores; the dominant loops per period). With several "
                    "scenarios, the first is the reference the others are explained against.")
    p.add_argument("target", metavar="MODEL|SCENARIO.yaml")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter of a model run; repeatable")
    p.add_argument("--names", type=Path, help="loop-names YAML (default: MODEL.loops.yaml next to the model)")
    p.add_argument("--stock", help="report the loops through this stock (Python or model name), their shares "
                                   "renormalised among themselves")
    p.add_argument("--stage-variable", help="stock whose life-cycle stages shade the figure (default: --stock, "
                                            "else the first stock)")
    p.add_argument("-o", "--output", type=Path, metavar="DIR",
                   help="write loops.csv, and per run dominance_NAME.nc, scores_NAME.csv and dominance_NAME.png")
    p.set_defaults(func=loops_command)


def loops_command(args: argparse.Namespace) -> int:
    from ..analysis import loops
    from ..core.model import load_model

    from ..outputs.io import atomic_output_dir, check_output_dir

    if args.output is not None:
        check_output_dir(args.output)  # before any run
    target = str(args.target)
    runs = []
    if target.split("#")[0].lower().endswith((".yaml", ".yml")):
        from ..scenarios.scenario import load_scenarios

        if args.assignments:
            raise ParameterError("--set applies to a model run; with a scenario file put parameters in the scenario")
        for sc in load_scenarios(target):
            model = load_model(sc.model)
            runs.append((sc.name, model, loops.dominance(model, scenario=sc, names=args.names)))
    else:
        model = load_model(target)
        params = dict(parse_assignment(a) for a in args.assignments)
        runs.append((model.name, model, loops.dominance(model, params or None, names=args.names)))
    model = runs[0][1]
    stock = model.py_name(args.stock) if args.stock else None
    table = loops.structure(model, names=args.names)
    frame = table.to_frame()
    print(f"{model.path.name}: {len(frame)} feedback loops ({table.note})")
    if len(frame):
        rows = frame.head(MAX_ROWS).values.tolist()
        print(format_table(list(frame.columns), rows))
        if len(frame) > MAX_ROWS:
            print(f"... {len(frame) - MAX_ROWS} more loops (use -o to save all)")
    for name, _, ds in runs:
        by = "group" if any(ds["group"].values) or stock else "loop"
        print(f"\ndominant loops, {name} (by {by}{', loops through ' + stock if stock else ''}):")
        periods = loops.dominant_periods(ds, by=by, stock=stock)
        print(format_table(["from", "to", "dominant"], [[a, b, d or "(none active)"] for a, b, d in periods]))
    if len(runs) > 1:
        from ..analysis.explain import explain_shift

        print()
        for name, _, ds in runs[1:]:
            print(explain_shift(ds, runs[0][2], policy=name, reference=runs[0][0], stock=stock))
    if args.output is not None:
        with atomic_output_dir(args.output, command="sdcluster loops") as outdir:
            _write(outdir, frame, runs, args.stage_variable, stock)
    return 0


def _write(outdir: Path, frame, runs, stage_variable: str | None, stock: str | None) -> None:
    from ..analysis import loops
    from ..outputs.plot_loops import dominance_figure
    from ..outputs.plot import save_figure

    atomic_write_text(outdir / "loops.csv", frame.to_csv(index=False))
    for name, _, ds in runs:
        write_dataset(ds, outdir / f"dominance_{name}.nc")
        atomic_write_text(outdir / f"scores_{name}.csv", loops.to_frame(ds).to_csv(index=False))
        fig = dominance_figure(ds, stage_variable=stage_variable, stock=stock)
        save_figure(fig, outdir, f"dominance_{name}", formats=("png",))
        import matplotlib.pyplot as plt

        plt.close(fig)
    log.info("wrote loops.csv and %d run(s) to %s", len(runs), outdir)
