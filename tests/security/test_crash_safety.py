"""A process killed while writing leaves the previous complete file or none.

Each test starts a subprocess whose writer is made slow on purpose: it writes
part of the file, prints ``WRITING`` and sleeps. The test then kills the
process with SIGKILL (no clean-up handlers run) and inspects the target.
"""
from __future__ import annotations

import os
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
from sdcluster.io import atomic_write
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
    path_or_buf.flush()
    stall(path_or_buf.name)
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


@pytest.mark.slow
def test_compare_killed_mid_write_keeps_previous_outputs(tmp_path: Path) -> None:
    model_file = LEGAL / "macro_only.mdl"
    (tmp_path / "base.yaml").write_text(f"model: {model_file}\nname: base\n", encoding="utf-8")
    fast = tmp_path / "fast.yaml"
    fast.write_text("extends: base.yaml\nname: fast\nparameters: {growth rate: 0.2}\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["compare", "base.yaml", "fast.yaml", "--baseline", "base", "--formats", "png", "-o", str(out)]
    done = subprocess.run([sys.executable, "-m", "sdcluster", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    fast.write_text("extends: base.yaml\nname: fast\nparameters: {growth rate: 0.3}\n", encoding="utf-8")
    _kill_while_writing([_CLI_TEXT, *args], tmp_path)
    parts = [p for p in out.rglob("*.part")]
    assert parts, "the kill did not happen during a write"
    for part in parts:
        target = part.with_name(part.name[1:].rsplit(".", 2)[0])  # .NAME.<random>.part -> NAME
        assert target in before
        assert target.read_bytes() == before[target], f"{target.name} changed although its write was killed"
    for path in out.rglob("*.nc"):  # whatever was replaced before the kill is complete
        with xr.open_dataset(path) as ds:
            assert ds.sizes["time"] > 0
