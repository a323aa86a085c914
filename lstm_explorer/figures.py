"""Plotly figure factories: a trace or a training history in, a `go.Figure` out.

Every function here is pure: it reads plain data (numpy arrays in the `trace.npz` layout
of DESIGN §3, and the history dict written per epoch) and returns a new figure. Same
input, same figure, so the page, the CLI export and the tests share one code path.
Nothing here imports TensorFlow or Streamlit.

Bad arguments (a layer that is not in the data, a sample index past the batch) raise
`ValueError` naming the argument. Missing or non-finite *data* (no trace yet, a diverged
run full of NaN) never raises: the figure says in an annotation why it is empty.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

__all__ = [
    "LIGHT",
    "TEMPLATE_NAME",
    "THEME",
    "Theme",
    "all_figures",
    "empty_figure",
    "gate_heatmaps",
    "gate_saturation",
    "gradient_flow",
    "gradient_flow_animated",
    "gradient_heatmap",
    "layers_in",
    "loss_curves",
    "state_heatmaps",
    "style",
    "themed",
    "unit_lines",
    "weight_gradient_norms",
]

# ----------------------------------------------------------------------------------------
# The one look

TEMPLATE_NAME = "lstm_explorer"

# Okabe & Ito's palette: distinguishable with every common colour-vision deficiency.
# Yellow goes last because it is nearly invisible on white on a washed-out projector.
OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

# A gate keeps its colour in every figure (lines, bars), so the eye learns it once.
GATE_COLOURS = {
    "i": OKABE_ITO[0],
    "f": OKABE_ITO[1],
    "g": OKABE_ITO[2],
    "c": OKABE_ITO[2],  # the candidate's weight slice is called "c" in Keras
    "o": OKABE_ITO[3],
    "z": OKABE_ITO[0],
    "r": OKABE_ITO[1],
    "h": OKABE_ITO[2],  # GRU's candidate weight slice
}

GATE_NAMES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "c": "candidate c",
    "o": "output gate o",
    "z": "update gate z",
    "r": "reset gate r",
    "h": "candidate h",
}

# Sequential scale for [0, 1] quantities and a diverging one (blue < 0 < red) for signed
# ones; both stay readable for colour-blind viewers. Explicit lists rather than names,
# because plotly.js's built-in "RdBu" runs the other way round from ColorBrewer's.
SEQUENTIAL_SCALE = "Viridis"
DIVERGING_SCALE = [
    [0.0, "rgb(5,48,97)"],
    [0.1, "rgb(33,102,172)"],
    [0.2, "rgb(67,147,195)"],
    [0.3, "rgb(146,197,222)"],
    [0.4, "rgb(209,229,240)"],
    [0.5, "rgb(247,247,247)"],
    [0.6, "rgb(253,219,199)"],
    [0.7, "rgb(244,165,130)"],
    [0.8, "rgb(214,96,77)"],
    [0.9, "rgb(178,24,43)"],
    [1.0, "rgb(103,0,31)"],
]

FONT_SIZE = 16
# Where the title starts, as a share of the figure's width; a legend under the plot
# starts there too.
_TITLE_X = 0.01
STEP_AXIS = "time step (processing order)"

_FONT_FAMILY = "Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
_AXIS = dict(
    title=dict(font=dict(size=FONT_SIZE + 2), standoff=12),
    tickfont=dict(size=FONT_SIZE),
    showline=True,
    linewidth=2,
    linecolor="#444444",
    gridcolor="#E3E3E3",
    zeroline=False,
    ticks="outside",
    ticklen=6,
    automargin=True,
)
_COLORBAR = dict(
    thickness=20,
    outlinewidth=0,
    tickfont=dict(size=FONT_SIZE - 1),
    title=dict(font=dict(size=FONT_SIZE)),
)


def _build_theme(dark: bool = False, scale: float = 1.0) -> go.layout.Template:
    colours = _DARK if dark else _LIGHT
    theme = go.layout.Template(pio.templates["plotly_dark" if dark else "plotly_white"])
    axis = _scaled(_AXIS, scale, colours)
    theme.layout.update(
        font=dict(family=_FONT_FAMILY, size=FONT_SIZE * scale, color=colours["#1F1F1F"]),
        title=dict(
            font=dict(size=(FONT_SIZE + 6) * scale),
            subtitle=dict(font=dict(size=FONT_SIZE * scale, color=colours["#555555"])),
            x=_TITLE_X,
            xanchor="left",
        ),
        colorway=[colours.get(colour, colour) for colour in OKABE_ITO],
        xaxis=axis,
        yaxis=axis,
        legend=dict(font=dict(size=FONT_SIZE * scale),
                    title=dict(font=dict(size=FONT_SIZE * scale))),
        hoverlabel=dict(font=dict(size=FONT_SIZE * scale, family=_FONT_FAMILY)),
        coloraxis=dict(colorbar=_scaled(_COLORBAR, scale, colours)),
        margin=dict(l=90 * scale, r=40 * scale, t=110 * scale, b=80 * scale),
        # Subplot titles and notes are annotations; keep them readable from the back row.
        annotationdefaults=dict(font=dict(size=(FONT_SIZE + 1) * scale)),
    )
    if dark:
        # Streamlit's own dark background, so that a chart is no white box on the page
        # and an exported file looks as it did there.
        theme.layout.update(paper_bgcolor=colours["#FFFFFF"], plot_bgcolor=colours["#FFFFFF"])
    theme.data.scatter = [go.Scatter(line=dict(width=3.5 * _line_scale(scale)),
                                     marker=dict(size=9 * scale))]
    theme.data.heatmap = [go.Heatmap(colorscale=SEQUENTIAL_SCALE,
                                     colorbar=_scaled(_COLORBAR, scale, colours))]
    theme.data.bar = [go.Bar(marker=dict(line=dict(width=0)))]
    return theme


# The light look's colours, as the figures name them, and their dark-theme counterparts
# (Streamlit's dark theme: background #0E1117, text #FAFAFA).
_LIGHT = {"#1F1F1F": "#1F1F1F", "#555555": "#555555", "#444444": "#444444",
          "#E3E3E3": "#E3E3E3", "#000000": "#000000", "#FFFFFF": "#FFFFFF"}
_DARK = {"#1F1F1F": "#FAFAFA", "#555555": "#BFC5D3", "#444444": "#A3A8B4",
         "#E3E3E3": "#31333F", "#000000": "#E6E6E6", "#FFFFFF": "#0E1117"}


def _line_scale(scale: float) -> float:
    # Lines grow faster than type: a projector's blur eats thin lines first.
    return 1.0 + (scale - 1.0) * 2.5


def _scaled(spec: Any, scale: float, colours: Mapping[str, str], key: str = "") -> Any:
    """A copy of a layout (or trace) dict with font sizes, line widths, margins and
    colour-bar thickness scaled, and the light look's colours swapped for `colours`."""
    if isinstance(spec, Mapping):
        out = {}
        for name, value in spec.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                if (name == "size" and key in ("font", "tickfont", "marker")) or \
                        (key == "margin" and name in ("l", "r", "t", "b", "pad")) or \
                        name in ("thickness", "standoff", "ticklen", "yshift", "xshift"):
                    value = value * scale
                elif name == "width" and key == "line" or name == "linewidth":
                    value = value * _line_scale(scale)
            out[name] = _scaled(value, scale, colours, name)
        return out
    if isinstance(spec, list | tuple):
        return [_scaled(value, scale, colours, key) for value in spec]
    if isinstance(spec, str):
        return colours.get(spec.upper(), spec) if spec.startswith("#") else spec
    return spec


pio.templates[TEMPLATE_NAME] = _build_theme()
# The registry stores its own copy; hold that one, so `template=THEME` and
# `template="lstm_explorer"` are one and the same object.
THEME = pio.templates[TEMPLATE_NAME]


@dataclass(frozen=True)
class Theme:
    """How a figure looks: light or dark, and larger for a projector.

    Args:
        dark: Streamlit's dark theme (dark background, light text). Default: `False`.
        presenter: presenter mode: type `PRESENTER_SCALE` times larger, lines thicker.
            Default: `False`.

    Example:

    >>> fig = style(empty_figure("Loss", "No epochs yet."), Theme(dark=True, presenter=True))
    >>> fig.layout.template.layout.paper_bgcolor, fig.layout.template.layout.font.size
    ('#0E1117', 20.8)
    """

    dark: bool = False
    presenter: bool = False

    @property
    def scale(self) -> float:
        return PRESENTER_SCALE if self.presenter else 1.0


PRESENTER_SCALE = 1.3
LIGHT = Theme()


@functools.cache
def template_for(theme: Theme) -> go.layout.Template:
    """The plotly template of a theme (built once per theme)."""
    return THEME if theme == LIGHT else _build_theme(theme.dark, theme.scale)


def style(fig: go.Figure, theme: Theme | None = None) -> go.Figure:
    """The figure in a theme: its template, and what its own layout and traces set
    (font sizes, line widths, margins, colours) scaled and recoloured to match.

    Every factory builds in the light look (`LIGHT`); this is how it takes another.
    Changes `fig` in place and returns it; the light theme (or `None`) changes nothing.

    Args:
        fig: a figure made by a factory of this package.
        theme: the theme. Default: `None` (the light look).
    """
    if theme is None or theme == LIGHT:
        return fig
    colours = _DARK if theme.dark else _LIGHT
    layout = fig.layout.to_plotly_json()
    layout.pop("template", None)
    if "height" in layout:
        # Larger type needs the room: a figure that sets its own height grows with it.
        layout["height"] = round(layout["height"] * theme.scale)
    fig.layout = go.Layout(_scaled(layout, theme.scale, colours))
    fig.layout.template = template_for(theme)
    if theme.dark:
        _darken_epoch_ramp(fig)
    for trace in fig.data:
        for part in ("line", "marker", "textfont", "colorbar"):
            if part in trace and trace[part] is not None:
                spec = trace[part].to_plotly_json()
                if spec:
                    trace[part] = _scaled(spec, theme.scale, colours, part)
    return fig


# Where a line sits on the epoch ramp (`_epoch_colour`), kept in the trace's `meta`.
EPOCH_SHARE = "epoch_share"


def _darken_epoch_ramp(fig: go.Figure) -> None:
    """Move the epochs' lines and colour bar to the dark look's stretch of the ramp."""
    for trace in fig.data:
        meta = trace.meta if isinstance(trace.meta, dict) else {}
        if EPOCH_SHARE in meta:
            trace.line.color = _ramp_colour(meta[EPOCH_SHARE], dark=True)
    if fig.layout.coloraxis.colorscale and \
            [list(stop) for stop in fig.layout.coloraxis.colorscale] == _EPOCH_SCALE:
        fig.layout.coloraxis.colorscale = _epoch_scale(dark=True)


def themed(factory: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
    """Give a figure factory a `theme=` keyword (default: the light look); see `style`."""

    @functools.wraps(factory)
    def make(*arguments: Any, theme: Theme | None = None, **keywords: Any) -> go.Figure:
        return style(factory(*arguments, **keywords), theme)

    return make


def _subplots(**kwargs: Any) -> go.Figure:
    # Start from our theme: plotly would otherwise apply (and we replace) its default one,
    # which is most of the time spent building a figure.
    return make_subplots(figure=go.Figure(layout={"template": THEME}), **kwargs)


def _new_figure(fig: go.Figure | None = None, *, title: str, subtitle: str = "") -> go.Figure:
    fig = go.Figure(layout={"template": THEME}) if fig is None else fig
    title_spec: dict[str, Any] = {"text": title}
    if subtitle:
        title_spec["subtitle"] = {"text": subtitle}
    fig.update_layout(title=title_spec)
    return fig


@themed
def empty_figure(title: str, reason: str) -> go.Figure:
    """A figure with no data and a centred note saying why.

    Args:
        title: the title the figure would have had, so the page layout stays put.
        reason: one sentence for the viewer, e.g. "No trace yet: train for one epoch."

    Example:

    >>> fig = empty_figure("Gradient flow", "No epochs recorded yet.")
    >>> len(fig.data), fig.layout.annotations[0].text
    (0, 'No epochs recorded yet.')
    """
    fig = _new_figure(title=title)
    fig.add_annotation(
        text=reason,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font=dict(size=FONT_SIZE + 4, color="#555555"),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# ----------------------------------------------------------------------------------------
# Reading the data

_TRACE_KEY = re.compile(r"^layer(\d+)/(?:(backward)/)?([A-Za-z_]+)$")
_LAYER_NAME = re.compile(r"^layer(\d+)(/backward)?$")

_LSTM_GATES = ("i", "f", "g", "o")
_GRU_GATES = ("z", "r", "g")
_SIGMOID_GATES = frozenset({"i", "f", "o", "z", "r"})

QUANTITY_LABELS = {
    "h": "hidden state h_t",
    "c": "cell state c_t",
    "i": "input gate i_t",
    "f": "forget gate f_t",
    "g": "candidate g_t",
    "o": "output gate o_t",
    "z": "update gate z_t",
    "r": "reset gate r_t",
}

# The y axes of the gradient-flow panels, whose titles name the quantity.
_GRADIENT_AXIS = "L2 norm, log scale"
GRADIENT_LABELS = {
    "grad_h": "‖∂L/∂h_t‖ (L2 norm, log scale)",
    "grad_c": "‖∂L/∂c_t‖ (L2 norm, log scale)",
}
_GRADIENT_SYMBOL = {"grad_h": "‖∂L/∂h_t‖", "grad_c": "‖∂L/∂c_t‖"}

_NO_TRACE = "No trace yet: train for at least one epoch to record gates and states."
_NO_EPOCHS = "No epochs recorded yet: start training to fill this chart."
_ALL_NONFINITE = "Every value is NaN or infinite: the run diverged (see the training status)."


def _as_float(value: Any) -> float:
    """A float, with None, strings and other junk read as NaN (missing)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def _finite_array(values: Any) -> np.ndarray:
    """Float64 copy with ±inf turned into NaN, so JSON and colour ranges stay sane."""
    out = np.array(values, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def _positive_or_nan(values: Iterable[Any]) -> np.ndarray:
    """Values a log axis can show; zero, negative and non-finite become gaps."""
    out = np.array([_as_float(v) for v in values], dtype=np.float64)
    out[~(out > 0)] = np.nan
    return out


def _layer_index(layer: int | str) -> int:
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool) and layer >= 0:
        return int(layer)
    if isinstance(layer, str) and (m := re.fullmatch(r"layer(\d+)", layer)):
        return int(m.group(1))
    raise ValueError(
        f"layer={layer!r}: expected a non-negative layer index such as 0, or a name like 'layer0'"
    )


def _prefix(layer: int | str, direction: str) -> str:
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction={direction!r}: expected 'forward' or 'backward'")
    k = _layer_index(layer)
    return f"layer{k}/backward/" if direction == "backward" else f"layer{k}/"


def _trace_prefixes(arrays: Mapping[str, Any]) -> list[str]:
    """Layer prefixes in the trace ("layer0/", "layer0/backward/", ...), in model order."""
    found = set()
    for key in arrays:
        if m := _TRACE_KEY.match(key):
            found.add((int(m.group(1)), bool(m.group(2))))
    return [f"layer{k}/backward/" if back else f"layer{k}/" for k, back in sorted(found)]


def _cell_kind(arrays: Mapping[str, Any], prefix: str) -> str | None:
    if prefix + "i" in arrays or prefix + "c" in arrays:
        return "lstm"
    if prefix + "z" in arrays:
        return "gru"
    if prefix + "h" in arrays:
        return "simple_rnn"
    return None


def _require_layer(arrays: Mapping[str, Any], prefix: str, argument: str) -> str:
    kind = _cell_kind(arrays, prefix)
    if kind is None:
        present = ", ".join(repr(p.rstrip("/")) for p in _trace_prefixes(arrays)) or "none"
        raise ValueError(
            f"{argument}: {prefix.rstrip('/')!r} is not in the trace; layers present: {present}"
        )
    return kind


def _sample_matrix(arrays: Mapping[str, Any], key: str, sample: int) -> np.ndarray:
    """One sample of a (batch, steps, units) array as float64 (steps, units)."""
    array = np.asarray(arrays[key])
    if array.ndim == 2:  # already a single sample
        return _finite_array(array)
    if array.ndim != 3:
        raise ValueError(f"arrays[{key!r}] has shape {array.shape}; expected (batch, steps, units)")
    if not isinstance(sample, (int, np.integer)) or not 0 <= sample < array.shape[0]:
        raise ValueError(
            f"sample={sample!r}: expected an integer from 0 to {array.shape[0] - 1} "
            f"(the probe batch has {array.shape[0]} samples)"
        )
    return _finite_array(array[sample])


def _rows(history: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not history:
        return []
    rows = history.get("epochs") or []
    return [row for row in rows if isinstance(row, Mapping)]


def _epoch_number(row: Mapping[str, Any], index: int) -> int:
    number = row.get("epoch")
    return int(number) if isinstance(number, (int, np.integer)) else index + 1


def _probe(row: Mapping[str, Any]) -> Mapping[str, Any]:
    probe = row.get("probe")
    return probe if isinstance(probe, Mapping) else {}


def _gradient_series(row: Mapping[str, Any], quantity: str, layer: str) -> list[Any] | None:
    series = _probe(row).get(quantity)
    if not isinstance(series, Mapping):
        return None
    values = series.get(layer)
    return None if values is None else list(np.ravel(np.asarray(values, dtype=object)))


def _status_note(history: Mapping[str, Any] | None) -> str:
    if not history:
        return ""
    status = history.get("status")
    message = str(history.get("message") or "").strip()
    if status == "diverged":
        return "Training diverged" + (f": {message}" if message else "")
    if status == "stopped":
        return "Training stopped early" + (f": {message}" if message else "")
    if status == "running":
        return "Training in progress" + (f": {message}" if message else "")
    return message


def _layer_label(layer: str) -> str:
    """'layer0/backward' -> 'layer 1, backward' for titles.

    Trace keys count layers from 0 (DESIGN.md §3); people, settings and share links
    count them from 1, so titles do too.
    """
    m = _LAYER_NAME.match(layer)
    if not m:
        return layer
    return f"layer {int(m.group(1)) + 1}" + (", backward" if m.group(2) else "")


def _direction_label(prefix: str) -> str:
    k = prefix.split("/")[0].removeprefix("layer")
    return f"layer {int(k) + 1}" + (", backward" if "backward" in prefix else "")


def _symmetric_range(values: np.ndarray, at_least: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    m = max(m, at_least)
    return -m, m


def _unit_range(values: np.ndarray) -> tuple[float, float]:
    """[0, 1] for a sigmoid gate, widened when the data leave it (e.g. a relu gate)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    return min(0.0, float(finite.min())), max(1.0, float(finite.max()))


def _log_axis(values: np.ndarray) -> dict[str, Any]:
    """Log-axis ticks that stay legible at projector size.

    Many decades: one tick per decade (or every other), written 10^k. A few decades:
    ticks at 1, 2 and 5 times powers of ten, written out in full; plotly's own in-between
    ticks would print as tiny lone digits ("2", "5") that read as the wrong value.
    """
    finite = values[np.isfinite(values) & (values > 0)]
    if not finite.size:
        return dict(type="log")
    lo, hi = math.log10(finite.min()), math.log10(finite.max())
    if hi - lo >= 2.5:
        return dict(type="log", dtick=max(1, math.ceil((hi - lo) / 8)), exponentformat="power")
    for multiples in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        # Built from text so 3e-05 is exactly that, not 3.0000000000000004e-05.
        candidates = (
            float(f"{m}e{k}") for k in range(math.floor(lo), math.ceil(hi) + 1) for m in multiples
        )
        ticks = [t for t in candidates if lo - 0.05 <= math.log10(t) <= hi + 0.05]
        if len(ticks) >= 3:
            return dict(
                type="log", tickmode="array", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks]
            )
    return dict(type="log")  # a sliver of a decade: plotly's own ticks are fine there


def _epoch_ticks(n_epochs: int) -> dict[str, Any]:
    # A short run gets a tick per epoch or every other one (no "1.5"), few enough for a
    # narrow panel; a long one plotly's own round steps.
    if n_epochs <= 6:
        return dict(tick0=1, dtick=1)
    return dict(tick0=0, dtick=2) if n_epochs <= 12 else {}


def _heatmap(matrix: np.ndarray, name: str, coloraxis: str) -> go.Heatmap:
    """Units × steps heatmap of one (steps, units) matrix."""
    steps, units = matrix.shape
    return go.Heatmap(
        z=matrix.T,
        x=np.arange(steps),
        y=np.arange(units),
        coloraxis=coloraxis,
        name=name,
        hovertemplate=f"unit %{{y}}<br>step %{{x}}<br>{name} = %{{z:.3f}}<extra></extra>",
    )


def _colorbar(title: str, x: float) -> dict[str, Any]:
    return dict(_COLORBAR, title=dict(text=title, font=dict(size=FONT_SIZE)), x=x, len=0.9)


def _colorbar_below(title: str, domain: Sequence[float]) -> dict[str, Any]:
    """A horizontal colour bar at the foot of the figure, under the panels in `domain`.

    Under its panels rather than beside them: a row of heatmaps keeps the whole width,
    and side by side bars would need a width that a narrow window (a projector at
    150 % zoom) does not have. Plotly reserves the bar's height below the axes.
    """
    start, end = domain
    return dict(
        _COLORBAR,
        # Plotly puts the title of a horizontal bar at its left with side "right".
        title=dict(text=title, font=dict(size=FONT_SIZE), side="right"),
        orientation="h",
        x=(start + end) / 2,
        xanchor="center",
        len=0.8 * (end - start),
        yref="container",
        y=0,
        yanchor="bottom",
        ypad=8,
        # Three labels (low, middle, high) fit under the narrowest panel unturned.
        nticks=3,
    )


def _shared_x_title(fig: go.Figure, text: str) -> None:
    """One x-axis title under a row of panels whose x axes all mean the same.

    Each panel's own title would need the panel's width: in a narrow window the panels'
    titles ran into each other. The shared one sits below the tick labels (their length,
    padding and height in the theme's type). Each panel keeps an invisible title (a
    no-break space), for which plotly makes room below the tick labels: room that the
    shared title takes, above whatever else the bottom margin holds.
    """
    fig.update_xaxes(title_text=_BLANK)
    below_ticks = _AXIS["ticklen"] + 1.3 * FONT_SIZE + _AXIS["title"]["standoff"]
    fig.add_annotation(
        text=text,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0,
        xanchor="center",
        yanchor="top",
        yshift=-below_ticks,
        showarrow=False,
        font=dict(size=FONT_SIZE + 2),
    )


# A title that takes a title's room and shows nothing.
_BLANK = "\u00a0"


def _legend_below() -> dict[str, Any]:
    """A legend in rows at the foot of the figure, from its left edge.

    Beside the plot a legend takes width that two panels and their axes need, and a
    tall one scrolls; below, its rows wrap to the width and plotly makes room for them.
    """
    return dict(orientation="h", xref="container", x=_TITLE_X, xanchor="left",
                yref="container", y=0, yanchor="bottom")


# ----------------------------------------------------------------------------------------
# Trace figures (one probe batch, one epoch)


@themed
def gate_heatmaps(
    arrays: Mapping[str, Any],
    layer: int | str = 0,
    sample: int = 0,
    direction: str = "forward",
) -> go.Figure:
    """Gate activations of one recurrent layer as units × time heatmaps, side by side.

    LSTM layers show i, f, o and the candidate g; GRU layers z, r, g. The sigmoid gates
    share one sequential colour scale over [0, 1] and the candidate has a diverging scale
    over [-1, 1]; either widens to the data's range when an activation leaves it (for
    example `activation="relu"`). Each scale's colour bar is under the panels that use
    it. A SimpleRNN layer has no gates: the figure says so.

    Args:
        arrays: trace arrays keyed as in `trace.npz` (`"layer0/i"` ... float
            `(batch, steps, units)`).
        layer: recurrent layer index, or its name such as `"layer1"`. Default: `0`.
        sample: which sequence of the probe batch to show. Default: `0`.
        direction: `"forward"`, or `"backward"` for the backward half of a
            Bidirectional layer. Default: `"forward"`.

    Returns:
        A figure with one heatmap per gate (traces in Keras's order i, f, g, o), each
        with `z` of shape `(units, steps)`.

    Example:

    >>> gates = {k: np.full((2, 30, 8), 0.5, "float32") for k in ("i", "f", "g", "o")}
    >>> arrays = {f"layer0/{k}": v for k, v in gates.items()}
    >>> fig = gate_heatmaps(arrays)
    >>> [trace.name for trace in fig.data], fig.data[0].z.shape
    (['i', 'f', 'g', 'o'], (8, 30))
    """
    prefix = _prefix(layer, direction)
    where = _direction_label(prefix)
    title = f"Gate activations, {where}"
    if not _trace_prefixes(arrays):
        return empty_figure(title, _NO_TRACE)
    kind = _require_layer(arrays, prefix, f"layer={layer!r}, direction={direction!r}")
    if kind == "simple_rnn":
        return empty_figure(title, "A SimpleRNN layer has no gates: see its hidden state h.")
    gates = [g for g in (_LSTM_GATES if kind == "lstm" else _GRU_GATES) if prefix + g in arrays]
    if not gates:
        return empty_figure(title, f"The trace has no gate activations for {where}.")
    matrices = {g: _sample_matrix(arrays, prefix + g, sample) for g in gates}
    if all(not np.isfinite(m).any() for m in matrices.values()):
        return empty_figure(title, _ALL_NONFINITE)

    # The sigmoid gates side by side, the candidate last: each colour scale's bar can
    # then sit under the panels that use it.
    columns = {g: col for col, g in enumerate(sorted(gates, key=lambda g: g not in _SIGMOID_GATES),
                                               start=1)}
    fig = _subplots(
        rows=1,
        cols=len(gates),
        shared_yaxes=True,
        horizontal_spacing=0.025,
        subplot_titles=[GATE_NAMES[g] for g in sorted(gates, key=columns.get)],
    )
    sigmoid = [matrices[g] for g in gates if g in _SIGMOID_GATES]
    gate_lo, gate_hi = _unit_range(np.concatenate([m.ravel() for m in sigmoid] or [np.zeros(0)]))
    cand_lo, cand_hi = _symmetric_range(matrices.get("g", np.zeros(0)), at_least=1.0)
    for g in gates:
        axis = "coloraxis" if g in _SIGMOID_GATES else "coloraxis2"
        fig.add_trace(_heatmap(matrices[g], g, axis), row=1, col=columns[g])
    fig.update_yaxes(title_text="unit", autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    _shared_x_title(fig, STEP_AXIS)
    _new_figure(fig, title=f"Gate activations, {where}",
                subtitle=f"sample {sample} of the probe batch")
    domains = [_x_domain(fig, col) for col in range(1, len(gates) + 1)]
    sigmoid_columns = [columns[g] for g in gates if g in _SIGMOID_GATES] or [1]
    layout = {}
    if sigmoid:
        layout["coloraxis"] = dict(
            colorscale=SEQUENTIAL_SCALE,
            cmin=gate_lo,
            cmax=gate_hi,
            colorbar=_colorbar_below(
                "gates", (domains[min(sigmoid_columns) - 1][0], domains[max(sigmoid_columns) - 1][1])
            ),
        )
    if "g" in gates:
        # No title: the bar is under the candidate's panel, whose title names it.
        layout["coloraxis2"] = dict(
            colorscale=DIVERGING_SCALE,
            cmin=cand_lo,
            cmax=cand_hi,
            colorbar=_colorbar_below("", domains[columns["g"] - 1]),
        )
    fig.update_layout(**layout)
    return fig


def _x_domain(fig: go.Figure, col: int) -> tuple[float, float]:
    """The horizontal extent (paper fraction) of the panel in column `col` of row 1."""
    axis = fig.layout["xaxis" if col == 1 else f"xaxis{col}"]
    return tuple(axis.domain)


@themed
def state_heatmaps(
    arrays: Mapping[str, Any],
    layer: int | str = 0,
    sample: int = 0,
    direction: str = "forward",
) -> go.Figure:
    """Hidden state h (and the LSTM cell state c) as units × time heatmaps.

    Both use a diverging colour scale centred on 0. h is bounded by tanh, so its scale
    is [-1, 1] unless the data go further; c is unbounded, so its scale is ±max|c|:
    a cell that keeps counting up shows as a darkening band.

    Args:
        arrays: trace arrays keyed as in `trace.npz` (`"layer0/h"`, `"layer0/c"`, float
            `(batch, steps, units)`).
        layer: recurrent layer index, or its name such as `"layer1"`. Default: `0`.
        sample: which sequence of the probe batch to show. Default: `0`.
        direction: `"forward"` or `"backward"` (Bidirectional). Default: `"forward"`.

    Returns:
        A figure with a heatmap for h (and one for c), `z` of shape `(units, steps)`.

    Example:

    >>> arrays = {"layer0/h": np.zeros((4, 25, 16)), "layer0/c": np.ones((4, 25, 16))}
    >>> fig = state_heatmaps(arrays)
    >>> [trace.name for trace in fig.data], fig.data[1].z.shape
    (['h', 'c'], (16, 25))
    """
    prefix = _prefix(layer, direction)
    where = _direction_label(prefix)
    title = f"Hidden and cell states, {where}"
    if not _trace_prefixes(arrays):
        return empty_figure(title, _NO_TRACE)
    _require_layer(arrays, prefix, f"layer={layer!r}, direction={direction!r}")
    names = [q for q in ("h", "c") if prefix + q in arrays]
    if not names:
        return empty_figure(title, f"The trace has no hidden state for {where}.")
    matrices = {q: _sample_matrix(arrays, prefix + q, sample) for q in names}
    if all(not np.isfinite(m).any() for m in matrices.values()):
        return empty_figure(title, _ALL_NONFINITE)
    if names == ["h"]:
        title = f"Hidden state, {where}"

    fig = _subplots(
        rows=1,
        cols=len(names),
        shared_yaxes=True,
        horizontal_spacing=0.03,
        subplot_titles=["hidden state h", "cell state c"][: len(names)],
    )
    layout: dict[str, Any] = {}
    for col, q in enumerate(names, start=1):
        axis = "coloraxis" if col == 1 else "coloraxis2"
        # A cell state of exactly 0 everywhere still needs a non-empty colour range.
        lo, hi = _symmetric_range(matrices[q], at_least=1.0 if q == "h" else 1e-6)
        fig.add_trace(_heatmap(matrices[q], q, axis), row=1, col=col)
        layout[axis] = dict(
            colorscale=DIVERGING_SCALE,
            cmin=lo,
            cmax=hi,
            # Each state's bar under its own panel, whose title names it.
            colorbar=_colorbar_below("", _x_domain(fig, col)),
        )
    fig.update_yaxes(title_text="unit", row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    if len(names) > 1:
        _shared_x_title(fig, STEP_AXIS)
    else:
        fig.update_xaxes(title_text=STEP_AXIS)
    _new_figure(fig, title=title, subtitle=f"sample {sample} of the probe batch")
    fig.update_layout(**layout)
    return fig


@themed
def unit_lines(
    arrays: Mapping[str, Any],
    layer: int | str = 0,
    sample: int = 0,
    units: Sequence[int] | None = None,
    quantity: str = "h",
    direction: str = "forward",
) -> go.Figure:
    """Chosen units of one quantity (h, c or a gate) as lines over time.

    Args:
        arrays: trace arrays keyed as in `trace.npz`.
        layer: recurrent layer index, or its name such as `"layer1"`. Default: `0`.
        sample: which sequence of the probe batch to show. Default: `0`.
        units: unit indices to draw. Default: `None`, the (up to) 6 units that move
            most over time (largest standard deviation), in index order.
        quantity: `"h"`, `"c"`, or a gate: `"i"`, `"f"`, `"g"`, `"o"` (LSTM),
            `"z"`, `"r"`, `"g"` (GRU). Default: `"h"`.
        direction: `"forward"` or `"backward"` (Bidirectional). Default: `"forward"`.

    Returns:
        A figure with one line per unit, named `"unit N"`.

    Example:

    >>> arrays = {"layer0/h": np.zeros((4, 25, 16))}
    >>> fig = unit_lines(arrays, units=[0, 5])
    >>> [trace.name for trace in fig.data], len(fig.data[0].y)
    (['unit 0', 'unit 5'], 25)
    """
    if quantity not in QUANTITY_LABELS:
        raise ValueError(
            f"quantity={quantity!r}: expected one of {', '.join(map(repr, QUANTITY_LABELS))}"
        )
    prefix = _prefix(layer, direction)
    where = _direction_label(prefix)
    label = QUANTITY_LABELS[quantity]
    # Short enough for a half-width column in presenter mode; the subtitle counts the units.
    title = f"{label[0].upper()}{label[1:]}, {where}"
    if not _trace_prefixes(arrays):
        return empty_figure(title, _NO_TRACE)
    _require_layer(arrays, prefix, f"layer={layer!r}, direction={direction!r}")
    if prefix + quantity not in arrays:
        present = sorted(k.removeprefix(prefix) for k in arrays if _is_state_key(k, prefix))
        raise ValueError(
            f"quantity={quantity!r}: {where} has no {quantity!r} in the trace; "
            f"present: {', '.join(map(repr, present))}"
        )
    matrix = _sample_matrix(arrays, prefix + quantity, sample)
    n_units = matrix.shape[1]
    if units is None:
        # A unit that is NaN at every step ranks last, not first.
        filled = np.where(np.isfinite(matrix), matrix, 0.0)
        count = np.isfinite(matrix).sum(axis=0)
        spread = np.where(count > 0, filled.std(axis=0), -1.0)
        # Stable sort: equal spreads keep index order, so the choice is reproducible.
        chosen = sorted(np.argsort(-np.asarray(spread), kind="stable")[:_DEFAULT_UNITS].tolist())
    else:
        chosen = [int(u) for u in units]
        bad = [u for u in chosen if not 0 <= u < n_units]
        if bad:
            raise ValueError(f"units={list(units)!r}: {bad} out of range 0..{n_units - 1}")
    if not np.isfinite(matrix[:, chosen]).any():
        return empty_figure(title, _ALL_NONFINITE if matrix.size else "The trace is empty.")

    fig = _new_figure(
        title=title, subtitle=f"sample {sample} of the probe batch; {len(chosen)} units"
    )
    steps = np.arange(matrix.shape[0])
    for u in chosen:
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=matrix[:, u],
                mode="lines",
                name=f"unit {u}",
                hovertemplate=f"unit {u}<br>step %{{x}}<br>{quantity} = %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=STEP_AXIS)
    fig.update_yaxes(title_text=label)
    fig.update_layout(legend=dict(_legend_below(), title=dict(text="unit")),
                      hovermode="closest")
    return fig


# Six lines stay tellable apart on a projector and keep Okabe-Ito's pale yellow unused.
_DEFAULT_UNITS = 6


def _is_state_key(key: str, prefix: str) -> bool:
    rest = key.removeprefix(prefix)
    return key.startswith(prefix) and rest in QUANTITY_LABELS


# ----------------------------------------------------------------------------------------
# History figures (one point or line per epoch)


def _pick_epochs(
    numbers: list[int], epochs: Sequence[int] | None, max_default: int = 10
) -> list[int]:
    if epochs is None:
        if len(numbers) <= max_default:
            return numbers
        picks = np.unique(np.linspace(0, len(numbers) - 1, max_default).round().astype(int))
        return [numbers[i] for i in picks]
    chosen = [int(e) for e in epochs]
    missing = [e for e in chosen if e not in numbers]
    if missing:
        span = f"{numbers[0]}..{numbers[-1]}" if numbers else "none recorded"
        raise ValueError(f"epochs={list(epochs)!r}: no epoch {missing} in the history ({span})")
    return chosen


def _gradient_panels(rows, layer: str) -> list[str]:
    present = [q for q in ("grad_h", "grad_c") if any(_gradient_series(r, q, layer) for r in rows)]
    return present or ["grad_h"]


@themed
def gradient_flow(
    history: Mapping[str, Any] | None,
    layer: str = "layer0",
    epochs: Sequence[int] | None = None,
) -> go.Figure:
    """Per-step gradient norms against time step, several epochs overlaid, log y axis.

    Reading it: the loss is computed at the last step, so a vanishing gradient is a line
    that falls steeply towards step 0; a healthy LSTM keeps it flatter. Early epochs are
    dark, late ones bright (a sequential colour ramp, keyed by a colour bar). With
    `grad_c` in the history (LSTM) a second panel shows ‖∂L/∂c_t‖.

    Args:
        history: the training history (`{"epochs": [row, ...], ...}`); each row's
            `probe.grad_h[layer]` is a list of floats, one per step.
        layer: the layer's key in the probe, e.g. `"layer1"` or `"layer0/backward"`.
            Default: `"layer0"`.
        epochs: epoch numbers (1-based, as in the rows) to draw. Default: `None`, every
            epoch, or 10 evenly spread ones (first and last included) when there are more.

    Returns:
        A figure with one line per epoch per panel, named `"epoch N"`.

    Example:

    >>> steps = 20
    >>> rows = [{"epoch": e, "loss": 1.0, "probe": {"grad_h": {"layer0": [
    ...     10.0 ** -(steps - 1 - t) / 10 for t in range(steps)]}}} for e in (1, 2, 3)]
    >>> fig = gradient_flow({"epochs": rows})
    >>> len(fig.data), fig.layout.yaxis.type, fig.data[0].name
    (3, 'log', 'epoch 1')
    """
    rows = _rows(history)
    title = f"Gradient flow through time, {_layer_label(layer)}"
    if not rows:
        return empty_figure(title, _NO_EPOCHS)
    numbers = [_epoch_number(r, i) for i, r in enumerate(rows)]
    by_number = dict(zip(numbers, rows, strict=True))
    chosen = _pick_epochs(numbers, epochs)
    panels = _gradient_panels(rows, layer)

    fig = _subplots(
        rows=1,
        cols=len(panels),
        horizontal_spacing=0.07,
        # The panels' titles name the quantity, so that the y axes' titles stay as short
        # as the plots are tall.
        subplot_titles=[_GRADIENT_SYMBOL[q] for q in panels],
    )
    first, last = min(chosen), max(chosen)
    diverged: list[int] = []
    drawn: list[int] = []
    steps = 0
    for col, quantity in enumerate(panels, start=1):
        plotted = []
        for number in chosen:
            values = _gradient_series(by_number[number], quantity, layer)
            if values is None:
                continue
            y = _positive_or_nan(values)
            if not np.isfinite(y).any():
                if col == 1:
                    diverged.append(number)
                continue
            plotted.append(y)
            steps = max(steps, len(y))
            colour, share = _epoch_colour(number, first, last)
            fig.add_trace(
                go.Scatter(
                    x=np.arange(len(y)),
                    y=y,
                    mode="lines",
                    name=f"epoch {number}",
                    legendgroup=f"epoch {number}",
                    showlegend=False,
                    line=dict(color=colour),
                    meta={EPOCH_SHARE: share},
                    hovertemplate=(
                        f"epoch {number}<br>step %{{x}}<br>"
                        f"{_GRADIENT_SYMBOL[quantity]} = %{{y:.3e}}<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
            if number not in drawn:
                drawn.append(number)
        fig.update_yaxes(
            title_text=_GRADIENT_AXIS,
            # The second panel's axis on its right: on its left, between the panels,
            # its title and tick labels ran into the first panel.
            side="right" if col == 2 else "left",
            **_log_axis(np.concatenate(plotted) if plotted else np.zeros(0)),
            row=1,
            col=col,
        )
    if not fig.data:
        reason = (
            _ALL_NONFINITE
            if diverged
            else f"No per-step gradients for {layer!r} in the history yet "
            "(the probe runs at the end of each epoch)."
        )
        return empty_figure(title, reason)
    if len(panels) > 1:
        _shared_x_title(fig, STEP_AXIS)
    else:
        fig.update_xaxes(title_text=STEP_AXIS)
    fig.update_xaxes(range=[0, max(steps - 1, 1)])
    notes = [_status_note(history)]
    if diverged:
        epochs_text = ", ".join(map(str, diverged))
        notes.append(f"no finite {_GRADIENT_SYMBOL[panels[0]]} in epoch(s) {epochs_text}")
    _new_figure(fig, title=title, subtitle="; ".join(n for n in notes if n))
    fig.update_layout(hovermode="closest")
    if len(drawn) == 1:
        fig.data[0].showlegend = True
        fig.update_layout(legend=_legend_below())
    else:
        _epoch_colour_bar(fig, min(drawn), max(drawn))
    return fig


# The ramp of the epochs' colours, the stretch of Viridis with at least WCAG's 3:1
# contrast for graphics against the background: short of its green and yellow end on
# white, past its dark purple start on Streamlit's dark background.
_EPOCH_RAMPS = {False: (0.0, 0.58), True: (0.36, 1.0)}


def _epoch_scale(dark: bool = False) -> list[list[Any]]:
    """The epoch ramp as a Plotly colour scale, for the colour bar."""
    start, end = _EPOCH_RAMPS[dark]
    points = np.linspace(start, end, 18)
    return [[(point - start) / (end - start), colour]
            for point, colour in zip(points, sample_colorscale(SEQUENTIAL_SCALE, list(points)),
                                     strict=True)]


_EPOCH_SCALE = _epoch_scale()


def _ramp_colour(share: float, dark: bool = False) -> str:
    start, end = _EPOCH_RAMPS[dark]
    return sample_colorscale(SEQUENTIAL_SCALE, [start + share * (end - start)])[0]


def _epoch_colour(number: int, first: int, last: int) -> tuple[str, float]:
    """The colour of epoch `number` on the ramp from the first epoch to the last, and
    its place on the ramp (0 to 1), which `style` reads to recolour it for the dark look.

    Each epoch owns a band of the ramp, as wide as one epoch in `_epoch_colour_bar`'s
    bar, and takes the colour at the band's middle.
    """
    share = (number - first + 0.5) / (last - first + 1)
    return _ramp_colour(share), share


def _epoch_colour_bar(fig: go.Figure, first: int, last: int) -> None:
    """A colour bar that keys the epochs' colours, at the right of the figure.

    A legend entry per epoch needs a line of height each: ten of them made the legend
    of a short chart scroll. The bar is as tall as the plot for any number of epochs.
    Plotly draws a colour bar only for a trace with colour-mapped markers, so the
    last line gets invisible ones that carry its epoch number.
    """
    key = fig.data[-1]
    number = int(key.name.split()[-1])
    key.mode = "lines+markers"
    key.marker = dict(color=[number] * len(key.y), coloraxis="coloraxis", opacity=0, size=1)
    fig.update_layout(
        coloraxis=dict(
            colorscale=_EPOCH_SCALE,
            # A band per epoch, so that the first and last labels sit half a band in
            # from the bar's ends, clear of the title above it.
            cmin=first - 0.5,
            cmax=last + 0.5,
            colorbar=dict(
                _COLORBAR,
                title=dict(text="epoch", font=dict(size=FONT_SIZE), side="top"),
                xref="container",
                x=1,
                xanchor="right",
                len=1,
                **({"dtick": 1} if last - first <= 6 else {}),
            ),
        )
    )


@themed
def gradient_flow_animated(
    history: Mapping[str, Any] | None,
    layer: str = "layer0",
    quantity: str = "grad_h",
) -> go.Figure:
    """Per-step gradient norm as an animation over epochs, with a slider and Play button.

    The y range is fixed across frames (log scale over every finite value) so the line's
    fall is comparable from epoch to epoch.

    Args:
        history: the training history, as for `gradient_flow`.
        layer: the layer's key in the probe. Default: `"layer0"`.
        quantity: `"grad_h"` or `"grad_c"`. Default: `"grad_h"`.

    Returns:
        A figure whose first trace shows the first epoch, with one frame per epoch named
        by its epoch number.

    Example:

    >>> rows = [{"epoch": e, "probe": {"grad_h": {"layer0": [1e-3, 1e-2, 1e-1]}}}
    ...         for e in (1, 2)]
    >>> fig = gradient_flow_animated({"epochs": rows})
    >>> [frame.name for frame in fig.frames]
    ['1', '2']
    """
    _check_gradient_quantity(quantity)
    rows = _rows(history)
    title = f"Gradient flow over training, {_layer_label(layer)}"
    if not rows:
        return empty_figure(title, _NO_EPOCHS)
    series = []
    for i, row in enumerate(rows):
        values = _gradient_series(row, quantity, layer)
        if values is not None:
            series.append((_epoch_number(row, i), _positive_or_nan(values)))
    finite = np.concatenate([y[np.isfinite(y)] for _, y in series]) if series else np.zeros(0)
    if not finite.size:
        return empty_figure(title, _ALL_NONFINITE if series else _NO_EPOCHS)
    # Half a decade of headroom each side keeps the line off the frame edges.
    y_range = [math.log10(finite.min()) - 0.5, math.log10(finite.max()) + 0.5]
    symbol = _GRADIENT_SYMBOL[quantity]

    def scatter(number: int, y: np.ndarray) -> go.Scatter:
        return go.Scatter(
            x=np.arange(len(y)),
            y=y,
            mode="lines+markers",
            name=f"epoch {number}",
            line=dict(color=OKABE_ITO[0]),
            hovertemplate=f"step %{{x}}<br>{symbol} = %{{y:.3e}}<extra>epoch {number}</extra>",
        )

    fig = _new_figure(title=title, subtitle=_status_note(history))
    fig.add_trace(scatter(*series[0]))
    fig.frames = [go.Frame(data=[scatter(n, y)], name=str(n)) for n, y in series]
    frame_args = dict(frame=dict(duration=400, redraw=False), mode="immediate")
    fig.update_layout(
        xaxis=dict(title=dict(text=STEP_AXIS)),
        yaxis=dict(title=dict(text=GRADIENT_LABELS[quantity]), **_log_axis(finite), range=y_range),
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0.0,
                y=-0.18,
                xanchor="left",
                yanchor="top",
                buttons=[
                    dict(
                        label="Play",
                        method="animate",
                        args=[None, dict(frame_args, fromcurrent=True)],
                    ),
                    dict(
                        label="Pause",
                        method="animate",
                        args=[[None], dict(frame_args, frame=dict(duration=0))],
                    ),
                ],
            )
        ],
        sliders=[
            dict(
                x=0.16,
                len=0.84,
                y=-0.12,
                currentvalue=dict(prefix="epoch "),
                steps=[
                    dict(label=str(n), method="animate", args=[[str(n)], frame_args])
                    for n, _ in series
                ],
            )
        ],
        margin=dict(b=170),
    )
    return fig


def _check_gradient_quantity(quantity: str) -> None:
    if quantity not in GRADIENT_LABELS:
        raise ValueError(f"quantity={quantity!r}: expected 'grad_h' or 'grad_c'")


@themed
def gradient_heatmap(
    history: Mapping[str, Any] | None,
    layer: str = "layer0",
    quantity: str = "grad_h",
) -> go.Figure:
    """Epochs × time steps heatmap of log10 of the per-step gradient norm.

    The whole training run in one picture: a vanishing gradient is a dark wedge at the
    early steps; if training fixes it, the wedge shrinks epoch after epoch.

    Args:
        history: the training history, as for `gradient_flow`.
        layer: the layer's key in the probe, e.g. `"layer0/backward"`. Default: `"layer0"`.
        quantity: `"grad_h"`, or `"grad_c"` for the LSTM cell state. Default: `"grad_h"`.

    Returns:
        A figure with one heatmap, `z` of shape `(epochs, steps)` holding log10 of the
        norm (NaN where it is zero, missing or not finite).

    Example:

    >>> rows = [{"epoch": e, "probe": {"grad_h": {"layer0": [1e-4, 1e-2, 1.0]}}}
    ...         for e in (1, 2)]
    >>> fig = gradient_heatmap({"epochs": rows})
    >>> fig.data[0].z.shape, fig.data[0].z[0].tolist()
    ((2, 3), [-4.0, -2.0, 0.0])
    """
    _check_gradient_quantity(quantity)
    rows = _rows(history)
    symbol = _GRADIENT_SYMBOL[quantity]
    title = f"{symbol} over training, {_layer_label(layer)}"
    if not rows:
        return empty_figure(title, _NO_EPOCHS)
    numbers = [_epoch_number(r, i) for i, r in enumerate(rows)]
    series = [_gradient_series(r, quantity, layer) for r in rows]
    steps = max((len(s) for s in series if s is not None), default=0)
    if steps == 0:
        return empty_figure(title, f"No {symbol} for {layer!r} in the history yet.")
    norms = np.full((len(rows), steps), np.nan)
    for row_index, values in enumerate(series):
        if values is not None:
            norms[row_index, : len(values)] = _positive_or_nan(values)
    if not np.isfinite(norms).any():
        return empty_figure(title, _ALL_NONFINITE)
    with np.errstate(all="ignore"):
        log_norms = np.log10(norms)

    fig = _new_figure(title=title, subtitle=_status_note(history))
    fig.add_trace(
        go.Heatmap(
            z=log_norms,
            x=np.arange(steps),
            y=np.asarray(numbers),
            customdata=norms,
            colorscale=SEQUENTIAL_SCALE,
            colorbar=dict(
                _colorbar(f"log10 {symbol}", 1.02),
                title=dict(text=f"log10 {symbol}", side="right", font=dict(size=FONT_SIZE)),
            ),
            name=quantity,
            hovertemplate=(
                f"epoch %{{y}}<br>step %{{x}}<br>{symbol} = %{{customdata:.3e}}"
                "<br>log10 = %{z:.2f}<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title_text=STEP_AXIS)
    fig.update_yaxes(title_text="epoch", **_epoch_ticks(len(rows)))
    fig.update_layout(margin=dict(r=150))
    return fig


def _metric_name(rows: list[Mapping[str, Any]]) -> str | None:
    skip = {"epoch", "loss", "val_loss", "seconds", "probe", "lr", "learning_rate"}
    keys: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key in skip or key.startswith("val_") or key in keys:
                continue
            if value is None or isinstance(value, (int, float, np.number)):
                keys.append(key)
    for preferred in ("accuracy", "mae"):
        if preferred in keys:
            return preferred
    return keys[0] if keys else None


_METRIC_LABELS = {
    "mae": "mean absolute error",
    "accuracy": "accuracy (fraction correct)",
    "mse": "mean squared error",
}


@themed
def loss_curves(history: Mapping[str, Any] | None) -> go.Figure:
    """Training and validation loss, and the task's metric (mae or accuracy), per epoch.

    Loss is on a log axis when every finite value is positive, so the late, small
    improvements stay visible. Validation is dashed. A diverged or stopped run says so
    in the subtitle; NaN/inf epochs are gaps.

    Args:
        history: the training history (`{"epochs": [row, ...], "status": ..., ...}`),
            each row with `"epoch"`, `"loss"`, `"val_loss"` and the metric keys.

    Returns:
        A figure with a loss panel and, if the rows have a metric, a metric panel.

    Example:

    >>> rows = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "mae": 0.5 / e,
    ...          "val_mae": None} for e in (1, 2, 3)]
    >>> fig = loss_curves({"epochs": rows, "status": "finished"})
    >>> [trace.name for trace in fig.data]  # no val_mae recorded: no line for it
    ['training loss', 'validation loss', 'training mae']
    """
    rows = _rows(history)
    title = "Training and validation loss"
    if not rows:
        return empty_figure(title, _NO_EPOCHS)
    epochs = np.asarray([_epoch_number(r, i) for i, r in enumerate(rows)])
    metric = _metric_name(rows)
    panels = ["loss"] + ([metric] if metric else [])
    labels = ["loss"] + ([_METRIC_LABELS.get(metric, metric)] if metric else [])
    fig = _subplots(
        rows=1, cols=len(panels), horizontal_spacing=0.05, subplot_titles=labels if metric else None
    )
    any_finite = False
    for col, key in enumerate(panels, start=1):
        values = {}
        for split, prefix in (("training", ""), ("validation", "val_")):
            y = np.asarray([_as_float(r.get(prefix + key)) for r in rows])
            if np.isfinite(y).any():
                values[split] = y
        for split, y in values.items():
            any_finite = True
            dashed = split == "validation"
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=y,
                    mode="lines+markers",
                    name=f"{split} {key}",
                    line=dict(color=OKABE_ITO[1 if dashed else 0], dash="dash" if dashed else None),
                    hovertemplate=f"epoch %{{x}}<br>{split} {key} = %{{y:.4g}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        level = _baseline_loss(history) if key == "loss" and values else None
        if level is not None:
            # The score to beat, in view: a model under this line learned something.
            values["baseline"] = np.full(len(epochs), level)
            fig.add_trace(
                go.Scatter(
                    x=[epochs[0], epochs[-1]] if len(epochs) > 1 else [epochs[0] - 0.5,
                                                                        epochs[0] + 0.5],
                    y=[level, level],
                    mode="lines",
                    # A short legend entry: a long one wrapped the legend onto more
                    # rows, and the taller legend squeezed the plot under its titles.
                    name="trivial baseline",
                    line=dict(color="#555555", dash="dot", width=2),
                    hovertemplate=(f"{_hover_text(history['baseline'].get('description'))}"
                                   "<br>loss = %{y:.4g}<extra></extra>"),
                ),
                row=1,
                col=col,
            )
        finite = np.concatenate([y[np.isfinite(y)] for y in values.values()] or [np.zeros(0)])
        if key == "loss" and finite.size and bool(np.all(finite > 0)):
            fig.update_yaxes(title_text="loss (log scale)", **_log_axis(finite), row=1, col=col)
        else:
            # The panel's title spells the metric out; its axis, as tall as the plot,
            # has room for the short name only.
            fig.update_yaxes(title_text=key, row=1, col=col)
        # The metric's axis on the right of its panel: on its left, between the panels,
        # its title and tick labels ran into the loss panel.
        fig.update_yaxes(side="right" if col == 2 else "left", row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    if not any_finite:
        return empty_figure(title, _ALL_NONFINITE)
    fig.update_xaxes(**_epoch_ticks(len(rows)))
    _new_figure(fig, title=title, subtitle=_status_note(history))
    fig.update_layout(hovermode="x unified", legend=_legend_below())
    return fig


def _hover_text(text: Any) -> str:
    """Text for a hover template: HTML and template fields escaped."""
    import html

    return html.escape(str(text or "the trivial answer")).replace("%", "%%").replace(
        "{", "&#123;").replace("}", "&#125;")


def _baseline_loss(history: Mapping[str, Any] | None) -> float | None:
    """The trivial baseline's loss stored in a history (`tasks.trivial_baseline`), if any."""
    baseline = (history or {}).get("baseline")
    if not isinstance(baseline, Mapping):
        return None
    level = baseline.get("loss")
    if level is None and str(baseline.get("key", "")).endswith("loss"):
        level = baseline.get("value")
    level = _as_float(level)
    return level if np.isfinite(level) else None


_TENSORS = (
    ("kernel", "input kernel W"),
    ("recurrent_kernel", "recurrent kernel U"),
    ("bias", "bias b"),
)
_SLICE_ORDER = ("i", "f", "c", "o", "z", "r", "h")


def _weight_norms(row: Mapping[str, Any], layer: str) -> Mapping[str, Any]:
    norms = _probe(row).get("weight_grad_norms")
    if not isinstance(norms, Mapping):
        return {}
    layer_norms = norms.get(layer)
    return layer_norms if isinstance(layer_norms, Mapping) else {}


@themed
def weight_gradient_norms(history: Mapping[str, Any] | None, layer: str = "layer0") -> go.Figure:
    """Gradient norm of each gate's slice of W, U and b over epochs, on a log axis.

    One panel per tensor (input kernel W, recurrent kernel U, bias b), one line per gate
    slice (LSTM i, f, c, o; GRU z, r, h), each gate in the same colour in every panel.
    Layers without per-gate slices (SimpleRNN) get one line per tensor.

    Args:
        history: the training history; each row's `probe.weight_grad_norms[layer]` maps
            `"kernel/i"`, `"recurrent_kernel/f"`, `"bias/o"`, ... (or just `"kernel"`)
            to a float.
        layer: the layer's key, e.g. `"layer1"` or `"dense"`. Default: `"layer0"`.

    Returns:
        A figure with up to three log-scale panels.

    Example:

    >>> norms = {f"{t}/{g}": 0.1 for t in ("kernel", "recurrent_kernel", "bias")
    ...          for g in "ifco"}
    >>> rows = [{"epoch": 1, "probe": {"weight_grad_norms": {"layer0": norms}}}]
    >>> fig = weight_gradient_norms({"epochs": rows})
    >>> len(fig.data), fig.layout.yaxis.type
    (12, 'log')
    """
    rows = _rows(history)
    title = f"Weight gradient norms per gate, {_layer_label(layer)}"
    if not rows:
        return empty_figure(title, _NO_EPOCHS)
    epochs = np.asarray([_epoch_number(r, i) for i, r in enumerate(rows)])
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in _weight_norms(row, layer) if k not in keys)
    if not keys:
        return empty_figure(title, f"No weight gradient norms for {layer!r} in the history yet.")

    panels = []
    for tensor, label in _TENSORS:
        slices = [k for k in keys if k.startswith(tensor + "/")]
        slices.sort(
            key=lambda k: (
                _SLICE_ORDER.index(s)
                if (s := k.split("/")[1]) in _SLICE_ORDER
                else len(_SLICE_ORDER)
            )
        )
        series = slices or ([tensor] if tensor in keys else [])
        if series:
            panels.append((label, series))
    if not panels:  # e.g. a dense layer with unusual names: one panel of everything
        panels = [("weights", sorted(keys))]

    fig = _subplots(
        rows=1,
        cols=len(panels),
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=[label for label, _ in panels],
    )
    shown: set[str] = set()
    finite_values = [np.zeros(0)]
    for col, (_, series) in enumerate(panels, start=1):
        for key in series:
            y = _positive_or_nan(_weight_norms(r, layer).get(key) for r in rows)
            finite_values.append(y[np.isfinite(y)])
            part = key.split("/")[1] if "/" in key else key
            name = GATE_NAMES.get(part, part) if "/" in key else key
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=y,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=name not in shown,
                    line=dict(color=GATE_COLOURS.get(part) if "/" in key else None),
                    hovertemplate=f"epoch %{{x}}<br>‖∂L/∂{key}‖ = %{{y:.3e}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
            shown.add(name)
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    finite = np.concatenate(finite_values)
    if not finite.size:
        return empty_figure(title, _ALL_NONFINITE)
    fig.update_yaxes(**_log_axis(finite))
    # The title names the quantity, ‖∂L/∂W‖; the axis, as tall as the plot, its unit.
    fig.update_yaxes(title_text=_GRADIENT_AXIS, row=1, col=1)
    fig.update_xaxes(**_epoch_ticks(len(rows)))
    _new_figure(fig, title=title, subtitle=_status_note(history))
    fig.update_layout(legend=dict(_legend_below(), title=dict(text="gate slice")))
    return fig


@themed
def gate_saturation(summary: Mapping[str, Any] | None, epoch: int = -1) -> go.Figure:
    """Bars of the fraction of saturated gate activations, per layer and gate.

    A saturated sigmoid gate sits near 0 or 1, where its derivative is ~0: the gradient
    through it vanishes. Bars are grouped by layer, one colour per gate.

    Args:
        summary: a training history (the row's `probe.saturation` is used), or the
            saturation mapping itself: `{"layer0": {"i": 0.1, "f": 0.4, "o": 0.0}, ...}`.
        epoch: epoch number (1-based, as in the rows), or a negative index from the end.
            Ignored when `summary` is a saturation mapping. Default: `-1`, the last epoch.

    Returns:
        A bar figure with one trace per gate, y in [0, 1].

    Example:

    >>> fig = gate_saturation({"layer0": {"i": 0.1, "f": 0.5, "o": 0.0}})
    >>> [trace.name for trace in fig.data], fig.data[1].y.tolist()
    (['input gate i', 'forget gate f', 'output gate o'], [0.5])
    """
    title = "Gate saturation"
    subtitle = ""
    if summary is not None and "epochs" in summary:
        rows = _rows(summary)
        if not rows:
            return empty_figure(title, _NO_EPOCHS)
        numbers = [_epoch_number(r, i) for i, r in enumerate(rows)]
        if not isinstance(epoch, (int, np.integer)) or epoch == 0:
            raise ValueError(f"epoch={epoch!r}: expected an epoch number ≥ 1, or -1 for the last")
        if epoch < 0:
            if -epoch > len(rows):
                raise ValueError(f"epoch={epoch}: the history has only {len(rows)} epochs")
            index = len(rows) + epoch
        elif epoch in numbers:
            index = numbers.index(epoch)
        else:
            raise ValueError(
                f"epoch={epoch}: no such epoch in the history ({numbers[0]}..{numbers[-1]})"
            )
        saturation = _probe(rows[index]).get("saturation")
        subtitle = f"epoch {numbers[index]}, probe batch"
        if not isinstance(saturation, Mapping) or not saturation:
            return empty_figure(title, f"No gate saturation recorded for epoch {numbers[index]}.")
    else:
        saturation = summary or {}
    layers = [k for k, v in saturation.items() if isinstance(v, Mapping) and v]
    if not layers:
        return empty_figure(title, "No gated layers: a SimpleRNN has no gates to saturate.")
    gates: list[str] = []
    for name in layers:
        gates.extend(g for g in saturation[name] if g not in gates)
    gates.sort(key=lambda g: _SLICE_ORDER.index(g) if g in _SLICE_ORDER else len(_SLICE_ORDER))

    fig = _new_figure(title=title, subtitle=subtitle)
    any_finite = False
    for gate in gates:
        y = np.asarray([_as_float(saturation[name].get(gate)) for name in layers])
        any_finite = any_finite or bool(np.isfinite(y).any())
        fig.add_trace(
            go.Bar(
                x=[_layer_label(name) for name in layers],
                y=y,
                name=GATE_NAMES.get(gate, gate),
                marker=dict(color=GATE_COLOURS.get(gate)),
                texttemplate="%{y:.0%}",
                textposition="outside",
                hovertemplate=f"%{{x}}<br>{gate}: %{{y:.1%}} saturated<extra></extra>",
            )
        )
    if not any_finite:
        return empty_figure(title, _ALL_NONFINITE)
    fig.update_layout(barmode="group", legend=dict(title=dict(text="gate")))
    fig.update_xaxes(title_text="recurrent layer")
    # Headroom above 100 % so a full bar's label is not cut off by the plot area.
    fig.update_yaxes(
        title_text="saturated activations (share)",
        range=[0, 1.08],
        tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
        tickformat=".0%",
    )
    return fig


# ----------------------------------------------------------------------------------------
# Everything at once


def layers_in(
    arrays: Mapping[str, Any] | None = None, history: Mapping[str, Any] | None = None
) -> list[str]:
    """Names of the recurrent layers (and backward halves) found in a trace and a history.

    Args:
        arrays: trace arrays keyed as in `trace.npz`. Default: `None`.
        history: the training history; layers are read from the probes' `grad_h` keys.
            Default: `None`.

    Returns:
        Sorted names like `["layer0", "layer0/backward", "layer1"]`.

    Example:

    >>> layers_in({"layer1/h": np.zeros((1, 2, 3)), "layer0/backward/h": np.zeros((1, 2, 3))})
    ['layer0/backward', 'layer1']
    """
    found: set[tuple[int, bool]] = set()
    for prefix in _trace_prefixes(arrays or {}):
        m = _LAYER_NAME.match(prefix.rstrip("/"))
        found.add((int(m.group(1)), bool(m.group(2))))
    for row in _rows(history):
        for quantity in ("grad_h", "grad_c"):
            for name in _probe(row).get(quantity) or {}:
                if m := _LAYER_NAME.match(str(name)):
                    found.add((int(m.group(1)), bool(m.group(2))))
    return [f"layer{k}" + ("/backward" if back else "") for k, back in sorted(found)]


def all_figures(
    history: Mapping[str, Any] | None, arrays: Mapping[str, Any] | None, *,
    theme: Theme | None = None,
) -> dict[str, go.Figure]:
    """Every standard figure of a run, under stable snake_case names.

    Always `"loss_curves"` and `"gate_saturation"`; then, for each layer `k` (and
    `k_backward` for the backward half of a Bidirectional layer) with data:
    `"layer{k}_gates"` (gated cells only), `"layer{k}_states"` from the trace, and
    `"layer{k}_gradient_flow"`, `"layer{k}_gradient_heatmap"`,
    `"layer{k}_weight_gradients"` from the history.

    Args:
        history: the training history, or `None` before training.
        arrays: the trace arrays (`trace.npz`), or `None` before the first epoch.
        theme: the look of every figure (`Theme`). Default: `None`, the light look.

    Returns:
        An ordered dict of figure name to figure, ready for `export.export_figures`.

    Example:

    >>> arrays = {"layer0/h": np.zeros((2, 5, 3))}
    >>> list(all_figures(None, arrays))
    ['loss_curves', 'gate_saturation', 'layer0_states']
    """
    arrays = arrays or {}
    rows = _rows(history)
    figures = {"loss_curves": loss_curves(history), "gate_saturation": gate_saturation(history)}
    prefixes = set(_trace_prefixes(arrays))
    for name in layers_in(arrays, history):
        stem = name.replace("/", "_")
        k = _layer_index(name.split("/")[0])
        direction = "backward" if name.endswith("/backward") else "forward"
        prefix = _prefix(k, direction)
        kind = _cell_kind(arrays, prefix) if prefix in prefixes else None
        if kind is not None:  # a trace with only grad_h for a layer has nothing to draw
            if kind in ("lstm", "gru"):
                figures[f"{stem}_gates"] = gate_heatmaps(arrays, k, direction=direction)
            figures[f"{stem}_states"] = state_heatmaps(arrays, k, direction=direction)
        if any(_gradient_series(r, "grad_h", name) is not None for r in rows):
            figures[f"{stem}_gradient_flow"] = gradient_flow(history, name)
            figures[f"{stem}_gradient_heatmap"] = gradient_heatmap(history, name)
        if any(_weight_norms(r, name) for r in rows):
            figures[f"{stem}_weight_gradients"] = weight_gradient_norms(history, name)
    return {name: style(fig, theme) for name, fig in figures.items()}
