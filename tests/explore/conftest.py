"""Fixtures of the explorer tests: explorers on a small model, served on a free port, and a
Playwright browser on Debian's chromium."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SMALL = HERE.parent / "ensemble" / "fixtures"      # functions.mdl: 40 years, a few hundred microseconds a run
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


def chromium() -> str:
    exe = os.environ.get("SDCLUSTER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(exe).exists():
        return exe
    msg = "Chromium not found: install Debian's package with 'apt-get install -y chromium'"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (its own browser download is not available here).

    Module-scoped on purpose: while Playwright's sync API is running, ``asyncio.run`` fails in
    the same thread, so it must be stopped before other test modules run.
    """
    from playwright.sync_api import sync_playwright

    exe = chromium()
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh page (own context: no shared cookies or storage) of 1400 x 1000 pixels."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    yield context.new_page()
    context.close()


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
