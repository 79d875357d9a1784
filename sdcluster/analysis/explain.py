"""Explain a policy's effect as a shift in loop dominance against its reference run."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .loops import group_scores

#: A group "dominates" at a time when its |relative score| is the largest and at least this share.
LEAD_SHARE = 0.3


def leading(ds: xr.Dataset) -> xr.DataArray:
    """Per saved time, the loop group (or loop, when the model names none) with the largest
    |relative score| if it is at least :data:`LEAD_SHARE`; ``""`` otherwise."""
    sh = group_scores(ds) if any(ds["group"].values) else ds["relative_loop_score"].rename(loop="group")
    mag = np.abs(sh.transpose("time", "group").values)
    labels = np.array([str(g) for g in sh["group"].values], dtype=object)
    best = mag.argmax(axis=1) if mag.shape[1] else np.zeros(len(mag), int)
    top = mag[np.arange(len(mag)), best] if mag.shape[1] else np.zeros(len(mag))
    out = np.where(top >= LEAD_SHARE, labels[best] if mag.shape[1] else "", "")
    return xr.DataArray(out, coords={"time": ds["time"]}, dims="time", name="leading_loop",
                        attrs={"long_name": "leading loop group"})


def _first(lead: xr.DataArray, group: str) -> float | None:
    hit = np.flatnonzero(lead.values == group)
    return float(lead["time"].values[hit[0]]) if hit.size else None


def _duration(lead: xr.DataArray, group: str) -> float:
    t = lead["time"].values
    dt = float(t[1] - t[0]) if len(t) > 1 else 0.0
    return float((lead.values == group).sum()) * dt


def explain_shift(ds_policy: xr.Dataset, ds_reference: xr.Dataset, policy: str | None = None,
                  reference: str | None = None, max_groups: int = 3) -> str:
    """One plain-language paragraph on how a policy shifts loop dominance against its reference.

    Parameters
    ----------
    ds_policy, ds_reference
        Results of :func:`sdcluster.analysis.loops.dominance` for the same model.
    policy, reference
        Names for the runs (default: their ``scenario`` attribute, or "the policy"/"the reference").
    max_groups
        At most this many loop groups are described (largest changes first).

    Returns
    -------
    str
        E.g. "With brokering_early, R1 trust–cooperation spiral leads from year 6 (baseline: never) ...".
    """
    policy = policy or ds_policy.attrs.get("scenario") or "the policy"
    reference = reference or ds_reference.attrs.get("scenario") or "the reference"
    units = ds_policy["time"].attrs.get("units", "")
    unit = units.lower().rstrip("s") if units else "time"
    lp, lr = leading(ds_policy), leading(ds_reference)
    groups = sorted({g for g in np.concatenate([lp.values, lr.values]) if g})
    change = {g: abs(_duration(lp, g) - _duration(lr, g)) + (0.0 if (_first(lp, g) == _first(lr, g)) else 1e-9)
              for g in groups}
    ranked = [g for g in sorted(groups, key=lambda g: (-change[g], g)) if change[g] > 0][:max_groups]
    if not ranked:
        return (f"{policy} leaves loop dominance as in {reference}: the same loops lead at the same times.")

    def when(lead: xr.DataArray, g: str) -> str:
        first = _first(lead, g)
        return "never" if first is None else f"{unit} {first:g}"

    parts = []
    for g in ranked:
        fp, fr = when(lp, g), when(lr, g)
        dp, dr = _duration(lp, g), _duration(lr, g)
        if fp == "never":
            parts.append(f"{g} never leads ({reference}: leads from {fr}, for {dr:g} {units})")
        else:
            parts.append(f"{g} leads from {fp} for {dp:g} {units} ({reference}: "
                         + ("never" if fr == "never" else f"from {fr}, for {dr:g} {units}") + ")")
    return f"With {policy}, " + "; ".join(parts) + "."
