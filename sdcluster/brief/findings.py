"""Plain-language findings generated from the numbers of one question.

Each finding is built only from the KPI table (and, when there is one, the
uncertainty summary): the headline KPI's gain of every policy over its own
reference, the extra public cost, the gain per unit of cost (undefined when the
extra cost is zero), and the robustness of the ranking.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..analysis.compare import KPI
from .questions import Question

#: A gain smaller than this fraction of the reference's value is "no material effect".
MATERIAL = 0.01
#: A ranking is robust when the best policy ranks first in at least this share of the runs.
ROBUST_SHARE = 0.8


@dataclasses.dataclass
class PolicyResult:
    """The numbers behind one policy's line in a finding."""

    name: str
    reference: str
    value: float
    reference_value: float
    gain: float
    cost: float
    per_cost: float
    stage: str = ""
    reference_stage: str = ""
    gain_low: float = math.nan
    gain_high: float = math.nan
    p_beats: float = math.nan
    share_first: float = math.nan

    @property
    def material(self) -> bool:
        """The gain is at least :data:`MATERIAL` of the reference's value (or the reference is 0)."""
        scale = abs(self.reference_value)
        return abs(self.gain) >= MATERIAL * scale if scale > 0 else self.gain != 0


def _num(x: float) -> str:
    """Three significant digits, thousands separated: 37.76 -> '37.8', 0.004164 -> '0.0042'."""
    if not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(x)))))
    return f"{x:,.{min(digits, 6)}f}"


def _signed(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return ("+" if x > 0 else "−" if x < 0 else "±") + _num(abs(x))


def amount(x: float, units: str, variable: str, signed: bool = True) -> str:
    """``+37.8 firms`` (units that name the variable are not repeated), ``+12 Meuro/Year``."""
    n = _signed(x) if signed else _num(x)
    var = variable.replace("_", " ")
    if units and var.rstrip("s").lower() == units.rstrip("s").lower():
        return f"{n} {var}"
    return f"{n} {units}".rstrip()


def _label(name: str) -> str:
    return name.replace("_", " ")


def kpi_phrase(kpi: KPI, time_units: str = "", times: Sequence[float] | None = None) -> str:
    """``firms at year 60``: what the KPI measures, in words (``start``/``end`` resolved with *times*)."""
    tu = time_units.lower()
    when = "year" if tu.startswith("year") else "time"
    var = kpi.variable.replace("_", " ")
    if kpi.measure == "at":
        t = kpi.time
        if isinstance(t, str) and times is not None and len(times):
            t = float(times[0] if t == "start" else times[-1])
        return f"{var} at the {t}" if isinstance(t, str) else f"{var} at {when} {t:g}"
    if kpi.measure == "cum":
        return f"cumulative {var}"
    if kpi.measure == "peak":
        return f"peak {var}"
    if kpi.measure == "npv":
        return f"discounted {var}"
    return kpi.label


def policy_results(table: pd.DataFrame, question: Question, kpi: KPI, cost_kpi: str | None,
                   uncertainty: Mapping[str, Mapping[str, float]] | None = None,
                   final_stage: Mapping[str, str] | None = None) -> list[PolicyResult]:
    """One :class:`PolicyResult` per policy of *question*, best gain first.

    *final_stage* maps a scenario to its life-cycle stage at the end of the run."""
    final_stage = final_stage or {}
    rows = table[table["kpi"] == kpi.label].set_index("scenario")
    costs = table[table["kpi"] == cost_kpi].set_index("scenario") if cost_kpi else None
    out = []
    sign = 1.0 if kpi.better == "higher" else -1.0
    for p in question.policies:
        ref = question.references[p]
        value, ref_value = float(rows.at[p, "value"]), float(rows.at[ref, "value"])
        cost = float(costs.at[p, "delta"]) if costs is not None else math.nan
        gain = value - ref_value
        with np.errstate(divide="ignore", invalid="ignore"):
            per = gain / cost if math.isfinite(cost) and cost != 0 else math.nan
        u = (uncertainty or {}).get(p, {})
        out.append(PolicyResult(p, ref, value, ref_value, gain, cost, per, stage=final_stage.get(p, ""),
                                reference_stage=final_stage.get(ref, ""),
                                **{k: u.get(k, math.nan) for k in ("gain_low", "gain_high", "p_beats", "share_first")}))
    out.sort(key=lambda r: -sign * r.gain if math.isfinite(r.gain) else math.inf)
    return out


#: Final stages worth saying in a finding.
ALARMING = ("no cluster", "collapse")


def _line(r: PolicyResult, units: str, phrase: str, money: str, variable: str, up: bool = True) -> str:
    text = (f"{_label(r.name)}: {amount(r.gain, units, variable)} vs {_label(r.reference)} "
            f"({_num(r.reference_value)} → {_num(r.value)})")
    if math.isfinite(r.cost):
        text += f" for {_num(r.cost)} {money}"
        if math.isfinite(r.per_cost) and r.material:
            text += f" ({amount(r.per_cost, units, variable)} per {money.rstrip('s')})"
    if not r.material:
        text += ", no material effect"
    if math.isfinite(r.gain_low):
        text += f"; 90 % interval {_signed(r.gain_low)} to {_signed(r.gain_high)}"
    if math.isfinite(r.p_beats):
        text += f"; beats {_label(r.reference)} in {r.p_beats:.0%} of runs"
        if r.material and ((r.gain > 0) == up) != (r.p_beats > 0.5) and r.p_beats != 0.5:
            text += " (most runs disagree with the point value: the sign is uncertain)"
    if r.stage in ALARMING:
        text += f"; final stage: {r.stage}"
    return text


def finding(question: Question, results: Sequence[PolicyResult], kpi: KPI, *, units: str = "",
            time_units: str = "", money: str = "million", times: Sequence[float] | None = None
            ) -> tuple[str, list[str]]:
    """The finding of one question: a headline and one line per policy (best first).

    The headline names the policy that does most (or says that none has a material effect,
    or that each does worse than its reference), the policies without a material effect or
    that do harm, the most cost-effective one when that is another, a cluster that does not
    form or collapses, and, with uncertainty, whether the ranking is robust.
    """
    phrase = kpi_phrase(kpi, time_units, times)
    var = kpi.variable
    lines = [_line(r, units, phrase, money, var, kpi.better == "higher") for r in results]
    if not results:
        return "", lines
    best = results[0]
    up = kpi.better == "higher"
    material = [r for r in results if r.material]
    good = [r for r in material if (r.gain > 0) == up]
    harmful = [r for r in material if (r.gain > 0) != up]
    flat = [r for r in results if not r.material]
    names = lambda rs: ", ".join(_label(r.name) for r in rs)  # noqa: E731
    if not good and len(results) == 1:
        head = (f"{_label(best.name)} does not improve {phrase} over {_label(best.reference)} "
                f"({amount(best.gain, units, var)}" + (f" for {_num(best.cost)} {money}" if math.isfinite(best.cost)
                                                        else "") + ").")
    elif not good:
        head = (f"No policy improves {phrase} materially over its reference"
                + (f"; {names(harmful)} make{'s' if len(harmful) == 1 else ''} it worse" if harmful else "")
                + f" (best: {_label(best.name)}, {amount(best.gain, units, var)}"
                + (f" for {_num(best.cost)} {money}" if math.isfinite(best.cost) else "") + ").")
    else:
        head = (f"{_label(best.name)} does most: {amount(best.gain, units, var)} at {phrase.split(' at ')[-1]} "
                f"over {_label(best.reference)}" if " at " in phrase else
                f"{_label(best.name)} does most: {amount(best.gain, units, var)} over {_label(best.reference)}")
        if math.isfinite(best.cost):
            head += f" for {_num(best.cost)} {money}"
        if len(good) > 1:
            second = good[1]
            close = abs(second.gain - best.gain) <= 0.05 * abs(best.gain)
            head += (f"; {_label(second.name)} does about as well ({amount(second.gain, units, var)})" if close
                     else f"; next {_label(second.name)} ({amount(second.gain, units, var)})")
        if flat:
            head += f"; no material effect: {names(flat)}"
        if harmful:
            head += f"; worse than {'its' if len(harmful) == 1 else 'their'} reference: " + ", ".join(
                f"{_label(r.name)} ({amount(r.gain, units, var)})" for r in harmful)
        head += "."
        efficient = [r for r in good if math.isfinite(r.per_cost)]
        if len(efficient) > 1:
            top = max(efficient, key=lambda r: r.per_cost if up else -r.per_cost)
            if top.name != best.name:
                head += (f" Per {money.rstrip('s')}, {_label(top.name)} does most "
                         f"({amount(top.per_cost, units, var)} per {money.rstrip('s')}).")
    for r in results:
        if r.reference_stage in ALARMING and r.stage and r.stage not in ALARMING:
            head += (f" Without it, {_label(r.reference)} ends in {r.reference_stage}; with it, in {r.stage}.")
    dead = [r for r in results if r.stage in ALARMING]
    for r in dead:
        head += f" {_label(r.name)}: {r.stage} at the end" + (
            f", as without it ({_label(r.reference)}: {r.reference_stage})." if r.reference_stage == r.stage else ".")
    if math.isfinite(best.share_first) and len(results) > 1:
        if best.share_first >= ROBUST_SHARE:
            head += f" Robust: {_label(best.name)} comes first in {best.share_first:.0%} of runs."
        else:
            head += (f" Not robust: {_label(best.name)} comes first in only {best.share_first:.0%} of runs"
                     f"{'; ' + _label(results[1].name) + ' in ' + format(results[1].share_first, '.0%') if math.isfinite(results[1].share_first) else ''}.")
    elif math.isfinite(best.p_beats) and len(results) == 1:
        if best.p_beats >= ROBUST_SHARE:
            head += f" Robust: it beats {_label(best.reference)} in {best.p_beats:.0%} of runs."
        elif best.p_beats <= 1 - ROBUST_SHARE:
            head += f" Robust: it does not beat {_label(best.reference)} in {1 - best.p_beats:.0%} of runs."
        else:
            head += f" Not robust: it beats {_label(best.reference)} in only {best.p_beats:.0%} of runs."
    return head[:1].upper() + head[1:], lines


def context_finding(ds, variable: str, scenario: str, stages: Sequence | None, time_units: str = "") -> str:
    """A question without policies (e.g. "what happens without policy?"): the trajectory in one sentence."""
    da = ds[variable].sel(scenario=scenario)
    t = da["time"].values
    units = str(da.attrs.get("units", ""))
    when = "year" if time_units.lower().startswith("year") else "time"
    text = (f"{_label(scenario)}: {variable.replace('_', ' ')} go from {_num(float(da.values[0]))} at {when} "
            f"{float(t[0]):g} to {amount(float(da.values[-1]), units, variable, signed=False)} at {when} "
            f"{float(t[-1]):g}")
    if stages:
        text += "; stages: " + ", ".join(f"{s.name} {s.start:g}–{s.end:g}" for s in stages)
    return text + "."
