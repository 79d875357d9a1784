"""Figures and measured numbers for docs/models/cooperative_action.md.

Run ``python docs/figures/make_cooperative_action.py [outdir]`` (default ``docs/figures/out``).
It writes one PNG per reference mode (the views: make_views.py), and prints
the numbers quoted in the page (cooperation thresholds, trust asymmetry, push
outcomes, crisis response, free riding). ``tests/models/test_cooperative_action.py``
reuses :func:`threshold_trust` so that the page and the tests measure the same thing.
"""
from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MDL = ROOT / "models" / "cooperative_action.mdl"
log = logging.getLogger(__name__)

#: the same total public budget (5 million) spent at a moderate pace or in a rush
MODERATE_PUSH = {"facilitation budget": 1.0, "facilitation start time": 5, "facilitation duration": 5,
                 "facilitation capacity share": 0.5}
OVERHEATED_PUSH = {"facilitation budget": 5.0, "facilitation start time": 5, "facilitation duration": 1,
                   "facilitation capacity share": 0.1}
HIGH_TRUST = {"initial trust": 0.6, "initial participation share": 0.4}
LOW_TRUST = {"initial trust": 0.3, "initial participation share": 0.2}
SHOCK = {"shock size": 3, "shock time": 20, "shock duration": 2}
LARGE_GROUP = {"total firms": 1000, "non excludable share": 1.0, "initial participation share": 0.5}
#: success shocks of equal size: normal failure fraction 0.10 -> 0.05 (good) or 0.15 (bad) in year 30
SHOCK_YEAR = 30.0


def load(path: Path = MDL):
    """Load the model through sdcluster (PySD warnings silenced)."""
    import sdcluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sdcluster.load_model(path)


def threshold_trust(model, participation: float, rounds: int = 4) -> float:
    """Initial trust above which cooperation becomes self-sustaining.

    Vectorised bisection (9 runs per round) on ``initial trust`` with the initial
    participation share fixed; a run "sustains" when the participation share at
    the final time exceeds 0.5. Asserts that the outcome is monotone in initial
    trust (low fizzles, high sustains) on every grid.

    Parameters
    ----------
    model : sdcluster.Model
        The loaded cooperative-action model.
    participation : float
        Initial participation share (0-1).
    rounds : int
        Bisection rounds; the bracket shrinks 8-fold per round.

    Returns
    -------
    float
        Midpoint of the final bracket (width 0.9 / 8**rounds).
    """
    lo, hi = 0.05, 0.95
    for _ in range(rounds):
        grid = np.linspace(lo, hi, 9)
        ds = model.run_batch(
            {"initial trust": grid, "initial participation share": np.full(grid.size, participation)},
            outputs=["participation share"],
            saveper=5,
        )
        ok = ds["participation_share"].isel(time=-1).values > 0.5
        first = int(np.argmax(ok))
        if ok[0] or not ok[-1] or not ok[first:].all():
            raise AssertionError(f"outcome not a single switch in initial trust on {grid}: {ok}")
        lo, hi = grid[first - 1], grid[first]
    return 0.5 * (lo + hi)


def step_failure(new: float, at: float = SHOCK_YEAR, old: float = 0.1) -> Callable[[float], float]:
    """Time schedule for ``normal failure fraction``: *old* before *at*, *new* from *at* on."""
    return lambda t: old if t < at else new


def trust_after_success_shocks(model, extra: dict[str, Any] | None = None):
    """Trust runs after a good (failure 0.10 -> 0.05) and a bad (0.10 -> 0.15) shock in year 30."""
    params = {**HIGH_TRUST, **(extra or {})}
    good = model.run(params={**params, "normal failure fraction": step_failure(0.05)}, outputs=["Trust"])
    bad = model.run(params={**params, "normal failure fraction": step_failure(0.15)}, outputs=["Trust"])
    return good, bad


def main(outdir: Path) -> None:
    """Write the cooperative-action figures into *outdir* and print the measured numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    model = load()

    def save(fig, stem):
        fig.tight_layout()
        fig.savefig(outdir / f"{stem}.png", dpi=110)
        plt.close(fig)

    # --- 1 critical mass
    thresholds = {p: threshold_trust(model, p) for p in (0.1, 0.2, 0.3, 0.4, 0.6)}
    print("cooperation threshold (initial trust) by initial participation share:")
    for p, t in thresholds.items():
        print(f"  participation {p:.1f}: trust {t:.3f}")
    t20 = thresholds[0.2]
    trusts = np.round(np.linspace(max(t20 - 0.3, 0.02), min(t20 + 0.3, 0.98), 9), 3)
    ds = model.run_batch({"initial trust": trusts, "initial participation share": np.full(trusts.size, 0.2)},
                         outputs=["Trust", "participation share"])
    tt = np.linspace(0.02, 0.98, 25)
    pp = np.linspace(0.02, 0.98, 25)
    T, Pm = np.meshgrid(tt, pp)
    grid = model.run_batch({"initial trust": T.ravel(), "initial participation share": Pm.ravel()},
                           outputs=["participation share"], saveper=50)
    outcome = grid["participation_share"].isel(time=-1).values.reshape(T.shape)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    for k, t0 in enumerate(trusts):
        up = float(ds["participation_share"].isel(run=k, time=-1)) > 0.5
        c = "tab:blue" if up else "tab:red"
        ax[0].plot(ds.time, ds["trust"].isel(run=k), color=c, lw=1.2, label=f"{t0:.2f}")
        ax[1].plot(ds.time, ds["participation_share"].isel(run=k), color=c, lw=1.2)
    ax[0].set(xlabel="time (Year)", ylabel="Trust (dmnl, 0-1)",
              title=f"Trust; initial participation 0.2\nthreshold initial trust = {t20:.3f}")
    ax[0].legend(title="initial trust", fontsize=7, ncol=2)
    ax[1].set(xlabel="time (Year)", ylabel="participation share (dmnl)", title="Participating firms / total firms")
    cs = ax[2].contourf(T, Pm, outcome, levels=[0, 0.1, 0.5, 0.9, 1.0], cmap="RdBu")
    ax[2].plot(list(thresholds.values()), list(thresholds.keys()), "k.-", label="bisection")
    fig.colorbar(cs, ax=ax[2], label="participation share in year 50 (dmnl)")
    ax[2].set(xlabel="initial trust (dmnl)", ylabel="initial participation share (dmnl)",
              title="Critical-mass boundary")
    ax[2].legend(fontsize=8)
    save(fig, "cooperative_action_critical_mass")

    # --- 2 asymmetry
    good, bad = trust_after_success_shocks(model)
    eq_good, eq_bad = trust_after_success_shocks(model, {"trust building time": 2, "trust erosion time": 2})
    t0 = float(good["trust"].sel(time=SHOCK_YEAR))
    print(f"trust before the success shocks: {t0:.3f}")
    for dt in (1, 2, 5, 10):
        g = float(good["trust"].sel(time=SHOCK_YEAR + dt)) - t0
        b = t0 - float(bad["trust"].sel(time=SHOCK_YEAR + dt))
        print(f"  after {dt:>2} y: gain {g:.4f}, loss {b:.4f}, loss/gain {b / g:.2f}")
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].plot(good.time, good["trust"], color="tab:blue", label="good shock: failure 0.10 -> 0.05")
    ax[0].plot(bad.time, bad["trust"], color="tab:red", label="bad shock: failure 0.10 -> 0.15")
    ax[0].axvline(SHOCK_YEAR, color="grey", ls=":")
    ax[0].set(xlabel="time (Year)", ylabel="Trust (dmnl)", title="Equal-sized shocks to project success",
              xlim=(20, 50))
    ax[0].legend(fontsize=8)
    sel = good.time >= SHOCK_YEAR
    x = good.time[sel] - SHOCK_YEAR
    ax[1].plot(x, (good["trust"] - t0)[sel], color="tab:blue", label="gain (good shock)")
    ax[1].plot(x, (t0 - bad["trust"])[sel], color="tab:red", label="loss (bad shock)")
    t0e = float(eq_good["trust"].sel(time=SHOCK_YEAR))
    ax[1].plot(x, (eq_good["trust"] - t0e)[sel], color="tab:blue", ls="--", label="gain, equal time constants (2 y)")
    ax[1].plot(x, (t0e - eq_bad["trust"])[sel], color="tab:red", ls="--", label="loss, equal time constants (2 y)")
    ax[1].set(xlabel="years after the shock (Year)", ylabel="|change in Trust| (dmnl)",
              title="Trust falls faster than it rises")
    ax[1].legend(fontsize=8)
    save(fig, "cooperative_action_asymmetry")

    # --- 3 over-heated push
    outs = ["Trust", "coordination load", "collective efficiency", "failure fraction"]
    runs = {
        "no push": model.run(params=LOW_TRUST, outputs=outs),
        "moderate: 1 M/y for 5 y, 50% to staff": model.run(params={**LOW_TRUST, **MODERATE_PUSH}, outputs=outs),
        "over-heated: 5 M/y for 1 y, 10% to staff": model.run(params={**LOW_TRUST, **OVERHEATED_PUSH},
                                                               outputs=outs),
    }
    colors = ["grey", "tab:blue", "tab:red"]
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    print("facilitation pushes (start year 5), initial trust 0.3, participation 0.2:")
    for (name, r), c in zip(runs.items(), colors):
        ax[0].plot(r.time, r["trust"], color=c, label=name)
        ax[1].plot(r.time, r["coordination_load"], color=c)
        ax[2].plot(r.time, r["collective_efficiency"], color=c)
        print(f"  {name}: final trust {float(r['trust'][-1]):.3f}, min trust {float(r['trust'].min()):.3f}, "
              f"max load {float(r['coordination_load'].max()):.2f}, max failure fraction "
              f"{float(r['failure_fraction'].max()):.2f}, final collective efficiency "
              f"{float(r['collective_efficiency'][-1]):.3f}")
    rushed_staffed = model.run(params={**LOW_TRUST, **OVERHEATED_PUSH, "facilitation capacity share": 0.5},
                               outputs=outs)
    print(f"  rushed but staffed: 5 M/y for 1 y, 50% to staff: final trust {float(rushed_staffed['trust'][-1]):.3f}, "
          f"min trust {float(rushed_staffed['trust'].min()):.3f}, max load "
          f"{float(rushed_staffed['coordination_load'].max()):.2f}, max failure fraction "
          f"{float(rushed_staffed['failure_fraction'].max()):.2f}")
    ax[0].axhline(LOW_TRUST["initial trust"], color="k", ls=":", lw=0.8)
    ax[0].set(xlabel="time (Year)", ylabel="Trust (dmnl)", title="Trust (dotted: initial)")
    ax[0].legend(fontsize=7)
    ax[1].axhline(1, color="k", ls=":", lw=0.8)
    ax[1].set(xlabel="time (Year)", ylabel="coordination load (dmnl)", title="Projects per unit of capacity",
              yscale="log")
    ax[2].set(xlabel="time (Year)", ylabel="collective efficiency (index, dmnl)", title="Collective efficiency")
    for a in ax:
        a.axvspan(5, 10, color="tab:blue", alpha=0.06)
    save(fig, "cooperative_action_overheated")

    # --- 4 crisis -> breakthrough
    fig, ax = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    print("market shock (size 3, years 20-22): breakthrough projects")
    for a, (label, start) in zip(ax, [("trust sufficient (initial 0.6)", HIGH_TRUST),
                                      ("trust low (initial 0.3)", LOW_TRUST)]):
        quiet = model.run(params=start, outputs=["Breakthrough projects", "Trust"])
        shock = model.run(params={**start, **SHOCK}, outputs=["Breakthrough projects", "Trust"])
        a.plot(quiet.time, quiet["breakthrough_projects"], color="grey", label="no shock")
        a.plot(shock.time, shock["breakthrough_projects"], color="tab:purple", label="market shock")
        a.axvspan(20, 22, color="tab:purple", alpha=0.1)
        a.set(xlabel="time (Year)", ylabel="Breakthrough projects (project)",
              title=f"{label}; Trust in year 20 = {float(quiet['trust'].sel(time=20)):.2f}", xlim=(10, 35))
        a.legend(fontsize=8)
        print(f"  {label}: peak without shock {float(quiet['breakthrough_projects'].max()):.3f}, "
              f"with shock {float(shock['breakthrough_projects'].max()):.3f}")
    save(fig, "cooperative_action_crisis")

    # --- 5 free riding
    cases = {
        "large group, non-excludable, initial trust 0.6": {**LARGE_GROUP, "initial trust": 0.6},
        "same, initial trust 0.9": {**LARGE_GROUP, "initial trust": 0.9},
        "same, excludable goods": {**LARGE_GROUP, "initial trust": 0.6, "non excludable share": 0.0},
        "same, small group (100 firms)": {**LARGE_GROUP, "initial trust": 0.6, "total firms": 100},
    }
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    print("free riding (participation share: peak, final):")
    for (name, params), c in zip(cases.items(), ["tab:red", "tab:blue", "tab:green", "tab:orange"]):
        r = model.run(params=params, outputs=["participation share", "relative collective goods"])
        ax[0].plot(r.time, r["participation_share"], color=c, label=name)
        ax[1].plot(r.time, r["relative_collective_goods"], color=c)
        print(f"  {name}: {float(r['participation_share'].max()):.3f}, {float(r['participation_share'][-1]):.3f}")
    ax[0].set(xlabel="time (Year)", ylabel="participation share (dmnl)", title="Participation", xlim=(0, 30))
    ax[0].legend(fontsize=7)
    ax[1].set(xlabel="time (Year)", ylabel="collective goods per firm / reference (dmnl)",
              title="Relative collective goods", xlim=(0, 30))
    save(fig, "cooperative_action_free_riding")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "out")
