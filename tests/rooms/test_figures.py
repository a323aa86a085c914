"""The class view's figures: one point per run, shared axes, names escaped everywhere."""

from __future__ import annotations

import json

import pytest

from lstm_explorer.figures import PRESENTER_SCALE, Theme
from lstm_explorer.rooms.classview import class_view
from lstm_explorer.rooms.figures import (
    LEVEL_COLOURS,
    class_figures,
    class_loss_curves,
    class_metric,
    class_step0,
    escape,
)
from lstm_explorer.rooms.store import SentRun
from tests.rooms.helpers import summary

HOSTILE = ['<b>Bold</b>', '<a href="javascript:alert(1)">me</a>', "%{y} & <br>", "<script>x"]
FACTORIES = [class_metric, class_step0, class_loss_curves]


def sent(name: str, values: dict | None = None, run_id: int = 0, **history_arguments) -> SentRun:
    return SentRun(run_id, "K7Q-M2X", run_id, name, 0.0, 0, summary(values, **history_arguments))


def units_view(names=("Ada", "Bo", "Cy", "Dee")):
    units = (8, 8, 32, 64)
    losses = (0.05, 0.03, 0.01, 0.5)
    return class_view([sent(name, {"layer1.units": u}, i, final_loss=loss, grad0=10.0 ** -(4 - i))
                       for i, (name, u, loss) in enumerate(zip(names, units, losses))])


def texts_of(fig) -> str:
    """Every text plotly would draw: names, hover texts, labels, titles, as JSON."""
    return json.dumps(fig.to_plotly_json(), default=str)


@pytest.mark.parametrize("factory", FACTORIES)
def test_display_names_are_escaped_in_hover_texts_legends_and_labels(factory):
    fig = factory(units_view(HOSTILE))
    text = texts_of(fig)
    for name in HOSTILE:
        assert name not in text
    assert "&lt;b&gt;Bold&lt;/b&gt;" in text
    assert "&lt;a href=\\\"javascript:alert(1)\\\"&gt;me&lt;/a&gt;" in text
    for trace in fig.data:
        # A name is data, never part of a template, where %{...} would be read.
        assert "Bold" not in (trace.hovertemplate or "")


def test_names_on_a_categorical_axis_are_escaped_too():
    view = class_view([sent(name) for name in HOSTILE])
    assert view.parameter is None
    fig = class_metric(view)
    assert list(fig.layout.xaxis.categoryarray) == [escape(name) for name in HOSTILE]
    assert all(x in fig.layout.xaxis.categoryarray for trace in fig.data for x in trace.x)
    for name in HOSTILE:
        assert name not in texts_of(fig)


def test_the_metric_chart_has_a_point_per_run_coloured_by_how_it_went_and_medians():
    view = units_view()
    fig = class_metric(view)
    points = {trace.name: trace for trace in fig.data if trace.name != "median"}
    assert set(points) == {"learned", "learned nothing"}
    assert points["learned"].marker.color == LEVEL_COLOURS["learned"]
    assert sorted(points["learned"].x) == [8, 8, 32]
    assert list(points["learned nothing"].x) == [64]
    assert [row[0] for row in points["learned"].customdata] == ["Ada", "Bo", "Cy"]
    median = next(trace for trace in fig.data if trace.name == "median")
    by_x = {run.x: [] for run in view.runs}
    for run in view.runs:
        by_x[run.x].append(run.final_metric)
    assert list(median.x) == [8, 32, 64]
    assert median.y[0] == pytest.approx(sum(by_x[8]) / 2)
    assert fig.layout.xaxis.title.text == "Units (layer1.units)"
    assert fig.layout.yaxis.title.text == "validation mean absolute error"
    assert fig.layout.title.text == "Final validation mean absolute error against units"
    assert fig.layout.title.subtitle.text == "4 runs, one point each"


def test_the_step0_chart_plots_the_ratio_on_a_log_axis():
    view = units_view()
    fig = class_step0(view)
    plotted = sorted(y for trace in fig.data if trace.name != "median" for y in trace.y)
    assert plotted == pytest.approx(sorted(run.step0 for run in view.runs))
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.title.text == "Gradient reaching step 0 against units"


def test_the_loss_curves_have_a_line_per_run_and_a_legend_entry_per_value():
    view = units_view()
    fig = class_loss_curves(view)
    assert len(fig.data) == 4
    assert [trace.name for trace in fig.data if trace.showlegend] == ["8", "32", "64"]
    colours = {trace.name: trace.line.color for trace in fig.data}
    assert len(set(colours.values())) == 3  # one colour per value, shared by its runs
    assert list(fig.data[0].y) == list(view.runs[0].val_loss)
    assert fig.layout.legend.title.text == "Units"
    assert fig.layout.yaxis.title.text == "validation loss (log scale)"
    training = class_loss_curves(view, which="loss")
    assert list(training.data[0].y) == list(view.runs[0].loss)
    with pytest.raises(ValueError, match=r"^which='val'"):
        class_loss_curves(view, which="val")


def test_a_diverged_run_is_a_gap_not_an_error_and_is_counted_out():
    view = class_view([sent("Ada", {"layer1.units": 8}, status="diverged"),
                       sent("Bo", {"layer1.units": 16})])
    fig = class_metric(view)
    assert [len(trace.x) for trace in fig.data] == [1]
    assert "1 without a final metric" in fig.layout.title.subtitle.text
    curves = class_loss_curves(view)
    assert len(curves.data) == 2


def test_no_runs_give_figures_that_say_so():
    for fig in class_figures(class_view([])).values():
        assert not fig.data
        assert fig.layout.annotations[0].text.startswith("No runs yet")


def test_the_presenter_look_applies_to_the_class_figures():
    view = units_view()
    figures = class_figures(view, theme=Theme(dark=True, presenter=True))
    assert list(figures) == ["metric", "step0", "loss_curves"]
    for fig in figures.values():
        assert fig.layout.template.layout.paper_bgcolor == "#0E1117"
        assert fig.layout.template.layout.font.size == pytest.approx(16 * PRESENTER_SCALE)


def test_the_figures_are_the_same_for_the_same_runs():
    first, second = class_figures(units_view()), class_figures(units_view())
    for name in first:
        assert first[name].to_json() == second[name].to_json()
