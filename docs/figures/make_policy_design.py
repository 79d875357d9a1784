"""Figures for docs/policy_design.md: a small search of the 20-million policy space of the bundled model.

Run ``python docs/figures/make_policy_design.py [outdir]`` (default ``docs/figures/out``).
The settings are small so that the docs build stays fast (population 8, 3
generations, 16 ensemble members); the page quotes the numbers of the full run
(``sdcluster optimize scenarios/design/budget_20M.yaml``) separately.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPACE = ROOT / "scenarios" / "design" / "budget_20M.yaml"
SETTINGS = {"population": 8, "generations": 3, "runs": 16, "seed": 1}


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
    result = optimize(SPACE, **SETTINGS)
    found = discover(result, against="networks_and_innovation")
    with tempfile.TemporaryDirectory() as tmp:
        out = write_outputs(result, Path(tmp) / "budget_20M", discovery=found)
        print((out / "summary.md").read_text(encoding="utf-8"))
        for name in ("front", "convergence", "discovery"):
            shutil.copyfile(out / f"{name}.png", outdir / f"policy_design_{name}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out")
