"""Figures: created, axes labelled with units, greyscale-distinct styles, no overlapping labels."""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from sdcluster import compare, lifecycle, plot  # noqa: E402
from sdcluster.errors import SdclusterError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def standard_figures(results_module):
    tab = compare.kpi_table(results_module, baseline="baseline")
    figs = plot.comparison_figures(results_module, "baseline", tab, "firms")
    yield figs
    for f in figs.values():
        plt.close(f)


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def texts(fig):
    """Every text drawn on the figure: tick labels inside the view limits, axis labels,
    titles, legend entries, annotations."""
    if not hasattr(fig.canvas, "get_renderer"):  # closed by pyplot: give it an Agg canvas again
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    ticklabels = {}
    for ax in visible_axes(fig):
        for axis, lim in ((ax.xaxis, sorted(ax.get_xlim())), (ax.yaxis, sorted(ax.get_ylim()))):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                inside = lim[0] - 1e-9 <= tick.get_loc() <= lim[1] + 1e-9
                ticklabels[id(tick.label1)] = inside and tick.label1.get_visible()
                ticklabels[id(tick.label2)] = inside and tick.label2.get_visible()
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if not t.get_visible() or not t.get_text().strip() or not ticklabels.get(id(t), True):
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        out.append(t)
    return out


def overlaps(fig, tol: float = -2.0) -> list[tuple[str, str]]:
    """Pairs of texts closer than ``-tol`` pixels (overlapping or touching)."""
    drawn = texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn]
    bad = []
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        w = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        h = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if w > tol and h > tol:
            bad.append((a, b))
    return bad


def test_trajectories_one_panel_per_variable_with_units(results):
    fig = plot.trajectories(results, baseline="baseline")
    axes = visible_axes(fig)
    assert len(axes) == 3
    labels = {ax.get_ylabel().replace("\n", " ") for ax in axes}
    assert labels == {"Firms [firm]", "Value added [EUR/Year]", "Cumulative public cost [EUR]"}
    assert all(ax.get_xlabel() == "time [Year]" for ax in axes)
    for ax in axes:
        assert len(ax.get_lines()) == results.sizes["scenario"]


def test_baseline_emphasised_and_styles_distinct_in_greyscale(results):
    fig = plot.trajectories(results, ["firms"], baseline="subsidy")
    lines = {ln.get_label(): ln for ln in visible_axes(fig)[0].get_lines()}
    base = lines["subsidy (baseline)"]
    others = [ln for k, ln in lines.items() if k != "subsidy (baseline)"]
    assert base.get_color() == "black" and all(base.get_linewidth() > ln.get_linewidth() for ln in others)
    # without colour, scenarios still differ by line style and marker
    styles = [(ln.get_linestyle(), ln.get_marker()) for ln in lines.values()]
    assert len(set(styles)) == len(styles)


def test_many_scenarios_keep_distinct_styles():
    st = plot.scenario_styles([f"s{i}" for i in range(8)], baseline="s0")
    combos = {(str(v["linestyle"]), v["marker"]) for v in st.values()}
    assert len(combos) == 8


def test_differences_panels_have_zero_baseline_and_delta_units(results):
    fig = plot.differences(results, "baseline", ["firms", "value_added"])
    axes = visible_axes(fig)
    assert len(axes) == 2
    assert axes[0].get_ylabel().replace("\n", " ").startswith("Δ Firms [firm]")
    platform = [ln for ln in axes[0].get_lines() if ln.get_label() == "platform"][0]
    expected = (results["firms"].sel(scenario="platform") - results["firms"].sel(scenario="baseline")).values
    np.testing.assert_allclose(platform.get_ydata(), expected)


def test_kpi_bars_one_panel_per_kpi_with_units_and_hatches(results):
    tab = compare.kpi_table(results, ["firms@30", "firms:t>=50", "firms@30/cost"], baseline="baseline")
    fig = plot.kpi_bars(tab)
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["firms@30", "firms:t>=50", "firms@30/cost"]
    assert [ax.get_xlabel() for ax in axes] == ["[firm]", "[Year]", "[firm per EUR]"]
    bars = axes[0].patches
    assert len(bars) == 3
    assert sorted(b.get_width() for b in bars) == pytest.approx(sorted(tab[tab.kpi == "firms@30"]["value"]))
    assert sum(1 for b in bars if b.get_hatch()) == 2  # every non-baseline bar is hatched
    with pytest.raises(SdclusterError, match="not in the table"):
        plot.kpi_bars(tab, ["firms@99"])


def test_stage_bands_and_timeline_draw_each_stage(results):
    smap = lifecycle.stages_by_scenario(results["firms"])
    fig = plot.stage_bands(results, "firms", smap, baseline="baseline")
    axes = visible_axes(fig)
    assert len(axes) == 3
    for ax, sc in zip(axes, smap):
        assert len(ax.patches) == len(smap[sc])  # one band per stage
        assert ax.get_ylabel() == "Firms [firm]"
    fig2 = plot.stage_timeline(smap, "Year")
    assert fig2.axes[0].get_xlabel() == "time [Year]"
    assert len(fig2.axes[0].collections) == sum(len(v) for v in smap.values())


@pytest.mark.parametrize("make", ["trajectories", "differences", "kpis", "stages", "stage_timeline"])
def test_no_overlapping_labels(standard_figures, make):
    bad = overlaps(standard_figures[make])
    assert not bad, f"overlapping texts in {make}: {bad[:5]}"


def test_no_overlapping_tick_labels_with_large_values(results_module):
    ds = results_module.copy()
    ds["value_added"] = ds["value_added"] * 20.0  # cumulative KPIs of about 50,000: long tick labels
    ds = ds.assign_coords(scenario=["baseline", "investment_attraction", "technology_platform"])
    tab = compare.kpi_table(ds, ["value_added:cum[0,60]", "value_added@30", "firms@30", "value_added:cum"],
                            baseline="baseline")
    for fig in (plot.kpi_bars(tab), plot.trajectories(ds), plot.differences(ds, "baseline")):
        assert not overlaps(fig), overlaps(fig)[:5]
        plt.close(fig)


def test_kpi_bars_with_five_digit_values_keep_tick_labels_apart():
    rows = [
        dict(scenario=s, kpi=k, value=v, units="Meuro", delta=0.0, ratio=1.0, rank=1, better="higher",
             variable="value_added", description="")
        for k, vals in [("value_added:cum[0,60]", [51228, 55437, 54423]),
                        ("value_added:npv[0,100,r=0.03]", [24774, 27714, 25623])]
        for s, v in zip(["baseline", "more_seed_entry", "milder_shift"], vals)
    ]
    fig = plot.kpi_bars(pd.DataFrame(rows), baseline="baseline")
    assert not overlaps(fig), overlaps(fig)[:5]


def test_overlap_check_can_fail():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.5, 0.5, "another label")
    assert overlaps(fig)


def test_save_figure_writes_png_and_svg(results, tmp_path):
    fig = plot.trajectories(results)
    paths = plot.save_figure(fig, tmp_path, "traj")
    assert [p.name for p in paths] == ["traj.png", "traj.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in paths[1].read_text()[:500]
    assert not list(tmp_path.glob(".*part"))  # no temporary files left


def test_unknown_variable_is_reported_with_suggestion(results):
    with pytest.raises(SdclusterError, match="Did you mean 'firms'"):
        plot.trajectories(results, ["firm"])


@pytest.mark.parametrize("x, text", [(0, "0"), (2500, "2500"), (25000, "25k"), (-1.5e6, "-1.5M"), (0.25, "0.25"),
                                     (2e-5, "2.0e-05"), (3e9, "3G")])
def test_compact_tick_labels(x, text):
    assert plot._compact(x) == text


def test_standard_figures_cap_the_number_of_panels(results_module, caplog):
    tab = compare.kpi_table(results_module, baseline="baseline")
    figs = plot.comparison_figures(results_module, "baseline", tab, max_panels=2)
    assert len(visible_axes(figs["trajectories"])) == 2
    assert len(visible_axes(figs["kpis"])) == 2
    assert "first 2 of 3 variables" in caplog.text


def test_figures_are_byte_identical_between_runs(tmp_path):
    """Issue 18 item 7: no dates or random ids in SVG/PDF output."""
    import matplotlib.pyplot as plt

    from sdcluster.outputs.plot import save_figure

    def draw(folder):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 3, 2], label="firms")
        ax.fill_between([0, 1, 2], [0, 2, 1], [2, 4, 3], alpha=0.3)  # clip paths get ids
        ax.set_xlabel("time [Year]")
        ax.legend()
        folder.mkdir()
        paths = save_figure(fig, folder, "f", formats=("svg", "pdf", "png"))
        plt.close(fig)
        return [p.read_bytes() for p in paths]

    assert draw(tmp_path / "a") == draw(tmp_path / "b")
