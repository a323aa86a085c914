"""The class view's figures: every run of a room on shared axes, for the projector.

Three themed factories of a `classview.ClassView` (the `theme=` keyword of
`figures.themed`, so presenter mode and the dark look apply as to every chart):

- `class_metric`: the final metric of each run against the setting the class varied,
  one point per run, coloured by whether it learned, with the median of each value;
- `class_step0`: the gradient reaching step 0 against the same setting, log scale;
- `class_loss_curves`: the loss curve of every run overlaid, coloured by its value of
  the setting, one legend entry per value.

Display names are the students' own text: plotly draws text as its own small HTML
(`<b>`, `<br>`, `<a href>`), so every name, and every value that came from a config,
is escaped (`&`, `<`, `>`) before it reaches a label, a legend or a hover text, and
a name is never put inside a hover template (where `%{...}` would be read).

Example:

>>> from lstm_explorer.rooms.classview import class_view
>>> def sent(name, lr, loss):
...     config = {"training": {"learning_rate": lr}}
...     rows = [{"epoch": 1, "loss": loss, "val_loss": loss, "mae": loss, "val_mae": loss,
...              "probe": {"grad_h": {"layer0": [0.01, 1.0]}}}]
...     return {"name": name, "summary": {"config": config, "history": {"epochs": rows}}}
>>> view = class_view([sent("<b>Ada</b>", 0.001, 0.5), sent("Bo", 0.1, 0.2)])
>>> fig = class_metric(view)
>>> fig.layout.title.text, fig.layout.xaxis.type
('Final validation mean absolute error against learning rate', 'log')
>>> [row[0] for trace in fig.data if trace.customdata is not None for row in trace.customdata]
['&lt;b&gt;Ada&lt;/b&gt;', 'Bo']
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from lstm_explorer import figures as _figures
from lstm_explorer.readings import LEARNED, LEARNED_A_LITTLE, LEARNED_NOTHING
from lstm_explorer.rooms.classview import ClassRun, ClassView

__all__ = ["class_figures", "class_loss_curves", "class_metric", "class_step0", "escape"]

DIVERGED, NOT_JUDGED = "diverged", "not judged"
#: A run's colour on the point charts says how it went (Okabe & Ito: green, orange,
#: vermillion; black for a diverged run, grey when no baseline was recorded).
LEVEL_COLOURS = {
    LEARNED: _figures.OKABE_ITO[2],
    LEARNED_A_LITTLE: _figures.OKABE_ITO[4],
    LEARNED_NOTHING: _figures.OKABE_ITO[1],
    DIVERGED: _figures.OKABE_ITO[6],
    NOT_JUDGED: "#888888",
}
_MEDIAN_COLOUR = "#555555"
_NO_RUNS = "No runs yet: they appear here as the students send them."


def escape(text: Any) -> str:
    """Text as plotly shows it literally: `&`, `<` and `>` escaped.

    Quotes stay: plotly decodes `&amp;`, `&lt;` and `&gt;` but not `&quot;`, which it
    would show as typed.

    >>> escape('<a href="x">Ada & Bo</a>')
    '&lt;a href="x"&gt;Ada &amp; Bo&lt;/a&gt;'
    """
    return html.escape(str(text), quote=False)


def _level(run: ClassRun) -> str:
    if run.status == "diverged":
        return DIVERGED
    return run.level or NOT_JUDGED


def _x(view: ClassView, run: ClassRun) -> Any:
    return run.x if view.numeric else escape(run.x)


def _x_axis(fig: go.Figure, view: ClassView) -> None:
    if view.numeric:
        fig.update_xaxes(title_text=escape(view.label), type="log" if view.log_x else None)
    else:
        fig.update_xaxes(title_text=escape(view.label), type="category",
                         categoryorder="array",
                         categoryarray=[escape(text) for text in view.categories])


def _subtitle(*notes: str) -> str:
    return "; ".join(escape(note) for note in notes if note)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _points(view: ClassView, value: Callable[[ClassRun], float | None], *, title: str,
            y_title: str, hover: str, log_y: bool, missing: str) -> go.Figure:
    """One point per run with a value, coloured by its level, and the median per x."""
    if not view.runs:
        return _figures.empty_figure(title, _NO_RUNS)
    found = [(run, value(run)) for run in view.placed]
    found = [(run, y) for run, y in found if y is not None and math.isfinite(y)
             and (y > 0 or not log_y)]
    if not found:
        return _figures.empty_figure(title, f"No run has {missing} yet.")
    fig = _figures._new_figure(title=escape(title))
    label = escape(view.label.split(" (")[0] if view.parameter else "run")
    for level, colour in LEVEL_COLOURS.items():
        group = [(run, y) for run, y in found if _level(run) == level]
        if not group:
            continue
        fig.add_trace(go.Scatter(
            x=[_x(view, run) for run, _ in group], y=[y for _, y in group],
            mode="markers", name=level, legendgroup=level,
            marker=dict(color=colour, size=13, opacity=0.85,
                        line=dict(width=1, color="#FFFFFF")),
            # Names and values travel as data, escaped; the template holds only our text.
            customdata=[[escape(run.name), escape(run.x_text), level] for run, _ in group],
            hovertemplate=f"%{{customdata[0]}}<br>{label} = %{{customdata[1]}}<br>"
                          f"{escape(hover)} = %{{y:.4g}}<br>%{{customdata[2]}}<extra></extra>",
        ))
    medians = _medians(view, found)
    if medians:
        xs, ys = zip(*medians)
        fig.add_trace(go.Scatter(
            x=list(xs), y=list(ys), name="median", mode="lines+markers" if view.numeric
            else "markers", line=dict(color=_MEDIAN_COLOUR, width=2, dash="dot"),
            marker=dict(color=_MEDIAN_COLOUR, symbol="line-ew-open", size=30,
                        line=dict(width=3, color=_MEDIAN_COLOUR)),
            hovertemplate=f"{label} = %{{x}}<br>median {escape(hover)} = %{{y:.4g}}"
                          "<extra></extra>"))
    _x_axis(fig, view)
    if log_y:
        fig.update_yaxes(title_text=escape(y_title),
                         **_figures._log_axis(np.asarray([y for _, y in found])))
    else:
        fig.update_yaxes(title_text=escape(y_title))
    left_off = len(view.runs) - len(found)
    _figures._new_figure(fig, title=escape(title), subtitle=_subtitle(
        f"{_count(len(found), 'run')}, one point each",
        f"{left_off} without {missing}" if left_off else "", *view.notes))
    fig.update_layout(legend=dict(_figures._legend_below(), title=dict(text="run")),
                      hovermode="closest")
    return fig


def _medians(view: ClassView, found: Sequence[tuple[ClassRun, float]]) -> list[tuple[Any, float]]:
    by_x: dict[Any, list[float]] = {}
    for run, y in found:
        by_x.setdefault(_x(view, run), []).append(y)
    if len(by_x) < 2 and all(len(ys) < 2 for ys in by_x.values()):
        return []  # a median of one point says nothing
    if view.numeric:
        ordered = sorted(by_x)
    else:
        order = [escape(text) for text in view.categories]
        ordered = sorted(by_x, key=lambda x: order.index(x) if x in order else len(order))
    return [(x, statistics.median(by_x[x])) for x in ordered]


@_figures.themed
def class_metric(view: ClassView) -> go.Figure:
    """The final metric of every run against the setting the class varied.

    Args:
        view: the class view (`classview.class_view`).

    Returns:
        One marker trace per outcome (learned, learned a little, learned nothing,
        diverged, not judged) with a point per run, and a dotted median per value.

    Example:

    >>> from lstm_explorer.rooms.classview import class_view
    >>> rows = lambda acc: {"epochs": [{"epoch": 1, "loss": 1.0, "val_accuracy": acc}]}
    >>> view = class_view([("a", {"config": {"task": {"lag": 5}}, "history": rows(0.9)}),
    ...                    ("b", {"config": {"task": {"lag": 40}}, "history": rows(0.2)})])
    >>> fig = class_metric(view)
    >>> [(trace.name, list(trace.x), list(trace.y)) for trace in fig.data]
    [('not judged', [5, 40], [0.9, 0.2]), ('median', [5, 40], [0.9, 0.2])]
    """
    return _points(view, lambda run: run.final_metric,
                   title=f"Final {view.metric_label.split(' (')[0]} against "
                         f"{_setting(view)}",
                   y_title=view.metric_label, hover=view.metric or "metric", log_y=False,
                   missing="a final metric")


@_figures.themed
def class_step0(view: ClassView) -> go.Figure:
    """The gradient reaching step 0 of every run against the setting the class varied.

    The gradient is `grad_h[0] / grad_h[-1]` of the first layer at the last epoch (the
    share of the last step's gradient that reaches the first step processed), on a
    log axis: 10⁻⁶ is a vanished gradient, near 1 one that flows.

    Args:
        view: the class view (`classview.class_view`).

    Returns:
        One marker trace per outcome with a point per run, and a dotted median per value.

    Example:

    >>> from lstm_explorer.rooms.classview import class_view
    >>> rows = lambda g: {"epochs": [{"epoch": 1, "loss": 1.0,
    ...                               "probe": {"grad_h": {"layer0": [g, 1.0]}}}]}
    >>> view = class_view([("a", {"config": {"task": {"lag": 5}}, "history": rows(0.5)}),
    ...                    ("b", {"config": {"task": {"lag": 40}}, "history": rows(1e-6)})])
    >>> fig = class_step0(view)
    >>> list(fig.data[0].y), fig.layout.yaxis.type
    ([0.5, 1e-06], 'log')
    """
    return _points(view, lambda run: run.step0,
                   title=f"Gradient reaching step 0 against {_setting(view)}",
                   y_title="‖∂L/∂h_0‖ / last step's (log scale)",
                   hover="step 0 / last step", log_y=True,
                   missing="a gradient recorded")


def _setting(view: ClassView) -> str:
    if view.parameter is None:
        return "run"
    return view.label.split(" (")[0].lower()


@_figures.themed
def class_loss_curves(view: ClassView, which: str = "auto") -> go.Figure:
    """The loss curve of every run, overlaid, coloured by its value of the setting.

    Args:
        view: the class view (`classview.class_view`).
        which: `"val_loss"`, `"loss"`, or `"auto"`: validation loss when some run
            recorded it, else training loss. Default: `"auto"`.

    Returns:
        One line per run; one legend entry per value of the setting (runs of the same
        value share it). The loss axis is logarithmic when every loss is positive.

    Example:

    >>> from lstm_explorer.rooms.classview import class_view
    >>> rows = [{"epoch": e, "loss": 1 / e, "val_loss": 1.1 / e} for e in (1, 2)]
    >>> view = class_view([("a", {"config": {"task": {"lag": 5}}, "history": {"epochs": rows}}),
    ...                    ("b", {"config": {"task": {"lag": 40}}, "history": {"epochs": rows}})])
    >>> fig = class_loss_curves(view)
    >>> [trace.name for trace in fig.data], list(fig.data[0].y), fig.layout.yaxis.type
    (['5', '40'], [1.1, 0.55], 'log')
    """
    if which not in ("auto", "val_loss", "loss"):
        raise ValueError(f"which={which!r}: expected 'auto', 'val_loss' or 'loss'")
    title = "Loss of every run"
    if not view.runs:
        return _figures.empty_figure(title, _NO_RUNS)
    if which == "auto":
        which = "val_loss" if any(_finite(run.val_loss) for run in view.runs) else "loss"
    split = "validation" if which == "val_loss" else "training"
    fig = _figures._new_figure(title=title)
    colours = _colours(view)
    shown: set[str] = set()
    plotted: list[float] = []
    left_off = 0
    label = escape(view.label.split(" (")[0] if view.parameter else "run")
    for run in sorted(view.runs, key=lambda run: _order(view, run)):
        y = run.val_loss if which == "val_loss" else run.loss
        finite = _finite(y)
        if not finite:
            left_off += 1
            continue
        plotted.extend(finite)
        group = escape(run.x_text)
        fig.add_trace(go.Scatter(
            x=list(run.epochs), y=[math.nan if v is None else v for v in y],
            mode="lines+markers", name=group, legendgroup=group,
            showlegend=group not in shown,
            line=dict(color=colours.get(run.x_text, _MEDIAN_COLOUR), width=2.5),
            marker=dict(size=6), opacity=0.85,
            customdata=[[escape(run.name), group]] * len(run.epochs),
            hovertemplate=f"%{{customdata[0]}}<br>{label} = %{{customdata[1]}}<br>epoch "
                          f"%{{x}}<br>{split} loss = %{{y:.4g}}<extra></extra>"))
        shown.add(group)
    if not fig.data:
        return _figures.empty_figure(title, f"No run has a finite {split} loss.")
    values = np.asarray(plotted)
    if bool(np.all(values > 0)):
        fig.update_yaxes(title_text=f"{split} loss (log scale)", **_figures._log_axis(values))
    else:
        fig.update_yaxes(title_text=f"{split} loss")
    longest = max(len(run.epochs) for run in view.runs)
    fig.update_xaxes(title_text="epoch", **_figures._epoch_ticks(longest))
    _figures._new_figure(fig, title=title, subtitle=_subtitle(
        f"{split} loss, {_count(len(fig.data), 'run')}",
        f"{left_off} without a finite {split} loss" if left_off else "", *view.notes))
    fig.update_layout(legend=dict(_figures._legend_below(), title=dict(text=label)),
                      hovermode="closest")
    return fig


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _order(view: ClassView, run: ClassRun) -> tuple:
    if run.x is None:
        return (2, 0.0, "")
    if view.numeric:
        return (0, float(run.x), "")
    order = list(view.categories)
    return (1, float(order.index(run.x)) if run.x in order else math.inf, str(run.x))


def _colours(view: ClassView) -> dict[str, str]:
    """A colour per value of the setting: a sequential scale along a numeric axis (on
    the log of it for a log axis), Okabe & Ito's palette for categories."""
    if view.numeric:
        values = sorted({(float(run.x), run.x_text) for run in view.placed})
        numbers = [math.log10(x) if view.log_x else x for x, _ in values]
        low, high = min(numbers, default=0.0), max(numbers, default=0.0)
        # The scale's top end is pale yellow, which vanishes on a white projector.
        spots = [0.0 if high == low else 0.85 * (n - low) / (high - low) for n in numbers]
        colours = sample_colorscale(_figures.SEQUENTIAL_SCALE, spots) if spots else []
        return {text: colour for (_, text), colour in zip(values, colours)}
    palette = _figures.OKABE_ITO[:7]  # no yellow
    texts = list(dict.fromkeys(run.x_text for run in view.placed))
    order = list(view.categories)
    texts.sort(key=lambda text: order.index(text) if text in order else len(order))
    return {text: palette[index % len(palette)] for index, text in enumerate(texts)}


def class_figures(view: ClassView, theme: _figures.Theme | None = None) -> dict[str, go.Figure]:
    """The class view's three figures, under stable names (for a page or an export).

    Args:
        view: the class view.
        theme: the look. Default: `None` (light).

    Returns:
        `{"metric": ..., "step0": ..., "loss_curves": ...}`.
    """
    return {"metric": class_metric(view, theme=theme), "step0": class_step0(view, theme=theme),
            "loss_curves": class_loss_curves(view, theme=theme)}
