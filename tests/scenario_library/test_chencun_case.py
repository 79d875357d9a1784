"""The Chencun case (docs/cases/chencun.md, scenarios/cases/chencun.yaml): valid, runs, and its claims hold."""
from __future__ import annotations

from pathlib import Path

import pytest

import sdcluster
from sdcluster.scenarios.scenario import load_scenarios

CASE = Path(__file__).resolve().parents[2] / "scenarios" / "cases" / "chencun.yaml"


@pytest.fixture(scope="module")
def runs():
    return sdcluster.run_scenarios([CASE], progress=False)


def test_every_scenario_names_real_parameters_and_its_reference():
    scenarios = {s.name: s for s in load_scenarios(CASE)}
    assert set(scenarios) == {"chencun_traditional", "chencun_park_only", "chencun_actual",
                              "chencun_actual_with_brokering"}
    model = sdcluster.load_model("cluster_policy")
    for s in scenarios.values():
        s.apply(model)  # raises on an unknown parameter or a bad schedule
        assert s.question and s.question.startswith("What did the Flower World")
    assert scenarios["chencun_actual_with_brokering"].reference == "chencun_actual"
    assert scenarios["chencun_park_only"].reference == "chencun_traditional"


def _end(runs, var, scenario):
    return float(runs[var].sel(scenario=scenario).isel(time=-1))


def test_infrastructure_alone_does_nothing_lasting(runs):
    assert _end(runs, "firms", "chencun_park_only") == pytest.approx(_end(runs, "firms", "chencun_traditional"),
                                                                     rel=0.01)
    assert _end(runs, "cumulative_public_cost", "chencun_park_only") == pytest.approx(25.0)


def test_expo_and_platform_add_firms_but_no_cooperation(runs):
    assert _end(runs, "firms", "chencun_actual") > 1.05 * _end(runs, "firms", "chencun_traditional")
    assert _end(runs, "trust", "chencun_actual") < 0.2
    ce = runs["collective_efficiency"].sel(time=30)
    assert float(ce.sel(scenario="chencun_actual")) < 1.1 * float(ce.sel(scenario="chencun_traditional"))


def test_a_facilitator_is_what_tips_cooperation(runs):
    assert _end(runs, "trust", "chencun_actual_with_brokering") > 0.7
    extra_cost = (_end(runs, "cumulative_public_cost", "chencun_actual_with_brokering")
                  - _end(runs, "cumulative_public_cost", "chencun_actual"))
    assert extra_cost == pytest.approx(5.0)
    gain_brokering = _end(runs, "firms", "chencun_actual_with_brokering") - _end(runs, "firms", "chencun_actual")
    gain_sequence = _end(runs, "firms", "chencun_actual") - _end(runs, "firms", "chencun_traditional")
    assert gain_brokering > gain_sequence
