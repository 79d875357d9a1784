"""The explorer's web page: a Dash app over an :class:`~sdcluster.explore.session.Explorer`.

Dash keeps no state per browser tab on the server: the page holds the control
values (a ``dcc.Store``) and the URL holds the view, so a link reproduces what
is on screen. Every callback catches errors and shows them next to the field
concerned; no traceback ever reaches the page.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from plotly.subplots import make_subplots

from ..errors import SdclusterError
from .controls import Control
from .session import BAND, EXPLORED, Explorer, Result, View

log = logging.getLogger(__name__)

#: Colours of the life-cycle stage bands.
STAGE_COLOURS = {"emergence": "#c6dbef", "growth": "#c7e9c0", "maturity": "#fdd9a8", "decline": "#fcbba1",
                 "renewal": "#dadaeb", "collapse": "#fc9272", "no cluster": "#e0e0e0"}
EXPLORED_COLOUR = "#1f5fa8"
REFERENCE_COLOUR = "#555555"


def fmt(value: float, digits: int = 4) -> str:
    """A number for a card: 4 significant digits, '–' when undefined."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:.{digits}g}"


def _guarded(fn: Callable[..., Any], error_output: int, n_outputs: int) -> Callable[..., Any]:
    """Wrap a callback: an error becomes an inline message in output *error_output*, nothing else changes."""
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except SdclusterError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - the page must never get a traceback
            log.exception("explorer callback %s failed", fn.__name__)
            message = f"internal error ({type(exc).__name__}); the server log has the details"
        out = [no_update] * n_outputs
        out[error_output] = message
        return tuple(out) if n_outputs > 1 else out[0]
    wrapper.__name__ = fn.__name__
    return wrapper


# --------------------------------------------------------------------------- layout
def _control_row(c: Control) -> html.Div:
    return html.Div(className="control", children=[
        html.Label([c.label, html.Span(f" [{c.units}]" if c.units else "", className="units")], title=c.help),
        html.Div(className="control-inputs", children=[
            dcc.Slider(id={"type": "slider", "key": c.key}, min=c.low, max=c.high, step=c.step, value=c.default,
                       marks=None, updatemode="mouseup", allow_direct_input=False),
            dcc.Input(id={"type": "field", "key": c.key}, type="text", value=f"{c.default:g}", debounce=True,
                      className="field", name=c.key),
        ]),
        html.Div(id={"type": "message", "key": c.key}, className="message", role="alert"),
    ])


def _instrument_controls(explorer: Explorer) -> list[html.Fieldset]:
    """One fieldset per instrument: amount, start, duration."""
    return [html.Fieldset([html.Legend(explorer.model.info(py).name),
                           *[_control_row(c) for c in explorer.controls if c.parameter == py and c.role != "uncertain"]],
                          className="instrument") for py in explorer.instruments]


def _assumption_controls(explorer: Explorer) -> list[html.Fieldset]:
    """One fieldset with the uncertain parameters' central values (none without uncertainty)."""
    rows = [_control_row(c) for c in explorer.controls if c.role == "uncertain"]
    if not rows:
        return []
    note = html.P(f"Values of the central run; the band samples each distribution ({explorer.samples.n} runs).",
                  className="note")
    return [html.Fieldset([html.Legend("Assumptions"), note, *rows], className="instrument")]


def _card(ident: str, title: str) -> html.Div:
    return html.Div(id=ident, className="card", children=[html.Div(title, className="card-title")])


def _loop_card(explorer: Explorer) -> list[html.Div]:
    """The "dominant loop now" card, when the model names its loops (computed on request: seconds)."""
    if explorer.loops_file is None:
        return []
    return [html.Div(id="card-loop", className="card", children=[
        html.Div("Dominant loop now", className="card-title"),
        html.Div(id="loop-result", children=html.Div("not computed: loop dominance takes seconds per run",
                                                      className="card-sub")),
        html.Label([f"at {explorer.model.time_units.lower()} ",
                    dcc.Input(id="loop-time", type="text", placeholder="end", debounce=True, className="field",
                              name="loop-time"),
                    html.Button("Compute", id="loop-compute", n_clicks=0)], className="card-sub"),
        html.Div(id="loop-message", className="message", role="alert"),
    ])]


def loop_result(explorer: Explorer, view: View, at: str | None) -> list[Any]:
    """Children of the "dominant loop now" card for *view* at time *at* (text; empty: the end)."""
    try:
        when = float(at) if at not in (None, "") else None
    except ValueError:
        raise SdclusterError(f"dominant loop: time {at!r} is not a number") from None
    d = explorer.dominant_loop(view, when)
    return [html.Div(d.explored, className="card-value loop-group", **{"data-score": repr(d.explored_score)}),
            html.Div(f"relative score {d.explored_score:+.2f} at {explorer.model.time_units.lower()} {d.time:g}; "
                     f"reference: {d.reference} ({d.reference_score:+.2f}); computed in {d.seconds:.1f} s",
                     className="card-sub")]


def layout(explorer: Explorer) -> html.Div:
    """The page: controls on the left, view settings, KPI cards and charts on the right."""
    view = explorer.default_view()
    m = explorer.model
    base = explorer.base
    output_options = [{"label": f"{m.info(o).name} [{m.info(o).units}]", "value": o} for o in explorer.outputs]
    return html.Div(className="page", children=[
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="values", data=dict(view.values)),
        dcc.Download(id="download"),
        html.Header([
            html.H1(f"sdcluster explore: {m.path.name}"),
            html.P([html.B(f"Starting scenario: {base.name}. "), base.question or base.description or ""],
                   className="question"),
        ]),
        html.Div(className="main", children=[
            html.Aside(className="controls", children=[
                html.H2("Policy"),
                *_instrument_controls(explorer),
                html.H2("Keep it"),
                html.Div(className="keep", children=[
                    dcc.Input(id="save-name", type="text", placeholder="scenario name", className="field wide",
                              name="save-name"),
                    html.Button("Save as scenario", id="save", n_clicks=0),
                    html.Div(id="save-message", className="message", role="status"),
                    html.Button("Download netCDF", id="download-nc", n_clicks=0),
                    html.Button("Download CSV", id="download-csv", n_clicks=0),
                    html.A("Link to this view", id="link", href=view.query()),
                ]),
                *_assumption_controls(explorer),
            ]),
            html.Section(className="results", children=[
                html.Div(className="view-settings", children=[
                    html.Label(["Reference ", dcc.Dropdown(id="reference", value=view.reference, clearable=False,
                                                           options=explorer.references)], className="setting"),
                    html.Label(["KPI ", dcc.Input(id="kpi", type="text", value=view.kpi, debounce=True,
                                                  className="field wide", name="kpi")],
                               className="setting"),
                    html.Label(["Outputs ", dcc.Dropdown(id="outputs", value=list(view.outputs), multi=True,
                                                         options=output_options)], className="setting wide"),
                ]),
                html.Div(id="kpi-message", className="message", role="alert"),
                html.Div(id="link-message", className="message", role="alert"),
                html.Div(className="cards", children=[
                    _card("card-kpi", "KPI"), _card("card-gain", "Gain vs reference"),
                    _card("card-cost", "Public cost"), _card("card-ce", "Cost-effectiveness"),
                    _card("card-p", "P(beats reference)"), *_loop_card(explorer),
                ]),
                dcc.Loading(dcc.Graph(id="chart", config={"displaylogo": False}), delay_show=400),
                html.Div(id="status", className="status"),
            ]),
        ]),
    ])


# --------------------------------------------------------------------------- figures
def figure(explorer: Explorer, result: Result, outputs: list[str], reference: str) -> go.Figure:
    """Trajectories of *outputs*: explored (line, band) against the reference (dashed), stage bands behind."""
    m = explorer.model
    n = len(outputs)
    titles = [f"{m.info(o).name} [{m.info(o).units}]" for o in outputs]
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.12 / max(n, 1))
    t = result.central["time"].values
    band_label = f"{100 * BAND[0]:g}–{100 * BAND[1]:g}% of {result.runs} runs"
    for i, name in enumerate(outputs, start=1):
        first = i == 1
        if result.low is not None and result.high is not None:
            fig.add_trace(go.Scatter(x=t, y=result.high[name].values, mode="lines", line={"width": 0},
                                     hoverinfo="skip", showlegend=False, meta={"variable": name, "role": "high"},
                                     legendgroup="band"), row=i, col=1)
            fig.add_trace(go.Scatter(x=t, y=result.low[name].values, mode="lines", line={"width": 0},
                                     fill="tonexty", fillcolor="rgba(31,95,168,0.22)", name=band_label,
                                     showlegend=first, legendgroup="band", meta={"variable": name, "role": "low"}),
                          row=i, col=1)
        fig.add_trace(go.Scatter(x=t, y=result.central[name].sel(scenario=reference).values, mode="lines",
                                 name=f"reference: {reference}", line={"color": REFERENCE_COLOUR, "dash": "dash"},
                                 showlegend=first, legendgroup="reference",
                                 meta={"variable": name, "role": "reference"}), row=i, col=1)
        fig.add_trace(go.Scatter(x=t, y=result.central[name].sel(scenario=EXPLORED).values, mode="lines",
                                 name="explored", line={"color": EXPLORED_COLOUR, "width": 2.5}, showlegend=first,
                                 legendgroup="explored", meta={"variable": name, "role": "explored"}), row=i, col=1)
        shown = [result.central[name].values] + ([result.low[name].values, result.high[name].values]
                                                  if result.low is not None and result.high is not None else [])
        lo, hi = (float(f(np.concatenate([a.ravel() for a in shown]))) for f in (np.nanmin, np.nanmax))
        pad = (hi - lo) or abs(hi) or 1.0
        # headroom above the data for the stage strip
        fig.update_yaxes(title_text=m.info(name).units, range=[lo - 0.04 * pad, hi + 0.14 * pad], row=i, col=1)
    for k, st in enumerate(result.stages):  # a coloured strip at the top of each chart, a line between stages
        fig.add_vrect(x0=st.start, x1=st.end, y0=0.93, y1=1.0, fillcolor=STAGE_COLOURS.get(st.name, "#d9d9d9"),
                      opacity=0.9, layer="below", line_width=0, row="all", col=1)
        if k:
            fig.add_vline(x=st.start, line={"color": "#999", "width": 1, "dash": "dot"}, row="all", col=1)
        fig.add_annotation(x=(st.start + st.end) / 2, y=0.995, xref="x", yref="y domain", yanchor="top",
                           text=st.name, showarrow=False, font={"size": 11, "color": "#333"})
    fig.update_xaxes(title_text=f"time [{m.time_units}]", row=n, col=1)
    fig.update_layout(height=250 * n + 110, margin={"l": 60, "r": 20, "t": 40, "b": 50}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.12 if n == 1 else -0.06, "x": 0},
                      uirevision="keep")
    return fig


def cards(explorer: Explorer, result: Result, reference: str) -> list[html.Div]:
    """Children of the five KPI cards (each carries its exact value in ``data-value``)."""
    c, u, k = result.cards, result.units, result.kpi
    arrow = "higher is better" if k.better == "higher" else "lower is better"

    def card(title: str, value: float, unit: str, sub: str) -> list[Any]:
        return [html.Div(title, className="card-title"),
                html.Div([html.Span(fmt(value), className="card-value", **{"data-value": repr(float(value))}),
                          html.Span(f" {unit}" if unit and math.isfinite(value) else "", className="units")]),
                html.Div(sub, className="card-sub")]

    p = c["p_beats"]
    return [
        card(f"KPI {k.label}", c["explored"], u["explored"], f"reference {fmt(c['reference'])}"),
        card("Gain vs reference", c["gain"], u["gain"], arrow),
        card("Public cost", c["cost"], u.get("cost", ""), f"extra vs reference {fmt(c['extra_cost'])}"
             if math.isfinite(c["extra_cost"]) else "no public cost variable"),
        card("Cost-effectiveness", c["cost_effectiveness"], u.get("cost_effectiveness", ""),
             "gain per extra public cost" if math.isfinite(c["cost_effectiveness"])
             else "undefined (no extra cost)"),
        card("P(beats reference)", 100 * p if math.isfinite(p) else p, "%",
             f"over {result.runs} paired runs" if result.runs else "no uncertainty given"),
    ]


# --------------------------------------------------------------------------- app
def update_view(explorer: Explorer, values: dict, reference: str, kpi: str, outputs: list[str] | None) -> tuple:
    """What the page shows for a view: figure, five cards, status, KPI message, link (the view callback)."""
    view = View(values, reference, kpi, tuple(explorer.output_names(outputs or [])))
    try:
        explorer.kpi(kpi)
    except SdclusterError as exc:
        return (no_update,) * 7 + (str(exc), no_update)
    result = explorer.evaluate(view)
    status = (f"updated in {result.seconds:.2f} s ({result.runs} sampled runs + central run)" if result.runs
              else f"updated in {result.seconds:.2f} s")
    return (figure(explorer, result, list(view.outputs), reference), *cards(explorer, result, reference), status,
            "", view.query())


def create_app(explorer: Explorer) -> Dash:
    """The Dash app of *explorer* (serve ``app.server`` with any WSGI server)."""
    app = Dash(__name__, title=f"sdcluster explore: {explorer.model.path.name}", update_title=None,
               assets_folder=str(Path(__file__).with_name("assets")), serve_locally=True)
    app.layout = layout(explorer)
    keys = [c.key for c in explorer.controls]

    def on_controls(search, sliders, fields, stored):
        n = len(keys)
        trigger = ctx.triggered_id
        values = dict(stored)
        slider_out, field_out, msg_out = [no_update] * n, [no_update] * n, [no_update] * n
        settings = [no_update] * 4
        if trigger is None or trigger == "url":
            view, errors = explorer.view_from_query(search or "")
            values = dict(view.values)
            slider_out = [values[k] for k in keys]
            field_out = [f"{values[k]:g}" for k in keys]
            msg_out = [""] * n
            settings = [view.reference, view.kpi, list(view.outputs), " ".join(errors)]
            return slider_out, field_out, msg_out, values, *settings
        key = trigger["key"]
        i = keys.index(key)
        control = explorer.by_key[key]
        if trigger["type"] == "slider":
            value = sliders[i]
            if value is None or abs(value - values[key]) < 1e-12:
                return slider_out, field_out, msg_out, no_update, *settings
            value = control.check(value)
            field_out[i] = f"{value:g}"
        else:
            try:
                value = control.check(fields[i])
            except SdclusterError as exc:
                msg_out[i] = str(exc)
                return slider_out, field_out, msg_out, no_update, *settings
            slider_out[i] = value
        msg_out[i] = ""
        values[key] = value
        return slider_out, field_out, msg_out, values, *settings

    app.callback(
        Output({"type": "slider", "key": ALL}, "value"), Output({"type": "field", "key": ALL}, "value"),
        Output({"type": "message", "key": ALL}, "children"), Output("values", "data"),
        Output("reference", "value"), Output("kpi", "value"), Output("outputs", "value"),
        Output("link-message", "children"),
        Input("url", "search"), Input({"type": "slider", "key": ALL}, "value"),
        Input({"type": "field", "key": ALL}, "value"), State("values", "data"),
    )(_guarded(on_controls, 7, 8))

    def on_view(values, reference, kpi, outputs):
        return update_view(explorer, values, reference, kpi, outputs)

    app.callback(
        Output("chart", "figure"), Output("card-kpi", "children"), Output("card-gain", "children"),
        Output("card-cost", "children"), Output("card-ce", "children"), Output("card-p", "children"),
        Output("status", "children"), Output("kpi-message", "children"), Output("link", "href"),
        Input("values", "data"), Input("reference", "value"), Input("kpi", "value"), Input("outputs", "value"),
    )(_guarded(on_view, 7, 9))

    # keep the address bar equal to the view, without reloading the page
    app.clientside_callback(
        "function(href) { if (href) { window.history.replaceState(null, '', href); } return ''; }",
        Output("link", "title"), Input("link", "href"))

    if explorer.loops_file is not None:
        def on_loops(n_clicks, at, values, reference, kpi, outputs):
            if not n_clicks:
                return no_update, ""
            view = View(values, reference, kpi, tuple(outputs or ()))
            return loop_result(explorer, view, at), ""

        app.callback(Output("loop-result", "children"), Output("loop-message", "children"),
                     Input("loop-compute", "n_clicks"), State("loop-time", "value"), State("values", "data"),
                     State("reference", "value"), State("kpi", "value"), State("outputs", "value"),
                     prevent_initial_call=True)(_guarded(on_loops, 1, 2))

        def on_change(_values, _reference):  # a result of another view is not shown as this one's
            return html.Div("not computed for this view: press Compute (seconds per run)", className="card-sub")

        app.callback(Output("loop-result", "children", allow_duplicate=True), Input("values", "data"),
                     Input("reference", "value"), prevent_initial_call=True)(_guarded(on_change, 0, 1))

    def on_save(n_clicks, name, values, reference, kpi, outputs):
        if not n_clicks:
            return no_update
        view = View(values, reference, kpi, tuple(outputs or ()))
        path = explorer.save_scenario(view, name or "")
        return html.Span(f"saved {path}", className="ok")

    app.callback(Output("save-message", "children"), Input("save", "n_clicks"), State("save-name", "value"),
                 State("values", "data"), State("reference", "value"), State("kpi", "value"),
                 State("outputs", "value"), prevent_initial_call=True)(_guarded(on_save, 0, 1))

    def on_download(_nc, _csv, values, reference, kpi, outputs):
        suffix = ".csv" if ctx.triggered_id == "download-csv" else ".nc"
        view = View(values, reference, kpi, tuple(outputs or explorer.outputs[:1]))
        data = explorer.results_bytes(view, suffix)
        return dcc.send_bytes(data, f"{explorer.base.name}_vs_{reference}{suffix}"), ""

    app.callback(Output("download", "data"), Output("save-message", "children", allow_duplicate=True),
                 Input("download-nc", "n_clicks"), Input("download-csv", "n_clicks"),
                 State("values", "data"), State("reference", "value"), State("kpi", "value"),
                 State("outputs", "value"), prevent_initial_call=True)(_guarded(on_download, 1, 2))
    return app
