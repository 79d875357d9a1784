"""The payoff formulas agree with SciPy's distributions and the documented definitions."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sdcluster.calibrate.data import Observations, Series
from sdcluster.calibrate.payoff import ALPHA_GRID, Payoff

Y1 = np.array([3.0, 10.0, 25.0, 40.0, 44.0])
Y2 = np.array([100.0, 180.0, 260.0])
M1 = np.array([4.0, 9.0, 27.0, 38.0, 45.0])
M2 = np.array([110.0, 170.0, 250.0])


def obs(w1=1.0, sigma1=None):
    return Observations([Series("a", "a", np.arange(5.0), Y1, w1, sigma1), Series("b", "b", np.arange(3.0), Y2)])


def test_wss_is_normalised_per_series():
    p = Payoff("wss", obs(w1=2.0))
    expected = 2.0 / 5 * np.sum(((Y1 - M1) / np.mean(Y1)) ** 2) + 1 / 3 * np.sum(((Y2 - M2) / np.mean(Y2)) ** 2)
    assert p.value([M1[None], M2[None]])[0] == pytest.approx(expected)
    r = p.residuals([M1, M2], p.nuisance([M1, M2]))
    assert np.sum(r ** 2) == pytest.approx(expected)


def test_gaussian_profiled_and_known_sigma():
    p = Payoff("gaussian", obs())
    sig = [np.sqrt(np.mean((Y1 - M1) ** 2)), np.sqrt(np.mean((Y2 - M2) ** 2))]
    expected = -(stats.norm.logpdf(Y1, M1, sig[0]).sum() + stats.norm.logpdf(Y2, M2, sig[1]).sum())
    assert p.value([M1[None], M2[None]])[0] == pytest.approx(expected)
    assert p.nuisance([M1, M2]) == pytest.approx(sig)
    known = Payoff("gaussian", obs(sigma1=1.5))
    expected_a = -stats.norm.logpdf(Y1, M1, 1.5).sum()
    assert known.value([M1[None], M2[None]])[0] == pytest.approx(expected_a - stats.norm.logpdf(Y2, M2, sig[1]).sum())


def test_poisson_and_deviance_residuals():
    p = Payoff("poisson", obs())
    expected = -(stats.poisson.logpmf(Y1, M1).sum() + stats.poisson.logpmf(Y2, M2).sum())
    assert p.value([M1[None], M2[None]])[0] == pytest.approx(expected)
    sat = -(stats.poisson.logpmf(Y1, Y1).sum() + stats.poisson.logpmf(Y2, Y2).sum())
    r = p.residuals([M1, M2], p.nuisance([M1, M2]))
    assert np.sum(r ** 2) == pytest.approx(2 * (expected - sat))
    assert p.value([np.where(np.arange(5) == 2, -1.0, M1)[None], M2[None]])[0] == np.inf


def test_negative_binomial_profiles_dispersion():
    p = Payoff("negbin", obs())
    def nll(y, m, a):
        return -stats.nbinom.logpmf(y, 1 / a, 1 / (1 + a * m)).sum()
    expected = min(nll(Y1, M1, a) for a in ALPHA_GRID) + min(nll(Y2, M2, a) for a in ALPHA_GRID)
    assert p.value([M1[None], M2[None]])[0] == pytest.approx(expected, rel=1e-9)


def test_bad_points_score_infinity():
    p = Payoff("wss", obs())
    bad = np.vstack([M1, np.where(np.arange(5) == 1, np.nan, M1)])
    vals = p.value([bad, np.vstack([M2, M2])])
    assert np.isfinite(vals[0]) and vals[1] == np.inf
