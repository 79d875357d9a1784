"""Issue 18 items 4, 5, 7 and issue 12 item 9: refusals are quick, one or two lines, in the user's terms.

Bounds are tested as bounds: the refusal happens before PySD's parser is
called (the parser is replaced by one that fails the test), with a generous
5 s limit as a backstop, never as a timing measurement.
"""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import pytest
from security_helpers import HOSTILE, cache_entries

import sdcluster
from sdcluster.errors import ModelLoadError
from sdcluster.core.model_input import MAX_MODEL_BYTES

BASE = (HOSTILE / "inert_units.mdl").read_text(encoding="utf-8")
XMILE = (HOSTILE / "xmile_inert_units.xmile").read_text(encoding="utf-8")


def _mdl(tmp_path: Path, rate: str = "0.1", name: str = "m.mdl", extra: str = "") -> Path:
    path = tmp_path / name
    path.write_text(BASE.replace("rate= 0.1", f"rate= {rate}").replace("{UTF-8}\n", "{UTF-8}\n" + extra),
                    encoding="utf-8")
    return path


@pytest.fixture
def no_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """PySD's parsers must not be reached."""
    from pysd.translators.vensim import vensim_file
    from pysd.translators.xmile import xmile_file

    def called(*args, **kwargs):
        raise AssertionError("PySD's parser was called")

    monkeypatch.setattr(vensim_file.VensimFile, "__init__", called)
    monkeypatch.setattr(xmile_file.XmileFile, "__init__", called)


def _refusal(path: Path, cache_dir: Path) -> str:
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ModelLoadError) as info:
            sdcluster.load_model(path)
    assert time.monotonic() - start < 5, "refusal took longer than the 5 s backstop"
    message = str(info.value)
    assert path.name in message, message
    assert len(message.splitlines()) <= 2 and len(message) < 600, message
    for leak in ("site-packages", "Traceback", "Parse tree", "<Node", "nsmap", "didn't match"):
        assert leak not in message, message
    assert not [w for w in caught if "site-packages" in str(w.filename) or "site-packages" in str(w.message)]
    assert not [p for p in cache_entries(cache_dir) if not p.name.endswith((".json", ".py", ".mdl", ".xmile"))]
    return message


# -- bounds before parsing (item 5, item 7) ----------------------------------------------------

def test_billion_laughs_is_refused_before_parsing(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    text = XMILE.replace('<?xml version="1.0" encoding="utf-8"?>',
                         f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE xmile [<!ENTITY l0 "lol">{lol}]>')
    path = tmp_path / "laughs.xmile"
    path.write_text(text.replace("<doc>Firms.</doc>", "<doc>&l9;</doc>"), encoding="utf-8")
    assert "DOCTYPE" in _refusal(path, cache_dir)


def test_deep_nesting_is_refused_before_parsing(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    message = _refusal(_mdl(tmp_path, "(" * 5000 + "0.1" + ")" * 5000), cache_dir)
    assert "nested 5000 deep" in message and "line" in message


def test_deep_xmile_nesting_is_refused(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    path = tmp_path / "deep.xmile"
    path.write_text(XMILE.replace("<eqn>0.1</eqn>", f"<eqn>{'(' * 5000}0.1{')' * 5000}</eqn>"), encoding="utf-8")
    assert "nested" in _refusal(path, cache_dir)


def test_too_many_variables(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    extra = "".join(f"v{i} = 1\n\t~\tDmnl\n\t~\t\n\t|\n" for i in range(100_000))
    assert "equations; models are limited" in _refusal(_mdl(tmp_path, extra=extra), cache_dir)


def test_huge_subscript_range(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    extra = "reg: (r1-r1000000)\n\t~\t\n\t~\t\t|\n"
    assert "1000000 elements" in _refusal(_mdl(tmp_path, extra=extra), cache_dir)


def test_huge_xmile_dimension_and_lookup(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    path = tmp_path / "dim.xmile"
    path.write_text(XMILE.replace('<dim name="region">', '<dim name="region" size="1000000">'), encoding="utf-8")
    assert "1000000 elements" in _refusal(path, cache_dir)
    points = ",".join(["1"] * 1_000_000)
    gf = (f'<aux name="g"><eqn>TIME</eqn><gf><xscale min="0" max="1"/><yscale min="0" max="1"/>'
          f"<ypts>{points}</ypts></gf></aux>")
    path = tmp_path / "gf.xmile"
    path.write_text(XMILE.replace("<variables>", "<variables>" + gf), encoding="utf-8")
    assert "1000000 points" in _refusal(path, cache_dir)


def test_huge_file(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    path = _mdl(tmp_path)
    with path.open("a") as handle:
        handle.write(" " * (MAX_MODEL_BYTES + 1))
    assert "limited to" in _refusal(path, cache_dir)


def test_fifo_and_dev_zero_are_refused(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    fifo = tmp_path / "pipe.mdl"
    os.mkfifo(fifo)
    assert "not a regular file" in _refusal(fifo, cache_dir)  # used to block forever
    zero = tmp_path / "zero.mdl"
    zero.symlink_to("/dev/zero")
    assert "not a regular file" in _refusal(zero, cache_dir)  # used to die with MemoryError


# -- not a model (issue 12 item 9) -------------------------------------------------------------

@pytest.mark.parametrize("name, content, expected", [
    ("empty.mdl", b"", "empty"),
    ("blank.xmile", b"  \n\n", "empty"),
    ("junk.mdl", bytes(range(256)) * 4, "binary"),
    ("junk.xmile", bytes(range(256)) * 4, "binary"),
    ("page.xmile", b"<html><body>hello</body></html>", "not an XMILE model"),
    ("notes.mdl", b"Just some notes about the cluster.\nNothing else.\n", "not a Vensim model"),
    ("broken.xmile", b"<xmile><model>", "not well-formed XML"),
])
def test_not_a_model(name: str, content: bytes, expected: str, tmp_path: Path, cache_dir: Path,
                     no_parser: None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert expected in _refusal(path, cache_dir)


def test_xmile_macro_is_a_clear_error(tmp_path: Path, cache_dir: Path, no_parser: None) -> None:
    path = tmp_path / "macro.xmile"
    macro = '<macro name="double"><parm>x</parm><eqn>x * 2</eqn></macro>'
    path.write_text(XMILE.replace("</model>", "</model>" + macro), encoding="utf-8")
    assert "<macro> 'double' is not supported" in _refusal(path, cache_dir)


# -- messages in the user's terms (item 4) -----------------------------------------------------

def test_units_range_with_code(tmp_path: Path, cache_dir: Path) -> None:
    path = tmp_path / "m.mdl"
    path.write_text(BASE.replace("1/Year [0,1]", "1/Year [0,__import__('os').system('x')]"), encoding="utf-8")
    assert "a number was expected" in _refusal(path, cache_dir)


def test_non_finite_constant(tmp_path: Path, cache_dir: Path) -> None:
    message = _refusal(_mdl(tmp_path, "1e999"), cache_dir)
    assert "not finite" in message and "'rate'" in message and "executed as Python" not in message


def test_five_thousand_digit_integer(tmp_path: Path, cache_dir: Path) -> None:
    message = _refusal(_mdl(tmp_path, "1" * 5000), cache_dir)
    assert "5000 characters" in message and "lookup" not in message and "'rate'" in message


def test_unknown_function(tmp_path: Path, cache_dir: Path) -> None:
    message = _refusal(_mdl(tmp_path, "EXEC(1)"), cache_dir)
    assert "'EXEC'" in message and "KeyError" not in message


def test_sum_of_numbers_is_a_genuine_model(tmp_path: Path, cache_dir: Path) -> None:
    """Item 7: 'rate = 0.05+0.05' is arithmetic on numbers, not a hostile lookup field."""
    model = sdcluster.load_model(_mdl(tmp_path, "0.05+0.05"))
    assert [round(float(v), 6) for v in model.run()["stock"].values] == [1.0, 1.1, 1.21]


def test_non_finite_results_are_reported(tmp_path: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Item 7: '--set rate=1e308' overflows to inf; the run says so."""
    model = sdcluster.load_model(_mdl(tmp_path))
    with caplog.at_level("WARNING", logger="sdcluster"):
        ds = model.run(params={"rate": 1e308}, check_limits=False)
    assert not bool(ds["stock"].isel(time=-1).pipe(lambda v: abs(v) < float("inf")))
    assert "infinite or NaN values in inflow (from time 1), stock (from time 2)" in caplog.text, caplog.text
