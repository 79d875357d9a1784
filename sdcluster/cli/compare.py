"""``sdcluster compare``: run scenarios and answer their questions, each policy against its own reference.

Writes into the output folder::

    results.nc              all scenarios, dims (scenario, time), with provenance
    differences.nc          each scenario minus its reference (or the --baseline)
    kpis.csv, kpis.md       the tidy KPI table (reference and question per row)
    uncertainty.nc, .csv    with --uncertain: the runs of the KPI's variables, and per policy the
                            90 % interval of its gain, P(beats its reference), share ranked first
    figures/question_<k>.*  per question: cost-outcome chart, sorted KPI bars, trajectories
    figures/appendix_<k>.png  per question: every output over time
    figures/stage_timeline.*
    (with --loops, each question's finding also says how each policy shifts loop dominance)
    report.html             the brief: question, finding and figure first; the rest in an appendix
    manifest.json           every file above with its size and SHA-256, written last

The folder is replaced whole (see :func:`sdcluster.outputs.io.atomic_output_dir`): a failed or killed
run leaves the previous folder as it was. The terminal shows the findings.
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
    "a KPI, repeatable; the first is the brief's headline (default firms@end): VAR@T (value at time T, or @end), "
    "VAR:cum[T0,T1] (cumulative), VAR:peak, VAR:peak_time, VAR:t>=X (time to reach X), VAR:npv[T0,T1,r=0.03] "
    "(discounted cumulative); add '/cost' for extra outcome per extra public cost vs the reference; prefix "
    "'min:'/'max:' to override which values are better (costs and times: lower). The KPI table also holds the "
    "final value and peak of every output"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="answer the scenario files' questions: findings, cost-outcome charts, HTML brief",
        description="Run scenario files (or read a results .nc file), group them by the question their files "
                    "state and compare each policy with its own reference (or all with --baseline): findings "
                    "in plain language, cost-outcome charts, KPI table, life-cycle stages and a self-contained "
                    "HTML brief. With --uncertain, every scenario also runs under the same sampled parameters.",
        epilog="Questions and references: docs/scenarios.md. KPI syntax, stage rules and outputs: docs/compare.md. "
               "Quote KPIs containing [ ] < > in the shell.")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO.yaml",
                   help="scenario files (file.yaml#name for one scenario of a set), or one results .nc file; "
                        "the references they name are run too")
    p.add_argument("--baseline", metavar="NAME",
                   help="compare every scenario (except context runs) with this one instead of its own reference")
    p.add_argument("--kpi", dest="kpis", action="append", nargs="+", metavar="KPI", help=KPI_HELP)
    p.add_argument("--uncertain", type=Path, metavar="PARAMS.yaml",
                   help="uncertain parameters (format: docs/ensemble.md), e.g. "
                        "scenarios/uncertainty/cluster_policy.yaml: adds intervals, P(beats reference), rank "
                        "stability")
    p.add_argument("--runs", type=int, help="runs of the uncertain parameters (default: the file's runs:, else 200)")
    p.add_argument("--seed", type=int, help="random seed of the samples (default: the file's seed)")
    p.add_argument("--loops", action=argparse.BooleanOptionalAction, default=False,
                   help="explain each policy's effect by the feedback loops that lead, against its reference "
                        "(loop dominance of the point-value runs; about a second per run plus the loop structure "
                        "once, so off by default; loop groups are named by the model's <model>.loops.yaml)")
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


#: Runs of the uncertain parameters when neither --runs nor the file says.
DEFAULT_RUNS = 200


def _outputs_arg(args: argparse.Namespace) -> list[str] | None:
    return [s.strip() for s in args.outputs.split(",") if s.strip()] if args.outputs else None


def read_results(path: Path, outputs: list[str] | None) -> xr.Dataset:
    """A results ``.nc`` file written earlier (optionally only some variables)."""
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


def check_kpis(kpis: list, model, scenarios: list, outputs: list[str] | None) -> list[str] | None:
    """KPI variables and times against the model and the scenarios' periods, before anything runs.

    Returns the outputs to record (the KPIs' variables added)."""
    from ..analysis.compare import KPIError

    valid = [v.py_name for v in model.variables]
    needed: list[str] = []
    for k in kpis:
        for var, what in [(k.variable, "variable")] + ([(k.cost_variable, "cost variable")] if k.cost_variable else []):
            if var not in valid:
                raise KPIError(f"--kpi {k.label!r}: {model.path.name} has no {what} {var!r} (KPIs use Python "
                               f"names).{suggest(var, valid)}")
            needed.append(var)
    settings = dict(model.time_settings)
    for s in scenarios:
        t = {**settings, **s.time}
        t0, t1 = float(t["initial_time"]), float(t["final_time"])
        for k in kpis:
            points = [k.time] if k.measure == "at" else list(k.window or [])
            for p in points:
                if isinstance(p, str):
                    continue
                if not t0 <= float(p) <= t1:
                    raise KPIError(f"--kpi {k.label!r}: time {p:g} is outside the simulated period [{t0:g}, {t1:g}] "
                                   f"of scenario {s.name!r} ({s.label})")
    if outputs is None:
        union: list[str] = []
        for s in scenarios:
            union += [o for o in (s.outputs or []) if o not in union]
        outputs = union or None
    if outputs is not None:
        have = set()
        for o in outputs:
            have.add(model.py_name(o))
        outputs = list(outputs) + [v for v in dict.fromkeys(needed) if v not in have]
    return outputs


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
    from ..analysis import compare as cmp
    from ..brief.questions import definitions_of, plan_questions
    from ..outputs.io import check_output_dir

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
    if args.runs is not None and args.runs <= 0:
        raise ParameterError(f"--runs {args.runs}: the number of runs must be positive")
    if args.runs is not None and args.uncertain is None:
        raise ParameterError("--runs needs --uncertain PARAMS.yaml (the parameters to vary)")
    cost = args.cost_variable or cmp.COST_VARIABLE
    items = [str(s) for s in args.scenarios]
    outputs = _outputs_arg(args)

    # everything is checked before the first run
    if len(items) == 1 and items[0].lower().endswith(".nc"):
        if args.uncertain is not None:
            raise ParameterError("--uncertain runs the scenarios again: give the scenario files, not a results file")
        if args.loops:
            raise ParameterError("--loops runs the scenarios again: give the scenario files, not a results file")
        ds = read_results(Path(items[0]), outputs)
        names = [str(s) for s in ds["scenario"].values]
        questions = plan_questions(names, definitions_of(ds), args.baseline)
        scenarios = model = uncertain = None
    else:
        if any(i.lower().endswith(".nc") for i in items):
            raise ParameterError(f"give either scenario files or one results .nc file, not both: {items}")
        from ..scenarios.scenario import with_references
        from ..scenarios.simulate import _common_model, unique_scenarios

        scenarios = unique_scenarios(with_references(items))
        model = _common_model(scenarios, args.model)
        questions = plan_questions([s.name for s in scenarios], {s.name: s.to_dict() for s in scenarios},
                                   args.baseline)
        extra = [cmp.parse_kpi(f"{cost}@end")] if cost in {v.py_name for v in model.variables} else []
        extra += [cmp.parse_kpi(q.kpi) for q in questions if q.kpi]  # each question's own KPI (kpi: in its files)
        outputs = check_kpis(list(kpis or []) + extra, model, scenarios, outputs)
        uncertain = None
        if args.uncertain is not None:
            from ..uncertainty.sampling import load_uncertain

            uncertain = load_uncertain(args.uncertain)
            uncertain.validate(model)
        for s in scenarios:  # parameter names, ranges and schedules
            s.validate(model, allow_out_of_range=args.allow_out_of_range)
    outdir: Path = args.output_dir
    check_output_dir(outdir)  # before the first run

    if scenarios is not None:
        from ..scenarios.simulate import run_scenarios

        ds = run_scenarios(scenarios, model=model, allow_out_of_range=args.allow_out_of_range, outputs=outputs,
                           progress=not args.no_progress)
    return _analyse(args, ds, questions, kpis, cost, formats, outdir, model, scenarios, uncertain)


def _analyse(args, ds, questions, kpis, cost, formats, outdir, model, scenarios, uncertain) -> int:
    import matplotlib.pyplot as plt

    from ..analysis import compare as cmp
    from ..outputs import plot, report
    from ..brief.build import brief_text, headline_kpi, make_brief, uncertainty_table
    from ..outputs.io import atomic_output_dir, atomic_write, atomic_write_text, write_dataset
    from ..analysis.lifecycle import stages_by_scenario

    series = [v for v in ds.data_vars if set(ds[v].dims) <= {"scenario", "time"} and "time" in ds[v].dims]
    headline = cmp.parse_kpi(headline_kpi(series, kpis))
    cost_kpi = cmp.parse_kpi(f"{cost}@end") if cost in ds.data_vars else None
    table_kpis = list(kpis) if kpis else cmp.default_kpis(ds, cost, max_variables=MAX_DEFAULT_VARIABLES)
    labels = [k.label for k in table_kpis]
    table_kpis = ([headline] if headline.label not in labels else []) + table_kpis
    own = {q.text: cmp.parse_kpi(q.kpi) for q in questions if q.kpi}  # questions that name their KPI
    for k in own.values():
        if k.label not in [t.label for t in table_kpis]:
            table_kpis.insert(1, k)
    if cost_kpi is not None and cost_kpi.label not in labels:
        table_kpis.append(cost_kpi)
    comparison = cmp.compare(ds, args.baseline, kpis=table_kpis, cost_variable=cost, questions=questions)
    table = comparison.kpis
    stage_var = _stage_variable(ds, args.stage_variable)
    stage_map = stages_by_scenario(ds[stage_var]) if stage_var else None

    summary = bands = None
    runs = None
    if uncertain is not None:
        from ..brief.uncertainty import stacked_ensemble, summarise
        from ..uncertainty.robustness import percentile_bands

        runs = args.runs or uncertain.runs or DEFAULT_RUNS
        samples = uncertain.sample(runs, seed=uncertain.seed if args.seed is None else args.seed)
        judged = [own.get(q.text, headline) for q in questions]
        wanted = list(dict.fromkeys([headline.variable] + [k.variable for k in judged]
                                    + ([cost_kpi.variable] if cost_kpi else [])))
        ens = stacked_ensemble(model, scenarios, samples, wanted, allow_out_of_range=args.allow_out_of_range)
        summary = {}
        for label in dict.fromkeys(k.label for k in judged):  # each question judged by its own KPI
            qs = [q for q, k in zip(questions, judged) if k.label == label]
            summary.update(summarise(ens, qs, next(k for k in judged if k.label == label), cost_kpi))
        bands = percentile_bands(ens, list(dict.fromkeys(k.variable for k in [headline, *judged])),
                                 percentiles=(5.0, 50.0, 95.0))

    shifts = None
    if args.loops and model is not None:
        from ..brief.loops import loop_shifts

        shifts = loop_shifts(model, scenarios, questions, progress=not args.no_progress)

    final_dir = outdir
    with atomic_output_dir(final_dir, command="sdcluster compare") as outdir:
        (outdir / "figures").mkdir()
        written = [write_dataset(ds, outdir / "results.nc"),
                   write_dataset(comparison.differences, outdir / "differences.nc")]
        written.append(atomic_write(outdir / "kpis.csv", lambda tmp: table.to_csv(tmp, index=False)))
        written.append(atomic_write_text(outdir / "kpis.md", cmp.to_markdown(table)))
        if summary is not None:
            written.append(write_dataset(ens, outdir / "uncertainty.nc"))
            utab = uncertainty_table(summary, questions)
            written.append(atomic_write(outdir / "uncertainty.csv", lambda tmp: utab.to_csv(tmp, index=False)))

        sections = make_brief(ds, table, questions, headline, cost_kpi, stage_map=stage_map, stage_variable=stage_var,
                              uncertainty=summary, bands=bands, appendix_variables=series, runs=runs,
                              loop_shifts=shifts)
        extra_figs = {"stage_timeline": plot.stage_timeline(stage_map, cmp.time_units(ds))} if stage_map else {}
        try:
            for k, sec in enumerate(sections, 1):
                for attr, stem in (("figure", f"question_{k}"), ("appendix_figure", f"appendix_{k}")):
                    fig = getattr(sec, attr)
                    if fig is None:
                        continue
                    # appendix figures (12 panels each) in PNG only: they are for the screen, and SVG is slow
                    fmts = formats if attr == "figure" else ["png"]
                    paths = plot.save_figure(fig, outdir / "figures", stem, fmts)
                    written += paths
                    plt.close(fig)
                    setattr(sec, attr, next((p for p in paths if p.suffix == ".png"), None) or plot.figure_bytes(fig))
            embedded = {}
            for stem, fig in extra_figs.items():
                paths = plot.save_figure(fig, outdir / "figures", stem, formats)
                written += paths
                embedded[stem] = next((p for p in paths if p.suffix == ".png"), fig)
            what = (f"{len(questions)} questions, {ds.sizes['scenario']} scenarios; headline KPI {headline.label}"
                    + (f"; {runs} runs of {len(uncertain.names)} uncertain parameters ({args.uncertain})"
                       if uncertain is not None else "; point values (no --uncertain)") + ".")
            html = report.build_report(ds, table, baseline=args.baseline, figures=embedded, stage_map=stage_map,
                                       stage_variable=stage_var, title=args.title or "Cluster policy brief",
                                       brief=sections, summary=what)
        finally:
            for fig in extra_figs.values():
                plt.close(fig)
        written.append(report.write_report(outdir / "report.html", html))
    print(brief_text(sections))
    print(f"Wrote {len(written)} files to {final_dir}/ (open {final_dir / 'report.html'}; full KPI table in "
          f"{final_dir / 'kpis.csv'})")
    for p in written:
        log.debug("wrote %s", p)
    return 0
