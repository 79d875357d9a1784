"""``sdcluster ensemble``: Monte Carlo runs of scenarios under uncertain parameters.

Writes into the output folder::

    ensemble.nc              every run: dims (scenario, run, time), sampled values, 'failed' flags
    kpis.nc                  KPI values run by run (scenario, run)
    robustness.csv, .md      per KPI and scenario: mean, 5/50/95 percentiles, share of runs ranked first
    beats_<k>.csv            P(row scenario beats column scenario) for KPI number k
    figures/bands_<var>.png  confidence-band trajectories
    figures/kpi_<k>.png      KPI distributions
    manifest.json            every file above with its size and SHA-256, written last

The folder is replaced whole (see :func:`sdcluster.outputs.io.atomic_output_dir`). Before
anything runs, the size of the result is estimated and an ensemble above
``--max-memory`` is refused (see :class:`sdcluster.uncertainty.ensemble.EnsembleSize`).
"""
from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from ..errors import ParameterError, RunError
from .table import format_table

log = logging.getLogger(__name__)


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared by ``ensemble`` and ``sensitivity``."""
    p.add_argument("target", nargs="+", metavar="SCENARIO.yaml|MODEL",
                   help="scenario files (file.yaml#name for one of a set), or one model (path or bundled name)")
    p.add_argument("--uncertain", required=True, type=Path, metavar="PARAMS.yaml",
                   help="uncertain parameters and their distributions (see docs/ensemble.md)")
    p.add_argument("--seed", type=int, help="random seed (default: the file's seed, else 0)")
    p.add_argument("--model", help="model for scenarios that name none (path or bundled name)")
    p.add_argument("--workers", default="1", help="local processes: a number or 'auto' (default 1)")
    p.add_argument("--chunk-size", type=int, default=None, help="runs per vectorised pass (default 5000)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run chunks on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the scheduler (default 10)")
    p.add_argument("--allow-out-of-range", action="store_true",
                   help="accept sampled values outside a parameter's declared range")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--formats", default="png", help="figure formats, comma-separated (default: png)")
    p.add_argument("--max-memory", type=size_arg, default=None, metavar="SIZE",
                   help="refuse to start when the results would need more memory than this, e.g. 500M, 8G "
                        "(default 2G; 0 for no limit)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ensemble", help="Monte Carlo ensemble: uncertainty bands and robustness of scenario rankings",
        description="Run scenario files (or a model) for many parameter sets drawn from the distributions in "
                    "--uncertain, all scenarios under the same samples; write the runs (netCDF), percentile "
                    "bands and KPI distribution figures, and a robustness table: share of runs in which each "
                    "scenario ranks first and P(A beats B) per KPI.")
    add_common(p)
    p.add_argument("--runs", type=int, help="number of runs (default: the file's runs:)")
    p.add_argument("--method", choices=["lhs", "random"], help="sampling method (default: the file's, else lhs)")
    p.add_argument("--kpi", dest="kpis", action="append", nargs="+", metavar="KPI",
                   help="KPI, repeatable (syntax of 'sdcluster compare'); default: each output @end")
    p.add_argument("--baseline", metavar="NAME", help="baseline scenario (needed for '/cost' KPIs)")
    p.add_argument("--outputs", help="comma-separated variables to keep (default: the KPIs' variables with --kpi, "
                                      "else the scenarios' outputs)")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("ensemble-results"), metavar="DIR",
                   help="folder for all outputs (created if missing; default: ensemble-results/)")
    p.set_defaults(func=run)


def workers_arg(text: str) -> int | str:
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise RunError(f"--workers {text!r}: give a positive number or 'auto'") from None
    if value < 1:
        raise RunError(f"--workers {text!r}: give a positive number or 'auto'")
    return value


_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3,
          "T": 1024**4, "TB": 1024**4}


def size_arg(text: str) -> float:
    """``"500M"``, ``"8G"``, ``"1.5GB"``, ``"1000000"`` -> bytes; ``"0"`` -> no limit (infinity)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else ""
    if not m or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a size such as 500M, 8G or 1.5GB (0: no limit)")
    value = float(m.group(1)) * _UNITS[unit]
    return value if value > 0 else float("inf")


def ensemble_kwargs(args: argparse.Namespace) -> dict:
    kw = {"workers": workers_arg(args.workers), "allow_out_of_range": args.allow_out_of_range,
          "progress": not args.no_progress, "timeout": args.timeout, "model": args.model}
    if args.max_memory is not None:
        kw["max_memory"] = args.max_memory
    if args.chunk_size is not None:
        kw["chunk_size"] = args.chunk_size
    if args.scheduler:
        kw["scheduler"] = args.scheduler
    return kw


def target_arg(items: list[str]):
    if len(items) == 1 and not items[0].lower().split("#")[0].endswith((".yaml", ".yml")):
        return items[0]
    bad = [t for t in items if not t.lower().split("#")[0].endswith((".yaml", ".yml"))]
    if bad:
        raise ParameterError(f"give scenario files (.yaml) or one model, not both: {bad}")
    return items


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:60] or "kpi"


def run(args: argparse.Namespace) -> int:
    import xarray as xr

    from ..analysis.compare import COST_VARIABLE, parse_kpis
    from ..uncertainty.ensemble import run_ensemble
    from ..outputs.io import atomic_output_dir, check_output_dir
    from ..uncertainty.sampling import load_uncertain

    uncertain = load_uncertain(args.uncertain)
    if args.runs is not None and args.runs <= 0:
        raise ParameterError(f"--runs {args.runs}: the number of runs must be positive")
    samples = uncertain.sample(args.runs, seed=uncertain.seed if args.seed is None else args.seed,
                               method=args.method)
    outputs = [s.strip() for s in args.outputs.split(",") if s.strip()] if args.outputs else None
    kpis = parse_kpis([k for group in args.kpis for k in group]) if args.kpis else None
    target = target_arg(args.target)
    if kpis:  # keep what the KPIs need (only that, unless --outputs asks for more)
        needed = [k.variable for k in kpis] + [k.cost_variable or COST_VARIABLE for k in kpis if k.per_cost]
        outputs = list(dict.fromkeys([*(outputs or []), *needed]))
    final_dir = check_output_dir(args.output_dir)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    ds = run_ensemble(target, samples, outputs=outputs, **ensemble_kwargs(args))
    with atomic_output_dir(final_dir, command="sdcluster ensemble") as out:
        n_failed, tables = _write(out, ds, kpis, formats, args.baseline)
    print(f"{samples.n} runs x {ds.sizes.get('scenario', 1)} scenario(s); {n_failed} failed run(s); "
          f"results in {args.output_dir}/")
    print(tables)
    return 0


def _write(out: Path, ds, kpis, formats: list[str], baseline: str | None) -> tuple[int, str]:
    """Write every output of ``sdcluster ensemble`` into the folder *out*; return failed runs and the tables."""
    import xarray as xr

    from ..analysis.compare import parse_kpis
    from ..outputs.io import atomic_write_text, write_dataset
    from ..outputs.plot import save_figure
    from ..outputs.plot_ensemble import plot_bands, plot_kpi_distributions
    from ..uncertainty.robustness import beat_probability, kpi_samples, percentile_bands, robustness_table

    (out / "figures").mkdir()
    write_dataset(ds, out / "ensemble.nc")
    if kpis is None:
        kpis = parse_kpis([f"{v}@end" for v in ds.data_vars if "time" in ds[v].dims])
    if "scenario" not in ds.dims:
        ds = ds.expand_dims(scenario=[ds.attrs.get("model_file", "model")])
    if baseline is not None and baseline not in [str(s) for s in ds["scenario"].values]:
        raise ParameterError(f"--baseline {baseline!r} is not among the scenarios "
                             f"{[str(s) for s in ds['scenario'].values]}")
    values = kpi_samples(ds, kpis, baseline=baseline)
    write_dataset(values, out / "kpis.nc")
    table = robustness_table(values, kpis)
    atomic_write_text(out / "robustness.csv", table.to_csv(index=False))
    headers = list(table.columns)
    rows = table.values.tolist()
    text = format_table(headers, rows)
    md = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in r) + " |" for r in rows]
    beats = []
    for i, k in enumerate(kpis, 1):
        b = beat_probability(values, k)
        atomic_write_text(out / f"beats_{i}.csv", b.to_csv())
        beats.append(f"\nP(row beats column) on {k.label}:\n" + b.round(3).to_string())
        save_figure(plot_kpi_distributions(values, k.label, baseline=baseline), out / "figures",
                    f"kpi_{i}_{slug(k.label)}", formats=formats)
    atomic_write_text(out / "robustness.md", "\n".join(md) + "\n" + "\n".join(beats) + "\n")
    bands = percentile_bands(ds, [v for v in ds.data_vars if "time" in ds[v].dims])
    for v in bands.data_vars:
        save_figure(plot_bands(ds, v, bands=bands, baseline=baseline), out / "figures", f"bands_{v}",
                    formats=formats)
    n_failed = int(xr.DataArray(ds["failed"]).any("scenario").sum()) if "failed" in ds else 0
    return n_failed, text + "\n" + "\n".join(beats)
