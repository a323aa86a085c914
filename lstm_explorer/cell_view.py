"""Inside the cell: one probe sequence, one time step, every gate and state with its numbers.

The trace (`trace.npz` arrays, DESIGN §3) holds what each gate and state *was* at every
step; the layer's weights say *why*. This module puts the two together for one step of
one sample: the input x_t, the previous states, each gate's pre-activation split into its
input, recurrent and bias terms (z = W·x_t + U·h_(t-1) + b), the gate values, and the
cell equations written out with those numbers.

Everything here is NumPy on plain arrays; `model_weights` only reads attributes of a
Keras model (it imports neither Keras nor Streamlit), so the page stays thin and the
tests need no browser.

Example:

>>> import numpy as np
>>> steps, units = 3, 2
>>> arrays = {"inputs": np.ones((1, steps, 1), "float32"),
...           "layer0/h": np.full((1, steps, units), 0.5, "float32")}
>>> weights = ModelWeights(layers={"layer0": CellWeights(
...     "layer0", "simple_rnn", np.ones((1, units)), np.zeros((units, units)),
...     np.zeros(units), "tanh", None, False)})
>>> view = step_view(arrays, weights, "layer0", sample=0, step=1)
>>> view.terms["h"]["input"].tolist(), view.values["h"].tolist()
([1.0, 1.0], [0.5, 0.5])
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lstm_explorer.figures import GATE_COLOURS, QUANTITY_LABELS, THEME, themed

#: What is shown per cell kind, in the order the equations compute it.
QUANTITIES: dict[str, tuple[str, ...]] = {
    "lstm": ("i", "f", "g", "o", "c", "h"),
    "gru": ("z", "r", "g", "h"),
    "simple_rnn": ("h",),
}

#: The pre-activations (z = W·x + U·h + b) shown per cell kind.
PRE_ACTIVATIONS: dict[str, tuple[str, ...]] = {
    "lstm": ("i", "f", "g", "o"),
    "gru": ("z", "r", "g"),
    "simple_rnn": ("h",),
}

#: Each cell kind as Keras names its layer, for headings.
CELL_NAMES: dict[str, str] = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}

# Column block of each gate in kernel / recurrent_kernel / bias (Keras order).
_BLOCKS = {
    "lstm": {"i": 0, "f": 1, "g": 2, "o": 3},
    "gru": {"z": 0, "r": 1, "g": 2},
    "simple_rnn": {"h": 0},
}
_CELL_KINDS = {"LSTMCell": "lstm", "GRUCell": "gru", "SimpleRNNCell": "simple_rnn"}
_KEY = re.compile(r"^layer(\d+)(/backward)?$")


@dataclass(frozen=True)
class CellWeights:
    """The weights and settings of one direction of one recurrent layer, as NumPy.

    Args:
        key: `"layer{k}"` or `"layer{k}/backward"`, as in the trace.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        kernel: W, shape `(input_dim, blocks·units)`.
        recurrent_kernel: U, shape `(units, blocks·units)`.
        bias: b, shape `(blocks·units,)` (GRU with `reset_after`: `(2, 3·units)`), or
            `None` without bias.
        activation: name of the activation (candidate and output), e.g. `"tanh"`.
        recurrent_activation: name of the gate activation, e.g. `"sigmoid"`; `None` for
            SimpleRNN.
        go_backwards: whether this direction reads its input from the last step.
        reset_after: GRU only: whether the reset gate is applied after the recurrent
            matmul (Keras's default). Default: `True`.
        stateful: whether the layer carries its state between batches (then the state
            before step 0 is not recorded). Default: `False`.
    """

    key: str
    cell: str
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray | None
    activation: str
    recurrent_activation: str | None
    go_backwards: bool
    reset_after: bool = True
    stateful: bool = False

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])


@dataclass(frozen=True)
class ModelWeights:
    """What `step_view` needs from a model: per-direction weights, merges, embedding.

    Args:
        layers: `CellWeights` by trace key (`"layer0"`, `"layer0/backward"`, ...).
        merge_modes: for each Bidirectional layer index, its `merge_mode`.
            Default: `{}`.
        embedding: the Embedding matrix `(vocab, dim)` in front of layer 0, if any.
            Default: `None`.
    """

    layers: dict[str, CellWeights]
    merge_modes: dict[int, str] = field(default_factory=dict)
    embedding: np.ndarray | None = None


@dataclass
class StepView:
    """Everything the Inside-the-Cell page shows for one step of one sample.

    Args:
        key: the layer direction, e.g. `"layer0"`.
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        sample: the probe-batch sample.
        step: the step in processing order.
        steps: the number of steps.
        input_position: which input position this step reads (differs from `step`
            when the direction reads backwards).
        x: the layer's input at this step, shape `(input_dim,)`.
        token: the token id at this step, for a layer 0 behind an Embedding.
        h_prev, c_prev: the states before this step, `(units,)`; `None` when they were
            not recorded (step 0 of a stateful layer). `c_prev` is `None` for GRU and
            SimpleRNN.
        terms: per pre-activation (see `PRE_ACTIVATIONS`), `{"input", "recurrent",
            "bias", "total"}` arrays of shape `(units,)` (NaN where unknown).
        values: per quantity (see `QUANTITIES`), the recorded value at this step,
            `(units,)`.
        ranges: per quantity, `(low, high)` over the whole sequence, so that bars keep
            their scale while the step moves.
        activation, recurrent_activation: the activation names.
    """

    key: str
    cell: str
    sample: int
    step: int
    steps: int
    input_position: int
    x: np.ndarray
    token: int | None
    h_prev: np.ndarray | None
    c_prev: np.ndarray | None
    terms: dict[str, dict[str, np.ndarray]]
    values: dict[str, np.ndarray]
    ranges: dict[str, tuple[float, float]]
    activation: str
    recurrent_activation: str | None

    @property
    def units(self) -> int:
        return int(self.values["h"].shape[0])


# --- reading a model ------------------------------------------------------------------


def _activation_name(function: Any) -> str:
    if function is None:
        return "linear"
    return str(getattr(function, "__name__", function))


def _cell_weights(key: str, layer: Any) -> CellWeights:
    cell = layer.cell
    kind = _CELL_KINDS.get(type(cell).__name__)
    if kind is None:
        raise ValueError(f"layer {layer.name!r}: cell {type(cell).__name__} is not LSTM, "
                         "GRU or SimpleRNN")
    bias = getattr(cell, "bias", None)
    return CellWeights(
        key=key,
        cell=kind,
        kernel=np.asarray(cell.kernel, dtype=np.float64),
        recurrent_kernel=np.asarray(cell.recurrent_kernel, dtype=np.float64),
        bias=None if bias is None else np.asarray(bias, dtype=np.float64),
        activation=_activation_name(cell.activation),
        recurrent_activation=(_activation_name(cell.recurrent_activation)
                              if kind != "simple_rnn" else None),
        go_backwards=bool(layer.go_backwards),
        reset_after=bool(getattr(cell, "reset_after", True)),
        stateful=bool(getattr(layer, "stateful", False)),
    )


def model_weights(model: Any) -> ModelWeights:
    """Read the recurrent weights (and the Embedding) of a model built by `model.build`.

    Args:
        model: a Keras model whose layers form one chain (input, optional Embedding,
            recurrent layers possibly inside Bidirectional, head).

    Returns:
        A `ModelWeights` with NumPy copies of the weights, keyed as in the trace.
    """
    layers: dict[str, CellWeights] = {}
    merge_modes: dict[int, str] = {}
    embedding = None
    index = 0
    for layer in model.layers:
        if hasattr(layer, "forward_layer"):
            layers[f"layer{index}"] = _cell_weights(f"layer{index}", layer.forward_layer)
            layers[f"layer{index}/backward"] = _cell_weights(f"layer{index}/backward",
                                                             layer.backward_layer)
            merge_modes[index] = layer.merge_mode
            index += 1
        elif hasattr(layer, "cell") and hasattr(layer.cell, "recurrent_kernel"):
            layers[f"layer{index}"] = _cell_weights(f"layer{index}", layer)
            index += 1
        elif index == 0 and hasattr(layer, "embeddings"):
            embedding = np.asarray(layer.embeddings, dtype=np.float64)
    return ModelWeights(layers=layers, merge_modes=merge_modes, embedding=embedding)


# --- the numbers at one step ----------------------------------------------------------


def parse_key(key: str) -> tuple[int, str]:
    """`"layer1/backward"` -> `(1, "backward")`.

    >>> parse_key("layer0"), parse_key("layer2/backward")
    ((0, 'forward'), (2, 'backward'))
    """
    match = _KEY.match(key) if isinstance(key, str) else None
    if not match:
        raise ValueError(f"key={key!r}: expected 'layer0' or 'layer0/backward'")
    return int(match.group(1)), "backward" if match.group(2) else "forward"


def _merge(forward: np.ndarray, backward: np.ndarray, mode: str) -> np.ndarray:
    if mode == "concat":
        return np.concatenate([forward, backward], axis=-1)
    if mode == "sum":
        return forward + backward
    if mode == "ave":
        return (forward + backward) / 2
    if mode == "mul":
        return forward * backward
    raise ValueError(f"merge_mode={mode!r}: expected concat, sum, ave or mul")


def layer_input(arrays: dict[str, Any], weights: ModelWeights, key: str) -> np.ndarray:
    """The sequence a layer direction reads, `(batch, steps, input_dim)`, in its order.

    Layer 0 reads the probe inputs (through the Embedding for token ids); layer k reads
    layer k-1's output sequence as Keras passes it on: a Bidirectional layer's backward
    half flipped back to input order and merged; a `go_backwards` direction reads it
    from the last step.

    Args:
        arrays: the trace arrays.
        weights: from `model_weights`.
        key: the layer direction, e.g. `"layer1/backward"`.
    """
    index, _ = parse_key(key)
    if key not in weights.layers:
        raise ValueError(f"key={key!r}: the model has {', '.join(weights.layers)}")
    if index == 0:
        x = np.asarray(arrays["inputs"])
        if weights.embedding is not None:
            x = weights.embedding[x.astype(np.int64)]
        elif x.ndim == 2:
            x = x[..., None]
    else:
        previous = f"layer{index - 1}"
        x = np.asarray(arrays[f"{previous}/h"], dtype=np.float64)
        backward = arrays.get(f"{previous}/backward/h")
        if backward is not None:
            x = _merge(x, np.asarray(backward, dtype=np.float64)[:, ::-1],
                       weights.merge_modes.get(index - 1, "concat"))
    x = np.asarray(x, dtype=np.float64)
    if weights.layers[key].go_backwards:
        x = x[:, ::-1]
    return x


def _blocks(matrix: np.ndarray, count: int) -> list[np.ndarray]:
    return np.split(matrix, count, axis=-1)


def _range(values: np.ndarray, quantity: str, gate_activation: str | None) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    if quantity in ("i", "f", "o", "z", "r") and gate_activation in (
            "sigmoid", "hard_sigmoid", None):
        return min(0.0, low), max(1.0, high)
    bound = max(1.0, abs(low), abs(high))
    return -bound, bound


def step_view(arrays: dict[str, Any], weights: ModelWeights, key: str, sample: int,
              step: int) -> StepView:
    """Collect the numbers of one step of one probe sample for one layer direction.

    Args:
        arrays: the trace arrays (`trace.npz` layout).
        weights: from `model_weights` (the same model the trace was taken from).
        key: the layer direction, e.g. `"layer0"` or `"layer0/backward"`.
        sample: index into the probe batch.
        step: the time step in processing order.

    Raises:
        ValueError: naming the argument that is out of range.
    """
    if key not in weights.layers or f"{key}/h" not in arrays:
        raise ValueError(f"key={key!r}: not in this run; layers: {', '.join(weights.layers)}")
    layer = weights.layers[key]
    kind = layer.cell
    h_all = np.asarray(arrays[f"{key}/h"], dtype=np.float64)
    batch, steps, units = h_all.shape
    if not isinstance(sample, int | np.integer) or not 0 <= sample < batch:
        raise ValueError(f"sample={sample!r}: expected 0 to {batch - 1}")
    if not isinstance(step, int | np.integer) or not 0 <= step < steps:
        raise ValueError(f"step={step!r}: expected 0 to {steps - 1}")
    sample, step = int(sample), int(step)
    sequence = {name: np.asarray(arrays[f"{key}/{name}"], dtype=np.float64)[sample]
                for name in QUANTITIES[kind]}
    values = {name: series[step] for name, series in sequence.items()}
    ranges = {name: _range(series, name, layer.recurrent_activation)
              for name, series in sequence.items()}

    x_sequence = layer_input(arrays, weights, key)[sample]
    x = x_sequence[step]
    input_position = steps - 1 - step if layer.go_backwards else step
    token = None
    if weights.embedding is not None and parse_key(key)[0] == 0:
        token = int(np.asarray(arrays["inputs"])[sample, input_position])

    unknown = np.full(units, np.nan)
    if step > 0:
        h_prev = sequence["h"][step - 1]
        c_prev = sequence["c"][step - 1] if kind == "lstm" else None
    elif layer.stateful:
        h_prev = None
        c_prev = None
    else:
        h_prev = np.zeros(units)
        c_prev = np.zeros(units) if kind == "lstm" else None

    names = PRE_ACTIVATIONS[kind]
    count = len(names)
    x_part = _blocks(x @ layer.kernel, count)
    h_known = h_prev if h_prev is not None else unknown
    bias = layer.bias
    if bias is None:
        input_bias = [np.zeros(units)] * count
        recurrent_bias = [np.zeros(units)] * count
    elif bias.ndim == 2:  # GRU with reset_after: [input bias, recurrent bias]
        input_bias, recurrent_bias = _blocks(bias[0], count), _blocks(bias[1], count)
    else:
        input_bias, recurrent_bias = _blocks(bias, count), [np.zeros(units)] * count

    terms: dict[str, dict[str, np.ndarray]] = {}
    if kind == "gru":
        r = values["r"]
        if layer.reset_after:
            h_part = _blocks(h_known @ layer.recurrent_kernel, count)
            recurrent = [h_part[0] + recurrent_bias[0], h_part[1] + recurrent_bias[1],
                         r * (h_part[2] + recurrent_bias[2])]
        else:
            gates_part = _blocks(h_known @ layer.recurrent_kernel[:, : 2 * units], 2)
            recurrent = [gates_part[0], gates_part[1],
                         (r * h_known) @ layer.recurrent_kernel[:, 2 * units:]]
        for index, name in enumerate(names):
            terms[name] = _term(x_part[index], recurrent[index], input_bias[index])
    else:
        h_part = _blocks(h_known @ layer.recurrent_kernel, count)
        for index, name in enumerate(names):
            terms[name] = _term(x_part[index], h_part[index],
                                input_bias[index] + recurrent_bias[index])

    return StepView(key=key, cell=kind, sample=sample, step=step, steps=steps,
                    input_position=input_position, x=x, token=token, h_prev=h_prev,
                    c_prev=c_prev, terms=terms, values=values, ranges=ranges,
                    activation=layer.activation,
                    recurrent_activation=layer.recurrent_activation)


def _term(input_part, recurrent_part, bias_part) -> dict[str, np.ndarray]:
    return {"input": input_part, "recurrent": recurrent_part, "bias": bias_part,
            "total": input_part + recurrent_part + bias_part}


# --- writing it out -------------------------------------------------------------------


def number(value: float, digits: int = 3, *, paren: bool = True) -> str:
    """A number for an equation: 3 decimals, `?` if unknown, and parentheses around a
    negative number that follows an operator (`paren=True`).

    >>> number(0.12345), number(-2.0), number(-2.0, paren=False), number(float("nan"))
    ('0.123', '(-2.000)', '-2.000', '?')
    """
    value = float(value)
    if not math.isfinite(value):
        return "?"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return f"({text})" if paren and text.startswith("-") else text


def _latex_function(name: str | None) -> str:
    if name in ("sigmoid", None):
        return r"\sigma"
    if name == "tanh":
        return r"\tanh"
    return r"\operatorname{" + name.replace("_", r"\_") + "}"


#: How wide a row of the equations may be, in em of their font: the equations column of
#: Inside the Cell is about 19.5 em wide at 1280×720 (378 px, KaTeX's 1.21 em of 16 px);
#: a longer equation continues on the next row.
EQUATION_WIDTH = 18.0
#: The same in presenter mode, whose type is a quarter larger (a 20 px root): at
#: 1280×720 its equations column is 16.9 em (410 px of 24.2 px).
PRESENTER_EQUATION_WIDTH = 14.5

# Widths of KaTeX's glyphs in em, spacing around operators included (KaTeX's metrics for
# its main font: a digit is 0.5 em; `+` is 0.78 em with 0.22 em each side, `=` with 0.28).
_GLYPH_WIDTHS = {"+": 1.22, "=": 1.33, "-": 0.78, "(": 0.39, ")": 0.39, ".": 0.28,
                 ",": 0.28, "?": 0.47, " ": 0.0, "{": 0.0, "}": 0.0, "&": 0.0}
_COMMAND_WIDTHS = {r"\tanh": 1.95, r"\sigma": 0.57, r"\cdot": 0.72, r"\odot": 1.22,
                   r"\,": 0.17, r"\quad": 1.0, r"\\": 0.0}
_LATEX_TOKEN = re.compile(r"\\operatorname\{([^}]*)\}|([_^])\{([^}]*)\}|\\[A-Za-z]+|\\.|.")
_SUBSCRIPT_SCALE = 0.7


def latex_width(latex: str) -> float:
    r"""Roughly how wide KaTeX draws a formula, in em of its font.

    Good to a few percent for what `equations` writes (numbers, operators, subscripted
    letters and a few functions); used to decide where a long equation continues on
    the next row.

    >>> latex_width("0.5"), latex_width(r"h_{5} = \tanh(0.5)")
    (1.28, 6.24)
    """
    width = 0.0
    for match in _LATEX_TOKEN.finditer(latex):
        name, script, inside = match.groups()
        token = match.group(0)
        if name is not None:  # upright letters
            width += 0.45 * len(name) + 0.17
        elif script is not None:
            width += _SUBSCRIPT_SCALE * latex_width(inside)
        elif token.startswith("\\"):
            width += _COMMAND_WIDTHS.get(token, 0.5 * (len(token) - 1))
        elif token.isalpha():  # an italic letter
            width += 0.8 if token.isupper() else 0.55
        else:
            width += _GLYPH_WIDTHS.get(token, 0.5)
    return round(width, 3)


def _rows(lhs: str, sides: list[list[str]], width: float, apart: bool = False) -> str:
    r"""One equation as rows of an `aligned` block: `lhs &= side = side \\ &= side ...`.

    Each side (a list of terms joined by `+`) follows on the same row while the row
    stays within `width` em, else starts the next row at the `=`; a side too long for
    a row of its own is broken before one of its `+` signs. With `apart`, the first side
    (the formula in symbols) has its row to itself, above the numbers.
    """
    budget = width - latex_width(lhs)
    pieces, formula_pieces = [], 0
    for position, side in enumerate(sides):
        whole = "= " + " + ".join(side)
        if latex_width(whole) <= budget or len(side) == 1:
            pieces.append(whole)
        else:
            pieces += ["= " + side[0]] + ["+ " + term for term in side[1:]]
        if position == 0:
            formula_pieces = len(pieces)
    rows, row, used = [], [], 0.0
    for index, piece in enumerate(pieces):
        need = latex_width(piece)
        numbers_start = apart and index == formula_pieces
        if row and (used + need > budget or numbers_start):
            rows.append(row)
            row, used = [], 0.0
        if not row and piece.startswith("+"):
            used += _COMMAND_WIDTHS[r"\quad"]  # the indent of a continued sum
        row.append(piece)
        used += need
    rows.append(row)
    # A row that continues a sum starts with `{}+`, so that KaTeX spaces the `+` as the
    # operator it is, indented under the terms it adds to.
    texts = [" ".join(row) if row[0].startswith("=") else r"\quad {}" + " ".join(row)
             for row in rows]
    return lhs + " &" + r" \\ &".join(texts)


def equations(view: StepView, unit: int, width: float = EQUATION_WIDTH) -> list[str]:
    r"""The cell equations of one unit at the viewed step, with the numbers filled in.

    One item per equation, as rows of a LaTeX `aligned` block (`lhs &= ...`): each
    pre-activation z = W·x_t + U·h_(t-1) + b with its three terms and their sum, then
    what the cell makes of it, then (LSTM, GRU) the state update. The gate and state
    values are the trace's own; the pre-activations are recomputed from the weights.
    An equation wider than `width` continues on the next row at an `=` sign (at a `+`
    sign if one side alone is too wide). See `equations_latex` for the block.

    Args:
        view: from `step_view`.
        unit: which unit, 0-based.
        width: the widest row, in em of the equations' font (see `latex_width`).
            Default: `EQUATION_WIDTH`, what fits the equations column at 1280×720.

    Raises:
        ValueError: when `unit` is out of range.

    Example:

    >>> terms = {"h": _term(np.array([-0.5]), np.array([0.2]), np.array([-0.1]))}
    >>> view = StepView("layer0", "simple_rnn", sample=0, step=2, steps=5,
    ...                 input_position=2, x=np.zeros(1), token=None, h_prev=np.zeros(1),
    ...                 c_prev=None, terms=terms, values={"h": np.array([-0.3])},
    ...                 ranges={}, activation="tanh", recurrent_activation=None)
    >>> for row in equations(view, 0):
    ...     print(row)
    z_{h} &= W_{h}\,x_{2} + U_{h}\,h_{1} + b_{h} \\ &= -0.500 + 0.200 + (-0.100) \\ &= -0.400
    h_{2} &= \tanh(z_{h}) = \tanh(-0.400) = -0.300
    >>> for row in equations(view, 0, width=12):
    ...     print(row)
    z_{h} &= W_{h}\,x_{2} + U_{h}\,h_{1} + b_{h} \\ &= -0.500 + 0.200 \\ &\quad {}+ (-0.100) = -0.400
    h_{2} &= \tanh(z_{h}) \\ &= \tanh(-0.400) \\ &= -0.300
    """
    if not isinstance(unit, int | np.integer) or not 0 <= unit < view.units:
        raise ValueError(f"unit={unit!r}: expected 0 to {view.units - 1}")
    u = int(unit)
    t = view.step
    gate = _latex_function(view.recurrent_activation)
    act = _latex_function(view.activation)
    values = {name: float(value[u]) for name, value in view.values.items()}
    h_prev = float(view.h_prev[u]) if view.h_prev is not None else math.nan
    previous = rf"h_{{{t - 1}}}" if t > 0 else r"h_{-1}"
    rows = []

    def pre(name: str, recurrent_text: str) -> None:
        term = view.terms[name]
        rows.append(_rows(rf"z_{{{name}}}", [
            [rf"W_{{{name}}}\,x_{{{t}}}", recurrent_text, rf"b_{{{name}}}"],
            [number(term["input"][u], paren=False), number(term["recurrent"][u]),
             number(term["bias"][u])],
            [number(term["total"][u], paren=False)]], width, apart=True))

    def applied(name: str, function: str) -> None:
        total = view.terms[name]["total"][u]
        rows.append(_rows(rf"{name}_{{{t}}}", [
            [rf"{function}(z_{{{name}}})"], [rf"{function}({number(total, paren=False)})"],
            [number(values[name], paren=False)]], width))

    if view.cell == "lstm":
        c_prev = float(view.c_prev[u]) if view.c_prev is not None else math.nan
        for name in ("i", "f", "o"):
            pre(name, rf"U_{{{name}}}\,{previous}")
            applied(name, gate)
        pre("g", rf"U_{{g}}\,{previous}")
        applied("g", act)
        c, i, f, g, o = (values[name] for name in ("c", "i", "f", "g", "o"))
        c_name = rf"c_{{{t - 1}}}" if t > 0 else r"c_{-1}"
        rows.append(_rows(rf"c_{{{t}}}", [
            [rf"f_{{{t}}}\,{c_name}", rf"i_{{{t}}}\,g_{{{t}}}"],
            [rf"{number(f, paren=False)}\cdot{number(c_prev)}", rf"{number(i)}\cdot{number(g)}"],
            [number(c, paren=False)]], width, apart=True))
        squashed = values["h"] / o if abs(o) > 1e-12 else math.nan
        rows.append(_rows(rf"h_{{{t}}}", [
            [rf"o_{{{t}}}\,{act}(c_{{{t}}})"],
            [rf"{number(o, paren=False)}\cdot{act}({number(c, paren=False)})"],
            [rf"{number(o, paren=False)}\cdot{number(squashed)}"],
            [number(values["h"], paren=False)]], width, apart=True))
    elif view.cell == "gru":
        for name in ("z", "r"):
            pre(name, rf"U_{{{name}}}\,{previous}")
            applied(name, gate)
        pre("g", rf"r_{{{t}}}\odot(U_{{g}}\,{previous})")
        applied("g", act)
        z, g = values["z"], values["g"]
        rows.append(_rows(rf"h_{{{t}}}", [
            [rf"z_{{{t}}}\,{previous}", rf"(1 - z_{{{t}}})\,g_{{{t}}}"],
            [rf"{number(z, paren=False)}\cdot{number(h_prev)}", rf"{number(1 - z)}\cdot{number(g)}"],
            [number(values["h"], paren=False)]], width, apart=True))
    else:
        # Written like a gate: the pre-activation, then the activation of it.
        pre("h", rf"U_{{h}}\,{previous}")
        applied("h", act)
    return rows


def equations_latex(view: StepView, unit: int, width: float = EQUATION_WIDTH) -> str:
    """`equations` as one LaTeX `aligned` block, for `st.latex`.

    Args:
        view: from `step_view`.
        unit: which unit, 0-based.
        width: the widest row, in em. Default: `EQUATION_WIDTH`.
    """
    return (r"\begin{aligned}" + r" \\[4pt] ".join(equations(view, unit, width))
            + r"\end{aligned}")


@themed
def step_figure(view: StepView) -> go.Figure:
    """Bars of every quantity at the viewed step, one panel per quantity, x = unit.

    The y range of each panel covers the whole sequence, so bars keep their scale while
    the step slider moves.
    """
    names = QUANTITIES[view.cell]
    # Two rows of panels: side by side, six panels with a y axis each left every panel
    # too narrow for its title and tick labels in a narrow window.
    rows = 1 if len(names) <= 2 else 2
    columns = math.ceil(len(names) / rows)
    titles = [QUANTITY_LABELS.get(name, name).removesuffix("_t") for name in names]
    fig = make_subplots(figure=go.Figure(layout={"template": THEME}), rows=rows,
                        cols=columns, subplot_titles=titles, horizontal_spacing=0.12,
                        vertical_spacing=0.22)
    units = np.arange(view.units)
    for index, name in enumerate(names):
        row, col = index // columns + 1, index % columns + 1
        fig.add_trace(go.Bar(x=units, y=view.values[name], name=name, showlegend=False,
                             marker_color=GATE_COLOURS.get(name, GATE_COLOURS["h"]),
                             hovertemplate=f"unit %{{x}}<br>{name} = %{{y:.3f}}<extra></extra>"),
                      row=row, col=col)
        low, high = view.ranges[name]
        fig.update_yaxes(range=[low, high], row=row, col=col)
    # The x axes' title under the bottom row only: between the rows it would need the
    # room that the second row's panel titles take.
    fig.update_xaxes(title_text="unit", row=rows)
    direction = ", backward" if view.key.endswith("backward") else ""
    fig.update_layout(
        title={"text": f"Step {view.step} of {view.steps}, layer "
                       f"{parse_key(view.key)[0] + 1}{direction}, sample {view.sample}"},
        height=460 if rows > 1 else 380, bargap=0.15, margin=dict(t=90, b=60))
    return fig


def input_text(view: StepView, limit: int = 8) -> str:
    """The input at the viewed step as a short line of text.

    >>> import numpy as np
    >>> view = StepView("layer0", "simple_rnn", 0, 2, 5, 2, np.array([0.5, 1.0]), None,
    ...                 None, None, {}, {"h": np.zeros(1)}, {}, "tanh", None)
    >>> input_text(view)
    'x_2 = [0.500, 1.000] (input position 2)'
    """
    shown = ", ".join(f"{value:.3f}" for value in view.x[:limit])
    more = f", … ({len(view.x)} values)" if len(view.x) > limit else ""
    token = f"token id {view.token} → " if view.token is not None else ""
    return (f"x_{view.step} = {token}[{shown}{more}] (input position {view.input_position})")


# --- characters coloured by a unit ------------------------------------------------------

# How characters without a glyph of their own are shown in a strip.
_SHOWN_CHARACTERS = {"\n": "↵", "\t": "→", " ": "\u00a0"}


def character_strip(text: str, values: Any, *, marked: int | None = None,
                    scale: float | None = None) -> str:
    """HTML: the characters of a text, each on a background coloured by its value.

    Blue for positive values, red for negative ones, stronger the larger |value| is
    against `scale`; the classic picture of a character model's unit (Karpathy's
    "visualizing and understanding recurrent networks"). Characters are escaped;
    newlines show as ↵ and break the line, tabs as →. The same markup reads on a light
    and a dark page: the colours are translucent over the page's own background.

    Args:
        text: the characters, one per value.
        values: one number per character (NaN: no colour).
        marked: index of a character to outline (the time step being viewed).
            Default: `None`.
        scale: the |value| drawn at full strength. Default: `None`, the largest |value|
            (1 when all are 0).

    Returns:
        A `<div>` of `<span>`s, each titled with its position and value.

    Example:

    >>> html = character_strip("a<\\n", [1.0, -0.5, 0.0], marked=1)
    >>> "&lt;" in html and "rgba(33, 102, 172, 0.85)" in html and "outline" in html
    True
    """
    import html

    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(text),):
        raise ValueError(f"values of shape {values.shape}: expected one per character "
                         f"({len(text)},)")
    finite = np.abs(values[np.isfinite(values)])
    scale = scale or (float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
    spans = []
    for index, (character, value) in enumerate(zip(text, values, strict=True)):
        strength = 0.0 if not np.isfinite(value) else min(abs(value) / scale, 1.0)
        colour = (33, 102, 172) if value >= 0 else (178, 24, 43)
        style = f"background: rgba({colour[0]}, {colour[1]}, {colour[2]}, {0.85 * strength:.2f})"
        if index == marked:
            style += "; outline: 2px solid currentColor; outline-offset: -1px"
        shown = html.escape(_SHOWN_CHARACTERS.get(character, character))
        spans.append(f'<span style="{style}" title="step {index}: {value:.3f}">{shown}</span>'
                     + ("<br>" if character == "\n" else ""))
    return ('<div style="font-family: monospace; font-size: 1.05em; line-height: 1.6; '
            'white-space: pre-wrap; word-break: break-all">' + "".join(spans) + "</div>")
