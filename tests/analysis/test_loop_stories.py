"""The model pages' claims about which loops dominate, checked with the loop-dominance computation.

Each test fails when the model's structure stops producing the claimed dominance.
Windows are found from the run (life-cycle stages of Firms, the take-off of
participation), not hard-coded years, so the tests follow re-calibrations.
Shares are relative scores of the named loop groups (models/*.loops.yaml),
renormalised among the loops through the stock the claim is about.
"""
from __future__ import annotations

import numpy as np
import pytest

import sdcluster
from sdcluster.analysis import loops
from sdcluster.analysis.lifecycle import stages

# loop groups of the policy model (models/cluster_policy.loops.yaml, the earlier life-cycle structure)
LC_REINFORCING = ["R1 agglomeration", "R2 spin-offs and attraction", "R3 knowledge spillovers"]
LC_COMPETITION = ["B2 market saturation", "B3 wages"]
# loop groups of the life-cycle model (models/cluster_lifecycle.loops.yaml)
AGGLOMERATION = ["R1 agglomeration", "R2 spin-offs and attraction", "R7 knowledge spillovers"]
INCREASING_RETURNS = ["R5 success to the experienced", "B8 scale barrier", "B9 size protects"]


def _mean_shares(ds, stock, start, end):
    gs = loops.group_scores(ds, stock=stock).sel(time=slice(start, end)).mean("time")
    return {str(g): float(v) for g, v in zip(gs["group"].values, gs.values)}


def _sum(shares, names):
    return sum(shares.get(n, 0.0) for n in names)


def _balancing(shares):
    return sum(-v for v in shares.values() if v < 0)


# -- cluster life cycle (docs/models/cluster_lifecycle.md) -------------------
# Windows come from the run: take-off = first half of the way to the peak of Firms,
# growth = up to the peak, shakeout = from the peak to the end of the decline stage.
def _peak(ds):
    return float(ds["firms"].idxmax("time"))


def test_lifecycle_take_off_is_driven_by_spin_offs_and_agglomeration(lifecycle_ds):
    assert stages(lifecycle_ds["firms"])[0].name in ("emergence", "growth")
    take_off = _mean_shares(lifecycle_ds, "firms", 0, _peak(lifecycle_ds) / 2)
    assert max(take_off, key=lambda g: abs(take_off[g])) == "R2 spin-offs and attraction"
    assert take_off["R1 agglomeration"] > 0.05
    assert _sum(take_off, AGGLOMERATION) > -_sum(take_off, ["B1 exit", "B2 market saturation"])


def test_lifecycle_growth_is_braked_by_market_saturation_not_wages_or_land(lifecycle_ds):
    growth = _mean_shares(lifecycle_ds, "firms", 0, _peak(lifecycle_ds))
    assert min(growth, key=growth.get) == "B2 market saturation"
    assert abs(growth["B3 wages"]) + abs(growth["B4 congestion"]) < 0.01


def check_shakeout_is_carried_by_increasing_returns(ds):
    """Firms fall while output grows, and the experience-scale loops, not agglomeration, carry it."""
    peak = _peak(ds)
    decline = next(s for s in stages(ds["firms"]) if s.name == "decline" and s.end > peak)
    output = ds["cumulative_output"].differentiate("time")  # the stock's inflow
    firms, output = (v.sel(time=[peak, decline.end], method="nearest").values for v in (ds["firms"], output))
    assert firms[1] < 0.6 * firms[0] and output[1] > output[0]
    shakeout = _mean_shares(ds, "firms", peak, decline.end)
    assert max(shakeout, key=lambda g: abs(shakeout[g])) == "R5 success to the experienced"
    increasing_returns = sum(abs(shakeout.get(g, 0.0)) for g in INCREASING_RETURNS)
    assert increasing_returns > 0.4
    assert increasing_returns > 10 * abs(_sum(shakeout, AGGLOMERATION))


def test_lifecycle_shakeout_is_carried_by_increasing_returns_not_agglomeration(lifecycle_ds):
    check_shakeout_is_carried_by_increasing_returns(lifecycle_ds)


# -- cooperative action (docs/models/cooperative_action.md) ------------------
@pytest.fixture(scope="module")
def budding(cooperative):
    return loops.dominance(cooperative, {"initial trust": 0.45, "initial participation share": 0.3})


def test_take_off_of_cooperation_is_carried_by_the_reinforcing_loops_together(budding):
    p = budding["participating_firms"]
    t = p["time"].values
    rate = np.gradient(p.values, t)
    accelerating = t[(rate > 0) & (np.gradient(rate, t) > 0)]  # the take-off: growth speeds up
    assert len(accelerating) > 10
    shares = loops.group_scores(budding).sel(time=accelerating).mean("time").to_pandas()
    reinforcing = shares[[g for g in shares.index if g.startswith("R")]]
    assert reinforcing.sum() > _balancing(shares.to_dict())
    for group in ("R1 trust-cooperation spiral", "R2 visible results", "R4 breakthrough"):
        assert shares[group] > 0.05                                 # each carries part of it ...
    assert abs(shares["R3 dues fund coordination"]) < 0.02          # ... R3 does not (page corrected)
    balancing = shares[[g for g in shares.index if g.startswith("B")]]
    assert balancing.idxmin() == "B1 free riding"                   # free riding is the brake
    assert budding["trust"].values[-1] > 0.8                        # self-sustaining cooperation


def test_free_riding_dominates_a_large_cluster_with_moderate_trust(cooperative, budding):
    large = loops.dominance(cooperative, {"initial trust": 0.45, "initial participation share": 0.3,
                                          "total firms": 1000}, final_time=15)
    big = loops.group_scores(large).sel(time=slice(4, 12)).mean("time").to_pandas()
    small = loops.group_scores(budding).sel(time=slice(4, 12)).mean("time").to_pandas()
    assert big.abs().idxmax() == "B1 free riding"
    assert big["B1 free riding"] < 2 * small["B1 free riding"]  # at least twice as strong as with 100 firms


def test_overheated_push_does_its_damage_outside_the_coordination_loop(cooperative):
    ds = loops.dominance(cooperative, {"initial trust": 0.45, "initial participation share": 0.3,
                                       "facilitation capacity share": 0.1, "facilitation budget": 5,
                                       "facilitation start time": 5, "facilitation duration": 1}, final_time=12)
    p = ds["participating_firms"].sel(time=slice(5, 8))
    assert float(p.min()) < 0.4 * float(p.max())  # the push collapses participation ...
    shares = loops.group_scores(ds).sel(time=slice(5, 8))
    assert float(np.abs(shares.sel(group="B2 coordination overload")).max()) < 0.1  # ... without B2 dominance
    mean = shares.mean("time").to_pandas()
    assert mean.abs().idxmax() == "B3 adjustment"


# -- integrated policy model (docs/models/cluster_policy.md) -----------------
def test_policy_model_life_cycle_loops_drive_firms_and_cooperation_loops_drive_trust():
    model = sdcluster.load_model("cluster_policy.xmile")
    ds = loops.dominance(model)
    assert ds.attrs["ltm_mode"] == "discovery"
    st = stages(ds["firms"])
    growth = next(s for s in st if s.name == "growth")
    firms = _mean_shares(ds, "firms", 0, growth.end)
    coupling = [g for g in firms if g.startswith("C")]
    lifecycle = LC_REINFORCING + LC_COMPETITION + ["B1 exit", "B4 congestion", "B6 lock-in", "B7 concentration"]
    assert sum(abs(firms.get(g, 0)) for g in lifecycle) > 4 * sum(abs(firms[g]) for g in coupling)
    trust = _mean_shares(ds, "trust", 0, float(ds["time"][-1]))
    cooperation = [g for g in trust if g[:2] in ("R1", "R2", "R3", "R4", "B1", "B2", "B3")]
    assert sum(abs(trust[g]) for g in cooperation) > 4 * sum(abs(v) for g, v in trust.items() if g.startswith("C"))
