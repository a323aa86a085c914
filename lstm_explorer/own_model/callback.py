"""`ExplorerCallback`: the explorer's run directory, written by your own `model.fit`.

The callback traces a fixed probe batch (gates, hidden and cell states, per-step
gradient norms, see `lstm_explorer.trace`) at the end of every `every`-th epoch, on a
thread of its own while the next epoch trains, as the explorer's own `Trainer` does, and
keeps a run directory up to date that the app reads live from another process:

```
LOG_DIR/model.json     what the model is (`description.describe`), written at the start
LOG_DIR/history.json   one row per epoch: the logs fit reports (loss, val_loss, metrics),
                       "seconds", and at traced epochs "probe" (per-step gradient norms,
                       weight-gradient norms, gate saturation); "status" is "running"
                       until the training ends, then "finished", "stopped" or "diverged"
LOG_DIR/trace.npz      the trace of the probe batch at the latest traced epoch (before
                       the first epoch: the untrained model); "trace_epoch" in
                       history.json says which
LOG_DIR/model.keras    the trained model, written when the training ends
```
Every file is replaced atomically, so a reader never sees half of one.

The model is checked at `on_train_begin` (`support.check_model`), and the probe batch
traced once there, untrained: a model or probe the explorer cannot trace stops `fit`
before its first step, never in the middle of a training.
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import keras
import numpy as np

from lstm_explorer import export
from lstm_explorer.own_model import rundir
from lstm_explorer.own_model.description import describe
from lstm_explorer.own_model.support import check_model
from lstm_explorer.trace import Trace, Tracer

__all__ = ["MAX_PROBE", "ExplorerCallback"]

#: The most sequences a probe batch may have: every gate of every step of every sequence
#: is kept, so a probe is a handful of examples, not a data set.
MAX_PROBE = 256

RUNNING, FINISHED, STOPPED, DIVERGED = "running", "finished", "stopped", "diverged"

_DIVERGED_ADVICE = ("Try a lower learning rate (e.g. a tenth), clip the gradients "
                    "(`clipnorm=1.0` in the optimizer), or a bounded activation such as tanh.")


class ExplorerCallback(keras.callbacks.Callback):
    """Writes an LSTM Explorer run directory from your own `model.fit`.

    Add it to `fit(..., callbacks=[...])` of a Sequential or functional model whose
    recurrent layers (LSTM, GRU, SimpleRNN, each possibly in Bidirectional) form a chain
    between the input and the head, with Embedding, Masking, Dropout, Dense,
    TimeDistributed, normalization and reshaping layers around them (`support.AROUND`);
    stateful models too. Any other model is refused at `on_train_begin` with an
    `UnsupportedModelError` naming the layer. Then open the folder in the app:
    `streamlit run app.py -- --runs LOG_DIR_PARENT`.

    Each `fit` call writes the run anew. The probe batch is traced in inference mode,
    from the weights as they were at the epoch's end, while the next epoch trains.

    Args:
        log_dir: the run directory to write (created if missing). A folder holding a
            run of `python -m lstm_explorer train` (its `config.json`) is refused.
        probe: `(x, y)`, a few sequences and their targets, fed to the model as they
            are (e.g. `(x_val[:16], y_val[:16])`); at most `MAX_PROBE` sequences. A
            stateful model needs exactly its batch size.
        every: trace the probe batch at the end of every this many epochs; the last
            epoch is always traced. Default: `1`.

    Example:

    ```python
    inputs = keras.Input(shape=(10, 3))                   # (batch, steps, features)
    hidden = keras.layers.LSTM(8)(inputs)                 # (batch, 8)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=5, callbacks=[
        ExplorerCallback("runs/mine", probe=(x[:16], y[:16]))])
    # runs/mine/trace.npz: "layer0/h" (16, 10, 8), "layer0/grad_h" (10,), ...
    ```
    """

    def __init__(self, log_dir: str | os.PathLike[str], probe: Any, every: int = 1):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir).strip():
            raise ValueError(f"log_dir={log_dir!r}: expected the path of a folder to write")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every={every!r}: expected a whole number of epochs, 1 or more")
        self.log_dir = Path(log_dir)
        self.probe_x, self.probe_y = _check_probe(probe)
        self.every = int(every)
        #: The history rows written so far (as in `history.json`).
        self.rows: list[dict[str, Any]] = []
        #: The latest trace of the probe batch (`trace.Trace`), or `None`.
        self.trace: Trace | None = None
        self.tracer: Tracer | None = None
        self._status = RUNNING
        self._message = ""
        self._trace_epoch: int | None = None
        self._failure: str | None = None
        self._tracing: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._graph_asked = False
        self._epochs_ended = 0
        self._started = self._epoch_started = time.perf_counter()

    # -- fit's hooks ----------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        model = self.model
        if isinstance(model, keras.Sequential) and not model.built:
            # fit builds a Sequential without an Input at its first batch, after this
            # hook; build it now, for inputs shaped like the probe's.
            model.build((None, *self.probe_x.shape[1:]))
        check_model(model)
        self.tracer = Tracer(model)
        self.rows, self.trace, self._failure = [], None, None
        self._status, self._message, self._graph_asked, self._epochs_ended = RUNNING, "", False, 0
        # The untrained model's trace: it checks the probe against the model before the
        # first step, and gives the app something to draw at once. Through the graph
        # when one is at hand, else op by op rather than wait for its tracing, which
        # overlaps the first epoch instead (as the Trainer does).
        ready = self.tracer.ready(self.probe_x, self.probe_y)
        try:
            trace = self.tracer(self.probe_x, self.probe_y, eager=not ready)
        except Exception as error:  # noqa: BLE001 - re-raised, naming the argument
            raise ValueError(
                f"probe=(x of shape {self.probe_x.shape}, y of shape {self.probe_y.shape}): "
                f"cannot be traced on model {model.name!r} (inputs {model.inputs[0].shape}, "
                f"outputs {model.outputs[0].shape}): {error}") from error
        self._prepare_folder()  # only now: a refused fit leaves no folder behind
        rundir.write_description(self.log_dir, describe(model, source="callback", extra={
            "epochs": self.params.get("epochs") if self.params else None,
            "probe": {"inputs": list(self.probe_x.shape),
                      "targets": list(self.probe_y.shape)},
        }))
        self.trace, self._trace_epoch = trace, 0
        rundir.save_trace(self.log_dir, trace)
        self._write_history()
        self._tracing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explorer-trace")
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        # Once the first batch has trained (fit has traced its own step, Python work like
        # the tracer's), the tracer's graph is traced on the tracing thread while the
        # kernels run. A begin hook, not an end hook: implementing on_train_batch_end
        # would turn off Keras's asynchronous dispatch of batch callbacks.
        if not self._graph_asked and (batch > 0 or self._epochs_ended > 0):
            self._graph_asked = True
            self._submit(self._build_graph)

    def on_epoch_end(self, epoch, logs=None):
        row: dict[str, Any] = {"epoch": epoch + 1}
        for key, value in (logs or {}).items():
            row[key] = _float(value)
        row.setdefault("val_loss", None)
        row["seconds"] = time.perf_counter() - self._epoch_started
        self._epochs_ended += 1
        loss = row.get("loss")
        snapshot = None
        if loss is not None and not math.isfinite(loss):
            self._status = DIVERGED
            self._message = (f"The loss became {loss} in epoch {epoch + 1}: the weights "
                             f"overflowed (exploding gradients). {_DIVERGED_ADVICE}")
        elif self._due(epoch + 1):
            # Read now, traced later: the next epoch's updates do not touch it.
            snapshot = self.tracer.snapshot()
        self._submit(self._end_epoch, row, snapshot)

    def on_train_end(self, logs=None):
        if self._tracing is None:
            return  # on_train_begin raised
        self._tracing.shutdown(wait=True)
        self._tracing = None
        for future in self._pending:
            future.result()  # the jobs catch their errors; this re-raises none
        self._pending = []
        last = self.rows[-1] if self.rows else None
        if last is not None and "probe" not in last and self._status != DIVERGED:
            # Stopped before an epoch that `every` traces: trace the weights it ended with.
            self._trace_row(last, self.tracer.snapshot())
        planned = (self.params or {}).get("epochs")
        if self._status != DIVERGED:
            done = last["epoch"] if last is not None else 0
            if planned is not None and done < planned:
                self._status = STOPPED
                self._message = (f"Stopped after epoch {done} of {planned} "
                                 "(model.stop_training was set, e.g. by EarlyStopping).")
            else:
                self._status = FINISHED
                self._message = (f"Finished {len(self.rows)} epochs in "
                                 f"{time.perf_counter() - self._started:.1f} s.")
        if self._failure:
            self._message += f" Tracing failed: {self._failure}"
            warnings.warn(f"ExplorerCallback could not trace the probe batch: {self._failure}",
                          RuntimeWarning, stacklevel=2)
        rundir.save_model(self.log_dir, self.model)
        self._write_history()

    # -- helpers --------------------------------------------------------------------------

    def _due(self, epoch: int) -> bool:
        planned = (self.params or {}).get("epochs")
        return epoch % self.every == 0 or epoch == planned

    def _prepare_folder(self) -> None:
        if (self.log_dir / export.CONFIG_FILE).exists():
            raise ValueError(
                f"log_dir={str(self.log_dir)!r} holds a run of `python -m lstm_explorer "
                f"train` ({export.CONFIG_FILE}): give the callback a folder of its own")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # What an earlier fit into this folder left that this one writes only later.
        (self.log_dir / rundir.MODEL_FILE).unlink(missing_ok=True)

    def _submit(self, function, *arguments) -> None:
        self._pending = [future for future in self._pending if not future.done()]
        if self._tracing is None:
            function(*arguments)
        else:
            self._pending.append(self._tracing.submit(function, *arguments))

    def _build_graph(self) -> None:
        try:
            if not self.tracer.ready(self.probe_x, self.probe_y):
                self.tracer.build(self.probe_x, self.probe_y)
        except Exception:  # noqa: BLE001
            # The next traced epoch traces the graph itself and records what fails.
            return

    def _end_epoch(self, row: dict[str, Any], snapshot) -> None:
        """On the tracing thread: trace the epoch's snapshot, then write the files."""
        if snapshot is not None:
            self._trace_row(row, snapshot)
        self.rows.append(row)
        try:
            self._write_history()
        except OSError as error:
            self._failure = self._failure or f"writing {self.log_dir}: {error}"

    def _trace_row(self, row: dict[str, Any], snapshot) -> None:
        if self._failure is not None:
            return  # one failure is enough: the training goes on untraced
        try:
            trace = self.tracer(self.probe_x, self.probe_y, snapshot=snapshot)
            row["probe"] = trace.summary()
            rundir.save_trace(self.log_dir, trace)
        except Exception as error:  # noqa: BLE001 - the user's training must go on
            self._failure = f"epoch {row['epoch']}: {type(error).__name__}: {error}"
            return
        self.trace, self._trace_epoch = trace, row["epoch"]

    def _write_history(self) -> None:
        export.write_history(self.log_dir, {
            "epochs": self.rows,
            "status": self._status,
            "message": self._message,
            "notes": [],
            "source": "callback",
            "epochs_planned": (self.params or {}).get("epochs"),
            "trace_epoch": self._trace_epoch,
            # Lets a reader on this machine tell a training that is still writing from
            # one whose process ended without finishing the run (`folder.scan`).
            "writer": {"pid": os.getpid(), "host": socket.gethostname()},
        })


def _check_probe(probe: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(probe, (tuple, list)) or len(probe) != 2:
        raise ValueError(f"probe={_echo(probe)}: expected (x, y), a few input sequences "
                         "and their targets, e.g. (x_val[:16], y_val[:16])")
    if isinstance(probe[0], dict) or isinstance(probe[1], dict):
        raise ValueError("probe=(dict, ...): the explorer traces single-input models; "
                         "give x and y as arrays")
    try:
        x, y = np.asarray(probe[0]), np.asarray(probe[1])
    except (TypeError, ValueError) as error:
        raise ValueError(f"probe={_echo(probe)}: x and y must be arrays ({error})") from None
    if x.dtype == object or y.dtype == object:
        raise ValueError(f"probe=(x of shape {x.shape}, y of shape {y.shape}): x and y must "
                         "be arrays of numbers, not of Python objects (ragged sequences? "
                         "pad them to one length)")
    if x.ndim < 2 or y.ndim < 1:
        raise ValueError(f"probe=(x of shape {x.shape}, y of shape {y.shape}): x must be "
                         "(batch, steps, ...) and y (batch, ...)")
    if x.shape[0] != y.shape[0] or not 1 <= x.shape[0] <= MAX_PROBE:
        raise ValueError(f"probe=(x of shape {x.shape}, y of shape {y.shape}): x and y need "
                         f"the same number of sequences, from 1 to {MAX_PROBE}, e.g. "
                         "(x_val[:16], y_val[:16])")
    return x, y


def _echo(value: Any) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"<{type(value).__name__} of shape {tuple(value.shape)}>"
    text = " ".join(repr(value).split())  # one line, whatever the value prints as
    return text if len(text) <= 80 else text[:77] + "..."


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
