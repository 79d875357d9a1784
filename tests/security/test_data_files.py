"""Issue 18 item 2: a model reads data files only inside its own folder.

``GET DIRECT/XLS DATA|CONSTANTS|LOOKUPS|SUBSCRIPT`` name a file that PySD opens
(SUBSCRIPT while translating, the others while loading). sdcluster checks every
such name against the model's folder before PySD sees it: relative, no ``..``,
still inside after links are followed. A data file next to the model works.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from security_helpers import cache_entries

import sdcluster
from sdcluster.errors import ModelLoadError, UnsafeModelError

TEMPLATE = """{{UTF-8}}
{definition}
stock= INTEG(inflow, 1)
	~	widget
	~	A stock.
	|
inflow= {use}
	~	widget/Year
	~	Inflow.
	|
FINAL TIME  = 2
	~	Year
	~		|
INITIAL TIME  = 0
	~	Year
	~		|
SAVEPER  = 1
	~	Year
	~		|
TIME STEP  = 1
	~	Year
	~		|
"""

#: function -> (definition with {f} for the file name, use in 'inflow')
GET = {
    "GET DIRECT DATA": ("rate := GET DIRECT DATA('{f}', ',', 'A', 'B2')\n\t~\t1/Year\n\t~\tRate.\n\t|",
                        "rate * stock"),
    "GET XLS DATA": ("rate := GET XLS DATA('{f}', 'Sheet1', 'A', 'B2')\n\t~\t1/Year\n\t~\tRate.\n\t|",
                     "rate * stock"),
    "GET DIRECT CONSTANTS": ("c0 = GET DIRECT CONSTANTS('{f}', ',', 'B2')\n\t~\twidget/Year\n\t~\tC.\n\t|", "c0"),
    "GET XLS CONSTANTS": ("c0 = GET XLS CONSTANTS('{f}', 'Sheet1', 'B2')\n\t~\twidget/Year\n\t~\tC.\n\t|", "c0"),
    "GET DIRECT LOOKUPS": ("tab( GET DIRECT LOOKUPS('{f}', ',', '1', 'B2'))\n\t~\twidget/Year\n\t~\tT.\n\t|",
                           "tab(Time)"),
    "GET XLS LOOKUPS": ("tab( GET XLS LOOKUPS('{f}', 'Sheet1', '1', 'B2'))\n\t~\twidget/Year\n\t~\tT.\n\t|",
                        "tab(Time)"),
    "GET DIRECT SUBSCRIPT": ("reg: GET DIRECT SUBSCRIPT('{f}', ',', 'A1', 'C1', '')\n\t~\t\n\t~\t\t|\n"
                             "arr[reg] = 1\n\t~\tDmnl\n\t~\tA.\n\t|", "0"),
    "GET XLS SUBSCRIPT": ("reg: GET XLS SUBSCRIPT('{f}', 'Sheet1', 'A1', 'C1', '')\n\t~\t\n\t~\t\t|\n"
                          "arr[reg] = 1\n\t~\tDmnl\n\t~\tA.\n\t|", "0"),
}


def _model(folder: Path, function: str, file_name: str) -> Path:
    definition, use = GET[function]
    path = folder / "model_with_data.mdl"
    path.write_text(TEMPLATE.format(definition=definition.format(f=file_name), use=use), encoding="utf-8")
    return path


@pytest.fixture
def pysd_never_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if PySD's external-data code is reached at all."""
    from pysd.py_backend import external

    def touched(*args, **kwargs):
        raise AssertionError("PySD was given the data-file path")

    for cls in (external.External, external.ExtSubscript):
        monkeypatch.setattr(cls, "__init__", touched)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file outside the model folder, and the model folder."""
    secret = tmp_path / "secret.csv"
    secret.write_text("root,x,0\n0,0,0\n", encoding="utf-8")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "link.csv").symlink_to(secret)
    return folder


@pytest.mark.parametrize("function", sorted(GET))
@pytest.mark.parametrize("file_name", ["{secret}", "../secret.csv", "sub/../../secret.csv", "link.csv",
                                       "..\\secret.csv", "?indirect"])
def test_data_file_outside_the_model_folder_is_refused(function: str, file_name: str, outside: Path,
                                                       cache_dir: Path, pysd_never_opens: None) -> None:
    name = file_name.format(secret=outside.parent / "secret.csv")
    model = _model(outside, function, name)
    with pytest.raises(UnsafeModelError) as info:
        sdcluster.load_model(model)
    message = str(info.value)
    assert "model_with_data.mdl" in message and "inside its own folder" in message, message
    assert "root,x" not in message
    assert len(message) < 500, message
    assert cache_entries(cache_dir) == []


def test_etc_passwd_subscripts_are_refused(tmp_path: Path, cache_dir: Path, pysd_never_opens: None) -> None:
    model = _model(tmp_path, "GET DIRECT SUBSCRIPT", "/etc/passwd")
    with pytest.raises(UnsafeModelError, match="absolute path"):
        sdcluster.load_model(model)
    assert cache_entries(cache_dir) == []


def test_data_files_next_to_the_model_are_read(tmp_path: Path, cache_dir: Path) -> None:
    """CSV data next to the model load (they used to be looked up inside the cache entry)."""
    (tmp_path / "rates.csv").write_text("time,rate\n0,0.1\n1,0.2\n2,0.3\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "regions.csv").write_text("north,south,east\n1,2,3\n", encoding="utf-8")
    text = TEMPLATE.format(
        definition=(GET["GET DIRECT DATA"][0].format(f="rates.csv") + "\n"
                    + GET["GET DIRECT CONSTANTS"][0].format(f="data/regions.csv") + "\n"
                    + GET["GET DIRECT SUBSCRIPT"][0].format(f="data/regions.csv")),
        use="rate * stock + c0")
    model_file = tmp_path / "with_data.mdl"
    model_file.write_text(text, encoding="utf-8")
    model = sdcluster.load_model(model_file)
    ds = model.run()
    # stock(1) = 1 + (0.1 * 1 + 2), stock(2) = 3.1 + (0.2 * 3.1 + 2)
    assert [round(float(v), 6) for v in ds["stock"].values] == [1.0, 3.1, 5.72]
    assert model.pysd.subscripts["reg"] == ["north", "south", "east"]


def test_xmile_get_function_is_refused_clearly(tmp_path: Path, cache_dir: Path, pysd_never_opens: None) -> None:
    """XMILE has no GET functions in PySD: a clear refusal, the file is never opened."""
    model = tmp_path / "get.xmile"
    model.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">\n'
        '<header><vendor>t</vendor><product version="1">t</product></header>\n'
        '<sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>\n'
        '<model><variables><aux name="rate"><eqn>GET_DIRECT_DATA(\'/etc/passwd\', \',\', \'A\', \'B2\')</eqn>'
        '</aux></variables></model></xmile>\n', encoding="utf-8")
    with pytest.raises(ModelLoadError) as info:
        sdcluster.load_model(model)
    message = str(info.value)
    assert "get.xmile" in message and "GET_DIRECT_DATA" in message.upper(), message
    assert len(message.splitlines()) == 1 and len(message) < 400, message
    assert "root:" not in message


def test_changed_subscript_file_is_read_again(tmp_path: Path, cache_dir: Path) -> None:
    """Subscript ranges from a file are read while translating: a cached translation
    whose data file changed is translated again."""
    (tmp_path / "regions.csv").write_text("north,south,east\n", encoding="utf-8")
    text = TEMPLATE.format(definition=GET["GET DIRECT SUBSCRIPT"][0].format(f="regions.csv"), use="0")
    model_file = tmp_path / "subs.mdl"
    model_file.write_text(text, encoding="utf-8")
    assert sdcluster.load_model(model_file).pysd.subscripts["reg"] == ["north", "south", "east"]
    (tmp_path / "regions.csv").write_text("upper,lower,middle\n", encoding="utf-8")
    assert sdcluster.load_model(model_file).pysd.subscripts["reg"] == ["upper", "lower", "middle"]
