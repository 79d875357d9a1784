"""Figures and numbers for docs/loops.md (loop dominance of the bundled models).

Run ``python docs/figures/make_loops.py [outdir]`` (default ``docs/figures/out``). It
writes ``loops_lifecycle.png`` (loops through Firms in the life-cycle model's
reference run) and ``loops_cooperation.png`` (the budding-cooperation run of the
cooperative-action model), and prints the dominant periods and the explanation of
early against late brokering quoted in the page.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)

BUDDING = {"initial trust": 0.45, "initial participation share": 0.3}
EARLY = {"facilitation budget": 1.0, "facilitation start time": 2, "facilitation duration": 10}
LATE = {"facilitation budget": 1.0, "facilitation start time": 15, "facilitation duration": 10}


def main(outdir: str | Path = ROOT / "docs" / "figures" / "out") -> None:
    import matplotlib.pyplot as plt

    import sdcluster
    from sdcluster.analysis import loops
    from sdcluster.analysis.explain import explain_shift
    from sdcluster.outputs.plot_loops import dominance_figure
    from sdcluster.outputs.plot import save_figure

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    lifecycle = sdcluster.load_model(ROOT / "models" / "cluster_lifecycle.xmile")
    ds = loops.dominance(lifecycle)
    fig = dominance_figure(ds, stock="firms", title="Life-cycle model, reference run: which loops drive Firms")
    save_figure(fig, outdir, "loops_lifecycle", formats=("png",))
    plt.close(fig)
    for start, end, label in loops.dominant_periods(ds, by="group", stock="firms"):
        if end - start >= 2:
            print(f"life cycle, loops through Firms: {start:g}-{end:g}: {label}")

    cooperative = sdcluster.load_model(ROOT / "models" / "cooperative_action.xmile")
    ds = loops.dominance(cooperative, BUDDING, final_time=20)
    fig = dominance_figure(ds, stage_variable="participating_firms",
                           title="Cooperative action, budding cooperation (trust 0.45, 30 % members)")
    save_figure(fig, outdir, "loops_cooperation", formats=("png",))
    plt.close(fig)
    reference = loops.dominance(cooperative, final_time=30)
    early = loops.dominance(cooperative, EARLY, final_time=30)
    late = loops.dominance(cooperative, LATE, final_time=30)
    print(explain_shift(early, reference, policy="brokering from year 2", reference="no brokering"))
    print(explain_shift(late, reference, policy="brokering from year 15", reference="no brokering"))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main(*(sys.argv[1:2]))
