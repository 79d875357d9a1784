"""Render every sector view of the three bundled models, one PNG per view.

Run ``python docs/figures/make_views.py [outdir]`` (default ``docs/figures/out``). Each view of a
``.mdl`` (one per sector, written by ``tools/mdl_views.py``) is saved as a model file holding only
that view and drawn by pysimlin (an independent renderer, in a child process because pysimlin
aborts the process on input it cannot read): ``<model>_view_NN.png``. It prints the Markdown
that the model pages use to show them.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["cluster_lifecycle", "cooperative_action", "cluster_policy"]
RENDER = """
import sys, simlin
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    open(dst, "wb").write(simlin.load(src).project.render_png())
"""


def _tool():
    spec = importlib.util.spec_from_file_location("mdl_views", ROOT / "tools" / "mdl_views.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def render(model: str, outdir: Path) -> list[tuple[str, str]]:
    """Write ``<model>_view_NN.png`` for every view; return ``[(title, file name), ...]``."""
    views = _tool().single_views((ROOT / "models" / f"{model}.mdl").read_text(encoding="utf-8"))
    out, args = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (title, text) in enumerate(views, start=1):
            src = Path(tmp) / f"view{i}.mdl"
            src.write_text(text, encoding="utf-8")
            name = f"{model}_view_{i:02d}.png"
            args += [str(src), str(outdir / name)]
            out.append((title, name))
        subprocess.run([sys.executable, "-c", RENDER, *args], check=True, capture_output=True, timeout=600)
    return out


def markdown(model: str, views: list[tuple[str, str]]) -> str:
    """The gallery of one model's views, as its page shows it."""
    return "\n\n".join(f"![{model} view {i}: {title}](../figures/out/{name})\n*View {i}: {title}*"
                       for i, (title, name) in enumerate(views, start=1))


def main(outdir: Path) -> None:
    """Render the views of the bundled models into *outdir*."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    main.markdown = {m: markdown(m, render(m, outdir)) for m in MODELS}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out")
    for model, text in main.markdown.items():
        print(f"<!-- {model} -->\n{text}\n")
