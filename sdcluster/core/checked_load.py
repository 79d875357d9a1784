"""Run a checked translation in PySD without importing files: the checked text is what runs.

PySD loads a translated model (and each macro module) with
``importlib.util.spec_from_file_location``, which reads the ``.py`` file again
after sdcluster checked it and prefers a ``__pycache__/*.pyc`` whose recorded
size and modification time match: a cache writer could plant bytecode that
runs instead of the checked source. :func:`load_pysd_model` therefore
replaces PySD's module loader (``Components._load``) while a model loads: the
module text is taken from :attr:`sdcluster.core.translate.Translation.sources` (the
very bytes that were hashed and passed the allow-list), compiled in memory and
executed into a fresh module object. No bytecode is read or written, and
nothing on disk is consulted between the check and the execution. The
replacement is installed once and serves only the paths registered by
:func:`load_pysd_model` (so PySD's own ``reload()``/``copy()`` of such a model
get the checked text too); any other path goes to PySD's loader unchanged.

The module's ``__file__`` is placed in the *model's* folder, so PySD's
``_root`` (used only for the data-file arguments of ``GET XLS/DIRECT``
functions and for macro modules) is the model's folder: data files next to the
model are found there, after :func:`sdcluster.core.model_input.check_data_path`
accepted each of them. Macro modules resolve to their checked text by name.
"""
from __future__ import annotations

import ast
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import UnsafeModelError
from .model_input import check_data_path

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


@dataclass(frozen=True)
class _Checked:
    """A checked translation, as PySD's loader will be asked for it."""

    sources: Mapping[str, str]
    entry: Path
    main: str
    model_dir: Path
    model_file: Path

    @property
    def main_path(self) -> Path:
        """The name PySD is given for the main module: in the model's folder (so that
        ``_root`` is that folder), never a file that is read."""
        return self.model_dir / f".sdcluster-{self.entry.name[:16]}-{self.main}"


#: main-module path given to PySD -> checked translation (PySD's reload() and copy()
#: ask for the same path again and get the same checked text)
_registry: dict[str, _Checked] = {}
_current = threading.local()  # the translation whose main module is executing
_lock = threading.Lock()
_installed: list[bool] = []


def _run(checked: _Checked, name: str, fake_file: Path) -> types.ModuleType:
    code = compile(checked.sources[name], str(checked.entry / name), "exec", dont_inherit=True)
    module = types.ModuleType(f"sdcluster_model_{checked.entry.name[:16]}_{Path(name).stem}")
    module.__file__ = str(fake_file)
    previous = getattr(_current, "checked", None)
    _current.checked = checked
    try:
        exec(code, module.__dict__)  # noqa: S102 - the text passed the allow-list (sdcluster.core.safety)
    finally:
        _current.checked = previous
    return module


def _install() -> None:
    """Route PySD's module loader through the registry of checked translations (once).

    Paths that are not checked translations of sdcluster, outside the loading of
    one, go to PySD's own loader unchanged.
    """
    from pysd.py_backend.components import Components

    with _lock:
        if _installed:
            return
        original = Components.__dict__["_load"]

        def load(self: Any, py_model_file: str) -> types.ModuleType:
            checked = _registry.get(str(py_model_file))
            if checked is not None:
                return _run(checked, checked.main, checked.main_path)
            active = getattr(_current, "checked", None)
            if active is None:
                return original(self, py_model_file)
            path = Path(py_model_file)  # a macro module of the translation being loaded
            if path.parent != active.model_dir or path.name not in active.sources or path.name == active.main:
                raise UnsafeModelError(
                    f"Refusing to load model {str(active.model_file)!r}: its translation asks for module "
                    f"{path.name!r}, which is not part of the checked translation. Nothing from this "
                    "file has been run.")
            return _run(active, path.name, path)

        Components._load = load
        _installed.append(True)


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
    for source in translation.sources.values():
        for variable, file_name in data_file_arguments(source):
            check_data_path(file_name, model_dir, model_file, variable.lstrip("_").replace("ext_", "", 1))
    checked = _Checked(dict(translation.sources), translation.entry, translation.py_file.name,
                       model_dir, model_file)
    _install()
    _registry[str(checked.main_path)] = checked
    return pysd.load(str(checked.main_path))
