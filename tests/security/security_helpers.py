"""Helpers shared by the security tests (not fixtures: see conftest.py)."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
LEGAL = HERE / "legal"
MARKER_ENV = "SDC_HOSTILE_MARKER"


def translate_only(model: Path, workdir: Path) -> Path:
    """Translate *model* with PySD inside *workdir* under the eval guard; never import it.

    Returns the translated main module. Used to test the allow-list on real
    PySD output independently of the cache.
    """
    from pysd.builders.python.python_model_builder import ModelBuilder

    from sdcluster.safety import guarded_translation

    copy = workdir / model.name
    shutil.copy(model, copy)
    with guarded_translation(copy), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if copy.suffix == ".mdl":
            from pysd.translators.vensim.vensim_file import VensimFile

            parsed = VensimFile(copy)
        else:
            from pysd.translators.xmile.xmile_file import XmileFile

            parsed = XmileFile(copy)
        parsed.parse()
        return Path(ModelBuilder(parsed.get_abstract_model()).build_model())


def cache_entries(cache: Path) -> list[Path]:
    """Every file left in a cache folder (recursively)."""
    if not cache.exists():
        return []
    return sorted(p for p in cache.rglob("*") if p.is_file())
