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
    """Translate *model* inside *workdir* the way sdcluster does (eval guard, neutralised
    comments, data-file policy); never import it.

    Returns the translated main module. Used to test the allow-list on real
    PySD output independently of the cache.
    """
    from sdcluster.core.translate import _translate_without_import, model_format

    copy = workdir / model.name
    shutil.copy(model, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _translate_without_import(copy, model_format(copy), model)[0]


def cache_entries(cache: Path) -> list[Path]:
    """Every file left in a cache folder (recursively)."""
    if not cache.exists():
        return []
    return sorted(p for p in cache.rglob("*") if p.is_file())
