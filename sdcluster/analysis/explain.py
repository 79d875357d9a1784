"""Explain a policy's effect as a shift in loop dominance against its reference run."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from .graph import LoopAnalysisError
from .loops import group_scores

#: A group "leads" at a time when its |relative score| is the largest and at least this share ...
LEAD_SHARE = 0.3
#: ... and some stock changes by at least this fraction of its current level per time unit
#: (levels below 1 % of the stock's peak count as 1 % of it; near rest, relative scores are
#: ratios of vanishing changes and say little).
REST = 0.01


def leading(ds: xr.Dataset, stock: str | None = None) -> xr.DataArray:
    """Per saved time, the loop group (or loop, when the model names none) with the largest
    |relative score|, if it is at least :data:`LEAD_SHARE` and the model is not at rest
    (see :data:`REST`); ``""`` otherwise. With *stock*, only loops through that stock count."""
    sh = _shares(ds, stock)
    mag = np.abs(sh.transpose("time", "group").values)
    labels = np.array([str(g) for g in sh["group"].values] + [""], dtype=object)
    best = mag.argmax(axis=1) if mag.shape[1] else np.full(len(mag), -1)
    top = mag[np.arange(len(mag)), best] if mag.shape[1] else np.zeros(len(mag))
    moving = _moving(ds)
    out = np.where((top >= LEAD_SHARE) & moving, labels[best], "")
    return xr.DataArray(out, coords={"time": ds["time"]}, dims="time", name="leading_loop",
                        attrs={"long_name": "leading loop group"})


def _shares(ds: xr.Dataset, stock: str | None) -> xr.DataArray:
    """Relative scores per named group (per loop when the model names none)."""
    if stock is not None or any(ds["group"].values):
        return group_scores(ds, stock=stock)
    return ds["relative_loop_score"].rename(loop="group")


def _moving(ds: xr.Dataset) -> np.ndarray:
    """True where some stock of *ds* changes faster than :data:`REST` (relative to its level)."""
    t = ds["time"].values
    stocks = [v for v in ds.data_vars if ds[v].dims == ("time",) and ds[v].dtype.kind == "f"]
    if not stocks or len(t) < 2:
        return np.ones(len(t), bool)
    rates = []
    for v in stocks:
        x = ds[v].values
        level = np.maximum(np.abs(x), 0.01 * (np.nanmax(np.abs(x)) or 1.0))
        rates.append(np.abs(np.gradient(x, t)) / level)
    return np.nanmax(np.array(rates), axis=0) >= REST


#: A lead shorter than this many time units is a transient and not reported.
MIN_LEAD = 1.0


def lead_intervals(lead: xr.DataArray, group: str, min_length: float = MIN_LEAD) -> list[tuple[float, float]]:
    """Intervals ``[(start, end), ...]`` in which *group* leads for at least *min_length* time units."""
    t = lead["time"].values
    on = np.concatenate([[False], lead.values == group, [False]])
    starts = np.flatnonzero(~on[:-1] & on[1:])
    ends = np.flatnonzero(on[:-1] & ~on[1:]) - 1
    return [(float(t[a]), float(t[b])) for a, b in zip(starts, ends) if t[b] - t[a] >= min_length]


def explain_shift(ds_policy: xr.Dataset, ds_reference: xr.Dataset, policy: str | None = None,
                  reference: str | None = None, max_groups: int = 3, stock: str | None = None) -> str:
    """One plain-language sentence on how a policy shifts loop dominance against its reference.

    Parameters
    ----------
    ds_policy, ds_reference
        Results of :func:`sdcluster.analysis.loops.dominance` for the same model.
    policy, reference
        Names for the runs (default: their ``scenario`` attribute, or "the policy"/"the reference").
    max_groups
        At most this many loop groups are described (largest changes first).
    stock
        Explain the dominance of the loops through this stock only (e.g. ``"firms"``).

    Returns
    -------
    str
        E.g. "With brokering from year 2, R1 trust-cooperation spiral leads in years 5.1-8.0
        (no brokering: never)."

    Notes
    -----
    A group *leads* at a time when its relative score has the largest magnitude,
    at least :data:`LEAD_SHARE`, while the model is not at rest (:data:`REST`);
    leads shorter than :data:`MIN_LEAD` time units are not reported.
    """
    policy = policy or ds_policy.attrs.get("scenario") or "the policy"
    reference = reference or ds_reference.attrs.get("scenario") or "the reference"
    units = str(ds_policy["time"].attrs.get("units", ""))
    unit = units.lower().rstrip("s") + "s" if units else "times"
    lp, lr = leading(ds_policy, stock), leading(ds_reference, stock)
    groups = sorted({str(g) for g in np.concatenate([lp.values, lr.values]) if g})
    spans = {g: (lead_intervals(lp, g), lead_intervals(lr, g)) for g in groups}

    def length(iv: list[tuple[float, float]]) -> float:
        return sum(b - a for a, b in iv)

    def first(iv: list[tuple[float, float]]) -> float:
        return iv[0][0] if iv else np.inf

    change = {g: abs(length(p) - length(r)) + min(abs(first(p) - first(r)), 1e3) if p or r else 0.0
              for g, (p, r) in spans.items()}
    ranked = [g for g in sorted(groups, key=lambda g: (-change[g], g)) if change[g] > 0][:max_groups]
    if not ranked:
        return f"With {policy}, the same loops lead at the same times as in {reference}."

    def fmt(iv: list[tuple[float, float]]) -> str:
        if not iv:
            return "never"
        text = ", ".join(f"{a:.3g}–{b:.3g}" for a, b in iv[:3]) + (" …" if len(iv) > 3 else "")
        return f"{unit} {text}"

    parts = [(f"{g} leads in {fmt(spans[g][0])}" if spans[g][0] else f"{g} never leads")
             + f" ({reference}: {fmt(spans[g][1])})" for g in ranked]
    return f"With {policy}, " + "; ".join(parts) + "."


def ensemble_leads(model: Any, samples: Mapping[str, Sequence[float]], stock: str | None = None,
                   progress: bool = False, **run_kwargs: Any) -> xr.Dataset:
    """Is loop dominance robust across uncertain parameters? Dominance of *N* parameter sets.

    Parameters
    ----------
    model
        A :class:`sdcluster.Model`.
    samples
        ``{parameter: [value, ...]}``, every list of the same length *N*
        (e.g. the columns of an ensemble's sample).
    stock
        Only the loops through this stock (see :func:`~sdcluster.analysis.loops.group_scores`).
    progress
        Show a progress bar.
    **run_kwargs
        Time settings, as for :func:`~sdcluster.analysis.loops.dominance`.

    Returns
    -------
    xarray.Dataset
        ``share`` (run, time, group): the groups' relative scores per run;
        ``leading`` (run, time): the leading group per run (see :func:`leading`);
        ``lead_agreement`` (time, group): the fraction of runs in which each
        group leads.

    Notes
    -----
    One :func:`~sdcluster.analysis.loops.dominance` call per parameter set
    (the link scores re-evaluate the model's equations run by run; not vectorised).
    """
    from tqdm.auto import tqdm

    from .loops import dominance

    sizes = {len(v) for v in samples.values()}
    if len(sizes) != 1 or 0 in sizes:
        raise LoopAnalysisError(f"ensemble_leads: sample lists must be non-empty and of equal length; got "
                                f"{ {k: len(v) for k, v in samples.items()} }")
    n = sizes.pop()
    shares, leads = [], []
    for i in tqdm(range(n), desc="loop dominance", disable=not progress, leave=False):
        ds = dominance(model, {k: float(v[i]) for k, v in samples.items()}, **run_kwargs)
        shares.append(_shares(ds, stock).drop_vars([c for c in ("partition",) if c in ds.coords]))
        leads.append(leading(ds, stock))
    share = xr.concat(shares, dim="run", join="outer", fill_value=0.0)
    lead = xr.concat(leads, dim="run")
    groups = share["group"].values
    agreement = xr.DataArray(np.stack([(lead.values == g).mean(axis=0) for g in groups], axis=1),
                             coords={"time": lead["time"], "group": groups}, dims=("time", "group"),
                             attrs={"long_name": "fraction of runs in which the group leads", "units": "1"})
    out = xr.Dataset({"share": share, "leading": lead, "lead_agreement": agreement})
    out = out.assign_coords(run=np.arange(n))
    for k, v in samples.items():
        out[f"sample_{model.py_name(k)}"] = ("run", np.asarray(v, dtype=float), {"long_name": f"sampled {k}"})
    out.attrs.update({"title": f"Loop dominance across {n} parameter sets of {model.path.name}",
                      "lead_share": LEAD_SHARE, "rest": REST})
    return out
