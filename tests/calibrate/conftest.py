"""Fixtures for the calibration tests: small models and synthetic observations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from calib_helpers import FIXTURES, synthetic

import sdcluster


@pytest.fixture(scope="session")
def logistic():
    return sdcluster.load_model(FIXTURES / "logistic.mdl")


@pytest.fixture(scope="session")
def unidentifiable():
    return sdcluster.load_model(FIXTURES / "unidentifiable.mdl")


@pytest.fixture(scope="session")
def nan_trap():
    return sdcluster.load_model(FIXTURES / "nan_trap.mdl")


@pytest.fixture
def obs_csv(tmp_path, logistic) -> Path:
    """A CSV with the synthetic series, a gap in employment."""
    frame = synthetic(logistic)
    frame.loc[[2, 6], "employment"] = np.nan
    path = tmp_path / "obs.csv"
    frame.to_csv(path, index=False)
    return path
