"""Translate Vensim/XMILE files to PySD Python modules, cached by content hash.

PySD writes its translation next to the model file. sdcluster never does: the
model bytes are copied into a private working folder inside the user cache,
translated there *without importing the result*, checked by
:mod:`sdcluster.safety`, and the finished entry is published with one atomic
``rename``. Two processes translating the same new model both succeed: the
first rename wins and the loser adopts the winner's entry.

Cache layout (``<root>`` from :func:`cache_root`)::

    <root>/<key>/model.mdl|model.xmile   copy of the source bytes
    <root>/<key>/model.py                PySD translation
    <root>/<key>/manifest.json           source name, hashes, PySD version

``<key>`` is the SHA-256 of the model bytes, the PySD version and the cache
schema version. A hit is accepted only when the translated file still hashes
to the value in the manifest; a tampered or truncated entry is discarded and
translated again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pysd

from .errors import ModelLoadError, UnsafeModelError

log = logging.getLogger(__name__)

#: Bump when the layout or the post-processing of cache entries changes.
CACHE_SCHEMA = "2"

#: File endings PySD can translate, by format.
VENSIM_SUFFIXES = (".mdl",)
XMILE_SUFFIXES = (".xmile", ".xml", ".stmx")

CACHE_ENV = "SDCLUSTER_CACHE_DIR"


@dataclass(frozen=True)
class Translation:
    """A published cache entry for one model file."""

    py_file: Path
    source_sha256: str
    format: str
    translated: bool  #: True when this call translated (cache miss)


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
    fmt = model_format(path)
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror})") from None
    digest = sha256_bytes(source)
    key = sha256_bytes(f"{digest}|pysd={pysd.__version__}|schema={CACHE_SCHEMA}".encode())
    root = cache_root()
    entry = root / key
    hit = _valid_entry(entry, path)
    if hit is not None:
        log.debug("translation cache hit for %s (%s)", path.name, entry)
        return Translation(hit, digest, fmt, translated=False)
    try:
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=root))
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot create translation cache folder {root} ({exc}); "
                             f"set {CACHE_ENV} to a writable folder") from None
    try:
        log.info("translating %s with PySD %s", path.name, pysd.__version__)
        copy = work / f"model{path.suffix.lower()}"
        copy.write_bytes(source)
        py_file = _translate_without_import(copy, fmt, path)
        _check_safety(py_file, path)
        manifest = {
            "source_name": path.name,
            "source_sha256": digest,
            "format": fmt,
            "py_file": py_file.name,
            "py_sha256": _python_hashes(work),
            "pysd_version": pysd.__version__,
            "schema": CACHE_SCHEMA,
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
        _publish(work, entry)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    hit = _valid_entry(entry, path)
    if hit is None:  # pragma: no cover - would mean a concurrent writer published garbage
        raise ModelLoadError(f"{path}: translation cache entry {entry} is invalid after publishing")
    return Translation(hit, digest, fmt, translated=True)


def _translate_without_import(copy: Path, fmt: str, original: Path) -> Path:
    """Run PySD's translator and code builder on *copy*; never import the result."""
    from pysd.builders.python.python_model_builder import ModelBuilder

    from .safety import guarded_translation

    try:
        # PySD's translators ``eval`` pieces of model text; the guard limits
        # that to literals (see sdcluster.safety).
        with guarded_translation(original):
            if fmt == "vensim":
                from pysd.translators.vensim.vensim_file import VensimFile

                parsed = VensimFile(copy)
            else:
                from pysd.translators.xmile.xmile_file import XmileFile

                parsed = XmileFile(copy)
            parsed.parse()
            abstract = parsed.get_abstract_model()
            return Path(ModelBuilder(abstract).build_model())
    except UnsafeModelError:
        raise
    except Exception as exc:  # PySD raises many types; all mean "cannot translate"
        detail = f"{type(exc).__name__}: {exc}".strip().replace(str(copy), original.name)
        raise ModelLoadError(f"{original}: PySD cannot translate this {fmt} model: {detail}") from exc


def checked_source(translation: Translation) -> str:
    """Text of a published translation, verified against its manifest hashes.

    For code generators (:mod:`sdcluster.compiled`): they start only from the
    exact text that passed the safety check on this load.

    Raises
    ------
    ModelLoadError
        If the file changed since it was checked.
    """
    data = translation.py_file.read_bytes()
    manifest = _read_manifest(translation.py_file.parent)
    if manifest is None or manifest["py_sha256"].get(translation.py_file.name) != sha256_bytes(data):
        raise ModelLoadError(f"{translation.py_file}: translation changed after its safety check")
    return data.decode("utf-8")


def _check_safety(py_file: Path, original: Path) -> None:
    from .safety import check_translated_file

    check_translated_file(py_file, model_file=str(original))


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


def _python_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every Python file of a cache entry (the model and any macro modules)."""
    return {p.name: sha256_bytes(p.read_bytes()) for p in sorted(folder.glob("*.py"))}


def _discard(entry: Path) -> None:
    """Remove a cache entry (renamed aside first, so readers never see it half-deleted)."""
    stale = entry.with_name(f".stale-{entry.name}-{os.getpid()}")
    try:
        os.rename(entry, stale)
        shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        pass


def _read_manifest(entry: Path) -> dict | None:
    """Return the manifest of *entry* if the entry is complete and untampered."""
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        py_file = entry / manifest["py_file"]
        if Path(manifest["py_file"]).name != manifest["py_file"]:
            return None
        if not py_file.is_file() or _python_hashes(entry) != manifest["py_sha256"]:
            return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _valid_entry(entry: Path, original: Path) -> Path | None:
    """Return the translated file of *entry* if it exists and passes the integrity checks.

    An entry that is incomplete, modified (hash mismatch) or refused by the
    safety check is discarded, so that the caller translates afresh; a fresh
    translation of a hostile model is refused again at translation time.
    """
    if not entry.is_dir():
        return None
    manifest = _read_manifest(entry)
    if manifest is None:
        log.warning("translation cache entry %s is incomplete or was modified; translating %s again",
                    entry, original.name)
        _discard(entry)
        return None
    py_file = entry / manifest["py_file"]
    try:
        _check_safety(py_file, original)
    except UnsafeModelError:
        log.warning("translation cache entry %s fails the safety check; translating %s again", entry, original.name)
        _discard(entry)
        return None
    return py_file
