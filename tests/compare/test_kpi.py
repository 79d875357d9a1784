"""KPI arithmetic on hand-computed cases, KPI syntax, deltas, ratios and rankings."""
from __future__ import annotations

import dataclasses

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sdcluster import compare as c
from sdcluster.errors import ScenarioError, SdclusterError


@pytest.fixture
def tiny() -> xr.Dataset:
    """Times 0..4; base: v = 1, up: v = t, fast: v = 2t, hump: 0,3,5,3,0.
    Cost: base 0, up 2t, fast t, hump 0."""
    t = np.arange(5.0)
    v = np.array([np.ones(5), t, 2 * t, [0.0, 3, 5, 3, 0]])
    cost = np.array([0 * t, 2 * t, t, 0 * t])
    return xr.Dataset(
        {
            "v": (("scenario", "time"), v, {"units": "EUR/Year", "long_name": "V"}),
            "cumulative_public_cost": (("scenario", "time"), cost, {"units": "EUR"}),
            "spend": (("scenario", "time"), 10 * cost, {"units": "kEUR"}),
        },
        coords={"scenario": ["base", "up", "fast", "hump"], "time": ("time", t, {"units": "Year"})},
    )


def val(table: pd.DataFrame, kpi: str, scenario: str) -> float:
    row = table[(table.kpi == kpi) & (table.scenario == scenario)]
    assert len(row) == 1, (kpi, scenario)
    return float(row["value"].iloc[0])


def test_value_at_time_exact_and_interpolated(tiny):
    tab = c.kpi_table(tiny, ["v@2", "v@2.5", "v@end", "v@start"], baseline="base")
    assert val(tab, "v@2", "fast") == 4.0
    assert val(tab, "v@2.5", "up") == pytest.approx(2.5)
    assert val(tab, "v@2.5", "hump") == pytest.approx(4.0)  # halfway between 5 and 3
    assert val(tab, "v@end", "fast") == 8.0
    assert val(tab, "v@start", "base") == 1.0
    assert set(tab.loc[tab.kpi == "v@2", "units"]) == {"EUR/Year"}


def test_cumulative_is_trapezoidal_integral_with_window_and_units(tiny):
    tab = c.kpi_table(tiny, ["v:cum", "v:cum[1,3]", "v:cum[0.5,1.5]"], baseline="base")
    assert val(tab, "v:cum", "up") == pytest.approx(8.0)        # integral of t over 0..4
    assert val(tab, "v:cum", "base") == pytest.approx(4.0)
    assert val(tab, "v:cum", "hump") == pytest.approx(11.0)     # 1.5 + 4 + 4 + 1.5
    assert val(tab, "v:cum[1,3]", "fast") == pytest.approx(8.0)  # integral of 2t over 1..3
    assert val(tab, "v:cum[0.5,1.5]", "up") == pytest.approx(1.0)
    # EUR/Year integrated over Year gives EUR
    assert set(tab.loc[tab.kpi == "v:cum", "units"]) == {"EUR"}


def test_peak_and_time_of_peak(tiny):
    tab = c.kpi_table(tiny, ["v:peak", "v:peak_time", "v:peak[0,1]"], baseline="base")
    assert val(tab, "v:peak", "hump") == 5.0
    assert val(tab, "v:peak_time", "hump") == 2.0
    assert val(tab, "v:peak_time", "fast") == 4.0
    assert val(tab, "v:peak[0,1]", "hump") == 3.0
    assert set(tab.loc[tab.kpi == "v:peak_time", "units"]) == {"Year"}


def test_time_to_threshold_interpolates_and_is_nan_when_never_reached(tiny):
    tab = c.kpi_table(tiny, ["v:t>=2.5", "v:t<=1", "v:t>=0"], baseline="base")
    assert val(tab, "v:t>=2.5", "up") == pytest.approx(2.5)
    assert val(tab, "v:t>=2.5", "fast") == pytest.approx(1.25)
    assert val(tab, "v:t>=2.5", "hump") == pytest.approx(2.5 / 3)
    assert math.isnan(val(tab, "v:t>=2.5", "base"))
    assert val(tab, "v:t>=0", "up") == 0.0
    assert val(tab, "v:t<=1", "base") == 0.0
    assert val(tab, "v:t<=1", "fast") == 0.0  # fast starts at 0 <= 1
    # earlier is better: fast ranks first, never-reached base is unranked
    r = c.rank(tab, "v:t>=2.5")
    assert list(r.scenario) == ["hump", "fast", "up", "base"]
    assert pd.isna(r["rank"].iloc[-1])


def test_discounted_cumulative_value_hand_computed(tiny):
    tab = c.kpi_table(tiny, ["v:npv[0,2,r=1]", "v:npv[r=0]", "v:npv[1,3,r=1]"], baseline="base")
    # constant 1 discounted by 2**-t at t=0,1,2: trapezoid (1+.5)/2 + (.5+.25)/2
    assert val(tab, "v:npv[0,2,r=1]", "base") == pytest.approx(1.125)
    # r = 0 equals the plain cumulative value
    assert val(tab, "v:npv[r=0]", "hump") == pytest.approx(11.0)
    # discounting starts at the window start: t=1,2,3 -> 1*1, 2*.5, 3*.25 for 'up'
    assert val(tab, "v:npv[1,3,r=1]", "up") == pytest.approx((1 + 1) / 2 + (1 + 0.75) / 2)


def test_cost_effectiveness_extra_outcome_per_extra_cost(tiny):
    tab = c.kpi_table(tiny, ["v@4/cost", "v@2/cost", "v:cum/cost=spend"], baseline="base")
    assert val(tab, "v@4/cost", "up") == pytest.approx((4 - 1) / (8 - 0))
    assert val(tab, "v@4/cost", "fast") == pytest.approx((8 - 1) / (4 - 0))
    assert val(tab, "v@2/cost", "fast") == pytest.approx((4 - 1) / 2)  # cost read at t = 2
    assert math.isnan(val(tab, "v@4/cost", "base"))
    assert math.isnan(val(tab, "v@4/cost", "hump"))  # costs the same as the baseline
    assert val(tab, "v:cum/cost=spend", "up") == pytest.approx((8 - 4) / 80)
    assert set(tab.loc[tab.kpi == "v@4/cost", "units"]) == {"EUR/Year per EUR"}
    assert list(c.rank(tab, "v@4/cost").scenario[:2]) == ["fast", "up"]


def test_missing_cost_variable_is_a_clear_error(tiny):
    ds = tiny.drop_vars("cumulative_public_cost")
    with pytest.raises(c.KPIError, match="cumulative_public_cost.*cost=NAME"):
        c.kpi_table(ds, ["v@4/cost"], baseline="base")
    with pytest.raises(c.KPIError, match="needs a baseline"):
        c.kpi_table(tiny, ["v@4/cost"])


def test_table_is_tidy_with_delta_ratio_rank(tiny):
    tab = c.kpi_table(tiny, ["v@4", "min:v@4"], baseline="base")
    assert list(tab.columns[:6]) == ["scenario", "kpi", "value", "units", "delta", "ratio"]
    assert "rank" in tab.columns
    assert len(tab) == 8
    up = tab[(tab.kpi == "v@4") & (tab.scenario == "up")].iloc[0]
    assert up.delta == pytest.approx(3.0) and up.ratio == pytest.approx(4.0)
    assert list(c.rank(tab, "v@4").scenario) == ["fast", "up", "base", "hump"]
    assert list(c.rank(tab, "min:v@4").scenario) == ["hump", "base", "up", "fast"]
    assert list(c.wide(tab).columns) == ["v@4", "min:v@4"]


def test_ties_share_a_rank():
    t = np.arange(3.0)
    ds = xr.Dataset({"x": (("scenario", "time"), np.array([[1, 1, 2], [1, 1, 2], [0, 0, 1.0]]))},
                    coords={"scenario": ["a", "b", "c"], "time": t})
    tab = c.kpi_table(ds, ["x@end"])
    assert list(tab["rank"]) == [1, 1, 3]
    assert tab["delta"].isna().all()  # no baseline


def test_differences_and_ratios(tiny):
    d = c.differences(tiny, "base")
    assert float(d["v"].sel(scenario="up", time=3)) == 2.0
    assert float(abs(d["v"].sel(scenario="base")).max()) == 0.0
    assert d["v"].attrs["units"] == "EUR/Year"
    assert "difference from base" in d["v"].attrs["long_name"]
    r = c.ratios(tiny, "up")
    assert np.isnan(float(r["v"].sel(scenario="fast", time=0)))  # baseline is 0 there
    assert float(r["v"].sel(scenario="fast", time=2)) == 2.0
    assert r["v"].attrs["units"] == "1"
    res = c.compare(tiny, "base", ["v@4"])
    assert res.kpis.shape[0] == 4 and "v" in res.differences


@pytest.mark.parametrize(
    "text",
    ["firms@30", "firms@end", "value_added:cum[0,30]", "firms:peak", "firms:peak_time[5,end]", "firms:t>=50",
     "firms:t<=2.5", "value_added:npv[0,60,r=0.03]", "value_added:npv[r=0.05]", "firms@30/cost",
     "firms:cum/cost=budget", "min:firms@60", "max:public_cost@60", "max:firms:t>=50"],
)
def test_kpi_syntax_round_trips(text):
    k = c.parse_kpi(text)
    assert c.format_kpi(k) == text
    assert c.parse_kpi(c.format_kpi(k)) == k


def test_kpi_parse_fields():
    k = c.parse_kpi("value_added:npv[0,60,r=0.03]")
    assert (k.variable, k.measure, k.window, k.rate) == ("value_added", "npv", (0.0, 60.0), 0.03)
    k = c.parse_kpi("firms:t>=50")
    assert (k.measure, k.threshold, k.better) == ("t>=", 50.0, "lower")
    assert c.parse_kpi("firms@30/cost").per_cost


@pytest.mark.parametrize(
    "bad, match",
    [("firms", "cannot read KPI"), ("firms@", "cannot read KPI"), ("firms:mean", "cannot read KPI"),
     ("firms:cum[30,0]", "before its end"), ("firms:cum[1,2,3]", "two times"), ("firms:npv[0,10]", "discount rate"),
     ("firms:t>=5/cost", "not to times"), ("3firms@2", "cannot read KPI")],
)
def test_bad_kpi_strings_raise_with_syntax_help(bad, match):
    with pytest.raises(c.KPIError, match=match):
        c.parse_kpi(bad)


def test_unknown_variable_time_and_baseline_errors(tiny):
    with pytest.raises(c.KPIError, match=r"'vv'.*Did you mean 'v'"):
        c.kpi_table(tiny, ["vv@2"], baseline="base")
    with pytest.raises(c.KPIError, match="outside the simulated period"):
        c.kpi_table(tiny, ["v@10"], baseline="base")
    with pytest.raises(ScenarioError, match="Did you mean 'base'"):
        c.kpi_table(tiny, ["v@2"], baseline="bas")
    assert issubclass(c.KPIError, SdclusterError)


def test_default_kpis_include_cost_effectiveness(results):
    ks = [k.label for k in c.default_kpis(results)]
    assert "firms@end" in ks and "firms@end/cost" in ks and "cumulative_public_cost@end" in ks
    assert next(k for k in c.default_kpis(results) if k.variable == "cumulative_public_cost").better == "lower"


@pytest.mark.parametrize("text, better", [
    ("cumulative_public_cost@end", "lower"), ("total_public_spending:cum", "lower"), ("firms@end", "higher"),
    ("firms:t>=50", "lower"), ("firms@end/cost", "higher"), ("max:cumulative_public_cost@end", "higher"),
    ("costume_sales@end", "higher"), ("value_added:npv[r=0.03]", "higher")])
def test_one_definition_of_better(text, better):
    """Costs are lower-is-better without a 'min:' prefix; the canonical label round-trips."""
    k = c.parse_kpi(text)
    assert k.better == better
    assert c.parse_kpi(c.format_kpi(k)) == dataclasses.replace(k, text=c.format_kpi(k))


def test_default_kpis_can_be_limited(results, caplog):
    ks = c.default_kpis(results, max_variables=2)
    assert {k.variable for k in ks} == {"firms", "cumulative_public_cost"}
    assert "first 1 of 3 variables" in caplog.text


def test_text_and_markdown_tables(tiny):
    tab = c.kpi_table(tiny, ["v@4/cost", "v:cum"], baseline="base")
    md = c.to_markdown(tab)
    lines = md.strip().splitlines()
    assert lines[0].startswith("| KPI | scenario | value")
    assert len(lines) == 2 + len(tab)
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    txt = c.to_text(tab)
    assert "v@4/cost" in txt and "0.375" in txt and "–" in txt


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(finite, min_size=3, max_size=30), cut=st.floats(0.01, 0.99), const=finite)
def test_cumulative_is_additive_and_exact_for_constants(values, cut, const):
    t = np.arange(len(values), dtype=float)
    mid = float(cut * t[-1])
    v = np.array([values, np.full(len(values), const)])
    ds = xr.Dataset({"x": (("scenario", "time"), v)}, coords={"scenario": ["a", "b"], "time": t})

    def kpi(text):
        return c.evaluate_kpi(ds, text).values

    whole = kpi("x:cum")
    scale = 1 + np.abs(v).max() * t[-1]
    # splitting the window anywhere (even between saved times) gives the same total
    np.testing.assert_allclose(kpi(f"x:cum[0,{mid!r}]") + kpi(f"x:cum[{mid!r},end]"), whole, atol=1e-9 * scale)
    # no discounting equals the plain cumulative value
    np.testing.assert_allclose(kpi("x:npv[r=0]"), whole, atol=1e-9 * scale)
    # a constant c over [0, T] sums to c T
    assert whole[1] == pytest.approx(const * t[-1], abs=1e-9 * scale)
