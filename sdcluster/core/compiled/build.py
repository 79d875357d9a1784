"""Compile a generated kernel with Numba, cached on disk under integrity hashes.

Layout (``<root>`` is the translation cache, :func:`sdcluster.core.translate.cache_root`)::

    <root>/.compiled/<key>/kernel.py         generated source (from a checked translation)
    <root>/.compiled/<key>/spec.json         how to call it (constants, defaults, outputs)
    <root>/.compiled/<key>/__pycache__/...   Numba's cache (index + machine code)
    <root>/.compiled/<key>/manifest.json     SHA-256 of every file above

``<key>`` hashes the checked translation text, the generator's own source and
the Numba, llvmlite and Python versions. An entry is used only when every file
hashes to its manifest value and no file was added or removed; otherwise it is
discarded (with a warning) and compiled again. Numba's cache index is a
pickle, so these checks run *before* Numba sees the folder. The generated source is never
imported from disk: it is compiled from the text in memory (no bytecode
written or read). When Numba is configured to cache elsewhere
(``NUMBA_CACHE_DIR``) or ``SDCLUSTER_COMPILED_CACHE=0``, nothing is written
and each process compiles afresh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

#: Numba signature of ``kernel`` (see :mod:`sdcluster.core.compiled.codegen`).
SIGNATURE = ("void(float64[:, :], int64[:], float64[:, :, :], int64[:], float64[:], float64[:], "
             "boolean[:], int64[:], float64[:, :, :])")

CACHE_ENV = "SDCLUSTER_COMPILED_CACHE"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under *folder* except the manifest."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            out[p.relative_to(folder).as_posix()] = _sha(p.read_bytes())
    return out


def _versions() -> str:
    import llvmlite
    import numba

    return f"numba={numba.__version__}|llvmlite={llvmlite.__version__}|python={sys.version}"


def _disk_cache_enabled() -> bool:
    import numba

    if os.environ.get(CACHE_ENV, "1").strip() in ("0", "false", "no"):
        return False
    if numba.config.CACHE_DIR:
        log.info("NUMBA_CACHE_DIR is set: compiled kernels are not cached on disk by sdcluster")
        return False
    return True


def _exec_kernel(source: str, path: Path, cache: bool) -> Callable:
    """Compile *source* (claimed to live at *path*) and return the jitted ``kernel``.

    The module is registered in :data:`sys.modules` under a name derived from
    the source alone: Numba's cached code finds its globals by module name.
    """
    import numba

    name = f"sdcluster._kernel_{_sha(source.encode())[:24]}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - generated from a checked translation
    sys.modules[name] = module
    return numba.njit(SIGNATURE, cache=cache, error_model="numpy", boundscheck=False)(module.kernel)


def _read_valid(folder: Path) -> tuple[str, dict] | None:
    """Kernel source and spec of *folder* if every file matches its manifest and none was added."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        files = _files(folder)
        if files != manifest["files"] or not any(k.endswith(".nbi") for k in files):
            return None
        return (folder / "kernel.py").read_text(), json.loads((folder / "spec.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _discard(folder: Path) -> None:
    stale = folder.with_name(f".stale-{folder.name}-{os.getpid()}")
    try:
        os.rename(folder, stale)
        shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        pass


def load_kernel(key: str, make: Callable[[], tuple[str, dict]], root: Path) -> tuple[Callable, dict, bool]:
    """Return the compiled kernel, its spec and whether it came from the disk cache.

    Parameters
    ----------
    key
        Identifies the kernel: hash of the checked translation and of the generator
        (the Numba, llvmlite and Python versions are added here).
    make
        Generates ``(kernel source, spec)`` on a cache miss.
    root
        Translation cache root; entries go to ``root / ".compiled"`` (a dot folder: not a
        translation entry).
    """
    if not _disk_cache_enabled():
        source, spec = make()
        return _exec_kernel(source, Path("<sdcluster-kernel>"), cache=False), spec, False
    key = _sha(f"{key}|{_versions()}".encode())
    base = root / ".compiled"
    folder = base / key
    if folder.is_dir():
        hit = _read_valid(folder)
        if hit is not None:
            return _exec_kernel(hit[0], folder / "kernel.py", cache=True), hit[1], True
        log.warning("compiled kernel cache entry %s is incomplete or was modified; compiling again", folder)
        _discard(folder)
    source, spec = make()
    try:
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=base))
    except OSError as exc:
        log.info("cannot write the compiled kernel cache under %s (%s); compiling in memory", base, exc)
        return _exec_kernel(source, Path("<sdcluster-kernel>"), cache=False), spec, False
    try:
        (work / "kernel.py").write_text(source)
        (work / "spec.json").write_text(json.dumps(spec))
        kernel = _exec_kernel(source, work / "kernel.py", cache=True)
        files = _files(work)
        if any(k.endswith(".nbi") for k in files):
            (work / "manifest.json").write_text(json.dumps({"files": files, "versions": _versions()}, indent=1))
            try:
                os.rename(work, folder)
            except OSError:
                pass  # another process published the same entry first
        else:
            log.info("Numba wrote no cache files for the kernel; it will be compiled again next time")
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return kernel, spec, False
