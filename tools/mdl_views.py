#!/usr/bin/env python3
"""Draw a Vensim model as one view per sector: rewrite the sketch of a ``.mdl``.

Usage::

    python tools/mdl_views.py models/cluster_policy.mdl            # rewrite the sketch in place
    python tools/mdl_views.py models/cluster_policy.mdl --check    # exit 1 if the sketch would change
    python tools/mdl_views.py models/cluster_policy.mdl --png DIR  # also render each view to DIR/NAME.png

The sectors are the model's Vensim groups (the ``****`` / ``.Name`` headers in the
equations). Consecutive groups with the same prefix (the text before the first
``_``, e.g. ``Policy_...``) are merged into one view while the view stays at most
``--max-size`` variables, so that every view is readable on a screen; the
``Control`` group (time settings) is not drawn.

Each view is laid out by pysimlin (Simlin's engine, ``auto_layout``) on a model
made of the view's own equations, in which every variable the view reads from
another sector is a stand-in constant; in the written sketch those stand-ins
become **shadow variables** (Vensim's grey ``<name>`` copies, the "arrows in
allowed" field even), so each variable is defined in exactly one view and
shown wherever it is used. Names keep their spelling in the equations.

The layout is deterministic (same ``.mdl``, same sketch), so ``--check`` can
guard the bundled models in the test suite. After rewriting the sketch, rerun
``tools/mdl2xmile.py`` for the XMILE twin.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SKETCH = "\\\\\\---/// Sketch information - do not modify anything except names"
HEADER = (SKETCH + "\nV300  Do not put anything below this section - it will be ignored\n")
FONT = "$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0"
CONTROL = {"initial time", "final time", "time step", "saveper"}
GROUP = re.compile(r"\*{20,}\s*\n\s*\.(.+?)\s*\n\*{20,}~")


def canonical(name: str) -> str:
    """Vensim's identity of a name: case, spaces and underscores do not matter."""
    return re.sub(r"[\s_]+", " ", name.strip().strip('"')).lower()


def sectors(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group, [(variable name, equation block), ...]), ...]`` in file order."""
    body = text.split(SKETCH)[0].replace("{UTF-8}", "")
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for chunk in body.split("|"):
        m = GROUP.search(chunk)
        if m:
            out.append((m.group(1), []))
            continue
        block = chunk.strip()
        if "~" not in block:
            continue
        lhs = block.split("~")[0].strip()
        mm = re.match(r'^("[^"]+"|[^=(:]+?)\s*(=|\(|:=|$)', lhs, re.S)
        if not mm:
            continue
        if not out:
            out.append(("Model", []))
        out[-1][1].append((" ".join(mm.group(1).split()), block))
    return [(g, vs) for g, vs in out if vs]


def views(groups: list[tuple[str, list]], max_size: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """Merge consecutive groups of one prefix while a view holds at most *max_size* variables."""
    merged: list[tuple[list[str], list]] = []
    for name, variables in groups:
        if name.lower() == "control":
            continue
        prefix = name.split("_")[0]
        if merged and merged[-1][0][0].split("_")[0] == prefix and len(merged[-1][1]) + len(variables) <= max_size:
            merged[-1][0].append(name)
            merged[-1][1].extend(variables)
        else:
            merged.append(([name], list(variables)))
    prefixes = [g.split("_")[0] for g, _ in groups if "_" in g]
    shared = {p for p in prefixes if prefixes.count(p) > 1}
    return [(_title(names, shared), variables) for names, variables in merged]


def _title(names: list[str], shared: set[str]) -> str:
    """``Prefix - a, b`` for groups of a prefix several groups share (``Policy_...``), else the names."""
    prefix = names[0].split("_")[0]
    if prefix not in shared:
        return ", ".join(n.replace("_", " ") for n in names)
    return f"{prefix} - " + ", ".join(n[len(prefix) + 1:].replace("_", " ") for n in names)


def _rhs(block: str) -> str:
    eq = block.split("~")[0]
    return eq.split("=", 1)[1] if "=" in eq else eq


def references(block: str, names: list[str]) -> list[str]:
    """Model variables the equation *block* reads (longest names first, so ``total firms`` is not ``firms``)."""
    rhs, found = _rhs(block), []
    for n in sorted(names, key=len, reverse=True):
        words = re.split(r"[\s_]+", n.strip('"'))
        pat = re.compile(r"(?<![A-Za-z0-9_])" + r"[\s_]+".join(map(re.escape, words)) + r"(?![A-Za-z0-9_])", re.I)
        if pat.search(rhs):
            found.append(n)
            rhs = pat.sub(" # ", rhs)
    return found


def _layout(variables: list[tuple[str, str]], names: list[str], tmp: Path) -> tuple[list[str], set[str]]:
    """Sketch element lines of one view (pysimlin auto-layout) and the canonical names of its stand-ins."""
    inside = {canonical(n) for n, _ in variables}
    stand_ins: list[str] = []
    for _, block in variables:
        for r in references(block, names):
            if canonical(r) not in inside and canonical(r) not in CONTROL and r not in stand_ins:
                stand_ins.append(r)
    blocks = [b for _, b in variables] + [f"{s}=\n\t0\n\t~\t\n\t~\tshown in its own view\n\t" for s in stand_ins]
    blocks += [f"{c.upper()}=\n\t{v}\n\t~\tYear\n\t~\t\n\t" for c, v in
               (("initial time", 0), ("final time", 1), ("time step", 1), ("saveper", 1))]
    path = tmp / "view.mdl"
    path.write_text("{UTF-8}\n" + "\n|\n\n".join(blocks) + "\n|\n\n" + HEADER + "*View 1\n" + FONT
                    + "\n///---\\\\\\\n", encoding="utf-8")
    # pysimlin runs in a child process: it aborts the process on some inputs
    code = ("import sys, simlin\np = simlin.load(sys.argv[1]).project\np.auto_layout()\n"
            "sys.stdout.write(p.to_mdl().decode('utf-8'))")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"pysimlin could not lay out the view: {proc.stderr[-2000:]}")
    sketch = proc.stdout[proc.stdout.index(SKETCH):]
    lines = sketch.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("$")) + 1
    end = next(i for i, ln in enumerate(lines) if ln.startswith("///---"))
    return lines[start:end], {canonical(s) for s in stand_ins}


#: Factors by which the auto-layout's positions are spread out: names are drawn on one line
#: in Vensim and Simlin, wider than the layout assumes.
SPREAD = (1.6, 1.25)


def _spread(elements: list[str]) -> list[str]:
    """Element lines with positions (and arrow points) scaled by :data:`SPREAD`."""
    sx, sy = SPREAD
    out = []
    for line in elements:
        f = line.split(",")
        if f[0] in ("10", "11", "12") and len(f) > 4:
            f[3], f[4] = str(round(int(f[3]) * sx)), str(round(int(f[4]) * sy))
            line = ",".join(f)
        elif f[0] == "1":
            line = re.sub(r"\((-?\d+),(-?\d+)\)", lambda m: f"({round(int(m.group(1)) * sx)},"
                          f"{round(int(m.group(2)) * sy)})" if m.group(0) != "(0,0)" else m.group(0), line)
        out.append(line)
    return out


def sketch_of(text: str, max_size: int = 20) -> str:
    """The whole sketch section (one view per sector) for the model *text*."""
    groups = sectors(text)
    names = [n for _, vs in groups for n, _ in vs]
    spelling = {canonical(n): n for n in names}
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for title, variables in views(groups, max_size):
            elements, stand_ins = _layout(variables, names, Path(tmp))
            parts.append(f"{HEADER}*{title}\n{FONT}\n")  # Vensim repeats the header before every view
            for line in _spread(elements):
                f = line.split(",")
                if f[0] == "10" and len(f) > 8:
                    key = canonical(f[2])
                    f[2] = spelling.get(key, f[2])
                    if key in stand_ins:
                        f[8] = "2"  # even "arrows in allowed": a shadow of the variable defined in another view
                    line = ",".join(f)
                parts.append(line + "\n")
    tail = text.split(SKETCH, 1)[1] if SKETCH in text else ""
    rest = tail[tail.index("///---"):] if "///---" in tail else "///---\\\\\\\n"
    return "".join(parts) + rest


def single_views(text: str) -> list[tuple[str, str]]:
    """``[(view title, model text with only that view), ...]``: one file per view, for rendering each alone."""
    head, _, sketch = text.partition(SKETCH)
    chunks = sketch.split(SKETCH)
    last = chunks[-1]
    tail = last[last.index("///---"):] if "///---" in last else "///---\\\\\\\n"
    out = []
    for chunk in chunks:
        body = chunk.split("///---")[0]
        title = next((ln[1:] for ln in body.split("\n") if ln.startswith("*")), "View")
        out.append((title, head + SKETCH + body.rstrip("\n") + "\n" + tail))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mdl", type=Path, nargs="+")
    parser.add_argument("--max-size", type=int, default=20, help="most variables in a merged view (default 20)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a sketch would change")
    args = parser.parse_args(argv)
    stale = []
    for mdl in args.mdl:
        text = mdl.read_text(encoding="utf-8")
        new = text.split(SKETCH)[0] + sketch_of(text, args.max_size)
        if new == text:
            continue
        if args.check:
            stale.append(str(mdl))
        else:
            mdl.write_text(new, encoding="utf-8")
            print(f"rewrote the views of {mdl}")
    if stale:
        print("views out of date (run python tools/mdl_views.py on them): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
