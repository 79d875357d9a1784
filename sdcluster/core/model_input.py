"""A model file before PySD sees it: bounded reading, shape checks, neutralised free text.

Three steps of the translation pipeline (:mod:`sdcluster.core.translate`) live here:

1. :func:`read_model_bytes` reads a model file only if it is a regular file
   of bounded size (a FIFO or ``/dev/zero`` is refused, not read).
2. :func:`check_model_text` refuses, in well under a second and before PySD's
   parser runs, what is not a model (empty, binary, XML that is not XMILE, text
   that is not Vensim), XMILE ``DOCTYPE``/entity declarations (not part of
   XMILE; entity expansion is how a comment smuggled ``\"\"\"`` and how a
   "billion laughs" file stalled the loader), XMILE macros (PySD cannot
   translate them) and work beyond fixed bounds (nesting depth, variable
   count, subscript range size, lookup points).
3. :func:`neutralise` rewrites PySD's parsed (abstract) model before code is
   generated: comment text is split so that PySD's docstring can never be
   closed by it, and every data-file argument must name a file inside the
   model's own folder (:func:`check_data_path`).

Every refusal is one :class:`~sdcluster.errors.ModelLoadError` (or
:class:`~sdcluster.errors.UnsafeModelError`) line naming the file, the
variable or line, and what would be valid.
"""
from __future__ import annotations

import dataclasses
import re
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterator

from ..errors import ModelLoadError, UnsafeModelError

#: Largest model file read (bytes). Big real models are a few MB including the sketch.
MAX_MODEL_BYTES = 16 * 1024 * 1024
#: Deepest bracket nesting in one equation (real models stay below ~20).
MAX_NESTING = 100
#: Most variables (equations) in one model.
MAX_VARIABLES = 20_000
#: Most elements in one subscript range.
MAX_SUBSCRIPT_ELEMENTS = 100_000
#: Most points in one lookup (graphical function).
MAX_LOOKUP_POINTS = 100_000

_XMILE_NS = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"


def read_model_bytes(path: Path) -> bytes:
    """Return the bytes of the model file at *path*: a regular file of at most :data:`MAX_MODEL_BYTES`."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ModelLoadError(f"{path}: is a folder, not a model file")
        if not stat.S_ISREG(info.st_mode):
            raise ModelLoadError(f"{path}: is not a regular file (a pipe, device or socket); "
                                 "expected a .mdl or .xmile model file")
        if info.st_size > MAX_MODEL_BYTES:
            raise ModelLoadError(f"{path}: file is {info.st_size} bytes; model files are limited to "
                                 f"{MAX_MODEL_BYTES} bytes")
        with path.open("rb") as handle:  # the file may grow after stat: read one byte past the limit
            data = handle.read(MAX_MODEL_BYTES + 1)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read model file ({exc.strerror or exc})") from None
    if len(data) > MAX_MODEL_BYTES:
        raise ModelLoadError(f"{path}: file is larger than {MAX_MODEL_BYTES} bytes, the limit for model files")
    return data


# ---------------------------------------------------------------------------
# shape and bounds, before parsing
# ---------------------------------------------------------------------------

def check_model_text(data: bytes, path: Path, fmt: str) -> None:
    """Refuse bytes that are not a model of format *fmt*, or exceed the work bounds.

    Runs in time linear in the file size, without PySD's parser.
    """
    if not data.strip():
        raise ModelLoadError(f"{path}: the file is empty; expected a {_expected(fmt)}")
    if b"\0" in data:
        raise ModelLoadError(f"{path}: binary data (NUL bytes), not a text model; expected a {_expected(fmt)}")
    text = data.decode("utf-8", errors="replace")
    if fmt == "xmile":
        _check_xmile(data, text, path)
    else:
        _check_vensim(text, path)


def _expected(fmt: str) -> str:
    return ("Vensim .mdl text model (equations 'name = expression ~ units ~ comment |')"
            if fmt == "vensim" else f"XMILE model (XML with root <xmile xmlns=\"{_XMILE_NS}\">)")


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _check_nesting(expr: str, path: Path, where: str) -> None:
    depth = deepest = 0
    for ch in expr:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise ModelLoadError(f"{path}: {where}: brackets nested {deepest} deep; equations are limited to "
                             f"{MAX_NESTING} levels")


_VENSIM_SEQUENCE = re.compile(r"\(\s*([^\W\d]\w*?)(\d+)\s*-\s*([^\W\d]\w*?)(\d+)\s*\)")


def _check_vensim(text: str, path: Path) -> None:
    body = text.split("\\\\\\---///", 1)[0]  # the sketch follows this marker
    if "~" not in body or "|" not in body:
        raise ModelLoadError(f"{path}: not a Vensim model: no equation of the form "
                             "'name = expression ~ units ~ comment |' found")
    records = body.split("|")
    if len(records) > MAX_VARIABLES:
        raise ModelLoadError(f"{path}: {len(records)} equations; models are limited to {MAX_VARIABLES}")
    offset = 0
    for record in records:
        equation = record.split("~", 1)[0]
        head = equation.strip().splitlines()[0][:60] if equation.strip() else ""
        where = f"line {_line_of(text, offset + len(record) - len(record.lstrip()))} ({head!r})"
        _check_nesting(equation, path, where)
        if equation.count("(") > MAX_LOOKUP_POINTS:
            raise ModelLoadError(f"{path}: {where}: more than {MAX_LOOKUP_POINTS} lookup points or "
                                 "bracketed terms in one equation")
        for match in _VENSIM_SEQUENCE.finditer(equation):
            count = abs(int(match.group(4)) - int(match.group(2))) + 1
            if count > MAX_SUBSCRIPT_ELEMENTS:
                raise ModelLoadError(f"{path}: {where}: subscript sequence {match.group(0)!r} has {count} "
                                     f"elements; ranges are limited to {MAX_SUBSCRIPT_ELEMENTS}")
        offset += len(record) + 1


_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


def _check_xmile(data: bytes, text: str, path: Path) -> None:
    match = _DECLARATION.search(data)
    if match:
        raise UnsafeModelError(
            f"Refusing to load model {str(path)!r}: it declares a DOCTYPE/ENTITY (line "
            f"{_line_of(text, match.start())}), which XMILE files never contain; entities can expand "
            "to code or to gigabytes of text. Nothing from this file has been run.")
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ModelLoadError(f"{path}: not well-formed XML ({exc.msg}, line {exc.lineno}); expected an "
                             f"{_expected('xmile')}") from None
    tag = etree.QName(root)
    if tag.localname != "xmile" or root.find(f"{{{tag.namespace}}}model") is None:
        raise ModelLoadError(f"{path}: XML, but not an XMILE model (root element <{tag.localname}>"
                             f"{' in namespace ' + tag.namespace if tag.namespace else ''}); expected an "
                             f"{_expected('xmile')} with a <model> element")
    ns = tag.namespace
    q = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
    if root.find(f".//{q('macro')}") is not None:
        macro = root.find(f".//{q('macro')}")
        raise ModelLoadError(f"{path}: line {macro.sourceline}: XMILE <macro> "
                             f"{macro.get('name', '')!r} is not supported by PySD 3.14; "
                             "use the Vensim version of the model or inline the macro")
    variables = sum(1 for _ in root.iter(q("stock"), q("flow"), q("aux"), q("gf")))
    if variables > MAX_VARIABLES:
        raise ModelLoadError(f"{path}: {variables} variables; models are limited to {MAX_VARIABLES}")
    for dim in root.iter(q("dim")):
        size = dim.get("size")
        count = len(dim) if size is None else (int(size) if size.strip().isdigit() else 0)
        if count > MAX_SUBSCRIPT_ELEMENTS:
            raise ModelLoadError(f"{path}: line {dim.sourceline}: dimension {dim.get('name', '')!r} has "
                                 f"{count} elements; ranges are limited to {MAX_SUBSCRIPT_ELEMENTS}")
    for element in root.iter(q("ypts"), q("xpts")):
        points = (element.text or "").count(element.get("sep", ",")) + 1
        if points > MAX_LOOKUP_POINTS:
            raise ModelLoadError(f"{path}: line {element.sourceline}: a lookup with {points} points; "
                                 f"lookups are limited to {MAX_LOOKUP_POINTS}")
    for eqn in root.iter(q("eqn")):
        _check_nesting(eqn.text or "", path, f"line {eqn.sourceline}")


# ---------------------------------------------------------------------------
# the parsed model, before code generation
# ---------------------------------------------------------------------------

_QUOTES = re.compile(r'"+')


def safe_docstring_text(doc: str) -> str:
    """Text that PySD can paste between ``\"\"\"`` without ever closing the docstring.

    PySD writes ``\"\"\"\\n{doc}\\n\"\"\"`` (after turning ``\\`` into new lines).
    Every run of double quotes is moved into its own single-quoted literal,
    ``A "b" c`` -> ``A \"\"\" '"' \"\"\"b\"\"\" '"' \"\"\" c``; Python joins adjacent
    literals into one constant, so the function's ``__doc__`` is the original
    text while no ``"`` is left inside a triple-quoted piece. NUL characters,
    which Python source cannot hold, become U+FFFD.
    """
    doc = doc.replace("\0", "\ufffd")
    return _QUOTES.sub(lambda m: "\"\"\" '" + m.group(0) + "' \"\"\"", doc)


def _walk(node: Any, seen: set[int] | None = None) -> Iterator[Any]:
    """Every dataclass object reachable from *node* (PySD's abstract syntax trees)."""
    seen = set() if seen is None else seen
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            yield item
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def check_data_path(file_name: Any, model_dir: Path, model_file: Path, variable: str) -> Path:
    """Return the data file *file_name* names, or refuse it.

    Policy: a model may read data files only inside its own folder (and its
    sub-folders). The name must be relative, without ``..``, and must still
    be inside the folder after symbolic links are followed. Nothing is opened.
    """
    name = str(file_name).strip()
    shown = name if len(name) <= 80 else name[:77] + "..."

    def refuse(reason: str) -> UnsafeModelError:
        return UnsafeModelError(
            f"Refusing to load model {str(model_file)!r}: variable {variable!r} reads the data file "
            f"{shown!r}, {reason}; a model may only read files inside its own folder "
            f"({model_dir.resolve()}). Nothing from this file has been run.")

    if not name or name.startswith("?"):
        raise refuse("an indirect or empty file reference")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise refuse("an absolute path")
    parts = PureWindowsPath(name).parts  # splits on both / and \
    if ".." in parts:
        raise refuse("a path that climbs out with '..'")
    base = model_dir.resolve()
    target = (base / Path(*parts)).resolve()
    if target != base and base not in target.parents:
        raise refuse("a link that points outside the folder")
    return target


def neutralise(abstract: Any, model_file: Path) -> list[Path]:
    """Make PySD's parsed model safe to build, in place.

    * comment (documentation) text: :func:`safe_docstring_text`;
    * data-file arguments (``GET XLS/DIRECT DATA|CONSTANTS|LOOKUPS|SUBSCRIPT``):
      :func:`check_data_path` against the folder of *model_file*. Subscript
      ranges read from a file are read at translation time, from that folder.

    Returns the data files read at translation time (subscript ranges).
    """
    from pysd.translators.structures import abstract_expressions as ae
    from pysd.translators.structures import abstract_model as am

    model_dir = model_file.parent
    read_now = []
    get_types = (ae.GetDataStructure, ae.GetConstantsStructure, ae.GetLookupsStructure)
    for section in abstract.sections:
        for sub in section.subscripts:
            if isinstance(sub, am.AbstractSubscriptRange) and isinstance(sub.subscripts, dict):
                target = check_data_path(sub.subscripts.get("file"), model_dir, model_file, sub.name)
                sub.subscripts["file"] = str(target)
                read_now.append(target)
        for element in section.elements:
            if element.documentation:
                element.documentation = safe_docstring_text(element.documentation)
            for node in _walk(element.components):
                if isinstance(node, get_types):
                    check_data_path(node.file, model_dir, model_file, element.name)
    return read_now
