"""Translate Vensim/XMILE files to PySD Python modules, cached by content hash.

PySD writes its translation next to the model file. sdcluster never does: the
model bytes are copied into a private working folder inside the user cache,
translated there *without importing the result*, checked by
:mod:`sdcluster.core.safety`, and the finished entry is published with one atomic
``rename``. Two processes translating the same new model both succeed: the
first rename wins and the loser adopts the winner's entry.

Cache layout (``<root>`` from :func:`cache_root`)::

    <root>/<key>/model.mdl|model.xmile   copy of the source bytes
    <root>/<key>/model.py                PySD translation (+ one module per macro)
    <root>/<key>/manifest.json           source name, every file with its hash, PySD version

``<key>`` is the SHA-256 of the model bytes, the PySD version and the cache
schema version. A hit is accepted only when the entry holds exactly the files
its manifest lists, each still hashing to its recorded value, and the
translation passes the allow-list again; a tampered, truncated or extended
entry (a planted ``__pycache__``, say) is discarded and translated again. The
checked text is returned in :attr:`Translation.sources` (see
:func:`checked_source`) and is what runs: nothing imports the files.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pysd

from ..errors import ModelLoadError, UnsafeModelError

log = logging.getLogger(__name__)

#: Bump when the layout or the post-processing of cache entries changes.
CACHE_SCHEMA = "3"

#: File endings PySD can translate, by format.
VENSIM_SUFFIXES = (".mdl",)
XMILE_SUFFIXES = (".xmile", ".xml", ".stmx")

CACHE_ENV = "SDCLUSTER_CACHE_DIR"


@dataclass(frozen=True)
class Translation:
    """A published cache entry for one model file.

    ``sources`` holds the text of every module of the entry (``model.py`` and
    any macro modules) exactly as it was hashed and checked by the allow-list;
    run it with :func:`sdcluster.core.checked_load.load_pysd_model` (or read it
    with :func:`checked_source`), never by importing ``py_file``.
    """

    py_file: Path
    source_sha256: str
    format: str
    translated: bool  #: True when this call translated (cache miss)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def entry(self) -> Path:
        """The cache entry folder."""
        return self.py_file.parent


def checked_source(translation: Translation, name: str | None = None) -> str:
    """Return the checked source text of a translation's module *name* (default: the main module).

    This is the text that passed the integrity and allow-list checks, held in
    memory: compile and run this string, never the file on disk (which may
    have changed since the check).
    """
    return translation.sources[name or translation.py_file.name]


def cache_root() -> Path:
    """Return the translation cache folder.

    ``$SDCLUSTER_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/sdcluster``, else
    ``~/.cache/sdcluster``.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sdcluster"


def model_format(path: Path) -> str:
    """Return ``"vensim"`` or ``"xmile"`` for *path*, or raise :class:`ModelLoadError`."""
    suffix = path.suffix.lower()
    if suffix in VENSIM_SUFFIXES:
        return "vensim"
    if suffix in XMILE_SUFFIXES:
        return "xmile"
    valid = ", ".join(VENSIM_SUFFIXES + XMILE_SUFFIXES)
    raise ModelLoadError(f"{path}: unsupported model file type {path.suffix!r}; expected one of {valid}")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of *data*."""
    return hashlib.sha256(data).hexdigest()


def translate(path: Path) -> Translation:
    """Return the cached translation of the model at *path*, translating on a miss.

    Raises
    ------
    ModelLoadError
        If the file is missing, unreadable, of an unsupported type, or PySD
        cannot translate it.
    UnsafeModelError
        If the translation contains code a model translation must not contain.
    """
    from .model_input import check_model_text, read_model_bytes

    fmt = model_format(path)
    source = read_model_bytes(path)
    check_model_text(source, path, fmt)
    digest = sha256_bytes(source)
    key = sha256_bytes(f"{digest}|pysd={pysd.__version__}|schema={CACHE_SCHEMA}".encode())
    root = cache_root()
    entry = root / key
    hit = _valid_entry(entry, path)
    if hit is not None:
        log.debug("translation cache hit for %s (%s)", path.name, entry)
        return Translation(entry / hit["py_file"], digest, fmt, False, hit["sources"])
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_work(root)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=root))
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot create translation cache folder {root} ({exc}); "
                             f"set {CACHE_ENV} to a writable folder") from None
    try:
        log.info("translating %s with PySD %s", path.name, pysd.__version__)
        copy = work / f"model{path.suffix.lower()}"
        copy.write_bytes(source)
        py_file, inputs = _translate_without_import(copy, fmt, path)
        files = {p.name: p.read_bytes() for p in work.iterdir()}
        _refuse_unsupported(_check_safety(py_file.name, files, path), path)
        manifest = {
            "source_name": path.name,
            "source_sha256": digest,
            "format": fmt,
            "py_file": py_file.name,
            "files": {name: sha256_bytes(data) for name, data in sorted(files.items())},
            "pysd_version": pysd.__version__,
            "schema": CACHE_SCHEMA,
            # data files read while translating (subscript ranges from a file), relative
            # to the model's folder: a hit with changed data is translated again
            "inputs": {str(p.relative_to(path.parent.resolve())): sha256_bytes(p.read_bytes()) for p in inputs},
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
        _publish(work, entry)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    hit = _valid_entry(entry, path)
    if hit is None:  # pragma: no cover - would mean a concurrent writer published garbage
        raise ModelLoadError(f"{path}: translation cache entry {entry} is invalid after publishing")
    return Translation(entry / hit["py_file"], digest, fmt, True, hit["sources"])


#: Work folders of killed translations older than this (seconds) are removed.
STALE_WORK_SECONDS = 3600


def _remove_stale_work(root: Path) -> None:
    """Remove ``.tmp-*``/``.stale-*`` folders left by killed translations (only old ones:
    a young one may belong to a translation running in another process)."""
    now = time.time()
    for item in root.iterdir():
        if not item.name.startswith((".tmp-", ".stale-")):
            continue
        try:
            info = item.lstat()
        except OSError:
            continue
        if os.path.isdir(item) and not item.is_symlink() and now - info.st_mtime > STALE_WORK_SECONDS:
            log.info("removing %s, left by an interrupted translation", item)
            shutil.rmtree(item, ignore_errors=True)


def _translate_without_import(copy: Path, fmt: str, original: Path) -> tuple[Path, list[Path]]:
    """Run PySD's translator and code builder on *copy*; never import the result.

    Returns the translated main module and the data files read while translating.
    """
    from pysd.builders.python.python_model_builder import ModelBuilder

    from .model_input import neutralise
    from .safety import guarded_translation

    try:
        # PySD's translators ``eval`` pieces of model text; the guard limits
        # that to literals (see sdcluster.core.safety). PySD's warnings name its own
        # source files: they are logged in the model's terms instead.
        with guarded_translation(original), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if fmt == "vensim":
                from pysd.translators.vensim.vensim_file import VensimFile

                parsed = VensimFile(copy)
            else:
                from pysd.translators.xmile.xmile_file import XmileFile

                parsed = XmileFile(copy)
            parsed.parse()
            abstract = parsed.get_abstract_model()
            # comment text and data-file paths are made safe before any code exists
            inputs = neutralise(abstract, original)
            built = Path(ModelBuilder(abstract).build_model())
        for warning in caught:
            log.warning("%s: %s", original.name, _first_line(str(warning.message), copy, original))
        return built, inputs
    except ModelLoadError:
        raise
    except Exception as exc:  # PySD raises many types; all mean "cannot translate"
        raise ModelLoadError(f"{original}: PySD cannot translate this {fmt} model: "
                             f"{_pysd_reason(exc, copy, original)}") from None


def _first_line(text: str, copy: Path, original: Path, limit: int = 200) -> str:
    text = text.replace(str(copy), original.name).replace(str(copy.parent), ".").strip()
    line = text.split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _pysd_reason(exc: BaseException, copy: Path, original: Path) -> str:
    """PySD's reason for refusing a model, in one line and in the model's terms
    (never its parse trees, which run to kilobytes)."""
    cause: BaseException = exc
    while getattr(cause, "original_class", None) is not None and cause.__context__ is not None:
        cause = cause.__context__  # parsimonious VisitationError wraps the real error
    if isinstance(cause, KeyError):
        name = cause.args[0] if cause.args else ""
        return f"unknown function or name {str(name).upper()!r} (not a Vensim/XMILE function PySD knows)"
    if isinstance(cause, NotImplementedError):
        return f"uses something PySD 3.14 does not support: {_first_line(str(cause), copy, original)}"
    text = str(cause)
    if isinstance(cause, ValueError) and text.startswith("could not convert string to float"):
        return (f"a number was expected but the model has {text.split(':', 1)[1].strip()[:80]} "
                "(in a units range [min,max,step] or a constant)")
    if type(cause).__name__ in ("ParseError", "IncompleteParseError") and isinstance(
            getattr(cause, "text", None), str):
        pos = getattr(cause, "pos", 0) or 0
        equation = " ".join(cause.text.split())  # type: ignore[attr-defined]
        equation = equation if len(equation) <= 120 else equation[:117] + "..."
        near = " ".join(cause.text[pos:pos + 30].split())  # type: ignore[attr-defined]
        return (f"cannot parse the equation {equation!r} near {near!r} (a syntax error, or a function "
                f"{'Vensim' if copy.suffix == '.mdl' else 'XMILE'} and PySD do not know)")
    return f"{type(cause).__name__}: {_first_line(text, copy, original)}"


def _refuse_unsupported(sources: Mapping[str, str], original: Path) -> None:
    """Refuse a translation that calls functions PySD translated as 'not implemented'
    (they would fail at run time with a bare NotImplementedError)."""
    for source in sources.values():
        for match in re.finditer(r"not_implemented_function\(\s*['\"]([^'\"]*)['\"]", source):
            raise ModelLoadError(f"{original}: uses the function {match.group(1).upper()!r}, which is not a "
                                 "Vensim/XMILE function PySD 3.14 can run")


def _check_safety(main: str, files: Mapping[str, bytes], original: Path) -> dict[str, str]:
    """Allow-list check of the modules in *files* (name -> bytes); returns their checked text."""
    from .safety import check_translated_sources

    return check_translated_sources(main, files, model_file=str(original))


def _publish(work: Path, entry: Path) -> None:
    """Atomically move the finished *work* folder to *entry*; adopt a concurrent winner."""
    try:
        os.rename(work, entry)
    except OSError:
        if not entry.is_dir():
            raise
        # Another process published first (rename onto a non-empty folder
        # fails). Our work folder is discarded by the caller; but the winner's
        # entry may be stale or tampered: replace it in that case.
        if _read_manifest(entry) is None:
            _discard(entry)
            try:
                os.rename(work, entry)
            except OSError:
                pass  # a third process published meanwhile; validated by the caller


def _discard(entry: Path) -> None:
    """Remove a cache entry (renamed aside first, so readers never see it half-deleted)."""
    stale = entry.with_name(f".stale-{entry.name}-{os.getpid()}")
    try:
        os.rename(entry, stale)
        shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        pass


def _read_manifest(entry: Path) -> dict | None:
    """Return the manifest of *entry*, with the bytes of its files, if the entry is complete
    and untampered: exactly the files the manifest lists (no ``__pycache__``, no extra
    module), each with its recorded hash. Every file is read once; the bytes returned are
    the bytes that were hashed."""
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        listed = manifest["files"]
        if (not isinstance(listed, dict) or manifest["py_file"] not in listed
                or any(Path(name).name != name or name.startswith(".") for name in listed)):
            return None
        present = {p.name for p in entry.iterdir()} - {"manifest.json"}
        if present != set(listed):
            return None
        files = {}
        for name, digest in listed.items():
            path = entry / name
            if not stat.S_ISREG(path.lstat().st_mode):
                return None
            data = path.read_bytes()
            if sha256_bytes(data) != digest:
                return None
            files[name] = data
        return {**manifest, "data": files}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _inputs_unchanged(manifest: dict, original: Path) -> bool:
    """True when the translation-time data files next to *original* still hash as recorded."""
    from .model_input import check_data_path

    try:
        for name, digest in dict(manifest.get("inputs") or {}).items():
            target = check_data_path(name, original.parent, original, "(subscript range)")
            if sha256_bytes(target.read_bytes()) != digest:
                return False
    except (OSError, ValueError, TypeError, UnsafeModelError):
        return False
    return True


def _valid_entry(entry: Path, original: Path) -> dict | None:
    """Return the manifest and checked sources of *entry* if it passes the integrity checks.

    An entry that is incomplete, modified (hash mismatch), holds a file its
    manifest does not list (a planted ``__pycache__``, say) or is refused by
    the safety check is discarded, so that the caller translates afresh; a
    fresh translation of a hostile model is refused again at translation time.
    """
    if not entry.is_dir():
        return None
    manifest = _read_manifest(entry)
    if manifest is not None and not _inputs_unchanged(manifest, original):
        log.info("data files read by %s while translating have changed; translating again", original.name)
        _discard(entry)
        return None
    if manifest is None:
        log.warning("translation cache entry %s is incomplete, was modified or holds files it "
                    "should not; translating %s again", entry, original.name)
        _discard(entry)
        return None
    try:
        sources = _check_safety(manifest["py_file"], manifest.pop("data"), original)
    except UnsafeModelError:
        log.warning("translation cache entry %s fails the safety check; translating %s again", entry, original.name)
        _discard(entry)
        return None
    return {**manifest, "sources": sources}
