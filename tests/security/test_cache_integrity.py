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


def _plant_bytecode(py: Path, code_text: str) -> Path:
    """Write ``__pycache__/<name>.cpython-XY.pyc`` for *py* holding *code_text*, with the
    header fields (source mtime and size) of the genuine ``py``: the import system
    would prefer it to the source."""
    import importlib.util
    from importlib._bootstrap_external import _code_to_timestamp_pyc  # type: ignore[attr-defined]

    info = py.stat()
    code = compile(code_text, str(py), "exec")
    pyc = Path(importlib.util.cache_from_source(str(py)))
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(bytes(_code_to_timestamp_pyc(code, int(info.st_mtime), info.st_size)))
    return pyc


def test_planted_bytecode_never_runs(warm, marker: Path) -> None:
    """Issue 18 item 1: a .pyc matching model.py's mtime and size used to run on a cache hit."""
    entry, clean, reference = warm
    assert not (entry / "__pycache__").exists(), "loading a translation wrote bytecode into the cache"
    pyc = _plant_bytecode(entry / "model.py", clean + f"\n{PAYLOAD}\n")
    model = sdcluster.load_model(MODEL)
    assert _firms(model) == reference
    assert not marker.exists(), "the planted bytecode ran"
    assert not pyc.exists(), "an entry holding a file outside its manifest was kept"


def test_planted_macro_bytecode_never_runs(warm, marker: Path) -> None:
    entry, _, reference = warm
    macro = entry / "growth_macro.py"
    _plant_bytecode(macro, macro.read_text(encoding="utf-8") + f"\n{PAYLOAD}\n")
    assert _firms(sdcluster.load_model(MODEL)) == reference
    assert not marker.exists()


@pytest.mark.parametrize("extra", ["evil.py", "model.pyc", "sub/x.txt"])
def test_entry_with_unlisted_file_is_discarded(warm, extra: str) -> None:
    entry, _, reference = warm
    path = entry / extra
    path.parent.mkdir(exist_ok=True)
    path.write_text(PAYLOAD, encoding="utf-8")
    assert _firms(sdcluster.load_model(MODEL)) == reference
    assert not (entry / extra.split("/")[0]).exists()


def test_checked_text_is_what_runs(warm, marker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No time-of-check/time-of-use gap: a file swapped after the check is never read again."""
    import sdcluster.core.translate as tr

    entry, clean, reference = warm
    real = tr._check_safety

    def check_then_swap(main, files, original):  # the attacker wins the race right after the check
        checked = real(main, files, original)
        (entry / "model.py").write_text(clean + f"\n{PAYLOAD}\n", encoding="utf-8")
        return checked

    monkeypatch.setattr(tr, "_check_safety", check_then_swap)
    assert _firms(sdcluster.load_model(MODEL)) == reference
    assert not marker.exists()


def test_stale_work_folders_are_removed(warm, cache_dir: Path) -> None:
    """Item 7: a killed translation leaves '.tmp-*' (with a copy of the model); old ones go."""
    import os
    import time

    old = cache_dir / ".tmp-0123456789abcdef-killed"
    young = cache_dir / ".tmp-fedcba9876543210-running"
    for folder in (old, young):
        folder.mkdir()
        (folder / "model.mdl").write_text("x", encoding="utf-8")
    past = time.time() - 2 * 3600
    os.utime(old, (past, past))
    (cache_dir / "manifest.json").unlink(missing_ok=True)
    _, clean, _ = warm
    (_entry(cache_dir) / "model.py").write_text(clean + "\n# changed\n", encoding="utf-8")
    sdcluster.load_model(MODEL)  # a miss: translating again cleans up
    assert not old.exists()
    assert young.exists(), "a young work folder may belong to a running translation"


def test_pysd_reload_and_copy_run_the_checked_text(warm, marker: Path) -> None:
    """PySD's own reload()/copy() ask its loader again: they get the checked text, not a
    file from the model's folder or the cache."""
    entry, clean, reference = warm
    model = sdcluster.load_model(MODEL)
    (entry / "model.py").write_text(clean + f"\n{PAYLOAD}\n", encoding="utf-8")
    model.pysd.reload()
    model.pysd.copy(reload=True)
    assert not marker.exists()
