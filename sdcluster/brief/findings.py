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

from ..compare import KPI, _fmt_num
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
    gain_low: float = math.nan
    gain_high: float = math.nan
    p_beats: float = math.nan
    share_first: float = math.nan

    @property
    def material(self) -> bool:
        """The gain is at least :data:`MATERIAL` of the reference's value (or the reference is 0)."""
        scale = abs(self.reference_value)
        return abs(self.gain) >= MATERIAL * scale if scale > 0 else self.gain != 0


def _signed(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    text = _fmt_num(abs(x))
    return ("+" if x > 0 else "−" if x < 0 else "±") + text


def _label(name: str) -> str:
    return name.replace("_", " ")


def kpi_phrase(kpi: KPI, time_units: str = "") -> str:
    """``firms at year 60``: what the KPI measures, in words."""
    tu = time_units.lower()
    when = "year" if tu.startswith("year") else "time"
    var = kpi.variable.replace("_", " ")
    if kpi.measure == "at":
        return f"{var} at the {kpi.time}" if isinstance(kpi.time, str) else f"{var} at {when} {kpi.time:g}"
    if kpi.measure == "cum":
        return f"cumulative {var}"
    if kpi.measure == "peak":
        return f"peak {var}"
    if kpi.measure == "npv":
        return f"discounted {var}"
    return kpi.label


def policy_results(table: pd.DataFrame, question: Question, kpi: KPI, cost_kpi: str | None,
                   uncertainty: Mapping[str, Mapping[str, float]] | None = None) -> list[PolicyResult]:
    """One :class:`PolicyResult` per policy of *question*, best gain first."""
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
        out.append(PolicyResult(p, ref, value, ref_value, gain, cost, per,
                                u.get("gain_low", math.nan), u.get("gain_high", math.nan),
                                u.get("p_beats", math.nan), u.get("share_first", math.nan)))
    out.sort(key=lambda r: -sign * r.gain if math.isfinite(r.gain) else math.inf)
    return out


def _line(r: PolicyResult, units: str, phrase: str, money: str) -> str:
    text = f"{_label(r.name)}: {_signed(r.gain)} {units} {phrase} vs {_label(r.reference)}"
    text += f" ({_fmt_num(r.reference_value)} → {_fmt_num(r.value)})"
    if math.isfinite(r.cost):
        text += f" for {_fmt_num(r.cost)} {money}"
        if math.isfinite(r.per_cost):
            text += f", {_signed(r.per_cost)} {units} per {money.rstrip('s')}" if r.material else ""
    if math.isfinite(r.gain_low):
        text += f"; 90 % interval {_signed(r.gain_low)} to {_signed(r.gain_high)}"
    if math.isfinite(r.p_beats):
        text += f"; better than {_label(r.reference)} in {r.p_beats:.0%} of runs"
    return text


def finding(question: Question, results: Sequence[PolicyResult], kpi: KPI, *, units: str = "",
            time_units: str = "", money: str = "million") -> tuple[str, list[str]]:
    """The finding of one question: a headline sentence and one line per policy (best first).

    The headline names the best policy and how it compares, or says that no policy
    has a material effect, or that the best one does worse than its reference; with
    uncertainty it says whether the ranking is robust.
    """
    phrase = kpi_phrase(kpi, time_units)
    lines = [_line(r, units, phrase, money) for r in results]
    if not results:
        return "", lines
    best = results[0]
    better_word = "more" if kpi.better == "higher" else "less"
    material = [r for r in results if r.material]
    good = [r for r in material if (r.gain > 0) == (kpi.better == "higher")]
    if not material:
        head = (f"No policy changes {phrase} materially (all within {MATERIAL:.0%} of their reference; "
                f"largest change {_signed(best.gain)} {units}).")
    elif not good:
        head = (f"Every policy does worse than its reference on {phrase}: the least harmful, "
                f"{_label(best.name)}, {_signed(best.gain)} {units}.")
    elif len(results) == 1:
        head = f"{_label(best.name)}: {_signed(best.gain)} {units} {phrase} over {_label(best.reference)}"
        head += f" for {_fmt_num(best.cost)} {money}." if math.isfinite(best.cost) else "."
    else:
        rest = [r for r in results[1:]]
        head = (f"{_label(best.name)} gives the most {phrase.split(' at ')[0]} ({_signed(best.gain)} {units}"
                + (f" for {_fmt_num(best.cost)} {money}" if math.isfinite(best.cost) else "") + ")")
        immaterial = [r for r in rest if not r.material]
        harmful = [r for r in rest if r.material and (r.gain > 0) != (kpi.better == "higher")]
        if immaterial:
            head += f"; {', '.join(_label(r.name) for r in immaterial)}: no material effect"
        if harmful:
            head += f"; {', '.join(_label(r.name) for r in harmful)}: {better_word == 'more' and 'fewer' or 'more'} than the reference"
        head += "."
        efficient = [r for r in good if math.isfinite(r.per_cost)]
        if efficient:
            top = max(efficient, key=lambda r: r.per_cost * (1 if kpi.better == "higher" else -1))
            if top.name != best.name:
                head += (f" Per {money.rstrip('s')} spent, {_label(top.name)} does most "
                         f"({_signed(top.per_cost)} {units} per {money.rstrip('s')}).")
    if math.isfinite(best.share_first) and len(results) > 1:
        if best.share_first >= ROBUST_SHARE:
            head += f" The ranking is robust: {_label(best.name)} comes first in {best.share_first:.0%} of runs."
        else:
            head += (f" The ranking is not robust: {_label(best.name)} comes first in only "
                     f"{best.share_first:.0%} of runs.")
    elif math.isfinite(best.p_beats) and len(results) == 1:
        head += (f" It beats {_label(best.reference)} in {best.p_beats:.0%} of runs"
                 + (" (robust)." if best.p_beats >= ROBUST_SHARE else " (not robust).") if best.material else "")
    return head, lines


def context_finding(ds, variable: str, scenario: str, stages: Sequence | None, time_units: str = "") -> str:
    """A question without policies (e.g. "what happens without policy?"): the trajectory in one sentence."""
    da = ds[variable].sel(scenario=scenario)
    t = da["time"].values
    units = str(da.attrs.get("units", ""))
    when = "year" if time_units.lower().startswith("year") else "time"
    text = (f"{_label(scenario)}: {variable.replace('_', ' ')} go from {_fmt_num(float(da.values[0]))} at {when} "
            f"{float(t[0]):g} to {_fmt_num(float(da.values[-1]))} {units} at {when} {float(t[-1]):g}")
    if stages:
        text += "; stages: " + ", ".join(f"{s.name} {s.start:g}–{s.end:g}" for s in stages)
    return text + "."
