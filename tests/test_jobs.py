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
    deadline = time.time() + 60
    while first.snapshot().status == "queued" and time.time() < deadline:
        time.sleep(0.05)
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


def test_a_job_whose_config_cannot_run_fails_with_the_field_named_message():
    bad = ExperimentConfig.from_dict({"task": {"name": "csv", "path": "/nonexistent.csv"},
                                      "training": {"epochs": 1}})
    snapshot = JobQueue().submit(bad).wait(timeout=120)
    assert snapshot.status == "failed"
    assert snapshot.message.startswith("task.path=")


def test_the_queue_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="max_running=0"):
        JobQueue(max_running=0)


