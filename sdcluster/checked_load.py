"""Run a checked translation in PySD without importing files: the checked text is what runs.

PySD loads a translated model (and each macro module) with
``importlib.util.spec_from_file_location``, which reads the ``.py`` file again
after sdcluster checked it and prefers a ``__pycache__/*.pyc`` whose recorded
size and modification time match: a cache writer could plant bytecode that
runs instead of the checked source. :func:`load_pysd_model` therefore
replaces PySD's module loader (``Components._load``) while a model loads: the
module text is taken from :attr:`sdcluster.translate.Translation.sources` (the
very bytes that were hashed and passed the allow-list), compiled in memory and
executed into a fresh module object. No bytecode is read or written, and
nothing on disk is consulted between the check and the execution.

The module's ``__file__`` is placed in the *model's* folder, so PySD's
``_root`` (used only for the data-file arguments of ``GET XLS/DIRECT``
functions and for macro modules) is the model's folder: data files next to the
model are found there, after :func:`sdcluster.model_input.check_data_path`
accepted each of them. Macro modules resolve to their checked text by name.
"""
from __future__ import annotations

import ast
import threading
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import UnsafeModelError
from .model_input import check_data_path

_lock = threading.RLock()


def data_file_arguments(source: str) -> list[tuple[str, str]]:
    """``(object name, file name)`` of every external-data object in a checked translation."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("ExtData", "ExtLookup", "ExtConstant"):
            found.append((str(node.args[-1].value) if isinstance(node.args[-1], ast.Constant) else "", first.value))
        elif (isinstance(func, ast.Attribute) and func.attr == "add" and isinstance(func.value, ast.Name)
              and func.value.id.startswith("_ext_")):
            found.append((func.value.id, first.value))
    return found


def _module(name: str, source: str, filename: str, fake_file: Path) -> types.ModuleType:
    code = compile(source, filename, "exec", dont_inherit=True)
    module = types.ModuleType(name)
    module.__file__ = str(fake_file)
    exec(code, module.__dict__)  # noqa: S102 - the text passed the allow-list (sdcluster.safety)
    return module


@contextmanager
def _checked_modules(sources: Mapping[str, str], entry: Path, model_dir: Path,
                     model_file: Path) -> Iterator[None]:
    from pysd.py_backend.components import Components

    original = Components.__dict__["_load"]
    counter = [0]

    def load(self: Any, py_model_file: str) -> types.ModuleType:
        path = Path(py_model_file)
        if path.parent != model_dir or path.name not in sources:
            raise UnsafeModelError(f"Refusing to load model {str(model_file)!r}: its translation asks "
                                   f"for module {path.name!r}, which is not part of the checked "
                                   "translation. Nothing from this file has been run.")
        counter[0] += 1
        return _module(f"sdcluster_model_{counter[0]}", sources[path.name], str(entry / path.name), path)

    with _lock:
        Components._load = load
        try:
            yield
        finally:
            Components._load = original


def load_pysd_model(translation: Any, model_file: Path) -> Any:
    """Return ``pysd.py_backend.model.Model`` for a checked *translation* of *model_file*.

    Raises
    ------
    UnsafeModelError
        If a data-file argument of the translation names a file outside the
        model's folder (for example through a symbolic link).
    """
    import pysd

    model_dir = model_file.resolve().parent
    main = translation.py_file.name
    for name, source in translation.sources.items():
        for variable, file_name in data_file_arguments(source):
            check_data_path(file_name, model_dir, model_file, variable.lstrip("_").replace("ext_", "", 1))
    with _checked_modules(translation.sources, translation.entry, model_dir, model_file):
        return pysd.load(str(model_dir / main))
