"""``sdcluster.outputs.io.atomic_output_dir``: a folder of results is replaced whole, or not at all."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sdcluster.errors import OutputError
from sdcluster.outputs.io import MANIFEST, atomic_output_dir, check_output_dir


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def contents(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in folder.rglob("*") if p.is_file()}


def test_new_folder_is_swapped_in_whole_with_a_manifest(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with atomic_output_dir(out, command="test") as tmp:
        assert tmp.parent == out.parent and tmp.name.startswith(".out.part-") and not out.exists()
        write(tmp, {"x.csv": "1\n", "figures/f.png": "png"})
        (tmp / "empty").mkdir()
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["command"] == "test" and manifest["generator"].startswith("sdcluster ")
    assert manifest["files"]["figures/f.png"] == {"bytes": 3, "sha256": hashlib.sha256(b"png").hexdigest()}
    assert not (out / "empty").exists()  # no empty folders
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no temporary folder left


def test_previous_folder_is_replaced_only_on_success(tmp_path):
    out = tmp_path / "out"
    with atomic_output_dir(out) as tmp:
        write(tmp, {"old.txt": "old", "figures/old.png": "o"})
    before = contents(out)
    with pytest.raises(RuntimeError), atomic_output_dir(out) as tmp:
        write(tmp, {"new.txt": "new"})
        raise RuntimeError("the run failed")
    assert contents(out) == before
    with atomic_output_dir(out) as tmp:
        write(tmp, {"new.txt": "new"})
    assert set(contents(out)) == {"new.txt", MANIFEST}  # nothing of the previous run is left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_without_renameat2(tmp_path, monkeypatch):
    import sdcluster.outputs.io

    monkeypatch.setattr(sdcluster.outputs.io, "_exchange", lambda a, b: False)  # e.g. not Linux
    out = tmp_path / "out"
    for text in ("first", "second"):
        with atomic_output_dir(out) as tmp:
            write(tmp, {"r.txt": text})
    assert contents(out)["r.txt"] == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_removes_the_parent_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError), atomic_output_dir(tmp_path / "new" / "deeper" / "out"):
        raise RuntimeError("failed")
    assert list(tmp_path.iterdir()) == []


def test_folders_that_are_not_sdcluster_outputs_are_refused(tmp_path, monkeypatch):
    notes = tmp_path / "notes"
    write(notes, {"mine.txt": "my notes"})
    with pytest.raises(OutputError, match=r"holds mine.txt, which sdcluster did not write.*no manifest.json"):
        check_output_dir(notes)
    out = tmp_path / "out"
    with atomic_output_dir(out) as tmp:
        write(tmp, {"r.nc": "r"})
    write(out, {"added later.txt": "x"})
    with pytest.raises(OutputError, match=r"holds added later.txt.*not in its manifest.json"):
        check_output_dir(out)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(tmp_path / "file")
    (tmp_path / "link").symlink_to(out)
    with pytest.raises(OutputError, match="is a symbolic link"):
        check_output_dir(tmp_path / "link")
    monkeypatch.chdir(out)
    with pytest.raises(OutputError, match="is the current folder"):
        check_output_dir(".")
    with pytest.raises(OutputError, match="is the current folder"):
        check_output_dir("..")
    (tmp_path / "empty").mkdir()
    assert check_output_dir(tmp_path / "empty") == tmp_path / "empty"


def test_leftovers_of_killed_runs_are_cleaned_or_restored(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a process id that has ended
    out = tmp_path / "out"
    part = tmp_path / f".out.part-{dead}-abc"
    write(part, {"half.nc": "half"})
    old = tmp_path / f".out.old-{dead}-xyz"  # killed between the two renames of a swap without renameat2
    write(old, {"previous.nc": "p", MANIFEST: json.dumps({"files": {"previous.nc": {}}})})
    with atomic_output_dir(out) as tmp:
        assert not part.exists()  # a killed run's temporary folder is deleted
        assert contents(out) == {"previous.nc": "p", MANIFEST: json.dumps({"files": {"previous.nc": {}}})}
        write(tmp, {"new.nc": "n"})
    assert set(contents(out)) == {"new.nc", MANIFEST}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
