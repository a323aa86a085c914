"""The trainer: events, stop, divergence, stateful resets, and two trainers at once."""

import math
import threading
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstm_explorer import model as model_module
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.training import Trainer


def tiny(**sections):
    data = {"task": {"seq_len": 6, "n_samples": 96},
            "model": {"layers": [{"units": 4}]},
            "training": {"epochs": 2, "batch_size": 16}}
    for section, values in sections.items():
        if section == "model":
            data["model"].update(values)
        else:
            data.setdefault(section, {}).update(values)
    return ExperimentConfig.from_dict(data)


def test_events_arrive_in_order_with_a_history_row_and_trace_per_epoch():
    everything = []
    result = Trainer(tiny(), on_event=everything.append).run()
    events = [event for event in everything if event.kind != "phase"]
    kinds = [event.kind for event in events]
    # The untrained model is traced before training starts (a queued job shows it).
    assert kinds[:2] == ["initial", "started"] and kinds[-1] == "finished"
    assert events[0].trace.layers[0].values["h"].shape == (8, 6, 4)
    assert kinds.count("epoch") == 2
    assert "progress" in kinds
    epoch_events = [event for event in events if event.kind == "epoch"]
    assert [event.row["epoch"] for event in epoch_events] == [1, 2]
    row = result.history["epochs"][-1]
    assert {"loss", "val_loss", "mae", "val_mae", "seconds", "probe"} <= set(row)
    assert len(row["probe"]["grad_h"]["layer0"]) == 6
    assert len(result.traces) == 2
    assert result.status == "finished" and result.history["status"] == "finished"
    assert events[-1].fraction == 1.0


def test_every_step_that_moves_no_batch_count_is_named_as_a_phase_in_order():
    from lstm_explorer import training

    events = []
    Trainer(tiny(), on_event=events.append).run()
    phases = [event.message for event in events if event.kind == "phase"]
    assert phases[:4] == [training.MAKING_DATA, training.BUILDING_MODEL,
                          training.TRACING_UNTRAINED, training.PREPARING_STEP]
    assert f"{training.VALIDATING} epoch 1" in phases
    # Compiling the step ends with the first batch's progress, which says batch 1.
    after = events[[event.message for event in events].index(training.PREPARING_STEP) + 1:]
    first = next(event for event in after if event.kind == "progress")
    assert first.batch == 1 and first.epoch == 1


def test_no_time_left_is_guessed_before_an_epoch_has_finished():
    events = []
    Trainer(tiny(), on_event=events.append).run()
    progress = [event for event in events if event.kind in ("progress", "epoch")]
    first_epoch = [event for event in progress if event.kind == "progress"
                   and event.epoch == 1]
    assert first_epoch and all(event.remaining is None for event in first_epoch)
    later = [event for event in progress if event.epoch == 2 and event.kind == "progress"]
    assert later and all(event.remaining is not None and event.remaining >= 0
                         for event in later)


@pytest.mark.parametrize("cold", [True, False], ids=["first of its architecture", "later"])
def test_the_initial_trace_comes_before_the_first_update_and_shows_the_untrained_model(cold):
    from lstm_explorer import trace

    config = tiny()
    data, untrained = Trainer(config, trace=False).prepare()  # same seed: same weights
    kinds, weights_at_initial = [], []

    tracings_at_initial = []

    def record(event):
        kinds.append(event.kind)
        if event.kind == "initial":
            weights_at_initial.extend(weight.copy() for weight in trainer.model.get_weights())
            tracings_at_initial.append(trainer.tracer.trace_count)

    trainer = Trainer(config, data=data, on_event=record)
    if cold:
        trace.clear_shared_graphs()
    else:
        trace.Tracer(untrained)(data.probe_x, data.probe_y)  # an earlier training's graph
    trainer.run()
    assert kinds.index("initial") < kinds.index("progress")
    for weight, start in zip(weights_at_initial, untrained.get_weights(), strict=True):
        np.testing.assert_array_equal(weight, start)  # no update before the trace
    # The first training of an architecture takes its untrained trace op by op and has
    # the graph traced while it trains; later ones use the shared graph throughout.
    assert tracings_at_initial == [0]
    assert trainer.tracer.trace_count == (1 if cold else 0)
    expected = trace.Tracer(untrained)(data.probe_x, data.probe_y)
    initial = trainer.initial_trace
    np.testing.assert_allclose(initial.layers[0].values["h"], expected.layers[0].values["h"],
                               atol=1e-6)
    np.testing.assert_allclose(initial.layers[0].grad_h, expected.layers[0].grad_h,
                               rtol=1e-5, atol=1e-9)


def test_the_first_training_of_an_architecture_traces_its_graph_once_while_the_first_epoch_runs(
        monkeypatch):
    from lstm_explorer import trace

    config = tiny(training={"epochs": 2})
    trace.clear_shared_graphs()
    trainer = Trainer(config)
    _, model = trainer.prepare()
    probe = trainer._probe()
    assert trainer.tracer.trace_count == 0 and not trainer.tracer.ready(*probe)
    untrained = model.get_weights()
    builds = []
    build = trace.Tracer.build

    def recorded_build(tracer, inputs, targets):
        builds.append((threading.current_thread().name, model.optimizer.iterations.numpy()))
        build(tracer, inputs, targets)

    monkeypatch.setattr(trace.Tracer, "build", recorded_build)
    result = trainer.run()
    # Once, on the tracing thread, after the first update: fit's own step function is
    # traced by then.
    assert [name.startswith("tracer") for name, _ in builds] == [True]
    assert builds[0][1] >= 1
    assert trainer.tracer.trace_count == 1
    assert not any(thread.name.startswith("tracer") for thread in threading.enumerate())
    # The epoch ends' traces through the graph equal op-by-op traces of the same weights,
    # and the op-by-op untrained trace equals the graph's.
    expected = trace.Tracer(result.model)(*probe, eager=True)
    np.testing.assert_allclose(result.trace.layers[0].values["c"],
                               expected.layers[0].values["c"], atol=1e-6)
    model.set_weights(untrained)
    through_graph = trace.Tracer(model)(*probe)
    np.testing.assert_allclose(trainer.initial_trace.layers[0].values["c"],
                               through_graph.layers[0].values["c"], atol=1e-6)
    np.testing.assert_allclose(trainer.initial_trace.layers[0].grad_c,
                               through_graph.layers[0].grad_c, rtol=1e-5, atol=1e-9)


def test_each_epoch_is_traced_from_its_end_weights_while_the_next_epoch_trains(monkeypatch):
    from lstm_explorer import trace, training

    ends = []
    on_epoch_end = training._EventCallback.on_epoch_end

    def recorded_end(callback, epoch, logs=None):
        ends.append(callback.model.get_weights())
        on_epoch_end(callback, epoch, logs)

    call = trace.Tracer.__call__
    tracing_threads = []

    def slow_call(tracer, *arguments, **keywords):
        if keywords.get("snapshot") is not None:
            tracing_threads.append(threading.current_thread().name)
            time.sleep(0.3)  # later epochs train meanwhile
        return call(tracer, *arguments, **keywords)

    monkeypatch.setattr(training._EventCallback, "on_epoch_end", recorded_end)
    monkeypatch.setattr(trace.Tracer, "__call__", slow_call)
    events = []
    trainer = Trainer(tiny(training={"epochs": 3}), on_event=events.append)
    result = trainer.run()

    assert len(tracing_threads) == 3
    assert all(name.startswith("tracer") for name in tracing_threads)
    kinds = [event.kind for event in events]
    assert kinds[-1] == "finished" and kinds.count("epoch") == 3
    # Progress, epoch ends and the finish arrive in the order they happened.
    order = [(event.epoch, event.kind == "epoch") for event in events
             if event.kind in ("progress", "epoch")]
    assert order == sorted(order)
    probe = trainer._probe()
    epoch_traces = [event.trace for event in events if event.kind == "epoch"]
    assert epoch_traces == result.traces
    for weights, traced in zip(ends, epoch_traces, strict=True):
        result.model.set_weights(weights)
        expected = trace.Tracer(result.model)(*probe, eager=True)
        np.testing.assert_allclose(traced.layers[0].values["h"],
                                   expected.layers[0].values["h"], atol=1e-6)
        np.testing.assert_allclose(traced.layers[0].grad_h, expected.layers[0].grad_h,
                                   rtol=1e-5, atol=1e-9)


def test_an_error_while_tracing_an_epoch_fails_the_training_with_its_message(monkeypatch):
    from lstm_explorer import trace

    call = trace.Tracer.__call__

    def failing_call(tracer, *arguments, **keywords):
        if keywords.get("snapshot") is not None:
            raise RuntimeError("the probe batch could not be traced")
        return call(tracer, *arguments, **keywords)

    monkeypatch.setattr(trace.Tracer, "__call__", failing_call)
    events = []
    with pytest.raises(RuntimeError, match="the probe batch could not be traced"):
        Trainer(tiny(training={"epochs": 3}), on_event=events.append).run()
    assert "epoch" not in [event.kind for event in events]
    assert not any(thread.name.startswith("tracer") for thread in threading.enumerate())


def test_a_training_asked_to_trace_before_fit_traces_on_its_own_thread_between_epochs():
    from lstm_explorer import trace

    trace.clear_shared_graphs()
    ready_at_start = []
    epoch_threads = []

    def record(event):
        if event.kind == "started":
            ready_at_start.append(trainer.tracer.ready(*trainer._probe()))
        if event.kind == "epoch":
            epoch_threads.append(threading.current_thread())

    trainer = Trainer(tiny(training={"epochs": 2}), on_event=record)
    trainer.run(trace_in_background=False)
    assert ready_at_start == [True]
    assert trainer.tracer.trace_count == 1
    assert epoch_threads == [threading.current_thread()] * 2


def test_a_warmed_up_architecture_trains_without_tracing_its_graph_again():
    from lstm_explorer import trace
    from lstm_explorer.training import warm_up

    trace.clear_shared_graphs()
    warm_up(tiny())
    # Another seed, the same architecture: the warm graph serves it from the start.
    trainer = Trainer(tiny(training={"epochs": 2, "seed": 7}))
    result = trainer.run()
    assert trainer.tracer.trace_count == 0
    assert len(result.traces) == 2
    expected = trace.Tracer(result.model)(trainer.data.probe_x, trainer.data.probe_y,
                                          eager=True)
    np.testing.assert_allclose(result.trace.layers[0].values["c"],
                               expected.layers[0].values["c"], atol=1e-6)


def test_progress_reports_batches_and_time_left():
    events = []
    Trainer(tiny(), on_event=events.append, progress_every=1).run()
    progress = [event for event in events if event.kind == "progress"]
    batches = progress[0].batches
    assert batches == math.ceil(76 / 16)
    assert [event.batch for event in progress[:batches]] == list(range(1, batches + 1))
    # No guess in the first epoch (its first batch includes Keras's compiling), then one.
    assert all(event.remaining is None for event in progress[:batches])
    assert all(event.remaining is not None and event.remaining >= 0
               for event in progress[batches:])
    assert progress[-1].remaining == pytest.approx(0.0, abs=1e-6)


def test_a_stop_request_ends_training_within_the_epoch_and_keeps_the_weights():
    trainer = None

    def stop_after_two_batches(event):
        if event.kind == "progress" and event.epoch == 1 and event.batch == 2:
            trainer.request_stop()

    trainer = Trainer(tiny(training={"epochs": 50}), on_event=stop_after_two_batches,
                      progress_every=1)
    initial = [weight.copy() for weight in trainer.prepare()[1].get_weights()]
    result = trainer.run()
    assert result.status == "stopped"
    assert len(result.history["epochs"]) == 1
    assert "Stopped" in result.message
    changed = [not np.array_equal(a, b) for a, b in zip(initial, result.model.get_weights())]
    assert any(changed)


def test_a_nan_loss_stops_training_at_once_with_advice():
    config = tiny(model={"layers": [{"units": 8, "activation": "exponential"}]},
                  training={"learning_rate": 10.0, "optimizer": "sgd", "epochs": 20})
    events = []
    result = Trainer(config, on_event=events.append).run()
    assert result.status == "diverged"
    assert len(result.history["epochs"]) < 20
    assert "lower learning rate" in result.message and "clipnorm" in result.message
    assert events[-1].kind == "diverged"


def test_stateful_training_trims_to_whole_batches_and_resets_states_each_epoch(monkeypatch):
    resets = []
    original = model_module.reset_states
    monkeypatch.setattr(model_module, "reset_states",
                        lambda model: (resets.append(1), original(model)))
    config = tiny(model={"layers": [{"units": 4, "stateful": True}]},
                  training={"epochs": 3, "batch_size": 16})
    events = []
    result = Trainer(config, on_event=events.append).run()
    assert result.status == "finished"
    assert len(resets) == 6  # at each epoch start and before each validation pass
    started = next(event for event in events if event.kind == "started")
    assert "trimmed the training set from 76 to 64" in started.message
    assert started.batches == 4
    assert result.trace.inputs.shape[0] == 16


def test_fit_reads_pipelines_that_do_not_autotune_and_validates_on_the_whole_set(monkeypatch):
    # An autotuned iterator that a Stop leaves mid-epoch stalled the next training's
    # first step for up to a minute when the garbage collector freed it.
    passed = {}
    fit = keras.Model.fit

    def remember_inputs(model, x=None, *arguments, validation_data=None, **keywords):
        passed["train"], passed["validation"] = x, validation_data
        return fit(model, x, *arguments, validation_data=validation_data, **keywords)

    monkeypatch.setattr(keras.Model, "fit", remember_inputs)
    result = Trainer(tiny(training={"epochs": 1, "batch_size": 8}), trace=False).run()
    for name in ("train", "validation"):
        assert isinstance(passed[name], tf.data.Dataset), name
        assert passed[name].options().autotune.enabled is False, name
    data = result.data
    assert sum(len(x) for x, _ in passed["validation"]) == len(data.x_val)
    expected = result.model.evaluate(data.x_val, data.y_val, verbose=0, return_dict=True)
    assert result.history["epochs"][-1]["val_loss"] == pytest.approx(expected["loss"], rel=1e-5)


def test_the_same_config_trains_to_the_same_weights_twice():
    first = Trainer(tiny(), trace=False).run().model.get_weights()
    second = Trainer(tiny(), trace=False).run().model.get_weights()
    assert all(np.allclose(a, b) for a, b in zip(first, second))


def test_two_trainers_in_two_threads_give_the_same_results_as_alone():
    configs = [tiny(), tiny(training={"seed": 5}, model={"layers": [{"units": 3}]})]
    alone = [Trainer(config, trace=False).run().history["epochs"][-1]["loss"]
             for config in configs]
    together = [None, None]

    def train(index):
        together[index] = Trainer(configs[index], trace=False).run().history[
            "epochs"][-1]["loss"]

    threads = [threading.Thread(target=train, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert together == pytest.approx(alone, rel=1e-5)
