"""Reference modes and conventions of models/cluster_lifecycle.{mdl,xmile}.

The checks of each claimed behaviour are plain functions (``check_*``) taking a loaded model,
so that ``tests/models/test_mutations.py`` can run them against structural mutants and
assert that they fail.
"""
from __future__ import annotations

import importlib.util
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import sdcluster

ROOT = pathlib.Path(__file__).resolve().parents[2]
MDL = ROOT / "models" / "cluster_lifecycle.mdl"
XMILE = ROOT / "models" / "cluster_lifecycle.xmile"

_spec = importlib.util.spec_from_file_location(
    "make_cluster_lifecycle", ROOT / "docs" / "figures" / "make_cluster_lifecycle.py")
figs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figs)

SHIFT_YEAR = 40.0


@pytest.fixture(scope="module")
def model():
    return sdcluster.load_model(str(MDL))


# ------------------------------------------------------------------ checks (also run on mutants)


def check_shakeout_regularities(model) -> dict:
    """Klepper & Simons (1997) regularities with the exogenous shift off, measured relative to the
    firm peak of a long run (so they do not depend on the horizon)."""
    ds = model.run(params=figs.SHAKEOUT, final_time=figs.LONG_RUN,
                   outputs=["firms", "output", "entry_rate"])
    reg = figs.shakeout_regularities(ds.time.values, ds.firms.values, ds.output.values,
                                     ds.entry_rate.values)
    assert 10 <= reg["peak_year"] <= 25, reg             # build-up of firms 10-25 years
    assert reg["ratio_40"] <= 0.25, reg                  # firms fall to <= 25 % of the peak
    assert reg["output_growth_30"] >= 3, reg             # ... while output grows many-fold
    q = ds.output.values
    p = int(np.argmax(ds.firms.values))
    assert np.all(np.diff(q[p:p + 30]) > 0), reg         # output rises all through the steep decline
    assert 3 <= reg["entry_stop"] <= 20, reg             # entry stops late in the shakeout, for good
    assert reg["late_entry_share"] < 0.1, reg            # virtually no entry 10+ years into it
    assert reg["ratio_min"] >= 0.01, reg                 # an oligopoly survives (no collapse to zero)
    return reg


def check_shift_deepens_decline_and_links_renew(model) -> None:
    """The exogenous shift (a lever) costs firms; strong outside links limit the damage."""
    def damage(extra):
        out = ["firms"]
        shifted = model.run(params=extra, final_time=SHIFT_YEAR + 30, outputs=out).firms
        calm = model.run(params={**extra, **figs.NO_SHIFT}, final_time=SHIFT_YEAR + 30, outputs=out).firms
        return 1 - float(shifted.sel(time=SHIFT_YEAR + 10)) / float(calm.sel(time=SHIFT_YEAR + 10))
    d_default, d_links = damage({}), damage(figs.RENEWAL)
    assert d_default > 0.1, d_default
    assert d_links < 0.6 * d_default, (d_links, d_default)


# ------------------------------------------------------------------ structure and engines


def test_two_formats_identical(model):
    other = sdcluster.load_model(str(XMILE))
    for params in ({}, figs.RENEWAL, figs.SHAKEOUT):
        a = model.run(params=params, saveper=0.5, final_time=80)
        b = other.run(params=params, saveper=0.5, final_time=80)
        for stock in model.stocks:
            x, y = a[stock.py_name].values, b[stock.py_name].values
            assert np.all(np.abs(x - y) <= 1e-9 * np.abs(x) + 1e-15), (params, stock.name)


@pytest.mark.parametrize("path", [MDL, XMILE], ids=["mdl", "xmile"])
def test_pysimlin_agrees(model, path):
    """Simlin's engine (an independent implementation) gives PySD's trajectories."""
    simlin = pytest.importorskip("simlin")
    res = simlin.load(str(path)).run().results
    ours = model.run(saveper=1)
    assert len(res) == len(ours.time)
    for stock in model.stocks:
        x, y = ours[stock.py_name].values, res[stock.py_name].values
        assert np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-12)) < 1e-9, stock.name


def test_every_constant_has_units_range_and_comment(model):
    assert len(model.stocks) == 7
    for p in model.parameters:
        assert p.units and p.description, p.name
        assert p.limits is not None and None not in p.limits and p.limits[0] <= p.limits[1], p.name
        assert p.limits[0] <= p.default <= p.limits[1], p.name
    text = MDL.read_text(encoding="utf-8").split("\\\\\\---///")[0]
    assert "dmnl" not in text, "one spelling: Dmnl"
    assert model.time_settings["time_units"] == "Year"
    # time step at most a quarter of the shortest time constant (shift duration, 1 year)
    assert model.time_settings["time_step"] <= 0.25
    assert model.time_settings["saveper"] == 1


_DRAW = """
import re, sys, simlin
svg = simlin.load(sys.argv[1]).project.render_svg_string()
for kind, rest in re.findall(r'<g class="simlin-(stock|flow)">(.*?)</tspan>', svg, re.S):
    print(kind + ":" + " ".join(rest.rsplit(">", 1)[-1].split()).lower())
"""


def _stocks_and_flows():
    text = MDL.read_text(encoding="utf-8").split("\\\\\\---///")[0]
    flows = set()
    for m in re.finditer(r"^([A-Za-z][\w ]*?)\s*=\s*INTEG\s*\(\s*(.*?),\n", text, re.M | re.S):
        flows |= {f.strip().lstrip("-+ ") for f in re.split(r"[+-]", m.group(2)) if f.strip()}
    stocks = set(re.findall(r"^([A-Za-z][\w ]*?)\s*=\s*INTEG", text, re.M))
    return stocks, flows


@pytest.mark.parametrize("path", [MDL, XMILE], ids=["mdl", "xmile"])
def test_diagram_draws_every_stock_and_flow(path):
    """An independent renderer (pysimlin) draws every stock and flow of the file's view.

    Run in a subprocess: a malformed view makes simlin abort the whole process.
    """
    stocks, flows = _stocks_and_flows()
    assert len(stocks) == 7 and len(flows) == 12
    out = subprocess.run([sys.executable, "-c", _DRAW, str(path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    drawn = {"stock": set(), "flow": set()}
    for line in out.stdout.splitlines():
        kind, _, name = line.partition(":")
        drawn[kind].add(name)
    assert drawn["stock"] == {s.lower() for s in stocks}
    assert drawn["flow"] == {f.lower() for f in flows}


# ------------------------------------------------------------------ reference modes


def test_shakeout_regularities(model):
    check_shakeout_regularities(model)


def test_default_run_stages(model):
    """Emergence, growth, a short maturity and a decline, all before the shift at year 40."""
    ds = model.run(outputs=["firms"])
    st = figs.stages(ds.time.values, ds.firms.values)
    assert all(st[s] is not None for s in ("emergence", "growth", "maturity", "decline")), st
    assert st["growth"][1] - st["growth"][0] >= 5
    assert st["decline"][0] < SHIFT_YEAR - 10, st


def test_shift_deepens_decline_and_links_renew(model):
    check_shift_deepens_decline_and_links_renew(model)


@pytest.mark.parametrize("params", [{}, figs.RENEWAL, figs.SHAKEOUT], ids=["default", "renewal", "no_shift"])
def test_integration_error(model, params):
    dt = model.time_settings["time_step"]
    outs = ["firms", "employment", "capability", "output"]
    a = model.run(params=params, final_time=120, outputs=outs)
    b = model.run(params=params, final_time=120, time_step=dt / 2, outputs=outs)
    for v in outs:
        assert np.max(np.abs(b[v].values - a[v].values) / np.abs(a[v].values)) < 0.01, v


def _typed_values(p):
    lo, hi = p.limits
    return sorted({0.0, -1.0, -abs(p.default) - 1, 2 * max(abs(hi), 1)})


def test_extreme_conditions_for_every_parameter(model):
    """Any value a Vensim user could type (zero, negative, twice the top of its range) leaves every
    stock finite and non-negative: the guards are in the equations, not in sdcluster."""
    names, values = [], []
    for p in model.parameters:
        if p.name == "technology shift time" or p.name.startswith("minimum "):
            continue  # a time, and the technical floors that the guards themselves use
        for v in _typed_values(p):
            names.append(p.name); values.append(v)
    n = len(values)
    batch = {}
    for p in model.parameters:
        col = np.full(n, float(p.default))
        col[[i for i, nm in enumerate(names) if nm == p.name]] = [v for nm, v in zip(names, values) if nm == p.name]
        batch[p.name] = col
    with np.errstate(all="ignore"):
        ds = model.run_batch(batch, final_time=150, check_limits=False,
                             outputs=[s.py_name for s in model.stocks])
    for s in model.stocks:
        x = ds[s.py_name].values
        x = x if x.shape[0] == n else x.T
        bad = ~np.all(np.isfinite(x) & (x >= 0), axis=1)
        assert not bad.any(), [(names[i], values[i]) for i in np.flatnonzero(bad)][:5]
