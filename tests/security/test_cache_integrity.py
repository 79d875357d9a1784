"""A tampered or corrupted translation-cache entry is detected and never imported."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from security_helpers import LEGAL

import sdcluster
from sdcluster.errors import UnsafeModelError

PAYLOAD = '__import__("pathlib").Path(__import__("os").environ.get("SDC_HOSTILE_MARKER")).touch()'
MODEL = LEGAL / "macro_only.mdl"


def _entry(cache: Path) -> Path:
    entries = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(entries) == 1, entries
    return entries[0]


def _firms(model: sdcluster.Model) -> list[float]:  # type: ignore[name-defined]
    return [float(v) for v in model.run()["firms"].values]


@pytest.fixture
def warm(cache_dir: Path) -> tuple[Path, str, list[float]]:
    """A cache holding the translation of MODEL, its clean text and the reference run."""
    reference = _firms(sdcluster.load_model(MODEL))
    entry = _entry(cache_dir)
    return entry, (entry / "model.py").read_text(encoding="utf-8"), reference


def test_changed_translation_is_retranslated(warm, marker: Path) -> None:
    entry, clean, reference = warm
    py = entry / "model.py"
    py.write_text(clean + f"\n{PAYLOAD}\n", encoding="utf-8")
    model = sdcluster.load_model(MODEL)
    assert not marker.exists(), "the tampered cache entry was imported"
    assert py.read_text(encoding="utf-8") == clean, "the entry was not translated again"
    assert _firms(model) == reference


def test_truncated_translation_is_retranslated(warm, marker: Path) -> None:
    entry, clean, reference = warm
    py = entry / "model.py"
    py.write_text(clean[: len(clean) // 2], encoding="utf-8")
    model = sdcluster.load_model(MODEL)
    assert py.read_text(encoding="utf-8") == clean
    assert _firms(model) == reference


def test_missing_or_corrupt_manifest_is_retranslated(warm) -> None:
    entry, clean, reference = warm
    (entry / "manifest.json").write_text("{not json", encoding="utf-8")
    assert _firms(sdcluster.load_model(MODEL)) == reference
    assert json.loads((entry / "manifest.json").read_text())["py_file"] == "model.py"


def test_tampered_translation_with_forged_hash_is_not_imported(warm, marker: Path) -> None:
    """An attacker who also rewrites the manifest's hash still meets the allow-list."""
    entry, clean, _ = warm
    py = entry / "model.py"
    py.write_text(clean + f"\n{PAYLOAD}\n", encoding="utf-8")
    manifest = json.loads((entry / "manifest.json").read_text())
    import hashlib

    manifest["py_sha256"] = hashlib.sha256(py.read_bytes()).hexdigest()
    (entry / "manifest.json").write_text(json.dumps(manifest))
    try:
        sdcluster.load_model(MODEL).run()
    except UnsafeModelError as exc:
        assert "macro_only.mdl" in str(exc)
    assert not marker.exists()


def test_tampered_macro_module_is_not_imported(warm, marker: Path) -> None:
    """Macro sub-modules live next to model.py and are loaded by PySD too."""
    entry, _, reference = warm
    macro = entry / "growth_macro.py"
    assert macro.exists()
    macro.write_text(macro.read_text(encoding="utf-8") + f"\n{PAYLOAD}\n", encoding="utf-8")
    try:
        assert _firms(sdcluster.load_model(MODEL)) == reference
    except UnsafeModelError as exc:
        assert "macro_only.mdl" in str(exc)
    assert not marker.exists()
