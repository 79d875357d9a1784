"""Robustness measures on small hand-checked arrays."""
from __future__ import annotations

import numpy as np
import pytest

from sdcluster.analysis.compare import parse_kpi
from sdcluster.design.robust import robust_value, to_minimise
from sdcluster.design.space import Objective, Robustness

V = np.array([[1.0, 5.0, 3.0, 7.0], [2.0, 2.0, 2.0, 2.0]])
REF = np.array([2.0, 2.0, 2.0, 2.0])
BEST = np.array([4.0, 4.0, 1.0, 9.0])


def obj(kpi: str, **rob) -> Objective:
    return Objective(parse_kpi(kpi), Robustness(**rob))


def test_mean_and_percentile():
    np.testing.assert_allclose(robust_value(obj("x@end", measure="mean"), V, REF, BEST), [4.0, 2.0])
    np.testing.assert_allclose(robust_value(obj("x@end", measure="percentile", q=0), V, REF, BEST), [1.0, 2.0])
    np.testing.assert_allclose(robust_value(obj("x@end", measure="percentile", q=100), V, REF, BEST), [7.0, 2.0])


def test_regret_is_the_largest_shortfall_from_the_best_alternative():
    np.testing.assert_allclose(robust_value(obj("x@end", measure="regret"), V, REF, BEST), [3.0, 7.0])
    # lower-is-better KPI: shortfall is being above the best (lowest) alternative
    np.testing.assert_allclose(robust_value(obj("min:x@end", measure="regret"), V, REF, BEST), [2.0, 1.0])


def test_satisficing_share_against_reference_and_number():
    np.testing.assert_allclose(robust_value(obj("x@end", measure="satisficing", threshold="reference"), V, REF, BEST),
                               [0.75, 0.0])
    np.testing.assert_allclose(robust_value(obj("min:x@end", measure="satisficing", threshold=4.0), V, REF, BEST),
                               [0.5, 1.0])


def test_failed_member_is_worst():
    v = V.copy()
    v[0, 1] = np.nan
    assert np.isnan(robust_value(obj("x@end", measure="mean"), v, REF, BEST)[0])
    assert to_minimise(obj("x@end", measure="mean"), np.array([np.nan]))[0] == pytest.approx(1e300)
    assert robust_value(obj("x@end", measure="satisficing", threshold="reference"), v, REF, BEST)[0] == 0.5
