"""Fixtures of the policy-design tests: a two-lever test model of our own and a policy space on it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture()
def space_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture folder (model, scenarios, uncertainty, space)."""
    dest = tmp_path / "fx"
    shutil.copytree(FIXTURES, dest)
    return dest


@pytest.fixture(scope="session")
def space_file() -> Path:
    return FIXTURES / "space.yaml"


@pytest.fixture(scope="session")
def model():
    from sdcluster.core.model import load_model

    return load_model(FIXTURES / "two_levers.mdl")


@pytest.fixture(scope="session")
def result(model, space_file):
    """One small optimisation of the fixture space (shared by the output tests)."""
    from sdcluster.design import optimize

    return optimize(space_file, model=model)
