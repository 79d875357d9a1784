"""``sdcluster compare``: run scenarios and compare them with a baseline.

Writes into the output folder::

    results.nc            all scenarios, dims (scenario, time), with provenance
    differences.nc        each scenario minus the baseline
    kpis.csv, kpis.md     the tidy KPI table (also printed to the terminal)
    figures/*.png, *.svg  trajectories, differences, KPI bars, life-cycle stages
    report.html           a self-contained report (figures embedded)
    manifest.json         every file above with its size and SHA-256, written last

The folder is replaced whole (see :func:`sdcluster.io.atomic_output_dir`).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import xarray as xr

from ..errors import ParameterError, suggest

log = logging.getLogger(__name__)

#: Without --kpi, default KPIs cover at most this many variables (the table stays readable).
MAX_DEFAULT_VARIABLES = 8

KPI_HELP = (
    "a KPI, repeatable: VAR@T (value at time T, or @end), VAR:cum[T0,T1] (cumulative), VAR:peak, "
    "VAR:peak_time, VAR:t>=X (time to reach X), VAR:npv[T0,T1,r=0.03] (discounted cumulative); "
    "add '/cost' for extra outcome per extra public cost vs the baseline; prefix 'min:' when lower is better. "
    "Default: final value and peak of every output (+ cost-effectiveness when the cost variable exists)"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare scenarios with a baseline: KPIs, figures, HTML report",
        description="Run scenario files (or read a results .nc file) and compare every scenario with the "
                    "baseline: KPI table (CSV, Markdown, terminal), figures (PNG, SVG), life-cycle stages "
                    "and a self-contained HTML report.",
        epilog="KPI syntax, stage rules and outputs: docs/compare.md. Quote KPIs containing [ ] < > in the shell.")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO.yaml",
                   help="scenario files (file.yaml#name for one scenario of a set), or one results .nc file")
    p.add_argument("--baseline", required=True, metavar="NAME", help="name of the baseline scenario")
    p.add_argument("--kpi", dest="kpis", action="append", nargs="+", metavar="KPI", help=KPI_HELP)
    p.add_argument("--cost-variable", default=None, metavar="NAME",
                   help="cumulative public cost variable for '/cost' KPIs (default: cumulative_public_cost)")
    p.add_argument("--stage-variable", metavar="NAME",
                   help="variable whose life-cycle stages are detected (default: firms, else the first output)")
    p.add_argument("--outputs", help="comma-separated variables to keep and plot (default: the scenarios' outputs)")
    p.add_argument("--model", help="model for scenarios that name none (path or bundled name)")
    p.add_argument("--allow-out-of-range", action="store_true",
                   help="accept parameter values outside their declared range (warn instead)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("compare-results"), metavar="DIR",
                   help="folder for all outputs (created if missing; default: compare-results/)")
    p.add_argument("--formats", default="png,svg", help="figure formats, comma-separated (default: png,svg)")
    p.add_argument("--title", help="report title")
    p.set_defaults(func=run)


def load_results(items: list[str], args: argparse.Namespace) -> xr.Dataset:
    """Run the scenario files, or open a single results ``.nc`` file."""
    outputs = [s.strip() for s in args.outputs.split(",") if s.strip()] if args.outputs else None
    if len(items) == 1 and items[0].lower().endswith(".nc"):
        path = Path(items[0])
        if not path.is_file():
            raise ParameterError(f"results file {path} does not exist")
        with xr.open_dataset(path) as f:
            ds = f.load()
        if outputs:
            missing = [o for o in outputs if o not in ds.data_vars]
            if missing:
                raise ParameterError(f"--outputs: {missing[0]!r} is not in {path}; available: "
                                     f"{sorted(ds.data_vars)}." + suggest(missing[0], list(ds.data_vars)))
            ds = ds[outputs]
        return ds
    if any(i.lower().endswith(".nc") for i in items):
        raise ParameterError(f"give either scenario files or one results .nc file, not both: {items}")
    from ..simulate import run_scenarios

    return run_scenarios(items, model=args.model, allow_out_of_range=args.allow_out_of_range, outputs=outputs)


def _stage_variable(ds: xr.Dataset, name: str | None) -> str | None:
    candidates = [v for v in ds.data_vars if set(ds[v].dims) <= {"scenario", "time"} and "time" in ds[v].dims]
    if name:
        if name not in candidates:
            raise ParameterError(f"--stage-variable {name!r} is not in the results; available: {candidates}."
                                 + suggest(name, candidates))
        return name
    if "firms" in candidates:
        return "firms"
    return candidates[0] if candidates else None


def run(args: argparse.Namespace) -> int:
    from .. import compare as cmp
    from .. import plot, report
    from ..io import atomic_output_dir, atomic_write, atomic_write_text, check_output_dir, write_dataset
    from ..lifecycle import stages_by_scenario

    texts = [k for group in args.kpis for k in group] if args.kpis else []
    files = [k for k in texts if k.lower().endswith((".yaml", ".yml", ".nc"))]
    if files:
        raise ParameterError(f"--kpi {files[0]!r} looks like a file: put scenario files before --kpi, "
                             "or end the KPI list with '--'")
    kpis = cmp.parse_kpis(texts) if texts else None  # fail fast, before running anything
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad or not formats:
        raise ParameterError(f"--formats {args.formats!r}: use png, svg and/or pdf, comma-separated")
    final_dir: Path = args.output_dir
    check_output_dir(final_dir)

    ds = load_results([str(s) for s in args.scenarios], args)
    cost = args.cost_variable or cmp.COST_VARIABLE
    if kpis is None:
        kpis = cmp.default_kpis(ds, cost, max_variables=MAX_DEFAULT_VARIABLES)
    comparison = cmp.compare(ds, args.baseline, kpis, cost_variable=cost)
    table = comparison.kpis
    stage_var = _stage_variable(ds, args.stage_variable)
    stage_map = stages_by_scenario(ds[stage_var]) if stage_var else None

    with atomic_output_dir(final_dir, command="sdcluster compare") as outdir:
        written = [write_dataset(ds, outdir / "results.nc"),
                   write_dataset(comparison.differences, outdir / "differences.nc")]
        written.append(atomic_write(outdir / "kpis.csv", lambda tmp: table.to_csv(tmp, index=False)))
        written.append(atomic_write_text(outdir / "kpis.md", cmp.to_markdown(table)))
        (outdir / "figures").mkdir()
        figs = plot.comparison_figures(ds, args.baseline, table, stage_var, stage_map)
        embedded = {}
        try:
            for stem, fig in figs.items():
                paths = plot.save_figure(fig, outdir / "figures", stem, formats)
                written += paths
                # the report embeds the PNG just written (no second rendering), else renders one
                embedded[stem] = next((p for p in paths if p.suffix == ".png"), fig)
            html = report.build_report(ds, table, baseline=args.baseline, figures=embedded, stage_map=stage_map,
                                       stage_variable=stage_var, title=args.title)
        finally:
            import matplotlib.pyplot as plt

            for fig in figs.values():
                plt.close(fig)
        written.append(report.write_report(outdir / "report.html", html))
    print(cmp.to_text(table))
    if stage_map:
        print(f"Life-cycle stages of {stage_var}:")
        for sc, lst in stage_map.items():
            print(f"  {sc}: " + "; ".join(f"{s.name} {s.start:g}-{s.end:g}" for s in lst))
    print(f"\nWrote {len(written)} files to {final_dir}/ (open {final_dir / 'report.html'})")
    return 0
