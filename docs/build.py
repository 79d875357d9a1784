#!/usr/bin/env python3
"""Build the documentation site: generate every figure, then ``mkdocs build --strict``.

Usage::

    python docs/build.py [--site-dir site]

Figures are never committed: each ``docs/figures/make_*.py`` exposes
``main(outdir)`` and writes its PNGs into ``docs/figures/out/`` (git-ignored)
before MkDocs renders the pages that show them. Warnings are errors, so a page
that links a missing figure or page fails the build.
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent


def make_figures(outdir: Path) -> list[Path]:
    """Run every ``docs/figures/make_*.py``; return the scripts run."""
    outdir.mkdir(parents=True, exist_ok=True)
    scripts = sorted((DOCS / "figures").glob("make_*.py"))
    for script in scripts:
        spec = importlib.util.spec_from_file_location(script.stem, script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        logging.info("figures: %s", script.name)
        module.main(outdir)
    return scripts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site-dir", type=Path, default=ROOT / "site")
    parser.add_argument("--skip-figures", action="store_true", help="reuse figures already in docs/figures/out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import matplotlib

    matplotlib.use("Agg")
    if not args.skip_figures:
        make_figures(DOCS / "figures" / "out")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
           "--site-dir", str(args.site_dir.resolve())]
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
