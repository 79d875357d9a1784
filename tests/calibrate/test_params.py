"""Parameter names and bounds are validated before any run."""
from __future__ import annotations

import pytest

from sdcluster.calibrate import calibrate
from sdcluster.calibrate.evaluate import resolve_params
from sdcluster.errors import CalibrationError, ParameterError


def test_unknown_parameter_suggests(logistic):
    with pytest.raises(ParameterError, match="Did you mean 'growth rate'"):
        resolve_params(logistic, {"growth rat": (0.1, 1)})


def test_lower_not_below_upper(logistic):
    with pytest.raises(CalibrationError, match="lower bound 1 must be below upper bound 1"):
        resolve_params(logistic, {"growth rate": (1, 1)})


def test_bounds_outside_declared_range(logistic):
    with pytest.raises(CalibrationError, match=r"outside the declared range \[0, 2\]"):
        resolve_params(logistic, {"growth rate": (0.1, 3)})


def test_initial_guess_outside_bounds(logistic):
    with pytest.raises(CalibrationError, match="initial guess 5 is outside"):
        resolve_params(logistic, {"growth rate": (0.1, 1, 5)})


def test_bounds_must_be_numbers(logistic):
    with pytest.raises(CalibrationError, match="finite numbers"):
        resolve_params(logistic, {"growth rate": ("a", 1)})


def test_stock_name_means_its_initial_value_constant(logistic):
    (spec,) = resolve_params(logistic, {"firms": (1, 20)})
    assert spec.py_name == "initial_firms"


def test_auxiliary_cannot_be_calibrated(logistic):
    with pytest.raises(ParameterError, match="not a constant"):
        resolve_params(logistic, {"entry": (0, 1)})


def test_default_initial_guess_is_model_value_when_inside(logistic):
    (spec,) = resolve_params(logistic, {"growth rate": (0.1, 1)})
    assert spec.x0 == pytest.approx(0.4)
    (spec,) = resolve_params(logistic, {"growth rate": (0.5, 1)})
    assert spec.x0 == pytest.approx(0.75)


def test_bad_method_and_payoff(logistic, obs_csv):
    with pytest.raises(CalibrationError, match="unknown method"):
        calibrate(logistic, obs_csv, {"growth rate": (0.1, 1)}, time_offset=1980, method="anneal", progress=False)
    with pytest.raises(CalibrationError, match="unknown payoff"):
        calibrate(logistic, obs_csv, {"growth rate": (0.1, 1)}, time_offset=1980, payoff="l1", progress=False)


def test_dict_spec_with_prior_range(logistic):
    (spec,) = resolve_params(logistic, {"growth rate": {"bounds": (0.1, 1.5), "initial": 0.3, "prior": (0.2, 0.6)}})
    assert (spec.lo, spec.hi, spec.x0, spec.prior) == (0.1, 1.5, 0.3, (0.2, 0.6))
    with pytest.raises(CalibrationError, match="prior range"):
        resolve_params(logistic, {"growth rate": {"bounds": (0.1, 1.5), "prior": (0.05, 0.6)}})
    with pytest.raises(CalibrationError, match="needs 'bounds'"):
        resolve_params(logistic, {"growth rate": {"range": (0.1, 1.5)}})


def test_prior_range_confines_starts(logistic, obs_csv):
    res = calibrate(logistic, obs_csv, {"growth rate": {"bounds": (0.05, 1.5), "prior": (0.3, 0.4)},
                                        "carrying capacity": (50, 1000)},
                    fixed={"initial firms": 4.0}, time_offset=1980, n_starts=4, seed=2, progress=False)
    starts = [s["start"][0] for s in res.starts]
    assert all(0.3 <= g <= 0.4 for g in starts[1:])
    assert res.values["growth rate"] == pytest.approx(0.5, rel=0.1)
