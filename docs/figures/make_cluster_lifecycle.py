"""Figures and measured numbers for the cluster life-cycle model (docs/models/cluster_lifecycle.md).

Run ``python docs/figures/make_cluster_lifecycle.py [outdir]``; logs the shakeout
regularities and the stage boundaries quoted in the model doc. The helpers are reused by
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
#: the default structure without the technology shift: the shakeout is endogenous
SHAKEOUT = NO_SHIFT
#: long enough for the whole shakeout; the regularities are measured relative to the peak
LONG_RUN = 200.0

TAKE_OFF_RATE = 0.08   # 1/Year: firm growth rate that marks take-off (growth stage)
MATURE_BAND = 0.02     # 1/Year: |growth rate| below this after growth = maturity


def load(path: pathlib.Path = MODEL) -> "sdcluster.Model":
    """Load the life-cycle model through sdcluster."""
    return sdcluster.load_model(str(path))


def shakeout_regularities(time: np.ndarray, firms: np.ndarray, output: np.ndarray,
                          entry: np.ndarray) -> dict[str, float]:
    """Klepper and Simons (1997) shakeout measures of one run, relative to the firm peak.

    ``peak_year``: year of the largest firm count (end of the build-up); ``ratio_40``: firms
    40 years after the peak over the peak; ``ratio_min``: lowest count after the peak over the
    peak; ``output_growth_30``: output 30 years after the peak over output at the peak;
    ``entry_stop``: years after the peak from which entry stays below 10 % of its maximum;
    ``late_entry_share``: firms entering 10-40 years after the peak over those entering up to
    the peak ("virtually no entry after roughly ten years into the shakeout").
    """
    p = int(np.argmax(firms))
    t = time - time[p]
    at = lambda x, dy: float(np.interp(dy, t, x))  # noqa: E731
    low = entry < 0.1 * entry.max()
    after = np.flatnonzero(t > 0)
    stop = next((int(i) for i in after if low[i:].all()), None)
    return {"peak_year": float(time[p]), "peak": float(firms[p]),
            "ratio_40": at(firms, 40) / float(firms[p]),
            "ratio_min": float(firms[p:].min() / firms[p]),
            "output_growth_30": at(output, 30) / float(output[p]),
            "entry_stop": float(t[stop]) if stop is not None else float("inf"),
            "late_entry_share": float(np.trapezoid(entry[(t >= 10) & (t <= 40)], t[(t >= 10) & (t <= 40)])
                                      / np.trapezoid(entry[t <= 0], t[t <= 0]))}


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
    fig.suptitle("Default run: emergence, growth, shakeout; the technology shift at year 40 deepens the decline")
    fig.tight_layout(); fig.savefig(outdir / "cluster_lifecycle_full_cycle.png", dpi=120); plt.close(fig)

    fig, axs = plt.subplots(1, 2, figsize=(10, 4))
    for d, lab in [(base, "outside links = 1 (default)"), (ren, "outside links = 3")]:
        axs[0].plot(d.time, d.firms, label=lab); axs[1].plot(d.time, d.capability, label=lab)
    axs[0].set(xlabel="time (Year)", ylabel="Firms (firm)")
    axs[1].set(xlabel="time (Year)", ylabel="Capability (Dmnl)")
    axs[0].legend(); fig.suptitle("Renewal: same technology shift, stronger outside links")
    fig.tight_layout(); fig.savefig(outdir / "cluster_lifecycle_renewal.png", dpi=120); plt.close(fig)

    # 4 shakeout (no shift, long run)
    sh = m.run(params=SHAKEOUT, final_time=LONG_RUN,
               outputs=["firms", "output", "entry_rate", "exit_rate", "firm_scale"])
    reg = shakeout_regularities(sh.time.values, sh.firms.values, sh.output.values,
                                sh.entry_rate.values)
    fig, axs = plt.subplots(1, 2, figsize=(11, 4))
    axs[0].plot(sh.time, sh.firms, label="Firms (firm)")
    axs[0].set(xlabel="time (Year)", ylabel="Firms (firm)")
    ax2 = axs[0].twinx(); ax2.plot(sh.time, sh.output, color="C1", label="output (Meuro/Year)")
    ax2.set_ylabel("output (Meuro/Year)")
    axs[0].set_title("No technology shift: firms peak and fall while output grows")
    axs[1].plot(sh.time, sh.entry_rate, label="entry rate"); axs[1].plot(sh.time, sh.exit_rate, label="exit rate")
    axs[1].axvline(reg["peak_year"], color="grey", lw=0.5)
    axs[1].set(xlabel="time (Year)", ylabel="firm/Year", title="Entry dries up during the shakeout")
    axs[1].legend()
    fig.tight_layout(); fig.savefig(outdir / "cluster_lifecycle_shakeout.png", dpi=120); plt.close(fig)

    # 5 integration error
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

    logger.info("default stages: %s", st)
    logger.info("shakeout regularities (no shift, %g years): %s", LONG_RUN,
                {k: round(v, 3) for k, v in reg.items()})
    for v in ["firms", "employment", "capability"]:
        logger.info("integration error %s: max %.2f%%", v,
                    100 * float(np.max(np.abs(fine[v] - coarse[v]) / np.abs(coarse[v]))))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/out"))
