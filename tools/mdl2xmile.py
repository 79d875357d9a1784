#!/usr/bin/env python3
"""Write the XMILE twin of a Vensim model, and optionally lay out its sketch.

Usage::

    python tools/mdl2xmile.py models/cluster_lifecycle.mdl            # writes models/cluster_lifecycle.xmile
    python tools/mdl2xmile.py models/cluster_lifecycle.mdl --layout   # also replaces the .mdl sketch by an automatic layout

The ``.mdl`` is the source the modellers edit; the ``.xmile`` is derived from it
with pysimlin (Simlin's engine, which reads Vensim files and writes XMILE with a
stock-and-flow view), then adjusted where PySD's XMILE reader needs it:

- graphical functions are called as ``g(x)`` (Simlin writes ``LOOKUP(g, x)``);
- a stand-alone graphical function is a ``<gf name=...>`` element, not an
  ``<aux>`` holding a ``<gf>``;
- a graphical function with explicit ``<xpts>`` loses its ``<xscale>``: PySD
  3.14 ignores ``<xpts>`` whenever ``<xscale>`` is present and spaces the
  points evenly instead (a PySD bug that changes the table);
- the declared ranges ``[lo, hi]`` of the ``.mdl`` are kept as ``<range>``;
- the variables keep their Vensim names (``name="initial firms"``), so both
  formats give the same catalogue;
- every Vensim group (sector) of the ``.mdl`` is an XMILE ``<group>`` (pysimlin
  writes them); the ``owner`` pysimlin gives each group (the group before it, as
  if they were nested) is dropped: sectors are siblings. The ``.mdl`` draws one
  view per sector (``tools/mdl_views.py``); pysimlin stacks those views into the
  one view it writes, each framed by its sector's group.

Prefer ``WITH LOOKUP`` for graphical functions used in one place: pysimlin
0.8.5 aborts the whole process when it reads a stand-alone ``<gf>`` element
(valid XMILE that PySD and Stella read), so the diagram tests cannot render
such a file. The bundled models use ``WITH LOOKUP`` throughout.

The test suite checks that both files give the same trajectories under PySD,
so a stale ``.xmile`` fails CI: re-run this tool after editing the ``.mdl``.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from lxml import etree

NS = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
SKETCH_MARK = "\\\\\\---/// Sketch information"


def canonical(name: str) -> str:
    """XMILE's canonical identifier of a Vensim name (lower case, spaces → ``_``)."""
    return re.sub(r"[\s_]+", "_", name.strip().strip('"')).lower()


def mdl_declarations(text: str) -> dict[str, dict]:
    """Map canonical name → ``{"name", "range": (lo, hi) | None}`` from the equations of a ``.mdl``."""
    body = text.split(SKETCH_MARK)[0]
    out = {}
    for chunk in body.split("|"):
        parts = chunk.split("~")
        if len(parts) < 2:
            continue
        lhs = parts[0].strip()
        lhs = lhs.split("{UTF-8}")[-1].strip()
        m = re.match(r'^("[^"]+"|[^=(:]+?)\s*(=|\(|:=|$)', lhs, re.S)
        if not m:
            continue
        name = " ".join(m.group(1).split())
        rng = None
        r = re.search(r"\[([^\]]*)\]", parts[1])
        if r:
            bounds = [b.strip() for b in r.group(1).split(",")]
            if len(bounds) >= 2:
                rng = tuple(None if b in ("?", "") else b for b in bounds[:2])
        out[canonical(name)] = {"name": name, "range": rng}
    return out


def convert(mdl: Path, layout: bool) -> Path:
    """Write ``mdl.with_suffix('.xmile')``; with *layout*, rewrite the sketch of *mdl*."""
    import simlin

    text = mdl.read_text(encoding="utf-8")
    model = simlin.load(str(mdl))
    project = model.project
    if layout:
        project.auto_layout()
        sketch = project.to_mdl().decode("utf-8")
        new_sketch = sketch[sketch.index(SKETCH_MARK):]
        head = text.split(SKETCH_MARK)[0].rstrip() + "\n"
        mdl.write_text(head + new_sketch, encoding="utf-8")
        model = simlin.load(str(mdl))
        project = model.project
    decls = mdl_declarations(mdl.read_text(encoding="utf-8"))
    root = etree.fromstring(project.to_xmile())
    variables = root.find(f"{{{NS}}}model/{{{NS}}}variables")
    gf_names = set()
    for aux in list(variables):
        if etree.QName(aux).localname == "aux" and aux.find(f"{{{NS}}}gf") is not None \
                and aux.find(f"{{{NS}}}eqn") is None:
            gf = etree.SubElement(variables, f"{{{NS}}}gf", name=aux.get("name"))
            for child in aux:
                if etree.QName(child).localname == "gf":
                    for part in child:
                        gf.append(part)
                else:
                    gf.append(child)
            aux.addprevious(gf)
            variables.remove(aux)
            gf_names.add(aux.get("name"))
    for xpts in root.iter(f"{{{NS}}}xpts"):
        xscale = xpts.getparent().find(f"{{{NS}}}xscale")
        if xscale is not None:
            xpts.getparent().remove(xscale)
    for ref in list(root.iter(f"{{{NS}}}inflow")) + list(root.iter(f"{{{NS}}}outflow")):
        ref.text = canonical(ref.text or "")  # PySD parses these as expressions
    for var in variables:
        eqn = var.find(f"{{{NS}}}eqn")
        if eqn is not None and eqn.text:
            eqn.text = re.sub(r"\bLOOKUP\(\s*([A-Za-z_][\w.]*)\s*,\s*", r"\1(", eqn.text)
        decl = decls.get(canonical(var.get("name", "")))
        if decl is None:
            continue
        if decl["range"] and etree.QName(var).localname in ("aux", "stock", "flow"):
            lo, hi = decl["range"]
            # PySD needs both bounds; an open end ('?') is written as NaN
            attrs = {"min": lo or "NaN", "max": hi or "NaN"}
            if var.find(f"{{{NS}}}range") is None:
                units = var.find(f"{{{NS}}}units")
                rng = etree.Element(f"{{{NS}}}range", **attrs)
                (units.addnext(rng) if units is not None else var.append(rng))
        var.set("name", decl["name"])
    for group in root.iter(f"{{{NS}}}group"):
        group.attrib.pop("owner", None)
    etree.indent(root, space="    ")
    out = mdl.with_suffix(".xmile")
    out.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mdl", type=Path, nargs="+")
    parser.add_argument("--layout", action="store_true", help="replace the .mdl sketch by an automatic layout")
    args = parser.parse_args(argv)
    for mdl in args.mdl:
        out = convert(mdl, args.layout)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
