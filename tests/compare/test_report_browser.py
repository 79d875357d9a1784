"""The brief in a real browser: Playwright driving Debian's ``chromium`` (never a downloaded browser).

For each question the first screen (the viewport scrolled to the question) must show
the question, the finding and the cost-outcome chart, fully decoded; the appendix
must be collapsed (its tables not rendered) and open on a click. Screenshots go to
``$SDCLUSTER_ARTIFACTS`` (the CI artefact folder) when set, else to the test's
temporary folder.

Without Chromium or Playwright the test fails when the ``CI`` environment variable is
set (``.ci/run`` installs both) and is skipped elsewhere.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest

from sdcluster.cli import main

pytestmark = pytest.mark.browser

ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 900}


def _missing(msg: str):
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def chromium() -> str:
    exe = os.environ.get("SDCLUSTER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        _missing("Chromium not found: install Debian's package with 'apt-get install -y chromium' "
                 "(or set SDCLUSTER_CHROMIUM)")
    return exe


@pytest.fixture(scope="module")
def browser():
    exe = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the 'playwright' package is missing: pip install -e '.[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


def in_viewport(page, selector: str) -> bool:
    """The element's box lies entirely inside the viewport."""
    return page.evaluate("""s => { const r = document.querySelector(s).getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }""", selector)


def test_each_question_opens_with_question_finding_and_chart(browser, brief_results, tmp_path):
    brief_results.to_netcdf(tmp_path / "in.nc")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["compare", str(tmp_path / "in.nc"), "--formats", "png", "-o", str(tmp_path / "out")]) == 0
    folder = Path(os.environ.get("SDCLUSTER_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=VIEWPORT)
    page.goto((tmp_path / "out" / "report.html").as_uri())
    page.screenshot(path=str(folder / "brief_top.png"))  # first, so the artefact exists if a check fails
    ids = page.eval_on_selector_all("section.question", "els => els.map(e => e.id)")
    assert ids == ["q1", "q2", "q3"]
    for qid in ids:
        page.evaluate(f"document.getElementById('{qid}').scrollIntoView()")
        page.screenshot(path=str(folder / f"brief_{qid}.png"))
        assert in_viewport(page, f"#{qid} h2.question-text")
        assert in_viewport(page, f"#{qid} p.finding")
        assert in_viewport(page, f"#{qid} figure img")
        assert page.evaluate(f"document.querySelector('#{qid} figure img').naturalWidth") > 0
    assert page.locator("#q2 p.finding").inner_text().startswith("Finding. Platform does most")
    assert page.locator("#q3 figure").get_attribute("class") == "cost-outcome"
    # the appendix is collapsed: its KPI table is not rendered until the reader opens it
    assert page.evaluate("document.getElementById('appendix').open") is False
    assert not page.locator("#kpi-table").is_visible()
    height = page.evaluate("document.getElementById('appendix').getBoundingClientRect().top + window.scrollY")
    assert height < 4 * VIEWPORT["height"]  # three questions: about a screen each
    page.locator("#appendix > summary").click()
    assert page.locator("#kpi-table").is_visible()
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.close()


def test_loop_sentences_are_shown_with_the_finding(browser, loops_brief):
    """With --loops, each policy's loop-dominance sentence is rendered under its question's finding."""
    out, rc, _, groups = loops_brief
    assert rc == 0
    page = browser.new_page(viewport=VIEWPORT)
    page.goto((out / "report.html").as_uri())
    section = page.locator("section.question", has_text="Does network brokering work better early")
    items = section.locator("ul.loop-shifts li")
    assert items.count() == 2 and items.first.is_visible()
    text = items.first.inner_text()
    assert text.startswith("With brokering early, ") and any(g in text for g in groups), text
    page.close()
