"""Training in the background: one job per click, a bounded number running at once.

The app never trains inside a Streamlit script run: a `TrainingJob` runs the `Trainer`
on its own thread and keeps a snapshot (latest progress, history rows, latest trace)
that the page reads whenever it redraws. So a page can be left and come back to, Stop
only sets a flag, and a rerun never cuts `model.fit` in half.

A `JobQueue` bounds how many jobs train at once (each one already uses every core
through TensorFlow's thread pools); the rest wait in order and can see their place and
an estimate of their wait (the median time of recent jobs). While a job waits, the
queue's preparer thread already makes its data, builds its model and traces it
untrained, one job at a time in queue order, so that a class that presses Train at once
sees its first charts in seconds and not after every training ahead of it.

On a shared server the queue also watches its jobs: a job whose session has not been
seen for `session_timeout` seconds (its tab was closed) is stopped, or cancelled if it
still waits, and a job that trains longer than `max_seconds` is stopped. A session is
"seen" when its page runs (`TrainingJob.touch`) or when the job's `alive` probe (given
by the app: is the browser still connected?) says so.

Example:

>>> from lstm_explorer.config import ExperimentConfig
>>> config = ExperimentConfig.from_dict({"task": {"n_samples": 64, "seq_len": 8},
...                                      "model": {"layers": [{"units": 4}]},
...                                      "training": {"epochs": 1}})
>>> queue = JobQueue(max_running=1)
>>> job = queue.submit(config)
>>> job.wait(timeout=120).status
'finished'
"""

from __future__ import annotations

import itertools
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lstm_explorer import timeline
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError

QUEUED, PREPARING, RUNNING, FINISHED, STOPPED, DIVERGED, FAILED, CANCELLED = (
    "queued", "preparing", "running", "finished", "stopped", "diverged", "failed",
    "cancelled")
DONE = (FINISHED, STOPPED, DIVERGED, FAILED, CANCELLED)


@dataclass
class Snapshot:
    """What a page needs to draw a job, copied under the job's lock.

    Args:
        status: one of queued, preparing, running, finished, stopped, diverged,
            failed, cancelled.
        place: 1-based place in the queue while queued, else 0.
        wait: while queued, the estimated seconds until it starts (`None` until the
            queue has timed a job).
        epoch, epochs, batch, batches, loss, elapsed, remaining, fraction: the
            latest progress (see `training.Event`).
        rows: the history rows so far.
        trace: the latest trace of the probe batch (`trace.Trace`), if any.
        message: how it ended, or a note while it runs.
        result: the `training.TrainingResult` once done.
        phase: the step under way that moves no batch count (making the data,
            compiling the training step, validating...), or `""`.
        phase_since: `time.monotonic()` when that step began.
        started_at: `time.monotonic()` when the job began to prepare or train, or
            `None`; a progress line counts the seconds from it, live.
    """

    status: str = QUEUED
    place: int = 0
    wait: float | None = None
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    loss: float | None = None
    elapsed: float = 0.0
    remaining: float | None = None
    fraction: float = 0.0
    rows: list = field(default_factory=list)
    trace: Any = None
    message: str = ""
    result: Any = None
    version: int = 0
    phase: str = ""
    phase_since: float = 0.0
    started_at: float | None = None

    @property
    def done(self) -> bool:
        return self.status in DONE


class TrainingJob:
    """One training of one config, run on a background thread by a `JobQueue`.

    Args:
        config: the experiment.
        csv_text: CSV content for the csv task. Default: `None`.
        name: a label for the run. Default: `None` (derived from the config).
        alive: a probe that says whether the session that owns the job is still there
            (e.g. its browser is connected); asked by the queue's watcher. Default:
            `None` (only `touch` counts).
    """

    def __init__(self, config: ExperimentConfig, *, csv_text: str | None = None,
                 name: str | None = None, alive: Callable[[], bool] | None = None):
        self.config = config
        self.csv_text = csv_text
        self.name = name or ""
        self.alive = alive
        self.created = time.time()
        self.last_seen = time.monotonic()
        self.started: float | None = None  # monotonic time it left the queue
        self.stop_reason = ""
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._traced_or_done = threading.Event()
        self._state = Snapshot()
        self._trainer = None
        self._cancelled = False
        # Held while the data and model are made, by the preparer or the trainer
        # (whichever reaches the job first; the other waits for it).
        self._prepare_lock = threading.Lock()
        self._prepare_claimed = False
        self.queue: JobQueue | None = None

    # --- reading ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """A consistent copy of the job's state (rows are copied, traces shared)."""
        with self._lock:
            state = Snapshot(**{**self._state.__dict__, "rows": list(self._state.rows)})
        if state.status == QUEUED and self.queue is not None:
            state.place = self.queue.place(self)
            state.wait = self.queue.wait_estimate(state.place) if state.place else None
        return state

    @property
    def status(self) -> str:
        return self._state.status

    def wait_for_trace(self, timeout: float | None = None) -> bool:
        """Block until the job has a trace of the probe batch, or is done, or the timeout
        passes; returns whether it has a trace. Waits without polling, so that a class
        of page runs waiting at once costs the server nothing."""
        self._traced_or_done.wait(timeout)
        with self._lock:
            return self._state.trace is not None

    def wait(self, timeout: float | None = None) -> Snapshot:
        """Block until the job is done (or the timeout passes); returns a snapshot."""
        self._done.wait(timeout)
        return self.snapshot()

    # --- control ------------------------------------------------------------------------

    def touch(self) -> None:
        """Note that the session that owns the job is still there (its page ran)."""
        self.last_seen = time.monotonic()

    def unseen_for(self, now: float | None = None) -> float:
        """Seconds since the owning session was last seen, asking the `alive` probe."""
        if self.alive is not None:
            try:
                if self.alive():
                    self.touch()
            except Exception:  # noqa: BLE001 - a broken probe counts as "not seen"
                pass
        return (time.monotonic() if now is None else now) - self.last_seen

    def stop(self, reason: str = "") -> None:
        """Stop: a queued job is cancelled; a running one stops after its current batch.

        Args:
            reason: why, when it is not the person's own request; it becomes the job's
                message. Default: `""`.
        """
        with self._lock:
            self._cancelled = True
            if reason and not self.stop_reason:
                self.stop_reason = reason
            trainer = self._trainer
            timeline.mark("stop requested", status=self._state.status,
                          trainer=trainer is not None)
            if self._state.status == QUEUED:
                self._finish_locked(CANCELLED, f"Cancelled before it started. {reason}"
                                    .strip())
        if trainer is not None:
            trainer.request_stop()

    # --- running (called by the queue's worker) -----------------------------------------

    def _prepare(self) -> bool:
        """Make the data and build (and trace) the model, once; `False` when the job
        was cancelled or failed instead (it is then finished)."""
        from lstm_explorer import loading

        loading.import_tensorflow()  # one thread imports TensorFlow; the others wait
        from lstm_explorer.training import Trainer

        with self._prepare_lock:
            with self._lock:
                if self._cancelled or self._state.done:
                    self._finish_locked(CANCELLED, "Cancelled before it started.")
                    return False
                if self._trainer is not None:
                    return True
            trainer = Trainer(self.config, on_event=self._on_event, csv_text=self.csv_text)
            try:
                trainer.prepare()
            except ConfigError as error:
                with self._lock:
                    self._finish_locked(FAILED, str(error))
                return False
            except Exception as error:  # noqa: BLE001 - a failed job must not kill a thread
                with self._lock:
                    self._finish_locked(FAILED, f"Training failed: {type(error).__name__}: "
                                                f"{error}")
                return False
            with self._lock:
                if self._cancelled:
                    self._finish_locked(CANCELLED, "Cancelled before it started.")
                    return False
                self._trainer = trainer
            return True

    def _run(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self.started = time.monotonic()
            if self._trainer is None:
                self._update_locked(status=PREPARING, message="Generating data and "
                                                              "building the model...",
                                    started_at=self.started)
        if not self._prepare():
            return
        # Jobs waiting behind this one: their previews come sooner if this job traces its
        # graph before its fit and its epoch ends between epochs, than on a thread beside
        # the training (measured with bench/load_test.py).
        others_waiting = self.queue is not None and self.queue.waiting > 0
        try:
            result = self._trainer.run(trace_in_background=not others_waiting)
        except ConfigError as error:
            with self._lock:
                self._finish_locked(FAILED, str(error))
            return
        except Exception as error:  # noqa: BLE001 - a failed job must not kill the worker
            with self._lock:
                self._finish_locked(FAILED, f"Training failed: {type(error).__name__}: {error}")
            return
        if result.status == STOPPED and self.stop_reason:
            epochs = len(result.history["epochs"])
            result.message = (f"{self.stop_reason} The model keeps what it learned in "
                              f"{epochs} epoch(s).")
            result.history["message"] = result.message
        with self._lock:
            self._state.result = result
            self._finish_locked(result.status, result.message)

    def _on_event(self, event) -> None:
        if event.kind == "phase":  # says what runs; the numbers stay as they were
            with self._lock:
                self._update_locked(phase=event.message, phase_since=time.monotonic())
            return
        with self._lock:
            changes: dict[str, Any] = {"epoch": event.epoch, "epochs": event.epochs,
                                       "batch": event.batch, "batches": event.batches,
                                       "elapsed": event.elapsed, "remaining": event.remaining,
                                       "fraction": event.fraction}
            if event.loss is not None:
                changes["loss"] = event.loss
            if event.kind == "started":
                changes.update(status=RUNNING, message=event.message,
                               started_at=time.monotonic())
            if event.kind in ("progress", "epoch"):
                changes.update(phase="")
            if event.row is not None:
                self._state.rows.append(event.row)
            if event.trace is not None:
                changes["trace"] = event.trace
                self._traced_or_done.set()
            self._update_locked(**changes)

    def _update_locked(self, **changes) -> None:
        for key, value in changes.items():
            setattr(self._state, key, value)
        self._state.version += 1

    def _finish_locked(self, status: str, message: str) -> None:
        if self._state.done:
            return
        timeline.mark("job finished", status=status)
        self._update_locked(status=status, message=message,
                            fraction=1.0 if status == FINISHED else self._state.fraction)
        self._done.set()
        self._traced_or_done.set()
        if self.queue is not None:
            self.queue._forget(self)
            if self.started is not None:
                self.queue._timed(time.monotonic() - self.started)


class JobQueue:
    """Runs submitted jobs on worker threads, at most `max_running` at once, in order.

    Thread-safe; one queue serves every session of a server. It keeps a job only while
    the job waits or trains: results belong to the sessions.

    Args:
        max_running: how many jobs may train at once. Default: 1.
        session_timeout: stop (or cancel) a job whose session has not been seen for
            this many seconds. Default: `None` (never).
        max_seconds: stop a job that has trained for this many seconds. Default:
            `None` (no limit).
        check_every: seconds between the watcher's checks. Default: `None` (a quarter
            of the shorter of the two, at most 5 s).
    """

    def __init__(self, max_running: int = 1, *, session_timeout: float | None = None,
                 max_seconds: float | None = None, check_every: float | None = None):
        if max_running < 1:
            raise ValueError(f"max_running={max_running!r}: must be at least 1")
        self.max_running = max_running
        self.session_timeout = session_timeout
        self.max_seconds = max_seconds
        self._lock = threading.Condition()
        self._waiting: deque[TrainingJob] = deque()
        self._running: set[TrainingJob] = set()
        self._durations: deque[float] = deque(maxlen=20)
        self._workers = [threading.Thread(target=self._work, daemon=True,
                                          name=f"lstm-explorer-trainer-{index}")
                         for index in range(max_running)]
        for worker in self._workers:
            worker.start()
        threading.Thread(target=self._prepare_waiting, daemon=True,
                         name="lstm-explorer-preparer").start()
        windows = [value for value in (session_timeout, max_seconds) if value]
        if windows:
            self.check_every = check_every or min(5.0, min(windows) / 4)
            threading.Thread(target=self._watch, daemon=True,
                             name="lstm-explorer-watcher").start()

    def submit(self, config: ExperimentConfig, **job_arguments) -> TrainingJob:
        """Queue a training of `config`; returns its job at once."""
        job = TrainingJob(config, **job_arguments)
        job.queue = self
        with self._lock:
            self._waiting.append(job)
            self._lock.notify_all()  # a trainer, or else the preparer
        return job

    def place(self, job: TrainingJob) -> int:
        """1-based place of a waiting job in the queue; 0 when it is not waiting."""
        with self._lock:
            for index, waiting in enumerate(self._waiting):
                if waiting is job:
                    return index + 1
        return 0

    def wait_estimate(self, place: int) -> float | None:
        """Seconds a job at `place` may wait: the median time of the last 20 jobs, times
        the rounds of `max_running` jobs ahead of it; `None` before any job was timed."""
        with self._lock:
            durations = list(self._durations)
        if not durations or place < 1:
            return None
        return statistics.median(durations) * math.ceil(place / self.max_running)

    def reap(self, now: float | None = None) -> list[TrainingJob]:
        """Stop the jobs whose session is gone and those over the time limit.

        Called by the watcher thread every `check_every` seconds; returns the jobs it
        asked to stop (a running one stops after its current batch).
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            jobs = [*self._waiting, *self._running]
        stopped = []
        for job in jobs:
            if job.stop_reason:
                continue
            reason = ""
            if self.session_timeout and job.unseen_for(now) > self.session_timeout:
                reason = (f"Stopped by the server: its page was closed (not seen for "
                          f"{self.session_timeout:g} s).")
            elif (self.max_seconds and job.started is not None
                  and now - job.started > self.max_seconds):
                reason = (f"Stopped by the server after {_duration(self.max_seconds)}, the "
                          "most one training may take here (an administrator sets it with "
                          "LSTM_EXPLORER_MAX_TRAINING_MINUTES).")
            if reason:
                job.stop(reason)
                stopped.append(job)
        return stopped

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def _forget(self, job: TrainingJob) -> None:
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)

    def _timed(self, seconds: float) -> None:
        with self._lock:
            self._durations.append(seconds)

    def _watch(self) -> None:
        while True:
            time.sleep(self.check_every)
            try:
                self.reap()
            except Exception:  # noqa: BLE001 - the watcher must outlive a bad probe
                pass

    def _prepare_waiting(self) -> None:
        while True:
            with self._lock:
                while not (job := self._next_unprepared()):
                    self._lock.wait()
                job._prepare_claimed = True
            try:
                job._prepare()
            except Exception:  # noqa: BLE001 - the preparer must outlive any job
                pass
            del job  # see _work

    def _next_unprepared(self) -> TrainingJob | None:
        # The first jobs in line go to idle workers at once, which prepare them: the
        # preparer is for the jobs that wait behind running ones.
        idle_workers = max(0, self.max_running - len(self._running))
        behind = itertools.islice(self._waiting, idle_workers, None)
        return next((job for job in behind if not job._prepare_claimed), None)

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                job = self._waiting.popleft()
                self._running.add(job)
            try:
                job._run()
            finally:
                with self._lock:
                    self._running.discard(job)
            # An idle worker must not keep the last job (and its model) alive: results
            # belong to the sessions, and a closed session's memory must be freed.
            del job


def _duration(seconds: float) -> str:
    """
    >>> _duration(600), _duration(90), _duration(30)
    ('10 min', '1.5 min', '30 s')
    """
    if seconds < 60:
        return f"{seconds:g} s"
    return f"{seconds / 60:.1f}".removesuffix(".0") + " min"
