"""Assemble the brief: per question, the finding, the figure and the terminal text."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd
import xarray as xr

from ..analysis.compare import KPI, parse_kpi, time_units
from ..outputs.report import BriefSection
from .figures import appendix_figure, context_figure, question_figure
from .findings import context_finding, finding, kpi_phrase, policy_results
from .questions import Question


def headline_kpi(outputs: Sequence[str], kpis: Sequence[KPI] | None = None) -> str:
    """The KPI the brief is about: the first one asked for, else ``firms@end`` (else the first output @end)."""
    if kpis:
        return kpis[0].label
    return "firms@end" if "firms" in outputs else f"{outputs[0]}@end"


def make_brief(ds: xr.Dataset, table: pd.DataFrame, questions: Sequence[Question], kpi: KPI,
               cost_kpi: KPI | None, *, stage_map: Mapping | None = None, stage_variable: str | None = None,
               uncertainty: Mapping[str, Mapping[str, float]] | None = None, bands: xr.Dataset | None = None,
               appendix_variables: Sequence[str] | None = None, runs: int | None = None,
               loop_shifts: Mapping[str, str] | None = None) -> list[BriefSection]:
    """One :class:`~sdcluster.outputs.report.BriefSection` per question (figures are matplotlib Figures).

    Each question is judged by its own KPI when its scenario files name one (``kpi:``,
    :attr:`Question.kpi <sdcluster.brief.questions.Question.kpi>`), else by *kpi*.
    *loop_shifts* (``{policy: sentence}``, :func:`sdcluster.brief.loops.loop_shifts`) explains each
    policy's effect by the feedback loops that lead."""
    tu = time_units(ds)
    headline = kpi
    money = str(ds[cost_kpi.variable].attrs.get("units", "")) if cost_kpi is not None else ""
    variables = list(appendix_variables or [])
    out = []
    for q in questions:
        kpi = parse_kpi(q.kpi) if q.kpi else headline
        units = str(ds[kpi.variable].attrs.get("units", ""))
        if not q.policies:
            name = q.context[0]
            lines = [context_finding(ds, kpi.variable, c, (stage_map or {}).get(c) if stage_variable == kpi.variable
                                     else None, tu) for c in q.context]
            fig = context_figure(ds, q, kpi.variable, stage_map if stage_variable == kpi.variable else None, bands)
            out.append(BriefSection(q.text, lines[0], lines[1:], fig,
                                    f"{kpi.variable.replace('_', ' ')} over time in {name}, on its life-cycle stages"
                                    + (" (90 % band over the uncertain parameters)." if bands is not None else "."),
                                    "No policy is compared in this question: it is the situation the others start "
                                    "from."))
            continue
        final = {n: st[-1].name for n, st in (stage_map or {}).items() if st} if stage_variable == kpi.variable else {}
        results = policy_results(table, q, kpi, cost_kpi.label if cost_kpi else None, uncertainty, final)
        head, lines = finding(q, results, kpi, units=units, time_units=tu, money=money or "cost units",
                              times=ds["time"].values)
        refs = sorted({r.reference for r in results})
        note = (f"KPI: {kpi_phrase(kpi, tu, ds['time'].values)} ({kpi.label}); gain = policy minus its reference "
                f"({', '.join(refs)}); context runs are shown, never ranked.")
        if uncertainty:
            note += (f" Uncertainty: {runs} runs of the uncertain parameters, the same samples for every "
                     "scenario; intervals are 5th–95th percentiles.")
        else:
            note += " Point values: add --uncertain PARAMS.yaml for intervals and P(beats reference)."
        fig = question_figure(ds, q, results, kpi, units=units, money=money, uncertainty=uncertainty, bands=bands)
        app = appendix_figure(ds, q, [r.name for r in results], variables) if variables else None
        out.append(BriefSection(q.text, head, lines, fig,
                                "(a) Gain over the reference against extra public cost; the dotted line joins the "
                                "efficient policies (nothing else gives more for less). (b) The KPI, best first; "
                                "each bar starts at its reference. (c) The KPI's variable over time.",
                                note, app, [loop_shifts[r.name] for r in results if r.name in (loop_shifts or {})]))
    return out


def brief_text(sections: Sequence[BriefSection]) -> str:
    """The findings for a terminal: question, finding, one line per policy."""
    out = []
    for k, sec in enumerate(sections, 1):
        out.append(f"Q{k}. {sec.question}")
        if sec.finding:
            out.append(f"    {sec.finding}")
        out += [f"    - {line}" for line in sec.lines]
        out += [f"    Loops: {line}" for line in sec.loops]
        out.append("")
    return "\n".join(out)


def uncertainty_table(summary: Mapping[str, Mapping[str, float]], questions: Sequence[Question]) -> pd.DataFrame:
    """The uncertainty summary as a tidy table (one row per policy)."""
    rows = []
    for q in questions:
        for p in q.policies:
            u = summary.get(p, {})
            rows.append({"question": q.text, "scenario": p, "reference": q.references[p],
                         **{k: u.get(k, math.nan) for k in ("gain_low", "gain_high", "p_beats", "share_first",
                                                             "cost_low", "cost_high", "runs")}})
    return pd.DataFrame(rows)
