"""Figures of the calibration guide (docs/calibration.md).

``main(outdir)`` fits the bundled life-cycle model to the synthetic firm counts
in ``examples/data/synthetic_cluster_firm_counts.csv`` (3 parameters, Poisson
payoff, profile likelihood) and writes ``calibration_fit.png`` (data vs
fitted trajectory, plus one profile panel per parameter) and
``calibration_fit.txt`` (the printed fit table the page quotes).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data" / "synthetic_cluster_firm_counts.csv"
BOUNDS = {"normal spin off fraction": (0.01, 0.2), "normal failure fraction": (0.02, 0.15),
          "reference cluster size": (20, 500)}


def fit():
    """The worked example's fit (same call as in docs/calibration.md)."""
    from sdcluster.calibrate import calibrate

    return calibrate("cluster_lifecycle", DATA, BOUNDS, mapping={"firms": "firms"}, time_offset=1980,
                     payoff="poisson", method="least_squares", n_starts=2, seed=1, profile=True, progress=False,
                     time_step=1 / 32)


def _check_data_matches_model() -> None:
    """Warn when the shipped synthetic data no longer match what the current model generates."""
    import importlib.util
    import tempfile

    maker_path = DATA.with_name("make_synthetic_firm_counts.py")
    spec = importlib.util.spec_from_file_location("make_synthetic_firm_counts", maker_path)
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = maker.main(Path(tmp) / "fresh.csv").read_bytes()
    if fresh != DATA.read_bytes():
        logging.getLogger(__name__).warning(
            "%s differs from what the current cluster_lifecycle model generates; rerun "
            "python %s and update the numbers quoted in docs/calibration.md", DATA.name, maker_path)


def main(outdir: Path) -> None:
    """Write the calibration figure and fit table into *outdir*."""
    import matplotlib

    matplotlib.use("Agg")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    _check_data_matches_model()
    res = fit()
    res.plot(outdir / "calibration_fit.png")
    (outdir / "calibration_fit.txt").write_text(res.table() + "\n", encoding="utf-8")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "figures" / "out")
