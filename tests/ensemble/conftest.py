"""Fixtures for the ensemble tests."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pysd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
BUNDLED = sorted((REPO / "models").glob("*.mdl"))


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def functions_model():
    import sdcluster

    return sdcluster.load_model(FIXTURES / "functions.mdl")


def plain_pysd(model_file: Path, tmp_path: Path):
    """Load *model_file* with plain PySD, translated in a temporary copy (no sdcluster patches)."""
    copy = tmp_path / model_file.name
    shutil.copy(model_file, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if copy.suffix == ".mdl":
            return pysd.read_vensim(str(copy))
        return pysd.read_xmile(str(copy))


def sample_within_limits(model, n: int, seed: int, spread: float = 0.3) -> dict[str, np.ndarray]:
    """Random values for every parameter: default +/- *spread* (relative), kept inside declared limits."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in model.parameters:
        d = p.default
        lo, hi = p.limits
        vals = d * (1 + spread * (2 * rng.random(n) - 1)) if d != 0 else spread * rng.random(n)
        if not np.isnan(lo):
            vals = np.maximum(vals, lo)
        if not np.isnan(hi):
            vals = np.minimum(vals, hi)
        out[p.py_name] = vals
    return out


@pytest.fixture(scope="session")
def sampler():
    """``sampler(model, n, seed, spread)``: see :func:`sample_within_limits`."""
    return sample_within_limits


@pytest.fixture()
def plain(tmp_path):
    """``plain(model_file)``: the model loaded with plain PySD."""
    return lambda path: plain_pysd(path, tmp_path)
