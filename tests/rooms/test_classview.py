"""The class view's data: runs placed on the setting the class varied."""

from __future__ import annotations

import pytest

from lstm_explorer import compare, readings
from lstm_explorer.rooms.classview import class_view
from lstm_explorer.rooms.store import SentRun
from tests.rooms.helpers import ADDING_BASELINE, history, summary


def sent(name: str, values: dict | None = None, run_id: int = 0, **history_arguments) -> SentRun:
    return SentRun(run_id, "K7Q-M2X", run_id, name, 0.0, 0, summary(values, **history_arguments))


def test_the_one_setting_that_differs_is_the_axis_and_each_run_has_its_numbers():
    runs = [sent("Ada", {"layer1.units": 8}, 1, final_loss=0.05, grad0=1e-6),
            sent("Bo", {"layer1.units": 64}, 2, final_loss=0.01, grad0=0.2)]
    view = class_view(runs)
    assert (view.parameter, view.label) == ("layer1.units", "Units (layer1.units)")
    assert view.numeric and not view.log_x and view.categories == ()
    assert view.metric == "val_mae" and view.metric_label == "validation mean absolute error"
    assert view.notes == ()
    ada, bo = view.runs
    assert (ada.id, ada.name, ada.student, ada.x, ada.x_text) == (1, "Ada", 1, 8, "8")
    assert ada.values == {"layer1.units": "8"}
    history_of_bo = runs[1].summary["history"]
    assert bo.final_metric == compare.final_metric(history_of_bo)
    assert bo.final_loss == compare.final_loss(history_of_bo)
    assert bo.level == readings.run_level(history_of_bo) == "learned"
    assert bo.epochs == (1, 2, 3) and len(bo.loss) == len(bo.val_loss) == 3
    assert bo.verdict == runs[1].summary["verdict"]


def test_the_gradient_at_step_0_is_the_ratio_the_verdict_reads():
    run = sent("Ada", grad0=3e-4)
    (placed,) = class_view([run]).runs
    rows = run.summary["history"]["epochs"]
    assert placed.step0 == compare.step0_ratio(run.summary["history"], "layer0")
    assert placed.step0 == pytest.approx(3e-4, rel=1e-3)
    assert placed.step0 == pytest.approx(rows[-1]["probe"]["grad_h"]["layer0"][0]
                                         / rows[-1]["probe"]["grad_h"]["layer0"][-1])
    assert "0.0003" in readings.gradient_reading(run.summary["history"]) or \
        "10⁻⁴" in readings.gradient_reading(run.summary["history"])


def test_a_learning_rate_over_decades_is_drawn_on_a_log_axis():
    runs = [sent(f"s{rate}", {"training.learning_rate": rate}) for rate in (1e-4, 1e-2, 0.1)]
    view = class_view(runs)
    assert view.parameter == "training.learning_rate" and view.numeric and view.log_x
    assert [run.x for run in view.runs] == [1e-4, 1e-2, 0.1]


def test_a_setting_of_choices_gives_categories_in_the_order_of_their_values():
    runs = [sent("a", {"model.cell": "simple_rnn"}), sent("b", {"model.cell": "gru"}),
            sent("c", {"model.cell": "lstm"}), sent("d", {"model.cell": "gru"})]
    view = class_view(runs)
    assert view.parameter == "model.cell" and not view.numeric
    assert view.categories == ("gru", "lstm", "simple_rnn")
    assert [run.x for run in view.runs] == ["simple_rnn", "gru", "lstm", "gru"]


def test_the_setting_with_the_most_values_wins_and_the_others_are_noted():
    runs = [sent(f"s{units}", {"layer1.units": units, "task.seed": index % 2})
            for index, units in enumerate((8, 16, 32, 64))]
    view = class_view(runs)
    assert view.parameter == "layer1.units"
    assert [row["key"] for row in view.differing] == ["task.seed", "layer1.units"]
    assert view.notes == ("also differ: Seed",)
    assert view.runs[0].values == {"task.seed": "0", "layer1.units": "8"}


def test_when_no_setting_differs_the_runs_stand_under_their_names():
    view = class_view([sent("Ada"), sent("Bo"), sent("Ada")])
    assert view.parameter is None and view.label == "run" and not view.numeric
    assert view.categories == ("Ada", "Bo")
    assert [run.x for run in view.runs] == ["Ada", "Bo", "Ada"]


def test_a_run_without_the_setting_or_a_config_is_left_off_the_axis_and_noted():
    runs = [sent(f"s{units}", {"model.num_layers": 2, "layer2.units": units})
            for units in (8, 16, 32)]
    one_layer = sent("one layer")
    no_config = SentRun(9, "K7Q-M2X", 3, "no config", 0.0, 0, {**summary(), "config": None})
    view = class_view([*runs, one_layer, no_config])
    assert view.parameter == "layer2.units"
    assert [run.x for run in view.runs] == [8, 16, 32, None, None]
    assert view.runs[3].x_text == view.runs[4].x_text == "—"
    assert [run.name for run in view.placed] == ["s8", "s16", "s32"]
    assert view.notes == ("also differ: Stacked layers, Return sequences",
                          "1 run without a config, not placed on the axis",
                          "1 run without layer2.units, not placed on the axis")


def test_a_run_with_another_metric_is_left_off_the_metric_and_noted():
    accuracy = history()
    for row in accuracy["epochs"]:
        row["val_accuracy"] = 0.9
        del row["mae"], row["val_mae"]
    other = SentRun(3, "K7Q-M2X", 3, "Cy", 0.0, 0,
                    {**summary({"layer1.units": 4}), "history": accuracy})
    view = class_view([sent("Ada", {"layer1.units": 8}), sent("Bo", {"layer1.units": 16}), other])
    assert view.metric == "val_mae"
    assert view.runs[2].final_metric is None and view.runs[2].final_loss is not None
    assert "1 run recorded another metric than val_mae, left off the metric chart" in view.notes


def test_a_diverged_run_has_no_final_metric_and_keeps_its_status():
    view = class_view([sent("Ada", status="diverged"), sent("Bo", {"layer1.units": 4})])
    diverged = view.runs[0]
    assert diverged.status == "diverged" and diverged.final_metric is None
    assert diverged.loss[-1] is None


def test_the_class_view_reads_dicts_pairs_and_sent_runs_alike():
    made = summary({"layer1.units": 8})
    other = summary({"layer1.units": 16})
    forms = [[{"name": "Ada", "summary": made, "id": 4, "student": 2}, ("Bo", other)],
             [SentRun(4, "K7Q-M2X", 2, "Ada", 0.0, 0, made), SentRun(5, "K7Q-M2X", 3, "Bo", 0.0,
                                                                     0, other)]]
    names = [[(run.name, run.x) for run in class_view(runs).runs] for runs in forms]
    assert names[0] == names[1] == [("Ada", 8), ("Bo", 16)]


def test_a_class_run_goes_into_compare_runs_as_it_is():
    view = class_view([sent("Ada", {"layer1.units": 8}), sent("Bo", {"layer1.units": 16})])
    runs = [run.as_run_summary() for run in view.runs]
    assert [run.name for run in runs] == ["Ada", "Bo"]
    assert compare.differing_parameters([run.config for run in runs])[0]["key"] == "layer1.units"
    figure = compare.compare_loss_curves(runs)
    assert {trace.legendgroup for trace in figure.data} == {"Ada", "Bo"}


def test_no_runs_make_an_empty_view_and_bad_input_names_runs():
    view = class_view([])
    assert view.runs == () and view.parameter is None and view.metric is None
    with pytest.raises(ValueError, match=r"^runs: expected a list"):
        class_view({"name": "Ada"})
    with pytest.raises(ValueError, match=r"^runs\[1\]: expected a SentRun"):
        class_view([("Ada", summary()), 42])


def test_the_baseline_decides_the_level_and_its_absence_leaves_it_unjudged():
    view = class_view([sent("Ada", final_loss=0.02), sent("Bo", final_loss=0.5),
                       sent("Cy", baseline=None)])
    assert [run.level for run in view.runs] == ["learned", "learned nothing", None]
    assert ADDING_BASELINE["value"] == 0.167
