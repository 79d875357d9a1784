"""The documentation builds with warnings as errors (figures generated, links checked)."""
from __future__ import annotations

import subprocess
import sys


def test_docs_build_strict(repo_root, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, str(repo_root / "docs" / "build.py"), "--site-dir", str(site)],
                          capture_output=True, text=True, timeout=900, cwd=repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert (site / "index.html").exists()
    pages = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    assert "quickstart/index.html" in pages and "cli/index.html" in pages
