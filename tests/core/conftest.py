from __future__ import annotations

import shutil
from pathlib import Path

import pysd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture()
def pure_pysd(tmp_path):
    """Load a fixture with plain PySD (translated in a temp copy), without sdcluster's patches."""
    def load(name: str):
        copy = tmp_path / name
        shutil.copy(FIXTURES / name, copy)
        if copy.suffix == ".mdl":
            return pysd.read_vensim(str(copy))
        return pysd.read_xmile(str(copy))
    return load
