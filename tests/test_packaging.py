"""Packaging: every sub-package ships, bundled models ship, the entry point exists."""
from __future__ import annotations

import configparser

from sdcluster.core.model import bundled_models


def test_every_subpackage_is_listed_in_setup_cfg(repo_root):
    cfg = configparser.ConfigParser()
    cfg.read(repo_root / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(repo_root).parts) for p in (repo_root / "sdcluster").rglob("__init__.py")}
    assert found <= listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
    assert "sdcluster.bundled_models" in listed
    assert "sdcluster = sdcluster.cli:main" in cfg["options.entry_points"]["console_scripts"]


def test_bundled_models_come_in_both_formats(repo_root):
    names = bundled_models()
    stems = {n.rsplit(".", 1)[0] for n in names}
    assert stems, "no bundled model"
    for stem in stems:
        assert f"{stem}.mdl" in names and f"{stem}.xmile" in names, stem
    on_disk = {p.name for p in (repo_root / "models").iterdir() if p.suffix in (".mdl", ".xmile")}
    assert set(names) == on_disk
