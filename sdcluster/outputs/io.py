"""Writing results: atomic files, atomic output folders, netCDF/CSV output.

Every file sdcluster writes goes through :func:`atomic_write`: the content is
written to a temporary file in the target's folder, flushed to disk, and moved
over the target with :func:`os.replace`. A run that fails or is killed leaves
either the previous complete file or none, never a truncated one.

Commands that write a folder of results (``compare``, ``ensemble``,
``sensitivity``) go one step further with :func:`atomic_output_dir`: they
write into a hidden temporary sibling folder, end it with a ``manifest.json``
(every file with its size and SHA-256), and swap it in whole. A failed or
killed command leaves the previous folder exactly as it was, and never a
half-filled or empty one.
"""
from __future__ import annotations

import contextlib
import ctypes
import datetime
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import xarray as xr

from .. import __version__
from ..errors import OutputError

#: The file that closes every output folder: written last, it lists every other file.
MANIFEST = "manifest.json"

#: Output suffixes :func:`write_dataset` understands.
DATASET_SUFFIXES = (".nc", ".csv")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to *path*; on success move it over *path*.

    The caller writes the complete file to the yielded path (by any means);
    when the ``with`` block ends without an exception the file is fsynced and
    atomically renamed to *path*. On an exception the temporary file is removed
    and *path* is left untouched.

    Raises
    ------
    OutputError
        If the folder does not exist or is not writable.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{target}: output folder {folder} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write in {folder} ({exc.strerror})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; results are ordinary files
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # make the rename durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def check_output_path(path: str | Path, suffixes: tuple[str, ...] = DATASET_SUFFIXES) -> Path:
    """Fail early, before any work, if *path* cannot be written or has an unsupported type."""
    target = Path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        raise OutputError(f"{target}: unsupported output type {target.suffix!r}; use one of {', '.join(suffixes)}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{target}: output folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{target}: output folder {folder} is not writable")
    if target.is_dir():
        raise OutputError(f"{target}: is a folder; give a file name")
    return target


# --------------------------------------------------------------------------- whole output folders
def check_output_dir(path: str | Path) -> Path:
    """Fail early, before any work, if *path* cannot become (or be replaced by) an output folder.

    A folder is replaced as a whole, so an existing *path* must be empty or an
    earlier sdcluster output: it has a :data:`MANIFEST` and holds no file the
    manifest does not list (a user's notes or data are never deleted).

    Returns
    -------
    pathlib.Path
        The absolute path of the folder.

    Raises
    ------
    OutputError
        *path* is a file, a symbolic link, the current folder (or one above
        it), a folder with files sdcluster did not write, or its parent cannot
        be written.
    """
    target = Path(os.path.abspath(path))
    if target == target.parent:
        raise OutputError(f"{path}: cannot use the root folder as an output folder; give a folder name")
    if target.is_symlink():
        raise OutputError(f"{path}: is a symbolic link; the results replace the folder as a whole, so give the "
                          f"real folder ({os.path.realpath(target)}) or a new name")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{path}: is a file; give a folder name for the results")
    if target.is_dir():
        cwd = Path.cwd()
        if target == cwd or target in cwd.parents:
            raise OutputError(f"{path}: is the current folder or holds it; results replace their folder as a whole, "
                              "so give a new folder name, e.g. -o results/")
        foreign = _foreign_files(target)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            why = ("has no manifest.json, so it is not an sdcluster output folder" if not (target / MANIFEST).is_file()
                   else "lists them not in its manifest.json")
            raise OutputError(f"{path}: holds {shown}, which sdcluster did not write ({path} {why}); the results "
                              "replace the folder as a whole: move those files, or give a new folder name")
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot create it, {ancestor} is not a writable folder")
    return target


def _foreign_files(folder: Path) -> list[str]:
    """Files (relative paths) in *folder* that its manifest does not list."""
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())
    if not present:
        return []
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = set(manifest["files"]) | {MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        return present
    return [p for p in present if p not in listed]


@contextlib.contextmanager
def atomic_output_dir(path: str | Path, *, command: str | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces the folder *path* whole.

    The caller writes every result into the yielded folder. When the ``with``
    block ends without an exception, empty sub-folders are removed, a
    :data:`MANIFEST` listing every file (size, SHA-256), the sdcluster version,
    *command* and the time is written last, everything is flushed to disk, and
    the folder is swapped in for *path* in one step (Linux ``renameat2``
    ``RENAME_EXCHANGE``; elsewhere two renames). The previous folder is then
    deleted. On an exception the temporary folder is deleted, *path* is left
    as it was, and parent folders this call created are removed again.

    The temporary folder is a hidden sibling ``.NAME.part-PID-XXXX``; one left
    by a killed process is deleted by the next call for the same *path*.

    Raises
    ------
    OutputError
        See :func:`check_output_dir`.
    """
    target = check_output_dir(path)
    created = []
    for folder in reversed([target.parent, *target.parent.parents]):
        if not folder.exists():
            try:
                folder.mkdir()
            except OSError as exc:
                _remove_empty(created)
                raise OutputError(f"{path}: cannot create {folder} ({exc.strerror})") from None
            created.append(folder)
    _recover_leftovers(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.part-{os.getpid()}-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates 0700; results are ordinary folders
    try:
        yield tmp
        _remove_empty(sorted((p for p in tmp.rglob("*") if p.is_dir()), key=lambda p: len(p.parts)))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "generator": f"sdcluster {__version__}",
            "command": command,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "files": {p.relative_to(tmp).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                      for p in files},
        }
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        for p in [*files, *(d for d in tmp.rglob("*") if d.is_dir()), tmp]:
            _fsync(p)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)
        raise
    _fsync(target.parent)


def _swap_in(new: Path, target: Path) -> None:
    """Put folder *new* at *target*; delete what was there before."""
    if not target.exists():
        try:
            os.rename(new, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):  # else another process created it meanwhile
                raise OutputError(f"{target}: cannot move the results into place ({exc.strerror})") from None
    if _exchange(new, target):  # new now holds the previous folder
        shutil.rmtree(new, ignore_errors=True)
        return
    old = new.with_name(new.name.replace(".part-", ".old-", 1))
    os.rename(target, old)  # a kill between these renames leaves 'old', restored by the next call
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # pragma: no cover - glibc < 2.28
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # pragma: no cover - e.g. some network file systems
        return False
    raise OutputError(f"{b}: cannot move the results into place ({os.strerror(err)})")


_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>part|old)-(?P<pid>\d+)-[^/]*$")


def _recover_leftovers(target: Path) -> None:
    """Delete temporary folders of killed runs for *target*; restore a previous folder left mid-swap."""
    for p in target.parent.glob(f".{glob.escape(target.name)}.*-*"):
        m = _LEFTOVER.match(p.name)
        if not m or m["name"] != target.name or not p.is_dir() or _alive(int(m["pid"])):
            continue
        if m["kind"] == "old" and not target.exists():
            os.rename(p, target)
        else:
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_empty(folders: list[Path]) -> None:
    """Remove those of *folders* (deepest last in the list) that are empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Write *path* atomically by calling ``writer(tmp_path)``; return *path*."""
    with atomic_path(path) as tmp:
        try:
            writer(tmp)
        except OSError as exc:
            raise OutputError(f"{path}: writing failed ({exc.strerror or exc})") from None
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write *ds* to netCDF (``.nc``) or CSV (``.csv``, long format) atomically.

    The CSV is a plain table that spreadsheets read as-is: one header row, one
    row per time (and scenario/run), one column per variable. Units and
    provenance go to a sidecar ``<name>.csv.json`` (``attrs``: the dataset's
    attributes; ``variables``: each column's ``long_name``, ``units`` and
    other attributes; ``csv_sha256``: the table it describes). Both are
    written to temporary files first and moved into place together.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".nc":
        return atomic_write(target, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"))
    if suffix == ".csv":
        frame = ds.to_dataframe()
        check_output_path(target)
        try:
            with atomic_path(sidecar_path(target)) as tmp_meta, atomic_path(target) as tmp_csv:
                frame.to_csv(tmp_csv)
                meta = {**csv_metadata(ds), "csv_sha256": _sha256(tmp_csv)}
                tmp_meta.write_text(json.dumps(meta, indent=2, default=_jsonable) + "\n", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{target}: writing failed ({exc.strerror or exc})") from None
        return target
    check_output_path(target)
    raise AssertionError("unreachable")  # pragma: no cover


def sidecar_path(csv_path: str | Path) -> Path:
    """The JSON file holding a CSV output's units and provenance: ``NAME.csv`` -> ``NAME.csv.json``."""
    p = Path(csv_path)
    return p.with_name(p.name + ".json")


def csv_metadata(ds: xr.Dataset) -> dict:
    """What a CSV cannot hold: the dataset's attributes and each column's attributes."""
    columns = {name: dict(var.attrs) for name, var in ds.variables.items()}
    return {"attrs": dict(ds.attrs), "variables": columns}


def _jsonable(value: object) -> object:
    """NumPy scalars and arrays in attributes as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
