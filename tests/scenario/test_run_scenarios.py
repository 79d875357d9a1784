"""run_scenarios: one Dataset with dims (scenario, time), schedules applied exactly, provenance."""
from __future__ import annotations

import json
import shutil
import textwrap

import numpy as np
import pytest

import sdcluster
from sdcluster.errors import ScenarioError
from sdcluster.scenarios.scenario import Policy, Scenario
from sdcluster.scenarios.schedules import Pulse, Step

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

BASE = """\
model: tiny.mdl
time: {final_time: 20, time_step: 0.25, saveper: 1}
outputs: [firms, entry]
"""


def budget_in_effect(ds, scenario, model):
    """Recover the brokering budget from the entry flow: entry = firms*ef + budget*fpb."""
    ef = model.info("entry fraction").default
    fpb = model.info("firms per budget").default
    sel = ds.sel(scenario=scenario)
    return (sel["entry"] - sel["firms"] * ef).values / fpb


def test_dataset_shape_names_and_provenance(write, tiny_model):
    write("base.yaml", BASE)
    write("early.yaml", """\
        extends: base.yaml
        description: Budget 2 from year 5 to 15.
        policies:
          - {parameter: brokering budget, shape: step, start: 5, end: 15, amount: 2}
        """)
    ds = sdcluster.run_scenarios(["base.yaml", "early.yaml"], progress=False)
    assert ds["firms"].dims == ("scenario", "time")
    assert list(ds["scenario"].values) == ["base", "early"]
    np.testing.assert_array_equal(ds["time"].values, np.arange(0, 21, 1.0))
    assert ds["firms"].attrs["units"] == "firm" and ds["firms"].attrs["long_name"] == "firms"
    assert ds.attrs["model_file"] == "tiny.mdl" and ds.attrs["model_sha256"] == tiny_model.sha256
    defs = json.loads(ds.attrs["scenarios"])
    assert defs["early"]["description"] == "Budget 2 from year 5 to 15."
    assert defs["early"]["policies"] == [{"parameter": "brokering budget", "shape": "step", "start": 5.0,
                                          "end": 15.0, "amount": 2.0}]
    assert defs["early"]["extends"] == ["base.yaml"]
    assert defs["early"]["applied_parameters"]["brokering budget"]["base"] == 0.0
    assert "parameters" not in ds.attrs  # per-run attribute replaced by the scenario definitions


def test_schedules_reach_the_model_at_exact_times(write, tiny_model):
    write("s.yaml", BASE + textwrap.dedent("""\
        scenarios:
          - name: step
            policies: [{parameter: brokering budget, shape: step, start: 5, end: 15, amount: 2}]
          - name: pulse
            policies: [{parameter: brokering budget, shape: pulse, start: 2, width: 1, every: 5, end: 13, amount: 3}]
          - name: ramp
            policies: [{parameter: brokering budget, shape: ramp, start: 4, end: 8, amount: 4}]
          - name: table
            policies: [{parameter: brokering budget, shape: table, points: [[0, 0], [10, 1.5], [20, 0]]}]
        """))
    ds = sdcluster.run_scenarios("s.yaml", progress=False)
    t = ds["time"].values
    expected = {
        "step": np.where((t >= 5) & (t < 15), 2.0, 0.0),
        "pulse": np.where(np.isin(t, [2, 7, 12]), 3.0, 0.0),
        "ramp": np.clip((t - 4) / 4, 0, 1) * 4,
        "table": np.interp(t, [0, 10, 20], [0, 1.5, 0]),
    }
    for name, want in expected.items():
        np.testing.assert_allclose(budget_in_effect(ds, name, tiny_model), want, rtol=0, atol=1e-9,
                                   err_msg=name)


def test_same_numbers_as_a_direct_model_run(write, tiny_model):
    write("x.yaml", BASE + "parameters: {initial firms: 20}\n"
          "policies: [{parameter: brokering budget, shape: step, start: 5, end: 15, amount: 2}]\n")
    ds = sdcluster.run_scenarios(["x.yaml"], progress=False)
    direct = tiny_model.run(params={"initial firms": 20, "brokering budget": Step(start=5, end=15, amount=2)},
                            final_time=20, time_step=0.25, saveper=1, outputs=["firms"])
    np.testing.assert_array_equal(ds["firms"].sel(scenario="x").values, direct["firms"].values)


def test_scenario_objects_mappings_and_default_model(folder, tiny_model):
    objs = [
        Scenario("a", time={"final_time": 10}),
        Scenario("b", time={"final_time": 10}, policies=[Policy("brokering budget", Pulse(start=1, width=2, amount=1))]),
        {"name": "c", "time": {"final_time": 10}, "parameters": {"initial firms": 30}},
    ]
    ds = sdcluster.run_scenarios(objs, model=tiny_model, outputs=["firms"], progress=False)
    assert list(ds["scenario"].values) == ["a", "b", "c"]
    assert list(ds.data_vars) == ["firms"]
    assert ds["firms"].sel(scenario="c", time=0).item() == 30.0
    assert ds["firms"].sel(scenario="b", time=10).item() > ds["firms"].sel(scenario="a", time=10).item()


def test_no_model_is_a_clear_error(tiny_model):
    with pytest.raises(ScenarioError, match="names no model"):
        sdcluster.run_scenarios([Scenario("a")], progress=False)


def test_different_models_are_refused(write, folder):
    text = (FIXTURES / "tiny.mdl").read_text().replace("learning rate = 0.01", "learning rate = 0.02")
    (folder / "tiny2.mdl").write_text(text)
    write("a.yaml", "model: tiny.mdl\n")
    write("b.yaml", "model: tiny2.mdl\n")
    with pytest.raises(ScenarioError, match=r"b.yaml: model: scenario 'b' uses tiny2.mdl but a.yaml .* uses tiny.mdl"):
        sdcluster.run_scenarios(["a.yaml", "b.yaml"], progress=False)


def test_same_model_file_copied_elsewhere_is_accepted(write, folder):
    (folder / "copy").mkdir()
    shutil.copy(folder / "tiny.mdl", folder / "copy" / "tiny.mdl")
    write("a.yaml", BASE)
    write("b.yaml", BASE.replace("tiny.mdl", "copy/tiny.mdl"))
    ds = sdcluster.run_scenarios(["a.yaml", "b.yaml"], progress=False)
    np.testing.assert_array_equal(ds["firms"].sel(scenario="a"), ds["firms"].sel(scenario="b"))


def test_duplicate_names_are_refused(write):
    write("a.yaml", BASE)
    write("b.yaml", BASE + "name: a\n")
    with pytest.raises(ScenarioError, match="scenario names must be unique.*'a' in a.yaml, b.yaml"):
        sdcluster.run_scenarios(["a.yaml", "b.yaml"], progress=False)


def test_different_time_grids_are_refused(write):
    write("a.yaml", BASE)
    write("b.yaml", "extends: a.yaml\ntime: {final_time: 10}\n")
    with pytest.raises(ScenarioError, match="b.yaml: time: scenario 'b' saves times 0..10 every 1 but 'a' saves 0..20"):
        sdcluster.run_scenarios(["a.yaml", "b.yaml"], progress=False)


def test_validation_happens_before_any_run(write, monkeypatch, tiny_model):
    write("ok.yaml", BASE)
    write("bad.yaml", BASE + "parameters: {entry fraction: 5}\n")
    calls = []
    monkeypatch.setattr(type(tiny_model), "run", lambda self, **kw: calls.append(kw))
    with pytest.raises(ScenarioError, match="outside the declared range"):
        sdcluster.run_scenarios(["ok.yaml", "bad.yaml"], model=tiny_model, progress=False)
    assert calls == []


def test_allow_out_of_range_runs_with_warning(write, caplog):
    write("a.yaml", BASE + "parameters: {entry fraction: 1.5}\n")
    ds = sdcluster.run_scenarios(["a.yaml"], allow_out_of_range=True, progress=False)
    assert "outside the declared range" in caplog.text
    assert ds["firms"].sel(scenario="a", time=1).item() > ds["firms"].sel(scenario="a", time=0).item()


def test_unknown_output_argument(tiny_model):
    with pytest.raises(ScenarioError, match="outputs: .*unknown variable 'frims'"):
        sdcluster.run_scenarios([Scenario("a")], model=tiny_model, outputs=["frims"], progress=False)


def test_numpy_numbers_in_programmatic_scenarios(tiny_model):
    s = Scenario("np", time={"final_time": np.int64(5)}, parameters={"initial firms": np.int64(12)})
    ds = sdcluster.run_scenarios([s], model=tiny_model, outputs=["firms"], progress=False)
    assert ds["firms"].sel(scenario="np", time=0).item() == 12.0
    assert json.loads(ds.attrs["scenarios"])["np"]["parameters"] == {"initial firms": 12.0}
