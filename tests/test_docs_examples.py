"""Every code block in ``docs/*.md`` is executed, so the examples cannot rot.

Each fenced block must name its language, which decides what happens to it:

``python``
    executed, page by page in one namespace (later blocks use earlier names),
    in a scratch folder that holds copies of ``scenarios/``, ``models/``,
    ``examples/`` and ``tests/golden/`` (so relative paths work as in a checkout).
``bash``, ``console``
    every command line starting with ``sdcluster`` (or ``.venv/bin/sdcluster``;
    in ``console`` blocks after a ``$`` prompt) is run through the real command
    line and must exit with 0; ``console`` lines without a prompt are output.
    Any other command needs a marker (below).
``yaml``
    loaded: an uncertainty file (``parameters:`` with ``distribution:``) with
    :func:`~sdcluster.uncertainty.sampling.load_uncertain`, anything else as a scenario
    file (saved beside copies of ``scenarios/*.yaml``, which ``extends:`` may
    name), validated against its model.
``text``
    not code: printed output, error messages, syntax summaries, diagrams.

A block that is code but must not run here carries, on the line just above its
fence, one of the documented markers with a reason (keep them few)::

    <!-- docs-test: parse only: REASON -->   sdcluster commands are parsed by the real
                                             argument parser (options checked), not run
    <!-- docs-test: not run: REASON -->      neither run nor parsed

Identical command lines run once per session (the main job appears on
several pages).
"""
from __future__ import annotations

import contextlib
import glob
import io
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md"))
LANGUAGES = {"python", "bash", "console", "yaml", "text"}
MARKER = re.compile(r"<!-- docs-test: (?P<kind>not run|parse only): (?P<reason>\S.*?) -->")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: str
    marker: str | None  # "not run", "parse only" or None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        out.append(Block(page, text.count("\n", 0, m.start()) + 1, m["lang"], m["body"],
                         marker["kind"] if marker else None))
    return out


def commands(block: Block) -> list[list[str]]:
    """The command lines of a bash/console block, continuation lines joined, as argument lists."""
    lines, current = [], ""
    for raw in block.body.splitlines():
        if block.lang == "console" and not current:
            if not raw.startswith("$ "):
                continue  # output
            raw = raw[2:]
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            lines.append(shlex.split(current, comments=True))
        current = ""
    return lines


def sdcluster_argv(argv: list[str], block: Block) -> list[str]:
    if argv and argv[0] in ("sdcluster", ".venv/bin/sdcluster"):
        return argv[1:]
    pytest.fail(f"{block.where}: {shlex.join(argv)!r} is not an sdcluster command; mark the block "
                "'<!-- docs-test: not run: REASON -->' if it must not run in the tests")


def expand(args: list[str]) -> list[str]:
    """Expand glob patterns like the shell (sorted; a pattern without matches stays as it is)."""
    out = []
    for a in args:
        hits = sorted(glob.glob(a)) if any(c in a for c in "*?[") else []
        out += hits or [a]
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A scratch checkout: the inputs the examples read, copied (examples may write next to them)."""
    work = tmp_path_factory.mktemp("docs-examples")
    for folder in ("scenarios", "models", "examples"):
        shutil.copytree(ROOT / folder, work / folder)
    shutil.copytree(ROOT / "scenarios", work / "yaml-blocks")  # a yaml block's 'extends: baseline.yaml' finds it
    shutil.copytree(ROOT / "tests" / "golden", work / "tests" / "golden")
    return work


_DONE: set[tuple[str, ...]] = set()


def run_command(argv: list[str], block: Block) -> None:
    from sdcluster.cli import main

    key = tuple(argv)
    if key in _DONE:
        return
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(expand(argv))
    assert code == 0, f"{block.where}: sdcluster {shlex.join(argv)} exited {code}: {err.getvalue()[-2000:]}"
    _DONE.add(key)


def parse_command(argv: list[str], block: Block) -> None:
    from sdcluster.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            build_parser().parse_args(expand(argv))
    except SystemExit:
        pytest.fail(f"{block.where}: sdcluster {shlex.join(argv)}: {err.getvalue().strip()}")


def check_yaml(block: Block, work: Path) -> None:
    doc = yaml.safe_load(block.body)
    params = doc.get("parameters") if isinstance(doc, dict) else None
    target = work / "yaml-blocks" / f"{block.page.stem}_{block.line}.yaml"  # beside copies of scenarios/*.yaml
    target.write_text(block.body, encoding="utf-8")
    if isinstance(params, dict) and any(isinstance(v, dict) and "distribution" in v for v in params.values()):
        from sdcluster.uncertainty.sampling import load_uncertain

        load_uncertain(target)
        return
    from sdcluster.scenarios.scenario import as_scenarios
    from sdcluster.scenarios.simulate import _common_model

    scenarios = as_scenarios([target])
    model = _common_model(scenarios, None)
    for scenario in scenarios:
        scenario.validate(model)  # raises ScenarioError listing every problem


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT / "docs").as_posix() for p in PAGES])
def test_every_code_block_runs(page: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(workdir)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for block in blocks(page):
        assert block.lang in LANGUAGES, (f"{block.where}: give the code block a language, one of "
                                         f"{sorted(LANGUAGES)} ('text' for output and syntax)")
        if block.lang == "text" or block.marker == "not run":
            continue
        if block.lang == "python":
            assert block.marker is None, f"{block.where}: a Python block cannot be 'parse only'"
            code = compile(block.body, block.where, "exec")
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, namespace)  # noqa: S102 - the documentation's own examples
            matplotlib.pyplot.close("all")
        elif block.lang == "yaml":
            check_yaml(block, workdir)
        else:
            for argv in commands(block):
                args = sdcluster_argv(argv, block)
                (parse_command if block.marker == "parse only" else run_command)(args, block)


def test_markers_are_few_and_give_reasons() -> None:
    marked = [b for p in PAGES for b in blocks(p) if b.marker]
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    assert len(marked) == len(MARKER.findall(text)), "a docs-test marker is not on the line just above a fence"
    assert len(marked) <= 8, [b.where for b in marked]  # each justified in its reason
