"""NumPy lookups give PySD's own values (Vensim hold, XMILE extrapolate/discrete, subscripted)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import sdcluster
from sdcluster.core.fastlookup import FastLookup

# Arguments below, on and between the table points, and beyond both ends.
GRID = np.concatenate([np.linspace(-3, 7, 211), [0.0, 1.0, 2.5, 5.0, 4.0, 2.0]])


def _call_all(module, func_name, xs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [getattr(module, func_name)(float(x)) for x in xs]


@pytest.mark.parametrize("fixture, functions", [
    ("lookup_modes.xmile", ["g_continuous", "g_extrapolate", "g_discrete"]),
    ("small_cluster.mdl", ["effect_of_size_on_entry", "effect_of_crowding_on_exit"]),
    ("small_cluster.xmile", ["effect_of_size_on_entry", "effect_of_crowding_on_exit"]),
    ("subscripted_lookup.mdl", ["plain_table", "regional_effect"]),
])
def test_lookup_values_equal_pysd(fixtures, pure_pysd, fixture, functions):
    ours = sdcluster.load_model(fixtures / fixture)
    ref = pure_pysd(fixture)
    ours_mod = ours.pysd.components._components
    ref_mod = ref.components._components
    for name in functions:
        lookup_obj = vars(ours_mod)["_hardcodedlookup_" + name]
        assert isinstance(lookup_obj, FastLookup), f"{name} is not served by FastLookup"
        got = _call_all(ours_mod, name, GRID)
        want = _call_all(ref_mod, name, GRID)
        for x, g, w in zip(GRID, got, want):
            if isinstance(w, xr.DataArray):
                assert isinstance(g, xr.DataArray) and g.dims == w.dims
                np.testing.assert_allclose(g.values, w.values, rtol=1e-12, atol=1e-12, err_msg=f"{name}({x})")
            else:
                assert abs(g - w) <= 1e-12 * max(1.0, abs(w)), f"{name}({x}): {g} != {w}"


def test_lookup_modes_trajectories_equal_pysd(fixtures, pure_pysd):
    ours = sdcluster.load_model(fixtures / "lookup_modes.xmile").run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pure_pysd("lookup_modes.xmile").run(return_columns=list(ours.data_vars))
    for name in ours.data_vars:
        np.testing.assert_allclose(ours[name].values, ref[name].values, rtol=1e-12, atol=1e-12)
    # the semantics really differ where they should: beyond the table's top end
    last = ours.isel(time=-1)
    assert float(last.x) > 5
    assert float(last.y_continuous) == 6.0  # held
    assert float(last.y_extrapolate) > 6.0  # extended along the last segment
    assert float(last.y_discrete) == 6.0


def test_vectorised_lookup_matches_scalar_calls(fixtures):
    module = sdcluster.load_model(fixtures / "lookup_modes.xmile").pysd.components._components
    for name in ("g_continuous", "g_extrapolate", "g_discrete"):
        vector = getattr(module, name)(GRID)
        scalar = np.array(_call_all(module, name, GRID))
        np.testing.assert_array_equal(vector, scalar)
