"""One view per sector: tools/mdl_views.py and the bundled models' sketches."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["cluster_lifecycle", "cooperative_action", "cluster_policy"]


def _tool():
    spec = importlib.util.spec_from_file_location("mdl_views", ROOT / "tools" / "mdl_views.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


views = _tool()


def _elements(text: str) -> list[tuple[str, list[list[str]]]]:
    return [(title, [ln.split(",") for ln in body.split(views.SKETCH, 1)[1].splitlines() if ln.startswith("10,")])
            for title, body in views.single_views(text)]


@pytest.mark.parametrize("name", MODELS)
def test_every_variable_is_defined_in_exactly_one_view(name):
    text = (ROOT / "models" / f"{name}.mdl").read_text(encoding="utf-8")
    defined: dict[str, list[str]] = {}
    sizes = []
    for title, elements in _elements(text):
        own = [views.canonical(f[2]) for f in elements if int(f[8]) % 2 == 1]
        sizes.append(len(own))
        for v in own:
            defined.setdefault(v, []).append(title)
    variables = {views.canonical(n) for g, vs in views.sectors(text) if g.lower() != "control" for n, _ in vs}
    assert set(defined) == variables                       # nothing missing, nothing invented
    assert all(len(t) == 1 for t in defined.values()), {v: t for v, t in defined.items() if len(t) > 1}
    assert len(sizes) > 1 and max(sizes) <= 26              # readable views, not one wall


@pytest.mark.parametrize("name", MODELS)
def test_views_are_up_to_date(name):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "mdl_views.py"), "--check",
                           str(ROOT / "models" / f"{name}.mdl")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


RENDER = """
import sys, simlin
for path in sys.argv[1:]:
    svg = simlin.load(path).project.render_svg_string()
    print(len(svg), len(svg.split('class="simlin-stock"')) - 1)
"""


def test_each_view_of_the_policy_model_renders_alone(tmp_path):
    """pysimlin (an independent reader) opens every single-view file and draws its stocks."""
    text = (ROOT / "models" / "cluster_policy.mdl").read_text(encoding="utf-8")
    paths = []
    for i, (_, body) in enumerate(views.single_views(text)):
        paths.append(tmp_path / f"view{i}.mdl")
        paths[-1].write_text(body, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", RENDER, *map(str, paths)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    drawn = [tuple(map(int, ln.split())) for ln in proc.stdout.split("\n") if ln.strip()]
    assert len(drawn) == len(paths) >= 10 and all(n > 1000 for n, _ in drawn)
    assert sum(s for _, s in drawn) >= 19  # every stock at least once (own or shadow)


def test_tool_splits_groups_and_shadows_what_a_view_borrows(tmp_path):
    mdl = tmp_path / "two.mdl"
    mdl.write_text(
        "{UTF-8}\n********************************************************\n\t.Stock_side\n"
        "********************************************************~\n\tx\n\t|\n\n"
        "Level= INTEG (inflow, 1)\n\t~\twidget\n\t~\ta stock\n\t|\n\n"
        "inflow=\n\tLevel * rate\n\t~\twidget/Year\n\t~\tgrowth\n\t|\n\n"
        "********************************************************\n\t.Rate_side\n"
        "********************************************************~\n\tx\n\t|\n\n"
        "rate=\n\t0.1 / (1 + Level / 100)\n\t~\t1/Year\n\t~\tcrowded growth\n\t|\n\n"
        "********************************************************\n\t.Control\n"
        "********************************************************~\n\tx\n\t|\n\n"
        "INITIAL TIME = 0\n\t~\tYear\n\t~\t\n\t|\n\nFINAL TIME = 10\n\t~\tYear\n\t~\t\n\t|\n\n"
        "TIME STEP = 0.25\n\t~\tYear\n\t~\t\n\t|\n\nSAVEPER = 1\n\t~\tYear\n\t~\t\n\t|\n\n", encoding="utf-8")
    assert views.main([str(mdl)]) == 0
    text = mdl.read_text(encoding="utf-8")
    got = {title: {f[2]: int(f[8]) % 2 for f in el} for title, el in _elements(text)}
    assert got == {"Stock side": {"Level": 1, "inflow": 1, "rate": 0},     # rate: a shadow here
                   "Rate side": {"rate": 1, "Level": 0}}
    assert views.main([str(mdl), "--check"]) == 0
    mdl.write_text(text.replace("crowded growth", "crowded growth rate"), encoding="utf-8")  # no new variable
    assert views.main([str(mdl), "--check"]) == 0
    mdl.write_text(text.replace("0.1 / (1 + Level / 100)", "0.1"), encoding="utf-8")         # a link removed
    assert views.main([str(mdl), "--check"]) == 1
    import sdcluster
    ds = sdcluster.load_model(mdl).run()  # PySD still reads the multi-view file
    assert float(ds["level"].isel(time=-1)) > 1
