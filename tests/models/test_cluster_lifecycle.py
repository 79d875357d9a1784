"""Reference modes and conventions of models/cluster_lifecycle.{mdl,xmile}."""
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


@pytest.fixture(scope="module")
def model():
    return sdcluster.load_model(str(MDL))


@pytest.fixture(scope="module")
def default_run(model):
    return model.run(outputs=["firms", "output", "capability", "employment"])


def test_two_formats_identical(model):
    other = sdcluster.load_model(str(XMILE))
    for params in ({}, figs.RENEWAL, figs.SHAKEOUT):
        a = model.run(params=params, saveper=0.0625)
        b = other.run(params=params, saveper=0.0625)
        for stock in model.stocks:
            x, y = a[stock.py_name].values, b[stock.py_name].values
            assert np.all(np.abs(x - y) <= 1e-9 * np.abs(x) + 1e-15), (params, stock.name)


def test_every_constant_has_units_range_and_comment(model):
    assert len(model.stocks) == 5
    for p in model.parameters:
        assert p.units and p.description, p.name
        assert p.limits is not None and None not in p.limits and p.limits[0] <= p.limits[1], p.name
        assert p.limits[0] <= p.default <= p.limits[1], p.name
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
    assert len(stocks) == 5 and len(flows) == 10
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


def test_critical_mass(model):
    thr = figs.critical_mass(model)
    assert 10 < thr < 100
    low_eq = model.run(params={**figs.NO_SHIFT, "initial firms": 1}).firms.values[-1]
    below = model.run(params={**figs.NO_SHIFT, "initial firms": 0.8 * thr}).firms.values
    above = model.run(params={**figs.NO_SHIFT, "initial firms": 1.2 * thr}).firms.values
    carrying = model.run(params={**figs.NO_SHIFT, "initial firms": 400}).firms.values[-1]
    # below: decays to the seed-level equilibrium
    assert below[-1] < 0.2 * 0.8 * thr
    assert abs(below[-1] - low_eq) < 0.1 * low_eq
    # above: S-curve to the carrying level, with an inflection (growth speeds up, then slows)
    assert above[-1] > 0.9 * carrying
    growth = np.diff(above)
    k = int(np.argmax(growth))
    assert 2 < k < len(growth) - 5
    assert growth[k] > 3 * growth[0] and growth[-1] < 0.1 * growth[k]


def test_full_life_cycle(model, default_run):
    st = figs.stages(default_run.time.values, default_run.firms.values)
    assert all(st[s] is not None for s in ("emergence", "growth", "maturity", "decline")), st
    shift = model.parameters[[p.name for p in model.parameters].index("technology shift time")].default
    assert st["emergence"][1] >= 2
    assert st["growth"][1] - st["growth"][0] >= 5
    assert st["maturity"][0] < shift - 5
    assert shift <= st["decline"][0] <= shift + 3
    f = default_run.firms.values
    assert f[-1] < 0.5 * f[int(shift)]


def test_renewal_after_shift(model, default_run):
    ren = model.run(params=figs.RENEWAL, outputs=["firms"]).firms.values
    shift = 40
    assert ren[shift + 3:].min() < 0.95 * ren[shift]           # the shock bites
    assert ren[-1] > 0.9 * ren[shift]                           # ... and the cluster recovers
    assert default_run.firms.values[-1] < 0.5 * default_run.firms.values[shift]  # default does not


def test_shakeout(model):
    sh = model.run(params=figs.SHAKEOUT, outputs=["firms", "output", "firm_scale"])
    f, q = sh.firms.values, sh.output.values
    p = int(np.argmax(f))
    assert 5 < p < len(f) - 20
    assert f[-1] < 0.85 * f[p]                  # firm numbers peak and fall
    assert q[p + 2] > q[p]                      # while output keeps rising for a while
    assert sh.firm_scale.values[-1] > 1.5 * sh.firm_scale.values[0]


def test_mass_balance(model):
    dt = model.time_settings["time_step"]
    ds = model.run(saveper=dt, outputs=["firms", "entry_rate", "exit_rate"])
    f = ds.firms.values
    net = (ds.entry_rate.values - ds.exit_rate.values)[:-1]
    rebuilt = f[0] + dt * np.concatenate([[0.0], np.cumsum(net)])
    assert np.max(np.abs(rebuilt - f) / np.maximum(f, 1)) < 1e-9


@pytest.mark.parametrize("params", [{}, figs.NO_SHIFT, figs.RENEWAL, figs.SHAKEOUT],
                         ids=["default", "no_shift", "renewal", "shakeout"])
def test_integration_error(model, params):
    dt = model.time_settings["time_step"]
    a = model.run(params=params, outputs=["firms", "employment", "capability"])
    b = model.run(params=params, time_step=dt / 2, outputs=["firms", "employment", "capability"])
    for v in ("firms", "employment", "capability"):
        assert np.max(np.abs(b[v].values - a[v].values) / np.abs(a[v].values)) < 0.01, v


def test_extreme_conditions(model):
    zero_entry = model.run(params={"seed entry rate": 0, "normal spin off fraction": 0,
                                   "normal attraction fraction": 0}).firms.values
    assert np.all(np.diff(zero_entry) <= 1e-12)
    empty = model.run(params={"initial firms": 0, "seed entry rate": 0}).firms.values
    assert np.all(empty == 0)
    big = model.run(params={"land capacity": 1e9}, final_time=200)
    for s in model.stocks:
        x = big[s.py_name].values
        assert np.all(np.isfinite(x)) and np.all(x >= 0), s.name
    assert big.firms.values.max() < 2000
