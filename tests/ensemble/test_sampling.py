"""Distributions, Latin hypercube sampling, the --uncertain file format and its errors."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sdcluster.errors import ParameterError
from sdcluster.uncertainty.sampling import (LogNormal, Normal, Triangular, TruncatedNormal, Uncertain, Uniform,
                                distribution_from_dict, load_uncertain, unit_sample)


def test_lhs_has_one_point_per_stratum_and_is_reproducible():
    u = unit_sample(50, 3, "lhs", seed=4)
    for j in range(3):
        assert sorted(np.floor(u[:, j] * 50).astype(int)) == list(range(50))
    np.testing.assert_array_equal(u, unit_sample(50, 3, "lhs", seed=4))
    assert not np.array_equal(u, unit_sample(50, 3, "lhs", seed=5))
    r = unit_sample(50, 3, "random", seed=4)
    assert ((r > 0) & (r < 1)).all() and not np.array_equal(r, u)


@pytest.mark.parametrize("dist, frozen", [
    (Uniform(2, 5), stats.uniform(2, 3)),
    (Normal(10, 2), stats.norm(10, 2)),
    (TruncatedNormal(1, 2, 0, 3), stats.truncnorm(-0.5, 1.0, loc=1, scale=2)),
    (Triangular(0, 1, 4), stats.triang(0.25, loc=0, scale=4)),
    (LogNormal(0.5, 0.3), stats.lognorm(0.3, scale=np.exp(0.5))),
])
def test_samples_follow_the_declared_distribution(dist, frozen):
    s = Uncertain({"x": dist, "y": Uniform(0, 1)}, seed=1).sample(4000)["x"]
    assert stats.kstest(s, frozen.cdf).pvalue > 0.2
    assert abs(s.mean() - frozen.mean()) < 0.02 * max(1.0, frozen.std())
    lo, hi = frozen.support()
    assert s.min() >= lo and s.max() <= hi


def test_yaml_file_round_trip(fixtures):
    u = load_uncertain(fixtures / "uncertain.yaml")
    assert u.method == "lhs" and u.seed == 7 and u.runs == 200
    assert isinstance(u.distributions["threshold"], TruncatedNormal)
    s = u.sample()
    assert s.n == 200 and set(s) == {"growth rate", "initial a", "threshold", "smoothing time"}
    assert s.meta["seed"] == 7
    again = Uncertain(u.to_dict()["parameters"], seed=7).sample(200)
    np.testing.assert_array_equal(again["threshold"], s["threshold"])


@pytest.mark.parametrize("spec, match", [
    ({"distribution": "unifrom", "low": 0, "high": 1}, r"unknown distribution 'unifrom'.*Did you mean 'uniform'"),
    ({"distribution": "normal", "mean": 1, "sd": -0.5}, r"params.yaml: parameters.x: sd = -0.5 must be positive"),
    ({"distribution": "uniform", "low": 3, "high": 3}, r"low = 3 must be below high = 3"),
    ({"distribution": "uniform", "low": 5, "high": 1}, r"low = 5 must be below high = 1"),
    ({"distribution": "truncnormal", "mean": 1, "sd": 1, "low": 2, "high": 0}, r"low = 2 must be below high"),
    ({"distribution": "triangular", "low": 0, "mode": 5, "high": 4}, r"mode = 5 must lie between"),
    ({"distribution": "lognormal", "mu": 0, "sigma": 0}, r"sigma = 0 must be positive"),
    ({"distribution": "normal", "mean": 1}, r"needs mean, sd; missing sd"),
    ({"distribution": "normal", "mean": 1, "sd": 1, "sdd": 2}, r"unknown field 'sdd'"),
    ({"distribution": "normal", "mean": "abc", "sd": 1}, r"parameters.x.mean: mean = 'abc' is not a finite number"),
    ({"low": 0, "high": 1}, r"missing 'distribution'"),
])
def test_invalid_distributions_name_file_field_and_value(spec, match):
    with pytest.raises(ParameterError, match=match):
        distribution_from_dict(spec, "params.yaml: parameters.x")


@pytest.mark.parametrize("runs", [0, -5, 2.5, True])
def test_runs_must_be_positive_whole_numbers(runs):
    with pytest.raises(ParameterError, match="runs"):
        Uncertain({"x": Uniform(0, 1)}).sample(runs)


def test_file_errors(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("parameters:\n  a: {distribution: gamma, k: 2}\n")
    with pytest.raises(ParameterError, match=r"p.yaml: parameters.a.distribution: unknown distribution 'gamma'"):
        load_uncertain(bad)
    bad.write_text("metod: lhs\nparameters:\n  a: {distribution: uniform, low: 0, high: 1}\n")
    with pytest.raises(ParameterError, match=r"unknown field 'metod'.*'method'"):
        load_uncertain(bad)
    bad.write_text("method: sobol\nparameters:\n  a: {distribution: uniform, low: 0, high: 1}\n")
    with pytest.raises(ParameterError, match=r"method: 'sobol' is unknown"):
        load_uncertain(bad)
    bad.write_text("runs: 0\nparameters:\n  a: {distribution: uniform, low: 0, high: 1}\n")
    with pytest.raises(ParameterError, match=r"p.yaml: runs = 0"):
        load_uncertain(bad)
    bad.write_text("parameters: [a, b]\n")
    with pytest.raises(ParameterError, match="parameters: expected a mapping"):
        load_uncertain(bad)
    bad.write_text("parameters:\n  a: {distribution: uniform, low: 0, high: 1\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_uncertain(bad)
    with pytest.raises(ParameterError, match="not found"):
        load_uncertain(tmp_path / "missing.yaml")


def test_unknown_parameter_is_named_with_suggestion(functions_model):
    u = Uncertain({"growth rat": Uniform(0.1, 0.2)}, source="params.yaml")
    with pytest.raises(ParameterError, match=r"params.yaml: parameters.growth rat: .*Did you mean 'growth rate'"):
        u.validate(functions_model)
    assert Uncertain({"growth rate": Uniform(0.1, 0.2)}).validate(functions_model) == {"growth rate": "growth_rate"}
