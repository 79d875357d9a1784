"""The one exception hierarchy of sdcluster.

Every error a user can cause derives from :class:`SdclusterError`; its message
names the file, the field or line, the offending value and what would be valid.
The command line prints the message without a traceback and exits non-zero.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class SdclusterError(Exception):
    """Base class of all errors raised for bad user input or failed runs."""


class ModelLoadError(SdclusterError):
    """A model file is missing, has an unsupported type or cannot be translated."""


class UnsafeModelError(ModelLoadError):
    """A model file would make the translated module run code it must not run."""


class ParameterError(SdclusterError):
    """Unknown parameter name or invalid parameter value."""


class RunError(SdclusterError):
    """Invalid run settings (time bounds, step, outputs) or a failed simulation."""


class ScenarioError(SdclusterError):
    """A scenario file or object is malformed."""


class DataError(SdclusterError):
    """Observed data are malformed (bad cells, times, gaps, names)."""


class CalibrationError(SdclusterError):
    """A calibration problem is ill-posed."""


class OutputError(SdclusterError):
    """An output file cannot be written."""


def suggest(name: str, valid: Iterable[str], n: int = 3) -> str:
    """Return a ``" Did you mean 'a', 'b'?"`` hint for *name* among *valid* (or ``""``).

    Matching is case-insensitive and treats spaces and underscores alike, so
    ``"Initial_Firms"`` finds ``"initial firms"``.
    """
    valid = list(valid)
    norm = {v.lower().replace("_", " ").strip(): v for v in valid}
    hits = difflib.get_close_matches(name.lower().replace("_", " ").strip(), list(norm), n=n, cutoff=0.5)
    if not hits:
        return ""
    return " Did you mean " + ", ".join(repr(norm[h]) for h in hits) + "?"
