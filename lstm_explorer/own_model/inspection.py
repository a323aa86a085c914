"""Trace a saved Keras model on a person's own arrays: `python -m lstm_explorer inspect`.

```
python -m lstm_explorer inspect MODEL.keras --inputs X.npy [--targets Y.npy]
                                [--loss LOSS] [--samples N] [--column NAME] --out RUN_DIR
```
The model is loaded with `keras.saving.load_model(path, safe_mode=True)` (no code from
the file runs), checked (`support.check_model`), and the first `--samples` sequences of
the inputs are traced once, in inference mode. The run directory holds:

```
RUN_DIR/model.json     the model's description (source "inspect", the files read)
RUN_DIR/trace.npz      gates and states; per-step gradient norms when targets are given
                       (NaN without targets: there is no loss to differentiate)
RUN_DIR/history.json   {"epochs": [one row, "epoch": 0, with the loss and "probe"] when
                       targets are given, else [], "status": "inspected", ...}
```
Inputs and targets are `.npy` files, `.npz` files (the first array, or `FILE.npz:NAME`),
or for inputs a CSV file: windows of the model's step count over one numeric column
(`--column`), each with the value after it as its target (at every step when the model
outputs a sequence), as the explorer's csv task cuts them (without its scaling).

Every problem is a `ConfigError` naming the argument (`MODEL`, `--inputs`, `--targets`,
`--loss`, `--samples`, `--out`) and echoing its value: the CLI prints it in one line.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from lstm_explorer import export, tasks
from lstm_explorer.errors import ConfigError
from lstm_explorer.own_model import rundir
from lstm_explorer.own_model.callback import MAX_PROBE
from lstm_explorer.own_model.description import describe

__all__ = ["DEFAULT_SAMPLES", "inspect_model", "read_array"]

#: Sequences traced when `--samples` is not given (a stateful model: its batch size).
DEFAULT_SAMPLES = 32

_LOSS_EXAMPLES = ("mse, mae, huber, binary_crossentropy, categorical_crossentropy, "
                  "sparse_categorical_crossentropy")


def inspect_model(model_path: str | os.PathLike[str], inputs: str, out: str | os.PathLike[str],
                  *, targets: str | None = None, loss: str | None = None,
                  samples: int | None = None, column: str = "") -> dict[str, Any]:
    """Trace a saved model on the first sequences of `inputs` and write a run directory.

    Args:
        model_path: a `.keras` file.
        inputs: `X.npy`, `X.npz`, `X.npz:NAME` or a CSV file.
        out: the run directory to write (created if missing).
        targets: `Y.npy`, `Y.npz` or `Y.npz:NAME`, one target per input sequence.
            Default: `None` (gates and states only; a CSV brings its own targets).
        loss: a Keras loss name, used instead of the model's own. Default: `None` (the
            loss the model was compiled with).
        samples: how many sequences to trace, from the first. Default: `None`
            (`DEFAULT_SAMPLES`, or all when there are fewer; a stateful model's batch
            size).
        column: the CSV column (name or 0-based index). Default: `""` (the first
            numeric one).

    Returns:
        The history written: `{"epochs": [...], "status": "inspected", "message": ...}`.

    Raises:
        ConfigError: naming the argument: not a model file, a model that cannot be
            traced (no recurrent layer, a layer off the chain), arrays whose shapes do not
            fit the model, targets without a loss.

    Example:

    ```python
    model.save("model.keras")                      # takes (batch, 10, 3)
    np.save("x.npy", x_test)                       # (1000, 10, 3)
    inspect_model("model.keras", "x.npy", "runs/saved", samples=16)
    # runs/saved/trace.npz: "layer0/h" (16, 10, units), ...
    ```
    """
    if loss is not None:
        _check_loss(loss)
    model = _load(model_path)
    from lstm_explorer.own_model.support import UnsupportedModelError, check_model

    try:
        check_model(model)
    except UnsupportedModelError as error:
        raise ConfigError("MODEL", str(model_path), str(error)) from None
    model_input = model.inputs[0]
    x, csv_targets, notes = read_array(inputs, "--inputs", model=model, column=column)
    y = read_array(targets, "--targets")[0] if targets is not None else csv_targets
    x = _fit_inputs(x, model_input, inputs)
    count = _sample_count(model, x, samples)
    if y is not None and len(y) != len(x):
        raise ConfigError("--targets", targets, f"hold {len(y)} targets for {len(x)} input "
                          "sequences: give one target per sequence, in the same order")
    x = np.ascontiguousarray(x[:count])
    description = describe(model, source="inspect", extra={
        "inputs": str(inputs), "targets": None if targets is None else str(targets),
        "samples": count})
    if y is not None:
        y = np.ascontiguousarray(y[:count])
        chosen = loss if loss is not None else getattr(model, "loss", None)
        if chosen is None:
            raise ConfigError("--loss", loss, "the model was saved without a loss, and the "
                              "gradients need one: pass --loss, e.g. --loss mse "
                              f"({_LOSS_EXAMPLES})")
        if loss is not None:
            model.compile(loss=loss)
            description["loss"] = loss
    else:
        # Without targets there is no loss to differentiate: trace against the model's
        # own predictions under mse, whose gradients are then dropped (NaN).
        model.compile(loss="mse")
    trace = _trace(model, x, y, inputs, targets)
    out = Path(out)
    _prepare(out)
    rundir.write_description(out, description)
    rundir.save_trace(out, trace)
    what = f"{count} sequence{'s' * (count != 1)} of {inputs}"
    if y is not None:
        rows = [{"epoch": 0, "loss": _finite_or_none(trace.loss), "val_loss": None,
                 "probe": trace.summary()}]
        message = f"Traced {what} with their targets; the model was not trained."
    else:
        rows = []
        message = (f"Traced {what} without targets: gates and states only; give --targets "
                   "for the per-step gradients.")
    history = {"epochs": rows, "status": "inspected", "message": message,
               "notes": list(notes), "source": "inspect", "trace_epoch": 0}
    export.write_history(out, history)
    return history


def read_array(spec: str, argument: str, *, model: Any = None,
               column: str = "") -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """Read `--inputs` / `--targets`: a `.npy`, `.npz` (first array or `FILE.npz:NAME`) or CSV.

    Args:
        spec: the argument's value.
        argument: its name, for errors (`"--inputs"`).
        model: for a CSV, the model whose step count cuts the windows. Default: `None`.
        column: the CSV column. Default: `""`.

    Returns:
        `(array, csv_targets, notes)`: the array (a `.npy` is memory-mapped, not read
        whole); the CSV's targets (else `None`); what the reader decided.

    Example:

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "data.npz"
    >>> np.savez(path, ids=np.zeros((4, 3)), labels=np.ones(4))
    >>> read_array(f"{path}:labels", "--targets")[0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    path, name = _split_spec(spec)
    if not path.exists():
        raise ConfigError(argument, spec, "no such file")
    if path.is_dir():
        raise ConfigError(argument, spec, "is a folder, not a .npy, .npz or .csv file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False), None, ()
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                if not npz.files:
                    raise ConfigError(argument, spec, "holds no arrays")
                if name is not None and name not in npz.files:
                    raise ConfigError(argument, spec, f"has no array {name!r}; it holds "
                                      f"{npz.files}")
                return npz[name or npz.files[0]], None, ()
    except ConfigError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ConfigError(argument, spec, f"cannot be read as a NumPy array file "
                          f"({_first_line(error)}); arrays of objects (pickles) are "
                          "refused") from None
    if suffix in (".csv", ".txt", ".tsv") and argument == "--inputs":
        return _csv_windows(path, spec, model, column)
    raise ConfigError(argument, spec, "expected a .npy or .npz file"
                      + (" or a CSV file" if argument == "--inputs" else ""))


# ---------------------------------------------------------------------------------------


def _check_loss(loss: str) -> None:
    import keras

    try:
        keras.losses.get(loss)
    except (ValueError, TypeError):
        raise ConfigError("--loss", loss, f"is not a Keras loss; use one such as "
                          f"{_LOSS_EXAMPLES}") from None


def _load(model_path: str | os.PathLike[str]) -> Any:
    import keras

    path = Path(model_path)
    if not path.exists():
        raise ConfigError("MODEL", str(model_path), "no such file")
    if path.is_dir():
        raise ConfigError("MODEL", str(model_path), "is a folder, not a .keras model file")
    try:
        with warnings.catch_warnings():
            # e.g. optimizer variables that were not restored: not used by a trace.
            warnings.simplefilter("ignore")
            return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - anything Keras raises on a bad file
        raise ConfigError("MODEL", str(model_path), "is not a Keras model file that can be "
                          f"loaded safely ({type(error).__name__}: {_first_line(error)}); "
                          "save one with model.save('model.keras')") from None


def _split_spec(spec: str) -> tuple[Path, str | None]:
    path = Path(spec)
    if not path.exists() and ":" in spec:
        left, name = spec.rsplit(":", 1)
        if left.lower().endswith(".npz") and name:
            return Path(left), name
    return path, None


def _csv_windows(path: Path, spec: str, model: Any, column: str):
    shape = tuple(model.inputs[0].shape) if model is not None else (None, None)
    steps = shape[1] if len(shape) > 1 else None
    if model is None or len(shape) != 3 or steps is None or shape[2] != 1:
        raise ConfigError("--inputs", spec, f"a CSV gives windows of one column, (batch, "
                          f"steps, 1), but the model takes {_shape_text(shape)}: give the "
                          "sequences as a .npy file instead")
    try:
        content = tasks._read_path(str(path))
        series = tasks.read_csv_series(content, column, value=spec)
    except ConfigError as error:
        field = "--column" if error.field == "task.column" else "--inputs"
        raise ConfigError(field, column if field == "--column" else spec,
                          error.message) from None
    if len(series.values) <= steps:
        raise ConfigError("--inputs", spec, f"{series.column} has {len(series.values)} "
                          f"values; windows of the model's {steps} steps need at least "
                          f"{steps + 1}")
    per_step = len(model.outputs[0].shape) == 3
    x, y = tasks.csv_windows(series.values, steps, per_step=per_step)
    notes = (*series.notes, f"Cut {len(x)} windows of {steps} steps from {series.column}, "
             "each with the value after it as its target (values as in the file, unscaled).")
    return x, y, notes


def _sample_count(model: Any, x: np.ndarray, samples: int | None) -> int:
    fixed = model.inputs[0].shape[0]
    if fixed is not None:  # stateful: the states have the batch size
        if samples is not None and samples != fixed:
            raise ConfigError("--samples", samples, f"the model is stateful with batch size "
                              f"{fixed}: it traces exactly {fixed} sequences")
        if len(x) < fixed:
            raise ConfigError("--samples", samples, f"the model is stateful with batch size "
                              f"{fixed}, and the inputs hold only {len(x)} sequences")
        return int(fixed)
    if samples is None:
        return max(1, min(len(x), DEFAULT_SAMPLES))
    if isinstance(samples, bool) or not 1 <= samples <= MAX_PROBE:
        raise ConfigError("--samples", samples, f"expected a number of sequences from 1 to "
                          f"{MAX_PROBE}")
    if samples > len(x):
        raise ConfigError("--samples", samples, f"the inputs hold only {len(x)} sequences")
    return samples


def _fit_inputs(x: np.ndarray, model_input: Any, spec: str) -> np.ndarray:
    """`x` checked against the model's input shape, and in the dtype it takes."""
    expected = tuple(model_input.shape)
    fits = x.ndim == len(expected) and all(
        want is None or want == have for want, have in zip(expected[1:], x.shape[1:]))
    if not fits or len(x) == 0:
        raise ConfigError("--inputs", spec, f"holds an array of shape {tuple(x.shape)}, but "
                          f"the model takes {_shape_text(expected)}: give the sequences "
                          "in that shape, one per row")
    if not np.issubdtype(x.dtype, np.number) and x.dtype != bool:
        raise ConfigError("--inputs", spec, f"holds {x.dtype} values: expected numbers")
    dtype = np.dtype(str(model_input.dtype))
    if np.issubdtype(dtype, np.integer) and not np.issubdtype(x.dtype, np.integer):
        head = np.asarray(x[:MAX_PROBE])
        if not np.all(np.isfinite(head)) or not np.all(head == np.round(head)):
            raise ConfigError("--inputs", spec, f"holds fractional {x.dtype} values, but the "
                              f"model takes {dtype} ids (an Embedding): give whole numbers")
    return x


def _trace(model: Any, x: np.ndarray, y: np.ndarray | None, inputs: str,
           targets: str | None) -> Any:
    from lstm_explorer.trace import Tracer

    dtype = np.dtype(str(model.inputs[0].dtype))
    x = x.astype(dtype, copy=False)
    tracer = Tracer(model)
    if y is None:
        # Read before the predictions move a stateful model's states on: the trace
        # starts from the states the model was saved with, as with targets.
        snapshot = tracer.snapshot()
        predictions = np.asarray(model(x, training=False))
        trace = _call(tracer, x, predictions, "--inputs", inputs, snapshot)
        # No targets, no loss: the gradients of mse against the predictions themselves
        # are zeros, which would read as "no gradient"; NaN says "not measured".
        trace.loss = float("nan")
        trace.weight_grad_norms = {}
        for layer in trace.layers:
            layer.grad_h = np.full_like(layer.grad_h, np.nan)
            if layer.grad_c is not None:
                layer.grad_c = np.full_like(layer.grad_c, np.nan)
        return trace
    return _call(tracer, x, y, "--targets", targets)


def _call(tracer: Any, x: np.ndarray, y: np.ndarray, argument: str, spec: str,
          snapshot: Any = None) -> Any:
    try:
        # One call: op by op is quicker than tracing a graph first.
        return tracer(x, y, eager=True, snapshot=snapshot)
    except Exception as error:  # noqa: BLE001 - shapes Keras refuses, named for the user
        model = tracer.model
        raise ConfigError(argument, spec, f"do not fit the model (inputs "
                          f"{_shape_text(tuple(model.inputs[0].shape))}, outputs "
                          f"{_shape_text(tuple(model.outputs[0].shape))}, loss "
                          f"{model.loss!r}): {_first_line(error)}") from None


def _prepare(out: Path) -> None:
    if (out / export.CONFIG_FILE).exists():
        raise ConfigError("--out", str(out), f"holds a run of `python -m lstm_explorer train` "
                          f"({export.CONFIG_FILE}): give inspect a folder of its own")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError("--out", str(out), f"cannot be created: {error.strerror or error}"
                          ) from None
    # A model.keras of an earlier callback run here would not be this model.
    (out / rundir.MODEL_FILE).unlink(missing_ok=True)


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("batch" if i == 0 and size is None else "any" if size is None
                           else str(size) for i, size in enumerate(shape)) + ")"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None
