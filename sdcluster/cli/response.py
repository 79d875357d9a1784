"""``sdcluster response``: dose–response and timing curves of instruments, with uncertainty bands."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _values(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated numbers, e.g. 0,0.5,1,2") from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "response", help="dose-response and timing curves of instruments, with uncertainty bands",
        description="For each chosen instrument of the policy space SPACE.yaml (see docs/policy_design.md), "
                    "switch the other instruments off, sweep its annual amount (dose) or its start year "
                    "(timing), run every point and the reference over the same ensemble, and write the "
                    "curves (median, 10-90 %% band, P(better than reference), threshold) into DIR.")
    p.add_argument("space", type=Path, metavar="SPACE.yaml")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder (replaced)")
    p.add_argument("--instrument", action="append", metavar="NAME",
                   help="instrument of the space, repeatable (default: every instrument)")
    p.add_argument("--lever", choices=("amount", "start"), default="amount",
                   help="amount: dose-response (default); start: timing")
    p.add_argument("--points", type=int, default=11, help="points over the lever's range (default 11)")
    p.add_argument("--values", type=_values, metavar="V1,V2,...", help="points to run instead of --points")
    p.add_argument("--amount", type=float, help="with --lever start: the annual amount (default: the largest)")
    p.add_argument("--start", type=float, help="with --lever amount: the start year (default: the earliest)")
    p.add_argument("--kpi", action="append", metavar="KPI",
                   help="KPI to judge by, repeatable, compare's syntax (default: the space's objectives)")
    p.add_argument("--runs", type=int, help="ensemble members (default: the space's uncertainty.runs)")
    p.add_argument("--seed", type=int, help="sampling seed (default: the space's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..design import bind, load_space
    from ..design.response import response, with_kpis
    from ..errors import ParameterError
    from ..outputs.io import atomic_output_dir, check_output_dir
    from ..outputs.plot import save_figure
    from ..outputs.plot_response import response_figure

    if args.points < 2 and args.values is None:
        raise ParameterError(f"--points = {args.points}: give at least 2")
    if args.runs is not None and args.runs < 1:
        raise ParameterError(f"--runs = {args.runs}: give a positive whole number")
    fixed = {}
    if args.amount is not None:
        if args.lever != "start":
            raise ParameterError("--amount fixes the amount of a timing curve; add --lever start")
        fixed["amount"] = args.amount
    if args.start is not None:
        if args.lever != "amount":
            raise ParameterError("--start fixes the start of a dose-response curve; drop --lever start")
        fixed["start"] = args.start
    space = load_space(args.space)
    if args.kpi:
        space = with_kpis(space, args.kpi)
    check_output_dir(args.output)
    problem = bind(space, runs=args.runs, seed=args.seed)
    names = args.instrument or [i.name for i in space.instruments]
    results = {}
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with pysd
        tqdm = None
    bar = tqdm(total=len(names), unit="instrument", desc="response", leave=False) if tqdm else None
    for name in names:
        results[name] = response(problem, name, args.lever, values=args.values, points=args.points, fixed=fixed)
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    lines = [f"## {'Dose-response' if args.lever == 'amount' else 'Timing'}: {space.name}", "",
             f"{problem.members} ensemble members, each point paired with the reference "
             f"'{space.reference.name}'; P(better) = share of members in which the point beats the reference "
             "by more than 1 % of its value.", "",
             "| instrument | KPI | threshold | median gain at the largest level (10-90 %) | P(better) there |",
             "|---|---|---|---|---|"]
    with atomic_output_dir(args.output, command="sdcluster response") as tmp:
        for name, ds in results.items():
            ds.to_netcdf(tmp / f"{name}.nc")
            table = _table(ds)
            table.to_csv(tmp / f"{name}.csv", index=False)
            for k in ds.kpi.values:
                if str(k).split(":")[-1].startswith(space.cost_variable):
                    continue
                stem = f"{name}_{_slug(str(k))}"
                save_figure(response_figure(ds, str(k)), tmp, stem, formats=("png",))
                one = ds.sel(kpi=k)
                last = int(np.argmax(one["level"].values))
                g = one["gain_band"].values[last]
                thr = float(one["threshold"].values)
                at = f"{thr:.3g} {one['level'].attrs.get('units', '')}" if np.isfinite(thr) else "never"
                lines.append(f"| {name} | {k} | {at} | {g[1]:,.3g} ({g[0]:,.3g} to {g[-1]:,.3g}) | "
                             f"{float(one['p_better'].values[last]):.0%} |")
        (tmp / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _table(ds):
    """One row per (KPI, point): level, value and gain bands, P(better), planned cost."""
    import pandas as pd

    rows = []
    for k in ds.kpi.values:
        one = ds.sel(kpi=k)
        for i in range(ds.sizes["point"]):
            v, g = one["value_band"].values[i], one["gain_band"].values[i]
            rows.append({"kpi": str(k), "level": float(one["level"].values[i]),
                         "planned_cost": float(ds["planned_cost"].values[i]),
                         "value_p10": v[0], "value_p50": v[1], "value_p90": v[2],
                         "gain_p10": g[0], "gain_p50": g[1], "gain_p90": g[2],
                         "p_better": float(one["p_better"].values[i])})
    return pd.DataFrame(rows)

