"""Write a config out as a standalone Keras script: the task's data, the model, `fit`.

The script needs only tensorflow, keras and numpy (and statsmodels, which holds the data,
for the series task). The task's data generator is copied from `tasks.py` (or
`datasets/`) with `inspect.getsource`, and the model is written from the same
`model.plan` that builds it in the app, so the script's model has the same layers,
arguments, seeds and parameter count.

Example:

>>> from lstm_explorer.config import ExperimentConfig
>>> source = script(ExperimentConfig.default())
>>> "keras.layers.LSTM(" in source and "def adding_problem(" in source
True
"""

from __future__ import annotations

import inspect
import textwrap

from lstm_explorer import model as model_module
from lstm_explorer import tasks
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.datasets import chars as chars_data
from lstm_explorer.datasets import series as series_data
from lstm_explorer.model import KerasCall, LayerPlan

_GENERATOR_ARGUMENTS = {
    "adding": (),
    "recall": ("lag", "n_symbols"),
    "sine": ("noise",),
    "tokens": ("vocab_size",),
}

_CSV_LOADER = '''
def read_column(path, column):
    """The numbers of one CSV column (by header name or 0-based index)."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row]
    try:
        float(rows[0][0 if not column.isdigit() else int(column)])
        header = None
    except ValueError:
        header, rows = rows[0], rows[1:]
    if column == "":
        index = 0
    elif column.isdigit():
        index = int(column)
    else:
        index = header.index(column)
    return np.array([float(row[index]) for row in rows], dtype=np.float64)
'''


def script(config: ExperimentConfig) -> str:
    """A standalone Python script that builds and trains exactly this config's model.

    Args:
        config: the experiment.

    Returns:
        The script's source text.
    """
    model_plan = model_module.plan(config, gpu_present=True)
    sections = [_header(config), _data(config), _model(model_plan), _training(config)]
    return "\n\n".join(section.strip("\n") for section in sections) + "\n"


def _header(config: ExperimentConfig) -> str:
    config_text = textwrap.indent(config.to_json(), "    ")
    needs = ("tensorflow (with Keras 3), keras, numpy and statsmodels (which ships the\n"
             "series)" if config.task["name"] == "series"
             else "tensorflow (with Keras 3), keras and numpy")
    return f'''"""Train a Keras {config.model["cell"].upper()} model, as set up in LSTM Explorer.

Needs {needs}. The config it was made from:

{config_text}
"""

import keras
import numpy as np'''


def _data(config: ExperimentConfig) -> str:
    task = config.task
    name = task["name"]
    per_step = config.per_step_targets
    if name == "series":
        return _series_data(config)
    if name == "chars":
        return _split(config, _chars_data(config))
    generator = tasks.sine_stream if task.get("stream") else tasks.GENERATORS[name]
    lines = [f"# --- Data: the {name!r} task (generator copied from lstm_explorer/tasks.py)",
             inspect.getsource(generator).rstrip()]
    if name == "csv":
        lines.append(_CSV_LOADER.strip("\n"))
        lines.append(f"series = read_column({task['path']!r}, {task['column']!r})")
        lines.append(textwrap.dedent(f"""\
            # The most recent windows, standardised with the statistics of the values the
            # training windows see, as the app does.
            seq_len, split = {task['seq_len']!r}, {config.training['validation_split']!r}
            n_windows = len(series) - seq_len
            series = series[max(0, n_windows - {task['n_samples']}):]
            n_windows = min(n_windows, {task['n_samples']})
            train_part = series[: int(n_windows * (1.0 - split)) + seq_len]
            series = (series - train_part.mean()) / train_part.std()
            x, y = csv_windows(series, seq_len, per_step={per_step!r})"""))
    else:
        arguments = [repr(task["n_samples"]), repr(task["seq_len"]), "rng"]
        arguments += [f"{key}={task[key]!r}" for key in _GENERATOR_ARGUMENTS[name]]
        if "per_step" in inspect.signature(generator).parameters:
            arguments.append(f"per_step={per_step!r}")
        lines.append(f"rng = np.random.default_rng({task['seed']!r})")
        lines.append(f"x, y = {generator.__name__}({', '.join(arguments)})")
    return _split(config, lines)


def _split(config: ExperimentConfig, lines: list[str]) -> str:
    lines.append(textwrap.dedent(f"""\
        # Validation takes the last part of the samples, as Keras's validation_split does.
        n_train = int(len(x) * (1.0 - {config.training['validation_split']!r}))
        x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]"""))
    return "\n\n".join(lines)


def _series_data(config: ExperimentConfig) -> str:
    task = config.task
    functions = (series_data.load_series, series_data.split_counts,
                 series_data.series_windows, series_data.split_series)
    lines = ["# --- Data: the 'series' task (functions copied from "
             "lstm_explorer/datasets/series.py)",
             *(inspect.getsource(function).rstrip() for function in functions),
             textwrap.dedent(f"""\
                 # Split by time: the training windows come first, and validation forecasts
                 # only values after every value they read or forecast. Standardised with the
                 # mean and standard deviation of that training period alone.
                 values = load_series({task['dataset']!r})
                 x_train, y_train, x_val, y_val, mean, std = split_series(
                     values, seq_len={task['seq_len']!r}, horizon={task['horizon']!r},
                     relative={task['relative']!r}, n_samples={task['n_samples']!r},
                     validation_split={config.training['validation_split']!r},
                     per_step={config.per_step_targets!r},
                 )""")]
    return "\n\n".join(lines)


def _chars_data(config: ExperimentConfig) -> list[str]:
    task = config.task
    functions = (chars_data.encode_text, chars_data.stdlib_text, chars_data.char_windows)
    n_chars = task["n_samples"] * task["seq_len"] + 1
    return ["# --- Data: the 'chars' task (functions copied from "
            "lstm_explorer/datasets/chars.py)",
            *(inspect.getsource(function).rstrip() for function in functions),
            textwrap.dedent(f"""\
                # Python source from this interpreter's standard library: another Python
                # version has other files, hence another text.
                text, files = stdlib_text({n_chars!r}, seed={task['seed']!r})
                x, y = char_windows(encode_text(text), n_samples={task['n_samples']!r},
                                    seq_len={task['seq_len']!r},
                                    per_step={config.per_step_targets!r})""")]


def _value_source(value) -> str:
    if isinstance(value, KerasCall):
        return value.source()
    return repr(value)


def _layer_source(layer_plan: LayerPlan) -> str:
    arguments = ",\n".join(f"    {name}={_value_source(value)}"
                           for name, value in layer_plan.arguments.items())
    source = f"keras.layers.{layer_plan.class_name}(\n{arguments},\n)"
    if layer_plan.bidirectional is not None:
        wrapper = ", ".join(f"{name}={value!r}" for name, value in
                            layer_plan.bidirectional.items())
        source = f"keras.layers.Bidirectional(\n{textwrap.indent(source, '    ')},\n    {wrapper},\n)"
    return source


def _model(model_plan: model_module.ModelPlan) -> str:
    if model_plan.batch_size is not None:
        shape = f"batch_shape=({model_plan.batch_size}, {', '.join(map(str, model_plan.input_shape))})"
    else:
        shape = f"shape={tuple(model_plan.input_shape)!r}"
    lines = ["# --- Model: the functional API, so return_state and stateful layers work.",
             f"inputs = keras.Input({shape}, dtype={model_plan.input_dtype!r}, name='inputs')",
             "features = inputs"]
    for layer_plan in model_plan.layers:
        call = _layer_source(layer_plan)
        if layer_plan.returns_state:
            lines.append(f"features, *final_states = {call}(features)")
        else:
            lines.append(f"features = {call}(features)")
    lines.append("model = keras.Model(inputs, features, name='lstm_explorer')")
    lines.append(f"model.compile(optimizer={model_plan.optimizer.source()}, "
                 f"loss={model_plan.loss!r}, metrics=[{model_plan.metric!r}])")
    lines.append("model.summary()")
    return "\n".join(lines)


def _training(config: ExperimentConfig) -> str:
    training = config.training
    stateful = any(layer["stateful"] for layer in config.model["layers"])
    batch_size = training["batch_size"]
    arrange = ""
    if stateful and config.task.get("stream"):
        arrange = (inspect.getsource(tasks.arrange_for_state) +
                   f"\n\nx_train, y_train = arrange_for_state(x_train[:usable], "
                   f"y_train[:usable], {batch_size})\n")
    if stateful:
        return textwrap.dedent(f"""\
            # --- Training. A stateful layer carries its state from batch to batch: no
            # shuffling, whole batches only, and reset_state() at each epoch start
            # (Keras 3 has no model.reset_states()).
            usable = len(x_train) // {batch_size} * {batch_size}
            x_train, y_train = x_train[:usable], y_train[:usable]
            usable_val = len(x_val) // {batch_size} * {batch_size}
            validation = (x_val[:usable_val], y_val[:usable_val]) if usable_val else None
            """) + arrange + textwrap.dedent(f"""\


            class ResetStates(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    for layer in self.model.layers:
                        if getattr(layer, "stateful", False):
                            layer.reset_state()


            model.fit(x_train, y_train, batch_size={batch_size}, epochs={training['epochs']},
                      shuffle=False, validation_data=validation, callbacks=[ResetStates()])""")
    validation = "(x_val, y_val) if len(x_val) else None"
    return textwrap.dedent(f"""\
        # --- Training.
        keras.utils.set_random_seed({training['seed']})  # fixes the shuffling order
        model.fit(x_train, y_train, batch_size={batch_size}, epochs={training['epochs']},
                  validation_data={validation})""")
