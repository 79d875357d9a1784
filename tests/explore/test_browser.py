"""The explorer end to end in a real browser (Playwright driving Debian's chromium).

Every number checked on the page is compared with a direct :meth:`Model.run`
of the same setting written independently of the explorer. Screenshots go to
``$SDCLUSTER_ARTIFACTS`` (default ``./artifacts``); docs/explorer.md shows them.
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml
import xarray as xr

from sdcluster.cli import main
from sdcluster.analysis.lifecycle import STAGES, stages
from sdcluster.scenarios.schedules import Step

pytestmark = pytest.mark.browser

#: Reads one trace of the chart: the plotly figure's data as the browser holds it.
TRACE_JS = """([variable, role]) => {
  const plot = document.querySelector('#chart .js-plotly-plot');
  const t = plot.data.find(d => d.meta && d.meta.variable === variable && d.meta.role === role);
  if (!t) return null;
  if (!t.y.bdata) return Array.from(t.y);
  // plotly >= 6 sends arrays as base64 typed arrays
  const bytes = Uint8Array.from(atob(t.y.bdata), c => c.charCodeAt(0));
  return Array.from(t.y.dtype === 'f8' ? new Float64Array(bytes.buffer) : new Float32Array(bytes.buffer));
}"""


def card(page, ident: str) -> float:
    return float(page.locator(f"#{ident} .card-value").get_attribute("data-value"))


def wait_for_card_change(page, ident: str, old: float) -> float:
    page.wait_for_function(
        "([id, old]) => { const e = document.querySelector('#' + id + ' .card-value');"
        " return e && parseFloat(e.dataset.value) !== old; }", arg=[ident, old], timeout=30_000)
    return card(page, ident)


def field(page, key: str):
    return page.locator(f"input[name='{key}']")


def type_value(page, key: str, text: str) -> None:
    f = field(page, key)
    f.fill(text)
    f.press("Enter")


def open_page(page, url: str) -> float:
    page.goto(url)
    page.wait_for_selector("#card-kpi .card-value", timeout=60_000)
    return card(page, "card-kpi")


def direct_stock_a(model, amount: float, start: float, duration: float) -> np.ndarray:
    step = Step(start=start, amount=amount, end=start + duration)
    return model.run(params={"growth rate": lambda t: 0.3 + step(t)}, outputs=["stock a"])["stock_a"].values


def test_typing_and_sliding_update_chart_and_cards_to_direct_runs(page, small_url, small_explorer, artifacts):
    model = small_explorer.model
    first = open_page(page, small_url)
    assert first == pytest.approx(direct_stock_a(model, 0.1, 5.0, 10.0)[-1], rel=1e-9)

    type_value(page, "growth_rate.amount", "0.47")  # between two slider steps of 0.02: kept as typed
    value = wait_for_card_change(page, "card-kpi", first)
    expected = direct_stock_a(model, 0.47, 5.0, 10.0)
    assert value == pytest.approx(expected[-1], rel=1e-9)
    np.testing.assert_allclose(page.evaluate(TRACE_JS, ["stock_a", "explored"]), expected, rtol=1e-9)
    reference = model.run(outputs=["stock a"])["stock_a"].values
    np.testing.assert_allclose(page.evaluate(TRACE_JS, ["stock_a", "reference"]), reference, rtol=1e-9)
    assert card(page, "card-gain") == pytest.approx(expected[-1] - reference[-1], rel=1e-9)
    assert page.evaluate(TRACE_JS, ["stock_a", "low"]) is not None  # the band is drawn
    # life-cycle stage labels: those of the explored trajectory (sdcluster.analysis.lifecycle)
    labels = page.evaluate("() => document.querySelector('#chart .js-plotly-plot').layout.annotations"
                           ".map(a => a.text)")
    run = xr.DataArray(expected, coords={"time": np.arange(0, 40.25, 0.25)}, dims="time", name="stock_a")
    assert [a for a in labels if a in STAGES] == [st.name for st in stages(run)]

    # the slider: keyboard on its thumb moves the start by two steps of 0.5 years
    thumb = page.locator("[id*='growth_rate.start'] [role=slider]")
    thumb.focus()
    thumb.press("ArrowRight")
    thumb.press("ArrowRight")
    page.mouse.click(5, 5)  # release focus (updatemode mouseup)
    value = wait_for_card_change(page, "card-kpi", value)
    assert field(page, "growth_rate.start").input_value() == "6"
    assert field(page, "growth_rate.amount").input_value() == "0.47"
    assert value == pytest.approx(direct_stock_a(model, 0.47, 6.0, 10.0)[-1], rel=1e-9)
    assert "growth_rate.start=6" in page.url  # the address bar follows the view
    page.screenshot(path=str(artifacts / "explore_small.png"), full_page=True)


def test_bad_values_get_an_inline_message_and_change_nothing(page, small_url):
    before = open_page(page, small_url)
    type_value(page, "growth_rate.amount", "abc")
    message = page.locator("[id*='growth_rate.amount'][id*='message']")
    message.wait_for(state="visible")
    assert "'abc' is not a number" in message.inner_text()
    type_value(page, "growth_rate.amount", "9")
    page.wait_for_function("() => document.body.innerText.includes('outside the declared range')")
    assert "[-0.3, 1.7] 1/Year" in message.inner_text()
    page.locator("input[name='kpi']").fill("stock_b@end")
    page.locator("input[name='kpi']").press("Enter")
    page.wait_for_function("() => document.querySelector('#kpi-message').innerText.includes('stock_b')")
    assert card(page, "card-kpi") == before
    assert "Traceback" not in page.content()


def test_the_url_reproduces_the_view(page, small_url, small_explorer):
    query = "?growth_rate.amount=0.7&growth_rate.start=3&growth_rate.duration=4&ref=growth_boost&kpi=stock_a%4020"
    value = open_page(page, small_url + query)
    assert field(page, "growth_rate.amount").input_value() == "0.7"
    expected = direct_stock_a(small_explorer.model, 0.7, 3.0, 4.0)
    times = np.arange(0, 40.25, 0.25)
    assert value == pytest.approx(np.interp(20.0, times, expected), rel=1e-9)
    boost = direct_stock_a(small_explorer.model, 0.1, 5.0, 10.0)  # the reference chosen in the link
    assert card(page, "card-gain") == pytest.approx(value - np.interp(20.0, times, boost), rel=1e-9)


def test_save_as_scenario_runs_and_download_gives_csv(page, small_url, small_explorer, tmp_path):
    open_page(page, small_url + "?growth_rate.amount=0.25&growth_rate.duration=20")
    page.locator("input[name='save-name']").fill("from_the_browser")
    page.get_by_role("button", name="Save as scenario").click()
    page.wait_for_function("() => document.querySelector('#save-message').innerText.startsWith('saved')")
    page.get_by_role("button", name="Save as scenario").click()  # the same name again: refused inline
    page.wait_for_function("() => document.querySelector('#save-message').innerText.includes('already exists')")
    saved = small_explorer.save_dir / "from_the_browser.yaml"
    out = tmp_path / "saved.nc"
    assert main(["run", str(saved), "-o", str(out)]) == 0
    with xr.open_dataset(out) as ds:
        np.testing.assert_allclose(ds["stock_a"].isel(scenario=0),
                                   direct_stock_a(small_explorer.model, 0.25, 5.0, 20.0), rtol=1e-9)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    text = (tmp_path / "r.csv")
    info.value.save_as(text)
    body = text.read_text()
    assert "stock_a_p05" in body and not body.startswith("#")  # plain CSV; the view is in the URL and .nc


def test_policy_model_brokering_budget(page, artifacts, tmp_path, repo_root):
    from sdcluster.explore import build_explorer
    from sdcluster.explore.server import serve_in_thread, url

    explorer = build_explorer([str(repo_root / "scenarios" / "baseline.yaml"),
                               str(repo_root / "scenarios" / "brokering.yaml")],
                              uncertain=repo_root / "tests" / "explore" / "fixtures" / "cluster_policy_uncertain.yaml",
                              runs=100, save_dir=tmp_path)
    server, thread = serve_in_thread(explorer, port=0)
    try:
        first = open_page(page, url(server) + "?outputs=firms,value_added")
        type_value(page, "brokering_budget.amount", "3")
        value = wait_for_card_change(page, "card-kpi", first)
        step = Step(start=2.0, amount=3.0, end=12.0)
        direct = explorer.model.run(params={"brokering budget": step, "technology shift devaluation fraction": 0},
                                    outputs=["Firms", "cumulative public cost"], final_time=60, time_step=0.03125,
                                    saveper=1)
        assert value == pytest.approx(float(direct["firms"][-1]), rel=1e-9)
        assert card(page, "card-cost") == pytest.approx(30.0, rel=1e-9)  # 3 million/year for 10 years
        assert 0.0 <= card(page, "card-p") <= 100.0
        # the dominant loop is computed on request (seconds), and names a loop group of the model
        page.click("#loop-compute")
        page.wait_for_selector("#loop-result .loop-group", timeout=60_000)
        groups = yaml.safe_load((repo_root / "models" / "cluster_policy.loops.yaml").read_text(encoding="utf-8"))
        assert page.locator("#loop-result .loop-group").inner_text() in groups
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifacts / "explore_policy.png"), full_page=True)
    finally:
        server.shutdown()
        thread.join(timeout=10)
