"""Parsing ``NAME=VALUE`` parameter assignments from the command line."""
from __future__ import annotations

import math

from ..errors import ParameterError


def parse_assignment(text: str) -> tuple[str, float]:
    """Split ``"initial firms=20"`` into ``("initial firms", 20.0)``.

    The name may contain spaces (quote it in the shell); the value must be a
    finite number. The last ``=`` separates name and value.

    Raises
    ------
    ParameterError
        If there is no ``=``, the name is empty, or the value is not a finite number.
    """
    if not isinstance(text, str) or "=" not in text:
        raise ParameterError(f"--set {text!r}: expected NAME=VALUE, e.g. --set 'initial firms=20'")
    name, _, raw = text.rpartition("=")
    name = name.strip()
    if not name:
        raise ParameterError(f"--set {text!r}: the parameter name before '=' is empty")
    try:
        value = float(raw.strip())
    except ValueError:
        raise ParameterError(f"--set {text!r}: value {raw.strip()!r} for {name!r} is not a number") from None
    if not math.isfinite(value):
        raise ParameterError(f"--set {text!r}: value for {name!r} must be finite, got {raw.strip()!r}")
    return name, value
