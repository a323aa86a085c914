"""The pure helpers of Compare Runs and The Lab, and background batches without training."""

from __future__ import annotations

import threading

import pytest

from lstm_explorer import lab, sweep
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig, param_for_key
from lstm_explorer.errors import ConfigError
from lstm_explorer.ui import batch, compare_view, lab_view
from lstm_explorer.ui.state import MAX_RUNS, ExplorerSession

DEFAULT = ExperimentConfig.default()


# --- Vary one parameter ------------------------------------------------------------------


def test_every_registry_key_is_offered_once_with_layer_keys_for_every_layer():
    keys = compare_view.vary_keys()
    assert len(keys) == len(set(keys))
    assert "layer.units" in keys and "layer1.units" not in keys
    assert "task.path" not in keys and "task.column" not in keys
    for key in keys:
        param_for_key(key)  # each is a registry key
        assert key in compare_view.vary_label(key)


@pytest.mark.parametrize("key, text", sorted(compare_view.EXAMPLES.items()))
def test_the_help_examples_parse(key, text):
    parsed_key, values = sweep.parse_vary(f"{key}={text}")
    assert parsed_key == key and 2 <= len(values) <= 6


def test_the_proposed_values_make_a_sweep_of_the_defaults_for_most_keys():
    failing = []
    for key in compare_view.vary_keys():
        try:
            compare_view.plan_sweep(DEFAULT, key, compare_view.example_values(key, DEFAULT))
        except ConfigError as error:
            failing.append((key, error.message))
    # These need another task (or an Embedding) first; the error says which.
    assert sorted(key for key, _ in failing) == ["layer.return_sequences", "model.embedding"]
    assert all("task" in message for _, message in failing)


def test_sweep_errors_name_the_field_and_the_value():
    recall = DEFAULT.with_values({"task.name": "recall", "task.seq_len": 30})
    with pytest.raises(ConfigError) as caught:
        compare_view.plan_sweep(recall, "task.lag", "5,20,50")
    text = compare_view.error_text(caught.value)
    assert text.startswith("**Values of task.lag**") and "task.lag=50" in text
    assert "smaller than task.seq_len" in text
    with pytest.raises(ConfigError, match="Values of layer.units"):
        compare_view.plan_sweep(DEFAULT, "layer.units", " ")
    with pytest.raises(ConfigError, match="appears twice"):
        compare_view.plan_sweep(DEFAULT, "layer.units", "8,8")
    with pytest.raises(ConfigError, match="2 to 6 values"):
        compare_view.plan_sweep(DEFAULT, "layer.units", "1,2,3,4,5,6,7")
    with pytest.raises(ConfigError, match="uploaded file"):
        compare_view.plan_sweep(DEFAULT, "task.name", "adding,csv")
    with pytest.raises(ConfigError, match="no GPU"):
        compare_view.plan_sweep(DEFAULT, "layer.use_cudnn", "auto,true", gpu_present=False)
    assert len(compare_view.plan_sweep(DEFAULT, "layer.use_cudnn", "auto,true",
                                       gpu_present=True)) == 2


def test_a_layer_key_sets_every_layer():
    stacked = DEFAULT.with_values({"model.num_layers": 2})
    configs = compare_view.plan_sweep(stacked, "layer.units", "4,6")
    assert [[layer["units"] for layer in c.model["layers"]] for c in configs] == [[4, 4], [6, 6]]


# --- choosing and tabulating runs -------------------------------------------------------


def test_choose_runs_keeps_a_choice_until_runs_change():
    names = ["a", "b", "c", "d"]
    assert compare_view.choose_runs(names, None, None) == ["c", "d"]
    assert compare_view.choose_runs(names, ["a", "b", "d"], names) == ["a", "b", "d"]
    assert compare_view.choose_runs(names, ["a"], names) == ["a"]  # the person's choice
    assert compare_view.choose_runs(names + ["e"], ["a", "b"], names) == ["d", "e"]
    assert compare_view.choose_runs(["c", "d"], ["a", "b", "c"], ["c", "d"]) == ["c", "d"]
    assert compare_view.choose_runs(names, ["a"], names, ["b", "c", "x"]) == ["b", "c"]
    assert compare_view.choose_runs(names, ["a", "b"], names, ["b"]) == ["a", "b"]


def test_the_table_of_differences_has_a_column_per_run():
    configs = [DEFAULT, DEFAULT.with_values({"model.cell": "gru", "training.epochs": 3})]
    rows = compare_view.differences_table(configs, ["run 1: x", "run 2: y"])
    assert [row["parameter"] for row in rows] == ["training.epochs", "model.cell"]
    assert rows[1] == {"parameter": "model.cell", "setting": "Cell", "run 1: x": "lstm",
                       "run 2: y": "gru"}
    assert compare_view.differences_table([DEFAULT, DEFAULT], ["a", "b"]) == []


def test_run_layers_lists_every_recorded_layer_in_order():
    def run(layers):
        history = {"epochs": [{"probe": {"grad_h": {layer: [1.0] for layer in layers}}}]}
        return type("R", (), {"history": history})()
    assert compare_view.run_layers([run(["layer1", "layer0"]), run(["layer0/backward"])]) == [
        "layer0", "layer0/backward", "layer1"]
    assert compare_view.run_layers([run([])]) == ["layer0"]


# --- the lab's texts --------------------------------------------------------------------


def test_every_experiment_has_a_short_tab_label_and_a_plan():
    labels = [lab_view.tab_label(n, e) for n, e in enumerate(lab.EXPERIMENTS, start=1)]
    assert len(set(labels)) == len(lab.EXPERIMENTS) and all(len(label) <= 28
                                                           for label in labels)
    for experiment in lab.EXPERIMENTS:
        assert experiment.key in lab_view.SHORT_TITLES
        plan = lab_view.plan_text(experiment)
        assert plan.startswith(f"{len(experiment.variants)} runs")


# --- background batches (no training: the engine is replaced by a stand-in) ---------------


def _summary(name: str, cell: str = "lstm") -> RunSummary:
    config = DEFAULT.with_values({"model.cell": cell})
    return RunSummary(name, config, {"epochs": [{"epoch": 1, "loss": 1.0}],
                                     "status": "finished"})


class _Result:
    trace = None


def _engine(names, gate: threading.Event | None = None, fail: bool = False):
    """A stand-in for run_configs: emits the events a real sweep emits."""
    def work(on_event, stop, keep_result):
        keep = keep_result(None)
        summaries = []
        for index, name in enumerate(names):
            if stop.is_set():
                break
            on_event(sweep.SweepEvent(sweep.RUN_STARTED, index, len(names), name))
            if gate is not None:
                gate.wait(10)
            if fail:
                raise RuntimeError("out of memory")
            keep(_Result())
            summary = _summary(name)
            summaries.append(summary)
            on_event(sweep.SweepEvent(sweep.RUN_FINISHED, index, len(names), name,
                                      summary=summary))
        return summaries, "concluded"
    return work


def test_a_batch_runs_in_the_background_and_its_runs_join_the_session():
    explorer = ExplorerSession()
    state = batch.state_of(explorer)
    gate = threading.Event()
    job = state.start(batch.BatchJob(batch.SWEEP, "layer.units", ["a", "b"],
                                     _engine(["a", "b"], gate)))
    assert state.running and not job.snapshot().done
    explorer.collect()
    assert explorer.runs == []  # nothing kept while it runs
    gate.set()
    snapshot = job.wait(10)
    assert snapshot.status == batch.FINISHED and snapshot.fraction == 1.0
    assert job.conclusion == "concluded"
    explorer.collect()
    assert [run.name for run in explorer.runs] == ["run 1: a", "run 2: b"]
    assert state.select == ["run 1: a", "run 2: b"]
    explorer.collect()  # once only
    assert len(explorer.runs) == 2


def test_stop_ends_a_batch_and_keeps_what_trained():
    explorer = ExplorerSession()
    state = batch.state_of(explorer)
    gate = threading.Event()
    job = state.start(batch.BatchJob(batch.LAB, "cells", ["a", "b", "c"],
                                     _engine(["a", "b", "c"], gate),
                                     label=lambda summary: f"{summary.name} (lab 1)"))
    job.stop()
    gate.set()
    snapshot = job.wait(10)
    assert snapshot.status == batch.STOPPED and "1 of 3" in snapshot.message
    explorer.collect()
    assert [run.name for run in explorer.runs] == ["run 1: a (lab 1)"]
    assert state.select is None  # only a sweep selects its runs on Compare Runs


def test_a_failing_batch_says_why():
    explorer = ExplorerSession()
    state = batch.state_of(explorer)
    job = state.start(batch.BatchJob(batch.SWEEP, "layer.units", ["a"],
                                     _engine(["a"], fail=True)))
    snapshot = job.wait(10)
    assert snapshot.status == batch.FAILED and "out of memory" in snapshot.message
    explorer.collect()
    assert explorer.runs == []


def test_a_batch_waits_for_a_free_slot_and_can_be_cancelled_there():
    slots = threading.BoundedSemaphore(1)
    slots.acquire()
    job = batch.BatchJob(batch.SWEEP, "layer.units", ["a"], _engine(["a"]),
                         slots=slots).start()
    assert job.snapshot().status == batch.QUEUED
    assert batch.progress_text(job.snapshot()).startswith("Waiting for a free trainer")
    job.stop()
    assert job.wait(10).status == batch.STOPPED
    slots.release()
    job = batch.BatchJob(batch.SWEEP, "layer.units", ["a"], _engine(["a"]),
                         slots=slots).start()
    assert job.wait(10).status == batch.FINISHED
    assert slots.acquire(blocking=False)  # the slot was given back


def test_many_batch_runs_drop_the_oldest_with_a_notice():
    explorer = ExplorerSession()
    state = batch.state_of(explorer)
    names = [f"v{i}" for i in range(6)]
    for _ in range(3):
        state.start(batch.BatchJob(batch.SWEEP, "layer.units", names, _engine(names))).wait(10)
        explorer.collect()
    assert len(explorer.runs) == MAX_RUNS  # LSTM_EXPLORER_MAX_RUNS, 8 by default
    dropped = 18 - MAX_RUNS
    first = f"run {dropped + 1}: v{dropped % 6}"
    assert explorer.runs[0].name == first and explorer.runs[-1].name == "run 18: v5"
    assert len(explorer.notices) == dropped and "run 1: v0 was dropped" in explorer.notices[0]


def test_progress_text_names_the_run_and_the_epoch():
    snapshot = batch.BatchSnapshot(status=batch.RUNNING, index=1, total=3, name="b",
                                   epoch=4, epochs=10)
    assert batch.progress_text(snapshot).startswith("Run 2 of 3 (b) · epoch 4 of 10")
    starting = batch.BatchSnapshot(status=batch.RUNNING, index=0, total=2, name="a")
    assert "generating data" in batch.progress_text(starting)
