"""Shared fixtures of the loop-analysis tests: models load once, default runs are scored once."""
from __future__ import annotations

from pathlib import Path

import pytest

import sdcluster
from sdcluster.analysis import loops

ZOO = Path(__file__).parent / "zoo"


@pytest.fixture(scope="session")
def zoo() -> Path:
    return ZOO


@pytest.fixture(scope="session")
def cooperative():
    return sdcluster.load_model("cooperative_action.xmile")


@pytest.fixture(scope="session")
def lifecycle():
    return sdcluster.load_model("cluster_lifecycle.xmile")


@pytest.fixture(scope="session")
def cooperative_ds(cooperative):
    return loops.dominance(cooperative)


@pytest.fixture(scope="session")
def lifecycle_ds(lifecycle):
    return loops.dominance(lifecycle)
