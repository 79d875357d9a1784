"""Test-wide settings: every test session translates into its own cache folder."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Set before sdcluster is imported anywhere, so the whole session (and the
# sub-processes tests start, which inherit the environment) never touches the
# user's real cache.
os.environ.setdefault("SDCLUSTER_CACHE_DIR", tempfile.mkdtemp(prefix="sdcluster-test-cache-"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder."""
    return ROOT
