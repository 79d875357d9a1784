"""Reference-mode tests of the integrated cluster-policy model (``models/cluster_policy.*``).

Each test asserts a behaviour claimed in ``docs/models/cluster_policy.md`` or
``docs/planner_guide.md`` and fails if the joined structure stops producing it.
The policy reference modes are checked on the bundled scenario files (the same
runs the planner's guide shows); thresholds are measured by comparing runs, not
by hard-coded trajectories.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import sdcluster

ROOT = Path(__file__).resolve().parents[2]
MDL = ROOT / "models" / "cluster_policy.mdl"
XMILE = ROOT / "models" / "cluster_policy.xmile"
SCENARIOS = ROOT / "scenarios"

INSTRUMENTS = ["brokering", "platform", "training", "park", "entry subsidy", "brand"]
#: every instrument on at once, the matching option on
#: the bundled baseline's cluster: the model's default firms, no technology shift
BASE = {"technology shift devaluation fraction": 0}
ALL_ON = {**{f"{k} budget": 1.0 for k in INSTRUMENTS}, "brokering end": 12, "park start": 5, "matching funds": 1,
          **BASE}
OUT = ["Firms", "value added", "Capability", "Trust", "participation share", "Collective goods",
       "collective efficiency", "active joint action effect", "coordination load", "failure fraction",
       "cumulative public cost", "total public spending"]


@pytest.fixture(scope="module")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sdcluster.load_model(MDL)


@pytest.fixture(scope="module")
def xmile_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sdcluster.load_model(XMILE)


@pytest.fixture(scope="module")
def library():
    """The bundled scenarios the reference modes are stated on, run once."""
    files = ["baseline", "brokering_timing", "overheated_push", "thin_air", "environment_only", "technology_shock"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sdcluster.run_scenarios([SCENARIOS / f"{f}.yaml" for f in files], progress=False)


def at(ds, name, t, scenario=None):
    da = ds[name] if scenario is None else ds[name].sel(scenario=scenario)
    return float(da.interp(time=t)) if t not in da.time else float(da.sel(time=t))


def final(ds, name, scenario=None):
    da = ds[name] if scenario is None else ds[name].sel(scenario=scenario)
    return float(da.isel(time=-1))


# --------------------------------------------------------------------------- structure


def test_two_formats_give_equal_results(model, xmile_model):
    assert model.format == "vensim" and xmile_model.format == "xmile"
    assert {s.name for s in model.stocks} == {s.name for s in xmile_model.stocks}
    saveper = model.time_settings["saveper"]
    for params in [{}, ALL_ON, {"initial firms": 3, "entry subsidy budget": 10, "entry subsidy end": 12}]:
        a = model.run(params=params, outputs=OUT)
        b = xmile_model.run(params=params, outputs=OUT, saveper=saveper)
        for name in a.data_vars:
            x, y = a[name].values, b[name].values
            assert np.all(np.abs(x - y) <= 1e-9 * np.maximum(np.abs(x), 1e-12) + 1e-15), (params, name)


def test_every_constant_has_units_range_and_comment(model):
    for p in model.parameters:
        assert p.units, p.name
        assert p.limits is not None and not any(math.isnan(v) for v in p.limits), p.name
        assert p.limits[0] < p.limits[1] or p.limits[0] == p.limits[1] == p.default, p.name
        assert p.description, p.name
        assert p.limits[0] <= p.default <= p.limits[1], p.name
    assert model.time_settings["time_units"] == "Year"


def test_each_instrument_has_budget_timing_and_delay(model):
    params = {p.name: p for p in model.parameters}
    for k in INSTRUMENTS:
        budget = params[f"{k} budget"]
        assert budget.default == 0, k  # baseline = no policy
        assert budget.units.replace(" ", "") == "Meuro/Year", k
        assert params[f"{k} start"].units == "Year" and params[f"{k} end"].units == "Year", k
        assert params[f"{k} delay"].default > 0, k
    assert "matching funds" in params and params["matching funds"].default == 0
    assert "cumulative public cost" in {s.name for s in model.stocks}


def test_sub_models_keep_their_names(model):
    """Both sub-models' variable names survive (so their documentation applies), coupled as documented."""
    names = {v.name for v in model.variables}
    for n in ["Firms", "Capability", "Variety", "Firm scale", "Perceived attractiveness", "effect of agglomeration",
              "Trust", "Participating firms", "Routine projects", "Breakthrough projects", "Coordination capacity",
              "Collective goods", "collective efficiency", "facilitation spending", "total firms"]:
        assert n in names, n
    ds = model.run(params={"initial firms": 77}, outputs=["total firms", "Firms"], final_time=1)
    assert np.allclose(ds["total_firms"].values, ds["firms"].values)  # coupling C1


DIAGRAM_CHECK = """
import re, sys, simlin
svg = simlin.load(sys.argv[1]).project.render_svg_string()
print("\\n".join(" ".join(r.rsplit(">", 1)[-1].split()).lower()
                 for r in re.findall(r'<g class="simlin-stock">(.*?)</tspan>', svg, re.S)))
"""


@pytest.mark.parametrize("path", [MDL, XMILE], ids=["mdl", "xmile"])
def test_diagram_opens_in_simlin_and_draws_every_stock(model, path):
    """Both files open in an independent tool (pysimlin) and the view draws every stock.

    In a subprocess: a malformed view makes simlin abort the whole process.
    """
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", DIAGRAM_CHECK, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    drawn = set(proc.stdout.split("\n")) - {""}
    assert drawn == {s.name.lower() for s in model.stocks}


# --------------------------------------------------------------------------- public cost


def test_cumulative_public_cost_accounts_for_every_instrument(model):
    dt = model.time_settings["time_step"]
    params = {**{f"{k} budget": 1.0 + i for i, k in enumerate(INSTRUMENTS)},
              **{f"{k} start": 2 for k in INSTRUMENTS}, **{f"{k} end": 12 for k in INSTRUMENTS}}
    ds = model.run(params=params, outputs=["cumulative public cost", "total public spending"], saveper=dt)
    spent = ds["total_public_spending"].values
    cost = ds["cumulative_public_cost"].values
    expected = np.concatenate([[0.0], np.cumsum(spent[:-1]) * dt])
    assert np.max(np.abs(cost - expected)) <= 1e-9 * cost[-1]
    # grants: every budget is spent in full, 10 years each
    assert cost[-1] == pytest.approx(10 * sum(1.0 + i for i in range(6)), rel=1e-9)


def test_matching_funds_spend_only_alongside_private_money(model):
    outs = ["platform public spending", "platform private contribution", "platform programme spending",
            "brand public spending", "brand private contribution", "cumulative public cost"]
    base = {"platform budget": 2.0, "brand budget": 2.0, "platform end": 12, "brand end": 12}
    grants = model.run(params=base, outputs=outs)
    match = model.run(params={**base, "matching funds": 1, "matching ratio": 1.0}, outputs=outs)
    for k in ("platform", "brand"):
        pub, priv = match[f"{k}_public_spending"].values, match[f"{k}_private_contribution"].values
        assert np.allclose(pub, priv)  # 1:1
        assert np.all(pub <= match["platform_programme_spending"].values + 1e-12)
        assert float(grants[f"{k}_private_contribution"].max()) == 0
    # in a low-trust cluster few firms participate, so matching spends little of the budget
    assert final(match, "cumulative_public_cost") < 0.5 * final(grants, "cumulative_public_cost")


# --------------------------------------------------------------------------- sub-model reference modes, instruments off


def test_critical_mass_of_firms_inside_joined_model(model):
    grid = np.array([2.0, 5, 10, 20, 30, 40, 50, 60, 80, 120, 200])
    ds = model.run_batch({"initial firms": grid}, outputs=["Firms"], saveper=10)
    end = ds["firms"].isel(time=-1).values
    grown = end > 0.5 * float(end.max())
    first = int(np.argmax(grown))
    # a threshold exists: below it every cluster declines to the seed level, above it every cluster grows
    assert 0 < first < grid.size - 1 and grown[first:].all() and not grown[:first].any(), end
    assert end[:first].max() < 0.1 * end[first:].min()
    assert end[first - 1] < grid[first - 1] and end[first] > grid[first]


def test_cooperation_has_a_critical_mass_inside_joined_model(model):
    ds = model.run_batch({"initial trust": np.array([0.2, 0.3, 0.7, 0.9]),
                          "initial participation share": np.array([0.2, 0.2, 0.5, 0.5]),
                          "initial firms": np.full(4, 120.0)}, outputs=["Trust", "participation share"])
    trust = ds["trust"].isel(time=-1).values
    assert trust[0] < 0.2 and trust[1] < 0.3  # low trust collapses further
    assert trust[2] > 0.7 and trust[3] > 0.7  # high trust is self-sustaining


def test_trust_falls_faster_than_it_rises_inside_joined_model(model):
    start = {"initial trust": 0.7, "initial participation share": 0.5, "initial firms": 120}
    up = model.run(params={**start, "normal project failure fraction": lambda t: 0.1 if t < 30 else 0.05},
                   outputs=["Trust"])
    down = model.run(params={**start, "normal project failure fraction": lambda t: 0.1 if t < 30 else 0.15},
                     outputs=["Trust"])
    t0 = at(up, "trust", 30)
    assert t0 == pytest.approx(at(down, "trust", 30))
    gain, loss = at(up, "trust", 32) - t0, t0 - at(down, "trust", 32)
    assert gain > 0 and loss > 1.5 * gain


def test_shakeout_inside_joined_model(model):
    """The life-cycle model's shakeout variant (strong scale economies): firm numbers peak and fall, output keeps rising."""
    shakeout = {"scale economies elasticity": 4, "firm scale adjustment time": 25, "returns to scale": 0.8,
                "outside links": 2, "technology shift devaluation fraction": 0}
    sh = model.run(params=shakeout, outputs=["Firms", "output", "Firm scale"])
    f, q = sh["firms"].values, sh["output"].values
    p = int(np.argmax(f))
    assert 5 < p < len(f) - 20
    assert f[-1] < 0.85 * f[p]
    assert q[p + 2] > q[p]
    assert sh["firm_scale"].values[-1] > 1.5 * sh["firm_scale"].values[0]


def test_outside_links_renew_after_the_shift_inside_joined_model(model):
    """The life-cycle model's renewal mode: strong outside links let the cluster recover from the shift."""
    default = model.run(outputs=["Firms"])["firms"].values
    renewal = model.run(params={"outside links": 3}, outputs=["Firms"])["firms"].values
    shift = 40
    assert renewal[shift + 3:].min() < 0.95 * renewal[shift]
    assert renewal[-1] > 0.9 * renewal[shift]
    assert default[-1] < 0.5 * default[shift]


def test_overheated_brokering_overloads_coordination(model):
    moderate = {"brokering budget": 1.0, "brokering start": 5, "brokering end": 10}
    hot = {"brokering budget": 5.0, "brokering start": 5, "brokering end": 6, "facilitation capacity share": 0.1}
    a = model.run(params=moderate, outputs=OUT)
    b = model.run(params=hot, outputs=OUT)
    assert final(a, "cumulative_public_cost") == pytest.approx(final(b, "cumulative_public_cost"))
    assert float(a["coordination_load"].max()) < 1
    assert float(b["coordination_load"].max()) > 2
    assert float(b["failure_fraction"].max()) > 0.3


def test_overheating_is_the_budget_split_not_the_pace(model):
    """What "over-heated" means in this model: brokered projects launched faster than coordination capacity can
    carry them. The same 5 million in the same single year tips the default cluster into cooperation when half pays
    staff, and collapses trust when a tenth does; the pace alone does no harm (an open-loop path: budget split ->
    coordination load -> failure fraction -> trust, not a feedback loop of its own)."""
    none = model.run(outputs=OUT)
    one_year = {"brokering budget": 5.0, "brokering start": 5, "brokering end": 6}
    staffed = model.run(params={**one_year, "facilitation capacity share": 0.5}, outputs=OUT)
    rushed = model.run(params={**one_year, "facilitation capacity share": 0.1}, outputs=OUT)
    assert final(staffed, "trust") > 0.7 > final(none, "trust")
    assert float(staffed["coordination_load"].max()) < 1
    assert float(staffed["failure_fraction"].max()) <= 0.1 + 1e-9
    assert final(rushed, "trust") < final(none, "trust") + 0.01  # back in the low-trust trap: nothing lasting
    assert float(rushed["trust"].min()) < 0.5 * float(none["trust"].min())


# --------------------------------------------------------------------------- policy reference modes (bundled scenarios)


def test_thin_air_subsidies_give_only_a_temporary_rise(library):
    """Reference mode 1: with almost no skilled workers (500) the package's firms leave once the money stops;
    with 2000 skilled workers, who draw others in, the same package leaves a small lasting cluster."""
    none = library["firms"].sel(scenario="thin_air")
    pkg = library["firms"].sel(scenario="thin_air_package")
    assert float(pkg.max()) > 5 * float(none.max())  # the package does bring firms while it pays
    assert float(pkg.idxmax()) <= 14  # the peak comes while (or just after) the money flows (years 2-12)
    assert final(library, "firms", "thin_air_package") < 1.2 * final(library, "firms", "thin_air")
    assert final(library, "firms", "thin_air_package") < 0.2 * final(library, "firms", "baseline")
    assert final(library, "cumulative_public_cost", "thin_air_package") == pytest.approx(200, rel=1e-6)
    assert final(library, "firms", "small_skills_base_package") > 10 * final(library, "firms", "small_skills_base")


THIN_AIR_PACKAGE = {"initial firms": 3, "technology shift devaluation fraction": 0,
                    "entry subsidy budget": 10, "park budget": 10, "entry subsidy start": 2, "entry subsidy end": 12,
                    "park start": 2, "park end": 12}


def test_thin_air_condition_is_the_skilled_labour_the_region_can_draw(model):
    """The restated claim: a subsidy-and-park package leaves a lasting cluster only where skilled workers are there
    or can be drawn in (the endogenous labour pool grows by migration when the cluster bids wages up).

    - 500 skilled workers: nothing lasts, whatever the migration response (0, 2, 4);
    - 2000 skilled workers: nothing lasts without migration (elasticity 0), a lasting cluster with the default;
    - the default pool of 20 000: a lasting cluster even without migration.
    """
    def end(pool, elasticity):
        ds = model.run(params={**THIN_AIR_PACKAGE, "labour pool": pool, "migration wage elasticity": elasticity},
                       outputs=["Firms"])
        return final(ds, "firms")

    none = final(model.run(params={"initial firms": 3, "labour pool": 500}, outputs=["Firms"]), "firms")
    for e in (0, 2, 4):
        assert end(500, e) < 2 * none, e
    assert end(2000, 0) < 2 * none
    assert end(2000, 2) > 10 * end(2000, 0)
    assert end(20000, 0) > 50 * none


def test_migration_closes_the_wage_gap(model):
    """The labour pool follows the relative wage: it grows while the cluster bids wages up and stays at its
    starting size while wages are at their reference level (balancing loop: employment -> wage -> migration)."""
    ds = model.run(params={**BASE}, outputs=["Skilled labour pool", "relative wage", "labour use ratio"])
    pool, wage = ds["skilled_labour_pool"].values, ds["relative_wage"].values
    first_rise = int(np.argmax(wage > 1 + 1e-9))
    assert 0 < first_rise and np.allclose(pool[:first_rise], pool[0])  # no wage gap, no migration
    assert pool.max() > 1.05 * pool[0]
    fixed = model.run(params={**BASE, "migration wage elasticity": 0},
                      outputs=["Skilled labour pool", "labour use ratio"])
    assert np.allclose(fixed["skilled_labour_pool"].values, pool[0])
    assert float(ds["labour_use_ratio"].max()) < float(fixed["labour_use_ratio"].max())


def test_early_brokering_beats_late_brokering(library):
    """Reference mode 2: the same brokering budget does more in emergence/early growth than in maturity."""
    for name in ("firms", "value_added"):
        assert at(library, name, 30, "brokering_early") > at(library, name, 30, "brokering_late"), name
        assert final(library, name, "brokering_early") >= final(library, name, "brokering_late") - 1e-9, name
    cost_e = final(library, "cumulative_public_cost", "brokering_early")
    assert cost_e == pytest.approx(final(library, "cumulative_public_cost", "brokering_late"))
    # cumulative value added per unit of public money
    base = library["value_added"].sel(scenario="baseline").sum("time")
    gain = {s: float(library["value_added"].sel(scenario=s).sum("time") - base) / cost_e
            for s in ("brokering_early", "brokering_late")}
    assert gain["brokering_early"] > gain["brokering_late"]


def test_overheated_push_erodes_trust_and_wastes_money(library):
    """Reference mode 3: lower trust than baseline, worse outcome per unit of cost than a moderate push."""
    trust = library["trust"]
    # the rush drives trust below anything the no-policy cluster sees
    assert float(trust.sel(scenario="overheated_push").min()) < 0.5 * float(trust.sel(scenario="baseline").min())
    # a cluster whose cooperation would have become self-sustaining ends with far lower trust than without policy
    assert final(library, "trust", "budding_overheated") < final(library, "trust", "budding_cooperation") - 0.3
    # outcome per unit of public cost (same 5 million): over-heated < moderate
    base = library["value_added"].sel(scenario="baseline").sum("time")
    per_cost = {}
    for s in ("moderate_push", "overheated_push"):
        cost = final(library, "cumulative_public_cost", s)
        assert cost == pytest.approx(5.0, rel=1e-6)
        per_cost[s] = float(library["value_added"].sel(scenario=s).sum("time") - base) / cost
    assert per_cost["overheated_push"] < 0.5 * per_cost["moderate_push"]
    assert final(library, "trust", "overheated_push") < final(library, "trust", "moderate_push")


def test_environment_only_policy_raises_firms_but_not_collective_efficiency(library):
    """Reference mode 4: park + entry subsidies vs brokering + platform at equal cost."""
    env, net = "environment_only", "networks_and_innovation"
    assert final(library, "cumulative_public_cost", env) == pytest.approx(final(library, "cumulative_public_cost", net))
    # short run: more firms than without policy
    assert at(library, "firms", 10, env) > 1.1 * at(library, "firms", 10, "baseline")
    # but less collective efficiency and less knowledge than networks + innovation
    for t in (20, 40, 60):
        assert at(library, "collective_efficiency", t, env) < at(library, "collective_efficiency", t, net), t
        assert at(library, "capability", t, env) < at(library, "capability", t, net), t


def test_technology_shock_decline_and_renewal(library):
    """The life-cycle model's technology shift still throws a mature cluster into decline; renewal softens it."""
    shock, renewal = "technology_shock", "technology_shock_renewal"
    assert at(library, "firms", 40, shock) == pytest.approx(at(library, "firms", 40, "baseline"))
    assert at(library, "capability", 42, shock) < 0.8 * at(library, "capability", 40, shock)
    assert final(library, "firms", shock) < 0.5 * final(library, "firms", "baseline")
    assert final(library, "capability", renewal) > final(library, "capability", shock)
    assert final(library, "firms", renewal) > 1.5 * final(library, "firms", shock)


# --------------------------------------------------------------------------- numerics


def test_firm_population_mass_balance(model):
    dt = model.time_settings["time_step"]
    ds = model.run(params=ALL_ON, outputs=["Firms", "entry rate", "exit rate"], saveper=dt)
    f = ds["firms"].values
    expected = f[0] + np.concatenate([[0.0], np.cumsum((ds["entry_rate"] - ds["exit_rate"]).values[:-1]) * dt])
    assert np.max(np.abs(f - expected)) <= 1e-9 * np.max(np.abs(f))


@pytest.mark.parametrize("params", [BASE, ALL_ON, {}], ids=["baseline", "all-instruments", "model-default-shock"])
def test_halving_time_step_changes_little(model, params):
    """< 1 % of each variable's range, also for the model's default run, whose technology shock throws the
    cluster back towards its critical mass (the most time-step-sensitive case)."""
    dt = model.time_settings["time_step"]
    names = ["Firms", "value added", "Capability", "Trust", "Collective goods", "cumulative public cost"]
    a = model.run(params=params, outputs=names, saveper=1)
    b = model.run(params=params, outputs=names, time_step=dt / 2, saveper=1)
    for v in a.data_vars:
        x, y = a[v].values, b[v].values
        span = max(float(np.ptp(x)), 1e-3)
        assert np.max(np.abs(x - y)) < 0.01 * span, v


@pytest.mark.parametrize("params", [
    {"initial firms": 0},
    {"initial firms": 1000, "initial trust": 1, "initial participation share": 1},
    {**{f"{k} budget": 50.0 for k in INSTRUMENTS}, "facilitation capacity share": 0.0},
    {**{f"{k} budget": 50.0 for k in INSTRUMENTS}, "matching funds": 1, "initial trust": 0, "initial firms": 0},
    {"labour pool": 1000, "land capacity": 1000, "initial firms": 500, "entry subsidy budget": 50},
    {"technology shift devaluation fraction": 1.5, "technology shift time": 5, "initial capability": 1},
], ids=["no-firms", "saturated", "max-budgets-no-staff", "max-budgets-empty", "no-room", "total-shock"])
def test_extreme_conditions(model, params):
    ds = model.run(params=params, outputs=[s.name for s in model.stocks] + OUT, check_limits=False)
    for name, var in ds.data_vars.items():
        assert np.all(np.isfinite(var.values)), name
    for stock in model.stocks:
        assert float(ds[stock.py_name].min()) >= -1e-9, stock.name
    assert float(ds["trust"].max()) <= 1 + 1e-12
    assert float(ds["participation_share"].max()) <= 1 + 1e-12


def _typed_values(p):
    lo, hi = p.limits
    return sorted({0.0, -1.0, -abs(p.default) - 1, 2 * max(abs(hi), 1)})


def test_extreme_conditions_for_every_parameter(model):
    """Any value a Vensim or Stella user could type - zero, negative, twice the top of its range - one parameter
    at a time, leaves every stock finite and non-negative: the guards are in the equations (floored time
    constants, ZIDZ divisions, non-negative budgets and rates, MAX(0, initial values)), not in sdcluster's
    range checks (switched off here)."""
    names, values = [], []
    for p in model.parameters:
        if p.name.startswith("minimum ") or p.name in ("technology shift time", "shock time"):
            continue  # the technical floors the guards use, and dates
        for v in _typed_values(p):
            names.append(p.name)
            values.append(v)
    n = len(values)
    batch = {}
    for p in model.parameters:
        col = np.full(n, float(p.default))
        idx = [i for i, nm in enumerate(names) if nm == p.name]
        col[idx] = [values[i] for i in idx]
        batch[p.name] = col
    with np.errstate(all="ignore"):
        ds = model.run_batch(batch, check_limits=False, outputs=[s.py_name for s in model.stocks])
    assert n > 400
    for s in model.stocks:
        x = ds[s.py_name].values
        x = x if x.shape[0] == n else x.T
        bad = ~np.all(np.isfinite(x) & (x >= -1e-9), axis=1)
        assert not bad.any(), (s.name, [(names[i], values[i]) for i in np.flatnonzero(bad)][:5])


def test_brokering_effect_is_carried_by_the_joint_action_productivity_loop(model):
    """Model page, dose-response section: brokering's lasting gain runs through C2 (collective goods ->
    productivity -> entry); no other instrument moves a loop group's share as much."""
    from sdcluster.analysis import loops

    names = ROOT / "models" / "cluster_policy.loops.yaml"

    def shares(params):
        ds = loops.dominance(model, {**BASE, **params}, names=names)
        return loops.group_scores(ds, stock="firms").sel(time=slice(12, 60)).mean("time").to_series()

    ref = shares({})
    broker = shares({"brokering budget": 2.0, "brokering start": 0, "brokering end": 10})
    park = shares({"park budget": 2.0, "park start": 0, "park end": 10})
    gain = broker.get("C2 joint action raises productivity", 0) - ref.get("C2 joint action raises productivity", 0)
    assert gain > 0.03
    idx = ref.index.union(park.index)
    assert (park.reindex(idx, fill_value=0) - ref.reindex(idx, fill_value=0)).abs().max() < 0.01
