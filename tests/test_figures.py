"""Figure factories: real shapes, axes, names and robustness, on synthetic traces."""

from __future__ import annotations

import doctest
import json
import math
import subprocess
import sys

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from lstm_explorer import figures

STEPS = 30
UNITS = 12
BATCH = 3


def vanishing_curve(steps: int = STEPS) -> list[float]:
    """‖∂L/∂h_t‖ falling by a decade every 10 steps back from the loss at the last step."""
    return [10.0 ** (-(steps - 1 - t) / 10) for t in range(steps)]


def make_arrays(
    cell: str = "lstm", layers: int = 1, bidirectional: bool = False, candidate_scale: float = 1.0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        "inputs": rng.normal(size=(BATCH, STEPS, 2)).astype("float32"),
        "targets": rng.normal(size=(BATCH, 1)).astype("float32"),
    }
    directions = ["", "backward/"] if bidirectional else [""]
    for k in range(layers):
        for direction in directions:
            prefix = f"layer{k}/{direction}"

            def gate(prefix: str = prefix) -> np.ndarray:
                return rng.uniform(0.0, 1.0, size=(BATCH, STEPS, UNITS)).astype("float32")

            signed = rng.uniform(-1.0, 1.0, size=(BATCH, STEPS, UNITS)).astype("float32")
            if cell == "lstm":
                for name in "ifo":
                    arrays[prefix + name] = gate()
                arrays[prefix + "g"] = signed * candidate_scale
                arrays[prefix + "c"] = np.cumsum(signed, axis=1)
                arrays[prefix + "grad_c"] = np.asarray(vanishing_curve(), "float32")
            elif cell == "gru":
                arrays[prefix + "z"] = gate()
                arrays[prefix + "r"] = gate()
                arrays[prefix + "g"] = signed
            arrays[prefix + "h"] = np.tanh(signed)
            arrays[prefix + "grad_h"] = np.asarray(vanishing_curve(), "float32")
    return arrays


def make_row(epoch: int, layers=("layer0",), metric: str = "mae") -> dict:
    weight_norms = {
        f"{tensor}/{gate}": 0.1 * (j + 1) / epoch
        for j, gate in enumerate("ifco")
        for tensor in ("kernel", "recurrent_kernel", "bias")
    }
    weight_norms.update({"kernel": 0.3, "recurrent_kernel": 0.2, "bias": 0.05})
    return {
        "epoch": epoch,
        "loss": 1.0 / epoch,
        "val_loss": 1.2 / epoch,
        metric: 0.5 / epoch,
        f"val_{metric}": 0.6 / epoch,
        "seconds": 0.5,
        "probe": {
            "loss": 1.0 / epoch,
            "grad_h": {name: vanishing_curve() for name in layers},
            "grad_c": {name: vanishing_curve() for name in layers},
            "weight_grad_norms": {
                **{name: weight_norms for name in layers},
                "dense": {"kernel": 0.1, "bias": 0.01},
            },
            "saturation": {name: {"i": 0.1, "f": 0.2 * epoch / 10, "o": 0.3} for name in layers},
        },
    }


def make_history(epochs: int = 4, layers=("layer0",), metric: str = "mae", status="finished"):
    return {
        "epochs": [make_row(e, layers, metric) for e in range(1, epochs + 1)],
        "status": status,
        "message": "",
    }


def diverged_history() -> dict:
    history = make_history(epochs=5, status="diverged")
    history["message"] = "loss became NaN at epoch 4"
    nan, inf = float("nan"), float("inf")
    for row in history["epochs"][3:]:
        row.update(loss=nan, val_loss=inf, mae=nan, val_mae=None)
        row["probe"]["grad_h"]["layer0"] = [nan] * STEPS
        row["probe"]["grad_c"]["layer0"] = [inf] * STEPS
        row["probe"]["weight_grad_norms"]["layer0"] = dict.fromkeys(
            row["probe"]["weight_grad_norms"]["layer0"], nan
        )
        row["probe"]["saturation"]["layer0"]["f"] = nan
    del history["epochs"][2]["probe"]  # a row whose probe never ran
    return history


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def is_empty_with_reason(fig: go.Figure) -> bool:
    return len(fig.data) == 0 and any(annotation_texts(fig))


# ----------------------------------------------------------------------------------------
# Trace figures


def test_gate_heatmaps_show_i_f_g_o_as_units_by_steps_heatmaps():
    fig = figures.gate_heatmaps(make_arrays())
    assert [t.name for t in fig.data] == ["i", "f", "g", "o"]
    for trace in fig.data:
        assert isinstance(trace, go.Heatmap)
        assert np.asarray(trace.z).shape == (UNITS, STEPS)


def test_gate_heatmap_values_are_the_chosen_sample_transposed():
    arrays = make_arrays()
    fig = figures.gate_heatmaps(arrays, sample=2)
    np.testing.assert_allclose(np.asarray(fig.data[1].z), arrays["layer0/f"][2].T, rtol=1e-6)


def test_sigmoid_gates_share_a_zero_to_one_scale_and_the_candidate_a_signed_one():
    fig = figures.gate_heatmaps(make_arrays())
    gates, candidate = fig.layout.coloraxis, fig.layout.coloraxis2
    assert (gates.cmin, gates.cmax) == (0.0, 1.0)
    assert (candidate.cmin, candidate.cmax) == (-1.0, 1.0)
    assert [t.coloraxis for t in fig.data] == ["coloraxis", "coloraxis", "coloraxis2", "coloraxis"]
    # A diverging scale for the signed candidate, a sequential one for the gates.
    assert candidate.colorscale[0][1] != candidate.colorscale[-1][1]
    assert gates.colorscale != candidate.colorscale


def test_the_candidate_comes_last_so_that_each_colour_bar_lies_under_its_panels():
    fig = figures.gate_heatmaps(make_arrays())
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x4", "x3"]  # i, f, g, o
    assert annotation_texts(fig)[:4] == ["input gate i", "forget gate f", "output gate o",
                                         "candidate g"]
    gates, candidate = fig.layout.coloraxis.colorbar, fig.layout.coloraxis2.colorbar
    assert gates.orientation == candidate.orientation == "h"
    assert gates.x < fig.layout.xaxis3.domain[1] < candidate.x


def test_candidate_scale_widens_to_the_data_when_it_leaves_minus_one_to_one():
    fig = figures.gate_heatmaps(make_arrays(candidate_scale=4.0))  # e.g. activation="relu"
    cmin, cmax = fig.layout.coloraxis2.cmin, fig.layout.coloraxis2.cmax
    assert cmax > 3.0 and cmin == -cmax


def test_gate_heatmap_hover_names_unit_step_and_value():
    fig = figures.gate_heatmaps(make_arrays())
    template = fig.data[0].hovertemplate
    assert "unit %{y}" in template and "step %{x}" in template and "%{z" in template


def test_gru_gate_heatmaps_show_z_r_and_g():
    fig = figures.gate_heatmaps(make_arrays(cell="gru"))
    assert [t.name for t in fig.data] == ["z", "r", "g"]


def test_simple_rnn_gate_heatmaps_say_there_are_no_gates():
    fig = figures.gate_heatmaps(make_arrays(cell="simple_rnn"))
    assert is_empty_with_reason(fig)
    assert "no gates" in annotation_texts(fig)[0]


def test_backward_direction_reads_the_backward_arrays():
    arrays = make_arrays(bidirectional=True)
    fig = figures.state_heatmaps(arrays, direction="backward")
    np.testing.assert_allclose(np.asarray(fig.data[0].z), arrays["layer0/backward/h"][0].T)
    assert "backward" in fig.layout.title.text


def test_state_heatmaps_show_h_and_c_for_lstm_and_only_h_for_gru():
    lstm = figures.state_heatmaps(make_arrays())
    gru = figures.state_heatmaps(make_arrays(cell="gru"))
    assert [t.name for t in lstm.data] == ["h", "c"]
    assert [t.name for t in gru.data] == ["h"]
    assert np.asarray(lstm.data[1].z).shape == (UNITS, STEPS)


def test_cell_state_scale_is_symmetric_around_zero_and_covers_the_data():
    arrays = make_arrays()
    fig = figures.state_heatmaps(arrays)
    biggest = float(np.abs(arrays["layer0/c"][0]).max())
    assert fig.layout.coloraxis2.cmax == pytest.approx(biggest)
    assert fig.layout.coloraxis2.cmin == pytest.approx(-biggest)


def test_unit_lines_draw_the_chosen_units_over_time():
    arrays = make_arrays()
    fig = figures.unit_lines(arrays, units=[3, 7], quantity="c")
    assert [t.name for t in fig.data] == ["unit 3", "unit 7"]
    np.testing.assert_allclose(fig.data[1].y, arrays["layer0/c"][0, :, 7])
    assert fig.layout.xaxis.title.text == "time step (processing order)"


def test_unit_lines_default_to_the_six_units_that_move_most():
    arrays = make_arrays()
    h = np.zeros((BATCH, STEPS, UNITS), "float32")
    for rank, unit in enumerate([9, 2, 5, 11, 0, 7]):
        h[0, :, unit] = np.sin(np.arange(STEPS)) * (10 - rank)
    arrays["layer0/h"] = h
    fig = figures.unit_lines(arrays)
    assert [t.name for t in fig.data] == [f"unit {u}" for u in (0, 2, 5, 7, 9, 11)]


def test_a_layer_missing_from_the_trace_is_an_error_naming_the_argument_and_the_layers():
    with pytest.raises(ValueError, match=r"layer=3.*'layer0'"):
        figures.gate_heatmaps(make_arrays(), layer=3)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda a: figures.gate_heatmaps(a, sample=BATCH), "sample=3"),
        (lambda a: figures.state_heatmaps(a, direction="sideways"), "direction='sideways'"),
        (lambda a: figures.unit_lines(a, units=[UNITS]), "units="),
        (lambda a: figures.unit_lines(a, quantity="q"), "quantity='q'"),
        (lambda a: figures.gate_heatmaps(a, layer="first"), "layer='first'"),
    ],
)
def test_bad_arguments_raise_value_errors_that_echo_them(call, argument):
    with pytest.raises(ValueError, match=f"^{argument}"):
        call(make_arrays())


@pytest.mark.parametrize("factory", [figures.gate_heatmaps, figures.state_heatmaps])
def test_an_empty_trace_gives_an_annotated_figure(factory):
    fig = factory({})
    assert is_empty_with_reason(fig)
    assert "train" in annotation_texts(fig)[0]


@pytest.mark.parametrize(
    "factory", [figures.gate_heatmaps, figures.state_heatmaps, figures.unit_lines]
)
def test_an_all_nan_trace_gives_an_annotated_figure_not_an_exception(factory):
    arrays = {k: np.full_like(v, np.nan) for k, v in make_arrays().items()}
    arrays["layer0/c"][:] = np.inf
    fig = factory(arrays)
    assert is_empty_with_reason(fig)
    assert "NaN" in annotation_texts(fig)[0]


# ----------------------------------------------------------------------------------------
# History figures


def test_gradient_flow_draws_one_trace_per_epoch_on_a_log_axis():
    fig = figures.gradient_flow(make_history(epochs=4))
    h_traces = [t for t in fig.data if t.xaxis == "x"]
    assert [t.name for t in h_traces] == ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis2.type == "log"  # the grad_c panel
    assert "log scale" in fig.layout.yaxis.title.text
    # Two panels share one x-axis title, under both.
    assert "time step (processing order)" in annotation_texts(fig)


def test_gradient_flow_keeps_the_known_vanishing_curve():
    fig = figures.gradient_flow(make_history(epochs=1))
    np.testing.assert_allclose(fig.data[0].y, vanishing_curve())
    np.testing.assert_array_equal(fig.data[0].x, np.arange(STEPS))


def test_gradient_flow_colours_epochs_along_a_ramp_keyed_by_a_colour_bar():
    fig = figures.gradient_flow(make_history(epochs=5))
    colours = [t.line.color for t in fig.data if t.xaxis == "x"]
    assert len(set(colours)) == 5
    # A colour bar keys any number of epochs in the plot's height; a legend scrolled.
    assert not any(t.showlegend for t in fig.data)
    bar = fig.layout.coloraxis
    assert (bar.cmin, bar.cmax, bar.colorbar.title.text) == (0.5, 5.5, "epoch")
    assert sum(t.marker.coloraxis == "coloraxis" for t in fig.data) == 1


def _luminance(colour: str) -> float:
    """WCAG relative luminance of "rgb(r, g, b)" or "#RRGGBB"."""
    if colour.startswith("#"):
        channels = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [float(part) for part in colour[colour.index("(") + 1:-1].split(",")[:3]]
    linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
              for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(first: str, second: str) -> float:
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_epochs_line_stands_out_from_the_background_in_both_looks():
    for dark, background in ((False, "#FFFFFF"), (True, "#0E1117")):
        fig = figures.gradient_flow(make_history(epochs=10), theme=figures.Theme(dark=dark))
        colours = [trace.line.color for trace in fig.data if trace.xaxis == "x"]
        assert len(set(colours)) == 10
        # 3:1 is WCAG's contrast for graphics; Viridis's dark purple on the dark
        # background was 1.4:1, invisible on a projector.
        assert min(_contrast(colour, background) for colour in colours) >= 3.0, dark
        scale = [colour for _, colour in fig.layout.coloraxis.colorscale]
        assert min(_contrast(colour, background) for colour in scale) >= 3.0, dark


def test_gradient_flow_of_one_epoch_names_it_in_a_legend():
    fig = figures.gradient_flow(make_history(epochs=1))
    assert [t.name for t in fig.data if t.showlegend] == ["epoch 1"]
    assert fig.layout.coloraxis.colorbar.title.text is None


def test_gradient_flow_shows_ten_spread_epochs_by_default_first_and_last_included():
    fig = figures.gradient_flow(make_history(epochs=40))
    names = [t.name for t in fig.data if t.xaxis == "x"]
    assert len(names) == 10
    assert names[0] == "epoch 1" and names[-1] == "epoch 40"


def test_gradient_flow_draws_only_the_requested_epochs():
    fig = figures.gradient_flow(make_history(epochs=6), epochs=[2, 6])
    assert [t.name for t in fig.data if t.xaxis == "x"] == ["epoch 2", "epoch 6"]
    with pytest.raises(ValueError, match=r"^epochs=\[9\]"):
        figures.gradient_flow(make_history(epochs=6), epochs=[9])


def test_animated_gradient_flow_has_one_frame_per_epoch_and_a_fixed_log_range():
    fig = figures.gradient_flow_animated(make_history(epochs=3))
    assert [f.name for f in fig.frames] == ["1", "2", "3"]
    assert fig.layout.yaxis.type == "log"
    assert len(fig.layout.sliders[0].steps) == 3


def test_gradient_heatmap_is_epochs_by_steps_of_log10_norms():
    fig = figures.gradient_heatmap(make_history(epochs=3))
    z = np.asarray(fig.data[0].z)
    assert z.shape == (3, STEPS)
    np.testing.assert_allclose(z[0], np.log10(vanishing_curve()))
    assert list(fig.data[0].y) == [1, 2, 3]


def test_gradient_heatmap_of_the_cell_state_reads_grad_c():
    fig = figures.gradient_heatmap(make_history(epochs=2), quantity="grad_c")
    assert "c_t" in fig.layout.title.text
    with pytest.raises(ValueError, match="^quantity='grad_x'"):
        figures.gradient_heatmap(make_history(), quantity="grad_x")


def test_loss_curves_draw_training_and_validation_loss_and_the_metric():
    fig = figures.loss_curves(make_history(epochs=3))
    assert [t.name for t in fig.data] == [
        "training loss",
        "validation loss",
        "training mae",
        "validation mae",
    ]
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "epoch"
    np.testing.assert_allclose(fig.data[0].y, [1.0, 0.5, 1 / 3])


def test_loss_curves_pick_accuracy_for_classification_runs():
    fig = figures.loss_curves(make_history(epochs=2, metric="accuracy"))
    assert "training accuracy" in [t.name for t in fig.data]
    assert "accuracy" in fig.layout.yaxis2.title.text


def test_weight_gradient_norms_draw_each_gate_slice_of_each_tensor_on_log_axes():
    fig = figures.weight_gradient_norms(make_history(epochs=3))
    assert len(fig.data) == 12  # (W, U, b) × (i, f, c, o)
    assert [t.name for t in fig.data[:4]] == [
        "input gate i",
        "forget gate f",
        "candidate c",
        "output gate o",
    ]
    assert fig.layout.yaxis.type == "log"
    assert sum(bool(t.showlegend) for t in fig.data) == 4
    # A gate keeps its colour from panel to panel.
    assert fig.data[0].line.color == fig.data[4].line.color == fig.data[8].line.color


def test_weight_gradient_norms_of_a_layer_without_gate_slices_show_whole_tensors():
    fig = figures.weight_gradient_norms(make_history(epochs=2), layer="dense")
    assert [t.name for t in fig.data] == ["kernel", "bias"]


def test_gate_saturation_reads_the_chosen_epoch_of_a_history():
    history = make_history(epochs=5)
    last = figures.gate_saturation(history)
    third = figures.gate_saturation(history, epoch=3)
    assert [t.name for t in last.data] == ["input gate i", "forget gate f", "output gate o"]
    assert list(last.data[1].y) == pytest.approx([0.2 * 5 / 10])
    assert list(third.data[1].y) == pytest.approx([0.2 * 3 / 10])
    assert last.layout.yaxis.tickvals[-1] == 1.0 and last.layout.yaxis.tickformat == ".0%"


def test_gate_saturation_accepts_a_bare_summary_with_one_bar_group_per_layer():
    fig = figures.gate_saturation({"layer0": {"i": 0.1, "f": 0.2}, "layer1": {"i": 0.3}})
    assert list(fig.data[0].x) == ["layer 1", "layer 2"]
    assert list(fig.data[0].y) == pytest.approx([0.1, 0.3])


def test_gate_saturation_rejects_an_epoch_that_is_not_there():
    with pytest.raises(ValueError, match="^epoch=9"):
        figures.gate_saturation(make_history(epochs=2), epoch=9)


HISTORY_FACTORIES = [
    figures.loss_curves,
    figures.gradient_flow,
    figures.gradient_flow_animated,
    figures.gradient_heatmap,
    figures.weight_gradient_norms,
    figures.gate_saturation,
]


@pytest.mark.parametrize("factory", HISTORY_FACTORIES)
def test_a_diverged_history_with_nan_rows_and_a_missing_probe_draws_without_raising(factory):
    fig = factory(diverged_history())
    assert isinstance(fig, go.Figure)
    json.loads(fig.to_json())  # and it serializes: no bare NaN/Infinity in the JSON


@pytest.mark.parametrize("factory", HISTORY_FACTORIES)
def test_an_empty_history_gives_an_annotated_figure(factory):
    for history in (None, {}, {"epochs": [], "status": "running", "message": ""}):
        assert is_empty_with_reason(factory(history))


def test_nan_epochs_are_gaps_and_the_subtitle_says_the_run_diverged():
    fig = figures.loss_curves(diverged_history())
    assert math.isnan(fig.data[0].y[3])
    assert "diverged" in fig.layout.title.subtitle.text
    flow = figures.gradient_flow(diverged_history())
    assert [t.name for t in flow.data if t.xaxis == "x"] == ["epoch 1", "epoch 2"]
    assert "4, 5" in flow.layout.title.subtitle.text


# ----------------------------------------------------------------------------------------
# All figures, the look, purity


def test_all_figures_names_every_figure_of_every_layer_and_direction():
    arrays = make_arrays(layers=2, bidirectional=True)
    history = make_history(layers=("layer0", "layer0/backward", "layer1", "layer1/backward"))
    names = list(figures.all_figures(history, arrays))
    assert names[:2] == ["loss_curves", "gate_saturation"]
    for stem in ("layer0", "layer0_backward", "layer1", "layer1_backward"):
        for kind in ("gates", "states", "gradient_flow", "gradient_heatmap", "weight_gradients"):
            assert f"{stem}_{kind}" in names
    assert all(name == name.lower() and " " not in name for name in names)


def test_all_figures_skips_gates_for_a_simple_rnn_and_works_before_training():
    names = list(figures.all_figures(None, make_arrays(cell="simple_rnn")))
    assert names == ["loss_curves", "gate_saturation", "layer0_states"]
    assert list(figures.all_figures(None, None)) == ["loss_curves", "gate_saturation"]


def test_all_figures_ignore_a_trace_layer_that_holds_only_gradients():
    arrays = {"layer0/grad_h": np.ones(STEPS)}
    assert list(figures.all_figures(None, arrays)) == ["loss_curves", "gate_saturation"]


def test_a_trace_with_some_gates_missing_draws_the_ones_it_has():
    gru = make_arrays(cell="gru")
    del gru["layer0/r"]
    assert [t.name for t in figures.gate_heatmaps(gru).data] == ["z", "g"]
    lstm = make_arrays()
    for gate in "ifgo":
        del lstm[f"layer0/{gate}"]
    assert "no gate activations" in annotation_texts(figures.gate_heatmaps(lstm))[0]


def test_short_runs_get_one_tick_per_epoch_and_ten_epochs_every_other_one():
    fig = figures.loss_curves(make_history(epochs=3))
    assert (fig.layout.xaxis.tick0, fig.layout.xaxis.dtick) == (1, 1)
    # Ten labels do not fit a narrow panel unturned; five do.
    fig = figures.loss_curves(make_history(epochs=10))
    assert (fig.layout.xaxis.tick0, fig.layout.xaxis.dtick) == (0, 2)


def test_layers_in_lists_layers_of_trace_and_history_in_model_order():
    arrays = make_arrays(layers=2)
    history = make_history(layers=("layer0", "layer0/backward"))
    assert figures.layers_in(arrays, history) == ["layer0", "layer0/backward", "layer1"]


def test_the_same_input_gives_the_same_figures():
    arrays, history = make_arrays(layers=2), make_history(epochs=3)
    first = {k: f.to_json() for k, f in figures.all_figures(history, arrays).items()}
    second = {k: f.to_json() for k, f in figures.all_figures(history, arrays).items()}
    assert first == second
    assert figures.unit_lines(arrays).to_json() == figures.unit_lines(arrays).to_json()


def test_every_figure_wears_the_registered_projector_theme():
    assert pio.templates[figures.TEMPLATE_NAME] is figures.THEME
    all_figs = figures.all_figures(make_history(), make_arrays())
    all_figs["empty"] = figures.empty_figure("t", "why")
    for name, fig in all_figs.items():
        layout = fig.layout.template.layout
        assert layout.font.size >= 16, name
        assert fig.layout.title.text, name
    assert figures.THEME.data.scatter[0].line.width >= 3


def test_axes_say_what_is_shown_and_in_which_units():
    fig = figures.gradient_flow(make_history())
    # The panels' titles name the quantities, their axes (as short as the plot is
    # tall) the unit and the scale.
    assert annotation_texts(fig)[:2] == ["‖∂L/∂h_t‖", "‖∂L/∂c_t‖"]
    assert fig.layout.yaxis.title.text == "L2 norm, log scale"
    assert fig.layout.yaxis2.title.text == "L2 norm, log scale"


def test_figures_module_imports_neither_tensorflow_nor_streamlit():
    code = (
        "import sys, lstm_explorer.figures, lstm_explorer.export\n"
        "bad = [m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples_run():
    result = doctest.testmod(figures, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0


# --- themes -------------------------------------------------------------------------------


def _font_sizes(spec, found=None):
    found = [] if found is None else found
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("font", "tickfont") and isinstance(value, dict) and "size" in value:
                found.append(value["size"])
            _font_sizes(value, found)
    elif isinstance(spec, list):
        for value in spec:
            _font_sizes(value, found)
    return found


def test_every_figure_factory_takes_a_theme_and_the_dark_one_has_no_white_box():
    from lstm_explorer import compare

    factories = [figures.loss_curves, figures.gradient_flow, figures.gradient_heatmap,
                 figures.weight_gradient_norms, figures.gate_saturation,
                 compare.compare_loss_curves]
    history = {"epochs": [{"epoch": 1, "loss": 1.0, "val_loss": 1.2,
                           "probe": {"grad_h": {"layer0": [0.1, 1.0]}}}]}
    for factory in factories:
        argument = [("a", history), ("b", history)] if factory is compare.compare_loss_curves \
            else history
        fig = factory(argument, theme=figures.Theme(dark=True))
        template = fig.layout.template.layout
        assert template.paper_bgcolor == "#0E1117", factory.__name__
        assert template.font.color == "#FAFAFA", factory.__name__


def test_presenter_mode_scales_every_explicit_font_and_thickens_lines():
    history = {"epochs": [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e}
                          for e in (1, 2, 3)]}
    light = figures.loss_curves(history)
    presenter = figures.loss_curves(history, theme=figures.Theme(presenter=True))
    light_sizes = _font_sizes(light.layout.to_plotly_json())
    presenter_sizes = _font_sizes(presenter.layout.to_plotly_json())
    assert light_sizes and len(light_sizes) == len(presenter_sizes)
    assert presenter_sizes == pytest.approx([size * figures.PRESENTER_SCALE
                                             for size in light_sizes])
    widths = [trace.line.width for trace in presenter.data if trace.line.width]
    light_widths = [trace.line.width for trace in light.data if trace.line.width]
    assert all(wide > thin for wide, thin in zip(widths, light_widths))
    template = presenter.layout.template.layout
    assert template.font.size == pytest.approx(figures.FONT_SIZE * figures.PRESENTER_SCALE)


def test_legends_lie_in_rows_under_the_plot_where_they_never_scroll():
    history = make_history(epochs=3)
    for fig in (figures.loss_curves(history), figures.weight_gradient_norms(history),
                figures.unit_lines(make_arrays())):
        assert fig.layout.legend.orientation == "h", fig.layout.title.text
        assert (fig.layout.legend.yref, fig.layout.legend.y) == ("container", 0)


def test_presenter_mode_makes_a_figure_that_sets_its_height_taller():
    fig = figures.empty_figure("t", "why").update_layout(height=400)
    presenter = figures.style(fig, figures.Theme(presenter=True))
    assert presenter.layout.height == round(400 * figures.PRESENTER_SCALE)


def test_the_light_theme_leaves_a_figure_exactly_as_built():
    history = {"epochs": [{"epoch": 1, "loss": 1.0, "val_loss": 1.2}]}
    assert figures.loss_curves(history, theme=figures.LIGHT) == figures.loss_curves(history)
    assert figures.loss_curves(history).layout.template == figures.THEME


def test_all_figures_of_a_run_share_its_theme():
    history = {"epochs": [{"epoch": 1, "loss": 1.0, "val_loss": 1.2,
                           "probe": {"grad_h": {"layer0": [0.1, 1.0]}}}]}
    theme = figures.Theme(dark=True, presenter=True)
    for name, fig in figures.all_figures(history, None, theme=theme).items():
        assert fig.layout.template.layout.paper_bgcolor == "#0E1117", name


def test_the_loss_chart_draws_the_trivial_baseline_to_beat_as_a_dotted_line():
    rows = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e} for e in (1, 2, 3)]
    baseline = {"value": 0.27, "loss": 0.27, "key": "val_loss",
                "description": "the naive forecast: repeating the last value"}
    fig = figures.loss_curves({"epochs": rows, "status": "finished", "baseline": baseline})
    (line,) = [trace for trace in fig.data if trace.name == "trivial baseline"]
    assert line.hovertemplate.startswith("the naive forecast: repeating the last value<br>")
    assert list(line.y) == [0.27, 0.27] and list(line.x) == [1, 3]
    assert line.line.dash == "dot"
    # The log axis's ticks cover the baseline too, not only the curves (0.4 to 1.2).
    assert min(fig.layout.yaxis.tickvals) < 0.4
    # No baseline stored (an older run): no line.
    plain = figures.loss_curves({"epochs": rows, "status": "finished"})
    assert not any(trace.name == "trivial baseline" for trace in plain.data)
