"""``sdcluster info``: show a model's catalogue."""
from __future__ import annotations

import argparse

from ..core.model import bundled_models, load_model
from .table import format_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="list a model's parameters, stocks and variables",
                       description="Print the catalogue of MODEL (path or bundled name); without MODEL, "
                                   "list the bundled models.")
    p.add_argument("model", nargs="?", metavar="MODEL")
    p.add_argument("--all", action="store_true", help="also list every auxiliary variable")
    p.set_defaults(func=info)


def info(args: argparse.Namespace) -> int:
    if not args.model:
        print("bundled models:")
        for name in bundled_models():
            print(f"  {name}")
        return 0
    model = load_model(args.model)
    ts = model.time_settings
    print(f"{model.path.name} ({model.format}), sha256 {model.sha256[:12]}…")
    print(f"time: {ts['initial_time']:g} to {ts['final_time']:g} {ts['time_units']}, "
          f"step {ts['time_step']:g}, saved every {ts['saveper']:g}\n")
    print("parameters")
    print(format_table(["name", "python name", "default", "units", "range", "description"],
                       [[p.name, p.py_name, p.default, p.units, p.range_text(), _short(p.description)]
                        for p in model.parameters]))
    print("\nstocks")
    print(format_table(["name", "python name", "units", "description"],
                       [[s.name, s.py_name, s.units, _short(s.description)] for s in model.stocks]))
    if args.all:
        others = [v for v in model.variables if v not in model.parameters and v not in model.stocks]
        print("\nother variables")
        print(format_table(["name", "python name", "type", "units", "description"],
                           [[v.name, v.py_name, v.kind.lower(), v.units, _short(v.description)] for v in others]))
    return 0


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
