"""The HTML report: self-contained, complete, escaped, well-formed."""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sdcluster import compare, lifecycle, plot, report  # noqa: E402

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr", "area", "base"}


class Checker(HTMLParser):
    """Collects tags and checks that every non-void element is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> but open: {self.stack[-3:]}")
        else:
            self.stack.pop()


def parse(text: str) -> Checker:
    c = Checker()
    c.feed(text)
    c.close()
    return c


@pytest.fixture(scope="module")
def built(results_module):
    ds = results_module
    tab = compare.kpi_table(ds, ["firms@30", "firms:t>=50", "firms@30/cost"], baseline="baseline")
    smap = lifecycle.stages_by_scenario(ds["firms"])
    figs = plot.comparison_figures(ds, "baseline", tab, "firms", smap)
    html = report.build_report(ds, tab, baseline="baseline", figures=figs, stage_map=smap, stage_variable="firms",
                               title="Brokering & platforms <test>")
    for f in figs.values():
        plt.close(f)
    return html, tab, figs, smap


def test_report_is_well_formed_and_self_contained(built):
    html, _, figs, _ = built
    c = parse(html)
    assert not c.errors and not c.stack, (c.errors, c.stack)
    imgs = [a for t, a in c.tags if t == "img"]
    assert len(imgs) == len(figs)
    for a in imgs:
        assert a["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(a["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.get("alt")
    # nothing is fetched from elsewhere: only data: images, in-page links, no scripts
    for t, a in c.tags:
        for key in ("src", "href"):
            if key in a:
                assert a[key].startswith(("data:", "#")), (t, a[key][:60])
    assert not any(t in ("script", "link", "iframe") for t, _ in c.tags)


def test_report_holds_kpi_table_stages_scenarios_provenance(built, results_module):
    html, tab, _, smap = built
    ids = {a.get("id") for _, a in parse(html).tags}
    assert {"kpi-table", "stage-table", "provenance", "summary", "scenarios"} <= ids
    body = html[html.index('id="kpi-table"'):]
    body = body[: body.index("</table>")]
    assert body.count("<tr") == 1 + len(tab)  # header + one row per (kpi, scenario)
    for k in tab["kpi"].unique():
        assert f"<code>{k.replace('>', '&gt;')}</code>" in body
    assert "107.7" in body  # platform firms@30, as in the table
    assert results_module.attrs["model_sha256"] in html
    for sc, lst in smap.items():
        assert f"{lst[0].name} {lst[0].start:g}–{lst[0].end:g} Year" in html
    assert "Common technology platform." in html and "platform capacity" in html


def test_every_user_string_is_escaped(results_module):
    ds = results_module.copy()
    evil = '<script>alert("x")</script>'
    ds = ds.assign_coords(scenario=["baseline", evil, "platform"])
    ds.attrs = {**ds.attrs, "model_file": evil,
                "scenarios": json.dumps({evil: {"description": evil, "parameters": {evil: 1}}})}
    ds["firms"].attrs["units"] = "<b>firm</b>"
    tab = compare.kpi_table(ds, ["firms@30"], baseline="baseline")
    html = report.build_report(ds, tab, baseline="baseline", title=evil,
                               stage_map=lifecycle.stages_by_scenario(ds["firms"]), stage_variable=evil)
    assert "<script" not in html and "<b>firm" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert not parse(html).errors


def test_missing_or_odd_scenario_definitions(results_module):
    ds = results_module.copy()
    del ds.attrs["scenarios"]
    assert "no scenario definitions" in report.scenarios_html(ds)
    ds.attrs["scenarios"] = "not json {"
    assert "<pre>not json {</pre>" in report.scenarios_html(ds)


def test_write_report_atomic(tmp_path, built):
    p = report.write_report(tmp_path / "r.html", built[0])
    assert p.read_text(encoding="utf-8") == built[0]
    assert [x.name for x in tmp_path.iterdir()] == ["r.html"]
    assert re.search(r"<title>Brokering &amp; platforms &lt;test&gt;</title>", built[0])
