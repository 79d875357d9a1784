"""Sobol and Morris indices through SALib on the function test model."""
from __future__ import annotations

import numpy as np
import pytest

from sdcluster.errors import ParameterError
from sdcluster.uncertainty.sampling import load_uncertain
from sdcluster.uncertainty.sensitivity import ranked, sensitivity


@pytest.fixture(scope="module")
def uncertain(fixtures):
    return load_uncertain(fixtures / "uncertain.yaml")


def test_sobol_finds_the_driving_and_the_inert_parameter(functions_model, uncertain):
    # smoothing time only feeds SMOOTH outputs that do not act on stock a: its indices must be 0
    table = sensitivity(functions_model, uncertain, ["stock_a@40", "shape@20"], method="sobol", n=256,
                        outputs=["stock a", "shape"])
    assert table.attrs["runs"] == 256 * (4 + 2)
    st = table[table.kpi == "stock_a@40"].set_index("parameter")["ST"]
    assert st["smoothing time"] == pytest.approx(0.0, abs=1e-12)
    assert st.idxmax() == "threshold" and st["threshold"] > 0.5
    sm = table[table.kpi == "shape@20"].set_index("parameter")["ST"]
    assert sm["smoothing time"] > 0.05  # |SMOOTH - SMOOTH3| does depend on the smoothing time
    assert ranked(table, "stock_a@40")["parameter"].iloc[0] == "threshold"


def test_morris_ranks_like_sobol(functions_model, uncertain):
    table = sensitivity(functions_model, uncertain, ["stock_a@40"], method="morris", n=20,
                        outputs=["stock a"])
    assert table.attrs["runs"] == 20 * (4 + 1)
    mu = table.set_index("parameter")["mu_star"]
    assert mu["smoothing time"] == 0 and mu.idxmax() == "threshold"
    assert np.all(np.isfinite(mu.values))


def test_bad_sensitivity_input(functions_model, uncertain):
    with pytest.raises(ParameterError, match="'sobl' is unknown.*Did you mean 'sobol'"):
        sensitivity(functions_model, uncertain, ["stock_a@40"], method="sobl")
    with pytest.raises(ParameterError, match="power of 2"):
        sensitivity(functions_model, uncertain, ["stock_a@40"], n=100)
    with pytest.raises(ParameterError, match="at least one KPI"):
        sensitivity(functions_model, uncertain, [])
    with pytest.raises(ParameterError, match="even number of levels"):
        sensitivity(functions_model, uncertain, ["stock_a@40"], method="morris", n=4, levels=3)
