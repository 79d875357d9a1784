"""Reading scenario files: safe YAML, field-by-field parsing, ``extends`` and sets.

The data model and the checks against a model's catalogue live in
:mod:`sdcluster.scenarios.scenario`; this module turns files into
:class:`~sdcluster.scenarios.scenario.Scenario` objects. Every problem raises
:class:`~sdcluster.errors.ScenarioError` naming the file and field path; all
problems of one file are reported together.
"""
from __future__ import annotations

import hashlib
import math
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ..errors import ScenarioError, suggest
from .scenario import TIME_FIELDS, Policy, Scenario, _describe_value, _error, _norm
from .schedules import SHAPES

#: Top-level fields of a scenario (``scenarios`` only in set files).
FIELDS = ("name", "question", "kpi", "description", "reference", "role", "extends", "model", "time", "parameters",
          "policies", "outputs")
#: Values of ``role``: a policy is compared with its reference and ranked; a context run is shown, never ranked.
ROLES = ("policy", "context")
#: Fields of a policy entry by shape (besides ``parameter``, ``shape`` and ``description``).
SHAPE_FIELDS: dict[str, tuple[str, ...]] = {
    "step": ("start", "end", "amount"),
    "pulse": ("start", "width", "amount", "every", "end"),
    "ramp": ("start", "end", "amount"),
    "table": ("points", "interpolation"),
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "step": ("start", "amount"),
    "pulse": ("start", "width", "amount"),
    "ramp": ("start", "end", "amount"),
    "table": ("points",),
}
_TIME_LIKE = {"start", "end", "width", "every"}
#: Largest magnitude accepted for any number in a scenario file.
MAX_MAGNITUDE = 1e100
#: Largest scenario file read (bytes).
MAX_FILE_BYTES = 1_000_000
_MODEL_SUFFIXES = (".mdl", ".xmile", ".xml", ".stmx")


# --------------------------------------------------------------------------- YAML
class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"a key must be plain text, not {type(key).__name__}",
                        key_node.start_mark) from None
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:map", _UniqueKeyLoader.construct_yaml_map)
# PyYAML implements YAML 1.1, where '1.0e7' and '1e7' are text (the exponent needs a sign
# and the mantissa a dot); people write them as numbers, and YAML 1.2 reads them so.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _read_yaml(path: Path, label: str) -> tuple[Any, str, str]:
    """Return ``(document, question header, sha256)`` of a YAML file."""
    try:
        if path.is_dir():
            raise ScenarioError(f"{label}: is a folder, not a scenario file")
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(f"{label}: is not a regular file")
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(f"{label}: file is {size} bytes; scenario files are limited to {MAX_FILE_BYTES}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{label}: scenario file not found") from None
    except OSError as exc:
        raise ScenarioError(f"{label}: cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = " ".join(s for s in (exc.context, exc.problem) if s) or str(exc)
        raise ScenarioError(f"{label}: {where}invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{label}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{label}: invalid YAML: nesting too deep") from None
    except (ValueError, TypeError, OverflowError) as exc:  # odd scalars (e.g. timestamps out of range)
        raise ScenarioError(f"{label}: invalid YAML value: {exc}") from None
    return doc, _question(text), hashlib.sha256(raw).hexdigest()


def _kind(value: Any) -> str:
    """What a YAML document is, without its content."""
    if isinstance(value, str):
        return f"plain text ({len(value)} characters)"
    if isinstance(value, list):
        return f"a list ({len(value)} items)"
    if isinstance(value, bool) or value is None:
        return "a single value"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


def _question(text: str) -> str:
    """The question in the leading ``#`` comment block.

    The text after ``Question:`` on a header line if there is one, else the
    whole header block joined into one line.
    """
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if not s.startswith("#"):
            break
        lines.append(s.lstrip("#").strip())
    for line in lines:
        if line.lower().startswith("question:"):
            return line[len("question:"):].strip()
    return " ".join(x for x in lines if x)


# --------------------------------------------------------------------------- parsing
class _Problems:
    """Collects problems of one file, raised together."""

    def __init__(self, label: str):
        self.label = label
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{self.label}: {path}: {message}" if path else f"{self.label}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise _error(self.items)


def _number(value: Any, path: str, expect: str, problems: _Problems) -> float | None:
    """A finite float, or ``None`` after recording a problem."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.add(path, f"value {_describe_value(value)} is not a number (expected {expect})")
        return None
    try:
        x = float(value)
    except OverflowError:
        problems.add(path, f"value {str(value)[:20]}... is too large (limit {MAX_MAGNITUDE:g})")
        return None
    if not math.isfinite(x):
        problems.add(path, f"value {x} is not a finite number (expected {expect})")
        return None
    if abs(x) > MAX_MAGNITUDE:
        problems.add(path, f"value {x:g} is too large (limit {MAX_MAGNITUDE:g})")
        return None
    return x


def _text(value: Any, path: str, problems: _Problems, *, empty_ok: bool = True) -> str | None:
    if not isinstance(value, str):
        problems.add(path, f"value {_describe_value(value)} is not text")
        return None
    if not empty_ok and not value.strip():
        problems.add(path, "must not be empty")
        return None
    return value


def _unknown(key: Any, valid: Sequence[str], path: str, problems: _Problems, what: str = "field") -> None:
    where = f"{path}." if path else ""
    if not isinstance(key, str):
        problems.add(f"{path}" if path else "", f"unknown {what} {key!r} (a field name must be text; valid: "
                     f"{', '.join(valid)})")
        return
    hint = suggest(key, valid)
    problems.add(f"{where}{key}", f"unknown {what} {key!r}.{hint or ' Valid fields: ' + ', '.join(valid) + '.'}")


def _mapping(value: Any, path: str, problems: _Problems, what: str) -> Mapping | None:
    if not isinstance(value, Mapping):
        problems.add(path, f"expected {what}, got {_describe_value(value)}")
        return None
    return value


@dataclass
class _Layer:
    """The fields one file (or one set entry) sets, before ``extends`` is applied."""

    label: str
    base_dir: Path
    name: str | None = None
    question: str | None = None
    kpi: str | None = None
    description: str | None = None
    reference: str | None = None
    role: str | None = None
    extends: str | None = None
    model: str | None = None
    time: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, float] = field(default_factory=dict)
    parameter_origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    policies: list[Policy] = field(default_factory=list)
    outputs: list[str] | None = None


def _parse_layer(doc: Mapping, label: str, base_dir: Path, prefix: str = "",
                 allowed: Sequence[str] = FIELDS) -> _Layer:
    """Parse one scenario mapping; raise ScenarioError listing all problems."""
    problems = _Problems(label)
    layer = _Layer(label=label, base_dir=base_dir)
    p = prefix
    for key, value in doc.items():
        if key not in allowed:
            if key == "scenarios":
                problems.add(f"{p}scenarios", "a set of scenarios is only allowed at the top of a file")
            else:
                _unknown(key, list(allowed), prefix.rstrip("."), problems)
            continue
        if key == "name":
            name = _text(value, f"{p}name", problems, empty_ok=False)
            if name is not None:
                layer.name = name.strip()
        elif key == "description":
            if value is None:
                layer.description = ""
            else:
                d = _text(value, f"{p}description", problems)
                if d is not None:
                    layer.description = d.strip()
        elif key == "question":
            q = _text(value, f"{p}question", problems, empty_ok=False)
            if q is not None:
                layer.question = " ".join(q.split())
        elif key == "kpi":
            k = _text(value, f"{p}kpi", problems, empty_ok=False)
            if k is not None:
                from ..analysis.compare import KPIError, parse_kpi

                try:
                    layer.kpi = parse_kpi(k.strip()).label
                except KPIError as exc:
                    problems.add(f"{p}kpi", f"value {k.strip()!r} is not a KPI: {exc}")
        elif key == "reference":
            r = _text(value, f"{p}reference", problems, empty_ok=False)
            if r is not None:
                layer.reference = r.strip()
        elif key == "role":
            if not isinstance(value, str) or value.strip().lower() not in ROLES:
                hint = suggest(str(value), list(ROLES)) if isinstance(value, str) else ""
                problems.add(f"{p}role", f"value {_describe_value(value)} is not a role.{hint or ' Valid roles: ' + ', '.join(ROLES) + '.'} "
                             "(policy: compared with its reference and ranked; context: shown, never ranked)")
            else:
                layer.role = value.strip().lower()
        elif key == "extends":
            e = _text(value, f"{p}extends", problems, empty_ok=False)
            if e is not None:
                layer.extends = e.strip()
        elif key == "model":
            m = _text(value, f"{p}model", problems, empty_ok=False)
            if m is not None:
                layer.model = _resolve_model(m.strip(), base_dir, f"{p}model", problems)
        elif key == "time":
            _parse_time(value, f"{p}time", problems, layer)
        elif key == "parameters":
            _parse_parameters(value, f"{p}parameters", problems, layer)
        elif key == "policies":
            _parse_policies(value, f"{p}policies", problems, layer)
        elif key == "outputs":
            _parse_outputs(value, f"{p}outputs", problems, layer)
    problems.raise_if_any()
    return layer


def _resolve_model(value: str, base_dir: Path, path: str, problems: _Problems) -> str | None:
    looks_like_path = ("/" in value or "\\" in value or value.lower().endswith(_MODEL_SUFFIXES))
    try:
        candidate = (base_dir / value).resolve()
        exists = candidate.is_file()
    except (OSError, ValueError, RuntimeError):
        candidate, exists = None, False
    if exists:
        return str(candidate)
    if looks_like_path:
        problems.add(path, f"model file {value!r} not found (looked for {candidate}); give a path relative "
                     "to this scenario file or a bundled model name")
        return None
    return value  # a bundled model name, checked when the model is loaded


def _parse_time(value: Any, path: str, problems: _Problems, layer: _Layer) -> None:
    if value is None:
        return
    m = _mapping(value, path, problems, f"a mapping with any of {', '.join(TIME_FIELDS)}")
    if m is None:
        return
    for key, v in m.items():
        if key not in TIME_FIELDS:
            _unknown(key, TIME_FIELDS, path, problems)
            continue
        x = _number(v, f"{path}.{key}", "a number of model time units", problems)
        if x is None:
            continue
        if key in ("time_step", "saveper") and x <= 0:
            problems.add(f"{path}.{key}", f"value {x:g} must be greater than 0")
            continue
        layer.time[key] = x
    t0, t1 = layer.time.get("initial_time"), layer.time.get("final_time")
    if t0 is not None and t1 is not None and t1 <= t0:
        problems.add(f"{path}.final_time", f"final_time {t1:g} is not after initial_time {t0:g}")


def _parse_parameters(value: Any, path: str, problems: _Problems, layer: _Layer) -> None:
    if value is None:
        return
    m = _mapping(value, path, problems, "a mapping of parameter names to numbers")
    if m is None:
        return
    norms: dict[str, str] = {}
    for key, v in m.items():
        if not isinstance(key, str) or not key.strip():
            problems.add(path, f"parameter name {key!r} is not text")
            continue
        kpath = f"{path}[{key!r}]"
        x = _number(v, kpath, "a number in the parameter's units", problems)
        if x is None:
            continue
        n = _norm(key)
        if n in norms:
            problems.add(kpath, f"parameter {key!r} is already set as {norms[n]!r}")
            continue
        norms[n] = key
        layer.parameters[key] = x
        layer.parameter_origins[key] = (layer.label, kpath)


def _parse_outputs(value: Any, path: str, problems: _Problems, layer: _Layer) -> None:
    if value is None:
        return
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.add(path, f"expected a list of variable names, got {_describe_value(value)}")
        return
    out: list[str] = []
    for j, name in enumerate(value):
        s = _text(name, f"{path}[{j}]", problems, empty_ok=False)
        if s is not None and s.strip() not in out:
            out.append(s.strip())
    layer.outputs = out


def _parse_policies(value: Any, path: str, problems: _Problems, layer: _Layer) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        problems.add(path, f"expected a list of policies, got {_describe_value(value)}")
        return
    for i, entry in enumerate(value):
        policy = _parse_policy(entry, f"{path}[{i}]", problems, layer.label)
        if policy is not None:
            layer.policies.append(policy)


def _parse_policy(entry: Any, path: str, problems: _Problems, label: str) -> Policy | None:
    m = _mapping(entry, path, problems, "a mapping with parameter, shape and the shape's fields")
    if m is None:
        return None
    n_before = len(problems.items)
    shape = m.get("shape")
    if "shape" not in m:
        problems.add(path, f"missing field 'shape' (one of {', '.join(SHAPES)})")
        return None
    if not isinstance(shape, str) or shape.strip().lower() not in SHAPES:
        hint = suggest(str(shape), list(SHAPES)) if isinstance(shape, str) else ""
        problems.add(f"{path}.shape", f"unknown shape {_describe_value(shape)}.{hint or ' Valid shapes: ' + ', '.join(SHAPES) + '.'}")
        return None
    shape = shape.strip().lower()
    allowed = ("parameter", "shape", "description") + SHAPE_FIELDS[shape]
    all_fields = sorted({f for fs in SHAPE_FIELDS.values() for f in fs})
    kwargs: dict[str, Any] = {}
    parameter = None
    description = ""
    for key, v in m.items():
        if key in ("shape",):
            continue
        if key not in allowed:
            if isinstance(key, str) and key in all_fields:
                problems.add(f"{path}.{key}", f"field {key!r} does not apply to shape {shape!r} (its fields: "
                             f"{', '.join(SHAPE_FIELDS[shape])})")
            else:
                _unknown(key, allowed, path, problems)
            continue
        if key == "parameter":
            parameter = _text(v, f"{path}.parameter", problems, empty_ok=False)
        elif key == "description":
            description = "" if v is None else (_text(v, f"{path}.description", problems) or "")
        elif key == "points":
            kwargs["points"] = _parse_points(v, f"{path}.points", problems)
        elif key == "interpolation":
            if not isinstance(v, str) or v not in ("linear", "step"):
                problems.add(f"{path}.interpolation", f"value {_describe_value(v)} is not one of linear, step")
            else:
                kwargs["interpolation"] = v
        elif key in ("end",) and v is None:
            kwargs[key] = None
        else:
            expect = ("model time" if key in ("start", "end") else "a duration in model time units"
                      if key in _TIME_LIKE else "a number in the parameter's units")
            kwargs[key] = _number(v, f"{path}.{key}", expect, problems)
    if "parameter" not in m:
        problems.add(path, "missing field 'parameter' (the model parameter the schedule changes)")
    for req in REQUIRED_FIELDS[shape]:
        if req not in m:
            problems.add(path, f"missing field {req!r} for shape {shape!r}")
    if len(problems.items) > n_before:
        return None
    start, end = kwargs.get("start"), kwargs.get("end")
    if start is not None and end is not None and end <= start:
        problems.add(f"{path}.end", f"end {end:g} is before or at start {start:g}; a schedule must end after it starts")
        return None
    try:
        schedule = SHAPES[shape](**kwargs)
    except ScenarioError as exc:
        problems.add("", f"{path}.{exc}")
        return None
    return Policy(parameter=str(parameter).strip(), schedule=schedule, description=str(description).strip(),
                  origin=f"{label}: {path}")


def _parse_points(value: Any, path: str, problems: _Problems) -> list[tuple[float, float]] | None:
    if not isinstance(value, list) or not value:
        problems.add(path, f"expected a non-empty list of [time, value] pairs, got {_describe_value(value)}")
        return None
    pts: list[tuple[float, float]] = []
    ok = True
    for i, p in enumerate(value):
        if not isinstance(p, list) or len(p) != 2:
            problems.add(f"{path}[{i}]", f"expected a [time, value] pair, got {_describe_value(p)}")
            ok = False
            continue
        t = _number(p[0], f"{path}[{i}][0]", "model time", problems)
        v = _number(p[1], f"{path}[{i}][1]", "a number in the parameter's units", problems)
        if t is None or v is None:
            ok = False
            continue
        if pts and t <= pts[-1][0]:
            problems.add(f"{path}[{i}][0]", f"time {t:g} is not after the previous point's time {pts[-1][0]:g}; "
                         "times must increase")
            ok = False
            continue
        pts.append((t, v))
    return pts if ok else None


# --------------------------------------------------------------------------- extends
def _merge(parent: Scenario, parent_ref: str | None, layer: _Layer, name: str, source: str | None,
           question: str, files: Mapping[str, str], reference: tuple[str, str] | None = None,
           role: str | None = None, kpi: str | None = None) -> Scenario:
    """Apply *layer* on top of *parent* (child wins; time/parameters by key; policies appended).

    ``question``, ``kpi``, ``reference`` and ``role`` describe the scenario itself and are not
    inherited through ``extends`` (a policy extending its no-policy reference is not a context run).
    """
    child_norms = {_norm(c) for c in layer.parameters}
    params = {k: v for k, v in parent.parameters.items() if _norm(k) not in child_norms}
    origins = {k: parent._origin(k) for k in params}
    params.update(layer.parameters)
    origins.update(layer.parameter_origins)
    return Scenario(
        name=name,
        description=layer.description if layer.description is not None else parent.description,
        model=layer.model if layer.model is not None else parent.model,
        time={**parent.time, **layer.time},
        parameters=params,
        policies=[*parent.policies, *layer.policies],
        outputs=layer.outputs if layer.outputs is not None else parent.outputs,
        question=question,
        kpi=kpi,
        reference=reference[0] if reference else None,
        reference_source=reference[1] if reference else None,
        role=role,
        source=source,
        extends=([parent_ref] if parent_ref else []) + list(parent.extends),
        files={**parent.files, **files},
        parameter_origins=origins,
    )


_EMPTY = Scenario(name="")


class _Resolver:
    """Loads files and resolves ``extends`` with cycle detection."""

    def __init__(self) -> None:
        self.docs: dict[Path, tuple[Any, str, str]] = {}
        self.stack: list[str] = []

    @staticmethod
    def display(path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def read(self, path: Path) -> tuple[Any, str, str]:
        if path not in self.docs:
            self.docs[path] = _read_yaml(path, self.display(path))
        return self.docs[path]

    def _enter(self, key: str, label: str, field_path: str) -> None:
        if key in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(key):] + [key])
            raise ScenarioError(f"{label}: {field_path}: circular 'extends' chain: {chain}")
        if len(self.stack) > 100:
            raise ScenarioError(f"{label}: {field_path}: 'extends' chain deeper than 100 files")
        self.stack.append(key)

    def _document(self, path: Path) -> tuple[Mapping, str, str, str]:
        label = self.display(path)
        doc, question, sha = self.read(path)
        if doc is None:
            raise ScenarioError(f"{label}: the file is empty; expected a mapping with fields "
                                f"{', '.join(FIELDS)} (or 'scenarios:' for a set)")
        if not isinstance(doc, Mapping):
            # name the kind of content only: the file may not be a scenario at all
            # (an 'extends' pointing at /etc/passwd), and its text is not ours to show
            raise ScenarioError(f"{label}: not a scenario file: expected a mapping with fields "
                                f"{', '.join(FIELDS)} (or 'scenarios:' for a set), got {_kind(doc)}")
        return doc, question, sha, label

    def file(self, path: Path, label_from: str = "", field_path: str = "") -> list[Scenario]:
        """All scenarios of a file (one, or the entries of a set)."""
        path = path.resolve()
        doc, question, sha, label = self._document(path)
        if "scenarios" in doc:
            return [self.member(path, name, label_from, field_path)
                    for name in self._member_names(doc, label)]
        self._enter(label, label_from or label, field_path or "extends")
        try:
            layer = _parse_layer(doc, label, path.parent)
            parent, ref = self._parent(layer.extends, label, path, "extends")
            name = layer.name or path.stem
            reference = self._reference(layer.reference, name, label, path, [], "reference")
            return [_merge(parent, ref, layer, name, label, layer.question or question, {label: sha},
                           reference, layer.role, layer.kpi)]
        finally:
            self.stack.pop()

    @staticmethod
    def _member_names(doc: Mapping, label: str) -> list[str]:
        entries = doc["scenarios"]
        problems = _Problems(label)
        if not isinstance(entries, list) or not entries:
            problems.add("scenarios", "expected a non-empty list of scenario mappings, got "
                         f"{_describe_value(entries)}")
            problems.raise_if_any()
        names: list[str] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                problems.add(f"scenarios[{i}]", f"expected a scenario mapping, got {_describe_value(entry)}")
                continue
            if "name" not in entry:
                problems.add(f"scenarios[{i}]", "missing field 'name' (every scenario of a set needs a name)")
                continue
            name = entry["name"]
            if not isinstance(name, str) or not name.strip():
                problems.add(f"scenarios[{i}].name", f"value {_describe_value(name)} is not a non-empty text")
                continue
            if name.strip() in names:
                problems.add(f"scenarios[{i}].name", f"name {name.strip()!r} is used twice in this file")
                continue
            names.append(name.strip())
        problems.raise_if_any()
        return names

    def member(self, path: Path, name: str, label_from: str = "", field_path: str = "") -> Scenario:
        """One named scenario of a set file (shared top-level fields, then the entry)."""
        path = path.resolve()
        doc, question, sha, label = self._document(path)
        if "scenarios" not in doc:
            raise ScenarioError(f"{label_from or label}: {field_path or 'extends'}: {label} is not a set of "
                                "scenarios (no 'scenarios:' list); drop the '#name'")
        names = self._member_names(doc, label)
        if name not in names:
            hint = suggest(name, names) or " Names: " + ", ".join(names) + "."
            raise ScenarioError(f"{label_from or label}: {field_path or 'extends'}: no scenario named {name!r} "
                                f"in {label}.{hint}")
        index = next(i for i, e in enumerate(doc["scenarios"])
                     if isinstance(e, Mapping) and isinstance(e.get("name"), str) and e["name"].strip() == name)
        self._enter(f"{label}#{name}", label_from or label, field_path or "extends")
        try:
            if "name" in doc:
                raise ScenarioError(f"{label}: name: a set file has no top-level name; name each entry "
                                    "under 'scenarios:'")
            shared = _parse_layer({k: v for k, v in doc.items() if k != "scenarios"}, label, path.parent)
            prefix = f"scenarios[{index}]."
            layer = _parse_layer(doc["scenarios"][index], label, path.parent, prefix=prefix)
            ext_path = f"{prefix}extends"
            if layer.extends is not None and layer.extends in names:
                parent = self.member(path, layer.extends, label, ext_path)
                ref: str | None = f"{label}#{layer.extends}"
            else:
                if layer.extends is not None and shared.extends is not None:
                    raise ScenarioError(f"{label}: {ext_path}: the whole set already extends "
                                        f"{shared.extends!r}; an entry may extend only a sibling entry then")
                target = layer.extends if layer.extends is not None else shared.extends
                base, base_ref = self._parent(target, label, path,
                                              ext_path if layer.extends is not None else "extends")
                parent = _merge(base, base_ref, shared, base.name, base.source, "", {})
                ref = None
            own = layer.reference is not None
            reference = self._reference(layer.reference if own else shared.reference, name, label, path, names,
                                        f"{prefix}reference" if own else "reference")
            return _merge(parent, ref, layer, name, label, layer.question or shared.question or question,
                          {label: sha}, reference, layer.role or shared.role, layer.kpi or shared.kpi)
        finally:
            self.stack.pop()

    def _reference(self, ref: str | None, name: str, label: str, path: Path, siblings: Sequence[str],
                   field_path: str) -> tuple[str, str] | None:
        """Resolve a ``reference`` written in *path*: ``(scenario name, loadable spec)`` or ``None``.

        ``NAME`` is a scenario of the same set file; ``file.yaml`` a single-scenario file and
        ``file.yaml#NAME`` one scenario of a set, both relative to *path*.
        """
        if ref is None:
            return None
        target, sep, member = ref.partition("#")
        if not sep and not target.lower().endswith((".yaml", ".yml")):
            if target not in siblings:
                where = (f"the scenarios of this file: {', '.join(siblings)}" if siblings else
                         "this file holds one scenario")
                hint = suggest(target, list(siblings)) if siblings else ""
                raise ScenarioError(f"{label}: {field_path}: no scenario named {target!r} in {label} "
                                    f"({where}).{hint} A reference is a scenario of the same file, or "
                                    "'file.yaml' / 'file.yaml#name' relative to this file")
            found, spec = target, f"{path}#{target}"
        else:
            scenario, _ = self._parent(ref, label, path, field_path)
            found = scenario.name
            spec = str((path.parent / target).resolve()) + (f"#{member}" if sep else "") if target else \
                f"{path}#{member}"
        if found == name:
            raise ScenarioError(f"{label}: {field_path}: scenario {name!r} names itself as its reference; "
                                "name the run it is compared with, or drop 'reference' for a reference run")
        return found, spec

    def _parent(self, ref: str | None, label: str, path: Path, field_path: str) -> tuple[Scenario, str | None]:
        """Resolve an ``extends`` value written in file *path*: ``(scenario, reference)``."""
        if ref is None:
            return _EMPTY, None
        target, sep, member = ref.partition("#")
        target_path = (path.parent / target) if target else path
        if target and target_path.suffix.lower() not in (".yaml", ".yml"):
            raise ScenarioError(f"{label}: {field_path}: {_describe_value(target)} is not a scenario file; "
                                "'extends' names a .yaml or .yml file (optionally with '#NAME')")
        try:
            found = target_path.is_file()
        except (OSError, ValueError):
            found = False
        if not found:
            raise ScenarioError(f"{label}: {field_path}: scenario file {_describe_value(target)} not found "
                                f"(looked for {_describe_value(str(target_path))}); paths are relative to {label}")
        target_path = target_path.resolve()
        shown = self.display(target_path)
        if sep:
            return self.member(target_path, member, label, field_path), f"{shown}#{member}"
        doc, _, _, _ = self._document(target_path)
        if "scenarios" in doc:
            entries = doc["scenarios"] if isinstance(doc["scenarios"], list) else []
            names = [str(e.get("name")) for e in entries if isinstance(e, Mapping)]
            raise ScenarioError(f"{label}: {field_path}: {target!r} holds a set of scenarios; pick one as "
                                f"'{target}#NAME' (names: {', '.join(names)})")
        return self.file(target_path, label, field_path)[0], shown


# --------------------------------------------------------------------------- entry points
def read_scenarios(path: str | Path) -> list[Scenario]:
    """Implementation of :func:`sdcluster.scenarios.scenario.load_scenarios`."""
    try:
        text = str(path)
        file_part, sep, member = text.partition("#") if isinstance(path, str) else (text, "", "")
        resolver = _Resolver()
        p = Path(file_part).expanduser()
        if sep and member:
            return [resolver.member(p, member)]
        return resolver.file(p)
    except ScenarioError:
        raise
    except RecursionError:
        raise ScenarioError(f"{path}: structure nested too deeply") from None
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: symlink loop in Path.resolve
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None


def scenario_from_mapping(definition: Mapping[str, Any], *, name: str | None = None,
                          base_dir: str | Path | None = None) -> Scenario:
    """Implementation of :func:`sdcluster.scenarios.scenario.scenario_from_dict`."""
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    shown = definition.get("name", name) if isinstance(definition, Mapping) else name
    label = f"scenario {_describe_value(shown or 'scenario')}"
    if not isinstance(definition, Mapping):
        raise ScenarioError(f"{label}: expected a mapping of scenario fields, got {_describe_value(definition)}")
    try:
        layer = _parse_layer(definition, label, base)
        resolver = _Resolver()
        parent, ref = resolver._parent(layer.extends, label, base / "__dict__", "extends")
        own = layer.name or name or "scenario"
        reference = resolver._reference(layer.reference, own, label, base / "__dict__", [], "reference")
        return _merge(parent, ref, layer, own, None, layer.question or "", {}, reference, layer.role, layer.kpi)
    except ScenarioError:
        raise
    except RecursionError:
        raise ScenarioError(f"{label}: structure nested too deeply") from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise ScenarioError(f"{label}: cannot resolve scenario: {exc}") from None
