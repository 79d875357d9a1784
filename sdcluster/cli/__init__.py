"""The ``sdcluster`` command.

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)`` (registering its ``argparse`` sub-parser and setting
``func`` to a callable ``(args) -> int``). :func:`main` wires them together,
prints :class:`~sdcluster.errors.SdclusterError` messages without a traceback
(``--verbose`` shows it) and returns a non-zero exit code on failure.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from .. import __version__
from ..errors import SdclusterError

#: Sub-command modules, in the order ``sdcluster --help`` lists them.
SUBCOMMANDS = ("run", "compare", "check", "info", "calibrate", "ensemble", "sensitivity", "optimize",
               "response", "loops", "explore")

log = logging.getLogger("sdcluster")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="sdcluster",
        description="System dynamics of industrial clusters: run, compare, calibrate models.",
    )
    parser.add_argument("--version", action="version", version=f"sdcluster {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging and tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:  # a sub-command not built yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s" if not args.verbose else "%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SdclusterError as exc:
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
