"""The run picker of Gradient Flow and Inside the Cell: any run of the session, named."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_explorer import training
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.ui import run_picker
from lstm_explorer.ui.state import MAX_RUNS, describe_config
from tests.app.conftest import (
    TINY,
    array,
    explorer,
    figures,
    new_app,
    no_exceptions,
    text,
    wait_for_job,
)

GRADIENT, CELL, BUILD = "pages/gradient_flow.py", "pages/inside_cell.py", "pages/build_train.py"


def captions(at) -> str:
    return "\n".join(str(caption.value) for caption in at.caption)


def drawn_series(spec: dict) -> list[list[float]]:
    """Every y series of a figure, its animation frames' included."""
    traces = list(spec.get("data", []))
    for frame in spec.get("frames", []):
        traces.extend(frame.get("data", []))
    return [[float(value) for value in array(trace["y"])] for trace in traces if "y" in trace]


def last_gradient(run) -> list[float]:
    return run.history["epochs"][-1]["probe"]["grad_h"]["layer0"]


def draws(spec: dict, values: list[float]) -> bool:
    """Whether one of a figure's series is `values` (to float32 precision)."""
    return any(len(series) == len(values) and np.allclose(series, values, rtol=1e-6)
               for series in drawn_series(spec))


@pytest.fixture(scope="module")
def trained():
    """Two tiny trainings, 4 units then 3 units: the runs a session keeps after them."""
    base = ExperimentConfig.default().with_values({key: int(text) for key, text in TINY.items()})
    return [training.Trainer(base.with_values({"layer1.units": units})).run()
            for units in (4, 3)]


@pytest.fixture
def two_runs(trained):
    """The app, with the two trainings kept as this session's runs 1 and 2."""
    at = new_app(TINY)
    for result in trained:
        explorer(at).add_run(describe_config(result.config), result.config, result.history,
                             result.trace.to_arrays(), result)
    return at


def test_gradient_flow_shows_the_newest_run_and_names_it(two_runs):
    at = two_runs
    at.switch_page(GRADIENT).run()
    no_exceptions(at)
    first, second = explorer(at).runs
    picker = at.selectbox(key="gradient_run")
    assert picker.options == [second.name, first.name]  # newest first
    assert picker.value == second.name == "run 2: lstm 3 on adding"
    assert "Showing **run 2: lstm 3 on adding** · finished, 2 epochs" in captions(at)
    assert draws(figures(at)["Gradient flow through time, layer 1"], last_gradient(second))


def test_gradient_flow_shows_an_older_run_picked_and_keeps_it_across_page_switches(two_runs):
    at = two_runs
    at.switch_page(GRADIENT).run()
    first, second = explorer(at).runs
    at.selectbox(key="gradient_run").select(first.name).run()
    no_exceptions(at)
    assert "Showing **run 1: lstm 4 on adding** · finished, 2 epochs" in captions(at)
    flow = figures(at)["Gradient flow through time, layer 1"]
    assert draws(flow, last_gradient(first)) and not draws(flow, last_gradient(second))

    at.switch_page(BUILD).run()
    at.switch_page(GRADIENT).run()
    no_exceptions(at)
    assert at.selectbox(key="gradient_run").value == first.name
    assert f"Showing **{first.name}**" in captions(at)
    assert draws(figures(at)["Gradient flow through time, layer 1"], last_gradient(first))


def test_inside_the_cell_shows_the_older_run_picked_with_its_own_units(two_runs):
    at = two_runs
    at.switch_page(CELL).run()
    first, second = explorer(at).runs
    assert at.selectbox(key="cell_run").value == second.name
    assert len(array(step_bars(at)["data"][0]["y"])) == 3
    at.slider(key="cell_unit").set_value(2).run()
    at.selectbox(key="cell_run").select(first.name).run()
    no_exceptions(at)
    assert f"Showing **{first.name}** · finished, 2 epochs" in captions(at)
    assert len(array(step_bars(at)["data"][0]["y"])) == 4
    at.switch_page(GRADIENT).run()
    at.switch_page(CELL).run()
    no_exceptions(at)
    assert at.selectbox(key="cell_run").value == first.name


def step_bars(at) -> dict:
    return next(spec for title, spec in figures(at).items() if title.startswith("Step "))


def test_a_new_run_is_followed_unless_an_older_one_was_picked(two_runs):
    at = two_runs
    session = explorer(at)
    first, second = session.runs
    at.switch_page(GRADIENT).run()
    at.selectbox(key="gradient_run").select(second.name).run()  # the newest: follow
    at.switch_page(CELL).run()
    at.selectbox(key="cell_run").select(first.name).run()  # an older one: keep it
    newest = session.add_run("copy", second.config, second.history, second.arrays,
                             second.result)
    at.switch_page(GRADIENT).run()
    assert at.selectbox(key="gradient_run").value == newest.name
    assert f"Showing **{newest.name}**" in captions(at)
    at.switch_page(CELL).run()
    no_exceptions(at)
    assert at.selectbox(key="cell_run").value == first.name


def test_a_picked_run_dropped_from_the_session_gives_way_to_the_newest(two_runs):
    at = two_runs
    session = explorer(at)
    at.switch_page(GRADIENT).run()
    oldest = session.runs[0]
    at.selectbox(key="gradient_run").select(oldest.name).run()
    for _ in range(MAX_RUNS):
        session.add_run("copy", oldest.config, oldest.history, oldest.arrays, oldest.result)
    assert oldest not in session.runs
    at.run()
    no_exceptions(at)
    assert at.selectbox(key="gradient_run").value == session.runs[-1].name
    assert f"Showing **{session.runs[-1].name}**" in captions(at)


def test_the_training_running_now_is_offered_first_on_gradient_flow_only():
    at = new_app({**TINY, "task.n_samples": "2000", "task.seq_len": "20",
                  "training.epochs": "100", "training.batch_size": "16"})
    at.button(key="train").click().run()
    wait_for_job(at, until=lambda snapshot: len(snapshot.rows) >= 1)
    at.switch_page(GRADIENT).run()
    no_exceptions(at)
    picker = at.selectbox(key="gradient_run")
    assert picker.options[0].startswith(run_picker.RUNNING)
    assert f"Showing **{run_picker.RUNNING}**: lstm 4 on adding, 100 epochs" in captions(at)
    assert "Gradient flow through time, layer 1" in figures(at)
    at.switch_page(CELL).run()  # its weights move: Inside the Cell waits for its end
    no_exceptions(at)
    assert "cell_run" not in [box.key for box in at.selectbox]
    assert "A training is running" in text(at, "info")
    explorer(at).job.stop()
    wait_for_job(at)
    at.switch_page(GRADIENT).run()
    (stopped,) = explorer(at).runs
    assert at.selectbox(key="gradient_run").value == stopped.name  # followed
    assert f"Showing **{stopped.name}** · stopped after" in captions(at)
