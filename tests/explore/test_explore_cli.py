"""`sdcluster explore` as a process: prints its URL, serves on 127.0.0.1, stops cleanly on Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from sdcluster.cli import main


def test_explore_serves_locally_and_stops_on_ctrl_c(small_dir, tmp_path):
    cmd = [sys.executable, "-m", "sdcluster", "explore", str(small_dir / "baseline.yaml"),
           str(small_dir / "subsidy.yaml"), "--uncertain", str(small_dir / "uncertain.yaml"), "--runs", "20",
           "--port", "0", "--save-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        line = proc.stdout.readline()
        assert "open http://127.0.0.1:" in line, line + proc.stderr.read() if proc.poll() is not None else line
        url = line.split("open ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200 and b"sdcluster explore" in resp.read()
        # the page's layout holds the controls generated from the scenario files
        with urllib.request.urlopen(url + "_dash-layout", timeout=30) as resp:
            assert b"growth_rate.amount" in resp.read()
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_explore_reports_a_bad_file_without_a_traceback(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "missing.yaml"), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "missing.yaml" in err and "not found" in err and "Traceback" not in err


def test_a_port_in_use_is_reported(small_dir, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["explore", str(small_dir / "functions.mdl"), "--no-uncertainty", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_only_local_host_names_are_answered(small_url):
    """A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets nothing."""
    import urllib.error

    with urllib.request.urlopen(small_url, timeout=30) as resp:
        assert resp.status == 200
    port = small_url.rstrip("/").rsplit(":", 1)[1]
    request = urllib.request.Request(small_url, headers={"Host": f"attacker.example:{port}"})
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a foreign Host header was answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
