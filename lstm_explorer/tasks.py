"""Datasets for the explorer: synthetic tasks with a controllable time lag, a CSV loader, and
real data from `lstm_explorer.datasets` (time series from statsmodels, Python source text).

Every dataset is a pure function of the task config: the same seed gives the same arrays
(`np.random.default_rng(seed)`, never NumPy's global state), so a share link reproduces
the data as well as the model.

The generators (`adding_problem`, `recall_problem`, `sine_forecast`, `token_sentiment`,
`csv_windows`) are top-level functions that use nothing but `np` and their arguments:
the code export inlines their source with `inspect.getsource` into a standalone script.
`GENERATORS` maps each task name to its generator. `make` validates the cross-field
settings, calls the generator, splits train/validation and picks the probe batch.

Example:

>>> data = make({"name": "adding", "seq_len": 50, "n_samples": 100, "seed": 0})
>>> data.x_train.shape, data.y_train.shape, data.x_val.shape, data.probe_x.shape
((80, 50, 2), (80, 1), (20, 50, 2), (8, 50, 2))
>>> data.kind, data.n_outputs, data.input_features
('regression', 1, 2)
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_explorer import params
from lstm_explorer.datasets import chars as chars_data
from lstm_explorer.datasets import series as series_data
from lstm_explorer.errors import ConfigError

PROBE_SIZE = 8
TASK_NAMES = ("adding", "recall", "sine", "tokens", "csv", "series", "chars")
PER_STEP_TASKS = ("recall", "sine", "csv", "series", "chars")
# The tasks whose trivial answer is the naive forecast: repeat the last value read.
FORECAST_TASKS = ("sine", "csv", "series")
# The tasks that feed integer ids, which an Embedding in front turns into vectors.
EMBEDDING_TASKS = ("tokens", "chars")

# A shared web app must not be taken down by one oversized request: the config bounds
# (200k samples x 2000 steps x 64 symbols) would allow arrays of tens of gigabytes.
MAX_INPUT_VALUES = 50_000_000
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 200_000
# Fewer windows than this still train, but the user should hear that it is too little.
FEW_WINDOWS = 100

_KINDS = {"adding": "regression", "recall": "multiclass", "sine": "regression",
          "tokens": "binary", "csv": "regression", "series": "regression",
          "chars": "multiclass"}
_LOSSES = {"regression": "mse", "multiclass": "sparse_categorical_crossentropy",
           "binary": "binary_crossentropy"}
_METRICS = {"regression": "mae", "multiclass": "accuracy", "binary": "accuracy"}

DESCRIPTIONS: dict[str, str] = {
    "adding": (
        "The adding problem (Hochreiter & Schmidhuber, 1997). Each step carries a random "
        "number in [0, 1] and a marker; exactly two steps are marked, one in the first "
        "half of the sequence and one in the second, and the target is the sum of the two "
        "marked numbers. The first marked number has to be kept in memory across half the "
        "sequence or more while dozens of unmarked numbers go by, so the lag grows with "
        "the sequence length: a plain RNN's gradient from the target back to the first "
        "marker shrinks with every step, while an LSTM's cell state can carry it. "
        "Guessing 1.0 every time gives a mean squared error of about 0.167: a model that "
        "does not beat that has learned nothing."
    ),
    "recall": (
        "Delayed recall. The input is a sequence of random symbols (one-hot), and the model "
        "must name the symbol it saw `lag` steps before the end. Nothing in the last `lag` "
        "steps helps, so the only way to succeed is to store the symbol and keep it intact "
        "for exactly `lag` steps. This is the cleanest knob for the vanishing gradient: "
        "raise the lag and watch the gradient norm at the step that matters fall towards "
        "zero, first for simple_rnn, much later for lstm. Chance accuracy is "
        "1 / n_symbols. With a per-step head, the target at each step t is the symbol at "
        "step t - lag (the first symbol while t < lag)."
    ),
    "sine": (
        "Next-value forecasting of noisy sine waves, each with its own random period, "
        "phase and amplitude. The model must work out the frequency and phase from the "
        "recent past, which needs only a short memory (about one period), so it is the "
        "easy, short-lag baseline: every cell type learns it, and the gradient does not "
        "need to travel far. The added noise cannot be predicted, so the best possible "
        "mean squared error is about noise squared."
    ),
    "tokens": (
        "Token sequences for an Embedding layer, like a tiny sentiment classifier. Each "
        "sequence is a list of word ids; a few ids are 'positive' and a few 'negative', "
        "and the label is 1 when positive tokens outnumber negative ones. The few "
        "sentiment tokens are scattered anywhere in a long run of neutral ones, so the "
        "model has to notice and count them across the whole sequence: tokens near the "
        "start are the long-lag ones whose gradient vanishes first. Chance accuracy "
        "is 50%."
    ),
    "csv": (
        "Your own time series from a CSV file: one numeric column, cut into windows of "
        "seq_len values, each followed by the value to forecast. The series is "
        "standardised (mean 0, standard deviation 1, from the training part) so the "
        "usual learning rates work. The last windows become the validation set, as a "
        "forecast is judged on the future it has not seen. How far back the useful "
        "information lies depends on your data: the per-step gradient shows how far back "
        "the model actually looks, and the naive baseline (repeat the last value) tells "
        "whether it learned more than that."
    ),
    "series": series_data.DESCRIPTION,
    "chars": chars_data.DESCRIPTION,
}


@dataclass(frozen=True, eq=False)
class TaskData:
    """The arrays of one task, split, with what a model and a person need to know.

    Args:
        x_train: training inputs; float32 `(n, seq_len, features)`, or int32
            `(n, seq_len)` ids for the tokens and chars tasks.
        y_train: training targets; `(n, 1)` float32 for regression and binary,
            `(n,)` int32 class ids for recall and chars; per-step: `(n, seq_len, 1)`
            float32 or `(n, seq_len)` int32.
        x_val: validation inputs, shaped like `x_train` (possibly with 0 rows).
        y_val: validation targets, shaped like `y_train`.
        probe_x: the fixed batch traced every epoch: the first `probe_size` validation
            sequences, or the first training sequences when there is no validation set.
        probe_y: the targets of `probe_x`.
        kind: `"regression"`, `"multiclass"` or `"binary"`.
        n_outputs: units of the Dense head: 1 for regression and binary, n_symbols for
            recall, 98 for chars.
        input_features: the last input dimension; `None` for tokens and chars (ids).
        vocab_size: the number of ids the Embedding takes: tokens' vocab_size (id 0
            reserved), 98 for chars; `None` otherwise.
        per_step: whether targets are given for every step.
        notes: sentences the user should be told (baselines, standardisation, trims).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    probe_x: np.ndarray
    probe_y: np.ndarray
    kind: str
    n_outputs: int
    input_features: int | None
    vocab_size: int | None
    per_step: bool
    notes: tuple[str, ...] = ()


# --- generators: pure NumPy, self-contained (inlined into exported scripts) ---------------


def adding_problem(n_samples, seq_len, rng):
    """The adding problem: sum the two marked numbers of a sequence.

    Channel 0 holds numbers drawn uniformly from [0, 1]; channel 1 holds markers, exactly
    two 1s per sequence, the first in the first half (steps `0 .. seq_len // 2 - 1`), the
    second in the second half.

    Args:
        n_samples: number of sequences.
        seq_len: steps per sequence, at least 2.
        rng: a `np.random.Generator`, e.g. `np.random.default_rng(0)`.

    Returns:
        `(x, y)`: x float32 `(n_samples, seq_len, 2)`, y float32 `(n_samples, 1)`, the
        sum of the two marked numbers.

    Example:

    >>> x, y = adding_problem(4, 10, np.random.default_rng(0))
    >>> x.shape, y.shape, x[..., 1].sum(axis=1).tolist()
    ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    """
    values = rng.random((n_samples, seq_len))
    half = seq_len // 2
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, seq_len, size=n_samples)
    markers = np.zeros((n_samples, seq_len))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    # Sum the float32 values the model actually sees, so the target is exact for it.
    y = (x[rows, first, 0] + x[rows, second, 0]).reshape(n_samples, 1)
    return x, y.astype(np.float32)


def recall_problem(n_samples, seq_len, rng, lag=10, n_symbols=8, per_step=False):
    """Delayed recall: name the symbol seen `lag` steps before the end.

    Args:
        n_samples: number of sequences.
        seq_len: steps per sequence.
        rng: a `np.random.Generator`, e.g. `np.random.default_rng(0)`.
        lag: how many steps before the last one the symbol to recall appears, from 0
            to `seq_len - 1`. Default: 10.
        n_symbols: how many different symbols are drawn (uniformly). Default: 8.
        per_step: give a target at every step: the symbol at step `t - lag`, and for
            the first `lag` steps, where nothing lies that far back, the first symbol
            (which a model can learn to hold, unlike a blank). Default: `False`.

    Returns:
        `(x, y)`: x float32 one-hot `(n_samples, seq_len, n_symbols)`; y int32 class ids,
        `(n_samples,)`, or `(n_samples, seq_len)` with `per_step`.

    Example:

    >>> x, y = recall_problem(4, 20, np.random.default_rng(0), lag=5)
    >>> x.shape, y.shape, bool((x[:, 20 - 1 - 5].argmax(-1) == y).all())
    ((4, 20, 8), (4,), True)
    """
    symbols = rng.integers(0, n_symbols, size=(n_samples, seq_len))
    x = np.eye(n_symbols, dtype=np.float32)[symbols]
    if per_step:
        source = np.maximum(np.arange(seq_len) - lag, 0)
        y = symbols[:, source]
    else:
        y = symbols[:, seq_len - 1 - lag]
    return x, y.astype(np.int32)


def sine_forecast(n_samples, seq_len, rng, noise=0.05, per_step=False):
    """Noisy sine waves; forecast the next value.

    Each sequence has its own period (uniform in [8, 40) steps), phase and amplitude
    (uniform in [0.5, 1.5]); Gaussian noise is added to every value, targets included.
    The noise is drawn step by step, so a longer `seq_len` with the same seed extends
    the same series: the target of length T is step T of the series of length T + 1.

    Args:
        n_samples: number of sequences.
        seq_len: input steps per sequence.
        rng: a `np.random.Generator`, e.g. `np.random.default_rng(0)`.
        noise: standard deviation of the noise. Default: 0.05.
        per_step: target the next value at every step instead of only after the last.
            Default: `False`.

    Returns:
        `(x, y)`: x float32 `(n_samples, seq_len, 1)`; y float32 `(n_samples, 1)`, or
        `(n_samples, seq_len, 1)` with `per_step`.

    Example:

    >>> x, y = sine_forecast(4, 30, np.random.default_rng(0), per_step=True)
    >>> x.shape, y.shape, bool((y[:, :-1] == x[:, 1:]).all())
    ((4, 30, 1), (4, 30, 1), True)
    """
    period = rng.uniform(8.0, 40.0, size=(n_samples, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n_samples, 1))
    amplitude = rng.uniform(0.5, 1.5, size=(n_samples, 1))
    steps = np.arange(seq_len + 1)
    clean = amplitude * np.sin(2.0 * np.pi * steps / period + phase)
    # Time-major draws: the first T steps do not depend on how long the series is.
    series = clean + noise * rng.standard_normal((seq_len + 1, n_samples)).T
    series = series.astype(np.float32)
    x = series[:, :seq_len, None]
    y = series[:, 1:, None] if per_step else series[:, seq_len:]
    return x, y


def sine_stream(n_samples, seq_len, rng, noise=0.05, per_step=False):
    """One long noisy sine wave cut into consecutive windows: a continuous stream.

    Window j is steps [j·T, (j+1)·T) of the same wave, so a stateful layer that reads
    window j+1 right after window j can carry its state across. The wave's period is
    uniform in [8, 40) steps.

    Args:
        n_samples: number of windows.
        seq_len: steps per window (T).
        rng: a `np.random.Generator`.
        noise: standard deviation of the noise. Default: 0.05.
        per_step: target the next value at every step. Default: `False`.

    Returns:
        `(x, y)` shaped like `sine_forecast`'s.

    Example:

    >>> x, y = sine_stream(5, 4, np.random.default_rng(0))
    >>> x.shape, bool(y[0, 0] == x[1, 0, 0])
    ((5, 4, 1), True)
    """
    period = rng.uniform(8.0, 40.0)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    steps = np.arange(n_samples * seq_len + 1)
    series = np.sin(2.0 * np.pi * steps / period + phase)
    series = (series + noise * rng.standard_normal(len(steps))).astype(np.float32)
    x = series[:-1].reshape(n_samples, seq_len, 1)
    following = series[1:].reshape(n_samples, seq_len, 1)
    y = following if per_step else following[:, -1]
    return x, y


def arrange_for_state(x, y, batch_size):
    """Reorder consecutive windows so that row i of batch k+1 continues row i of batch k.

    A stateful layer keeps one state per batch row. Splitting the stream into
    `batch_size` contiguous parts and dealing them out row by row makes each row of
    every batch the continuation of the same row one batch before.

    Args:
        x, y: windows in stream order; their count must be a multiple of `batch_size`.
        batch_size: rows per batch.

    Example:

    >>> x = np.arange(6).reshape(6, 1, 1)
    >>> arrange_for_state(x, x, 2)[0].ravel().tolist()
    [0, 3, 1, 4, 2, 5]
    """
    per_row = len(x) // batch_size
    order = np.arange(per_row * batch_size).reshape(batch_size, per_row).T.ravel()
    return x[order], y[order]


def token_sentiment(n_samples, seq_len, rng, vocab_size=100):
    """Token sequences labelled 1 when positive tokens outnumber negative ones.

    Ids run from 1 to `vocab_size - 1` (0 is kept for padding). With
    `k = max(1, min(5, (vocab_size - 1) // 4))`, ids `1 .. k` are positive, `k + 1 .. 2k`
    negative and the rest neutral. Each sequence holds 1 to 4 tokens of its majority
    sentiment and fewer of the other, at random steps, among neutral tokens; labels are
    drawn first, so the classes are balanced up to chance.

    Args:
        n_samples: number of sequences.
        seq_len: tokens per sequence.
        rng: a `np.random.Generator`, e.g. `np.random.default_rng(0)`.
        vocab_size: number of ids including the reserved 0, at least 4. Default: 100.

    Returns:
        `(x, y)`: x int32 token ids `(n_samples, seq_len)`; y float32 `(n_samples, 1)`
        of 0.0 and 1.0.

    Example:

    >>> x, y = token_sentiment(4, 12, np.random.default_rng(0), vocab_size=50)
    >>> x.shape, x.dtype.name, y.shape, int(x.min()) >= 1, int(x.max()) <= 49
    ((4, 12), 'int32', (4, 1), True, True)
    """
    k = max(1, min(5, (vocab_size - 1) // 4))
    labels = rng.integers(0, 2, size=n_samples)
    # At most (seq_len + 1) // 2 majority tokens leave room for the minority ones.
    cap = max(1, min(4, (seq_len + 1) // 2))
    n_major = rng.integers(1, cap + 1, size=n_samples)
    n_minor = np.floor(rng.random(n_samples) * n_major).astype(np.int64)
    # A random rank per step picks random, distinct steps for the sentiment tokens.
    rank = np.argsort(np.argsort(rng.random((n_samples, seq_len)), axis=1), axis=1)
    is_major = rank < n_major[:, None]
    is_minor = ~is_major & (rank < (n_major + n_minor)[:, None])
    positive = rng.integers(1, k + 1, size=(n_samples, seq_len))
    negative = rng.integers(k + 1, 2 * k + 1, size=(n_samples, seq_len))
    neutral = rng.integers(2 * k + 1, vocab_size, size=(n_samples, seq_len))
    is_positive = labels[:, None] == 1
    major = np.where(is_positive, positive, negative)
    minor = np.where(is_positive, negative, positive)
    x = np.where(is_major, major, np.where(is_minor, minor, neutral))
    return x.astype(np.int32), labels.reshape(n_samples, 1).astype(np.float32)


def csv_windows(series, seq_len, per_step=False):
    """Cut a 1-D series into windows of `seq_len` values, each with the value after it.

    Args:
        series: 1-D array of numbers, in time order.
        seq_len: values per window; the series needs at least `seq_len + 1` values.
        per_step: target the next value at every step instead of only after the last.
            Default: `False`.

    Returns:
        `(x, y)`: x float32 `(n_windows, seq_len, 1)` with `n_windows = len(series) -
        seq_len`, window i starting at value i; y float32 `(n_windows, 1)`, or
        `(n_windows, seq_len, 1)` with `per_step`.

    Example:

    >>> x, y = csv_windows(np.arange(6.0), 3)
    >>> x.shape, x[0, :, 0].tolist(), y[:, 0].tolist()
    ((3, 3, 1), [0.0, 1.0, 2.0], [3.0, 4.0, 5.0])
    """
    series = np.asarray(series, dtype=np.float32)
    n_windows = len(series) - seq_len
    starts = np.arange(n_windows)[:, None] + np.arange(seq_len)[None, :]
    x = series[starts][..., None]
    y = series[starts + 1][..., None] if per_step else series[seq_len:, None]
    return x, y


GENERATORS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "adding": adding_problem,
    "recall": recall_problem,
    "sine": sine_forecast,
    "tokens": token_sentiment,
    "csv": csv_windows,
    "series": series_data.series_windows,
    "chars": chars_data.char_windows,
}


# --- facts about a task, without generating data -------------------------------------------


def supports_per_step(name: str) -> bool:
    """Whether the task can give a target at every step (recall, sine, csv, series, chars)."""
    _check_name(name)
    return name in PER_STEP_TASKS


def task_kind(name: str) -> str:
    """`"regression"` (adding, sine, csv, series), `"multiclass"` (recall, chars) or
    `"binary"` (tokens)."""
    _check_name(name)
    return _KINDS[name]


def default_loss(name: str) -> str:
    """The task's natural Keras loss: `"mse"`, `"sparse_categorical_crossentropy"` or
    `"binary_crossentropy"`."""
    return _LOSSES[task_kind(name)]


def default_metric(name: str) -> str:
    """`"mae"` for regression tasks, `"accuracy"` for the classification ones."""
    return _METRICS[task_kind(name)]


def input_shape(task: Mapping[str, Any]) -> tuple[int, ...]:
    """The shape of one input sequence, without the batch axis.

    Example:

    >>> input_shape({"name": "recall", "seq_len": 30, "n_symbols": 5})
    (30, 5)
    >>> input_shape({"name": "tokens", "seq_len": 40})
    (40,)
    >>> input_shape({"name": "chars", "seq_len": 64})
    (64,)
    """
    name = _check_name(task.get("name"))
    seq_len = task["seq_len"]
    features = _input_features(task, name)
    return (seq_len,) if features is None else (seq_len, features)


def n_outputs(task: Mapping[str, Any]) -> int:
    """Units of the Dense head: n_symbols for recall, the vocabulary's 98 symbols for
    chars, 1 for every other task."""
    name = _check_name(task.get("name"))
    if name == "chars":
        return chars_data.VOCAB_SIZE
    return int(_setting(task, "n_symbols", recall_problem)) if name == "recall" else 1


def needs_embedding(name: str) -> bool:
    """Whether the task feeds integer ids, which need an Embedding in front (tokens, chars).

    Example:

    >>> needs_embedding("chars"), needs_embedding("series")
    (True, False)
    """
    _check_name(name)
    return name in EMBEDDING_TASKS


def vocab_size(task: Mapping[str, Any]) -> int | None:
    """How many ids an Embedding in front must take: task.vocab_size for tokens, the 98
    symbols of chars, `None` for the tasks that feed numbers.

    Example:

    >>> vocab_size({"name": "tokens", "vocab_size": 500}), vocab_size({"name": "chars"})
    (500, 98)
    """
    name = _check_name(task.get("name"))
    if name == "chars":
        return chars_data.VOCAB_SIZE
    if name == "tokens":
        return int(_setting(task, "vocab_size", token_sentiment))
    return None


def sentiment_ids(vocab_size: int) -> tuple[range, range]:
    """The positive and negative token ids that `token_sentiment` uses.

    Example:

    >>> sentiment_ids(100)
    (range(1, 6), range(6, 11))
    """
    k = max(1, min(5, (vocab_size - 1) // 4))
    return range(1, k + 1), range(k + 1, 2 * k + 1)


# --- make ----------------------------------------------------------------------------------


def make(task: Mapping[str, Any], *, validation_split: float = 0.2,
         per_step_targets: bool = False, csv_text: str | bytes | None = None,
         probe_size: int = PROBE_SIZE) -> TaskData:
    """Generate (or load) a task's data, split it, and pick the probe batch.

    Validation takes the last `validation_split` of the samples, as Keras's own
    `validation_split` does (for csv and series: the most recent windows; for chars:
    the last windows of the text). A series is split by time: no training window reads
    or forecasts a value that a validation window forecasts (`datasets.series`).

    Args:
        task: the task section of a validated config: `name`, `seq_len`, `n_samples`,
            `seed`, and per task `lag`, `n_symbols` (recall), `noise` (sine),
            `vocab_size` (tokens), `column`, `path` (csv), `dataset`, `horizon`,
            `relative` (series). A missing per-task key takes the registry's default.
        validation_split: fraction held out for validation, in [0, 0.9). Default: 0.2.
        per_step_targets: give targets for every step (recall, sine, csv, series and
            chars only).
            Default: `False`.
        csv_text: the CSV content (text, or the bytes of an uploaded file) for the csv
            task; when `None`, the file at `task["path"]` is read. Default: `None`.
        probe_size: sequences in the probe batch. Default: `PROBE_SIZE` (8).

    Returns:
        A `TaskData`.

    Raises:
        ConfigError: for settings that do not fit together (a lag outside the sequence,
            a split that leaves no training sample) and for any problem with the CSV.

    Example:

    >>> data = make({"name": "recall", "seq_len": 20, "n_samples": 50, "seed": 1,
    ...              "lag": 5}, per_step_targets=True)
    >>> data.x_train.shape, data.y_train.shape, data.n_outputs, data.kind
    ((40, 20, 8), (40, 20), 8, 'multiclass')
    """
    name = _check_name(task.get("name"))
    seq_len = _required_int(task, "seq_len", 1)
    n_samples = _required_int(task, "n_samples", 1)
    seed = _required_int(task, "seed", 0)
    if (isinstance(validation_split, bool) or not isinstance(validation_split, (int, float))
            or not 0.0 <= validation_split < 0.9):
        raise ConfigError("training.validation_split", validation_split,
                          "must be a number from 0 (no validation) up to, not including, 0.9")
    if isinstance(probe_size, bool) or not isinstance(probe_size, int) or probe_size < 1:
        raise ConfigError("probe_size", probe_size, "must be a whole number of at least 1")
    if per_step_targets and name not in PER_STEP_TASKS:
        raise ConfigError("task.name", name,
                          f"task {name!r} has one target per sequence, so it cannot give "
                          "per-step targets; set return_sequences to false on the last "
                          f"layer, or use one of the tasks {', '.join(PER_STEP_TASKS)}")
    # csv is checked once its windows are counted; a real series has at most 732 values.
    if name not in ("csv", "series"):
        _check_size(n_samples, seq_len, _input_features(task, name) or 1, name)

    rng = np.random.default_rng(seed)
    notes: list[str] = []
    if name == "adding":
        if seq_len < 2:
            raise ConfigError("task.seq_len", seq_len,
                              "the adding problem needs at least 2 steps, one marker in "
                              "each half")
        x, y = adding_problem(n_samples, seq_len, rng)
        notes.append("Baseline: always answering 1.0 (the mean target) gives a mean "
                     "squared error of about 0.167.")
    elif name == "recall":
        lag = _setting(task, "lag", recall_problem)
        n_symbols = _setting(task, "n_symbols", recall_problem)
        if not 0 <= lag < seq_len:
            raise ConfigError("task.lag", lag,
                              f"must be from 0 to seq_len - 1 = {seq_len - 1}: the symbol "
                              "to recall has to be inside the sequence; lower task.lag or "
                              f"raise task.seq_len to at least {lag + 1}")
        if n_symbols < 2:
            raise ConfigError("task.n_symbols", n_symbols,
                              "must be at least 2: with one symbol there is nothing to recall")
        x, y = recall_problem(n_samples, seq_len, rng, lag=lag, n_symbols=n_symbols,
                              per_step=per_step_targets)
        notes.append(f"Chance accuracy is 1/{n_symbols} = {1 / n_symbols:.1%}.")
        if per_step_targets and lag > 0:
            notes.append(f"Per-step targets: for the first {lag} steps, where nothing lies "
                         f"{lag} steps back, the target is the first symbol.")
    elif name == "sine":
        noise = _setting(task, "noise", sine_forecast)
        if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
            raise ConfigError("task.noise", noise,
                              "must be a standard deviation: a finite number of at least 0")
        generator = sine_stream if task.get("stream") else sine_forecast
        x, y = generator(n_samples, seq_len, rng, noise=noise, per_step=per_step_targets)
        if task.get("stream"):
            notes.append("One continuous wave cut into consecutive windows; a stateful "
                         "layer reads them so that each batch row continues the same row "
                         "of the batch before.")
        if noise > 0:
            notes.append(f"The targets carry noise with standard deviation {noise:g}, so "
                         f"the best possible mean squared error is about {noise**2:.3g}.")
    elif name == "tokens":
        # Not `vocab_size`: that name is the module's function, used below.
        n_ids = _setting(task, "vocab_size", token_sentiment)
        if n_ids < 4:
            raise ConfigError("task.vocab_size", n_ids,
                              "must be at least 4: id 0 for padding, then a positive, a "
                              "negative and a neutral token")
        x, y = token_sentiment(n_samples, seq_len, rng, vocab_size=n_ids)
        positive, negative = sentiment_ids(n_ids)
        notes.append(f"Positive tokens: ids {_id_range(positive)}; negative: "
                     f"{_id_range(negative)}; all others are neutral. Chance accuracy is 50%.")
    elif name == "chars":
        x, y, chars_notes = chars_data.make_windows(task, per_step_targets)
        notes.extend(chars_notes)
    elif name == "csv":
        x, y, csv_notes = _csv_task(task, seq_len, n_samples, validation_split,
                                    per_step_targets, csv_text)
        notes.extend(csv_notes)

    if name == "series":
        # Split by time inside, with a gap for per-step targets: not the plain cut below.
        x_train, y_train, x_val, y_val, series_notes = series_data.make_split(
            task, validation_split, per_step_targets)
        notes.extend(series_notes)
    else:
        n_train = _n_train(len(x), validation_split, name)
        x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    probe_x, probe_y = (x_val, y_val) if len(x_val) else (x_train, y_train)
    if name in FORECAST_TASKS and len(x_val):
        notes.append("Naive baseline: repeating the last input value gives a validation "
                     f"mean squared error of {_persistence_mse(x_val, y_val):.3g}.")
    return TaskData(
        x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
        probe_x=probe_x[:probe_size], probe_y=probe_y[:probe_size],
        kind=_KINDS[name],
        n_outputs=n_outputs(task),
        input_features=None if name in EMBEDDING_TASKS else x_train.shape[-1],
        vocab_size=vocab_size(task),
        per_step=bool(per_step_targets),
        notes=tuple(notes),
    )


# --- the trivial baseline ------------------------------------------------------------------

#: How many standard errors of a baseline's estimate a score must beat it by to count as
#: better than chance.
BASELINE_STANDARD_ERRORS = 3.0

# Keras's own default for its Huber loss.
_HUBER_DELTA = 1.0
# Keras clips predicted probabilities to [eps, 1 - eps] in its cross-entropies.
_EPSILON = 1e-7


@dataclass(frozen=True)
class Baseline:
    """What a model that learned nothing scores on the data of a run.

    The trivial answer of each task: always the mean target (adding), the most frequent
    class (recall, tokens, chars), or the last input value repeated (sine, csv, series:
    the naive forecast), scored on the
    validation set (the training set when there is none), in the run's own loss and, for
    the classification tasks, in accuracy.

    Args:
        value: the score to compare with the history's `key`: an accuracy for recall and
            tokens, otherwise a loss in the run's loss (mse, mae or huber).
        description: how the trivial model answers, e.g. `"always answering 1.0"`.
        key: the history key `value` compares with: `"val_loss"` or `"val_accuracy"`,
            or `"loss"` / `"accuracy"` when the run has no validation set.
        higher_is_better: whether a larger score is better (accuracy). Default: `False`.
        margin: `BASELINE_STANDARD_ERRORS` standard errors of `value` as measured on
            these samples: a score beyond `value` by more than this beats the baseline
            by more than chance. Default: `0.0`.
        samples: how many target values it was measured on. Default: `0`.
        loss: the trivial model's loss, in the run's loss, comparable with the
            `loss` / `val_loss` curves (equal to `value` unless `key` is an accuracy).
            Default: `None`.

    Example:

    >>> Baseline(0.167, "always answering 1.0", "val_loss").to_dict()["description"]
    'always answering 1.0'
    """

    value: float
    description: str
    key: str
    higher_is_better: bool = False
    margin: float = 0.0
    samples: int = 0
    loss: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form kept in a history under `"baseline"`."""
        return {"value": self.value, "description": self.description, "key": self.key,
                "higher_is_better": self.higher_is_better, "margin": self.margin,
                "samples": self.samples, "loss": self.loss}


def trivial_baseline(config: Any, data: TaskData) -> Baseline:
    """Score the trivial answer of a run's task on the run's own data.

    adding: always answering the mean of the targets (scored with the run's loss; for
    mse that is their variance; mae answers their median instead). recall and tokens:
    always answering the most frequent class of the training targets, as an accuracy
    (and, as `loss`, the cross-entropy of predicting the training class frequencies);
    chars likewise, the most frequent character, with the unigram cross-entropy.
    sine, csv and series: repeating the last input value (the naive forecast; for a
    series `horizon` steps ahead, per step the value read at that step). Everything is
    measured on the validation set, or on the training set when there is none.

    Args:
        config: the run's `ExperimentConfig` (its `task["name"]` and `loss` are read).
        data: the `TaskData` the run trained on.

    Returns:
        A `Baseline`.

    Example:

    >>> from lstm_explorer.config import ExperimentConfig
    >>> config = ExperimentConfig.from_dict({"task": {"n_samples": 200, "seq_len": 10}})
    >>> baseline = trivial_baseline(config, make(config.task))
    >>> baseline.key, baseline.description, round(baseline.value, 3)
    ('val_loss', 'always answering 1.0', 0.138)
    """
    name = _check_name(config.task.get("name"))
    loss_name = config.loss
    validation = len(data.x_val) > 0
    x, y = (data.x_val, data.y_val) if validation else (data.x_train, data.y_train)
    prefix = "val_" if validation else ""
    if data.kind == "multiclass" or data.kind == "binary":
        return _class_baseline(name, loss_name, data.y_train, y, prefix)
    target = np.asarray(y, dtype=np.float64).ravel()
    if name in FORECAST_TASKS:
        # The value before each target is the last input (per step: the input at that step).
        before = x if y.ndim == 3 else x[:, -1, :]
        answer = np.asarray(before, dtype=np.float64).ravel()
        description = ("the naive forecast, repeating the last value read" if name == "series"
                       else "repeating the last input value")
    else:
        constant = float(np.median(target) if loss_name == "mae" else np.mean(target))
        answer = np.full_like(target, constant)
        description = f"always answering {_short_number(constant)}"
    losses = _regression_losses(target - answer, loss_name)
    value = float(np.mean(losses))
    margin = BASELINE_STANDARD_ERRORS * float(np.std(losses)) / math.sqrt(len(losses))
    return Baseline(value, description, prefix + "loss", False, margin, len(losses), value)


def _regression_losses(errors: np.ndarray, loss_name: str) -> np.ndarray:
    if loss_name == "mae":
        return np.abs(errors)
    if loss_name == "huber":
        size = np.abs(errors)
        return np.where(size <= _HUBER_DELTA, 0.5 * errors**2,
                        _HUBER_DELTA * size - 0.5 * _HUBER_DELTA**2)
    return errors**2


def _class_baseline(name: str, loss_name: str, y_train: np.ndarray, y: np.ndarray,
                    prefix: str) -> Baseline:
    train = np.asarray(y_train).ravel().astype(np.int64)
    target = np.asarray(y).ravel().astype(np.int64)
    counts = np.bincount(train, minlength=int(max(train.max(), target.max())) + 1)
    # Ties go to the smaller id, as np.argmax picks the first.
    majority = int(np.argmax(counts))
    accuracy = float(np.mean(target == majority))
    margin = BASELINE_STANDARD_ERRORS * math.sqrt(accuracy * (1 - accuracy) / len(target))
    frequencies = np.clip(counts / counts.sum(), _EPSILON, 1 - _EPSILON)
    if name == "recall":
        loss = -float(np.mean(np.log(frequencies[target])))
        description = f"always answering symbol {majority}, the most frequent"
    elif name == "chars":
        # The unigram model: every character's training frequency, whatever came before,
        # counted from one (add-one smoothing), so that a character that training never
        # saw costs log(count + vocabulary) nats, not log(1 / 1e-7).
        smoothed = np.bincount(train, minlength=chars_data.VOCAB_SIZE) + 1.0
        loss = -float(np.mean(np.log(smoothed[target] / smoothed.sum())))
        description = (f"always answering {chars_data.symbol_name(majority)}, the most "
                       "frequent character")
    else:
        positive = float(frequencies[1]) if len(frequencies) > 1 else _EPSILON
        if loss_name == "mse":
            loss = float(np.mean((target - positive) ** 2))
        else:
            loss = -float(np.mean(target * np.log(positive)
                                  + (1 - target) * np.log(1 - positive)))
        label = "positive" if majority == 1 else "negative"
        description = f"always answering {label}, the more frequent label"
    return Baseline(accuracy, description, prefix + "accuracy", True, margin, len(target),
                    loss)


def _short_number(value: float) -> str:
    """Two decimals without trailing zeros, but at least one: 0.998 -> '1.0'."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _check_name(name: Any) -> str:
    if name not in TASK_NAMES:
        raise ConfigError("task.name", name, f"must be one of {', '.join(TASK_NAMES)}")
    return name


def _required_int(task: Mapping[str, Any], key: str, minimum: int) -> int:
    value = task.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"task.{key}", value, f"must be a whole number of at least {minimum}")
    return int(value)


def _setting(task: Mapping[str, Any], key: str, generator: Callable[..., Any]) -> Any:
    # The registry holds the default (a test keeps the generator's keyword defaults,
    # which a hand-written script relies on, equal to it).
    if key in task:
        return task[key]
    return params.get(f"task.{key}").default


def _input_features(task: Mapping[str, Any], name: str) -> int | None:
    if name in EMBEDDING_TASKS:
        return None
    if name == "recall":
        return int(_setting(task, "n_symbols", recall_problem))
    return 2 if name == "adding" else 1


def _check_size(n_samples: int, seq_len: int, features: int, name: str) -> None:
    values = n_samples * seq_len * features
    if values > MAX_INPUT_VALUES:
        per_value = "" if features == 1 else f" x {features} features"
        raise ConfigError("task.n_samples", n_samples,
                          f"the {name} inputs would hold {values:,} numbers ({n_samples} "
                          f"samples x {seq_len} steps{per_value}, about "
                          f"{values * 4 / 2**20:,.0f} MB), more than the limit of "
                          f"{MAX_INPUT_VALUES:,}; lower task.n_samples or task.seq_len")


def _n_train(n: int, validation_split: float, name: str) -> int:
    # The same rule as Keras's fit(validation_split=...): the last part is held out.
    n_train = int(n * (1.0 - validation_split))
    if n_train >= 1:
        return n_train
    what = "windows" if name == "csv" else "samples"
    if validation_split > 0:
        raise ConfigError("training.validation_split", validation_split,
                          f"leaves no training sample out of {_count(n, what[:-1])}; lower "
                          "training.validation_split or provide more data "
                          f"({'a longer series' if name == 'csv' else 'raise task.n_samples'})")
    raise ConfigError("task.n_samples", n, f"there are no {what} to train on")


def _persistence_mse(x: np.ndarray, y: np.ndarray) -> float:
    if y.ndim == 3:  # per step: the value before each target is the input at that step
        return float(np.mean((y - x) ** 2, dtype=np.float64))
    return float(np.mean((y[:, 0] - x[:, -1, 0]) ** 2, dtype=np.float64))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _id_range(ids: range) -> str:
    return str(ids.start) if len(ids) == 1 else f"{ids.start}-{ids.stop - 1}"


# --- csv -----------------------------------------------------------------------------------

_MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"}
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")


@dataclass(frozen=True)
class CsvSeries:
    """One numeric column read from a CSV file.

    Args:
        values: the column as float64, in file order.
        column: how the column is named in messages: `"column 'price'"` or `"column 2"`.
        notes: what the reader decided that the user should know.
    """

    values: np.ndarray
    column: str
    notes: tuple[str, ...] = ()


def read_csv_series(source: str | bytes, column: str = "", *,
                    value: Any = None) -> CsvSeries:
    """Parse CSV text and return one numeric column.

    The delimiter (`,`, `;`, tab or `|`) and a header row are detected. Blank rows are
    skipped. Every other problem is a `ConfigError` naming the row.

    Args:
        source: the file content, text or bytes (UTF-8, with or without a BOM).
        column: a header name, a 0-based index written as text, or `""` for the first
            column whose first value is a number. Default: `""`.
        value: what to echo in errors about the file as a whole. Default: the start of
            `source`.

    Returns:
        A `CsvSeries`.

    Raises:
        ConfigError: with field `"task.csv"` for the file (empty, binary, too large,
            ragged) and `"task.column"` for the column (unknown, text, missing values).

    Example:

    >>> read_csv_series("day,price\\n1,10.5\\n2,11\\n", "price").values.tolist()
    [10.5, 11.0]
    """
    if value is None:
        value = source[:60]
    text = _decode(source, value)
    rows, delimiter = _parse_rows(text, value)
    notes = []
    if delimiter != ",":
        notes.append(f"Fields are separated by {_DELIMITER_NAMES[delimiter]}.")
    header = _has_header(rows)
    width = len(rows[0][1])
    for line, row in rows[1:]:
        if len(row) != width:
            raise ConfigError("task.csv", value,
                              f"row {line} has {len(row)} field{'s' * (len(row) != 1)} but "
                              f"row {rows[0][0]} has {width}: every row needs the same "
                              "number of fields (look for a stray delimiter or an unclosed "
                              "quote)")
    names = [cell.strip() for cell in rows[0][1]] if header else None
    data = rows[1:] if header else rows
    if not data:
        raise ConfigError("task.csv", value,
                          "has a header row but no data rows below it")
    index = _pick_column(column, names, data, width)
    label = f"column {names[index]!r}" if names and names[index] else f"column {index}"
    values = _column_values(data, index, label, column, names, width)
    if column.strip() == "":
        notes.append(f"Using {label}, the first numeric column (set task.column to "
                     "choose another).")
    return CsvSeries(values=values, column=label, notes=tuple(notes))


def _decode(source: str | bytes, value: Any) -> str:
    if isinstance(source, str):
        if len(source) > MAX_CSV_BYTES:
            raise ConfigError("task.csv", value, _too_large(len(source)))
        if "\x00" in source:
            raise ConfigError("task.csv", value, _BINARY)
        return source.removeprefix("\ufeff")
    if not isinstance(source, (bytes, bytearray)):
        raise ConfigError("task.csv", value, "must be CSV text or the bytes of a CSV file")
    if len(source) > MAX_CSV_BYTES:
        raise ConfigError("task.csv", value, _too_large(len(source)))
    if source[:4] == b"PK\x03\x04":
        raise ConfigError("task.csv", value,
                          "looks like a zip archive, e.g. an Excel .xlsx workbook, not CSV "
                          "text; in the spreadsheet use Save As / Download as 'CSV UTF-8'")
    # Excel's "Unicode Text" export is UTF-16 with a byte-order mark.
    encoding = "utf-16" if source[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    if encoding != "utf-16" and b"\x00" in source:
        raise ConfigError("task.csv", value, _BINARY)
    try:
        return _decode(bytes(source).decode(encoding), value)
    except UnicodeDecodeError as error:
        raise ConfigError("task.csv", value,
                          f"is not {'UTF-16' if encoding == 'utf-16' else 'UTF-8'} text "
                          f"(byte 0x{source[error.start]:02x} at position {error.start} "
                          "cannot be decoded); save the file as 'CSV UTF-8'"
                          ) from None


_BINARY = ("looks like a binary file (it contains NUL bytes), not CSV text; export the "
           "data as 'CSV UTF-8' (comma-separated text)")
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "'|'"}


def _too_large(size: int) -> str:
    return (f"is {_bytes(size)}, more than the limit of {_bytes(MAX_CSV_BYTES)}; keep only "
            "the column you need, or fewer rows")


def _bytes(size: int) -> str:
    for unit, scale in (("MB", 2**20), ("kB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _parse_rows(text: str, value: Any) -> tuple[list[tuple[int, list[str]]], str]:
    """Non-blank rows with their 1-based row numbers in the file, and the delimiter."""
    delimiter = _detect_delimiter(text)
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(rows) >= MAX_CSV_ROWS:
                raise ConfigError("task.csv", value,
                                  f"has more than {MAX_CSV_ROWS:,} rows, the limit; keep "
                                  "the most recent rows or resample the series (e.g. daily "
                                  "instead of hourly)")
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise ConfigError("task.csv", value,
                          f"cannot be read as CSV near row {reader.line_num}: {error}") from None
    if not rows:
        raise ConfigError("task.csv", value,
                          "is empty: it has no rows with values; give a CSV file with one "
                          "number per row in at least one column")
    return rows, delimiter


def _detect_delimiter(text: str) -> str:
    # csv.Sniffer guesses wildly on one-column files and can be slow on odd input; a
    # delimiter that splits the first lines into the same number (>1) of fields is
    # a safer and explainable rule.
    sample = [line for line in text[:65536].splitlines()[:20] if line.strip()]
    for delimiter in _DELIMITERS:
        try:
            widths = {len(row) for row in csv.reader(sample, delimiter=delimiter)}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() > 1:
            return delimiter
    return ","


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _has_header(rows: list[tuple[int, list[str]]]) -> bool:
    first = [cell.strip() for cell in rows[0][1]]
    words = [cell != "" and _number(cell) is None for cell in first]
    if not any(words):
        return False
    if all(word or cell == "" for word, cell in zip(words, first, strict=True)):
        return True
    # Mixed first row, e.g. "date,3.5": a header only if a word sits above a number.
    if len(rows) < 2:
        return False
    second = [cell.strip() for cell in rows[1][1]]
    return any(word and index < len(second) and _number(second[index]) is not None
               for index, word in enumerate(words))


def _available(names: list[str] | None, width: int) -> str:
    indexes = f"0-based indexes 0 to {width - 1}" if width > 1 else "index 0"
    if names is None:
        return f"the file has no header row, so use {indexes}"
    listed = ", ".join(repr(name) for name in names[:20])
    more = f" and {len(names) - 20} more" if len(names) > 20 else ""
    return f"available: {listed}{more} (or {indexes})"


def _pick_column(column: str, names: list[str] | None, data: list[tuple[int, list[str]]],
                 width: int) -> int:
    wanted = column.strip()
    if wanted == "":
        for index in range(width):
            if _number(data[0][1][index].strip()) is not None:
                return index
        raise ConfigError("task.column", column,
                          "the file has no numeric column (the first data row, row "
                          f"{data[0][0]}, holds no number); {_available(names, width)}")
    if names is not None:
        if wanted in names:
            return names.index(wanted)
        folded = [name.casefold() for name in names]
        if folded.count(wanted.casefold()) == 1:
            return folded.index(wanted.casefold())
    if wanted.isdigit() and wanted.isascii():
        index = int(wanted)
        if index < width:
            return index
        raise ConfigError("task.column", column,
                          f"index {index} is past the last column; {_available(names, width)}")
    raise ConfigError("task.column", column,
                      f"there is no column named {wanted!r}; {_available(names, width)}")


def _column_values(data: list[tuple[int, list[str]]], index: int, label: str, column: str,
                   names: list[str] | None, width: int) -> np.ndarray:
    values = np.empty(len(data))
    for position, (line, row) in enumerate(data):
        cell = row[index].strip()
        number = _number(cell)
        if number is None or math.isnan(number):
            if cell.casefold() in _MISSING:
                shown = "an empty cell" if cell == "" else repr(cell)
                raise ConfigError("task.column", column,
                                  f"{label} has a missing value ({shown}) in row {line}; "
                                  "fill or delete that row, the series must be complete")
            hint = (" (a decimal comma? write numbers with a '.')"
                    if _DECIMAL_COMMA.match(cell) else "")
            raise ConfigError("task.column", column,
                              f"{label} is not numeric: row {line} holds {cell!r}{hint}; "
                              f"choose a column of numbers: {_numeric_columns(data, names, width)}")
        if math.isinf(number):
            raise ConfigError("task.column", column,
                              f"{label} has an infinite value ({cell!r}) in row {line}; "
                              "every value must be a finite number")
        values[position] = number
    return values


def _numeric_columns(data: list[tuple[int, list[str]]], names: list[str] | None,
                     width: int) -> str:
    found = [index for index in range(width) if _number(data[0][1][index].strip()) is not None]
    if not found:
        return "the first data row holds no number at all"
    return ", ".join(repr(names[i]) if names and names[i] else str(i) for i in found[:20])


def _csv_task(task: Mapping[str, Any], seq_len: int, n_samples: int, validation_split: float,
              per_step: bool, csv_text: str | bytes | None
              ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    column = task.get("column", "")
    # A JSON config may carry the index as a number; None means "not set".
    column = "" if column is None else str(column)
    if csv_text is None:
        path = task.get("path", "") or ""
        series = read_csv_series(_read_path(path), column, value=path)
    else:
        series = read_csv_series(csv_text, column)
    notes = list(series.notes)
    length = len(series.values)
    n_windows = length - seq_len
    if n_windows < 2:
        shorter = f"lower task.seq_len to at most {length - 2} or " if length >= 3 else ""
        raise ConfigError("task.seq_len", seq_len,
                          f"the series has {_count(length, 'value')}, but windows of "
                          f"{seq_len} values plus the value to forecast make only "
                          f"{_count(max(n_windows, 0), 'window')}; training and validation "
                          f"need at least 2, i.e. {seq_len + 2} rows, and useful training "
                          f"{seq_len + 1 + FEW_WINDOWS} or more; {shorter}use a longer series")
    first = 0
    if n_windows > n_samples:
        # The most recent windows: a forecast is about the future, not the distant past.
        first = n_windows - n_samples
        notes.append(f"The series gives {n_windows} windows; the last {n_samples} "
                     "(task.n_samples) are used.")
        n_windows = n_samples
    elif n_windows < FEW_WINDOWS:
        notes.append(f"Only {n_windows} windows of {seq_len} steps: expect a noisy fit; a "
                     "longer series or a shorter seq_len gives more.")
    _check_size(n_windows, seq_len, 1, "csv")
    used = series.values[first:]
    # Statistics from the values the training windows see, so validation stays unseen.
    n_train = _n_train(n_windows, validation_split, "csv")
    train_part = used[: n_train + seq_len]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.mean(train_part))
        std = float(np.std(train_part))
        scaled = (used - mean) / std if std > 0 else used
    # float32 is what the model sees: a value far outside the training spread overflows it.
    too_large = np.finfo(np.float32).max
    if (not (math.isfinite(mean) and math.isfinite(std))
            or not (np.abs(scaled) < too_large).all()):
        raise ConfigError("task.column", column,
                          f"{series.column} has values too large to standardise (up to "
                          f"{np.max(np.abs(used)):.3g}); rescale the column (e.g. divide it "
                          "by a power of ten) or remove outliers")
    if std == 0:
        raise ConfigError("task.column", column,
                          f"{series.column} is constant in the training part (every value "
                          f"is {mean:g}): there is nothing to forecast; choose a column "
                          "that changes")
    notes.append(f"The series ({series.column}) was standardised: mean {mean:.4g}, std "
                 f"{std:.4g} (from the training part); losses are in units of that std.")
    x, y = csv_windows(scaled, seq_len, per_step=per_step)
    return x, y, notes


def _read_path(path: str) -> bytes:
    if not path.strip():
        raise ConfigError("task.path", path,
                          "the csv task needs a CSV file: give its path, or upload it in "
                          "the app")
    try:
        size = os.path.getsize(path)
        if size > MAX_CSV_BYTES:
            raise ConfigError("task.csv", path, _too_large(size))
        with open(path, "rb") as handle:
            return handle.read(MAX_CSV_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("task.path", path, "no such file") from None
    except IsADirectoryError:
        raise ConfigError("task.path", path, "is a folder, not a CSV file") from None
    except OSError as error:
        raise ConfigError("task.path", path,
                          f"cannot be read: {error.strerror or error}") from None
