"""Figures and measured numbers for the cluster life-cycle model (docs/models/cluster_lifecycle.md).

Run ``python docs/figures/make_cluster_lifecycle.py [outdir]``; prints the critical-mass
threshold and the stage boundaries quoted in the model doc. The helpers are reused by
``tests/models/test_cluster_lifecycle.py`` so that the doc and the tests measure the same thing.
"""
from __future__ import annotations

import logging
import pathlib
import sys

import numpy as np

import sdcluster

logger = logging.getLogger(__name__)

MODEL = pathlib.Path(__file__).resolve().parents[2] / "models" / "cluster_lifecycle.mdl"

NO_SHIFT = {"technology shift devaluation fraction": 0}
RENEWAL = {"outside links": 3}
SHAKEOUT = {"scale economies elasticity": 4, "firm scale adjustment time": 25,
            "returns to scale": 0.8, "outside links": 2, "technology shift devaluation fraction": 0}

TAKE_OFF_RATE = 0.08   # 1/Year: firm growth rate that marks take-off (growth stage)
MATURE_BAND = 0.02     # 1/Year: |growth rate| below this after growth = maturity


def load(path: pathlib.Path = MODEL) -> "sdcluster.Model":
    """Load the life-cycle model through sdcluster."""
    return sdcluster.load_model(str(path))


def critical_mass(model, lo: float = 5.0, hi: float = 150.0, iters: int = 3,
                  n: int = 24, final_time: float = 60.0) -> float:
    """Initial firm count separating decay from take-off (no technology shift).

    Repeated grid bisection with one vectorised batch per pass: a run "takes off" when
    its final firm count exceeds its initial count.
    """
    for _ in range(iters):
        grid = np.linspace(lo, hi, n)
        ds = model.run_batch({**{k: np.full(n, v) for k, v in NO_SHIFT.items()},
                              "initial firms": grid}, final_time=final_time, outputs=["firms"])
        up = ds["firms"].isel(time=-1).values > grid
        k = int(np.argmax(up))
        if not up.any() or k == 0:
            raise RuntimeError("no threshold inside the bracket")
        lo, hi = grid[k - 1], grid[k]
    return float((lo + hi) / 2)


def stages(time: np.ndarray, firms: np.ndarray) -> dict[str, tuple[float, float] | None]:
    """Life-cycle stages from the yearly growth rate g of firms (documented rule).

    emergence: start until g first reaches TAKE_OFF_RATE; growth: until g falls below
    MATURE_BAND; maturity: while |g| < MATURE_BAND; decline: from the first later time with
    g <= -MATURE_BAND until g rises above -MATURE_BAND again (or the end).
    """
    g = np.diff(firms) / np.maximum(firms[:-1], 1e-12)
    t = time[:-1]
    out: dict[str, tuple[float, float] | None] = {"emergence": None, "growth": None,
                                                  "maturity": None, "decline": None}
    i_take = np.flatnonzero(g >= TAKE_OFF_RATE)
    if not len(i_take):
        return out
    a = i_take[0]
    out["emergence"] = (float(time[0]), float(t[a]))
    after = np.flatnonzero((np.arange(len(g)) > a) & (g < MATURE_BAND))
    if not len(after):
        out["growth"] = (float(t[a]), float(time[-1]))
        return out
    b = after[0]
    out["growth"] = (float(t[a]), float(t[b]))
    dec = np.flatnonzero((np.arange(len(g)) > b) & (g <= -MATURE_BAND))
    c = dec[0] if len(dec) else len(g)
    out["maturity"] = (float(t[b]), float(t[c] if c < len(g) else time[-1]))
    if len(dec):
        rec = np.flatnonzero((np.arange(len(g)) > c) & (g > -MATURE_BAND))
        out["decline"] = (float(t[c]), float(t[rec[0]] if len(rec) else time[-1]))
    return out


def main(outdir: pathlib.Path) -> None:
    """Write one PNG per reference mode into ``outdir`` and log the measured numbers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    m = load()

    # 1 critical mass
    thr = critical_mass(m)
    grid = np.array([0.5, 0.8, 0.95, 1.05, 1.2, 2.0]) * thr
    ds = m.run_batch({"technology shift devaluation fraction": np.zeros(len(grid)), "initial firms": grid},
                     outputs=["firms"])
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, f0 in enumerate(grid):
        ax.plot(ds.time, ds.firms.isel(run=i), label=f"initial {f0:.0f}")
    ax.set(xlabel="time (Year)", ylabel="Firms (firm)",
           title=f"Critical mass: threshold ≈ {thr:.1f} firms (no technology shift)")
    ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(outdir / "cluster_lifecycle_critical_mass.png", dpi=120); plt.close(fig)

    # 2 life cycle and 3 renewal
    base = m.run(outputs=["firms", "employment", "value_added", "capability", "attractiveness",
                          "relative_net_entry_rate"])
    ren = m.run(params=RENEWAL, outputs=["firms", "capability"])
    st = stages(base.time.values, base.firms.values)
    fig, axs = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for ax, v, lab in zip(axs.flat, ["firms", "employment", "value_added", "capability"],
                          ["Firms (firm)", "employment (person)", "value added (Meuro/Year)",
                           "Capability (Dmnl)"]):
        ax.plot(base.time, base[v]); ax.set_ylabel(lab)
        for name, span in st.items():
            if span:
                ax.axvline(span[0], color="grey", lw=0.5)
    for i, (span_name, span) in enumerate(st.items()):
        if span:
            axs[0, 0].text(span[0] + 0.5, float(base.firms.max()) * (0.95 - 0.1 * i), span_name,
                           fontsize=7)
    for ax in axs[1]:
        ax.set_xlabel("time (Year)")
    fig.suptitle("Default run: emergence, growth, maturity, decline after the technology shift")
    fig.tight_layout(); fig.savefig(outdir / "cluster_lifecycle_full_cycle.png", dpi=120); plt.close(fig)

    fig, axs = plt.subplots(1, 2, figsize=(10, 4))
    for d, lab in [(base, "outside links = 1 (default)"), (ren, "outside links = 3")]:
        axs[0].plot(d.time, d.firms, label=lab); axs[1].plot(d.time, d.capability, label=lab)
    axs[0].set(xlabel="time (Year)", ylabel="Firms (firm)")
    axs[1].set(xlabel="time (Year)", ylabel="Capability (Dmnl)")
    axs[0].legend(); fig.suptitle("Renewal: same technology shift, stronger outside links")
    fig.tight_layout(); fig.savefig(outdir / "cluster_lifecycle_renewal.png", dpi=120); plt.close(fig)

    # 4 shakeout
    sh = m.run(params=SHAKEOUT, outputs=["firms", "output", "firm_scale"])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sh.time, sh.firms, label="Firms (firm)")
    ax.set(xlabel="time (Year)", ylabel="Firms (firm)")
    ax2 = ax.twinx(); ax2.plot(sh.time, sh.output, color="C1", label="output (Meuro/Year)")
    ax2.set_ylabel("output (Meuro/Year)")
    ax.set_title("Shakeout variant: firm numbers fall while output grows")
    fig.tight_layout(); fig.savefig(outdir / "cluster_lifecycle_shakeout.png", dpi=120); plt.close(fig)

    # 5/6 mass balance and integration error
    dt = m.time_settings["time_step"]
    fine = m.run(time_step=dt / 2, saveper=1, outputs=["firms", "employment", "capability"])
    coarse = m.run(outputs=["firms", "employment", "capability"])
    fig, ax = plt.subplots(figsize=(7, 4))
    for v in ["firms", "employment", "capability"]:
        ax.plot(coarse.time, 100 * np.abs(fine[v] - coarse[v]) / np.abs(coarse[v]), label=v)
    ax.set(xlabel="time (Year)", ylabel="|dt/2 − dt| / value (%)",
           title=f"Integration error: TIME STEP {dt:g} vs {dt / 2:g} (default run)")
    ax.legend(); fig.tight_layout()
    fig.savefig(outdir / "cluster_lifecycle_integration.png", dpi=120); plt.close(fig)

    peak = int(np.argmax(sh.firms.values))
    logger.info("critical mass threshold: %.2f firms", thr)
    logger.info("default stages: %s", st)
    qmax = int(np.argmax(sh.output.values))
    logger.info("shakeout: firm peak %.0f at year %d, %.0f at end; output %.0f at the firm peak, "
                "max %.0f at year %d, %.0f at end", float(sh.firms[peak]), peak,
                float(sh.firms[-1]), float(sh.output[peak]), float(sh.output[qmax]), qmax,
                float(sh.output[-1]))
    for v in ["firms", "employment", "capability"]:
        logger.info("integration error %s: max %.2f%%", v,
                    100 * float(np.max(np.abs(fine[v] - coarse[v]) / np.abs(coarse[v]))))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/out"))
