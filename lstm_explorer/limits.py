"""Per-session limits of the app: how much of a shared server one person may ask for.

The registry's bounds (`params.py`) say what Keras and the explorer can do; these
limits say what one person may take from a server that a whole class shares. They
apply to the app only: the command line runs on a person's own machine and is bound
by the registry alone.

Every limit has a default sized for a class of thirty on one 24 GiB server (see
"Sizing" below) and an environment variable that an administrator sets to change it:

==================================  =======  ================================================
variable                            default  what it bounds
==================================  =======  ================================================
LSTM_EXPLORER_MAX_UNITS             512      recurrent units in the model: units summed over
                                             the stacked layers, twice when bidirectional
LSTM_EXPLORER_MAX_PARAMS            500000   trainable parameters of the whole model
LSTM_EXPLORER_MAX_SEQ_LEN           500      task.seq_len (time steps per sequence)
LSTM_EXPLORER_MAX_SAMPLES           20000    task.n_samples (sequences, or CSV windows)
LSTM_EXPLORER_MAX_EPOCHS            100      training.epochs
LSTM_EXPLORER_MAX_TRAINING_MB       256      estimated memory of one training while it runs
                                             (data, one batch's activations, weights, traces)
LSTM_EXPLORER_MAX_RUN_MB            48       estimated memory a finished run keeps in its
                                             session (data, model, a trace per epoch)
LSTM_EXPLORER_MAX_RUNS              8        finished runs a session keeps (older ones drop)
LSTM_EXPLORER_MAX_UPLOAD_MB         2        size of an uploaded CSV file, at most 5 (the
                                             CSV reader's own cap, `tasks.MAX_CSV_BYTES`)
LSTM_EXPLORER_MAX_TRAINING_MINUTES  10       wall time of one training; it is stopped (and
                                             kept) when it runs longer, so that a long run
                                             cannot hold a trainer the class is queuing for
LSTM_EXPLORER_MAX_TRAININGS         cores/2  trainings running at once on the server; the
                                             others wait in the queue and see their place
LSTM_EXPLORER_SESSION_TIMEOUT       60       seconds after a tab was last seen (closed,
                                             or its connection lost) before its training is
                                             stopped or its place in the queue given up
==================================  =======  ================================================

Sizing (measured on a 2-core CPU machine, TF 2.21, `bench/memory_soak.py` and
`bench/load_test.py`): a Streamlit process with TensorFlow loaded holds about 0.7 GB.
One training of 32 units, 50 steps, 2000 samples and 10 epochs grows it by about
18 MB the first time (TensorFlow compiles its kernels) and 5-7 MB after that, which is
what the finished run keeps: its data, its weights and ten traces. 50 trainings in a row
in one session grow the process by 18 MB in all once the session holds its 8 runs.
`estimate` counts the same parts from a config (rounded up: it gave 111 and 274 MB for
two large trainings measured at 84 and 192 MB), so the limits hold whatever the
settings: a kept run is at most 48 MB and a session keeps at most 8, so a session holds
at most about 0.4 GB of runs. Thirty sessions at that worst case take 11.5 GB, plus
0.7 GB for the process, 256 MB for each training running at once and a few MB per
open session for its page state: about 13 GB, which fits in 24 GiB with room for the
operating system. Typical sessions hold far less (30 sessions x 8 default runs is about
1.5 GB).

Example:

>>> from lstm_explorer.config import ExperimentConfig
>>> config = ExperimentConfig.from_dict({"task": {"seq_len": 1000}})
>>> [problem.name for problem in check(config, Limits())]
['seq_len', 'run_mb']
>>> print(check(config, Limits())[0].text)
Sequence length (task.seq_len) is 1,000; this server allows at most 500 per training. An administrator can raise the limit with the environment variable LSTM_EXPLORER_MAX_SEQ_LEN.
>>> check(ExperimentConfig.default(), Limits())
[]
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lstm_explorer import tasks
from lstm_explorer.config import ExperimentConfig

ENV_PREFIX = "LSTM_EXPLORER_"
# Arrays the trace keeps per direction of a recurrent layer, per step and unit.
TRACE_ARRAYS = {"lstm": 6, "gru": 4, "simple_rnn": 1}  # h, c, i, f, g, o / h, z, r, g / h
# Floats the backward pass keeps per sample, step and unit of a layer (the gates before
# and after their activations, the states): measured on TF 2.21's CPU kernel, see
# tests/test_limits.py, and rounded up.
ACTIVATION_FLOATS = {"lstm": 10, "gru": 8, "simple_rnn": 3}
# Copies of the data alive while training: the arrays, the training tf.data pipeline,
# and Keras's own copy of the validation arrays.
DATA_COPIES_TRAINING = 3
# Weight-sized tensors while training: weights, gradients and two Adam slots.
WEIGHT_COPIES = 4
# The traced training, evaluation and trace functions of a model while it trains
# (measured, rounded up); a finished run lets them go (`training.Trainer.run`), and what
# is left of a Keras model besides its weights is small.
MODEL_OVERHEAD_BYTES = 10 * 2**20
KEPT_OVERHEAD_BYTES = 1 * 2**20
MB = 2**20


@dataclass(frozen=True)
class Limits:
    """The limits in force; `from_env()` reads them from the environment.

    Args:
        max_units: recurrent units of a model (units summed over layers, twice when
            bidirectional). Default: 512.
        max_params: trainable parameters of a model. Default: 500,000.
        max_seq_len: time steps per sequence. Default: 500.
        max_samples: sequences (or CSV windows) per training. Default: 20,000.
        max_epochs: epochs per training. Default: 100.
        max_training_mb: estimated memory of one training while it runs, in MB.
            Default: 256.
        max_run_mb: estimated memory a finished run keeps, in MB. Default: 48.
        max_runs: finished runs kept per session. Default: 8.
        max_upload_mb: size of an uploaded CSV file, in MB (at most the CSV reader's
            own cap). Default: 2.
        max_training_minutes: wall time of one training, in minutes. Default: 10.
        max_trainings: trainings running at once on the server. Default: half the
            cores, at least 1.
        session_timeout: seconds after a session was last seen before its training is
            stopped. Default: 60.
    """

    max_units: int = 512
    max_params: int = 500_000
    max_seq_len: int = 500
    max_samples: int = 20_000
    max_epochs: int = 100
    max_training_mb: int = 256
    max_run_mb: int = 48
    max_runs: int = 8
    max_upload_mb: float = 2
    max_training_minutes: float = 10
    max_trainings: int = 0  # 0: half the cores (see `trainings`)
    session_timeout: float = 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The limits from `LSTM_EXPLORER_*` variables; unset ones take their default.

        Raises:
            ValueError: naming the variable, when one is not a positive number.

        Example:

        >>> Limits.from_env({"LSTM_EXPLORER_MAX_EPOCHS": "20"}).max_epochs
        20
        >>> Limits.from_env({"LSTM_EXPLORER_MAX_EPOCHS": "lots"})
        Traceback (most recent call last):
        ...
        ValueError: LSTM_EXPLORER_MAX_EPOCHS='lots': must be a whole number of at least 1
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            variable = ENV_NAMES[field.name]
            text = environ.get(variable, "").strip()
            if not text:
                continue
            values[field.name] = _parse(variable, text, field.type in ("int", int))
        limits = cls(**values)
        cap = tasks.MAX_CSV_BYTES / MB
        if limits.max_upload_mb > cap:
            raise ValueError(f"{ENV_NAMES['max_upload_mb']}={limits.max_upload_mb:g}: must be "
                             f"at most {cap:g}, the CSV reader's own cap (tasks.MAX_CSV_BYTES)")
        return limits

    @property
    def trainings(self) -> int:
        """Trainings at once: `max_trainings`, or one per two cores when it is 0."""
        return self.max_trainings or max(1, cores() // 2)

    @property
    def upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def training_seconds(self) -> float:
        return self.max_training_minutes * 60


ENV_NAMES = {
    "max_units": "LSTM_EXPLORER_MAX_UNITS",
    "max_params": "LSTM_EXPLORER_MAX_PARAMS",
    "max_seq_len": "LSTM_EXPLORER_MAX_SEQ_LEN",
    "max_samples": "LSTM_EXPLORER_MAX_SAMPLES",
    "max_epochs": "LSTM_EXPLORER_MAX_EPOCHS",
    "max_training_mb": "LSTM_EXPLORER_MAX_TRAINING_MB",
    "max_run_mb": "LSTM_EXPLORER_MAX_RUN_MB",
    "max_runs": "LSTM_EXPLORER_MAX_RUNS",
    "max_upload_mb": "LSTM_EXPLORER_MAX_UPLOAD_MB",
    "max_training_minutes": "LSTM_EXPLORER_MAX_TRAINING_MINUTES",
    "max_trainings": "LSTM_EXPLORER_MAX_TRAININGS",
    "session_timeout": "LSTM_EXPLORER_SESSION_TIMEOUT",
}


def _parse(variable: str, text: str, whole: bool) -> int | float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        kind = "a whole number of at least 1" if whole else "a number above 0"
        raise ValueError(f"{variable}={text!r}: must be {kind}")
    return value


def cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def current() -> Limits:
    """The limits of this server, read from the environment (cheap; read at each use)."""
    return Limits.from_env()


# --- problems ------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitProblem:
    """A config asks for more than a limit allows.

    Args:
        name: the limit (`"units"`, `"params"`, `"seq_len"`, `"samples"`, `"epochs"`,
            `"run_mb"`, `"upload_mb"`).
        field: the setting to change, e.g. `"task.seq_len"` or `"layer1.units"`.
        what: what is limited, for a person, e.g. `"Sequence length"`.
        value: what the config asks for.
        maximum: the limit.
        variable: the environment variable that sets the limit.
        detail: what makes up the value, if that helps to lower it. Default: `""`.
        unit: appended to numbers, e.g. `" MB"`. Default: `""`.
    """

    name: str
    field: str
    what: str
    value: float
    maximum: float
    variable: str
    detail: str = ""
    unit: str = ""

    @property
    def text(self) -> str:
        """The message a person sees: what, how much, the limit, how it is raised."""
        detail = f" ({self.detail})" if self.detail else ""
        return (f"{self.what} ({self.field}) is {_number(self.value)}{self.unit}{detail}; "
                f"this server allows at most {_number(self.maximum)}{self.unit} per "
                f"training. An administrator can raise the limit with the environment "
                f"variable {self.variable}.")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:.1f}"


def check(config: ExperimentConfig, limits: Limits | None = None) -> list[LimitProblem]:
    """Every limit a config goes beyond; an empty list when it may train here.

    Args:
        config: a validated config.
        limits: the limits. Default: `None` (`current()`, from the environment).
    """
    limits = limits or current()
    problems = []
    task, training = config.task, config.training

    def over(name: str, field: str, what: str, value: float, maximum: float,
             detail: str = "", unit: str = "") -> None:
        if value > maximum:
            problems.append(LimitProblem(name, field, what, value, maximum,
                                         ENV_NAMES[f"max_{name}"], detail, unit))

    units = [layer["units"] for layer in config.model["layers"]]
    directions = 2 if config.model["bidirectional"] else 1
    total_units = sum(units) * directions
    over("units", "layer.units", "Recurrent units", total_units, limits.max_units,
         " + ".join(str(u) for u in units) + (" units, times 2 directions"
                                              if directions == 2 else " units"))
    over("params", "layer.units", "Trainable parameters", count_params(config),
         limits.max_params)
    over("seq_len", "task.seq_len", "Sequence length", task["seq_len"], limits.max_seq_len)
    over("samples", "task.n_samples", "Samples", task["n_samples"], limits.max_samples)
    over("epochs", "training.epochs", "Epochs", training["epochs"], limits.max_epochs)
    parts = estimate(config)
    over("training_mb", "memory", "Estimated memory while training",
         round(parts.training / MB), limits.max_training_mb, parts.describe("training"),
         " MB")
    over("run_mb", "memory", "Estimated memory the finished run keeps",
         round(parts.kept / MB), limits.max_run_mb, parts.describe("kept"), " MB")
    return problems


def check_upload(size: int, limits: Limits | None = None) -> LimitProblem | None:
    """The upload limit, if a file of `size` bytes goes beyond it."""
    limits = limits or current()
    if size <= limits.upload_bytes:
        return None
    return LimitProblem("upload_mb", "CSV file", "The uploaded file", round(size / MB, 1),
                        limits.max_upload_mb, ENV_NAMES["max_upload_mb"], unit=" MB")


# --- sizes from a config, without building anything ---------------------------------------


def count_params(config: ExperimentConfig) -> int:
    """Trainable parameters of the model `model.build(config)` makes, counted by formula.

    Example:

    >>> count_params(ExperimentConfig.from_dict({"model": {"layers": [{"units": 8}]}}))
    361
    """
    model = config.model
    shape = tasks.input_shape(config.task)
    total = 0
    if model["embedding"] is not None:
        embedding = model["embedding"]
        vocabulary = embedding["input_dim"] or tasks.vocab_size(config.task)
        total += vocabulary * embedding["output_dim"]
        width = embedding["output_dim"]
    else:
        width = shape[-1]
    directions = 2 if model["bidirectional"] else 1
    for layer in model["layers"]:
        units = layer["units"]
        bias = layer["use_bias"]
        if model["cell"] == "lstm":
            one = 4 * (units * (width + units) + units * bias)
        elif model["cell"] == "gru":  # Keras's default reset_after=True: two biases
            one = 3 * (units * (width + units) + 2 * units * bias)
        else:
            one = units * (width + units) + units * bias
        total += one * directions
        width = units * 2 if directions == 2 and model["merge_mode"] == "concat" else units
    outputs = tasks.n_outputs(config.task)
    return total + width * outputs + outputs


@dataclass(frozen=True)
class Estimate:
    """Estimated bytes of one training of a config, by what holds them.

    Args:
        data: one copy of the inputs and targets.
        activations: what the backward pass keeps for one batch.
        weights: one copy of the trainable weights.
        trace: one trace of the probe batch (states and gates of every layer).
        epochs: traces the run keeps (one per epoch).
    """

    data: int
    activations: int
    weights: int
    trace: int
    epochs: int

    @property
    def training(self) -> int:
        """At the peak of training: the data's copies, one batch's activations, the
        weights with their gradients and optimizer slots, the traces so far, and the
        compiled functions."""
        return (self.data * DATA_COPIES_TRAINING + self.activations
                + self.weights * WEIGHT_COPIES + self.trace * (self.epochs + 2)
                + MODEL_OVERHEAD_BYTES)

    @property
    def kept(self) -> int:
        """What the finished run keeps in the session: the data, the model with its
        optimizer slots, a trace per epoch and the last again."""
        return (self.data + self.weights * (WEIGHT_COPIES - 1)
                + self.trace * (self.epochs + 1) + KEPT_OVERHEAD_BYTES)

    def describe(self, which: str) -> str:
        """The two biggest parts of `training` or `kept`, and what lowers each."""
        if which == "training":
            parts = {"data": self.data * DATA_COPIES_TRAINING,
                     "activations of one batch": self.activations,
                     "traces": self.trace * (self.epochs + 2),
                     "weights": self.weights * WEIGHT_COPIES}
        else:
            parts = {"data": self.data, "traces": self.trace * (self.epochs + 1),
                     "weights": self.weights * (WEIGHT_COPIES - 1)}
        biggest = sorted(parts.items(), key=lambda item: -item[1])[:2]
        return ", ".join(f"{name} {value / MB:,.0f} MB: {_LOWER[name]}"
                         for name, value in biggest)


_LOWER = {"data": "fewer samples or steps",
          "activations of one batch": "a smaller batch size, fewer steps or units",
          "traces": "fewer epochs, steps or units",
          "weights": "fewer units"}


def estimate(config: ExperimentConfig) -> Estimate:
    """Estimate the memory of one training of `config`, without building anything.

    The factors (`ACTIVATION_FLOATS`, `DATA_COPIES_TRAINING`, `MODEL_OVERHEAD_BYTES`)
    come from measuring the peak RSS growth of trainings on TF 2.21's CPU kernels;
    `bench/memory_soak.py` prints them for the default config.

    Example:

    >>> parts = estimate(ExperimentConfig.default())
    >>> round(parts.training / 2**20), round(parts.kept / 2**20)
    (13, 3)
    """
    task, training, model = config.task, config.training, config.model
    cell = model["cell"]
    steps = task["seq_len"]
    samples = task["n_samples"]
    shape = tasks.input_shape(task)
    features = 1 if len(shape) == 1 else shape[-1]
    target_values = steps if config.per_step_targets else 1
    data = samples * (steps * features + target_values) * 4
    directions = 2 if model["bidirectional"] else 1
    units = sum(layer["units"] for layer in model["layers"]) * directions
    stateful = any(layer["stateful"] for layer in model["layers"])
    batch = min(training["batch_size"], samples)
    activations = batch * steps * units * ACTIVATION_FLOATS[cell] * 4
    weights = count_params(config) * 4
    probe = training["batch_size"] if stateful else tasks.PROBE_SIZE
    trace = probe * steps * units * TRACE_ARRAYS[cell] * 4
    return Estimate(data=data, activations=activations, weights=weights, trace=trace,
                    epochs=training["epochs"])


# --- TensorFlow's thread pools ----------------------------------------------------------


def thread_pools(cores: int, trainings: int) -> tuple[int, int]:
    """TensorFlow's (intra-op, inter-op) pool sizes for `trainings` at once on `cores`.

    TensorFlow runs each op on an inter-op thread and splits a big op (a matmul) over
    the intra-op pool; both pools are per process, shared by every training on the
    server. By default each is as large as the machine, so N trainings at once start
    up to N x cores busy threads that preempt each other (and the server's own
    threads), which is slower than taking turns. The recurrent loop of a training is
    a chain of small ops, one step after the other, so a training rarely has two ops
    ready at once: one inter-op thread per concurrent training keeps them all moving,
    plus one for the queue's preparer (it traces waiting models while the others
    train, `jobs.JobQueue`), and an intra-op pool of cores / trainings gives each
    running training its share of the cores to split its matmuls over. Every trainer
    busy then means about `cores` busy threads, not `trainings x cores`.

    Example:

    >>> thread_pools(16, 8), thread_pools(2, 1), thread_pools(2, 4)
    ((2, 9), (2, 2), (1, 5))
    """
    trainings = max(1, trainings)
    return max(1, cores // trainings), trainings + 1


_THREADS_SET = False


def configure_threads(limits: Limits | None = None) -> tuple[int, int] | None:
    """Size TensorFlow's thread pools for the server (see `thread_pools`).

    Call once per process before TensorFlow runs its first op (`app.py` does, before
    anything else). `TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS`, when set, win.
    Returns the sizes set, or `None` when TensorFlow had already started (the pools
    cannot change then) or this was done before.
    """
    global _THREADS_SET
    if _THREADS_SET:
        return None
    limits = limits or current()
    intra, inter = thread_pools(cores(), limits.trainings)
    intra = int(os.environ.get("TF_NUM_INTRAOP_THREADS") or intra)
    inter = int(os.environ.get("TF_NUM_INTEROP_THREADS") or inter)
    import tensorflow as tf

    _THREADS_SET = True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # TensorFlow already initialised (e.g. in a test process)
        return None
    return intra, inter
