'''Issue 18 item 0: a comment that closes PySD's docstring must stay a comment.

A comment ``"""`` + ``\\`` (Vensim) or ``"""`` + newline (XMILE) used to close
the docstring PySD writes and add ``value = (_root / "model.mdl").rename(...)``
to the component function; the allow-list accepted it and running the model
moved the cache entry's copy of the model two folders up. The payload of the
four ``rename_*`` files below moves the model copy exactly onto the test's
marker file (``<tmp>/cache/<entry>/../../PAYLOAD_RAN``).

sdcluster now neutralises comment text before PySD builds the module (the
comment loads and is kept as the variable's description), refuses XMILE
entity declarations outright, and the allow-list accepts a component body only
in the shapes PySD's builder writes.
'''
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from security_helpers import HOSTILE, LEGAL, MARKER_ENV, cache_entries, translate_only

import sdcluster
from sdcluster.errors import ModelLoadError, UnsafeModelError
from sdcluster.core.safety import check_translated_source

#: comment breakouts that now load as text: file -> (variable, text kept in its description)
NEUTRALISED = {
    "rename_comment.mdl": ("stock", 'value = (_root / "model.mdl").rename'),
    "rename_macro_comment.mdl": (None, None),  # the comment lives inside the macro
    "rename_xmile_doc_newlines.xmile": ("firms", 'value = (_root / "model.xmile").rename'),
}
ENTITY = "rename_xmile_entity.xmile"

_PLAIN_PYSD = r'''
import os, pathlib, shutil, sys, warnings
warnings.simplefilter("ignore")
import pysd
name, work = sys.argv[1], pathlib.Path(sys.argv[2])
entry = work / "cache" / "entry"
entry.mkdir(parents=True)
copy = entry / ("model" + pathlib.Path(name).suffix)
shutil.copy(os.path.join(os.environ["HOSTILE_DIR"], name), copy)
try:
    model = pysd.read_vensim(str(copy)) if name.endswith(".mdl") else pysd.read_xmile(str(copy))
    model.run()
except BaseException:
    pass
print((work / "PAYLOAD_RAN").exists(), copy.exists())
'''


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NEUTRALISED) + [ENTITY])
def test_plain_pysd_moves_the_model(name: str, tmp_path: Path) -> None:
    """Control: with plain PySD, every variant renames the model copy onto the marker."""
    env = {**os.environ, "HOSTILE_DIR": str(HOSTILE)}
    out = subprocess.run([sys.executable, "-c", _PLAIN_PYSD, name, str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr[-2000:]


def _model_copies(cache: Path) -> list[Path]:
    return [p for p in cache_entries(cache) if p.name.startswith("model.") and p.suffix != ".py"
            and p.name != "manifest.json"]


@pytest.mark.parametrize("name", sorted(NEUTRALISED))
def test_breakout_comment_stays_text(name: str, cache_dir: Path, marker: Path) -> None:
    model = sdcluster.load_model(HOSTILE / name)
    model.run()
    assert not marker.exists(), "the payload ran: the model copy was moved"
    assert len(_model_copies(cache_dir)) == 1, "the cache entry's model copy was moved"
    variable, kept = NEUTRALISED[name]
    if variable is not None:
        description = {v.name: v.description for v in model.variables}[variable]
        assert '"""' in description and kept in description, description


def test_xmile_entity_declaration_is_refused(cache_dir: Path, marker: Path) -> None:
    with pytest.raises(UnsafeModelError) as info:
        sdcluster.load_model(HOSTILE / ENTITY)
    message = str(info.value)
    assert ENTITY in message and "DOCTYPE" in message, message
    assert len(message.splitlines()) <= 2, message
    assert not marker.exists()
    assert cache_entries(cache_dir) == []


# -- the allow-list, independently of the neutralisation -------------------------------------

@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> str:
    return translate_only(LEGAL / "unusual_names.mdl", tmp_path_factory.mktemp("shape")).read_text("utf-8")


def _splice(source: str, body: str) -> str:
    marker = "    return 10\n"  # body of the constant 'import'
    assert source.count(marker) == 1
    return source.replace(marker, f"    {body}\n")


@pytest.mark.parametrize("body", [
    # the exact payload of the issue, and its relatives
    'value = (_root / "model.mdl").rename(_root / "../../PROOF.txt")\n    value = 1\n    return 10',
    'value = _root\n    return 10',
    'return _root',
    'return _root.joinpath("model.mdl")',
    'return __data["time"].rename("x")',
    'value = xr.DataArray(np.nan, {}, [])\n    value = value.rename(_root)\n    return value',
    'return import_1().rename("new")',
    'return import_1().rename({"a": _root})',
    'return import_1().rename({"a": "b"}, _root)',
    'return import_1().transpose(_root)',
    'return import_1().reset_coords(drop=_root)',
    'return _subscript_dict.clear()',
    'return _params',
    'value = 1\n    return 10',
    'value = xr.DataArray(np.nan, {}, [])\n    return 10',
    'value = xr.DataArray(np.nan, {}, [])\n    value = 2\n    return value',
    'def_subs = import_1()\n    return 10',
])
def test_component_body_outside_pysd_shapes_is_refused(genuine: str, body: str) -> None:
    with pytest.raises(UnsafeModelError, match="variable 'import'"):
        check_translated_source(_splice(genuine, body), model_file=str(LEGAL / "unusual_names.mdl"))


@pytest.mark.parametrize("snippet", [
    '_x = Integ(lambda: 0, lambda: _root, "_x")',
    '_x = ExtData(_root, "a", "A", "B2", None, {}, _root, {}, "_x")',
    '_x = ExtData("a.csv", "a", "A", "B2", None, {}, _root.parent, {}, "_x")',
    '_x = ExtData("a.csv", "a", "A", "B2", None, {}, Path("/"), {}, "_x")',
    '_x = Macro(_root.joinpath("m.py"), {}, "m", time_initialization=lambda: _root, py_name="_x")',
])
def test_root_only_where_pysd_puts_it(genuine: str, snippet: str) -> None:
    with pytest.raises(UnsafeModelError):
        check_translated_source(genuine + "\n" + snippet + "\n", model_file=str(LEGAL / "unusual_names.mdl"))


# -- property: comment text never changes the translation outside the docstring --------------

_BASE = LEGAL.parent / "hostile" / "inert_units.mdl"


def _translation_without_docstrings(model: Path, workdir: Path) -> str:
    import ast

    source = translate_only(model, workdir).read_text(encoding="utf-8")
    tree = ast.parse(source)  # must parse: the comment cannot break the module
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.body and isinstance(node.body[0], ast.Expr):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


_PIECES = (list('"\'\\\n\t {}()[]=+-_/.:;#%abcxyz019\u2028\x00')
           + ['"""', "'''", "\\\n", "value = ", "_root", "return 1"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(comment=st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_comment_text_only_changes_the_docstring(comment: str, tmp_path: Path) -> None:
    text = _BASE.read_text(encoding="utf-8")
    if not (tmp_path / "ref.json").exists():
        reference_model = tmp_path / "model.mdl"
        reference_model.write_text(text.replace("Inflow.", "Inflow"), encoding="utf-8")
        (tmp_path / "ref").mkdir()
        reference_tree = _translation_without_docstrings(reference_model, tmp_path / "ref")
        (tmp_path / "ref.json").write_text(json.dumps(reference_tree))
    reference = json.loads((tmp_path / "ref.json").read_text())
    model = tmp_path / "model.mdl"
    model.write_text(text.replace("Inflow.", "Inflow" + comment), encoding="utf-8")
    work = tmp_path / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    assert _translation_without_docstrings(model, work) == reference


def test_benign_triple_quote_comment_loads(tmp_path: Path, cache_dir: Path, marker: Path) -> None:
    """Item 6: a comment quoting a Python docstring is legal Vensim; it loads and keeps its text."""
    text = (HOSTILE / "inert_units.mdl").read_text(encoding="utf-8")
    said = 'The "" and """quoted""" words; a path C:\\data\\x; it\'s fine.'
    model_file = tmp_path / "quoted.mdl"
    model_file.write_text(text.replace("Inflow.", said), encoding="utf-8")
    model = sdcluster.load_model(model_file)
    assert model.run().sizes["time"] == 3
    description = {v.name: v.description for v in model.variables}["inflow"]
    # PySD reads Vensim's backslash as a new line (and indents it): the only change
    assert description.split() == said.replace("\\", " ").split(), description
    assert not marker.exists()
    assert os.environ.get(MARKER_ENV) == str(marker)


def test_no_module_level_text_breaks_the_header(tmp_path: Path, cache_dir: Path) -> None:
    """A comment made only of quotes and backslashes loads too (nothing to refuse)."""
    text = (HOSTILE / "inert_units.mdl").read_text(encoding="utf-8")
    model_file = tmp_path / "quotes.mdl"
    model_file.write_text(text.replace("Inflow.", '"""\\"""\\""""""'), encoding="utf-8")
    try:
        sdcluster.load_model(model_file).run()
    except ModelLoadError as exc:  # pragma: no cover - shown on failure
        pytest.fail(f"refused a harmless comment: {exc}")
