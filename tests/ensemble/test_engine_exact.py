"""The vectorised path of the PySD engine equals plain PySD, run by run, to 1e-9 relative.

Models are loaded with ``engine="pysd"``: the compiled path has its own tests (test_compiled.py).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

import sdcluster

_MODELS = Path(__file__).resolve().parents[2] / "models"
BUNDLED = sorted(_MODELS.glob("*.mdl")) + sorted(_MODELS.glob("*.xmile"))

RTOL = 1e-9


@pytest.fixture(scope="module")
def functions_model(fixtures):
    """The function zoo on sdcluster's PySD engine (overrides the conftest fixture in this module)."""
    return sdcluster.load_model(fixtures / "functions.mdl", engine="pysd")


def _assert_equal_to_plain_pysd(model, batch, params, plain_loader, runs, **time):
    plain = plain_loader(model.path)
    names = list(batch.data_vars)
    for i in runs:
        one = {model.info(k).name: float(v[i]) for k, v in params.items()}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            df = plain.run(params=one, return_columns=names, **time)
        assert len(df.index) == batch.sizes["time"]
        np.testing.assert_allclose(df.index.values, batch.time.values, rtol=0, atol=1e-12)
        for name in names:
            np.testing.assert_allclose(batch[name].values[i], df[name].values, rtol=RTOL, atol=1e-12,
                                       err_msg=f"{model.path.name}: {name}, run {i}")


def test_function_fixture_vectorised_equals_plain_pysd(functions_model, plain, sampler):
    model = functions_model
    assert model.vectorisable, model._engine.vector_blockers
    params = sampler(model, 8, seed=3, spread=0.6)
    params["denominator"][:4] = 0.0  # ZIDZ guard taken in half of the runs
    batch = model.run_batch(params)
    # the sample must exercise both branches of IF THEN ELSE and of MAX across runs
    a = batch.stock_a.values
    assert (a < params["threshold"][:, None]).any() and (a >= params["threshold"][:, None]).any()
    assert np.ptp(batch.stock_a.values[:, -1]) > 1
    _assert_equal_to_plain_pysd(model, batch, params, plain, runs=[0, 4, 7])


def test_function_fixture_equals_single_runs(functions_model, sampler):
    model = functions_model
    params = sampler(model, 5, seed=11, spread=0.6)
    batch = model.run_batch(params)
    for i in range(5):
        one = model.run({k: float(v[i]) for k, v in params.items()})
        for name in one.data_vars:
            np.testing.assert_allclose(batch[name].values[i], one[name].values, rtol=RTOL, atol=1e-12)


def test_scalar_outputs_broadcast_to_runs(functions_model):
    batch = functions_model.run_batch({"growth rate": np.array([0.1, 0.2, 0.3])},
                                      outputs=["stock a", "capacity", "smoothed3 a"])
    assert batch.capacity.shape == (3, batch.sizes["time"])
    assert np.all(batch.capacity.values == 80)
    assert np.all(np.diff(batch.stock_a.values[:, -1]) != 0)


def test_initial_value_constants_set_stock_initial_values_per_run(functions_model):
    init = np.array([5.0, 10.0, 40.0])
    batch = functions_model.run_batch({"initial a": init}, outputs=["stock a", "smoothed a"])
    np.testing.assert_array_equal(batch.stock_a.values[:, 0], init)
    np.testing.assert_array_equal(batch.smoothed_a.values[:, 0], init)


def test_delay_order_difference_falls_back_to_single_runs(functions_model, caplog):
    # DELAY3 with a delay time below 3 time steps: PySD lowers the order, run by run
    delay = np.array([0.5, 4.0, 0.6])
    with caplog.at_level(logging.INFO, logger="sdcluster.core.engine"):
        batch = functions_model.run_batch({"delay time": delay}, check_limits=False, outputs=["stock a"])
    assert "one by one" in caplog.text and "delay_time" not in caplog.text.split("one by one")[0]
    assert "outflow" in caplog.text or "delay" in caplog.text.lower()
    for i, d in enumerate(delay):
        one = functions_model.run({"delay time": float(d)}, check_limits=False, outputs=["stock a"])
        np.testing.assert_allclose(batch.stock_a.values[i], one.stock_a.values, rtol=RTOL)


def test_nan_run_kept_others_intact(functions_model):
    # a negative initial value drives LN(1 + stock) and SQRT to NaN in that run only
    init = np.array([10.0, -5.0, 20.0])
    batch = functions_model.run_batch({"initial a": init}, check_limits=False, outputs=["shape", "stock a"])
    assert np.isnan(batch.shape.values[1]).any()
    assert np.isfinite(batch.shape.values[[0, 2]]).all()
    one = functions_model.run({"initial a": 20.0}, outputs=["shape"])
    np.testing.assert_allclose(batch.shape.values[2], one.shape.values, rtol=RTOL)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_model_vectorised_equals_plain_pysd(path, plain, sampler):
    model = sdcluster.load_model(path, engine="pysd")
    assert model.vectorisable, model._engine.vector_blockers
    params = sampler(model, 6, seed=7, spread=0.25)
    # plain PySD evaluates lookups through xarray and is slow: compare over the full
    # horizon on a coarser (but identical for both) time grid
    time = {"time_step": 0.5, "saveper": 1.0}
    batch = model.run_batch(params, **time)
    assert np.ptp(batch[model.stocks[0].py_name].values[:, -1]) > 0  # the runs do differ
    assert all(np.isfinite(batch[v].values).all() for v in batch.data_vars)
    _assert_equal_to_plain_pysd(model, batch, params, plain, runs=[5], **time)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_model_vectorised_equals_engine_single_runs_at_model_step(path, sampler):
    model = sdcluster.load_model(path, engine="pysd")
    params = sampler(model, 4, seed=5, spread=0.25)
    batch = model.run_batch(params)
    for i in (0, 3):
        one = model.run({k: float(v[i]) for k, v in params.items()})
        for name in one.data_vars:
            np.testing.assert_allclose(batch[name].values[i], one[name].values, rtol=RTOL, atol=1e-12,
                                       err_msg=f"{path.name}: {name}, run {i}")


def test_unsupported_function_is_named_and_runs_fall_back(fixtures, caplog):
    model = sdcluster.load_model(fixtures / "unsupported.mdl", engine="pysd")
    assert not model.vectorisable
    assert any("DelayFixed" in r for r in model._engine.vector_blockers), model._engine.vector_blockers
    growth = np.array([0.05, 0.1, 0.2])
    with caplog.at_level(logging.INFO):
        batch = model.run_batch({"growth": growth}, outputs=["level"])
    assert "one by one" in caplog.text and "DelayFixed" in caplog.text
    for i, g in enumerate(growth):
        one = model.run({"growth": float(g)}, outputs=["level"])
        np.testing.assert_allclose(batch.level.values[i], one.level.values, rtol=RTOL)
    assert np.ptp(batch.level.values[:, -1]) > 1
