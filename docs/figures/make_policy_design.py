"""Figures for docs/policy_design.md: a small search of the 20-million policy space of the bundled model.

Run ``python docs/figures/make_policy_design.py [outdir]`` (default ``docs/figures/out``).
The settings are small so that the docs build stays fast (population 6, 2
generations, 48 ensemble members, started from the best mix of the full run);
the page quotes the numbers of the full run
(``python benchmarks/bench_optimize.py --sections B``) separately.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "scenarios" / "design" / "budget_20M.yaml"
SETTINGS = {"population": 6, "generations": 2, "runs": 48, "seed": 1}
#: The best mix within 20 million of the full run (docs/policy_design.md), rounded; the small
#: search starts from it. Levers in the order of Problem.names: amount, start of brokering,
#: platform, training, park, entry subsidy, brand.
BEST = [0.768, 0, 0.688, 14, 0.025, 18, 0.0426, 4, 0.0923, 2, 0.227, 8]
AGAINST = "brokering_and_grants"


def main(outdir: Path) -> None:
    """Write ``policy_design_front.png``, ``policy_design_convergence.png`` and
    ``policy_design_discovery.png`` into *outdir*."""
    import matplotlib

    matplotlib.use("Agg")
    from sdcluster.design import optimize
    from sdcluster.design.discovery import discover
    from sdcluster.design.outputs import write_outputs

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    result = optimize(SPACE, initial=[BEST], **SETTINGS)
    found = discover(result, against=AGAINST)
    with tempfile.TemporaryDirectory() as tmp:
        out = write_outputs(result, Path(tmp) / "budget_20M", discovery=found)
        print((out / "summary.md").read_text(encoding="utf-8"))
        for name in ("front", "convergence", "discovery"):
            shutil.copyfile(out / f"{name}.png", outdir / f"policy_design_{name}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out")
