"""Issue 18 item 7: ``--scheduler tcp://...`` against a real ``dask scheduler`` and worker.

The other Dask test passes a Client object; an address used to fail with "No
clients found" because ``as_completed`` looked for a default client.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("distributed")

FIXTURES = Path(__file__).parent / "fixtures"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A real scheduler and one worker process on 127.0.0.1, stopped at the end."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=(logs / "scheduler.log").open("w"), env=env)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        procs.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nworkers", "1",
                                       "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                      stdout=subprocess.DEVNULL, stderr=(logs / "worker.log").open("w"),
                                      env=env, cwd=str(logs)))
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.slow
def test_cli_ensemble_on_a_real_scheduler(cluster: str, tmp_path: Path) -> None:
    from sdcluster.uncertainty.ensemble import run_ensemble

    from sdcluster.cli import main

    out = tmp_path / "dask"
    argv = ["ensemble", str(FIXTURES / "baseline.yaml"), "--uncertain", str(FIXTURES / "uncertain.yaml"),
            "--runs", "8", "--chunk-size", "4", "--seed", "3", "--no-progress",
            "--model", str(FIXTURES / "functions.mdl"), "-o", str(out), "--scheduler", cluster, "--timeout", "30"]
    assert main(argv) == 0
    dask = xr.load_dataset(out / "ensemble.nc")
    assert dask.attrs["backend"] == "dask"
    # the same samples run serially in this process give identical numbers
    samples = {name[len("param_"):].replace("_", " "): dask[name].values
               for name in dask.coords if name.startswith("param_")}
    serial = run_ensemble([FIXTURES / "baseline.yaml"], samples, chunk_size=4)
    for name in ("stock_a", "inflow_a"):
        np.testing.assert_array_equal(dask[name].values, serial[name].values)
