"""Writing results: atomic file writes, netCDF/CSV output.

Every file sdcluster writes goes through :func:`atomic_write`: the content is
written to a temporary file in the target's folder, flushed to disk, and moved
over the target with :func:`os.replace`. A run that fails or is killed leaves
either the previous complete file or none, never a truncated one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import xarray as xr

from .errors import OutputError

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

    The CSV has one row per time (and scenario/run) and one column per
    variable, with a header comment block holding units and provenance.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".nc":
        return atomic_write(target, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"))
    if suffix == ".csv":
        def write_csv(tmp: Path) -> None:
            frame = ds.to_dataframe()
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                for key, value in ds.attrs.items():
                    fh.write(f"# {key}: {value}\n")
                for name, var in ds.data_vars.items():
                    fh.write(f"# {name}: {var.attrs.get('long_name', name)} [{var.attrs.get('units', '')}]\n")
                frame.to_csv(fh)
        return atomic_write(target, write_csv)
    check_output_path(target)
    raise AssertionError("unreachable")  # pragma: no cover
