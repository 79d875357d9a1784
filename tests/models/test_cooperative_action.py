"""Reference-mode tests of the cooperative-action model (``models/cooperative_action.*``).

Each test asserts a behaviour claimed in ``docs/models/cooperative_action.md`` and
fails if the feedback structure stops producing it. Thresholds are measured
(bisection, comparisons between runs), not hard-coded trajectories.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import importlib.util

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MDL = ROOT / "models" / "cooperative_action.mdl"
XMILE = ROOT / "models" / "cooperative_action.xmile"

# scenarios and the threshold bisection are shared with the figure script, so that the
# numbers quoted in docs/models/cooperative_action.md are the ones tested here
_spec = importlib.util.spec_from_file_location("make_cooperative_action",
                                               ROOT / "docs" / "figures" / "make_cooperative_action.py")
figs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figs)
MODERATE_PUSH, OVERHEATED_PUSH = figs.MODERATE_PUSH, figs.OVERHEATED_PUSH
HIGH_TRUST, LOW_TRUST, LARGE_GROUP = figs.HIGH_TRUST, figs.LOW_TRUST, figs.LARGE_GROUP
threshold_trust = figs.threshold_trust


@pytest.fixture(scope="module")
def model():
    return figs.load(MDL)


@pytest.fixture(scope="module")
def xmile_model():
    return figs.load(XMILE)


def final(ds, name):
    return float(ds[name].isel(time=-1))


# --------------------------------------------------------------------------- structure


def test_two_formats_give_equal_stocks(model, xmile_model):
    assert xmile_model.format == "xmile"
    assert {s.name for s in model.stocks} == {s.name for s in xmile_model.stocks}
    scenarios = [{}, {**HIGH_TRUST, "shock size": 3}, {**LOW_TRUST, **OVERHEATED_PUSH}, MODERATE_PUSH]
    for params in scenarios:
        a = model.run(params=params, saveper=0.25)
        b = xmile_model.run(params=params, saveper=0.25)
        for stock in model.stocks:
            x, y = a[stock.py_name].values, b[stock.py_name].values
            scale = np.maximum(np.abs(x), 1e-12)
            assert np.all(np.abs(x - y) <= 1e-9 * scale + 1e-15), (params, stock.name)


def test_every_constant_has_units_range_and_comment(model):
    assert len(model.stocks) == 8
    for p in model.parameters:
        assert p.units, p.name
        assert p.limits is not None and None not in p.limits and p.limits[0] < p.limits[1], p.name
        assert p.description, p.name
        assert p.limits[0] <= p.default <= p.limits[1], p.name
    assert model.time_settings["time_units"] == "Year"


def test_diagram_draws_every_stock_and_flow():
    import simlin  # pysimlin: independent renderer (must be installed; see setup.cfg dev extra)
    text = MDL.read_text(encoding="utf-8").split("\\\\\\---///")[0]
    flows = set()
    for m in re.finditer(r"^([A-Za-z][\w ]*?)\s*=\s*INTEG\s*\(\s*(.*?),\n", text, re.M | re.S):
        flows |= {f.strip().lstrip("-+ ") for f in re.split(r"[+-]", m.group(2)) if f.strip()}
    stocks = {s for s in re.findall(r"^([A-Za-z][\w ]*?)\s*=\s*INTEG", text, re.M)}
    assert len(stocks) == 8 and len(flows) == 14
    for path in (MDL, XMILE):
        svg = simlin.load(str(path)).project.render_svg_string()
        drawn = {"stock": set(), "flow": set()}
        for kind, rest in re.findall(r'<g class="simlin-(stock|flow)">(.*?)</tspan>', svg, re.S):
            drawn[kind].add(" ".join(rest.rsplit(">", 1)[-1].split()).lower())
        assert drawn["stock"] == {s.lower() for s in stocks}, path.name
        assert drawn["flow"] == {f.lower() for f in flows}, path.name


# --------------------------------------------------------------------------- reference modes


def test_critical_mass_of_cooperation(model):
    t20 = threshold_trust(model, 0.2)
    assert 0.2 < t20 < 0.8
    below = model.run(params={"initial trust": t20 - 0.02, "initial participation share": 0.2})
    above = model.run(params={"initial trust": t20 + 0.02, "initial participation share": 0.2})
    # below: joint action fizzles out, trust ends below where it started
    assert final(below, "participation_share") < 0.05
    assert final(below, "trust") < t20 - 0.02
    assert final(below, "collective_goods") < 0.05 * final(above, "collective_goods")
    # above: self-sustaining cooperation
    assert final(above, "participation_share") > 0.9
    assert final(above, "trust") > 0.7
    # more initial participation lowers the trust needed (critical mass is two-dimensional)
    assert threshold_trust(model, 0.4) < t20 - 0.02


def trust_moves(model, extra=None):
    good, bad = figs.trust_after_success_shocks(model, extra)
    t0 = float(good["trust"].sel(time=figs.SHOCK_YEAR))
    assert t0 == pytest.approx(float(bad["trust"].sel(time=figs.SHOCK_YEAR)))
    gain = float(good["trust"].sel(time=figs.SHOCK_YEAR + 2)) - t0
    loss = t0 - float(bad["trust"].sel(time=figs.SHOCK_YEAR + 2))
    return gain, loss


def test_trust_falls_faster_than_it_rises(model):
    gain, loss = trust_moves(model)
    assert gain > 0 and loss > 0
    assert loss > 1.5 * gain
    # the asymmetry comes from the building/erosion time constants
    gain_eq, loss_eq = trust_moves(model, {"trust building time": 2, "trust erosion time": 2})
    assert loss_eq / gain_eq == pytest.approx(1.0, abs=0.01)


def test_overheated_push_backfires(model):
    none = model.run(params=LOW_TRUST)
    moderate = model.run(params={**LOW_TRUST, **MODERATE_PUSH})
    hot = model.run(params={**LOW_TRUST, **OVERHEATED_PUSH})
    # the rushed programme runs far beyond coordination capacity, the moderate one does not
    assert float(hot["coordination_load"].max()) > 2
    assert float(hot["failure_fraction"].max()) > 0.5
    assert float(moderate["coordination_load"].max()) < 1
    # over-heated: the money buys nothing lasting - trust ends no higher than with no programme at all
    # (a comparison with the no-policy run: "below where it started" holds without policy too)
    assert final(hot, "trust") <= final(none, "trust") + 1e-6
    assert final(hot, "collective_efficiency") < final(moderate, "collective_efficiency") - 0.5
    # and it leaves deeper damage than doing nothing
    assert float(hot["trust"].min()) < 0.5 * float(none["trust"].min())
    # moderate push beats no push
    assert final(moderate, "collective_efficiency") > final(none, "collective_efficiency") + 0.5
    assert final(moderate, "trust") > LOW_TRUST["initial trust"]


def test_overheated_push_can_destroy_self_sustaining_cooperation(model):
    # a cluster just above its critical mass (it would make it alone)
    start = {"initial trust": threshold_trust(model, 0.2) + 0.03, "initial participation share": 0.2}
    none = model.run(params=start)
    hot = model.run(params={**start, **OVERHEATED_PUSH})
    assert final(none, "participation_share") > 0.9  # would have made it alone
    assert final(hot, "trust") < start["initial trust"]
    assert final(hot, "collective_efficiency") < final(none, "collective_efficiency") - 0.5


def extra_breakthrough(model, start):
    outs = ["breakthrough launch", "Breakthrough projects", "Participating firms"]
    quiet = model.run(params=start, outputs=outs, saveper=0.0625)
    shock = model.run(params={**start, **figs.SHOCK}, outputs=outs, saveper=0.0625)
    window = slice(19.9, 26)
    extra = float((shock["breakthrough_launch"] - quiet["breakthrough_launch"]).sel(time=window).sum()) * 0.0625
    members = float(shock["participating_firms"].sel(time=window).mean())
    return extra, quiet, shock, extra / members


def test_crisis_triggers_breakthrough_only_with_trust(model):
    extra_high, quiet, shock, per_member_high = extra_breakthrough(model, HIGH_TRUST)
    extra_low, _, shock_low, per_member_low = extra_breakthrough(model, LOW_TRUST)
    assert extra_high > 2.0  # projects launched because of the shock
    assert float(shock["breakthrough_projects"].max()) > 1.5 * float(quiet["breakthrough_projects"].max())
    assert extra_low < 0.05 * extra_high
    assert float(shock_low["breakthrough_projects"].max()) < 0.1
    # the gate is trust itself, not the smaller number of members a low-trust cluster has:
    # per participating firm, a low-trust cluster launches almost nothing in the crisis
    assert per_member_low < 0.1 * per_member_high


def test_free_riding_in_large_group_unless_trust_high(model):
    large = LARGE_GROUP
    ds = model.run(params={**large, "initial trust": 0.6}, outputs=["participation share", "Collective goods"])
    p, g = ds["participation_share"], ds["collective_goods"]
    t_peak = float(p.idxmax())
    assert final(ds, "participation_share") < 0.5 * float(p.max())
    # participation falls while goods are still accumulating
    t_half = float(p.time[(p.time > t_peak) & (p < 0.5 * float(p.max()))][0])
    assert float(g.sel(time=t_half)) > float(g.sel(time=t_peak))
    # unless trust is high
    high = model.run(params={**large, "initial trust": 0.9}, outputs=["participation share"])
    assert final(high, "participation_share") > 0.8
    # controls: excludable goods, or a small group, with the same moderate trust
    excl = model.run(params={**large, "initial trust": 0.6, "non excludable share": 0.0},
                     outputs=["participation share"])
    small = model.run(params={**large, "initial trust": 0.6, "total firms": 100}, outputs=["participation share"])
    assert final(excl, "participation_share") > 0.9
    assert final(small, "participation_share") > 0.8


def test_budget_schedule_equals_builtin_window(model):
    """A scenario time schedule on the budget means the same as the model's own start/duration."""
    window = model.run(params={**LOW_TRUST, **MODERATE_PUSH}, outputs=["Trust", "facilitation spending"])
    start, end = MODERATE_PUSH["facilitation start time"], 5 + MODERATE_PUSH["facilitation duration"]
    schedule = {**LOW_TRUST, "facilitation capacity share": MODERATE_PUSH["facilitation capacity share"],
                "facilitation budget": lambda t: MODERATE_PUSH["facilitation budget"] if start <= t < end else 0.0}
    sched = model.run(params=schedule, outputs=["Trust", "facilitation spending"])
    assert float(window["facilitation_spending"].sum()) > 0
    np.testing.assert_allclose(sched["trust"].values, window["trust"].values, rtol=1e-12)
    np.testing.assert_allclose(sched["facilitation_spending"].values, window["facilitation_spending"].values)


# --------------------------------------------------------------------------- numerics


PIPELINE_STOCKS = ["Routine projects", "Breakthrough projects", "Cumulative completed projects",
                   "Cumulative failed projects"]


def test_project_pipeline_mass_balance(model):
    dt = model.time_settings["time_step"]
    params = {**HIGH_TRUST, **OVERHEATED_PUSH, "shock size": 3}
    ds = model.run(params=params, saveper=dt, outputs=PIPELINE_STOCKS + ["routine launch", "breakthrough launch"])
    in_system = sum(ds[model.py_name(s)] for s in PIPELINE_STOCKS).values
    launched = (ds["routine_launch"] + ds["breakthrough_launch"]).values
    expected = in_system[0] + np.concatenate([[0.0], np.cumsum(launched[:-1]) * dt])
    assert np.max(np.abs(in_system - expected)) <= 1e-9 * np.max(np.abs(expected))
    assert float(ds["cumulative_failed_projects"].isel(time=-1)) > 10  # the balance is not trivially empty


@pytest.mark.parametrize("params", [{}, {**HIGH_TRUST, "shock size": 3}, {**LOW_TRUST, **MODERATE_PUSH},
                                    {**LOW_TRUST, **OVERHEATED_PUSH}], ids=["default", "crisis", "moderate", "hot"])
def test_halving_time_step_changes_little(model, params):
    dt = model.time_settings["time_step"]
    outs = [s.name for s in model.stocks] + ["collective efficiency"]
    a = model.run(params=params, saveper=0.5, outputs=outs)
    b = model.run(params=params, saveper=0.5, time_step=dt / 2, outputs=outs)
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        # < 1 % of the variable's range over the run (absolute floor 1e-3 units for near-empty stocks)
        assert np.max(np.abs(x - y)) <= 0.01 * np.max(np.abs(x)) + 1e-3, name


@pytest.mark.parametrize("params", [
    {"initial trust": 0.0},
    {"initial trust": 0.0, "initial participation share": 0.0, **OVERHEATED_PUSH},
    {"total firms": 0.0},
    {"total firms": 0.0, **OVERHEATED_PUSH, "shock size": 10},
    {"base coordination capacity": 1e12, **HIGH_TRUST, **OVERHEATED_PUSH, "shock size": 10},
    {"coordination cost per project": 1e-12, "facilitation budget": 50, "facilitation capacity share": 1.0},
    {"initial trust": 1.0, "initial participation share": 1.0, "total firms": 5000, "facilitation budget": 50},
], ids=["zero-trust", "zero-trust-zero-members-push", "zero-firms", "zero-firms-push-shock",
        "infinite-capacity", "free-capacity", "saturated"])
def test_extreme_conditions(model, params):
    ds = model.run(params=params, check_limits=False)
    for name, var in ds.data_vars.items():
        assert np.all(np.isfinite(var.values)), name
    for stock in model.stocks:
        assert float(ds[stock.py_name].min()) >= 0, stock.name
    assert float(ds["trust"].max()) <= 1 + 1e-12
    assert float(ds["participation_share"].max()) <= 1 + 1e-12
    assert float(ds["failure_fraction"].max()) <= 1 + 1e-12
    assert not math.isnan(final(ds, "collective_efficiency"))
