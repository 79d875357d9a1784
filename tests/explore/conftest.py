"""Fixtures of the explorer tests: explorers on a small and on the policy model, served on a free port,
and a Playwright browser on Debian's chromium (pytest-playwright's ``page`` fixture)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
SMALL = HERE.parent / "ensemble" / "fixtures"      # functions.mdl: 40 years, a few hundred microseconds a run
ROOT = HERE.parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


def chromium() -> str:
    exe = os.environ.get("SDCLUSTER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(exe).exists():
        return exe
    msg = "Chromium not found: install Debian's package with 'apt-get install -y chromium'"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's chromium (Playwright's own download is not available)."""
    return {**browser_type_launch_args, "executable_path": chromium(), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots (CI artefacts): $SDCLUSTER_ARTIFACTS, default ./artifacts."""
    folder = Path(os.environ.get("SDCLUSTER_ARTIFACTS") or "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def small_dir() -> Path:
    """Folder of the small test model (functions.mdl), its scenarios and uncertainty spec."""
    return SMALL


@pytest.fixture(scope="session")
def small_explorer(tmp_path_factory):
    """Baseline and a growth-boost scenario of the small test model, 100-run band."""
    from sdcluster.explore import build_explorer

    return build_explorer([str(SMALL / "baseline.yaml"), str(SMALL / "subsidy.yaml")],
                          uncertain=SMALL / "uncertain.yaml", runs=100,
                          save_dir=tmp_path_factory.mktemp("saved"))


@pytest.fixture(scope="session")
def small_url(small_explorer):
    """The small explorer served on a free port of 127.0.0.1 for the session."""
    from sdcluster.explore.server import serve_in_thread, url

    server, thread = serve_in_thread(small_explorer, port=0)
    yield url(server)
    server.shutdown()
    thread.join(timeout=10)
