"""The translation cache: hits, read-only model folders, concurrent processes, tampering."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sdcluster
from sdcluster.core import translate


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("SDCLUSTER_CACHE_DIR", str(root))
    return root


@pytest.fixture()
def model_copy(tmp_path, fixtures):
    folder = tmp_path / "models"
    folder.mkdir()
    path = folder / "small_cluster.mdl"
    shutil.copy(fixtures / "small_cluster.mdl", path)
    return path


def test_second_load_is_a_cache_hit(cache, model_copy, monkeypatch):
    first = translate.translate(model_copy)
    assert first.translated and first.py_file.is_relative_to(cache)
    calls = []
    monkeypatch.setattr(translate, "_translate_without_import", lambda *a: calls.append(a))
    second = translate.translate(model_copy)
    assert not second.translated and second.py_file == first.py_file and calls == []
    sdcluster.load_model(model_copy)  # goes through the same hit
    assert calls == []


def test_changed_model_bytes_give_a_new_entry(cache, model_copy):
    first = translate.translate(model_copy)
    model_copy.write_text(model_copy.read_text().replace("12\n", "13\n", 1))
    second = translate.translate(model_copy)
    assert second.translated and second.py_file != first.py_file


def test_nothing_is_written_next_to_the_model(cache, model_copy):
    folder = model_copy.parent
    before = sorted(p.name for p in folder.iterdir())
    folder.chmod(0o555)
    try:
        sdcluster.load_model(model_copy).run(final_time=5)
    finally:
        folder.chmod(0o755)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_tampered_entry_is_translated_again(cache, model_copy):
    first = translate.translate(model_copy)
    first.py_file.write_text(first.py_file.read_text() + "\nTAMPERED = 1\n")
    again = translate.translate(model_copy)
    assert again.translated
    assert "TAMPERED" not in again.py_file.read_text()


def test_truncated_entry_is_translated_again(cache, model_copy):
    first = translate.translate(model_copy)
    manifest = first.py_file.parent / "manifest.json"
    manifest.write_text(manifest.read_text()[:10])
    again = translate.translate(model_copy)
    assert again.translated and json.loads(manifest.read_text())["source_name"] == "small_cluster.mdl"


def test_two_processes_loading_a_new_model_both_succeed(cache, model_copy):
    code = ("import sys, sdcluster; m = sdcluster.load_model(sys.argv[1]); "
            "print(float(m.run(final_time=10).firms[-1]))")
    env = {**os.environ, "SDCLUSTER_CACHE_DIR": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(model_copy)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [r[1] for r in results]
    assert len({r[0].strip() for r in results}) == 1
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp-")]


def test_unwritable_cache_is_a_clear_error(tmp_path, model_copy, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("SDCLUSTER_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(sdcluster.errors.ModelLoadError, match="SDCLUSTER_CACHE_DIR"):
        sdcluster.load_model(model_copy)


def test_cache_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("SDCLUSTER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert translate.cache_root() == Path(tmp_path) / "sdcluster"
