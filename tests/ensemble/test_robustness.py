"""Percentile bands, KPI values per run, P(A beats B), share ranked first."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sdcluster.analysis.compare import evaluate_kpi
from sdcluster.errors import SdclusterError
from sdcluster.uncertainty.robustness import (beat_probability, kpi_samples, percentile_bands, robustness_table,
                                  share_first)


def make_ensemble(n: int = 400, seed: int = 0) -> xr.Dataset:
    """Three scenarios; 'fast' beats 'base' in every run, 'risky' beats 'fast' only when g > 0.75."""
    rng = np.random.default_rng(seed)
    g = rng.random(n)
    t = np.arange(0.0, 11.0)
    base = 10 + np.outer(g, t)
    fast = base + 1.0
    risky = 10 + np.outer(2 * g - 0.5, t)
    ds = xr.Dataset(
        {"firms": (("scenario", "run", "time"), np.stack([base, fast, risky]),
                   {"units": "firm", "long_name": "firms"}),
         "cumulative_public_cost": (("scenario", "run", "time"),
                                    np.stack([0 * base, 0 * base + t, 0 * base + 2 * t]), {"units": "EUR"})},
        coords={"scenario": ["base", "fast", "risky"], "run": np.arange(n),
                "time": ("time", t, {"units": "Year"})})
    ds["failed"] = (("scenario", "run"), np.zeros((3, n), dtype=bool))
    return ds, g


def test_percentile_bands_match_numpy():
    ds, _ = make_ensemble()
    bands = percentile_bands(ds, ["firms"], percentiles=[5, 50, 95])
    assert bands.firms.dims == ("percentile", "scenario", "time")
    np.testing.assert_allclose(bands.firms.sel(percentile=50, scenario="fast").values,
                               np.median(ds.firms.sel(scenario="fast").values, axis=0))
    assert bands.firms.attrs["units"] == "firm" and bands.attrs["valid_runs"] == 400
    with pytest.raises(SdclusterError, match="percentiles must lie in"):
        percentile_bands(ds, ["firms"], percentiles=[120])


def test_failed_runs_are_left_out():
    ds, _ = make_ensemble(10)
    ds["firms"][1, 3, 5] = np.nan
    ds["failed"][1, 3] = True
    bands = percentile_bands(ds, ["firms"])
    assert bands.attrs["valid_runs"] == 9 and np.isfinite(bands.firms.values).all()
    k = kpi_samples(ds, ["firms@10"])
    assert robustness_table(k)["valid_runs"].tolist() == [9, 9, 9]


def test_kpi_samples_equal_compare_run_by_run():
    ds, _ = make_ensemble(12)
    k = kpi_samples(ds, ["firms@7.5", "firms:cum[2,8]", "firms:t>=40", "firms@10/cost"], baseline="base")
    for r in (0, 5, 11):
        one = ds.isel(run=r)
        for label in ("firms@7.5", "firms:cum[2,8]", "firms:t>=40"):
            np.testing.assert_allclose(k[label].isel(run=r).values, evaluate_kpi(one, label).values)
        np.testing.assert_allclose(k["firms@10/cost"].isel(run=r).values,
                                   evaluate_kpi(one, "firms@10/cost", baseline="base").values)
    assert k["firms@7.5"].attrs["units"] == "firm"


def test_beat_probability_and_share_first():
    ds, g = make_ensemble()
    k = kpi_samples(ds, ["firms@10"])
    p = beat_probability(k, "firms@10")
    assert p.loc["fast", "base"] == 1.0 and p.loc["base", "fast"] == 0.0
    # risky (10 + (2g - 0.5) t) beats fast (11 + g t) at t = 10 when 10 g - 5 > 1, i.e. g > 0.6
    assert p.loc["risky", "fast"] == pytest.approx(np.mean(g > 0.6))
    assert p.loc["fast", "risky"] + p.loc["risky", "fast"] == pytest.approx(1.0)
    share = share_first(k, "firms@10")
    assert share.sum() == pytest.approx(1.0)
    assert share["base"] == 0 and share["risky"] == pytest.approx(np.mean(g > 0.6))
    # lower is better: reverses the ranking
    low = kpi_samples(ds, ["min:firms@10"])
    assert beat_probability(low, "min:firms@10").loc["base", "fast"] == 1.0


def test_ties_split_first_place():
    ds, _ = make_ensemble(20)
    ds["firms"][1] = ds["firms"][0]  # fast identical to base
    ds["firms"][2] = ds["firms"][0] - 1
    k = kpi_samples(ds, ["firms@10"])
    share = share_first(k, "firms@10")
    assert share["base"] == pytest.approx(0.5) and share["fast"] == pytest.approx(0.5) and share["risky"] == 0
    p = beat_probability(k, "firms@10")
    assert p.loc["base", "fast"] == 0 and p.loc["fast", "base"] == 0


def test_nan_kpi_counts_as_worst():
    ds, _ = make_ensemble(50)
    k = kpi_samples(ds, ["firms:t>=30"])  # earlier is better; base never reaches 30 when g < 2
    table = robustness_table(k)
    assert (table["nan_runs"] > 0).any()
    assert share_first(k, "firms:t>=30").sum() == pytest.approx(1.0)


def test_costs_rank_lower_is_better_in_ensembles_as_in_compare():
    """The ensemble's default KPIs ('VAR@end') used to rank the most expensive scenario first on cost."""
    ds, _ = make_ensemble(50)
    k = kpi_samples(ds, ["cumulative_public_cost@end", "firms@end"])
    assert k["cumulative_public_cost@end"].attrs["better"] == "lower"
    assert share_first(k, "cumulative_public_cost@end")["base"] == 1.0  # 'base' spends nothing
    assert beat_probability(k, "cumulative_public_cost@end").loc["fast", "risky"] == 1.0
