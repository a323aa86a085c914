"""Comparing runs: exactly what differs, one trace per run, log axes, NaN-safe, 2 to 6 runs."""

import json
import math

import plotly.io as pio
import pytest

from lstm_explorer import compare, figures
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig

STEPS = 8


def history(grad_h, grad_c=None, epochs=2, status="finished", accuracy=0.5, saturation=None):
    rows = []
    for epoch in range(1, epochs + 1):
        probe = {"grad_h": {"layer0": list(grad_h)}}
        if grad_c is not None:
            probe["grad_c"] = {"layer0": list(grad_c)}
        probe["saturation"] = {"layer0": saturation} if saturation else {}
        rows.append({"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 1.2 / epoch,
                     "accuracy": accuracy, "val_accuracy": accuracy, "seconds": 0.1,
                     "probe": probe})
    return {"epochs": rows, "status": status, "message": ""}


def vanishing(steps=STEPS):
    return [10.0 ** -(steps - 1 - t) for t in range(steps)]


def flat(steps=STEPS):
    return [1.0] * steps


def diverged():
    rows = [{"epoch": 1, "loss": 3.0, "probe": {"grad_h": {"layer0": vanishing()}}},
            {"epoch": 2, "loss": math.nan, "val_loss": math.nan}]
    return {"epochs": rows, "status": "diverged", "message": "The loss became nan"}


LSTM_SATURATION = {"i": 0.1, "f": 0.4, "o": 0.2}


def mixed_runs():
    """An LSTM, a GRU, a SimpleRNN and a diverged run, as the CLI and the app hold them."""
    lstm = ExperimentConfig.from_dict({"model": {"cell": "lstm"}})
    rnn = ExperimentConfig.from_dict({"model": {"cell": "simple_rnn"}})
    return [
        RunSummary("LSTM", lstm, history(flat(), flat(), saturation=LSTM_SATURATION)),
        ("GRU", history(flat(), saturation={"z": 0.3, "r": 0.0})),
        ("SimpleRNN", rnn, history(vanishing())),
        {"name": "diverged", "history": diverged()},
    ]


# --- what differs --------------------------------------------------------------------------


def test_differing_parameters_lists_exactly_the_keys_that_differ():
    base = ExperimentConfig.default()
    configs = [base,
               base.with_values({"layer.units": 8, "training.learning_rate": 0.001}),
               base.with_values({"layer.units": 8})]
    rows = compare.differing_parameters(configs)
    assert [row["key"] for row in rows] == ["training.learning_rate", "layer1.units"]
    assert rows[1] == {"key": "layer1.units", "label": "Units", "values": ["32", "8", "8"]}
    assert rows[0]["values"] == ["0.01", "0.001", "0.01"]


def test_differing_parameters_of_identical_configs_is_empty():
    config = ExperimentConfig.default()
    assert compare.differing_parameters([config, ExperimentConfig.from_dict({})]) == []


def test_differing_parameters_tells_true_from_one_and_shows_a_missing_layer():
    base = ExperimentConfig.from_dict({"model": {"layers": [{"units": 1}]}})
    cudnn = base.with_values({"layer.use_cudnn": True})
    stacked = base.with_values({"model.num_layers": 2})
    keys = [row["key"] for row in compare.differing_parameters([base, cudnn])]
    assert keys == ["layer1.use_cudnn"]
    rows = {row["key"]: row for row in compare.differing_parameters([base, stacked])}
    assert rows["model.num_layers"]["values"] == ["1", "2"]
    assert rows["layer2.units"]["values"] == ["—", "1"]
    assert rows["layer1.return_sequences"]["values"] == ["false", "true"]


def test_differing_parameters_accepts_dicts_and_rejects_an_empty_list():
    rows = compare.differing_parameters([{"task": {"name": "recall"}},
                                         {"task": {"name": "recall", "lag": 3}}])
    assert [row["key"] for row in rows] == ["task.lag"]
    with pytest.raises(ValueError, match="configs"):
        compare.differing_parameters([])


# --- readings ------------------------------------------------------------------------------


def test_step0_ratio_is_the_first_steps_gradient_over_the_last():
    assert compare.step0_ratio(history(vanishing())) == pytest.approx(1e-7)
    assert compare.step0_ratio(history(flat())) == 1.0
    assert compare.step0_ratio(history(flat(), [0.5] + [1.0] * 7), quantity="grad_c") == 0.5


def test_step0_ratio_is_none_when_missing_or_not_finite():
    assert compare.step0_ratio({"epochs": []}) is None
    assert compare.step0_ratio(history(flat()), layer="layer3") is None
    assert compare.step0_ratio(history([None] * STEPS)) is None
    assert compare.step0_ratio(history(flat()), quantity="grad_c") is None


def test_step0_ratio_of_a_diverged_run_reads_the_last_epoch_with_a_gradient():
    assert compare.step0_ratio(diverged()) == pytest.approx(1e-7)
    assert compare.step0_ratio(diverged(), epoch=2) is None
    with pytest.raises(ValueError, match="epoch"):
        compare.step0_ratio(diverged(), epoch=0)


def test_final_metric_prefers_validation_and_is_none_after_divergence():
    assert compare.final_metric(history(flat(), accuracy=0.75)) == 0.75
    assert compare.final_metric({"epochs": [{"loss": 1.0, "mae": 0.3}]}) == 0.3
    assert compare.final_metric(diverged()) is None
    assert compare.final_metric(None) is None


# --- figures -------------------------------------------------------------------------------

FIGURES = {
    "loss_curves": compare.compare_loss_curves,
    "gradient_flow": compare.compare_gradient_flow,
    "step0_gradient": compare.compare_step0_gradient,
    "saturation": compare.compare_saturation,
}


def test_gradient_flow_has_one_log_trace_per_run_named_by_the_run():
    runs = [("LSTM", history(flat())), ("SimpleRNN", history(vanishing())),
            ("GRU", history(flat()))]
    fig = compare.compare_gradient_flow(runs)
    assert [trace.name for trace in fig.data] == ["LSTM", "SimpleRNN", "GRU"]
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[1].y) == pytest.approx(vanishing())
    assert len({trace.line.color for trace in fig.data}) == 3
    assert fig.layout.template == pio.templates[figures.TEMPLATE_NAME]


def test_step0_gradient_has_one_log_trace_per_run_over_epochs():
    fig = compare.compare_step0_gradient([("a", history(vanishing(), epochs=3)),
                                          ("b", history(flat(), epochs=3))])
    assert [trace.name for trace in fig.data] == ["a", "b"]
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[0].x) == [1, 2, 3]
    assert list(fig.data[0].y) == pytest.approx([1e-7] * 3)
    assert "first step processed" in fig.layout.yaxis.title.text
    relative = compare.compare_step0_gradient([("a", history([2.0] * 8)),
                                               ("b", history(flat()))], relative=True)
    assert list(relative.data[0].y) == [1.0, 1.0]


def test_step0_gradient_says_what_step0_means_for_go_backwards_runs():
    backwards = ExperimentConfig.from_dict({"model": {"layers": [{"go_backwards": True}]}})
    fig = compare.compare_step0_gradient([RunSummary("back", backwards, history(flat())),
                                          ("fwd", history(flat()))])
    assert "go_backwards, the last input" in fig.layout.yaxis.title.text


def test_loss_curves_give_each_run_one_colour_and_one_legend_entry():
    fig = compare.compare_loss_curves([("a", history(flat())), ("b", history(flat()))])
    legend = [trace.name for trace in fig.data if trace.showlegend is not False]
    assert legend == ["a", "b"]
    colours = {trace.legendgroup: trace.line.color for trace in fig.data}
    assert colours["a"] != colours["b"]
    assert all(trace.line.color == colours[trace.legendgroup] for trace in fig.data)
    assert fig.layout.yaxis.type == "log"


def test_saturation_is_grouped_bars_with_one_trace_per_gated_run():
    fig = compare.compare_saturation(mixed_runs()[:3])
    assert [trace.name for trace in fig.data] == ["LSTM", "GRU"]
    assert fig.layout.barmode == "group"
    assert list(fig.data[0].x) == ["input gate i", "forget gate f", "output gate o",
                                   "update gate z", "reset gate r"]
    assert list(fig.data[0].y)[:3] == [0.1, 0.4, 0.2]
    assert "SimpleRNN has no gates" in fig.layout.title.subtitle.text


def test_saturation_names_the_runs_without_gates_and_gives_every_label_its_runs_colour():
    lstm = ExperimentConfig.default()
    simple = lstm.with_values({"model.cell": "simple_rnn"})
    unsaturated = {"i": 0.0, "f": 0.0, "o": 0.0}
    runs = [RunSummary("run 1: lstm 4 on adding", lstm, history(flat(), flat(),
                                                               saturation=unsaturated)),
            RunSummary("run 2: simple_rnn 4 on adding", simple, history(flat()))]
    fig = compare.compare_saturation(runs)
    (bars,) = fig.data
    assert bars.name == "run 1: lstm 4 on adding"
    # Bars of no height: each label says whose it is (colour, legend) and what 0% means.
    assert list(bars.text) == ["0%", "0%", "0%"]
    assert bars.textfont.color == bars.marker.color
    assert fig.layout.showlegend is True
    subtitle = fig.layout.title.subtitle.text
    assert "run 2 (SimpleRNN) has no gates" in subtitle and "0% = none saturated" in subtitle
    two_gateless = compare.compare_saturation(runs + [
        RunSummary("run 3: simple_rnn 8 on adding", simple, history(flat()))])
    assert "run 2 (SimpleRNN), run 3 (SimpleRNN) have no gates" in \
        two_gateless.layout.title.subtitle.text


@pytest.mark.parametrize("name", FIGURES)
def test_every_comparison_figure_survives_diverged_and_gateless_runs(name):
    fig = FIGURES[name](mixed_runs())
    json.loads(fig.to_json())  # serializable: no NaN objects that plotly rejects
    assert fig.data, name
    assert len(fig.data) <= 3 * len(mixed_runs())  # loss: training, validation, metric


def test_cell_gradient_flow_leaves_out_runs_without_a_cell_state():
    fig = compare.compare_gradient_flow(mixed_runs(), quantity="grad_c")
    assert [trace.name for trace in fig.data] == ["LSTM"]
    assert "SimpleRNN: no ‖∂L/∂c_t‖" in fig.layout.title.subtitle.text


def test_a_figure_of_runs_without_any_data_says_why_instead_of_raising():
    nothing = [("a", {"epochs": []}), ("b", diverged())]
    fig = compare.compare_gradient_flow(nothing, epoch=2)
    assert not fig.data and fig.layout.annotations
    assert not compare.compare_saturation(nothing).data


@pytest.mark.parametrize("name", FIGURES)
@pytest.mark.parametrize("count", [0, 1, 7])
def test_comparison_figures_take_two_to_six_runs(name, count):
    runs = [(f"run {k}", history(flat())) for k in range(count)]
    with pytest.raises(ValueError, match="runs: expected 2 to 6 runs"):
        FIGURES[name](runs)


def test_six_runs_get_six_different_colours():
    runs = [(f"run {k}", history(flat())) for k in range(6)]
    fig = compare.compare_gradient_flow(runs)
    assert len({trace.line.color for trace in fig.data}) == 6


def test_a_run_of_the_wrong_form_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"runs\[1\]"):
        compare.compare_loss_curves([("a", history(flat())), "b"])


def test_the_sweep_figure_plots_metric_and_step0_share_against_the_value():
    runs = [RunSummary(f"lag {lag}", None, history(vanishing(lag + 1), accuracy=acc), value=lag)
            for lag, acc in ((4, 0.9), (9, 0.4))]
    fig = compare.compare_sweep(runs, label="task.lag")
    assert list(fig.data[0].x) == [4, 9] and list(fig.data[0].y) == [0.9, 0.4]
    assert list(fig.data[1].y) == pytest.approx([1e-4, 1e-9])
    assert fig.layout.yaxis2.type == "log"


def test_comparison_figures_adds_the_cell_state_panel_only_when_a_run_has_one():
    names = list(compare.comparison_figures(mixed_runs()))
    assert names == ["loss_curves", "gradient_flow", "cell_gradient_flow", "step0_gradient",
                     "saturation"]
    with pytest.raises(ValueError, match="include"):
        compare.comparison_figures(mixed_runs(), include=["nope"])


def test_comparison_and_lab_modules_import_neither_tensorflow_nor_streamlit():
    import subprocess
    import sys

    code = ("import sys, lstm_explorer.compare, lstm_explorer.lab, lstm_explorer.sweep\n"
            "bad = [m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- seed groups: medians with their spread ------------------------------------------------


def seed_group(name, scale, grad0s, config=None):
    """A seed group whose seed k has losses scaled by scale[k] and grad_h[0] = grad0s[k]."""
    from lstm_explorer.seeds import SeedGroup

    runs = []
    for index, (factor, grad0) in enumerate(zip(scale, grad0s)):
        rows = [{"epoch": epoch, "loss": factor / epoch, "val_loss": 1.2 * factor / epoch,
                 "val_accuracy": min(1.0, 0.3 * factor * epoch),
                 "probe": {"grad_h": {"layer0": [grad0 * epoch] + [1.0] * (STEPS - 1)}}}
                for epoch in (1, 2)]
        runs.append(RunSummary(f"{name}, seed {index}", config,
                               {"epochs": rows, "status": "finished"}))
    return SeedGroup.of(name, runs, list(range(len(runs))))


def test_the_loss_curves_of_seed_groups_draw_each_median_over_a_min_max_band():
    groups = [seed_group("a", [1.0, 2.0, 3.0], [1e-3] * 3),
              seed_group("b", [0.5, 0.6, 0.7], [1e-3] * 3)]
    fig = compare.compare_loss_curves(groups)
    bands = [trace for trace in fig.data if trace.fill == "toself"]
    lines = [trace for trace in fig.data if trace.fill != "toself"]
    # Training loss, validation loss and the metric, for each group.
    assert len(bands) == len(lines) == 6
    training_band = bands[0]
    assert list(training_band.y) == pytest.approx([3.0, 1.5, 0.5, 1.0])  # max, then min back
    assert list(lines[0].y) == pytest.approx([2.0, 1.0])  # the median seed
    assert all(band.showlegend is False for band in bands)
    assert {band.legendgroup for band in bands} == {"a", "b"}
    assert "lines: median of 3 seeds, bands: min–max" in fig.layout.title.subtitle.text


def test_the_gradient_flow_and_step0_figures_of_seed_groups_draw_the_spread_on_log_axes():
    groups = [seed_group("a", [1.0] * 3, [1e-6, 1e-4, 1e-2]),
              seed_group("b", [1.0] * 3, [0.1, 0.2, 0.3])]
    flow = compare.compare_gradient_flow(groups)
    band = flow.data[0]
    assert band.fill == "toself" and flow.layout.yaxis.type == "log"
    assert band.y[0] == pytest.approx(2e-2)  # step 0's max at epoch 2
    assert band.y[-1] == pytest.approx(2e-6)  # and its min, where the band closes
    assert flow.data[1].y[0] == pytest.approx(2e-4)  # the median line, on a log scale
    step0 = compare.compare_step0_gradient(groups)
    assert [trace.fill for trace in step0.data] == ["toself", None, "toself", None]
    assert list(step0.data[0].y) == pytest.approx([1e-2, 2e-2, 2e-6, 1e-6])


def test_the_sweep_figure_of_seed_groups_puts_min_max_bars_on_each_point():
    groups = [seed_group("8", [1.0, 2.0, 3.0], [1e-3, 1e-2, 1e-1]),
              seed_group("32", [1.0, 1.0, 1.0], [1e-1] * 3)]
    fig = compare.compare_sweep(groups, values=[8, 32])
    metric, ratio = fig.data
    # val_accuracy at epoch 2: 0.6, 1.0, 1.0 for "8" (median 1.0)
    assert list(metric.y) == pytest.approx([1.0, 0.6])
    assert list(metric.error_y.arrayminus) == pytest.approx([0.4, 0.0])
    assert list(metric.error_y.array) == pytest.approx([0.0, 0.0])
    assert list(ratio.error_y.array) == pytest.approx([0.2 - 0.02, 0.0])
    assert "points: median of 3 seeds, bars: min–max" in fig.layout.title.subtitle.text


def test_plain_runs_draw_no_band():
    fig = compare.compare_loss_curves([("a", history(flat())), ("b", history(flat()))])
    assert not any(trace.fill == "toself" for trace in fig.data)
    assert "median" not in (fig.layout.title.subtitle.text or "")


def test_a_seed_group_with_a_diverged_seed_is_named_in_the_subtitle():
    from lstm_explorer.seeds import SeedGroup

    good = history(flat())
    groups = [SeedGroup.of("a", [RunSummary("s0", None, good),
                                 RunSummary("s1", None, diverged())], [0, 1]),
              seed_group("b", [1.0, 1.0], [1e-3, 1e-3])]
    fig = compare.compare_loss_curves(groups)
    assert "a: seed 1 diverged" in fig.layout.title.subtitle.text


def test_the_difference_table_of_seed_groups_says_whether_the_result_beats_the_spread():
    base = ExperimentConfig.default()
    small = base.with_values({"layer.units": 8})
    # val_accuracy at the last epoch: 0.6 × the seed's factor
    apart = compare.difference_table([seed_group("32", [0.5, 0.55, 0.6], [1e-3] * 3, base),
                                      seed_group("8", [1.0, 1.1, 1.2], [1e-3] * 3, small)])
    assert [row["key"] for row in apart["rows"]] == ["layer1.units", "result"]
    result = apart["rows"][-1]
    assert result["label"] == "final validation accuracy, median (min–max) over 3 seeds"
    assert result["values"] == ["33% (30%–36%)", "66% (60%–72%)"]
    assert apart["beyond_spread"] is True
    assert "larger than the spread between seeds" in apart["conclusion"]
    close = compare.difference_table([seed_group("32", [1.0, 1.5, 2.0], [1e-3] * 3, base),
                                      seed_group("8", [1.2, 1.6, 2.2], [1e-3] * 3, small)])
    assert close["beyond_spread"] is False
    assert close["conclusion"].endswith(
        "within the spread between seeds: this difference may be one seed's luck.")


def test_the_difference_table_of_single_runs_says_one_seed_cannot_tell():
    base = ExperimentConfig.default()
    table = compare.difference_table([RunSummary("a", base, history(flat(), accuracy=0.5)),
                                      RunSummary("b", base.with_values({"layer.units": 8}),
                                                 history(flat(), accuracy=0.9))])
    assert table["rows"][-1]["values"] == ["50%", "90%"]
    assert table["beyond_spread"] is None
    assert "One seed per run" in table["conclusion"]
