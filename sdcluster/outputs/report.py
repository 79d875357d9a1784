"""Self-contained HTML report of a scenario comparison: the planner's decision brief.

The report is one ``.html`` file with no external resources: figures are
embedded as base64 PNG, styles are inline, there is no JavaScript. It opens,
for each question (:class:`BriefSection`), with the question, a finding in
plain language generated from the numbers and the question's figure
(cost-outcome chart, sorted KPI bars, trajectories). Everything else sits in a
collapsed appendix (``<details id="appendix">``): the full KPI table, every
trajectory, the life-cycle stages, the scenario definitions (from
``ds.attrs["scenarios"]``) and the provenance attributes. Every string that
comes from a user, a model or a scenario file is HTML-escaped.
"""
from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import xarray as xr

from .. import __version__
from ..analysis.compare import _fmt_num, time_units
from .io import atomic_write_text
from ..analysis.lifecycle import Stage

log = logging.getLogger(__name__)

#: Figure captions by file stem (others get their stem as caption).
CAPTIONS = {
    "trajectories": "Trajectories per scenario; the baseline is the thick black line.",
    "differences": "Difference of each scenario from the baseline over time.",
    "kpis": "Key performance indicators per scenario (hatched bars; baseline in black).",
    "stages": "Life-cycle stages detected on each scenario's trajectory (shaded bands).",
    "stage_timeline": "Life-cycle stage timeline per scenario.",
}

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0 auto;
max-width:76rem;padding:1rem 1.5rem 3rem;color:#111;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #333;padding-bottom:.2rem;margin-top:2rem}
section.question h2{font-size:1.25rem;margin-top:1.6rem}p.finding{font-size:1.05rem;margin:.4rem 0}
ul.finding-lines{margin:.2rem 0 .4rem;padding-left:1.2rem;font-size:.9rem;color:#222}
ul.finding-lines li{margin:.05rem 0}
ul.loop-shifts{margin:.2rem 0 .4rem;padding-left:1.2rem;font-size:.9rem;color:#333;list-style:'↻ '}p.note{font-size:.85rem;color:#444;margin:.2rem 0}
details#appendix{margin-top:2.5rem;border-top:2px solid #333}details#appendix>summary{font-size:1.3rem;
font-weight:600;cursor:pointer;padding:.6rem 0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #999;padding:.25rem .5rem;vertical-align:top}
th{background:#e8e8e8;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.baseline td{font-weight:600}tbody tr.kpi-start td{border-top:2px solid #333}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #ccc}
figcaption{font-size:.9rem;color:#333}.meta{color:#444;font-size:.9rem}
pre{background:#f4f4f4;padding:.5rem;overflow-x:auto;font-size:.85rem}
nav ol{columns:2}code{background:#f0f0f0;padding:0 .2rem}
nav ol{font-size:.9rem}
@media print{nav{display:none}h2{page-break-after:avoid}figure{page-break-inside:avoid}}
"""


@dataclasses.dataclass
class BriefSection:
    """One question of the brief.

    Attributes
    ----------
    question : str
        The question, as the scenario files state it.
    finding : str
        The headline finding, in plain language.
    lines : list of str
        One line per policy (best first), or context facts.
    figure : Figure, bytes, path or None
        The question's figure (cost-outcome chart, sorted bars, trajectories).
    caption : str
        Its caption.
    note : str
        A small print line under the finding (KPI, references, uncertainty).
    appendix_figure : Figure, bytes, path or None
        Every output of the question's runs over time (shown in the appendix).
    loops : list of str
        One sentence per policy: its effect as a shift in loop dominance against its reference.
    """

    question: str
    finding: str
    lines: list[str] = dataclasses.field(default_factory=list)
    figure: Any = None
    caption: str = ""
    note: str = ""
    appendix_figure: Any = None
    loops: list[str] = dataclasses.field(default_factory=list)


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def _num_cell(x: Any) -> str:
    return f'<td class="num">{esc(_fmt_num(x))}</td>'


def _image(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{b64}" alt="{esc(alt)}">'


def _figure_png(fig: Any) -> bytes:
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig)
    if isinstance(fig, (str, Path)):
        return Path(fig).read_bytes()
    from .plot import figure_bytes  # matplotlib only when figures are objects

    return figure_bytes(fig, "png")


def kpi_table_html(table: pd.DataFrame, baseline: str | None = None) -> str:
    """The tidy KPI table as an HTML ``<table id="kpi-table">``."""
    has_ref = "reference" in table.columns and table["reference"].astype(str).str.len().gt(0).any() and baseline is None
    head = ["KPI", "scenario", "value", "units", "Δ vs reference" if has_ref else "Δ vs baseline",
            "ratio to reference" if has_ref else "ratio to baseline", "rank"] + (["reference"] if has_ref else [])
    out = ['<table id="kpi-table" class="kpi">', "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head)
           + "</tr></thead>", "<tbody>"]
    prev = None
    for r in table.itertuples(index=False):
        classes = []
        if r.kpi != prev:
            classes.append("kpi-start")
        if baseline is not None and r.scenario == baseline:
            classes.append("baseline")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        kpi_cell = f'<td title="{esc(r.description)}"><code>{esc(r.kpi)}</code></td>' if r.kpi != prev else "<td></td>"
        rank = "–" if pd.isna(r.rank) else int(r.rank)
        out.append(f"<tr{cls}>{kpi_cell}<td>{esc(r.scenario)}</td>{_num_cell(r.value)}<td>{esc(r.units)}</td>"
                   f"{_num_cell(r.delta)}{_num_cell(r.ratio)}<td class=\"num\">{esc(rank)}</td>"
                   + (f"<td>{esc(r.reference)}</td>" if has_ref else "") + "</tr>")
        prev = r.kpi
    out.append("</tbody></table>")
    return "\n".join(out)


def _best_table(table: pd.DataFrame) -> str:
    rows = []
    for kpi, grp in table.groupby("kpi", sort=False):
        best = grp[grp["rank"] == 1]
        if best.empty:
            continue
        b = best.iloc[0]
        names = ", ".join(best["scenario"])
        rows.append(f"<tr><td><code>{esc(kpi)}</code></td><td>{esc(b.description)}</td><td>{esc(names)}</td>"
                    f"{_num_cell(b.value)}<td>{esc(b.units)}</td>{_num_cell(b.delta)}</tr>")
    if not rows:
        return ""
    return ('<table id="best-table"><thead><tr><th>KPI</th><th>meaning</th><th>best scenario</th><th>value</th>'
            "<th>units</th><th>Δ vs baseline</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _stage_html(stage_map: Mapping[str, Sequence[Stage]], variable: str, tu: str) -> str:
    u = f" {tu}" if tu else ""
    rows = []
    for sc, lst in stage_map.items():
        cells = "; ".join(f"{st.name} {st.start:g}–{st.end:g}{u}" for st in lst)
        rows.append(f"<tr><td>{esc(sc)}</td><td>{esc(cells)}</td></tr>")
    return (f'<p>Stages of <code>{esc(variable)}</code> (rules: see the sdcluster documentation, '
            '“Life-cycle stages”).</p><table id="stage-table"><thead><tr><th>scenario</th>'
            "<th>stages (start–end)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _value_html(value: Any) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "<em>none</em>"
        return ("<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{_value_html(v)}</td></tr>" for k, v in value.items())
                + "</table>")
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v))
        head = "".join(f"<th>{esc(k)}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{_value_html(v.get(k, ''))}</td>" for k in keys) + "</tr>"
                       for v in value)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(value, list):
        return esc(json.dumps(value)) if value else "<em>none</em>"
    if isinstance(value, float) and not math.isfinite(value):
        return esc(value)
    return esc(value)


def scenarios_html(ds: xr.Dataset) -> str:
    """Scenario definitions from ``ds.attrs['scenarios']`` (JSON) as HTML."""
    raw = ds.attrs.get("scenarios")
    if raw is None:
        return "<p><em>The results carry no scenario definitions.</em></p>"
    try:
        defs = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        log.warning("ds.attrs['scenarios'] is not JSON; shown as text")
        return f"<pre>{esc(raw)}</pre>"
    if not isinstance(defs, Mapping):
        return f"<pre>{esc(json.dumps(defs, indent=2))}</pre>"
    parts = []
    for name, d in defs.items():
        parts.append(f'<h3 id="scenario-{esc(name)}">{esc(name)}</h3>')
        if isinstance(d, Mapping):
            d = dict(d)
            question = d.pop("question", None)
            desc = d.pop("description", None)
            if question:
                parts.append(f'<p class="question"><strong>Question:</strong> {esc(question)}</p>')
            if desc:
                parts.append(f"<p>{esc(desc)}</p>")
            parts.append(_value_html(d))
        else:
            parts.append(f"<pre>{esc(json.dumps(d, indent=2))}</pre>")
    return "\n".join(parts)


def provenance_html(ds: xr.Dataset) -> str:
    """All Dataset attrs except the scenario definitions, as a table."""
    rows = []
    for k, v in ds.attrs.items():
        if k == "scenarios":
            continue
        if isinstance(v, str) and v[:1] in "{[":
            try:
                v = json.dumps(json.loads(v), indent=1)
                rows.append(f"<tr><th>{esc(k)}</th><td><pre>{esc(v)}</pre></td></tr>")
                continue
            except json.JSONDecodeError:
                pass
        rows.append(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>")
    rows.append(f"<tr><th>report generated by</th><td>sdcluster {esc(__version__)}</td></tr>")
    return '<table id="provenance">' + "".join(rows) + "</table>"


def _figure_html(fig: Any, fid: str, caption: str, cls: str = "") -> str:
    c = f' class="{esc(cls)}"' if cls else ""
    return (f'<figure id="{esc(fid)}"{c}>{_image(_figure_png(fig), caption)}'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _question_html(k: int, sec: BriefSection) -> str:
    parts = [f'<section class="question" id="q{k}"><h2 class="question-text">{esc(sec.question)}</h2>']
    if sec.finding:
        parts.append(f'<p class="finding"><strong>Finding.</strong> {esc(sec.finding)}</p>')
    if sec.lines:
        parts.append('<ul class="finding-lines">' + "".join(f"<li>{esc(x)}</li>" for x in sec.lines) + "</ul>")
    if sec.loops:
        parts.append('<ul class="loop-shifts">' + "".join(f"<li>{esc(x)}</li>" for x in sec.loops) + "</ul>")
    if sec.note:
        parts.append(f'<p class="note">{esc(sec.note)}</p>')
    if sec.figure is not None:
        parts.append(_figure_html(sec.figure, f"fig-q{k}", sec.caption, "cost-outcome"))
    parts.append("</section>")
    return "\n".join(parts)


def build_report(
    ds: xr.Dataset,
    table: pd.DataFrame,
    *,
    baseline: str | None = None,
    figures: Mapping[str, Any] | None = None,
    stage_map: Mapping[str, Sequence[Stage]] | None = None,
    stage_variable: str | None = None,
    title: str | None = None,
    brief: Sequence[BriefSection] | None = None,
    summary: str = "",
) -> str:
    """Return the report as one self-contained HTML string.

    Parameters
    ----------
    ds
        Results with dims ``(scenario, time)``; its attrs supply scenario definitions and provenance.
    table
        KPI table from :func:`sdcluster.analysis.compare.kpi_table`.
    baseline
        Baseline scenario (default ``table.attrs['baseline']``); ``None`` when each
        scenario has its own reference.
    figures
        File stem -> matplotlib Figure, PNG bytes or PNG path; embedded in the appendix in that order.
    stage_map
        Scenario -> life-cycle stages of *stage_variable*.
    stage_variable
        Variable the stages were detected on.
    title
        Page title (default: "Scenario comparison").
    brief
        The questions, each with its finding and figure, shown first; everything
        else goes to the collapsed appendix.
    summary
        One line under the title (what was run, the KPI, the uncertainty).
    """
    baseline = baseline if baseline is not None else table.attrs.get("baseline")
    title = title or "Scenario comparison"
    scen = [str(s) for s in ds["scenario"].values] if "scenario" in ds.dims else []
    tu = time_units(ds)
    t = ds["time"].values if "time" in ds.coords else []
    period = f"{float(t[0]):g}–{float(t[-1]):g} {tu}" if len(t) else "?"
    against = (f"Baseline: <strong>{esc(baseline)}</strong>. " if baseline else
               "Each policy is compared with its own reference. ")
    meta = (f'<section id="summary"><p class="meta">{esc(summary) + " " if summary else ""}'
            f"{'' if summary else str(len(scen)) + ' scenarios. '}{against}Period: {esc(period)}. "
            f"Model: <code>{esc(ds.attrs.get('model_file', '?'))}</code>.</p>")
    best = _best_table(table) if not brief else ""
    if best:
        meta += f"<p>Best scenario for each KPI:</p>{best}"
    meta += "</section>"
    sections: list[tuple[str, str, str]] = []
    sections.append(("kpis", "Key performance indicators", (
        "<p>Δ is the difference from the reference; rank 1 is best (costs and times to a threshold: lower "
        "is better); “–” means undefined (e.g. a threshold never reached, no reference, or no extra cost "
        "over the reference).</p>" + kpi_table_html(table, baseline)
    )))
    figs = []
    for k, sec in enumerate(brief or [], 1):
        if sec.appendix_figure is not None:
            figs.append(_figure_html(sec.appendix_figure, f"fig-appendix-q{k}",
                                     f"Every output over time: {sec.question}"))
    for stem, fig in (figures or {}).items():
        figs.append(_figure_html(fig, f"fig-{stem}", CAPTIONS.get(stem, stem)))
    if figs:
        sections.append(("figures", "All trajectories" if brief else "Figures", "\n".join(figs)))
    if stage_map:
        sections.append(("stages", "Life-cycle stages", _stage_html(stage_map, stage_variable or "?", tu)))
    sections.append(("scenarios", "Scenario definitions", scenarios_html(ds)))
    sections.append(("provenance", "Provenance", provenance_html(ds)))
    rest = "\n".join(f'<section id="{sid}"><h2>{esc(h)}</h2>\n{content}</section>' for sid, h, content in sections)
    if brief:
        nav = "<nav><ol>" + "".join(f'<li><a href="#q{k}">{esc(sec.question)}</a></li>'
                                    for k, sec in enumerate(brief, 1)) + '<li><a href="#appendix">Appendix</a></li></ol></nav>'
        body = "\n".join(_question_html(k, sec) for k, sec in enumerate(brief, 1))
        body += ('\n<details id="appendix"><summary>Appendix: full KPI table, every trajectory, life-cycle stages, '
                 f"scenario definitions, provenance</summary>\n{rest}\n</details>")
    else:
        nav = "<nav><ol>" + "".join(f'<li><a href="#{sid}">{esc(h)}</a></li>' for sid, h, _ in sections) + "</ol></nav>"
        body = rest
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{meta}\n{nav}\n{body}\n</body></html>\n"
    )


def write_report(path: str | Path, html_text: str) -> Path:
    """Write the report atomically; return its path."""
    return atomic_write_text(path, html_text)
