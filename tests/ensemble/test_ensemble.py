"""run_ensemble: equality with single runs, scenarios, back-ends, failures and bad input."""
from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from sdcluster.uncertainty.ensemble import run_ensemble
from sdcluster.errors import ParameterError, RunError
from sdcluster.uncertainty.sampling import Uncertain, Uniform, load_uncertain
from sdcluster.scenarios.scenario import load_scenario

RTOL = 1e-9


@pytest.fixture(scope="module")
def samples():
    return Uncertain({"growth rate": Uniform(0.1, 0.5), "initial a": Uniform(5, 30),
                      "threshold": Uniform(20, 100)}, seed=2).sample(23)


def test_model_ensemble_equals_single_runs_across_chunks(functions_model, samples):
    ds = run_ensemble(functions_model, samples, outputs=["stock a", "ratio"], chunk_size=7)
    assert ds.stock_a.dims == ("run", "time") and ds.sizes["run"] == 23
    assert ds.attrs["chunk_size"] == 7 and ds.attrs["runs"] == 23
    np.testing.assert_array_equal(ds.param_growth_rate.values, samples["growth rate"])
    for i in (0, 6, 7, 22):  # both sides of chunk boundaries
        one = functions_model.run({k: float(v[i]) for k, v in samples.items()}, outputs=["stock a", "ratio"])
        np.testing.assert_allclose(ds.stock_a.values[i], one.stock_a.values, rtol=RTOL)
        np.testing.assert_allclose(ds.ratio.values[i], one.ratio.values, rtol=RTOL)
    assert not ds.failed.any()


def test_scenarios_with_policy_on_a_sampled_parameter(functions_model, fixtures, samples):
    files = [fixtures / "baseline.yaml", fixtures / "capped.yaml", fixtures / "subsidy.yaml"]
    ds = run_ensemble(files, samples, chunk_size=10)
    assert ds.stock_a.dims == ("scenario", "run", "time")
    assert list(ds.scenario.values) == ["baseline", "higher_cap", "growth_boost"]
    boost = load_scenario(fixtures / "subsidy.yaml")
    capped = load_scenario(fixtures / "capped.yaml")
    for i in (3, 15):
        # growth_boost: the sample replaces the base of the scheduled growth rate, the policy still adds 0.1
        params = boost.apply(functions_model)
        sched = params["growth_rate"]
        params["growth_rate"] = type(sched)(float(samples["growth rate"][i]), sched.schedules, sched.parameter)
        params.update({"initial_a": float(samples["initial a"][i]), "threshold": float(samples["threshold"][i])})
        one = functions_model.run(params, outputs=["stock a", "inflow a"])
        np.testing.assert_allclose(ds.stock_a.sel(scenario="growth_boost").values[i], one.stock_a.values, rtol=RTOL)
        np.testing.assert_allclose(ds.inflow_a.sel(scenario="growth_boost").values[i], one.inflow_a.values,
                                   rtol=RTOL)
        # higher_cap: the scenario's own constant is kept, the samples come on top
        params = capped.apply(functions_model)
        params.update({k.replace(" ", "_"): float(v[i]) for k, v in samples.items()})
        one = functions_model.run(params, outputs=["stock a"])
        np.testing.assert_allclose(ds.stock_a.sel(scenario="higher_cap").values[i], one.stock_a.values, rtol=RTOL)
    # the policy does change the runs (the test is not vacuous)
    diff = ds.stock_a.sel(scenario="growth_boost") - ds.stock_a.sel(scenario="baseline")
    assert float(abs(diff).max()) > 1


def test_backends_give_identical_numbers(functions_model, samples):
    distributed = pytest.importorskip("distributed")
    serial = run_ensemble(functions_model, samples, outputs=["stock a"], chunk_size=8)
    pool = run_ensemble(functions_model, samples, outputs=["stock a"], chunk_size=8, workers=2)
    assert pool.attrs["backend"] == "processes(2)"
    np.testing.assert_array_equal(serial.stock_a.values, pool.stock_a.values)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        dask = run_ensemble(functions_model, samples, outputs=["stock a"], chunk_size=8, scheduler=client)
    assert dask.attrs["backend"] == "dask"
    np.testing.assert_array_equal(serial.stock_a.values, dask.stock_a.values)


def test_unreachable_scheduler_fails_clearly_within_timeout(functions_model, samples):
    start = time.monotonic()
    with pytest.raises(RunError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s"):
        run_ensemble(functions_model, samples, scheduler="tcp://127.0.0.1:9", timeout=1)
    assert time.monotonic() - start < 15


def test_nan_runs_reported_and_kept(functions_model, caplog):
    init = np.array([10.0, -5.0, 20.0, -1.0])
    with caplog.at_level(logging.WARNING, logger="sdcluster.uncertainty.ensemble"):
        ds = run_ensemble(functions_model, {"initial a": init}, outputs=["shape", "stock a"],
                          allow_out_of_range=True)
    assert ds.failed.values.tolist() == [False, True, False, True]
    assert "2 of 4 runs" in caplog.text and "run 1 (initial_a=-5)" in caplog.text
    good = functions_model.run({"initial a": 20.0}, outputs=["shape"])
    np.testing.assert_allclose(ds.shape.values[2], good.shape.values, rtol=RTOL)


def test_bad_input(functions_model, samples, fixtures):
    with pytest.raises(ParameterError, match=r"no parameter 'growth rat'.*Did you mean 'growth rate'"):
        run_ensemble(functions_model, {"growth rat": np.ones(3)})
    with pytest.raises(ParameterError, match="runs = 0"):
        run_ensemble(functions_model, {"growth rate": np.array([])})
    with pytest.raises(ParameterError, match="differ in length"):
        run_ensemble(functions_model, {"growth rate": np.ones(3) * 0.2, "cap": np.ones(2)})
    with pytest.raises(ParameterError, match=r"'growth rate': 1 of 2 values lie outside its declared range \[0, 2\]"):
        run_ensemble(functions_model, {"growth rate": np.array([0.2, 3.0])})
    with pytest.raises(ParameterError, match="not finite"):
        run_ensemble(functions_model, {"growth rate": np.array([0.2, np.nan])})
    with pytest.raises(RunError, match="chunk_size"):
        run_ensemble(functions_model, samples, chunk_size=0)
    with pytest.raises(RunError, match="workers"):
        run_ensemble(functions_model, samples, workers=0)
    with pytest.raises(RunError, match="scenarios carry their own"):
        run_ensemble(fixtures / "baseline.yaml", samples, final_time=10)


def test_file_samples_out_of_declared_range_are_refused(functions_model, fixtures):
    u = load_uncertain(fixtures / "uncertain.yaml")
    wide = Uncertain({**u.distributions, "growth rate": Uniform(0.1, 3.0)}, seed=1)
    with pytest.raises(ParameterError, match="outside its declared range"):
        run_ensemble(functions_model, wide.sample(50))
