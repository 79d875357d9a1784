"""Figures of the calibration guide (docs/calibration.md).

``main(outdir)`` runs the worked example of the page -- its first Python block,
verbatim: the bundled life-cycle model fitted to the synthetic firm counts in
``examples/data/synthetic_cluster_firm_counts.csv`` (3 parameters, Poisson
payoff, profile likelihood) -- and writes ``calibration_fit.png`` (data vs
fitted trajectory, plus one profile panel per parameter) and
``calibration_fit.txt`` (the printed fit table the page quotes). So the docs
build executes that example (``tests/test_docs_examples.py`` does not run it a
second time).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data" / "synthetic_cluster_firm_counts.csv"
PAGE = ROOT / "docs" / "calibration.md"


def fit():
    """Run the page's first Python block in a scratch folder (it writes fit.png, fitted.yaml); return its ``res``."""
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"^```python\n(.*?)^```", text, re.S | re.M)
    if block is None:
        raise RuntimeError(f"{PAGE}: no Python block with the worked example")
    code = compile(block.group(1), f"{PAGE} (worked example)", "exec")
    namespace: dict = {"__name__": "calibration_example"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "examples").symlink_to(ROOT / "examples")
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, namespace)  # noqa: S102 - the documentation's own example
        finally:
            os.chdir(cwd)
    return namespace["res"]


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
