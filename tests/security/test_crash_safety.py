"""A process killed while writing leaves the previous complete file or none.

Each test starts a subprocess whose writer is made slow on purpose: it writes
part of the file, prints ``WRITING`` and sleeps. The test then kills the
process with SIGKILL (no clean-up handlers run) and inspects the target.
Output folders (``compare``, ``ensemble``, ``sensitivity``) are also killed at
random moments and after failures: the folder is always the previous one or a
complete new one, never a mixture, a half-filled or an empty one.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr
from security_helpers import LEGAL

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL semantics are POSIX")

MODEL = LEGAL / "unusual_names.mdl"

#: a writer that writes half of its bytes to the temporary file, then stalls
_DIRECT = r'''
import sys, time
from sdcluster.outputs.io import atomic_write
payload = b"NEW-" + b"x" * 1_000_000
def slow_writer(tmp):
    with open(tmp, "wb") as fh:
        fh.write(payload[: len(payload) // 2])
        fh.flush()
        print("WRITING", flush=True)
        time.sleep(120)
        fh.write(payload[len(payload) // 2:])
atomic_write(sys.argv[1], slow_writer)
'''

#: ``sdcluster run`` with the netCDF/CSV writer stalled after writing part of the file
_CLI = r'''
import sys, time
import pandas as pd
import xarray as xr

def stall(tmp):
    with open(tmp, "r+b") as fh:
        size = fh.seek(0, 2)
        fh.truncate(size // 2)
    print("WRITING", flush=True)
    time.sleep(120)

original_nc, original_csv = xr.Dataset.to_netcdf, pd.DataFrame.to_csv
def slow_nc(self, path=None, *a, **k):
    original_nc(self, path, *a, **k)
    stall(path)
def slow_csv(self, path_or_buf=None, *a, **k):
    out = original_csv(self, path_or_buf, *a, **k)
    if hasattr(path_or_buf, "flush"):
        path_or_buf.flush()
        path_or_buf = path_or_buf.name
    stall(path_or_buf)
    return out
xr.Dataset.to_netcdf, pd.DataFrame.to_csv = slow_nc, slow_csv
from sdcluster.cli import main
sys.exit(main(sys.argv[1:]))
'''


#: any command; the first text file written through a ``.part`` temporary stalls half-way
_CLI_TEXT = r'''
import pathlib, sys, time
original = pathlib.Path.write_text
def slow_write_text(self, data, *a, **k):
    if not self.name.endswith(".part"):
        return original(self, data, *a, **k)
    original(self, data[: len(data) // 2], *a, **k)
    print("WRITING", flush=True)
    time.sleep(120)
pathlib.Path.write_text = slow_write_text
from sdcluster.cli import main
sys.exit(main(sys.argv[1:]))
'''


def _kill_while_writing(args: list[str], cwd: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "WRITING":
                break
            if time.monotonic() > deadline:  # pragma: no cover - hang guard
                break
        else:
            pytest.fail(f"writer never started: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert proc.returncode == -signal.SIGKILL


def _leftovers(folder: Path, target: Path) -> list[Path]:
    """Temporary files a killed writer left: hidden, '.part', never the target name."""
    return [p for p in folder.iterdir() if p != target and p.name.startswith(f".{target.name}.")]


def test_direct_atomic_write_killed_without_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    _kill_while_writing([_DIRECT, str(target)], tmp_path)
    assert not target.exists()
    for part in _leftovers(tmp_path, target):
        assert part.name.endswith(".part")  # recognisably incomplete, never loaded as the output


def test_direct_atomic_write_killed_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"OLD complete content")
    _kill_while_writing([_DIRECT, str(target)], tmp_path)
    assert target.read_bytes() == b"OLD complete content"


@pytest.mark.slow
def test_run_netcdf_killed_mid_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.nc"
    _kill_while_writing([_CLI, "run", str(MODEL), "-o", str(target)], tmp_path)
    assert not target.exists()
    assert all(p.name.endswith(".part") for p in _leftovers(tmp_path, target))


@pytest.mark.slow
def test_run_netcdf_killed_mid_write_keeps_previous_result(tmp_path: Path) -> None:
    target = tmp_path / "out.nc"
    done = subprocess.run([sys.executable, "-m", "sdcluster", "run", str(MODEL), "-o", str(target)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    before = target.read_bytes()
    _kill_while_writing([_CLI, "run", str(MODEL), "--final-time", "3", "-o", str(target)], tmp_path)
    assert target.read_bytes() == before
    with xr.open_dataset(target) as ds:  # still the complete previous result
        assert float(ds["time"].max()) == 5.0


@pytest.mark.slow
def test_run_csv_killed_mid_write_keeps_previous_result(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous complete table\n", encoding="utf-8")
    _kill_while_writing([_CLI, "run", str(MODEL), "-o", str(target)], tmp_path)
    assert target.read_text(encoding="utf-8") == "previous complete table\n"
    assert not (tmp_path / "out.csv.json").exists()  # no new metadata beside the old table


@pytest.mark.slow
def test_calibrate_killed_mid_write_keeps_previous_scenario(tmp_path: Path) -> None:
    model_file = LEGAL / "macro_only.mdl"
    obs = tmp_path / "obs.csv"
    obs.write_text("time,firms\n0,10\n1,11.5\n2,13.2\n3,15.2\n4,17.5\n5,20.1\n", encoding="utf-8")
    target = tmp_path / "fitted.yaml"
    target.write_text("name: previous\n", encoding="utf-8")
    _kill_while_writing([_CLI_TEXT, "calibrate", str(model_file), "--data", str(obs),
                         "--param", "growth rate=0:1", "--no-progress", "-o", str(target)], tmp_path)
    assert target.read_text(encoding="utf-8") == "name: previous\n"
    assert all(p.name.endswith(".part") for p in _leftovers(tmp_path, target))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _assert_whole(folder: Path) -> None:
    """*folder* is one complete output: exactly the files its manifest lists, with their hashes; no empty folder."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    files = _snapshot(folder)
    assert set(files) == set(manifest["files"]) | {"manifest.json"}
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == entry["sha256"], name
    assert all(any(d.iterdir()) for d in folder.rglob("*") if d.is_dir()), "an empty folder was left"


def _compare_setup(tmp_path: Path) -> tuple[list[str], Path]:
    model_file = LEGAL / "macro_only.mdl"
    (tmp_path / "base.yaml").write_text(f"model: {model_file}\nname: base\n", encoding="utf-8")
    (tmp_path / "fast.yaml").write_text("extends: base.yaml\nname: fast\nparameters: {growth rate: 0.2}\n",
                                        encoding="utf-8")
    out = tmp_path / "out"
    return ["compare", "base.yaml", "fast.yaml", "--baseline", "base", "--formats", "png", "-o", str(out)], out


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdcluster", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _set_rate(tmp_path: Path, rate: float) -> None:
    """Change the 'fast' scenario so that the next compare writes different numbers."""
    (tmp_path / "fast.yaml").write_text(f"extends: base.yaml\nname: fast\nparameters: {{growth rate: {rate}}}\n",
                                        encoding="utf-8")


@pytest.mark.slow
def test_compare_killed_mid_write_or_at_random_moments_leaves_a_whole_folder(tmp_path: Path) -> None:
    args, out = _compare_setup(tmp_path)
    start = time.monotonic()
    done = _cli(args, tmp_path)
    duration = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-2000:]
    before = _snapshot(out)
    _set_rate(tmp_path, 0.3)
    _kill_while_writing([_CLI_TEXT, *args], tmp_path)  # killed while writing kpis.md into the new folder
    assert _snapshot(out) == before
    assert any(p.name.startswith(".out.part-") for p in tmp_path.iterdir()), "not killed while writing"
    rng = random.Random(12)
    for i in range(3):  # SIGKILL at random moments: the folder is always the previous one or a whole new one
        _set_rate(tmp_path, 0.21 + 0.01 * i)
        proc = subprocess.Popen([sys.executable, "-m", "sdcluster", *args], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.4, 1.1) * duration
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode in (0, -signal.SIGKILL)
        now = _snapshot(out)
        _assert_whole(out)  # exactly the files its manifest lists, each with its hash: no mixture
        if proc.returncode == 0:
            assert now != before
        before = now
    _set_rate(tmp_path, 0.4)
    done = _cli(args, tmp_path)  # the next run replaces the folder and removes what killed runs left
    assert done.returncode == 0, done.stderr[-2000:]
    assert _snapshot(out) != before
    _assert_whole(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "fast.yaml", "out"]


def test_failed_compare_keeps_previous_folder_and_creates_none(tmp_path: Path, monkeypatch, capsys) -> None:
    from sdcluster import plot
    from sdcluster.cli import main

    monkeypatch.chdir(tmp_path)
    args, out = _compare_setup(tmp_path)
    assert main(args) == 0
    before = _snapshot(out)
    assert main([*args, "--kpi", "frims@end"]) == 1  # a bad KPI
    assert "frims" in capsys.readouterr().err
    assert main([*args[:-1], str(tmp_path / "new" / "deeper"), "--kpi", "frims@end"]) == 1

    def broken(*a, **k):  # fails after results.nc, the tables and no figure have been written
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(plot, "save_figure", broken)
    with pytest.raises(OSError):
        main(args)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "fast.yaml", "out"]  # no new or empty folder
