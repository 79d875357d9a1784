"""``sdcluster sensitivity``: Sobol or Morris indices of KPIs with respect to uncertain parameters.

Writes into the output folder ``sensitivity.csv``, ``sensitivity.md``,
``figures/tornado_<k>.png`` (one per KPI) and, last, ``manifest.json``; the
folder is replaced whole (see :func:`sdcluster.outputs.io.atomic_output_dir`).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import ParameterError
from .ensemble import add_common, ensemble_kwargs, slug, target_arg
from .table import format_table

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sensitivity", help="global sensitivity (Sobol, Morris) of KPIs to uncertain parameters",
        description="Which uncertain parameters drive a KPI? Samples the distributions in --uncertain with "
                    "SALib, runs one scenario (or a model) for every sample and reports Sobol indices "
                    "(S1, ST) or Morris screening measures (mu*, sigma) with a tornado figure.")
    add_common(p)
    p.add_argument("--kpi", dest="kpis", action="append", nargs="+", metavar="KPI", required=True,
                   help="KPI, repeatable (syntax of 'sdcluster compare')")
    p.add_argument("--method", choices=["sobol", "morris"], default="sobol", help="default: sobol")
    p.add_argument("--runs", type=int, default=256,
                   help="Sobol: base sample size, a power of 2 (runs = N x (parameters + 2)); "
                        "Morris: trajectories (runs = N x (parameters + 1)). Default 256")
    p.add_argument("--levels", type=int, default=4, help="Morris grid levels (default 4)")
    p.add_argument("--scenario", help="which scenario of a scenario set to analyse")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("sensitivity-results"), metavar="DIR",
                   help="folder for all outputs (default: sensitivity-results/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..outputs.io import atomic_output_dir, atomic_write_text, check_output_dir
    from ..outputs.plot import save_figure
    from ..outputs.plot_ensemble import plot_tornado
    from ..uncertainty.sampling import load_uncertain
    from ..uncertainty.sensitivity import sensitivity

    uncertain = load_uncertain(args.uncertain)
    if args.runs <= 0:
        raise ParameterError(f"--runs {args.runs}: the number of runs must be positive")
    kpis = [k for group in args.kpis for k in group]
    final_dir = check_output_dir(args.output_dir)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    table = sensitivity(target_arg(args.target), uncertain, kpis, method=args.method, n=args.runs,
                        seed=args.seed, levels=args.levels, scenario=args.scenario, **ensemble_kwargs(args))
    headers = list(table.columns)
    rows = table.values.tolist()
    md = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r) + " |" for r in rows]
    with atomic_output_dir(final_dir, command="sdcluster sensitivity") as out:
        atomic_write_text(out / "sensitivity.csv", table.to_csv(index=False))
        atomic_write_text(out / "sensitivity.md", "\n".join(md) + "\n")
        (out / "figures").mkdir()
        for i, label in enumerate(dict.fromkeys(table["kpi"]), 1):
            save_figure(plot_tornado(table, label), out / "figures", f"tornado_{i}_{slug(label)}", formats=formats)
    print(f"{args.method}: {table.attrs['runs']} runs; results in {args.output_dir}/")
    print(format_table(headers, rows))
    return 0
