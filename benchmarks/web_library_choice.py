#!/usr/bin/env python3
"""The measurement behind the explorer's choice of Dash over Panel (docs/explorer.md, "Why Dash").

Usage (each library in its own virtual environment, with xarray)::

    python3 -m venv /tmp/v-dash  && /tmp/v-dash/bin/pip install dash xarray
    python3 -m venv /tmp/v-panel && /tmp/v-panel/bin/pip install panel xarray
    .venv/bin/python benchmarks/web_library_choice.py /tmp/v-dash /tmp/v-panel

For each environment (the library is taken from the folder's name: ``dash`` or
``panel`` in it) the same minimal app (a number field, a chart of a 200-run
5-95 % band and a line, a KPI text) is started on a free 127.0.0.1 port and
driven by Playwright on Debian's chromium. Printed: ``import`` time, time to
the first HTTP answer, time until the page shows the KPI, and the median of 10
update round trips (type a value, wait for the KPI text). The extra install size
counts the packages of an environment that not all compared environments have
(xarray, NumPy, pandas and whatever both libraries need are left out).
"""
from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APPS = {
    "dash": '''
import sys, numpy as np
from dash import Dash, dcc, html, Input, Output
import plotly.graph_objects as go
app = Dash(__name__)
t = np.arange(61.0)
app.layout = html.Div([dcc.Input(id="amount", type="number", value=1.0, debounce=True),
                       html.Div(id="kpi"), dcc.Graph(id="chart")])
@app.callback(Output("chart", "figure"), Output("kpi", "children"), Input("amount", "value"))
def update(a):
    a = float(a or 0)
    band = np.outer(np.linspace(0.8, 1.2, 200), a * t)
    lo, hi = np.percentile(band, [5, 95], axis=0)
    fig = go.Figure([go.Scatter(x=t, y=hi, line_width=0), go.Scatter(x=t, y=lo, fill="tonexty", line_width=0),
                     go.Scatter(x=t, y=a * t)])
    return fig, f"value {a * t[-1]:.3f}"
app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=False)
''',
    "panel": '''
import sys, numpy as np, panel as pn
from bokeh.plotting import figure
from bokeh.models import ColumnDataSource
t = np.arange(61.0)
def make():
    amount = pn.widgets.FloatInput(name="amount", value=1.0)
    src = ColumnDataSource(dict(t=t, y=t, lo=t, hi=t))
    fig = figure(height=300, width=600)
    fig.varea("t", "lo", "hi", source=src, alpha=0.3); fig.line("t", "y", source=src)
    kpi = pn.pane.Markdown("value")
    def update(event=None):
        a = float(amount.value or 0)
        band = np.outer(np.linspace(0.8, 1.2, 200), a * t)
        lo, hi = np.percentile(band, [5, 95], axis=0)
        src.data = dict(t=t, y=a * t, lo=lo, hi=hi)
        kpi.object = f"value {a * t[-1]:.3f}"
    amount.param.watch(update, "value"); update()
    return pn.Column(amount, kpi, pn.pane.Bokeh(fig))
pn.serve(make, port=int(sys.argv[1]), address="127.0.0.1", show=False)
''',
}
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_packages(prefix: Path) -> Path:
    return next(prefix.glob("lib/python3*/site-packages"))


def extra_megabytes(env: Path, common: set[str]) -> float:
    """Size of the packages of *env* that not every compared environment has."""
    extra = [p for p in site_packages(env).iterdir() if p.name not in common]
    return sum(f.stat().st_size for p in extra for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()) / 2**20


def measure(env: Path, lib: str, work: Path, common: set[str]) -> dict:
    from playwright.sync_api import sync_playwright

    python = str(env / "bin" / "python")
    t0 = time.perf_counter()
    subprocess.run([python, "-c", f"import {lib}"], check=True)
    t_import = time.perf_counter() - t0
    script = work / f"{lib}_app.py"
    script.write_text(APPS[lib])
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, str(script), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        t_http = time.perf_counter() - t0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("text=value 60.000")
            t_page = time.perf_counter() - t0
            field = page.locator("input").first
            rounds = []
            for i in range(2, 12):
                s = time.perf_counter()
                field.fill(str(i))
                field.press("Enter")
                page.wait_for_selector(f"text=value {60 * i:.3f}")
                rounds.append(time.perf_counter() - s)
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    return {"extra MB": extra_megabytes(env, common), "import s": t_import, "first HTTP s": t_http, "page s": t_page,
            "update ms": 1000 * statistics.median(rounds)}


def main(argv: list[str]) -> int:
    envs = [Path(a) for a in argv]
    common = set.intersection(*({p.name for p in site_packages(env).iterdir()} for env in envs))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for env in envs:
            lib = next(name for name in APPS if name in env.name)
            rows[lib] = measure(env, lib, Path(tmp), common)
    print(f"{'':<14}" + "".join(f"{lib:>10}" for lib in rows))
    for key in next(iter(rows.values())):
        print(f"{key:<14}" + "".join(f"{r[key]:>10.2f}" for r in rows.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
