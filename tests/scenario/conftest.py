"""Fixtures for scenario tests: a tiny model of our own and a YAML writer."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Callable

import pytest

import sdcluster

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tiny_model() -> sdcluster.Model:
    """The tiny two-stock test model (budget parameter defaults to 0, range [0, 10])."""
    return sdcluster.load_model(FIXTURES / "tiny.mdl")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A temporary folder holding a copy of tiny.mdl."""
    shutil.copy(FIXTURES / "tiny.mdl", tmp_path / "tiny.mdl")
    return tmp_path


@pytest.fixture
def write(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """``write(name, yaml_text)`` writes a (dedented) file into ``folder`` and returns its path.

    The working directory is ``folder`` so messages name files as ``x.yaml``.
    """
    monkeypatch.chdir(folder)

    def _write(name: str, text: str) -> Path:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write
