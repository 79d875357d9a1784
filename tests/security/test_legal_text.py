"""Genuine models with unusual but legal text still load: the allow-list must not refuse them.

``legal/`` holds hand-written models that exercise quotes, apostrophes,
backslashes, Chinese characters and Python keywords in names, units and
comments, and -- for the allow-list -- every kind of construct PySD 3.14
generates: all statefuls (INTEG, SMOOTH*, DELAY*, DELAY N, DELAY FIXED, TREND,
FORECAST, INITIAL, SAMPLE IF TRUE, ACTIVE INITIAL), lookups (table, WITH
LOOKUP, GET XLS LOOKUPS), data and constants from files, subscripts (ranges,
subranges, copies, mappings, :EXCEPT:, mixed data/constant definitions,
aggregation, VECTOR functions, TABBED ARRAY),
allocation, macros, random functions and XMILE builtins.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from security_helpers import LEGAL, translate_only

import sdcluster
from sdcluster.core.safety import PYSD_IMPORTS, check_translated_file

RUNNABLE = ["unusual_names.mdl", "unusual_text.xmile"]
TRANSLATE_ONLY = ["all_statefuls.mdl", "lookups_subscripts_allocation.mdl",
                  "macros_and_data.mdl", "subscripts_advanced.mdl", "xmile_builtins.xmile"]


@pytest.mark.parametrize("name", RUNNABLE)
def test_unusual_text_loads_and_runs(name: str, cache_dir: Path) -> None:
    model = sdcluster.load_model(LEGAL / name)
    ds = model.run()
    assert ds.sizes["time"] > 1
    docs = {v.name: v.description for v in model.variables}
    if name.endswith(".mdl"):
        assert "'single' and \"double\" quotes" in docs['"rate with \\"Quotes\\" in \'it\' and \\ backslash"']
        assert "中文注释" in docs['"企业 数量"']
        assert "import" in docs  # a Python keyword as a model name
    else:
        assert docs["initial firms"] == "Source: O'Brien (2003), p. 12."
        assert docs["lifetime"] == "'''"
        assert "产业集群" in docs["企业"]
    stock = model.stocks[0].py_name
    assert float(ds[stock].isel(time=-1)) > 0


@pytest.mark.parametrize("name", RUNNABLE + TRANSLATE_ONLY)
def test_genuine_translation_passes_allow_list(name: str, tmp_path: Path) -> None:
    """Every construct PySD generates for these models is accepted (no false refusal)."""
    py = translate_only(LEGAL / name, tmp_path)
    check_translated_file(py, LEGAL / name)  # raises on refusal


def test_macro_modules_are_checked_too(tmp_path: Path) -> None:
    py = translate_only(LEGAL / "macros_and_data.mdl", tmp_path)
    macro = tmp_path / "stock_macro.py"
    assert macro.exists()
    macro.write_text(macro.read_text(encoding="utf-8") + "\nimport os\n", encoding="utf-8")
    with pytest.raises(sdcluster.errors.UnsafeModelError, match="import of module 'os'"):
        check_translated_file(py, LEGAL / "macros_and_data.mdl")


def test_function_allow_list_covers_pysd_functionspace() -> None:
    """A PySD upgrade that adds runtime functions shows up here, not as a false refusal."""
    from pysd.builders.python.python_functions import functionspace

    needed = {mod[1] for _, mods in functionspace.values() for mod in mods
              if len(mod) == 2 and mod[0] == "functions"}
    assert needed <= PYSD_IMPORTS["functions"]


BUNDLED = sorted(p for p in (LEGAL.parents[2] / "models").glob("*")
                 if p.suffix in (".mdl", ".xmile"))


@pytest.mark.parametrize("model", BUNDLED, ids=lambda p: p.name)
def test_bundled_models_pass_allow_list(model: Path, tmp_path: Path) -> None:
    """The project's own models are never refused."""
    py = translate_only(model, tmp_path)
    check_translated_file(py, model)
