"""Unit tests of the AST allow-list on a real PySD translation with code spliced in."""
from __future__ import annotations

from pathlib import Path

import pytest
from security_helpers import LEGAL, translate_only

from sdcluster.errors import UnsafeModelError
from sdcluster.core.safety import check_translated_source

MODEL = LEGAL / "unusual_names.mdl"


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> str:
    py = translate_only(MODEL, tmp_path_factory.mktemp("allow"))
    return py.read_text(encoding="utf-8")


MODULE_LEVEL = [
    "import os",
    "import subprocess",
    "import numpy",
    "import numpy as os",
    "from os import system",
    "from pysd.py_backend.utils import load_modules",
    "from pysd.py_backend.statefuls import Integ as eval",
    "__import__('os')",
    "exec('x = 1')",
    "x = eval('1')",
    "y = open('f', 'w')",
    "print('hi')",
    "class A:\n    pass",
    "del import_1",
    "if True:\n    pass",
    "for i in range(3):\n    pass",
    "while False:\n    pass",
    "try:\n    pass\nexcept Exception:\n    pass",
    "with open('f') as fh:\n    pass",
    "async def f():\n    pass",
    "_x = Integ(lambda: __import__('os'), lambda: 0, '_x')",
    "_x = Integ(lambda: np.load('a.npy'), lambda: 0, '_x')",
    "_x = Integ(lambda: xr.open_dataset('a.nc'), lambda: 0, '_x')",
    "_x = Integ(lambda: _root.joinpath('a').write_text('b'), lambda: 0, '_x')",
    "_x = Integ(lambda: [i for i in range(9)], lambda: 0, '_x')",
    "_x = Integ(lambda: f'{1}', lambda: 0, '_x')",
    "_x = Integ(lambda: getattr(np, 'load'), lambda: 0, '_x')",
    "_x = Integ(lambda: time.__globals__, lambda: 0, '_x')",
    "_x = Integ(lambda: ().__class__.__bases__[0].__subclasses__(), lambda: 0, '_x')",
    "_x = Integ(lambda: Path('/tmp/x'), lambda: 0, '_x')",
    "_x = Integ(lambda: (y := 1), lambda: 0, '_x')",
    "_x = Integ(lambda: vars(), lambda: 0, '_x')",
    "_x = Integ(lambda: breakpoint(), lambda: 0, '_x')",
    "_x = Integ(lambda: (lambda a=open('f'): a)(), lambda: 0, '_x')",
    "_x = Integ(*[1, 2], '_x')",
    "_x = Integ(**{'a': 1})",
    "_x = Macro('/tmp/evil.py', {}, 'evil', time_initialization=lambda: 0, py_name='_x')",
    "_x = Macro(_root.joinpath('../evil.py'), {}, 'evil', py_name='_x')",
    "_x = Macro(_root.joinpath('sub/evil.py'), {}, 'evil', py_name='_x')",
    "component = print",
    "__builtins__ = {}",
    "_root = Path('/')",
    "_subscript_dict = {'a': open('x')}",
    "exec(load_modules('m', {}, _root, []))",
    "import_1.__code__ = None",
    "_x: int = 1",
    "_x += 1",
    # a builtin used at import time, before a same-named definition shadows it
    "_x = Integ(eval('1'), lambda: 0, '_x')\n\n@component.add(name='e')\ndef eval():\n    return 0",
    "_x = Integ(open('f'), lambda: 0, '_x')\n\nopen = Integ(lambda: 0, lambda: 0, 'open')",
    "@component.add(name='i')\ndef Integ():\n    return 0",
    "_x = Integ(lambda: Macro('/tmp/evil.py', {}, 'm'), lambda: 0, '_x')",
    "_x = Integ(lambda: Integ(lambda: 0, lambda: 0, '_y'), lambda: 0, '_x')",
]

IN_FUNCTION = [
    "import os\n    return 0",
    "os = __import__('os')\n    return 0",
    "value = open('f')\n    return value",
    "global x\n    return 0",
    "print(1)\n    return 0",
    "return eval('1')",
    "return exec('1')",
    "return compile('1', 'f', 'eval')",
    "return globals()",
    "return import_1.__globals__",
    "return np.fromfile('x')",
    "return np.save('x', 1)",
    "return xr.load_dataset('x')",
    "return stats.__loader__",
    "return not_a_defined_name",
    "return len.__self__",
    "return 0\n    return 1",
    "value = 1\n    value.attrs['x'] = 1\n    return value",
    "return [x for x in ()]",
    "return (yield 1)",
    "return __data['time'].__class__",
    "return Macro(_root.joinpath('evil.py'), {}, 'evil')",
    "return ExtData('a.xlsx', 'x', 'A', 'B2', None, {}, _root, {}, '_e')",
    "return Component()",
]


def _splice_function(source: str, body: str) -> str:
    marker = "    return 10\n"  # body of the constant 'import'
    assert source.count(marker) == 1
    return source.replace(marker, f"    {body}\n")


def test_genuine_passes(genuine: str) -> None:
    check_translated_source(genuine, model_file=str(MODEL))


@pytest.mark.parametrize("snippet", MODULE_LEVEL)
def test_module_level_code_is_refused(genuine: str, snippet: str) -> None:
    with pytest.raises(UnsafeModelError, match="unusual_names.mdl"):
        check_translated_source(genuine + "\n" + snippet + "\n", model_file=str(MODEL))


@pytest.mark.parametrize("body", IN_FUNCTION)
def test_function_body_code_is_refused(genuine: str, body: str) -> None:
    with pytest.raises(UnsafeModelError, match="variable 'import'"):
        check_translated_source(_splice_function(genuine, body), model_file=str(MODEL))


@pytest.mark.parametrize("decorator", [
    "@component.add(name=str(open('f')), units='x')",
    "@component.add(name='import', units='x', comp_type=__import__('os').name)",
    "@component.add(name='import', units='x', extra=1)",
    "@component.add(name='import', limits=(0, open('f')))",
    "@component.add(name='import')\n@print",
    "@print",
])
def test_decorator_code_is_refused(genuine: str, decorator: str) -> None:
    start = genuine.index("@component.add(name=\"import\"")
    end = genuine.index("def import_1():")
    source = genuine[:start] + decorator + "\n" + genuine[end:]
    with pytest.raises(UnsafeModelError):
        check_translated_source(source, model_file=str(MODEL))


@pytest.mark.parametrize("bad", ["def broken(:\n", "x = 1\0\n", "(" * 300 + ")" * 300 + "\n",
                                 "x = " + "-" * 100000 + "1\n"])
def test_unparsable_or_pathological_source_is_refused(genuine: str, bad: str) -> None:
    with pytest.raises(UnsafeModelError, match="Nothing from this file has been run"):
        check_translated_source(genuine + bad, model_file=str(MODEL))


def test_message_names_file_variable_field_and_finding(genuine: str) -> None:
    source = _splice_function(genuine, "return eval('1')")
    with pytest.raises(UnsafeModelError) as info:
        check_translated_source(source, model_file=str(MODEL))
    message = str(info.value)
    for part in ("unusual_names.mdl", "variable 'import'", "equation", "name 'eval'", "line"):
        assert part in message, (part, message)


def test_check_translated_file_missing_macro(tmp_path: Path) -> None:
    py = translate_only(LEGAL / "macros_and_data.mdl", tmp_path)
    (tmp_path / "stock_macro.py").unlink()
    with pytest.raises(UnsafeModelError, match="cannot read"):
        from sdcluster.core.safety import check_translated_file

        check_translated_file(py, LEGAL / "macros_and_data.mdl")


def test_very_long_equation_is_accepted(genuine: str) -> None:
    """A sum of thousands of terms is deeper than Python's recursion limit; still accepted."""
    body = "return " + " + ".join(["import_1() * 0.5"] * 2000)
    check_translated_source(_splice_function(genuine, body), model_file=str(MODEL))


def test_coding_cookie_is_refused(genuine: str, tmp_path: Path) -> None:
    """Python would decode a UTF-7 file differently from the check: '+ACIAIgAi-' is '\"\"\"'."""
    source = "# -*- coding: utf-7 -*-\n" + genuine
    with pytest.raises(UnsafeModelError, match="encoding"):
        check_translated_source(source, model_file=str(MODEL))
    py = tmp_path / "model.py"
    py.write_bytes(source.encode("utf-8"))
    from sdcluster.core.safety import check_translated_file

    with pytest.raises(UnsafeModelError, match="encoding"):
        check_translated_file(py, MODEL)
