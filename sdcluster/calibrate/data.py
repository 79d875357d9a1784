"""Observed data for calibration: reading, validating and binding to a model.

Observations are a table with one time column and one column per observed
series. Times are in the data's own units (e.g. calendar years) and are turned
into model time by subtracting ``time_offset`` (``model time = data time -
time_offset``; with ``time_offset=1990`` the census year 2000 is model time 10).
Gaps (empty cells, ``NA``, ``NaN``) are allowed; dates may be irregular and
sparse; each series keeps only its own non-missing points.

Every malformed input raises :class:`~sdcluster.errors.DataError` whose message
names the file, the line (CSV lines count from 1, the header is line 1) and the
column. :func:`read_csv` never raises another exception type for any content.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import DataError, ParameterError, suggest

#: Cell texts read as a missing value.
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "."})

#: Largest CSV file read (bytes); observed series are small tables.
MAX_BYTES = 50_000_000


@dataclass
class Series:
    """One observed series after validation.

    Attributes
    ----------
    column : str
        Column name in the data.
    variable : str
        Model variable it is compared with (model or Python name; Python name
        once bound to a model).
    times : numpy.ndarray
        Model times of the non-missing observations (strictly increasing).
    values : numpy.ndarray
        Observed values at ``times``.
    weight : float
        Relative weight of the series in the payoff (default 1).
    sigma : float or None
        Measurement error (standard deviation, series units) if known.
    """

    column: str
    variable: str
    times: np.ndarray
    values: np.ndarray
    weight: float = 1.0
    sigma: float | None = None

    @property
    def n(self) -> int:
        """Number of non-missing observations."""
        return int(self.values.size)


@dataclass
class Observations:
    """Validated observed series, ready to be compared with a model.

    Build with :meth:`from_any` (CSV path, :class:`pandas.DataFrame`,
    :class:`xarray.Dataset` or a ``{column: values}`` mapping plus times).

    Attributes
    ----------
    series : list of Series
    time_offset : float
        ``model time = data time - time_offset``.
    source : str
        File name or a description of the in-memory source.
    sha256 : str
        SHA-256 of the file bytes (CSV) or of the canonical table (in memory).
    """

    series: list[Series]
    time_offset: float = 0.0
    source: str = "<memory>"
    sha256: str = ""
    time_column: str = "time"
    extra: dict[str, Any] = field(default_factory=dict)

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_any(cls, data: Any, *, time: str | None = None, time_offset: float = 0.0,
                 mapping: Mapping[str, str] | None = None, weights: Mapping[str, float] | None = None,
                 sigma: Mapping[str, float] | None = None, sep: str = ",") -> "Observations":
        """Read observations from a CSV path, DataFrame, Dataset or Observations.

        Parameters
        ----------
        data
            CSV file path; :class:`pandas.DataFrame` (time column or index);
            :class:`xarray.Dataset` with a ``time`` dimension; or an
            :class:`Observations` (returned as is).
        time
            Name of the time column; default: ``"time"`` if present, else the
            first column (CSV/DataFrame), or the ``time`` dimension (Dataset).
        time_offset
            Subtracted from data times to give model times.
        mapping
            ``{column: model variable}``; columns not in the mapping are
            ignored. Default: every non-time column, matched to the model
            variable of the same name.
        weights, sigma
            Optional ``{column: value}``: relative weight (> 0) and known
            measurement error (standard deviation in series units, > 0).
        sep
            CSV field separator.

        Raises
        ------
        DataError
            For any malformed input (see module docstring).
        """
        if isinstance(data, Observations):
            return data
        if isinstance(data, (str, Path)):
            header, rows, lines, digest, source = _read_csv_table(Path(data), sep)
        else:
            header, rows, lines, digest, source = _table_from_object(data, time)
        return _build(header, rows, lines, digest, source, time=time, time_offset=time_offset,
                      mapping=mapping, weights=weights, sigma=sigma)

    # -- views ----------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """Column names of the series."""
        return [s.column for s in self.series]

    @property
    def n(self) -> int:
        """Total number of non-missing observations."""
        return sum(s.n for s in self.series)

    def last_time(self) -> float:
        """Latest model time with an observation."""
        return max(float(s.times[-1]) for s in self.series)

    def first_time(self) -> float:
        """Earliest model time with an observation."""
        return min(float(s.times[0]) for s in self.series)

    def bind(self, model: Any, initial_time: float, final_time: float) -> "Observations":
        """Resolve variable names against *model* and check the time horizon.

        Returns a new :class:`Observations` whose ``variable`` fields are
        Python names.

        Raises
        ------
        DataError
            Unknown variable (with the closest names), or observations
            before *initial_time* / after *final_time*.
        """
        bound = []
        valid = [v.name for v in model.variables]
        for s in self.series:
            try:
                py = model.py_name(s.variable)
            except ParameterError:
                raise DataError(f"{self.source}: series {s.column!r} maps to {s.variable!r}, which is not a "
                                f"variable of {model.path.name}.{suggest(s.variable, valid)} "
                                "Use a mapping {column: model variable} to name it.") from None
            tol = 1e-9 * max(1.0, abs(final_time))
            if s.times[0] < initial_time - tol or s.times[-1] > final_time + tol:
                bad = s.times[(s.times < initial_time - tol) | (s.times > final_time + tol)][0]
                raise DataError(f"{self.source}: series {s.column!r} has an observation at model time "
                                f"{bad:g} (data time {bad + self.time_offset:g}), outside the simulated horizon "
                                f"[{initial_time:g}, {final_time:g}]; check time_offset "
                                f"({self.time_offset:g}) or extend final_time")
            bound.append(Series(s.column, py, s.times, s.values, s.weight, s.sigma))
        return Observations(bound, self.time_offset, self.source, self.sha256, self.time_column, dict(self.extra))


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
def read_csv(path: str | Path, **kwargs: Any) -> Observations:
    """Read observations from a CSV file; see :meth:`Observations.from_any`."""
    return Observations.from_any(Path(path), **kwargs)


def _read_csv_table(path: Path, sep: str) -> tuple[list[str], list[list[str]], list[int], str, str]:
    """Return header, rows of cell texts, their line numbers, file SHA-256, source name."""
    source = str(path)
    if not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n':
        raise DataError(f"{source}: separator {sep!r} must be one character (not a quote or newline)")
    try:
        if not path.is_file():
            raise DataError(f"{source}: data file not found")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DataError(f"{source}: data file is {size} bytes; the limit is {MAX_BYTES}")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{source}: cannot read data file ({exc.strerror or exc})") from None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
    if "\x00" in text:
        raise DataError(f"{source}: contains NUL bytes; not a text CSV file")
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{source}: line {reader.line_num}: malformed CSV ({exc})") from None
    if not rows:
        raise DataError(f"{source}: empty data file; expected a header line such as 'time,firms'")
    header = [c.strip() for c in rows[0]]
    return header, rows[1:], lines[1:], digest, source


def _table_from_object(data: Any, time: str | None) -> tuple[list[str], list[list[Any]], list[int], str, str]:
    """Turn a DataFrame / Dataset into header + rows (cells may be numbers)."""
    try:
        import pandas as pd
        import xarray as xr
    except ImportError:  # pragma: no cover - both are dependencies
        raise DataError("pandas and xarray are needed for in-memory observations") from None
    if isinstance(data, xr.Dataset):
        dim = time or "time"
        if dim not in data.dims:
            raise DataError(f"<Dataset>: no {dim!r} dimension; dimensions are {list(data.dims)}")
        names = [str(v) for v in data.data_vars if data[v].dims == (dim,)]
        if not names:
            raise DataError(f"<Dataset>: no variable with the single dimension {dim!r}")
        frame = pd.DataFrame({n: data[n].values for n in names})
        frame.insert(0, dim, data[dim].values)
        source = "<Dataset>"
    elif isinstance(data, pd.DataFrame):
        frame = data
        if time is not None and time not in frame.columns and frame.index.name == time:
            frame = frame.reset_index()
        elif time is None and "time" not in frame.columns and frame.index.name is not None:
            frame = frame.reset_index()
        source = "<DataFrame>"
    else:
        raise DataError(f"observations must be a CSV path, pandas DataFrame or xarray Dataset, "
                        f"not {type(data).__name__}")
    header = [str(c).strip() for c in frame.columns]
    rows = [list(r) for r in frame.itertuples(index=False, name=None)]
    canon = frame.to_csv(index=False).encode()
    return header, rows, list(range(2, len(rows) + 2)), hashlib.sha256(canon).hexdigest(), source


def _cell(value: Any, source: str, line: int, column: str) -> float:
    """Parse one cell: a finite number or NaN for a missing value."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return math.nan
    if isinstance(value, (bool, np.bool_)):
        raise DataError(f"{source}: line {line}, column {column!r}: {value!r} is not a number")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
    else:
        text = str(value).strip()
        if text.lower() in MISSING:
            return math.nan
        try:
            v = float(text.replace("_", "x"))  # no Python-only digit separators
        except (ValueError, OverflowError):
            raise DataError(f"{source}: line {line}, column {column!r}: {text[:40]!r} is not a number "
                            "(use '.' as decimal point, no thousands separators; leave empty for a gap)") from None
    if math.isnan(v):
        return math.nan
    if not math.isfinite(v):
        raise DataError(f"{source}: line {line}, column {column!r}: {value!r} is not a finite number")
    return v


def _build(header: list[str], rows: list[list[Any]], lines: list[int], digest: str, source: str, *,
           time: str | None, time_offset: float, mapping: Mapping[str, str] | None,
           weights: Mapping[str, float] | None, sigma: Mapping[str, float] | None) -> Observations:
    if not isinstance(time_offset, (int, float, np.integer, np.floating)) or isinstance(time_offset, bool) \
            or not math.isfinite(float(time_offset)):
        raise DataError(f"{source}: time_offset {time_offset!r} must be a finite number")
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"{source}: line 1: column {i + 1} has an empty name")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{source}: line 1: duplicate column name(s) {', '.join(map(repr, dupes))}")
    if len(header) < 2:
        raise DataError(f"{source}: line 1: need a time column and at least one series column; "
                        f"got {header}")
    if time is None:
        time = "time" if "time" in header else header[0]
    if time not in header:
        raise DataError(f"{source}: no time column {time!r}; columns are {header}.{suggest(time, header)}")
    tcol = header.index(time)
    for row, line in zip(rows, lines):
        if len(row) != len(header):
            raise DataError(f"{source}: line {line}: {len(row)} fields, but the header has {len(header)}")
    if not rows:
        raise DataError(f"{source}: no data rows below the header")
    times = np.empty(len(rows))
    for i, (row, line) in enumerate(zip(rows, lines)):
        t = _cell(row[tcol], source, line, time)
        if math.isnan(t):
            raise DataError(f"{source}: line {line}, column {time!r}: the time is missing")
        times[i] = t
        if i and t == times[i - 1]:
            raise DataError(f"{source}: line {line}, column {time!r}: duplicate time {t:g} "
                            f"(also on line {lines[i - 1]})")
        if i and t < times[i - 1]:
            raise DataError(f"{source}: line {line}, column {time!r}: time {t:g} comes after {times[i - 1]:g}; "
                            "times must increase strictly")
    series_cols = [h for h in header if h != time]
    if mapping is not None:
        if not isinstance(mapping, Mapping) or not mapping:
            raise DataError(f"{source}: mapping must be a non-empty {{column: model variable}} dict")
        for col in mapping:
            if col not in series_cols:
                raise DataError(f"{source}: mapping names column {col!r}, which is not in the data "
                                f"(columns: {series_cols}).{suggest(str(col), series_cols)}")
        series_cols = [c for c in series_cols if c in mapping]
    for label, given in (("weights", weights), ("sigma", sigma)):
        for col, val in (given or {}).items():
            if col not in series_cols:
                raise DataError(f"{source}: {label} names column {col!r}, which is not an observed series "
                                f"({series_cols}).{suggest(str(col), series_cols)}")
            if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(val)) or float(val) <= 0:
                raise DataError(f"{source}: {label}[{col!r}] = {val!r} must be a finite number > 0")
    series = []
    offset = float(time_offset)
    for col in series_cols:
        j = header.index(col)
        vals = np.array([_cell(row[j], source, line, col) for row, line in zip(rows, lines)])
        ok = ~np.isnan(vals)
        if not ok.any():
            raise DataError(f"{source}: column {col!r} has no values (all cells missing)")
        series.append(Series(column=col, variable=str(mapping[col]) if mapping else col,
                             times=times[ok] - offset, values=vals[ok],
                             weight=float((weights or {}).get(col, 1.0)),
                             sigma=float(sigma[col]) if sigma and col in sigma else None))
    return Observations(series, offset, source, digest, time)
