"""One server, a whole class: limits in the page, the queue's place and wait, sessions that
do not see each other, the server process in the sidebar."""

from __future__ import annotations

import os

from lstm_explorer.config import ExperimentConfig
from lstm_explorer.ui import state
from lstm_explorer.ui.widgets import widget_key
from tests.app.conftest import TINY, explorer, new_app, no_exceptions, text, wait_for_job


def test_a_config_over_a_limit_says_which_and_how_to_raise_it_and_cannot_train():
    at = new_app({"training.epochs": "150", "task.seq_len": "800"})
    no_exceptions(at)
    errors = text(at, "error")
    assert "Too big for this server" in errors
    assert "Epochs (training.epochs) is 150" in errors and "at most 100" in errors
    assert "LSTM_EXPLORER_MAX_EPOCHS" in errors and "LSTM_EXPLORER_MAX_SEQ_LEN" in errors
    assert at.button(key="train").disabled is True
    # Lowering the setting is enough.
    at.number_input(key=widget_key("training.epochs")).set_value(5).run()
    at.number_input(key=widget_key("task.seq_len")).set_value(50).run()
    assert "Too big for this server" not in text(at, "error")
    assert at.button(key="train").disabled is False


def test_a_queued_training_shows_its_place_and_wait_and_stop_cancels_it():
    queue = state.job_queue()
    blockers = []
    at = new_app(TINY)
    try:
        # Fill every trainer with long jobs of another session.
        long = ExperimentConfig.default().with_values(
            {"task.seq_len": 6, "task.n_samples": 64, "layer1.units": 4, "training.epochs": 1000})
        blockers = [queue.submit(long) for _ in range(queue.max_running)]
        at.button(key="train").click().run()
        no_exceptions(at)
        snapshot = explorer(at).job.snapshot()
        assert snapshot.status == "queued" and snapshot.place == 1
        progress = " ".join(str(element.proto.text) for element in at.get("progress"))
        assert "Queued, place 1" in progress and "Stop cancels it" in progress
        assert at.button(key="stop").disabled is False
        at.button(key="stop").click().run()
        assert explorer(at).job.snapshot().status == "cancelled"
        no_exceptions(at)
    finally:
        for job in blockers:
            job.stop()
        for job in blockers:
            job.wait(timeout=120)


def test_two_sessions_do_not_see_each_others_runs_configs_or_jobs():
    first = new_app({**TINY, "layer1.units": "3"})
    second = new_app({"layer1.units": "9"})
    first.button(key="train").click().run()
    wait_for_job(first)
    second.run()
    no_exceptions(second)
    mine, theirs = explorer(first), explorer(second)
    assert len(mine.runs) == 1 and theirs.runs == [] and theirs.job is None
    assert theirs.config.model["layers"][0]["units"] == 9
    assert "run(s) kept in this session" not in " ".join(c.value for c in second.caption)
    second.number_input(key=widget_key("layer1.units")).set_value(11).run()
    assert mine.config.model["layers"][0]["units"] == 3
    assert explorer(second).config.model["layers"][0]["units"] == 11
    assert mine.runs[0].config.model["layers"][0]["units"] == 3


def test_the_sidebar_names_the_server_process_for_tools_but_not_for_the_class():
    at = new_app()
    captions = " ".join(str(caption.value) for caption in at.sidebar.caption)
    assert "Server process" not in captions  # students need not read it
    markers = " ".join(element.proto.body for element in at.sidebar.get("html"))
    assert f"Server process {os.getpid()}" in markers and "display:none" in markers


def test_page_runs_keep_the_sessions_job_alive():
    at = new_app(TINY)
    at.button(key="train").click().run()
    job = explorer(at).job
    job.last_seen -= 1000  # as if the tab had been away for a long time
    at.run()
    assert job.unseen_for() < 100
    wait_for_job(at)
