"""The documentation builds with warnings as errors (figures generated, links and anchors checked)
and the built site can be browsed from disk (file://), without a web server."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

#: href/src values in the built pages
_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")


def _local_targets(site: Path) -> list[tuple[Path, str, Path]]:
    """(page, link, target file) for every relative link of every built page."""
    out = []
    for page in site.rglob("*.html"):
        if page.name == "404.html":  # the server's error page: its links are absolute by design
            continue
        for link in _LINK.findall(page.read_text(encoding="utf-8")):
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path:  # external, or an anchor on the same page
                continue
            out.append((page, link, (page.parent / unquote(parts.path)).resolve()))
    return out


def test_docs_build_strict_and_browsable_from_disk(repo_root, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, str(repo_root / "docs" / "build.py"), "--site-dir", str(site)],
                          capture_output=True, text=True, timeout=900, cwd=repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert {"index.html", "quickstart.html", "cli.html", "models/cluster_policy.html"} <= pages
    links = _local_targets(site)
    assert len(links) > 100
    # every relative link names a file (a folder URL would need a server to find its index.html)
    broken = [f"{page.relative_to(site)}: {link}" for page, link, target in links if not target.is_file()]
    assert not broken, broken[:20]


def test_broken_anchor_fails_the_strict_build(repo_root, tmp_path):
    """The project's validation settings turn a link to a missing #anchor into a build failure."""
    config = yaml.safe_load((repo_root / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the files](other.md#no-such-heading).\n", encoding="utf-8")
    (docs / "other.md").write_text("# Other\n\n## Scenario files\n", encoding="utf-8")
    config.update({"docs_dir": str(docs), "nav": ["index.md", "other.md"], "exclude_docs": ""})
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml"),
                           "--site-dir", str(tmp_path / "site")], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "no-such-heading" in proc.stderr, proc.stderr[-2000:]
    (docs / "index.md").write_text("# Home\n\nSee [the files](other.md#scenario-files).\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml"),
                           "--site-dir", str(tmp_path / "site")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
