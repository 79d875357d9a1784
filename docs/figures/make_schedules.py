"""Figure for docs/scenarios.md: the four policy schedule shapes, evaluated by sdcluster.scenarios.schedules.

Run ``python docs/figures/make_schedules.py [outdir]`` (default ``docs/figures/out``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(outdir: Path) -> None:
    """Write ``schedules_shapes.png`` into *outdir*."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sdcluster.scenarios.schedules import Pulse, Ramp, Step, Table

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    shapes = [
        ("step: start 5, end 15, amount 2", Step(start=5, end=15, amount=2)),
        ("pulse: start 2, width 1, every 5, end 13, amount 3", Pulse(start=2, width=1, every=5, end=13, amount=3)),
        ("ramp: start 4, end 8, amount 4", Ramp(start=4, end=8, amount=4)),
        ("table: points [[0,0],[10,1.5],[20,0]]", Table(points=[(0, 0), (10, 1.5), (20, 0)])),
        ("table (step): points [[0,1],[5,2],[12,0]]",
         Table(points=[(0, 1), (5, 2), (12, 0)], interpolation="step")),
    ]
    t = np.linspace(0, 20, 2001)
    grid = np.arange(0, 21, 1.0)
    fig, axes = plt.subplots(len(shapes), 1, figsize=(7, 1.9 * len(shapes)), sharex=True)
    for ax, (title, schedule) in zip(axes, shapes):
        ax.plot(t, schedule(t), color="tab:blue", lw=1.5, label="schedule(t)")
        ax.plot(grid, schedule(grid), "o", color="tab:orange", ms=3.5, label="value at saved times (dt = 1)")
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylabel("added amount\n(parameter units)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time (model time units, e.g. Year)")
    fig.tight_layout()
    fig.savefig(outdir / "schedules_shapes.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out")
