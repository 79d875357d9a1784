"""Life-cycle stage detection on synthetic curves whose stages are known by construction."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sdcluster import lifecycle as lc

T = np.arange(0.0, 101.0)


def series(v: np.ndarray, t: np.ndarray = T) -> xr.DataArray:
    return xr.DataArray(v, dims="time", coords={"time": t}, name="firms", attrs={"units": "firm"})


def five_stage_curve() -> np.ndarray:
    """Flat low level to 20, linear rise to 40, plateau to 60, fall to 80, rise to 100.

    Slopes are 4.9 %, 0, -3.5 % and +3.5 % of the peak per year, clear of the 2 % threshold."""
    return np.piecewise(
        T,
        [T < 20, (T >= 20) & (T < 40), (T >= 40) & (T < 60), (T >= 60) & (T < 80), T >= 80],
        [2.0, lambda x: 2 + 4.9 * (x - 20), 100.0, lambda x: 100 - 3.5 * (x - 60), lambda x: 30 + 3.5 * (x - 80)],
    )


def names(st):
    return [s.name for s in st]


def assert_contiguous(st, t0=0.0, t1=100.0):
    assert st[0].start == t0 and st[-1].end == t1
    for a, b in zip(st, st[1:]):
        assert a.end == b.start and a.name != b.name


def test_five_stages_found_near_their_constructed_boundaries():
    st = lc.stages(series(five_stage_curve()))
    assert names(st) == ["emergence", "growth", "maturity", "decline", "renewal"]
    assert_contiguous(st)
    boundaries = [s.start for s in st[1:]]
    # constructed at 20, 40, 60, 80; the smoothing window (5 years) shifts them by < 3.5
    assert np.allclose(boundaries, [20, 40, 60, 80], atol=3.5)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sd, smooth", [(2.0, None), (4.0, 10.0)])
def test_noise_does_not_create_extra_stages(seed, sd, smooth):
    rng = np.random.default_rng(seed)
    noisy = five_stage_curve() + rng.normal(0.0, sd, T.size)  # noise sd = 2 % / 4 % of the peak
    st = lc.stages(series(noisy), smooth=smooth, min_duration=None if smooth is None else 8)
    assert names(st) == ["emergence", "growth", "maturity", "decline", "renewal"]
    assert np.allclose([s.start for s in st[1:]], [20, 40, 60, 80], atol=5)


def test_logistic_growth_has_emergence_growth_maturity_with_computable_boundaries():
    k, r, n0 = 100.0, 0.2, 1.0
    v = k / (1 + (k / n0 - 1) * np.exp(-r * T))
    # no smoothing; a 1-year blip at the end of emergence (slope 1.8 %/yr < 2 %) is merged
    st = lc.stages(series(v), smooth=0, min_duration=3)
    assert names(st) == ["emergence", "growth", "maturity"]
    # growth is where the slope r p (1 - p) of p = level / K exceeds 2 % per year: p (1 - p) > 0.1,
    # between the roots p = (1 -/+ sqrt(0.6)) / 2; on the logistic, t = ln(99 p / (1 - p)) / r
    for p, stage in zip(((1 - np.sqrt(0.6)) / 2, (1 + np.sqrt(0.6)) / 2), st[1:]):
        assert stage.start == pytest.approx(np.log(99 * p / (1 - p)) / r, abs=1.0)


def test_rise_then_decline_without_renewal():
    v = 100 * np.exp(-(((T - 40) / 15) ** 2)) + 1
    st = lc.stages(series(v))
    # the flat top (|slope| < 2 %/yr for 4.5 years) is shorter than min_duration (10) and merged;
    # the tail settles below 2 %/yr at 1 % of the peak, back at its start: what formed did not last,
    # so it is "no cluster", not "maturity" (it was "maturity" before)
    assert names(st) == ["emergence", "growth", "decline", "no cluster"]
    assert st[2].start == pytest.approx(40, abs=4)


def test_collapse_below_a_quarter_of_the_peak_is_not_maturity():
    v = np.where(T < 50, 100.0 * (1 - np.exp(-T / 8)), 0.0)
    v = np.where(T >= 50, 100.0 * (1 - np.exp(-50 / 8)) * (0.2 + 0.8 * np.exp(-(T - 50) / 3)), v)
    st = lc.stages(series(v + 5))
    assert names(st)[-2:] == ["decline", "collapse"]  # ends at 25 of 105: collapsed, above its start (5)
    assert names(lc.stages(series(v + 5), collapse_fraction=0.1))[-1] == "maturity"


def test_starting_high_skips_emergence_and_regrowth_without_decline_is_growth():
    v = 50 + 0.5 * T  # slope 0.5 / peak 100 = 0.5 %/yr, below the 2 % threshold
    assert names(lc.stages(series(v))) == ["maturity"]
    v = 50 + 2.0 * np.clip(T - 50, 0, None)  # flat at 1/3 of the peak (150), then 2/150 = 1.3 %/yr
    assert names(lc.stages(series(v), growth_threshold=0.01)) == ["maturity", "growth"]
    assert names(lc.stages(series(v))) == ["maturity"]  # 1.3 %/yr is not growth at the default 2 %
    # a steady start below 25 % of the peak is emergence
    assert names(lc.stages(series(v), growth_threshold=0.01, emergence_level=0.4)) == ["emergence", "growth"]


def test_flat_and_zero_series_are_single_stages():
    assert lc.stages(series(np.zeros_like(T))) == [lc.Stage("emergence", 0.0, 100.0)]
    assert lc.stages(series(np.full_like(T, 7.0))) == [lc.Stage("maturity", 0.0, 100.0)]
    tiny_wiggle = 7.0 + 1e-4 * np.sin(T)
    assert names(lc.stages(series(tiny_wiggle))) == ["maturity"]


def test_works_on_negative_and_pandas_series():
    st = lc.stages(pd.Series(-five_stage_curve(), index=T, name="deficit"))
    # mirrored curve: the rise becomes a fall
    assert names(st)[:2] == ["emergence", "decline"]
    assert_contiguous(st)


def test_min_duration_merges_short_blips():
    v = five_stage_curve()
    coarse = lc.stages(series(v), min_duration=30, min_change=1.0)
    fine = lc.stages(series(v))
    assert len(coarse) < len(fine)
    assert len(coarse) == 1 or all(s.duration >= 30 for s in coarse)
    assert_contiguous(coarse)
    # with the default min_change, short intervals that move the level a lot are kept
    kept = lc.stages(series(v), min_duration=30)
    assert len(coarse) < len(kept) < len(fine)


def test_sudden_large_drop_is_a_decline_however_short():
    v = np.where(T < 50, 100.0, 60.0)  # a 40 % drop within one year, flat before and after
    st = lc.stages(series(v))
    assert names(st) == ["maturity", "decline", "maturity"]
    assert st[1].start == pytest.approx(50, abs=3) and st[1].duration < 8
    v = np.where((T >= 50) & (T < 52), 97.0, 100.0)  # a 3 % dip for two years is noise
    assert names(lc.stages(series(v))) == ["maturity"]


def test_uneven_time_steps():
    t = np.sort(np.concatenate([np.linspace(0, 100, 60), [33.3, 66.6]]))
    v = np.interp(t, T, five_stage_curve())
    assert names(lc.stages(series(v, t))) == ["emergence", "growth", "maturity", "decline", "renewal"]


def test_errors_are_clear():
    da2 = xr.DataArray(np.zeros((2, 5)), dims=("scenario", "time"), coords={"time": np.arange(5.0)}, name="x")
    with pytest.raises(lc.StageError, match="Select one scenario"):
        lc.stages(da2)
    with pytest.raises(lc.StageError, match="at least 3"):
        lc.stages(series(np.ones(2), np.arange(2.0)))
    with pytest.raises(lc.StageError, match="NaN"):
        lc.stages(series(np.where(T > 50, np.nan, 1.0)))


def test_by_scenario_table_and_stage_at():
    da = xr.DataArray(np.stack([five_stage_curve(), np.full_like(T, 3.0)]), dims=("scenario", "time"),
                      coords={"scenario": ["a", "b"], "time": T}, name="firms")
    m = lc.stages_by_scenario(da)
    # a flat series at 3 % of the other scenario's peak: nothing comparable formed
    assert names(m["b"]) == ["no cluster"] and len(m["a"]) == 5
    assert names(lc.stages_by_scenario(da, reference_level=None)["b"]) == ["maturity"]
    tab = lc.stage_table(m, "firms")
    assert list(tab.columns) == ["scenario", "variable", "stage", "start", "end", "duration"]
    assert tab.groupby("scenario")["duration"].sum().tolist() == [100.0, 100.0]
    assert lc.stage_at(m["a"], 50) == "maturity"
    assert lc.stage_at(m["a"], 0) == "emergence"
