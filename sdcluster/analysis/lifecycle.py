"""Life-cycle stages of a trajectory: emergence, growth, maturity, decline, renewal, collapse, no cluster.

:func:`stages` classifies any 1-D time series (firms, employment, value
added, trust, ...) into contiguous stage intervals with these rules:

1. **Smoothing.** The series is smoothed with a centred moving average whose
   width is ``smooth`` time units (default: 4 % of the simulated period, at
   least 2 saved intervals); near the ends the window is cut at the period's
   ends (one-sided average).
2. **Scale.** ``L`` = the largest absolute smoothed value. A series whose
   smoothed range is at most ``flat_tol * L`` (default 1 %) is *flat*: it forms
   a single stage, ``maturity`` when ``L > 0`` and ``emergence`` when it is
   zero throughout.
3. **Growth rate.** ``g(t) = (ds/dt) / L``, the slope of the smoothed series
   as a fraction of its largest level per time unit (a scale-free rate that
   stays finite near zero).
4. **Point labels.** With ``G = growth_threshold`` (default 0.02, i.e. 2 %
   of the peak level per time unit), in this order:

   - ``decline``: ``g < -G``;
   - ``growth``: ``g > G`` before any decline; ``renewal``: ``g > G`` after a decline;
   - ``emergence``: ``|g| <= G`` at the start, before any growth or decline,
     while the level is below ``emergence_level * L`` (default 25 %);
   - ``maturity``: every other steady point (``|g| <= G``).
5. **Intervals.** Consecutive equal labels form intervals. An interval
   shorter than ``min_duration`` time units (default: 2 x the smoothing
   width) whose smoothed level changes by less than ``min_change * L``
   (default 10 %) is merged into its longer neighbour, shortest first, so
   noise does not create flickering stages while a sudden large drop still
   counts as a decline. ``renewal`` is re-labelled ``growth`` when no
   ``decline`` interval precedes it after merging.

6. **No cluster, collapse.** Given a ``reference_level`` (for
   :func:`stages_by_scenario`: the largest value of any scenario), a series
   whose peak stays below ``no_cluster_fraction * reference_level`` (default
   5 %) is ``no cluster`` over the whole period: nothing formed that compares
   with the others. When the series ends below
   ``collapse_fraction * peak`` (default 25 %), its last stage, if
   ``maturity`` or ``decline``, becomes ``no cluster`` when the final level is
   at or below the starting level (what formed did not last), else
   ``collapse``: a dead or collapsed cluster is never called mature.

Intervals are contiguous and cover the whole period: each stage runs from
its ``start`` to the next stage's ``start``; the last one ends at the final
time.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import SdclusterError

#: Stage names, in their usual order.
STAGES = ("emergence", "growth", "maturity", "decline", "renewal", "collapse", "no cluster")


class StageError(SdclusterError):
    """A series cannot be classified into life-cycle stages."""


@dataclasses.dataclass(frozen=True)
class Stage:
    """One life-cycle stage interval ``[start, end]`` in model time units."""

    name: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Length of the interval in time units."""
        return self.end - self.start


def _smooth(times: np.ndarray, v: np.ndarray, width: float) -> np.ndarray:
    """Moving average over ``[t - width/2, t + width/2]``, truncated at the ends of the period."""
    if width <= 0:
        return v.copy()
    half = width / 2.0
    lo = np.searchsorted(times, times - half - 1e-12, side="left")
    hi = np.searchsorted(times, times + half + 1e-12, side="right")
    csum = np.concatenate([[0.0], np.cumsum(v)])
    return (csum[hi] - csum[lo]) / (hi - lo)


def _label_points(s: np.ndarray, g: np.ndarray, scale: float, G: float, emergence_level: float) -> list[str]:
    labels: list[str] = []
    emerged = False
    declined = False
    for level, rate in zip(s, g):
        if rate < -G:
            lab = "decline"
            declined = emerged = True
        elif rate > G:
            lab = "renewal" if declined else "growth"
            emerged = True
        elif not emerged and level < emergence_level * scale:
            lab = "emergence"
        else:
            lab = "maturity"
            emerged = True
        labels.append(lab)
    return labels


def _runs(times: np.ndarray, labels: Sequence[str]) -> list[list]:
    """[name, i_start, i_end_exclusive] runs of equal labels."""
    runs: list[list] = []
    for i, lab in enumerate(labels):
        if runs and runs[-1][0] == lab:
            runs[-1][2] = i + 1
        else:
            runs.append([lab, i, i + 1])
    return runs


def _span(times: np.ndarray, run: list) -> float:
    end = times[run[2]] if run[2] < times.size else times[-1]
    return float(end - times[run[1]])


def _merge_short(times: np.ndarray, s: np.ndarray, runs: list[list], min_duration: float,
                 min_change: float) -> list[list]:
    """Merge runs shorter than *min_duration* whose level changes by less than *min_change*
    into their longer neighbour, shortest first."""
    runs = [list(r) for r in runs]

    def change(r: list) -> float:
        end = min(r[2], s.size - 1)
        return abs(float(s[end] - s[r[1]]))

    while len(runs) > 1:
        spans = [_span(times, r) if change(r) < min_change else np.inf for r in runs]
        i = int(np.argmin(spans))
        if spans[i] >= min_duration:
            break
        # merge into the longer neighbour
        if i == 0:
            j = 1
        elif i == len(runs) - 1:
            j = i - 1
        else:
            j = i - 1 if _span(times, runs[i - 1]) >= _span(times, runs[i + 1]) else i + 1
        a, b = sorted((i, j))
        name = runs[j][0]
        runs[a:b + 1] = [[name, runs[a][1], runs[b][2]]]
        # neighbours with the same name join
        k = 0
        while k < len(runs) - 1:
            if runs[k][0] == runs[k + 1][0]:
                runs[k:k + 2] = [[runs[k][0], runs[k][1], runs[k + 1][2]]]
            else:
                k += 1
    return runs


def _as_series(series: xr.DataArray | pd.Series) -> tuple[np.ndarray, np.ndarray, str]:
    if isinstance(series, pd.Series):
        return np.asarray(series.index, dtype=float), np.asarray(series.values, dtype=float), str(series.name)
    if not isinstance(series, xr.DataArray):
        raise StageError(f"stages() needs an xarray.DataArray or pandas.Series, got {type(series).__name__}")
    name = str(series.name)
    if series.ndim != 1 or "time" not in series.dims:
        raise StageError(
            f"stages() needs a 1-D series over 'time'; {name!r} has dims {series.dims}. "
            "Select one scenario first, e.g. ds['firms'].sel(scenario='baseline'), or use stages_by_scenario()."
        )
    return np.asarray(series["time"].values, dtype=float), np.asarray(series.values, dtype=float), name


def stages(
    series: xr.DataArray | pd.Series,
    *,
    smooth: float | None = None,
    growth_threshold: float = 0.02,
    emergence_level: float = 0.25,
    min_duration: float | None = None,
    flat_tol: float = 0.01,
    min_change: float = 0.10,
    collapse_fraction: float = 0.25,
    reference_level: float | None = None,
    no_cluster_fraction: float = 0.05,
) -> list[Stage]:
    """Classify a trajectory into life-cycle stage intervals.

    Parameters
    ----------
    series
        1-D DataArray over ``time`` (or a pandas Series indexed by time).
    smooth
        Width of the centred moving average in time units (default 4 % of the
        period, at least 2 saved intervals; 0 disables smoothing).
    growth_threshold
        ``G``: growth (decline) when the smoothed slope exceeds ``+G`` (is below
        ``-G``) times the peak level per time unit.
    emergence_level
        A slow or steady start below this fraction of the peak is emergence.
    min_duration
        Shorter intervals are merged into a neighbour (default: twice *smooth*) ...
    min_change
        ... unless the level changes by at least this fraction of the peak within them
        (a sudden drop is a decline however short).
    flat_tol
        A series whose smoothed range is within ``flat_tol`` of its peak is one stage.
    collapse_fraction
        A series ending below this fraction of its peak ends in ``collapse`` (or ``no
        cluster`` when it ends at or below its start) instead of ``maturity``/``decline``.
    reference_level, no_cluster_fraction
        A series whose peak stays below ``no_cluster_fraction * reference_level`` is
        ``no cluster`` throughout (no check without a *reference_level*).

    Returns
    -------
    list of Stage
        Contiguous intervals covering the whole period, in time order.

    Raises
    ------
    StageError
        If the series is not 1-D over time, has fewer than 3 points, or holds NaN/inf.
    """
    times, v, name = _as_series(series)
    if times.size < 3:
        raise StageError(f"series {name!r} has {times.size} time point(s); stages need at least 3")
    if not np.all(np.isfinite(v)):
        raise StageError(f"series {name!r} holds NaN or infinite values; stages need finite values")
    if np.any(np.diff(times) <= 0):
        raise StageError(f"series {name!r}: time values must be strictly increasing")
    span = float(times[-1] - times[0])
    step = float(np.median(np.diff(times)))
    if smooth is None:
        smooth = max(0.04 * span, 2 * step)
    if min_duration is None:
        min_duration = 2 * smooth
    s = _smooth(times, v, smooth)
    scale = float(np.max(np.abs(s)))
    t0, t1 = float(times[0]), float(times[-1])
    if scale == 0.0:
        return [Stage("emergence", t0, t1)]
    if reference_level is not None and float(np.max(np.abs(v))) < no_cluster_fraction * abs(reference_level):
        return [Stage("no cluster", t0, t1)]
    if float(np.ptp(s)) <= flat_tol * scale:
        return [Stage("maturity", t0, t1)]
    g = np.gradient(s, times) / scale
    labels = _label_points(s, g, scale, growth_threshold, emergence_level)
    runs = _merge_short(times, s, _runs(times, labels), min_duration, min_change * scale)
    seen_decline = False
    out: list[Stage] = []
    for k, (lab, i0, i1) in enumerate(runs):
        if lab == "renewal" and not seen_decline:
            lab = "growth"
        seen_decline |= lab == "decline"
        start = float(times[i0])
        end = float(times[runs[k + 1][1]]) if k + 1 < len(runs) else t1
        if out and out[-1].name == lab:
            out[-1] = Stage(lab, out[-1].start, end)
        else:
            out.append(Stage(lab, start, end))
    peak, final = float(np.max(v)), float(v[-1])
    if final < collapse_fraction * peak and out[-1].name in ("maturity", "decline"):
        last = "no cluster" if final <= float(v[0]) else "collapse"
        out[-1] = Stage(last, out[-1].start, out[-1].end)
        if len(out) > 1 and out[-2].name == last:
            out[-2:] = [Stage(last, out[-2].start, out[-1].end)]
    return out


def stage_at(stage_list: Sequence[Stage], t: float) -> str:
    """Name of the stage containing time *t* (the later stage at a boundary)."""
    for st in reversed(stage_list):
        if st.start <= t:
            return st.name
    raise StageError(f"time {t} is before the first stage ({stage_list[0].start if stage_list else 'none'})")


def stages_by_scenario(da: xr.DataArray, **kwargs) -> dict[str, list[Stage]]:
    """Apply :func:`stages` to each scenario of a ``(scenario, time)`` DataArray.

    Keyword arguments are passed to :func:`stages`; ``reference_level`` defaults to the
    largest absolute value of any scenario, so a scenario in which nothing comparable
    forms is ``no cluster``.
    """
    if "scenario" not in da.dims:
        return {str(da.name): stages(da, **kwargs)}
    if "reference_level" not in kwargs:
        finite = np.abs(np.asarray(da.values, dtype=float))
        finite = finite[np.isfinite(finite)]
        kwargs["reference_level"] = float(finite.max()) if finite.size else None
    return {str(s): stages(da.sel(scenario=s), **kwargs) for s in da["scenario"].values}


def stage_table(stage_map: dict[str, list[Stage]], variable: str = "") -> pd.DataFrame:
    """Tidy table of stage intervals: columns scenario, variable, stage, start, end, duration."""
    rows = [
        {"scenario": sc, "variable": variable, "stage": st.name, "start": st.start, "end": st.end,
         "duration": st.duration}
        for sc, lst in stage_map.items()
        for st in lst
    ]
    return pd.DataFrame(rows, columns=["scenario", "variable", "stage", "start", "end", "duration"])
