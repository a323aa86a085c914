"""Background training jobs: a bounded queue, places in line, stop and cancel."""

import time

import pytest

from lstm_explorer.config import ExperimentConfig
from lstm_explorer.jobs import JobQueue

TINY = {"task": {"seq_len": 5, "n_samples": 48}, "model": {"layers": [{"units": 3}]},
        "training": {"epochs": 2, "batch_size": 16}}


def config(**training):
    data = {**TINY, "training": {**TINY["training"], **training}}
    return ExperimentConfig.from_dict(data)


def wait_until(condition, timeout=120):
    """Whether `condition()` holds within `timeout` seconds (looked at every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_a_job_trains_in_the_background_and_keeps_its_result():
    job = JobQueue(max_running=1).submit(config())
    snapshot = job.wait(timeout=300)
    assert snapshot.status == "finished" and snapshot.fraction == 1.0
    assert len(snapshot.rows) == 2 and snapshot.trace is not None
    assert snapshot.result.model.count_params() > 0


def test_jobs_beyond_the_limit_wait_in_order_and_know_their_place():
    queue = JobQueue(max_running=1)
    first = queue.submit(config(epochs=30))
    second, third = queue.submit(config()), queue.submit(config())
    # Stop while it trains (a Stop while its data and model are made cancels it).
    assert wait_until(lambda: first.snapshot().status == "running")
    assert (second.snapshot().place, third.snapshot().place) == (1, 2)
    assert queue.running == 1 and queue.waiting == 2
    first.stop()
    assert first.wait(timeout=300).status == "stopped"
    assert third.wait(timeout=300).status == "finished"
    assert second.snapshot().status == "finished"


def test_stopping_a_queued_job_cancels_it_before_it_starts():
    queue = JobQueue(max_running=1)
    running = queue.submit(config(epochs=30))
    waiting = queue.submit(config())
    waiting.stop()
    assert waiting.snapshot().status == "cancelled"
    running.stop()
    running.wait(timeout=300)
    assert waiting.snapshot().result is None


def test_a_waiting_job_shows_its_untrained_model_before_its_turn():
    queue = JobQueue(max_running=1)
    running = queue.submit(config(epochs=200))
    waiting = queue.submit(config())
    assert wait_until(lambda: waiting.snapshot().trace is not None)
    snapshot = waiting.snapshot()
    assert snapshot.status == "queued" and snapshot.place == 1
    assert snapshot.rows == [] and snapshot.trace.layers[0].values["h"].shape[-1] == 3
    # The first job may still be tracing its graph: the waiting one's preview comes op by
    # op, often sooner.
    assert running.snapshot().status in ("preparing", "running")
    running.stop()
    assert waiting.wait(timeout=300).status == "finished"


def test_jobs_of_a_new_architecture_show_their_untrained_model_op_by_op_and_trace_the_graph_once():
    from lstm_explorer import trace

    def architecture(units, epochs):
        return ExperimentConfig.from_dict({**TINY, "model": {"layers": [{"units": units}]},
                                           "training": {**TINY["training"], "epochs": epochs}})

    trace.clear_shared_graphs()
    queue = JobQueue(max_running=1)
    running = queue.submit(architecture(units=5, epochs=200))
    waiting = queue.submit(architecture(units=6, epochs=1))  # another graph, not traced yet
    assert wait_until(lambda: len(running.snapshot().rows) >= 1
                      and waiting.snapshot().trace is not None)
    # Both untrained pictures came op by op, the quickest way to one; the running job
    # traced its graph once it ran (before or during its fit, see the next test), the
    # waiting one has not yet.
    assert running._trainer.tracer.trace_count == 1
    assert waiting._trainer.tracer.trace_count == 0
    running.stop()
    assert waiting.wait(timeout=300).status == "finished"
    assert waiting._trainer.tracer.trace_count == 1  # during its first epoch


def test_a_job_that_others_wait_behind_traces_its_graph_before_its_fit(monkeypatch):
    from lstm_explorer import training

    backgrounds = {}
    run = training.Trainer.run

    def recorded_run(trainer, **arguments):
        backgrounds[trainer.config.training["seed"]] = arguments["trace_in_background"]
        return run(trainer, **arguments)

    monkeypatch.setattr(training.Trainer, "run", recorded_run)
    queue = JobQueue(max_running=1)
    first = queue.submit(config(epochs=200, seed=1))
    second, last = queue.submit(config(seed=2)), queue.submit(config(seed=3))
    assert wait_until(lambda: first.snapshot().status == "running")
    first.stop()
    assert last.wait(timeout=300).status == "finished"
    assert second.snapshot().status == "finished"
    # The second job started with the last one waiting behind it; the last one alone.
    assert backgrounds[2] is False and backgrounds[3] is True


def test_a_waiting_job_whose_data_cannot_be_made_fails_before_its_turn():
    queue = JobQueue(max_running=1)
    running = queue.submit(config(epochs=200))
    bad = queue.submit(ExperimentConfig.from_dict({"task": {"name": "csv",
                                                            "path": "/nonexistent.csv"}}))
    assert bad.wait(timeout=120).status == "failed"
    assert bad.snapshot().message.startswith("task.path=")
    # Its turn would come only after the first job's 200 epochs; that job may not even
    # have left the queue yet (the preparer can beat the idle worker to it).
    assert running.snapshot().status in ("queued", "preparing", "running")
    running.stop()
    running.wait(timeout=300)


def test_waiting_for_a_trace_returns_when_the_preparer_traced_the_job_or_it_ended():
    queue = JobQueue(max_running=1)
    running = queue.submit(config(epochs=200))
    waiting = queue.submit(config())
    assert waiting.wait_for_trace(timeout=120) is True
    assert waiting.snapshot().status == "queued"
    cancelled = queue.submit(config())
    cancelled.stop()
    started = time.monotonic()
    assert cancelled.wait_for_trace(timeout=60) is False
    assert time.monotonic() - started < 30  # it did not sit out the timeout
    running.stop()
    waiting.stop()


def test_a_job_cancelled_after_it_was_prepared_never_trains():
    queue = JobQueue(max_running=1)
    running = queue.submit(config(epochs=200))
    waiting = queue.submit(config())
    assert wait_until(lambda: waiting.snapshot().trace is not None)
    waiting.stop()
    running.stop()
    running.wait(timeout=300)
    time.sleep(0.2)  # a worker is free: it must not pick the cancelled job up
    snapshot = waiting.snapshot()
    assert snapshot.status == "cancelled" and snapshot.rows == []
    assert snapshot.result is None and queue.running == 0


def test_a_job_whose_config_cannot_run_fails_with_the_field_named_message():
    bad = ExperimentConfig.from_dict({"task": {"name": "csv", "path": "/nonexistent.csv"},
                                      "training": {"epochs": 1}})
    snapshot = JobQueue().submit(bad).wait(timeout=120)
    assert snapshot.status == "failed"
    assert snapshot.message.startswith("task.path=")


def test_the_queue_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="max_running=0"):
        JobQueue(max_running=0)




# --- a shared server: abandoned sessions, time limits, waiting estimates -------------------


def test_a_job_whose_session_is_gone_is_stopped_and_says_why():
    queue = JobQueue(max_running=1, session_timeout=60, check_every=3600)  # reap by hand
    running = queue.submit(config(epochs=200))
    waiting = queue.submit(config())
    assert wait_until(lambda: running.snapshot().status == "running")
    now = time.monotonic()
    assert queue.reap(now) == []  # both seen just now
    running.touch()
    assert queue.reap(now + 59) == []
    assert set(queue.reap(now + 61)) == {running, waiting}
    assert waiting.snapshot().status == "cancelled"
    snapshot = running.wait(timeout=300)
    assert snapshot.status == "stopped"
    assert "page was closed" in snapshot.message and "keeps what it learned" in snapshot.message
    assert snapshot.result.history["message"] == snapshot.message
    assert queue.running == 0 and queue.waiting == 0


def test_a_connected_session_keeps_its_job_without_page_runs():
    queue = JobQueue(max_running=1, session_timeout=1, check_every=3600)
    connected = {"yes": True}
    job = queue.submit(config(epochs=200), alive=lambda: connected["yes"])
    assert wait_until(lambda: job.snapshot().status == "running")
    assert queue.reap(time.monotonic() + 0.5) == []
    time.sleep(1.2)
    assert queue.reap() == []  # the probe counts as being seen
    connected["yes"] = False
    assert queue.reap(time.monotonic() + 2) == [job]
    assert job.wait(timeout=300).status == "stopped"


def test_the_watcher_stops_an_abandoned_job_by_itself():
    queue = JobQueue(max_running=1, session_timeout=0.5, check_every=0.1)
    job = queue.submit(config(epochs=500))
    assert job.wait(timeout=120).status in ("stopped", "cancelled")
    assert "page was closed" in job.snapshot().message


def test_a_job_over_the_time_limit_is_stopped():
    queue = JobQueue(max_running=1, max_seconds=600, check_every=3600)
    job = queue.submit(config(epochs=200))
    assert wait_until(lambda: job.snapshot().status == "running")
    assert queue.reap(job.started + 599) == []
    assert queue.reap(job.started + 601) == [job]
    snapshot = job.wait(timeout=300)
    assert snapshot.status == "stopped" and "after 10 min" in snapshot.message
    assert "LSTM_EXPLORER_MAX_TRAINING_MINUTES" in snapshot.message


def test_a_waiting_job_sees_an_estimate_once_a_job_was_timed():
    queue = JobQueue(max_running=1)
    assert queue.wait_estimate(1) is None
    queue.submit(config()).wait(timeout=300)
    blocker = queue.submit(config(epochs=200))
    waiting = queue.submit(config())
    assert wait_until(lambda: blocker.snapshot().status == "running")
    snapshot = waiting.snapshot()
    assert snapshot.place == 1 and snapshot.wait is not None and snapshot.wait > 0
    assert queue.wait_estimate(2) == pytest.approx(2 * queue.wait_estimate(1))
    blocker.stop()
    waiting.stop()
    blocker.wait(timeout=300)


def test_the_queue_keeps_no_finished_job_alive():
    import gc
    import weakref

    queue = JobQueue(max_running=1)
    job = queue.submit(config())
    job.wait(timeout=300)
    reference = weakref.ref(job)
    del job
    # The worker leaves `_run` a moment after the job reports its end: on two busy
    # cores that moment has taken over 0.2 s.
    deadline = time.monotonic() + 30
    while reference() is not None and time.monotonic() < deadline:
        time.sleep(0.1)
        gc.collect()
    assert reference() is None, "the queue still holds a finished job (and its model)"
