"""Loading both formats, the catalogue, running into xarray, run isolation."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import sdcluster
from sdcluster.errors import ParameterError, RunError


@pytest.fixture(scope="module")
def mdl(fixtures):
    return sdcluster.load_model(fixtures / "small_cluster.mdl")


@pytest.fixture(scope="module")
def xmile(fixtures):
    return sdcluster.load_model(fixtures / "small_cluster.xmile")


def test_both_formats_give_identical_trajectories(mdl, xmile):
    # PySD's XMILE reader always saves every time step (SAVEPER = DT), so
    # compare at the Vensim file's saving period.
    a, b = mdl.run(), xmile.run(saveper=1)
    assert list(a.data_vars) == list(b.data_vars)
    assert len(a.data_vars) == 7
    for name in a.data_vars:
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-9, atol=0)
    # the fixture must exercise the interesting paths: growth, learning switched on
    assert float(a.firms[-1]) > 2 * float(a.firms[0])
    assert float(a.learning.max()) > 0


def test_run_equals_plain_pysd(mdl, pure_pysd):
    ours = mdl.run(params={"initial firms": 40, "capacity": 150})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pure_pysd("small_cluster.mdl").run(params={"initial firms": 40, "capacity": 150},
                                                   return_columns=list(ours.data_vars))
    assert np.allclose(ref.index.values, ours.time.values)
    for name in ours.data_vars:
        np.testing.assert_allclose(ours[name].values, ref[name].values,
                                   rtol=1e-12, atol=1e-12)


def test_catalogue_reads_units_ranges_and_defaults(mdl, xmile):
    for model in (mdl, xmile):
        p = model.info("initial firms")
        assert (p.py_name, p.units, p.default, p.limits) == ("initial_firms", "firm", 60.0, (0.0, 1000.0))
        assert np.isnan(model.info("initial knowledge").limits[1])
        assert {s.py_name for s in model.stocks} == {"firms", "knowledge"}
        assert "firm lifetime" in [q.name for q in model.parameters]
        expected_saveper = 1.0 if model.format == "vensim" else 0.25  # PySD XMILE: SAVEPER = DT
        assert model.time_settings == {"initial_time": 0.0, "final_time": 60.0, "time_step": 0.25,
                                       "saveper": expected_saveper, "time_units": "Year"}


def test_dataset_is_self_describing(mdl):
    ds = mdl.run(params={"firm_lifetime": 10}, outputs=["Firms", "knowledge"])
    assert list(ds.data_vars) == ["firms", "knowledge"]
    assert ds.firms.attrs == {"units": "firm", "long_name": "Firms",
                              "description": "Firms in the cluster (test model for the core engine)."}
    assert ds.time.attrs["units"] == "Year"
    assert ds.time.values[0] == 0 and ds.time.values[-1] == 60 and ds.sizes["time"] == 61
    assert ds.attrs["model_file"] == "small_cluster.mdl"
    assert len(ds.attrs["model_sha256"]) == 64
    assert json.loads(ds.attrs["parameters"]) == {"firm lifetime": 10.0}
    assert ds.attrs["pysd_version"] == "3.14.3"
    assert ds.attrs["sdcluster_version"] == sdcluster.__version__


def test_time_overrides(mdl):
    ds = mdl.run(final_time=20, time_step=0.125, saveper=0.5, initial_time=2)
    assert ds.time.values[0] == 2 and ds.time.values[-1] == 20
    assert np.allclose(np.diff(ds.time.values), 0.5)
    assert ds.attrs["time_step"] == 0.125


def test_no_leakage_between_runs(mdl):
    fresh = mdl.run()
    mdl.run(params={"initial firms": 300, "entry fraction": 0.5}, final_time=10, time_step=0.5)
    mdl.run(params={"seed entry": lambda t: 5.0 if t > 3 else 0.0})
    again = mdl.run()
    for name in fresh.data_vars:
        np.testing.assert_array_equal(fresh[name].values, again[name].values)
    assert again.attrs["final_time"] == 60


def test_schedule_callable_is_applied_each_step(mdl):
    base = mdl.run(outputs=["entry rate"])
    pushed = mdl.run(params={"seed entry": lambda t: 2.0 if 10 <= t < 20 else 0.5}, outputs=["entry rate"])
    before = base.entry_rate.sel(time=slice(0, 9)).values
    np.testing.assert_array_equal(before, pushed.entry_rate.sel(time=slice(0, 9)).values)
    assert float(pushed.entry_rate.sel(time=15)) > float(base.entry_rate.sel(time=15)) + 1.0


def test_same_inputs_same_numbers(fixtures):
    a = sdcluster.load_model(fixtures / "small_cluster.mdl").run(params={"capacity": 200})
    b = sdcluster.load_model(fixtures / "small_cluster.mdl").run(params={"capacity": 200})
    assert a.identical(b)


def test_run_batch_equals_individual_runs(mdl):
    values = np.array([5.0, 30.0, 120.0])
    batch = mdl.run_batch({"initial firms": values, "capacity": 250.0}, outputs=["firms", "perceived size"])
    assert batch.firms.dims == ("run", "time") and batch.sizes["run"] == 3
    for i, v in enumerate(values):
        one = mdl.run(params={"initial firms": v, "capacity": 250.0}, outputs=["firms", "perceived size"])
        np.testing.assert_allclose(batch.firms.isel(run=i).values, one.firms.values, rtol=1e-12)
        np.testing.assert_allclose(batch.perceived_size.isel(run=i).values, one.perceived_size.values, rtol=1e-12)


@pytest.mark.parametrize("params, message", [
    ({"initial frms": 3}, "Did you mean 'initial firms'"),
    ({"Firms": 3}, "not a constant parameter"),
    ({"initial firms": "many"}, "is not a number"),
    ({"initial firms": float("nan")}, "not a finite number"),
    ({"initial firms": 5000}, "outside its declared range [0, 1000]"),
    ({"entry fraction": -0.1}, "outside its declared range [0, 1]"),
])
def test_bad_parameters(mdl, params, message):
    with pytest.raises(ParameterError) as err:
        mdl.run(params=params)
    assert message in str(err.value)
    assert "small_cluster.mdl" in str(err.value)


def test_out_of_range_allowed_when_asked(mdl):
    ds = mdl.run(params={"initial firms": 5000}, check_limits=False, final_time=2)
    assert float(ds.firms[0]) == 5000


@pytest.mark.parametrize("kwargs, message", [
    ({"final_time": -5}, "final_time -5 must be after initial_time 0"),
    ({"initial_time": 70}, "must be after initial_time 70"),
    ({"time_step": 0}, "time_step 0 must be positive"),
    ({"time_step": -1}, "time_step -1 must be positive"),
    ({"saveper": 0.1}, "saveper 0.1 must be positive and at least the time step"),
    ({"final_time": float("inf")}, "final_time = inf is not a finite number"),
])
def test_bad_time_settings(mdl, kwargs, message):
    with pytest.raises(RunError) as err:
        mdl.run(**kwargs)
    assert message in str(err.value)


def test_unknown_output_suggests(mdl):
    with pytest.raises(ParameterError, match="Did you mean 'Knowledge'"):
        mdl.run(outputs=["knowledg"])
