"""The ``sdcluster`` command: run, info, --version, and bad input."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import xarray as xr

from sdcluster import __version__
from sdcluster.cli import main
from sdcluster.errors import ModelLoadError, ParameterError
from sdcluster.scenarios.params import parse_assignment


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"sdcluster {__version__}"


def test_run_writes_netcdf_with_provenance(fixtures, tmp_path, capsys):
    out = tmp_path / "result.nc"
    code = main(["run", str(fixtures / "small_cluster.mdl"), "--set", "initial firms=80",
                 "--set", "capacity=300", "--outputs", "firms,knowledge", "-o", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "firms" in text and "t=60 Year" in text
    with xr.open_dataset(out) as ds:
        assert list(ds.data_vars) == ["firms", "knowledge"]
        assert float(ds.firms[0]) == 80
        assert ds.firms.attrs["units"] == "firm"
        assert "initial firms" in ds.attrs["parameters"]
    assert [p.name for p in tmp_path.iterdir()] == ["result.nc"]  # no temporary leftovers


def test_run_writes_csv(fixtures, tmp_path):
    out = tmp_path / "result.csv"
    assert main(["run", str(fixtures / "small_cluster.mdl"), "--outputs", "Firms", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "time,firms"  # a plain table: spreadsheets read it as-is
    assert not any(line.startswith("#") for line in lines)
    meta = json.loads((tmp_path / "result.csv.json").read_text())  # units and provenance in a sidecar
    assert meta["variables"]["firms"]["units"] == "firm"
    assert len(meta["attrs"]["model_sha256"]) == 64
    assert pd.read_csv(out).columns.tolist() == ["time", "firms"]


def test_info_lists_parameters_and_stocks(fixtures, capsys):
    assert main(["info", str(fixtures / "small_cluster.xmile")]) == 0
    out = capsys.readouterr().out
    assert "initial firms" in out and "[0, 1000]" in out and "Knowledge" in out


@pytest.mark.parametrize("args, message", [
    (["run", "no/such/model.mdl"], "model file not found"),
    (["run", "{fixtures}/small_cluster.txt"], "unsupported model file type '.txt'"),
    (["run", "{fixtures}/small_cluster.mdl", "--set", "initial frms=3"], "Did you mean 'initial firms'"),
    (["run", "{fixtures}/small_cluster.mdl", "--set", "initial firms=lots"], "'lots' for 'initial firms' is not a number"),
    (["run", "{fixtures}/small_cluster.mdl", "--set", "initial firms=5000"], "outside its declared range"),
    (["run", "{fixtures}/small_cluster.mdl", "--final-time", "-1"], "must be after initial_time"),
    (["run", "{fixtures}/small_cluster.mdl", "--time-step", "0"], "time_step 0 must be positive"),
    (["run", "{fixtures}/small_cluster.mdl", "-o", "/no/such/dir/out.nc"], "output folder /no/such/dir does not exist"),
    (["run", "{fixtures}/small_cluster.mdl", "-o", "{tmp}/out.xlsx"], "unsupported output type '.xlsx'"),
])
def test_user_errors_print_one_line_and_exit_1(fixtures, tmp_path, capsys, args, message):
    args = [a.format(fixtures=fixtures, tmp=tmp_path) for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")


def test_error_exit_code_from_the_installed_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sdcluster", "run", str(tmp_path / "missing.mdl")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'missing.mdl'}: model file not found")
    assert "Traceback" not in proc.stderr


def test_verbose_shows_traceback():
    proc = subprocess.run([sys.executable, "-m", "sdcluster", "--verbose", "run", "missing.mdl"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "ModelLoadError" in proc.stderr


def test_unparsable_model_names_file_and_problem(tmp_path):
    bad = tmp_path / "broken.mdl"
    bad.write_text("{UTF-8}\nfirms = INTEG( entry - , 10)\n~ firm\n~ broken equation\n|\n")
    with pytest.raises(ModelLoadError) as err:
        main_load(bad)
    text = str(err.value)
    assert "broken.mdl" in text and "PySD cannot translate" in text


def test_unparsable_xmile_names_file(tmp_path):
    bad = tmp_path / "broken.xmile"
    bad.write_text("<xmile><model><variables><stock name='x'>")
    with pytest.raises(ModelLoadError, match="broken.xmile"):
        main_load(bad)


def main_load(path):
    import sdcluster

    return sdcluster.load_model(path)


def test_failed_write_keeps_previous_output(fixtures, tmp_path, monkeypatch):
    out = tmp_path / "result.nc"
    assert main(["run", str(fixtures / "small_cluster.mdl"), "-o", str(out)]) == 0
    before = out.read_bytes()

    def explode(self, path, *a, **k):
        with open(path, "wb") as fh:
            fh.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", explode)
    assert main(["run", str(fixtures / "small_cluster.mdl"), "--set", "capacity=100", "-o", str(out)]) == 1
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.nc"]


@pytest.mark.parametrize("text, expected", [
    ("initial firms=20", ("initial firms", 20.0)),
    ("x = -1.5e3", ("x", -1500.0)),
    ("a=b=3", ("a=b", 3.0)),
])
def test_parse_assignment(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["noequals", "=3", "x=", "x=nan", "x=inf", "x=1,5"])
def test_parse_assignment_rejects(text):
    with pytest.raises(ParameterError):
        parse_assignment(text)


def test_bundled_model_by_name_and_unknown_name():
    import sdcluster

    with pytest.raises(ModelLoadError, match="not a bundled model name"):
        sdcluster.load_model("no_such_bundled_model")
    bundled = sdcluster.core.model.bundled_models()
    assert all(shutil.os.path.exists(p) for p in bundled.values())
