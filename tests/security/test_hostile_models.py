"""Hostile model files: loading them must never run the code hidden in them.

Each file in ``hostile/`` hides the payload described in ``conftest.py`` in one
field of the model. ``EXPLOITS`` are files for which plain PySD (translate and
import) really runs the payload -- checked by ``test_plain_pysd_runs_the_payloads``
so the corpus cannot silently go stale -- and which sdcluster must refuse with
an :class:`UnsafeModelError` naming the variable and the field. ``INERT`` files
carry the same text in fields PySD escapes properly; they must load and run
without the payload ever running.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from security_helpers import HOSTILE, MARKER_ENV, cache_entries, translate_only

import sdcluster
from sdcluster.errors import UnsafeModelError
from sdcluster.core.safety import check_translated_source

#: file -> (field named in the error, variable named in the error)
EXPLOITS = {
    "lookup_range.mdl": ("lookup", "rate tab"),
    "with_lookup_range.mdl": ("lookup", "rate"),
    "subscript_name.mdl": ("subscript", "reg"),
    "macro_parameter.mdl": ("macro", "MYMAC"),
    "macro_name.mdl": ("macro", "MY"),
    "data_file_arguments.mdl": ("data-file arguments", "rate"),
    "data_variable_name.mdl": ("name", "rate"),
    "xmile_dimension_name.xmile": ("subscript", "arr"),
}
#: comments that break out of PySD's docstring: sdcluster neutralises the text before
#: PySD writes it (issue 18), so these load, run, and keep the payload as inert text.
NEUTRALISED = {
    "comment_triple_quotes.mdl": "stock",
    "comment_backslash_lines.mdl": "stock",
    "comment_fullwidth_unicode.mdl": "stock",
    "xmile_doc_triple_quotes.xmile": "firms",
    "xmile_doc_numeric_entity.xmile": "firms",
}
#: the rename breakouts of issue 18, tested in test_comment_breakout.py
RENAME = ["rename_comment.mdl", "rename_macro_comment.mdl", "rename_xmile_doc_newlines.xmile",
          "rename_xmile_entity.xmile"]
INERT = ["inert_units.mdl", "inert_name.mdl", "xmile_inert_units.xmile", "xmile_inert_name.xmile"]

PAYLOAD = '__import__("pathlib").Path(__import__("os").environ.get("SDC_HOSTILE_MARKER")).touch()'

_PLAIN_PYSD = r'''
import json, os, pathlib, shutil, sys, tempfile, warnings
warnings.simplefilter("ignore")
import pysd
ran = {}
for name in sys.argv[2:]:
    work = pathlib.Path(tempfile.mkdtemp(dir=sys.argv[1]))
    copy = work / name
    shutil.copy(os.path.join(os.environ["HOSTILE_DIR"], name), copy)
    marker = work / "PAYLOAD_RAN"
    os.environ["SDC_HOSTILE_MARKER"] = str(marker)
    try:
        model = pysd.read_vensim(str(copy)) if name.endswith(".mdl") else pysd.read_xmile(str(copy))
        model.run()
    except BaseException:
        pass
    ran[name] = marker.exists()
print(json.dumps(ran))
'''


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in HOSTILE.iterdir() if p.suffix in (".mdl", ".xmile")}
    assert on_disk == set(EXPLOITS) | set(NEUTRALISED) | set(INERT) | set(RENAME)
    for name in on_disk:
        text = (HOSTILE / name).read_text(encoding="utf-8")
        assert "SDC_HOSTILE_MARKER" in text.upper(), name


@pytest.mark.slow
def test_plain_pysd_runs_the_payloads(tmp_path: Path) -> None:
    """Control: without sdcluster, every exploit really runs (and no inert file does)."""
    names = sorted(EXPLOITS) + sorted(NEUTRALISED) + INERT
    env = {**os.environ, "HOSTILE_DIR": str(HOSTILE)}
    env.pop(MARKER_ENV, None)
    out = subprocess.run([sys.executable, "-c", _PLAIN_PYSD, str(tmp_path), *names],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ran = json.loads(out.stdout.strip().splitlines()[-1])
    assert {n for n, r in ran.items() if r} == set(EXPLOITS) | set(NEUTRALISED)


@pytest.mark.parametrize("name", sorted(EXPLOITS))
def test_exploit_is_refused(name: str, cache_dir: Path, marker: Path) -> None:
    field, variable = EXPLOITS[name]
    with pytest.raises(UnsafeModelError) as info:
        sdcluster.load_model(HOSTILE / name)
    message = str(info.value)
    assert name in message
    assert field in message
    assert re.search(r"(variable|subscript range|macro) ['\"]\"?%s" % re.escape(variable), message), message
    assert "Nothing from this file has been run" in message or "nothing from this file has been run" in message
    assert not marker.exists(), "the payload ran"
    assert cache_entries(cache_dir) == [], "a refused translation was left in the cache"


@pytest.mark.parametrize("name", sorted(NEUTRALISED))
def test_breakout_comment_is_kept_as_text(name: str, cache_dir: Path, marker: Path) -> None:
    model = sdcluster.load_model(HOSTILE / name)
    assert model.run().sizes["time"] == 3
    assert not marker.exists(), "the payload ran"
    description = {v.name: v.description for v in model.variables}[NEUTRALISED[name]]
    assert "SDC_HOSTILE_MARKER" in description.upper(), description


@pytest.mark.parametrize("name", INERT)
def test_inert_text_loads_and_never_runs(name: str, cache_dir: Path, marker: Path) -> None:
    model = sdcluster.load_model(HOSTILE / name)
    ds = model.run()
    assert ds.sizes["time"] == 3
    assert not marker.exists()
    # the text is kept as text: it shows up in the metadata, not in the process
    texts = " ".join(f"{v.name} {v.units} {v.description}" for v in model.variables)
    assert "SDC_HOSTILE_MARKER" in texts


def test_hostile_file_name(tmp_path: Path, cache_dir: Path, marker: Path) -> None:
    """PySD writes the model file name into the module docstring; sdcluster must not run it."""
    base = (HOSTILE / "inert_units.mdl").read_text(encoding="utf-8")
    evil = tmp_path / f'x"""+str({PAYLOAD})+""".mdl'
    evil.write_text(base, encoding="utf-8")
    try:
        sdcluster.load_model(evil).run()
    except UnsafeModelError:
        pass
    assert not marker.exists()


def test_refusal_happens_before_any_import(tmp_path: Path, marker: Path) -> None:
    """The allow-list reads the translation; a payload at module level is not executed."""
    py = translate_only(HOSTILE / "inert_units.mdl", tmp_path)
    source = py.read_text(encoding="utf-8") + f"\n{PAYLOAD}\n"
    with pytest.raises(UnsafeModelError, match="inert_units.mdl"):
        check_translated_source(source, model_file=str(HOSTILE / "inert_units.mdl"))
    assert not marker.exists()


def test_xmile_external_entity_is_not_resolved(tmp_path: Path, cache_dir: Path) -> None:
    """An XMILE file cannot pull a local file into the model (XXE) through an entity."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-CONTENT", encoding="utf-8")
    text = (HOSTILE / "xmile_inert_units.xmile").read_text(encoding="utf-8")
    text = text.replace('<?xml version="1.0" encoding="utf-8"?>',
                        '<?xml version="1.0" encoding="utf-8"?>\n'
                        f'<!DOCTYPE xmile [<!ENTITY sec SYSTEM "{secret.as_uri()}">]>')
    text = text.replace("<doc>Firms.</doc>", "<doc>Firms &sec; end</doc>")
    assert "&sec;" in text
    model_file = tmp_path / "xxe.xmile"
    model_file.write_text(text, encoding="utf-8")
    try:
        model = sdcluster.load_model(model_file)
    except sdcluster.errors.ModelLoadError:
        return  # refusing the file is fine too
    described = " ".join(v.description for v in model.variables)
    assert "TOPSECRET" not in described
    for path in cache_entries(cache_dir):
        assert b"TOPSECRET" not in path.read_bytes()
