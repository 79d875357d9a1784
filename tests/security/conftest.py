"""Fixtures for the security tests: a private translation cache and a payload marker.

Every hostile model in ``hostile/`` carries the same payload::

    __import__("pathlib").Path(__import__("os").environ.get("SDC_HOSTILE_MARKER")).touch()

so a test points ``SDC_HOSTILE_MARKER`` at a file in its own ``tmp_path`` and
asserts that the file never appears.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from security_helpers import MARKER_ENV


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty translation cache used only by this test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SDCLUSTER_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Path the hostile payloads would create; it must never exist."""
    path = tmp_path / "PAYLOAD_RAN"
    monkeypatch.setenv(MARKER_ENV, str(path))
    return path
