"""cell_view: the numbers at one step agree with the trace and the layer's own weights."""

import numpy as np
import pytest

from lstm_explorer import cell_view
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.model import build
from lstm_explorer.tasks import make
from lstm_explorer.trace import Tracer


def _sigmoid(value):
    return 1.0 / (1.0 + np.exp(-value))


def _traced(data: dict):
    config = ExperimentConfig.from_dict(data)
    model = build(config)
    task = make(config.task, per_step_targets=config.per_step_targets)
    trace = Tracer(model)(task.probe_x, task.probe_y)
    return model, trace.to_arrays()


SMALL = {"task": {"seq_len": 6, "n_samples": 32}}


@pytest.mark.parametrize("model_data", [
    {"layers": [{"units": 3, "go_backwards": True}, {"units": 2}]},
    {"layers": [{"units": 3}, {"units": 2}], "bidirectional": True, "merge_mode": "sum"},
    {"layers": [{"units": 3}, {"units": 2}], "bidirectional": True},
])
def test_lstm_gates_follow_from_weights(model_data):
    model, arrays = _traced({**SMALL, "model": model_data})
    weights = cell_view.model_weights(model)
    for key in weights.layers:
        for step in (0, 3, 5):
            view = cell_view.step_view(arrays, weights, key, sample=1, step=step)
            for gate in ("i", "f", "o"):
                np.testing.assert_allclose(_sigmoid(view.terms[gate]["total"]),
                                           view.values[gate], atol=1e-5)
            np.testing.assert_allclose(np.tanh(view.terms["g"]["total"]), view.values["g"],
                                       atol=1e-5)
            c = view.values["f"] * view.c_prev + view.values["i"] * view.values["g"]
            np.testing.assert_allclose(c, view.values["c"], atol=1e-5)


def test_gru_and_embedding():
    model, arrays = _traced({"task": {"name": "tokens", "seq_len": 6, "n_samples": 32,
                                      "vocab_size": 20},
                             "model": {"cell": "gru", "embedding": {"output_dim": 4},
                                       "layers": [{"units": 3}]}})
    weights = cell_view.model_weights(model)
    assert weights.embedding is not None
    view = cell_view.step_view(arrays, weights, "layer0", sample=0, step=4)
    assert view.token == int(arrays["inputs"][0, 4])
    for gate in ("z", "r"):
        np.testing.assert_allclose(_sigmoid(view.terms[gate]["total"]), view.values[gate],
                                   atol=1e-5)
    np.testing.assert_allclose(np.tanh(view.terms["g"]["total"]), view.values["g"], atol=1e-5)
    lines = cell_view.equations(view, 2)
    assert len(lines) == 7 and lines[-1].startswith("h_{4} &= z_{4}")


def test_simple_rnn_relu_and_equations():
    model, arrays = _traced({**SMALL, "model": {"cell": "simple_rnn",
                                                "layers": [{"units": 2, "activation": "relu"}]}})
    weights = cell_view.model_weights(model)
    view = cell_view.step_view(arrays, weights, "layer0", sample=2, step=2)
    np.testing.assert_allclose(np.maximum(view.terms["h"]["total"], 0), view.values["h"],
                               atol=1e-5)
    pre, line = cell_view.equations(view, 1)
    assert pre.startswith("z_{h} &= W_{h}") and r"\operatorname{relu}(z_{h})" in line
    assert line.endswith(cell_view.number(view.values["h"][1]))


def test_lstm_equations_and_figure():
    model, arrays = _traced({**SMALL, "model": {"layers": [{"units": 3}]}})
    view = cell_view.step_view(arrays, cell_view.model_weights(model), "layer0", 0, 0)
    lines = cell_view.equations(view, 0)
    assert len(lines) == 10
    assert r"h_{-1}" in lines[0] and r"\sigma" in lines[1]
    block = cell_view.equations_latex(view, 0)
    assert block.startswith(r"\begin{aligned}") and block.count("&=") >= 16
    assert lines[-1].endswith(cell_view.number(view.values["h"][0]))
    fig = cell_view.step_figure(view)
    assert [trace.name for trace in fig.data] == ["i", "f", "g", "o", "c", "h"]
    assert len(fig.data[0].y) == 3
    assert fig.layout.template.layout.font.size == 16  # the figures.py theme
    assert "x_0 = [" in cell_view.input_text(view)


def rows_of(equation: str) -> tuple[str, list[str]]:
    """An equation's left-hand side and its rows, each without the alignment mark."""
    lhs, _, rest = equation.partition(" &")
    return lhs, [row.strip().removeprefix("&") for row in rest.split(r" \\ ")]


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_every_row_of_the_equations_fits_the_column_even_with_long_numbers(cell):
    model, arrays = _traced({**SMALL, "model": {"cell": cell, "layers": [{"units": 2}]}})
    view = cell_view.step_view(arrays, cell_view.model_weights(model), "layer0", 1, 3)
    # The widest numbers there are: every term negative, with two digits before the point.
    for term in view.terms.values():
        for part in term.values():
            part[:] = -12.345
    for width in (cell_view.EQUATION_WIDTH, cell_view.PRESENTER_EQUATION_WIDTH, 12.0):
        for equation in cell_view.equations(view, 0, width):
            lhs, rows = rows_of(equation)
            widths = [cell_view.latex_width(lhs) + cell_view.latex_width(row) for row in rows]
            assert max(widths) <= width, (width, rows)


def test_an_equation_that_fits_keeps_its_numbers_on_one_row():
    model, arrays = _traced({**SMALL, "model": {"layers": [{"units": 2}]}})
    view = cell_view.step_view(arrays, cell_view.model_weights(model), "layer0", 0, 2)
    for equation in cell_view.equations(view, 0, width=100):
        lhs, rows = rows_of(equation)
        # The formula above, the numbers below; a gate's activation on one row.
        assert len(rows) == (1 if lhs in ("i_{2}", "f_{2}", "g_{2}", "o_{2}") else 2), rows


def test_bad_arguments_name_the_argument():
    model, arrays = _traced({**SMALL, "model": {"layers": [{"units": 2}]}})
    weights = cell_view.model_weights(model)
    with pytest.raises(ValueError, match="step="):
        cell_view.step_view(arrays, weights, "layer0", 0, 6)
    with pytest.raises(ValueError, match="sample="):
        cell_view.step_view(arrays, weights, "layer0", 99, 0)
    with pytest.raises(ValueError, match="key="):
        cell_view.step_view(arrays, weights, "layer3", 0, 0)
    view = cell_view.step_view(arrays, weights, "layer0", 0, 1)
    with pytest.raises(ValueError, match="unit="):
        cell_view.equations(view, 2)


def test_number_formatting():
    assert cell_view.number(-0.0001) == "0.000"
    assert cell_view.number(-0.5, paren=False) == "-0.500"
    assert cell_view.number(float("inf")) == "?"


def test_stateful_step_zero_marks_the_unrecorded_state():
    model, arrays = _traced({"task": {"seq_len": 6, "n_samples": 64},
                             "model": {"layers": [{"units": 3, "stateful": True}]},
                             "training": {"batch_size": 8}})
    weights = cell_view.model_weights(model)
    view = cell_view.step_view(arrays, weights, "layer0", 0, 0)
    assert view.h_prev is None and np.isnan(view.terms["i"]["recurrent"]).all()
    assert "?" in cell_view.equations_latex(view, 0)
    later = cell_view.step_view(arrays, weights, "layer0", 0, 3)
    np.testing.assert_allclose(_sigmoid(later.terms["f"]["total"]), later.values["f"], atol=1e-5)
