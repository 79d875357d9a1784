"""The explorer's computations without a browser: controls, views, runs, KPI cards, saving."""
from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
import yaml

from sdcluster.cli import main
from sdcluster.errors import ParameterError, ScenarioError
from sdcluster.explore import build_explorer
from sdcluster.explore.session import EXPLORED, View
from sdcluster.scenarios.schedules import Step



def growth(amount: float, start: float, duration: float, base: float = 0.3):
    """The growth-rate schedule written independently of the explorer."""
    step = Step(start=start, amount=amount, end=start + duration)
    return lambda t: base + step(t)


def test_controls_follow_the_scenarios_and_declared_ranges(small_explorer):
    ex = small_explorer
    amount = ex.by_key["growth_rate.amount"]
    # declared range of 'growth rate' is [0, 2] and the schedule adds to the base 0.3
    assert (amount.low, amount.high, amount.default) == pytest.approx((-0.3, 1.7, 0.1))
    assert (ex.by_key["growth_rate.start"].default, ex.by_key["growth_rate.duration"].default) == (5.0, 10.0)
    assert ex.by_key["growth_rate.duration"].high == 40.0  # the model's 40-year period
    assert {c.key for c in ex.controls if c.role == "uncertain"} == {"growth_rate", "initial_a", "threshold",
                                                                     "smoothing_time"}
    with pytest.raises(ParameterError, match=r"1.9 is outside the declared range \[-0.3, 1.7\] 1/Year"):
        amount.check("1.9")
    with pytest.raises(ParameterError, match="'abc' is not a number"):
        amount.check("abc")
    assert amount.check(" 0.25 ") == 0.25


def test_central_run_equals_a_direct_model_run(small_explorer):
    ex = small_explorer
    view = ex.default_view()
    view = View({**view.values, "growth_rate.amount": 0.45, "growth_rate.start": 7.0}, "baseline",
                "stock_a@end", ("stock_a",))
    res = ex.evaluate(view)
    direct = ex.model.run(params={"growth rate": growth(0.45, 7.0, 10.0)}, outputs=["stock a"])
    np.testing.assert_allclose(res.central["stock_a"].sel(scenario=EXPLORED), direct["stock_a"], rtol=1e-9)
    ref = ex.model.run(outputs=["stock a"])
    np.testing.assert_allclose(res.central["stock_a"].sel(scenario="baseline"), ref["stock_a"], rtol=1e-9)
    assert res.cards["gain"] == pytest.approx(float(direct["stock_a"][-1] - ref["stock_a"][-1]), rel=1e-9)
    # the band brackets most of the sampled runs and differs from the central line
    assert np.all(res.low["stock_a"].values <= res.high["stock_a"].values)
    assert float((res.high["stock_a"] - res.low["stock_a"]).max()) > 1.0
    assert [s.name for s in res.stages][:2] == ["emergence", "growth"]


def test_p_beats_reference_pairs_runs_with_common_random_numbers(small_explorer, small_dir):
    from sdcluster.uncertainty.ensemble import run_ensemble
    from sdcluster.scenarios.scenario import load_scenarios

    ex = small_explorer
    view = ex.default_view()
    res = ex.evaluate(view)
    samples = ex.uncertain.sample(100)
    scen = load_scenarios(small_dir / "baseline.yaml") + load_scenarios(small_dir / "subsidy.yaml")
    ens = run_ensemble(scen, samples, outputs=["stock a"])
    end = ens["stock_a"].isel(time=-1)
    expected = float((end.sel(scenario="growth_boost") > end.sel(scenario="baseline")).mean())
    assert res.cards["p_beats"] == pytest.approx(expected)
    assert 0 < expected < 1  # the test can fail both ways


def test_view_round_trips_through_the_query_string(small_explorer):
    ex = small_explorer
    view = View({**ex.default_view().values, "growth_rate.amount": 0.123456789, "threshold": 61.5},
                "growth_boost", "max:stock_a:peak", ("inflow_a", "stock_a"))
    back, errors = ex.view_from_query(view.query())
    assert errors == [] and back == view
    bad, errors = ex.view_from_query("?growth_rate.amount=5&ref=nope&kpi=stock_b@end&outputs=stock_a&colour=1")
    assert bad.values["growth_rate.amount"] == 0.1 and bad.reference == "baseline"
    text = " | ".join(errors)
    assert "5 is outside the declared range" in text and "no scenario named 'nope'" in text
    assert "'stock_b' is not among the outputs" in text and "unknown setting 'colour'" in text


def test_saved_scenario_runs_and_refuses_bad_names(small_explorer, tmp_path, monkeypatch, capsys):
    ex = small_explorer
    view = View({**ex.default_view().values, "growth_rate.amount": 0.6, "growth_rate.duration": 4.0,
                 "initial_a": 12.0}, "baseline", "stock_a@end", ("stock_a",))
    path = ex.save_scenario(view, "kept_setting")
    doc = yaml.safe_load(path.read_text())
    assert doc["policies"] == [{"parameter": "growth rate", "shape": "step", "start": 5.0, "end": 9.0,
                                "amount": 0.6}]
    assert doc["parameters"] == {"initial a": 12.0}
    out = tmp_path / "kept.nc"
    assert main(["run", str(path), "-o", str(out)]) == 0
    with xr.open_dataset(out) as ds:
        np.testing.assert_allclose(ds["stock_a"].sel(scenario="kept_setting"),
                                   ex.evaluate(view).central["stock_a"].sel(scenario=EXPLORED), rtol=1e-9)
    for bad in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(ScenarioError, match="not a valid name"):
            ex.save_scenario(view, bad)
    with pytest.raises(ScenarioError, match="already exists"):
        ex.save_scenario(view, "kept_setting")


def test_results_download_holds_central_runs_and_band(small_explorer, tmp_path):
    ex = small_explorer
    view = ex.default_view()
    nc = tmp_path / "r.nc"
    nc.write_bytes(ex.results_bytes(view, ".nc"))
    with xr.open_dataset(nc) as ds:
        assert list(ds["scenario"].values) == [EXPLORED, "baseline"]
        assert {"stock_a", "stock_a_p05", "stock_a_p95"} <= set(ds.data_vars)
        assert ds["stock_a"].attrs["units"] == "widget"
        assert ds.attrs["explorer_view"] == view.query()
    csv = ex.results_bytes(view, ".csv").decode()
    # plain CSV (no comment lines, as every sdcluster CSV); the view travels in the netCDF and the URL
    assert not csv.startswith("#") and csv.splitlines()[0].startswith("scenario,time") and "stock_a_p95" in csv


def test_a_bare_model_with_an_instrument_and_no_band(tmp_path, small_dir):
    ex = build_explorer([str(small_dir / "functions.mdl")], extra_instruments=["step height"], save_dir=tmp_path)
    assert [c.key for c in ex.controls] == ["step_height.amount", "step_height.start", "step_height.duration"]
    view = View({**ex.default_view().values, "step_height.amount": 1.5, "step_height.start": 20.0},
                "model defaults", "stock_a@end", ("stock_a",))
    res = ex.evaluate(view)
    assert res.low is None and math.isnan(res.cards["p_beats"])
    step = Step(start=20.0, amount=1.5, end=60.0)
    direct = ex.model.run(params={"step height": lambda t: 2.0 + step(t)}, outputs=["stock a"])
    assert res.cards["explored"] == pytest.approx(float(direct["stock_a"][-1]), rel=1e-12)
    with pytest.raises(ParameterError, match="no parameter of that name"):
        build_explorer([str(small_dir / "functions.mdl")], extra_instruments=["stepheight"])


def test_scenarios_on_different_time_grids_are_refused(small_explorer, small_dir):
    from sdcluster.explore.session import Explorer
    from sdcluster.scenarios.scenario import scenario_from_dict

    short = scenario_from_dict({"name": "short", "time": {"final_time": 20}}, base_dir=small_dir)
    longer = scenario_from_dict({"name": "longer"}, base_dir=small_dir)
    with pytest.raises(ScenarioError, match="differ in their time settings.*'final_time': 20"):
        Explorer(small_explorer.model, [short, longer])


def test_a_scenarios_own_reference_is_loaded_when_not_given(small_dir):
    from sdcluster.scenarios.scenario import load_scenarios, with_references

    boost = load_scenarios(small_dir / "subsidy.yaml")[0]
    boost.reference, boost.reference_source = "baseline", str(small_dir / "baseline.yaml")
    names = [s.name for s in with_references([boost])]
    assert names == ["growth_boost", "baseline"]
    assert [s.name for s in with_references([boost, *load_scenarios(small_dir / "baseline.yaml")])] == names
