"""Train a config's model with `model.fit`, reporting events a UI can draw from.

`Trainer.run()` builds the data and the model, then runs a single `model.fit` call with
one callback that:
- every few batches emits a `progress` event (epoch, batch, loss, time left) and obeys a
  stop request, so Stop takes effect within a fraction of an epoch;
- stops at the first NaN/inf loss with a `diverged` event that says what to try;
- at each epoch end traces the fixed probe batch (gates, states, per-step gradients, see
  `trace.py`) and emits an `epoch` event with the history row and the trace;
- resets stateful layers at each epoch start with `reset_state()`.

Nothing here touches Keras's process-global state (no `clear_session`, no global
seed), so several trainers can run in threads of one server.

Example:

>>> from lstm_explorer.config import ExperimentConfig
>>> config = ExperimentConfig.from_dict({"task": {"n_samples": 64, "seq_len": 8},
...                                      "model": {"layers": [{"units": 4}]},
...                                      "training": {"epochs": 2}})
>>> result = Trainer(config).run()
>>> result.status, len(result.history["epochs"])
('finished', 2)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from lstm_explorer import model as model_module
from lstm_explorer import tasks, timeline
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.trace import Trace, Tracer

STARTED, INITIAL, PROGRESS, EPOCH, STOPPED, DIVERGED, FINISHED, PHASE = (
    "started", "initial", "progress", "epoch", "stopped", "diverged", "finished", "phase")

# What a progress line says while no batch count moves (each can take seconds).
MAKING_DATA = "Making the data"
BUILDING_MODEL = "Building the model"
TRACING_UNTRAINED = "Tracing the untrained model"
PREPARING_STEP = ("Preparing the training step (Keras traces and compiles it before the "
                  "first batch)")
VALIDATING = "Validating"
TRACING_EPOCH = "Tracing the epoch's gates and gradients"

DIVERGED_ADVICE = (
    "Try a lower learning rate (e.g. a tenth), set training.clipnorm to 1.0 so each "
    "gradient is rescaled to norm 1, or use a bounded activation such as tanh instead "
    "of relu or linear."
)


@dataclass
class Event:
    """Something that happened during training, for a UI or a progress line.

    Args:
        kind: `"started"`, `"initial"` (the probe batch traced before the first
            update, so the gates can be drawn at once), `"progress"`, `"epoch"`,
            `"stopped"`, `"diverged"`, `"finished"`, or `"phase"` (a step that moves no
            batch count begins: `message` names it; an empty one ends it).
        epoch: 1-based epoch it happened in (0 before the first).
        epochs: how many epochs were asked for.
        batch: 1-based batch within the epoch (0 at epoch boundaries).
        batches: batches per epoch.
        loss: the latest training loss (running mean over the epoch), if any.
        elapsed: seconds since training started.
        remaining: estimated seconds until the last epoch ends; `None` until one epoch
            has finished (the first batches include Keras's tracing and say little).
        row: for `"epoch"`, the history row (see `TrainingResult.history`).
        trace: for `"initial"` and `"epoch"`, the trace of the probe batch then.
        message: for `"stopped"`, `"diverged"` and `"finished"`, a sentence to show;
            for `"phase"`, the step that begins.
    """

    kind: str
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    loss: float | None = None
    elapsed: float = 0.0
    remaining: float | None = None
    row: dict | None = None
    trace: Trace | None = None
    message: str = ""

    @property
    def fraction(self) -> float:
        """How much of the whole training is done, from 0 to 1."""
        if not self.epochs or not self.batches:
            return 0.0
        done = (self.epoch - 1) + (self.batch / self.batches if self.batch else 1.0)
        if self.kind in (STARTED,):
            return 0.0
        return max(0.0, min(1.0, done / self.epochs))


@dataclass
class TrainingResult:
    """What a finished (or stopped, or diverged) training leaves behind.

    Args:
        config: the config that was trained.
        model: the trained `keras.Model` (weights as they were when training ended).
        data: the `tasks.TaskData` it was trained on.
        history: `{"epochs": [row, ...], "status": ..., "message": ..., "notes": [...],
            "baseline": {...}}`; each row has `epoch`, `loss`, `val_loss`, the metric and
            `val_` metric, `seconds`, and `probe` (the trace summary: loss, grad_h,
            grad_c, weight_grad_norms, saturation); `baseline` is
            `tasks.trivial_baseline(config, data).to_dict()`, what a model that learned
            nothing scores on the same data.
        traces: the trace of the probe batch at each epoch end, in order.
        status: `"finished"`, `"stopped"` or `"diverged"`.
        message: a sentence that says how it ended.
    """

    config: ExperimentConfig
    model: keras.Model
    data: Any
    history: dict
    traces: list[Trace] = field(default_factory=list)
    status: str = FINISHED
    message: str = ""

    @property
    def trace(self) -> Trace | None:
        """The trace at the last epoch end, if any."""
        return self.traces[-1] if self.traces else None


class Trainer:
    """Builds the data and model of a config and trains it, emitting `Event`s.

    Args:
        config: the experiment.
        on_event: called with each `Event`, on the training thread. Default: `None`.
        data: a `tasks.TaskData` to train on instead of generating it. Default: `None`.
        csv_text: the CSV content for the csv task (the app's upload). Default: `None`
            (read `task.path`).
        epochs: overrides `training.epochs`. Default: `None`.
        trace: whether to trace the probe batch at every epoch end. Default: `True`.
        progress_every: emit a `progress` event every this many batches. Default:
            `None` (about ten per epoch).

    Example:

    >>> from lstm_explorer.config import ExperimentConfig
    >>> events = []
    >>> config = ExperimentConfig.from_dict({"task": {"n_samples": 64, "seq_len": 8},
    ...                                      "training": {"epochs": 1}})
    >>> _ = Trainer(config, on_event=events.append).run()
    >>> [event.kind for event in events if event.kind != "phase"][:2], events[-1].kind
    (['initial', 'started'], 'finished')
    >>> [event.message for event in events if event.kind == "phase"][:3]
    ['Making the data', 'Building the model', 'Tracing the untrained model']
    """

    def __init__(self, config: ExperimentConfig, *, on_event: Callable[[Event], Any] | None = None,
                 data: Any = None, csv_text: str | None = None, epochs: int | None = None,
                 trace: bool = True, progress_every: int | None = None):
        self.config = config
        self.on_event = on_event or (lambda event: None)
        self.data = data
        self.csv_text = csv_text
        self.epochs = epochs or config.training["epochs"]
        self.trace = trace
        self.progress_every = progress_every
        self.model: keras.Model | None = None
        self.tracer: Tracer | None = None
        self.initial_trace: Trace | None = None
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """Ask training to stop after the current batch; what was learned is kept."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def prepare(self):
        """Generate the data, build the model and trace it untrained.

        `run` does it if it was not called first. Apart, it lets a queue prepare a job
        while others train: the untrained model's trace (an `"initial"` event) is then
        there to draw before the job's turn comes.

        When no graph of the architecture is at hand yet (the first training of it in
        the process), the untrained model is traced op by op (about 0.1 s for the
        default preset), the quickest way to a first picture; `run` then has the graph
        traced on a thread of its own while the first epoch trains (see `Tracer.build`).
        """
        timeline.mark("prepare")
        if self.data is None:
            self.on_event(Event(PHASE, message=MAKING_DATA))
            self.data = tasks.make(self.config.task,
                                   validation_split=self.config.training["validation_split"],
                                   per_step_targets=self.config.per_step_targets,
                                   csv_text=self.csv_text)
            timeline.mark("data made")
        if self.model is None:
            self.on_event(Event(PHASE, message=BUILDING_MODEL))
            self.model = model_module.build(self.config)
            timeline.mark("model built")
        if self.trace and self.tracer is None:
            self.tracer = Tracer(self.model)
            # The untrained model's gates and gradients: something to look at within a
            # second of pressing Train, and the "before" of the before/after picture.
            # Through the shared graph when there is one; if not, op by op rather than
            # wait for its tracing, which overlaps the first epoch instead.
            probe = self._probe()
            self.on_event(Event(PHASE, message=TRACING_UNTRAINED))
            ready = self.tracer.ready(*probe)
            self.initial_trace = self.tracer(*probe, eager=not ready)
            timeline.mark("initial trace", graph_ready=ready,
                          seed=self.config.training["seed"])
            self.on_event(Event(INITIAL, epochs=self.epochs, batches=self._batches(),
                                trace=self.initial_trace))
        return self.data, self.model

    @property
    def _stateful(self) -> bool:
        return any(layer["stateful"] for layer in self.config.model["layers"])

    def _probe(self):
        return _probe_batch(self.data,
                            self.config.training["batch_size"] if self._stateful else None)

    def _batches(self) -> int:
        """Batches per epoch (a stateful model drops the last, partial batch)."""
        samples, batch_size = len(self.data.x_train), self.config.training["batch_size"]
        if self._stateful:
            return max(1, samples // batch_size)
        return max(1, math.ceil(samples / batch_size))

    def run(self, *, trace_in_background: bool = True) -> TrainingResult:
        """Train, emitting events; returns when training finished, stopped or diverged.

        Args:
            trace_in_background: trace the probe batch on a thread of its own while
                the training goes on: the graph of a first training during the first
                epoch, each epoch's end during the next; the quickest for a training on
                its own. `False` traces the graph before fit and each epoch end between
                epochs: for a queue with jobs waiting, whose preparation a tracing
                thread would slow down (both need Python's interpreter lock).
                Default: `True`.
        """
        data, model = self.prepare()
        training = self.config.training
        batch_size = training["batch_size"]
        stateful = self._stateful
        x_train, y_train = data.x_train, data.y_train
        notes = []
        if stateful:
            usable = (len(x_train) // batch_size) * batch_size
            if usable < len(x_train):
                notes.append(f"Stateful: trimmed the training set from {len(x_train)} to "
                             f"{usable} sequences, a multiple of the batch size {batch_size}.")
            x_train, y_train = x_train[:usable], y_train[:usable]
            if self.config.task.get("stream"):
                x_train, y_train = tasks.arrange_for_state(x_train, y_train, batch_size)
                notes.append("Stateful stream: each batch row continues the same row of "
                             "the batch before.")
        validation = _validation_data(data, batch_size if stateful else None)
        if stateful and validation is not None and self.config.task.get("stream"):
            validation = tasks.arrange_for_state(*validation, batch_size)
        probe_x, probe_y = self._probe()
        batches = self._batches()
        if self.tracer is not None and not trace_in_background:
            if not self.tracer.ready(probe_x, probe_y):
                self.tracer.build(probe_x, probe_y)
                timeline.mark("graph built")
        callback = _EventCallback(self, batches, probe_x, probe_y,
                                  in_background=trace_in_background)
        self.on_event(Event(STARTED, epochs=self.epochs, batches=batches,
                            message=" ".join(notes)))
        self.on_event(Event(PHASE, epoch=1, epochs=self.epochs, batches=batches,
                            message=PREPARING_STEP))
        dataset = _dataset(x_train, y_train, batch_size, shuffle=not stateful,
                           seed=training["seed"])
        # The dataset is already shuffled with its own seed; Keras must not shuffle again.
        if validation is not None:
            # A pipeline of ours too (see `_dataset`), batched like training: a stateful
            # model's batch size is fixed.
            validation = _dataset(*validation, batch_size, shuffle=False, seed=0)
        try:
            model.fit(dataset, validation_data=validation, epochs=self.epochs, verbose=0,
                      shuffle=False, callbacks=[callback])
        except BaseException:
            callback.finish_tracing(raise_errors=False)  # the fit's own error comes first
            raise
        # Every epoch's trace and event, before the training's end is told.
        callback.finish_tracing(raise_errors=True)
        # The traced step functions hold their graphs (about 10 MB for a small LSTM); a
        # finished run keeps only the weights, so let them go, as `compile` does (Keras
        # traces them again if the model is ever trained or evaluated again).
        model.train_function = model.test_function = model.predict_function = None
        history = {"epochs": callback.rows, "status": callback.status,
                   "message": callback.final_message(), "notes": notes,
                   # Kept with the run, so that a saved run can be judged without its data.
                   "baseline": tasks.trivial_baseline(self.config, data).to_dict()}
        result = TrainingResult(self.config, model, data, history, callback.traces,
                                callback.status, history["message"])
        kind = {FINISHED: FINISHED, "stopped": STOPPED, "diverged": DIVERGED}[callback.status]
        self.on_event(Event(kind, epoch=len(callback.rows), epochs=self.epochs,
                            batches=batches, elapsed=callback.elapsed(),
                            message=result.message))
        return result


def warm_up(config: ExperimentConfig) -> None:
    """Trace the probe batch's graph for a config's architecture before anyone trains it.

    The first training of an architecture in a process traces the tracer's graph (about
    0.2 s for the default preset, alongside its first epoch) and takes its untrained
    picture op by op; every later training of the same architecture, whatever its seed
    or initializers, reuses the graph (see `trace.Tracer`).
    The app calls this for the default preset once its first page has run, so the
    trainings most people begin with are instrumented at the cost of a warm graph:
    about 5 ms per epoch. The model built here is dropped; only the graph is kept.

    Args:
        config: the experiment whose architecture and probe-batch shape to prepare.

    Example:

    >>> from lstm_explorer.config import ExperimentConfig
    >>> config = ExperimentConfig.from_dict({"task": {"n_samples": 64, "seq_len": 7},
    ...                                      "model": {"layers": [{"units": 5}]}})
    >>> warm_up(config)
    >>> trainer = Trainer(config)
    >>> _ = trainer.prepare()
    >>> trainer.tracer.ready(*trainer._probe()), trainer.tracer.trace_count
    (True, 0)
    """
    trainer = Trainer(config, trace=False)
    trainer.prepare()
    Tracer(trainer.model).build(*trainer._probe())
    timeline.mark("graph warmed up")


def _dataset(x, y, batch_size: int, *, shuffle: bool, seed: int):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        # An op-level seed makes the order reproducible without touching TF's global
        # seed, which every other session on the server shares.
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    # No tf.data autotuning: these pipelines have nothing to tune, and destroying an
    # autotuned iterator waits for a tf.data background thread. A Stop leaves fit's
    # iterator mid-epoch, the garbage collector frees it whenever it runs, often in the
    # next training's first step, which then stalled for 3-37 s in 1 to 4 of every
    # 40-60 stop-then-train cycles (0 of 140 without autotuning; py-spy showed the
    # wait in `~IteratorResource`).
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.batch(batch_size).with_options(options)


def _validation_data(data, fixed_batch: int | None):
    if data.x_val is None or len(data.x_val) == 0:
        return None
    x_val, y_val = data.x_val, data.y_val
    if fixed_batch:
        usable = (len(x_val) // fixed_batch) * fixed_batch
        if usable == 0:
            return None
        x_val, y_val = x_val[:usable], y_val[:usable]
    return (x_val, y_val)


def _probe_batch(data, fixed_batch: int | None):
    """The probe batch; a stateful model traces a full batch, as its states have that size."""
    if not fixed_batch or len(data.probe_x) == fixed_batch:
        return data.probe_x, data.probe_y
    source_x = np.concatenate([data.probe_x, data.x_val, data.x_train])
    source_y = np.concatenate([data.probe_y, data.y_val, data.y_train])
    return source_x[:fixed_batch], source_y[:fixed_batch]


class _EventCallback(keras.callbacks.Callback):
    def __init__(self, trainer: Trainer, batches: int, probe_x, probe_y, *,
                 in_background: bool = True):
        super().__init__()
        self.trainer = trainer
        self.batches = batches
        self.every = trainer.progress_every or max(1, batches // 10)
        self.probe_x, self.probe_y = probe_x, probe_y
        self.rows: list[dict] = []
        self.traces: list[Trace] = []
        self.status = FINISHED
        self.problem = ""
        self.tracer: Tracer | None = None
        self.started = time.perf_counter()
        self.epoch_started = self.started
        self.epoch = 0
        self.epochs_done = 0
        # The first batch includes Keras's tracing of its step: estimates start after it.
        self.first_batch_end: float | None = None
        self.stateful = any(layer["stateful"]
                            for layer in trainer.config.model["layers"])
        # The probe batch is traced on a thread of its own, from the weights as they
        # were at the epoch's end, while the next epoch trains; the events go through
        # that thread too, so that they keep their order.
        self.in_background = in_background
        self.tracing: ThreadPoolExecutor | None = None
        self.pending: list[Future] = []

    def build_graph_in_background(self) -> None:
        """Trace the tracer's graph on the tracing thread, if it is not at hand yet.

        Asked once the first batch has trained: by then fit has traced its own step
        function (Python, like this tracing: no gain in overlapping the two), and the
        rest of the epoch runs mostly in TensorFlow's kernels, which leave Python free.
        The first epoch end's trace waits for the graph; the training does not.
        """
        if self.tracing is None or self.tracer.ready(self.probe_x, self.probe_y):
            return
        timeline.mark("graph build started")

        def build():
            try:
                self.tracer.build(self.probe_x, self.probe_y)
            except Exception:  # noqa: BLE001
                # The first epoch end's own call traces the graph again and raises the
                # error where the training reports it.
                return
            timeline.mark("graph built")

        self.pending.append(self.tracing.submit(build))

    def emit(self, function, *arguments) -> None:
        """Call `function(*arguments)` after everything already asked of the tracing
        thread (at once when nothing is traced), raising what an earlier call raised."""
        if self.tracing is None:
            function(*arguments)
            return
        for future in [future for future in self.pending if future.done()]:
            self.pending.remove(future)
            future.result()
        self.pending.append(self.tracing.submit(function, *arguments))

    def finish_tracing(self, *, raise_errors: bool) -> None:
        """Wait for the tracing thread's work and let the thread go."""
        if self.tracing is None:
            return
        self.tracing.shutdown(wait=True)
        self.tracing = None
        pending, self.pending = self.pending, []
        if raise_errors:
            for future in pending:
                future.result()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def final_message(self) -> str:
        done = len(self.rows)
        if self.status == "diverged":
            return self.problem
        if self.status == "stopped":
            return (f"Stopped by request during epoch {self.epoch} of {self.trainer.epochs}; "
                    f"the model keeps what it learned in {done} epoch(s).")
        return f"Finished {done} epochs in {self.elapsed():.1f} s."

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        timeline.mark("fit set up")
        self.tracer = self.trainer.tracer  # built, and the initial trace sent, by prepare
        if self.tracer is not None and self.in_background:
            self.tracing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracer")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.epoch_started = time.perf_counter()
        if self.stateful:
            model_module.reset_states(self.model)

    def on_test_begin(self, logs=None):
        # The validation windows are a stream of their own: start it from zero state,
        # not from wherever the last training batch left each row.
        if self.stateful:
            model_module.reset_states(self.model)
        self.emit(self.trainer.on_event,
                  Event(PHASE, epoch=self.epoch, epochs=self.trainer.epochs,
                        batch=self.batches, batches=self.batches,
                        message=f"{VALIDATING} epoch {self.epoch}"))

    def remaining(self, batches_done: int) -> float | None:
        """Seconds left, from the pace after the first batch; `None` in the first epoch."""
        if self.epochs_done == 0 or self.first_batch_end is None or batches_done < 2:
            return None
        pace = (time.perf_counter() - self.first_batch_end) / (batches_done - 1)
        return pace * (self.trainer.epochs * self.batches - batches_done)

    def on_train_batch_end(self, batch, logs=None):
        first = batch == 0 and self.epoch == 1
        if first:
            timeline.mark("first batch")
            self.first_batch_end = time.perf_counter()
            self.build_graph_in_background()
        loss = _float((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(loss):
            self.status = "diverged"
            self.problem = (f"The loss became {loss} in epoch {self.epoch}, batch {batch + 1}: "
                            "the weights overflowed (exploding gradients). "
                            + DIVERGED_ADVICE)
            self.model.stop_training = True
            return
        if self.trainer.stop_requested:
            if self.status != "stopped":
                timeline.mark("stop seen", epoch=self.epoch, batch=batch + 1)
            self.status = "stopped"
            self.model.stop_training = True
        number = batch + 1
        if first or number % self.every == 0 or number == self.batches:
            elapsed = self.elapsed()
            done = (self.epoch - 1) * self.batches + number
            remaining = self.remaining(done)
            self.emit(self.trainer.on_event,
                      Event(PROGRESS, epoch=self.epoch, epochs=self.trainer.epochs,
                            batch=number, batches=self.batches, loss=loss, elapsed=elapsed,
                            remaining=remaining))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row: dict[str, Any] = {"epoch": epoch + 1}
        for key, value in logs.items():
            row[key] = _float(value)
        row.setdefault("val_loss", None)
        row["seconds"] = time.perf_counter() - self.epoch_started
        snapshot = None
        if self.tracer is not None and self.status != "diverged":
            snapshot = self.tracer.snapshot()
        if self.status == "diverged":
            row["loss"] = math.nan
        elapsed = self.elapsed()
        self.epochs_done = epoch + 1
        remaining = self.remaining((epoch + 1) * self.batches)
        if snapshot is not None and not self.in_background:
            self.emit(self.trainer.on_event,
                      Event(PHASE, epoch=epoch + 1, epochs=self.trainer.epochs,
                            batch=self.batches, batches=self.batches,
                            message=f"{TRACING_EPOCH} {epoch + 1}"))
        self.emit(self.end_epoch, epoch, row, snapshot, elapsed, remaining)

    def end_epoch(self, epoch, row, snapshot, elapsed, remaining) -> None:
        trace = None
        if snapshot is not None:
            trace = self.tracer(self.probe_x, self.probe_y, snapshot=snapshot)
            row["probe"] = trace.summary()
            self.traces.append(trace)
        self.rows.append(row)
        self.trainer.on_event(Event(EPOCH, epoch=epoch + 1, epochs=self.trainer.epochs,
                                    batches=self.batches, loss=row.get("loss"),
                                    elapsed=elapsed, remaining=remaining, row=row,
                                    trace=trace))


def _float(value) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
