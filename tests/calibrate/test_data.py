"""Reading and validating observations: every bad input raises DataError with a useful message."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sdcluster.calibrate import Observations, calibrate
from sdcluster.errors import DataError


def write(tmp_path, text, name="obs.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_gaps_irregular_dates_and_offset(tmp_path):
    path = write(tmp_path, "year,firms,employment\n1980,5,60\n1983,,90\n1991,40,NA\n2004,120,1500\n")
    obs = Observations.from_any(path, time_offset=1980)
    firms, emp = obs.series
    assert obs.time_column == "year"
    np.testing.assert_allclose(firms.times, [0, 11, 24])
    np.testing.assert_allclose(emp.times, [0, 3, 24])
    np.testing.assert_allclose(emp.values, [60, 90, 1500])
    assert obs.n == 6
    assert len(obs.sha256) == 64


def test_non_numeric_cell_names_line_and_column(tmp_path):
    path = write(tmp_path, "time,firms\n0,5\n1,7\n2,abc\n")
    with pytest.raises(DataError, match=r"line 4, column 'firms': 'abc' is not a number"):
        Observations.from_any(path)


def test_thousands_separator_is_rejected_with_hint(tmp_path):
    path = write(tmp_path, 'time,firms\n0,"1,200"\n')
    with pytest.raises(DataError, match="thousands separators"):
        Observations.from_any(path)


@pytest.mark.parametrize("body, pattern", [
    ("time,firms\n0,1\n1,2\n1,3\n", r"line 4, column 'time': duplicate time 1"),
    ("time,firms\n0,1\n2,2\n1,3\n", r"line 4, column 'time': time 1 comes after 2"),
    ("time,firms\n0,1\n,2\n", r"line 3, column 'time': the time is missing"),
    ("time,firms\n0,\n1,NaN\n", r"column 'firms' has no values"),
    ("time,firms\n0,1,2\n", r"line 2: 3 fields, but the header has 2"),
    ("time,firms\n", "no data rows"),
    ("", "empty data file"),
    ("time,time\n0,1\n", "duplicate column"),
    ("time\n0\n", "at least one series"),
    ("time,firms\n0,inf\n", "not a finite number"),
    ('time,firms\n0,"1\n', "malformed CSV"),
])
def test_bad_csv(tmp_path, body, pattern):
    with pytest.raises(DataError, match=pattern):
        Observations.from_any(write(tmp_path, body))


def test_binary_and_missing_files(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(DataError, match="UTF-8"):
        Observations.from_any(path)
    with pytest.raises(DataError, match="not found"):
        Observations.from_any(tmp_path / "nope.csv")


def test_time_column_unknown_suggests(tmp_path):
    path = write(tmp_path, "year,firms\n0,1\n")
    with pytest.raises(DataError, match="Did you mean 'year'"):
        Observations.from_any(path, time="yaer")


def test_mapping_weights_sigma_validation(tmp_path):
    path = write(tmp_path, "time,n_firms,jobs\n0,1,10\n1,2,20\n")
    obs = Observations.from_any(path, mapping={"n_firms": "firms"}, weights={"n_firms": 2.0}, sigma={"n_firms": 0.5})
    assert [(s.column, s.variable, s.weight, s.sigma) for s in obs.series] == [("n_firms", "firms", 2.0, 0.5)]
    with pytest.raises(DataError, match="Did you mean 'n_firms'"):
        Observations.from_any(path, mapping={"n_firm": "firms"})
    with pytest.raises(DataError, match="must be a finite number > 0"):
        Observations.from_any(path, weights={"jobs": -1})


def test_dataframe_and_dataset_inputs():
    frame = pd.DataFrame({"firms": [1.0, np.nan, 3.0]}, index=pd.Index([0.0, 1.0, 2.0], name="time"))
    obs = Observations.from_any(frame)
    np.testing.assert_allclose(obs.series[0].times, [0, 2])
    ds = xr.Dataset({"firms": ("time", [1.0, 2.0])}, coords={"time": [0.0, 5.0]})
    obs2 = Observations.from_any(ds)
    np.testing.assert_allclose(obs2.series[0].values, [1, 2])
    with pytest.raises(DataError, match="line 3, column 'firms'"):
        Observations.from_any(pd.DataFrame({"time": [0, 1], "firms": [1, "x"]}))


def test_unknown_series_suggests_model_variable(tmp_path, logistic):
    path = write(tmp_path, "time,firm\n0,5\n10,50\n")
    with pytest.raises(DataError, match="Did you mean 'firms'"):
        calibrate(logistic, path, {"growth rate": (0.1, 1)}, progress=False)


def test_observation_outside_horizon(tmp_path, logistic):
    path = write(tmp_path, "year,firms\n1980,5\n2030,50\n")
    with pytest.raises(DataError, match=r"model time 50 \(data time 2030\), outside the simulated horizon \[0, 40\]"):
        calibrate(logistic, path, {"growth rate": (0.1, 1)}, time_offset=1980, progress=False)
