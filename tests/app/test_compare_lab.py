"""Compare Runs, "Vary one parameter" and The Lab in AppTest."""

from __future__ import annotations

import pytest

from lstm_explorer import lab
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.training import Trainer
from lstm_explorer.ui import compare_view, lab_view
from lstm_explorer.ui.state import describe_config
from tests.app.conftest import TINY, explorer, figures, new_app, no_exceptions, text

COMPARE, LAB = "pages/compare_runs.py", "pages/lab.py"
COMPARE_TITLES = ("Loss of each run", "Gradient flow through time, layer 1: runs compared",
                  "Gradient reaching step 0 over training, layer 1",
                  "Gate saturation, layer 1: runs compared")


def tiny_config(**values) -> ExperimentConfig:
    config, problems = ExperimentConfig.from_query(TINY)
    assert not problems
    return config.with_values(values)


def wait_for_batch(at, timeout: float = 150.0):
    """Rerun once while the session's sweep or experiment trains, then wait for it."""
    job = explorer(at).batch.job
    assert job is not None, "nothing was started"
    snapshot = job.wait(timeout)
    assert snapshot.done, f"the batch did not finish in {timeout} s: {snapshot}"
    return at.run()


def legend_names(figure: dict) -> list[str]:
    return [trace["name"] for trace in figure["data"] if trace.get("showlegend", True)]


def markdown_tables(at) -> list[list[list[str]]]:
    """Every Markdown table on the page, as rows of cells (header first, unescaped)."""
    tables = []
    for element in at.markdown:
        lines = [line for line in str(element.value).splitlines() if line.startswith("| ")]
        if len(lines) >= 2:
            tables.append([[cell.strip().replace("\\", "") for cell in line.strip("|").split(" | ")]
                           for line in lines if not line.startswith("| ---")])
    return tables


def differs_table(at) -> list[dict[str, str]]:
    """The "What differs" table of Compare Runs: one dict per row, by column name."""
    (rows,) = [rows for rows in markdown_tables(at) if rows[0][0] == "parameter"]
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_both_pages_render_and_say_how_to_get_runs():
    at = new_app()
    at.switch_page(COMPARE).run()
    no_exceptions(at)
    assert at.title[0].value == "Compare Runs"
    info = text(at, "info")
    assert "Train twice" in info and "Vary one parameter" in info
    assert at.selectbox(key=compare_view.VARY_KEY).value == "layer.units"
    assert at.text_input(key=compare_view.VALUES_KEY).value == "8,32,128"
    # Choosing another parameter proposes values for it.
    at.selectbox(key=compare_view.VARY_KEY).select("model.cell").run()
    assert at.text_input(key=compare_view.VALUES_KEY).value == "lstm,gru,simple_rnn"

    at.switch_page(LAB).run()
    no_exceptions(at)
    assert at.title[0].value == "The Lab"
    assert [tab.label for tab in at.tabs][:len(lab.EXPERIMENTS)] == [
        lab_view.tab_label(number, experiment)
        for number, experiment in enumerate(lab.EXPERIMENTS, start=1)]
    page_text = " ".join(str(md.value) for md in at.markdown)
    for experiment in lab.EXPERIMENTS:
        assert experiment.look_for in page_text
        assert at.button(key=f"lab_run_{experiment.key}").disabled is False


def test_compare_runs_overlays_the_runs_and_names_what_differs():
    at = new_app()
    session = explorer(at)
    for activation in ("tanh", "relu"):
        result = Trainer(tiny_config(**{"layer.activation": activation})).run()
        session.add_run(describe_config(result.config), result.config, result.history,
                        result.trace.to_arrays(), result)
    at.switch_page(COMPARE).run()
    no_exceptions(at)
    names = [run.name for run in session.runs]
    assert at.multiselect(key=compare_view.RUNS_KEY).value == names  # the last two
    rows = differs_table(at)
    assert [row["parameter"] for row in rows] == ["layer1.activation", "result"]
    assert [rows[0][name] for name in names] == ["tanh", "relu"]
    # One seed each: the result row has single values, and the conclusion says that one
    # seed per run cannot tell a difference from one seed's luck.
    assert rows[1]["setting"] == "final validation loss"
    assert "One seed per run" in text(at, "info") and "one seed's luck" in text(at, "info")
    charts = figures(at)
    assert set(COMPARE_TITLES) <= set(charts)
    for title in COMPARE_TITLES:
        assert legend_names(charts[title]) == names, title
    assert {trace["legendgroup"] for trace in charts["Loss of each run"]["data"]} == set(names)

    # A third run: the default picks the last two again; a choice of one asks for two.
    result = Trainer(tiny_config(**{"layer.units": 5})).run()
    session.add_run(describe_config(result.config), result.config, result.history,
                    result.trace.to_arrays(), result)
    at.run()
    assert at.multiselect(key=compare_view.RUNS_KEY).value == [run.name for run in
                                                                session.runs[-2:]]
    at.multiselect(key=compare_view.RUNS_KEY).set_value([session.runs[0].name]).run()
    no_exceptions(at)
    assert "Pick at least two runs" in text(at, "info")


def test_vary_one_parameter_trains_a_run_per_value_and_compares_them():
    at = new_app({**TINY, "training.epochs": "1"})
    at.switch_page(COMPARE).run()
    at.text_input(key=compare_view.VALUES_KEY).set_value("2,many").run()
    at.button(key=compare_view.RUN_BUTTON).click().run()
    no_exceptions(at)
    error = text(at, "error")
    assert "Values of layer.units" in error and "many" in error and "integer" in error
    assert explorer(at).batch is None or explorer(at).batch.job is None

    at.text_input(key=compare_view.VALUES_KEY).set_value("2,3").run()
    at.button(key=compare_view.RUN_BUTTON).click().run()
    no_exceptions(at)
    assert at.button(key=compare_view.STOP_BUTTON).disabled is False or \
        explorer(at).batch.job.snapshot().done
    at = wait_for_batch(at)
    no_exceptions(at)
    session = explorer(at)
    names = [run.name for run in session.runs]
    assert names == ["run 1: layer.units=2", "run 2: layer.units=3"]
    assert [run.config.model["layers"][0]["units"] for run in session.runs] == [2, 3]
    assert all(run.history["status"] == "finished" for run in session.runs)
    assert at.multiselect(key=compare_view.RUNS_KEY).value == names
    assert [row["parameter"] for row in differs_table(at)] == ["layer1.units", "result"]
    charts = figures(at)
    assert "Result and gradient against layer.units" in charts
    assert legend_names(charts[COMPARE_TITLES[1]]) == names
    assert "runs 1 and 2" in " ".join(str(caption.value) for caption in at.caption)
    assert at.button(key=compare_view.STOP_BUTTON).disabled is True


@pytest.mark.slow
def test_the_first_lab_experiment_runs_and_concludes_from_its_numbers():
    at = new_app()
    at.switch_page(LAB).run()
    at.number_input(key=lab_view.EPOCHS_KEY).set_value(1).run()
    # One seed: this test reads the experiment's own conclusion (test_seeds_view reads
    # the one over seeds); the cells experiment's own three would triple its time.
    at.number_input(key=lab_view.SEEDS_KEY.format(key="cells")).set_value(1).run()
    at.button(key="lab_run_cells").click().run()
    no_exceptions(at)
    job = explorer(at).batch.job
    assert job.kind == "lab" and job.key == "cells" and job.epochs == 1
    assert at.button(key="lab_run_lag").disabled is True  # one experiment at a time
    at = wait_for_batch(at)
    no_exceptions(at)
    conclusion = text(at, "success")
    assert "What the runs measured" in conclusion
    for cell in ("SimpleRNN", "GRU", "LSTM"):
        assert cell in conclusion
    assert job.conclusion and job.conclusion in conclusion
    assert "1 epochs instead of the experiment's 10" in conclusion
    charts = figures(at)
    flow = charts["Gradient flow through time, layer 1: runs compared"]
    assert legend_names(flow) == ["SimpleRNN", "GRU", "LSTM"]
    assert {"Loss of each run", "Gate saturation, layer 1: runs compared"} <= set(charts)
    session = explorer(at)
    assert [run.name for run in session.runs] == [
        "run 1: SimpleRNN (lab 1)", "run 2: GRU (lab 1)", "run 3: LSTM (lab 1)"]
    assert [run.config.model["cell"] for run in session.runs] == ["simple_rnn", "gru", "lstm"]
    assert all(run.arrays and run.result is not None for run in session.runs)
    assert at.button(key="lab_run_lag").disabled is False

    # Compare Runs can use them: the last two by default, differing in the cell.
    at.switch_page(COMPARE).run()
    no_exceptions(at)
    assert [row["parameter"] for row in differs_table(at)] == ["model.cell", "result"]
