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

LC_REINFORCING = ["R1 agglomeration", "R2 spin-offs and attraction", "R3 knowledge spillovers"]
LC_COMPETITION = ["B2 market saturation", "B3 wages"]


def _mean_shares(ds, stock, start, end):
    gs = loops.group_scores(ds, stock=stock).sel(time=slice(start, end)).mean("time")
    return {str(g): float(v) for g, v in zip(gs["group"].values, gs.values)}


def _sum(shares, names):
    return sum(shares.get(n, 0.0) for n in names)


def _balancing(shares):
    return sum(-v for v in shares.values() if v < 0)


# -- cluster life cycle (docs/models/cluster_lifecycle.md) -------------------
# These follow the current life-cycle model; if its decline mechanism is revised,
# the stage windows move with it, but the claims themselves may need re-targeting.
def test_lifecycle_take_off_is_driven_by_agglomeration_and_spin_offs(lifecycle_ds):
    st = stages(lifecycle_ds["firms"])
    assert [s.name for s in st][:2] == ["emergence", "growth"]
    early = _mean_shares(lifecycle_ds, "firms", st[0].start, st[0].end)
    assert max(early, key=lambda g: abs(early[g])) in ("R1 agglomeration", "R2 spin-offs and attraction")
    take_off = _mean_shares(lifecycle_ds, "firms", st[0].start, st[1].end)
    assert _sum(take_off, LC_REINFORCING) > _balancing(take_off)


def test_lifecycle_maturity_is_held_by_saturation_and_wages(lifecycle_ds):
    st = stages(lifecycle_ds["firms"])
    mature = next(s for s in st if s.name == "maturity")
    shares = _mean_shares(lifecycle_ds, "firms", mature.start, mature.end)
    assert max(shares, key=lambda g: abs(shares[g])) in LC_COMPETITION
    assert -_sum(shares, LC_COMPETITION) > _sum(shares, LC_REINFORCING)


def test_small_cluster_decays_because_exit_beats_agglomeration(lifecycle):
    ds = loops.dominance(lifecycle, {"initial firms": 10}, final_time=15)
    assert ds["firms"].values[-1] < 0.5 * ds["firms"].values[0]
    shares = _mean_shares(ds, "firms", 0, 10)
    assert shares["B1 exit"] < -0.8
    assert -shares["B1 exit"] > 10 * shares["R1 agglomeration"]


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
