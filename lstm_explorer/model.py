"""Build the Keras model an `ExperimentConfig` describes, and describe it back.

The model is always a functional `keras.Model` whose `model.layers` form one chain:
`InputLayer`, an optional `Embedding`, the recurrent layers (each possibly wrapped in
`Bidirectional`), and a `Dense` head. `trace.py` relies on that chain.

Randomness comes only from seeds derived from `training.seed` and handed to each
initializer and dropout layer, never from Keras's process-global seed, so two users
training at once on one server do not change each other's results and a share link
reproduces a run.

Example:

>>> from lstm_explorer.config import ExperimentConfig
>>> config = ExperimentConfig.from_dict({"model": {"layers": [{"units": 8}]}})
>>> model = build(config)
>>> model.output_shape
(None, 1)
>>> [row["params"] for row in describe(model)][1]   # 4·(8·(2+8)+8)
352
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras

from lstm_explorer import params, tasks
from lstm_explorer.config import ExperimentConfig, cudnn_blockers
from lstm_explorer.errors import ConfigError

RECURRENT_CLASSES = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
                     "simple_rnn": keras.layers.SimpleRNN}
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW",
              "adagrad": "Adagrad"}
HEAD_ACTIVATIONS = {"regression": "linear", "multiclass": "softmax", "binary": "sigmoid"}
_KERAS_MODULES = {params.INITIALIZER: "initializers", params.REGULARIZER: "regularizers",
                  params.CONSTRAINT: "constraints"}


@dataclass(frozen=True)
class KerasCall:
    """A Keras object to create: `keras.<module>.<class_name>(**arguments)`.

    The model plan holds these instead of live objects, so the same plan builds the
    model here and is written out as source by `codegen`.

    Example:

    >>> KerasCall("initializers", "Orthogonal", {"gain": 2.0, "seed": 1}).source()
    'keras.initializers.Orthogonal(gain=2.0, seed=1)'
    """

    module: str
    class_name: str
    arguments: dict

    def create(self) -> Any:
        return getattr(getattr(keras, self.module), self.class_name)(**self.arguments)

    def source(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.arguments.items())
        return f"keras.{self.module}.{self.class_name}({arguments})"


@dataclass(frozen=True)
class LayerPlan:
    """One layer of the model to build.

    Args:
        class_name: `"Embedding"`, `"LSTM"`, `"GRU"`, `"SimpleRNN"` or `"Dense"`.
        arguments: constructor keyword arguments; `KerasCall` values become objects.
        bidirectional: wrap it in `Bidirectional` with these arguments, if not `None`.
        returns_state: the layer returns [output, *states]; the chain goes on with the
            output.
    """

    class_name: str
    arguments: dict
    bidirectional: dict | None = None
    returns_state: bool = False

    def create(self) -> keras.layers.Layer:
        arguments = {name: value.create() if isinstance(value, KerasCall) else value
                     for name, value in self.arguments.items()}
        layer = getattr(keras.layers, self.class_name)(**arguments)
        if self.bidirectional is not None:
            layer = keras.layers.Bidirectional(layer, **self.bidirectional)
        return layer


@dataclass(frozen=True)
class ModelPlan:
    """Everything `build` creates, as data: input, layers in order, and compile settings.

    Args:
        input_shape: one sequence's shape, without the batch axis.
        batch_size: the fixed batch size of a stateful model, else `None`.
        input_dtype: `"float32"`, or `"int32"` for token ids.
        layers: the layer chain after the input.
        optimizer: a `KerasCall` for the optimizer.
        loss: the Keras loss name.
        metric: the Keras metric name.
    """

    input_shape: tuple
    batch_size: int | None
    input_dtype: str
    layers: tuple[LayerPlan, ...]
    optimizer: KerasCall
    loss: str
    metric: str


def plan(config: ExperimentConfig, *, gpu_present: bool | None = None) -> ModelPlan:
    """Work out every layer and argument of a config's model, without creating it.

    Args:
        config: a validated `ExperimentConfig`.
        gpu_present: whether a GPU is visible, for the `use_cudnn=True` check.
            Default: `None` (ask TensorFlow).

    Raises:
        ConfigError: for a setting that this machine cannot run (use_cudnn=True
            without a GPU).
    """
    if gpu_present is None:
        gpu_present = bool(gpu_names())
    model_config = config.model
    cell = model_config["cell"]
    seeds = _Seeds(config.training["seed"])
    for index, layer_config in enumerate(model_config["layers"]):
        if layer_config["use_cudnn"] is True and cell != "simple_rnn" and not gpu_present:
            raise ConfigError(f"model.layers[{index}].use_cudnn", True,
                              "insists on the cuDNN kernel, but no GPU is visible on this "
                              "machine; set use_cudnn to 'auto'")
    stateful = any(layer["stateful"] for layer in model_config["layers"])
    layers = []
    embedding = model_config["embedding"]
    if embedding is not None:
        layers.append(LayerPlan("Embedding", {
            "input_dim": embedding["input_dim"] or tasks.vocab_size(config.task),
            "output_dim": embedding["output_dim"],
            "embeddings_initializer": KerasCall("initializers", "RandomUniform",
                                                {"seed": seeds.next()}),
            "name": "embedding"}))
    for index, layer_config in enumerate(model_config["layers"]):
        arguments = {"name": f"{cell}_{index + 1}",
                     **recurrent_arguments(cell, layer_config, seeds)}
        wrapper = None
        if model_config["bidirectional"]:
            wrapper = {"merge_mode": model_config["merge_mode"],
                       "name": f"bidirectional_{index + 1}"}
        layers.append(LayerPlan(RECURRENT_CLASSES[cell].__name__, arguments, wrapper,
                                returns_state=layer_config["return_state"]))
    kind = config.task_kind
    layers.append(LayerPlan("Dense", {
        "units": tasks.n_outputs(config.task), "activation": HEAD_ACTIVATIONS[kind],
        "kernel_initializer": KerasCall("initializers", "GlorotUniform",
                                        {"seed": seeds.next()}),
        "name": "head"}))
    training = config.training
    clipping = {name: training[name] for name in ("clipnorm", "clipvalue")
                if training[name] is not None}
    optimizer = KerasCall("optimizers", OPTIMIZERS[training["optimizer"]],
                          {"learning_rate": training["learning_rate"], **clipping})
    return ModelPlan(
        input_shape=tasks.input_shape(config.task),
        batch_size=training["batch_size"] if stateful else None,
        input_dtype="int32" if embedding is not None else "float32",
        layers=tuple(layers), optimizer=optimizer, loss=config.loss,
        metric=tasks.default_metric(config.task["name"]))


def build(config: ExperimentConfig, *, gpu_present: bool | None = None) -> keras.Model:
    """Build and compile the model of a config.

    Args:
        config: a validated `ExperimentConfig`.
        gpu_present: whether a GPU is visible, for the `use_cudnn=True` check.
            Default: `None` (ask TensorFlow).

    Returns:
        A compiled functional `keras.Model` (input → [Embedding] → recurrent layers →
        Dense head). Stateful layers get a fixed batch size, `training.batch_size`.

    Raises:
        ConfigError: for a setting that this machine cannot run.

    Example:

    >>> config = ExperimentConfig.from_dict(
    ...     {"task": {"name": "tokens"}, "model": {"embedding": {"output_dim": 16}}})
    >>> build(config).input_shape
    (None, 20)
    """
    model_plan = plan(config, gpu_present=gpu_present)
    if model_plan.batch_size is not None:
        inputs = keras.Input(batch_shape=(model_plan.batch_size, *model_plan.input_shape),
                             dtype=model_plan.input_dtype, name="inputs")
    else:
        inputs = keras.Input(shape=model_plan.input_shape, dtype=model_plan.input_dtype,
                             name="inputs")
    features = inputs
    for layer_plan in model_plan.layers:
        outputs = layer_plan.create()(features)
        # With return_state the layer gives [output, *states]; the chain goes on with
        # the output, and `state_model` reaches the states.
        features = outputs[0] if layer_plan.returns_state else outputs
    model = keras.Model(inputs, features, name="lstm_explorer")
    model.compile(optimizer=model_plan.optimizer.create(), loss=model_plan.loss,
                  metrics=[model_plan.metric])
    _free_graphs_after_training(model.optimizer)
    return model


def _free_graphs_after_training(optimizer: Any) -> None:
    """Let TensorFlow free a model's training graph once the model is gone.

    Keras's TF optimizer sums the gradients over the replicas with
    `ReplicaContext.all_reduce`, which TensorFlow implements with `tf.custom_gradient`.
    Inside `model.fit`'s traced step that registers a gradient function under a new name
    in TensorFlow's process-global gradient registry and never removes it; the
    function's closure holds the step's whole graph, so every training leaked its graph
    (about 12 MB for a small LSTM; `bench/memory_soak.py`). Only
    `keras.backend.clear_session()` would free them, and a server where every session
    trains must never call it (DESIGN §4). Without a distribution strategy there is one
    replica and the sum is the identity, so skip it there (this instance only: nothing
    of it is saved with the model); under a strategy (several GPUs) Keras's own sum runs.
    """
    original = optimizer._all_reduce_sum_gradients

    def all_reduce_sum_gradients(grads_and_vars):
        import tensorflow as tf

        if tf.distribute.has_strategy():
            return original(grads_and_vars)
        return list(grads_and_vars)

    optimizer._all_reduce_sum_gradients = all_reduce_sum_gradients


def recurrent_arguments(cell: str, layer_config: Mapping[str, Any],
                        seeds: _Seeds | None = None) -> dict[str, Any]:
    """The constructor arguments of one `LSTM`, `GRU` or `SimpleRNN` layer.

    Arguments that mean nothing for the cell (e.g. `unit_forget_bias` for a GRU) are
    left out; `config.notes()` tells the user. Identifier values become `KerasCall`s of
    allowed classes only; a missing seed is derived from `seeds`.

    Args:
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        layer_config: a normalized layer dict (see `ExperimentConfig`).
        seeds: where derived seeds come from. Default: `None` (seed 0).
    """
    seeds = seeds or _Seeds(0)
    arguments: dict[str, Any] = {}
    for argument, param in params.section_params("layer").items():
        if not param.applies(cell):
            continue
        value = layer_config[argument]
        if param.kind in _KERAS_MODULES:
            value = keras_call(param.kind, value, seeds.next())
        elif argument == "seed" and value is None:
            value = seeds.next()
        arguments[argument] = value
    return arguments


def keras_call(kind: str, value: Any, seed: int | None = None) -> KerasCall | None:
    """The allowed initializer, regularizer or constraint a config value names.

    Only classes in the `params.CATALOGS` allow-list are ever named; the class is
    looked up by name on the Keras module, never imported from a path in the value.
    A plain name means the class with the catalog's defaults, written out, as the dict
    form filled with them does: Keras's own defaults can differ (`L1L2()` penalises
    nothing, the catalog's `l1l2` is 0.01 each).

    Args:
        kind: `"initializer"`, `"regularizer"` or `"constraint"`.
        value: `None`, an identifier string or `{"class_name": ..., "config": {...}}`.
        seed: used for seeded initializers without a seed of their own. Default: `None`.
    """
    if value is None:
        return None
    if isinstance(value, str):
        spec = params.identifier_class(kind, value)
        arguments = {} if spec is None else spec.defaults()
    else:
        spec, arguments = params.identifier_class(kind, value["class_name"]), dict(
            value.get("config") or {})
    if spec is None:
        raise ConfigError(kind, value, f"is not an allowed {kind}")
    if spec.seeded and arguments.get("seed") is None:
        arguments["seed"] = seed
    return KerasCall(_KERAS_MODULES[kind], spec.class_name, arguments)


def keras_object(kind: str, value: Any, seed: int | None = None) -> Any:
    """Create the allowed Keras object a config value names (see `keras_call`)."""
    call = keras_call(kind, value, seed)
    return None if call is None else call.create()


class _Seeds:
    """Deterministic per-purpose seeds derived from one base seed."""

    def __init__(self, base: int):
        self.base = base
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return (self.base * 1_000_003 + self.count * 7919) % (2**31 - 1)


# --- what runs where --------------------------------------------------------------------


@functools.cache
def gpu_names() -> tuple[str, ...]:
    """Names of the GPUs TensorFlow sees (empty on a CPU-only machine)."""
    import tensorflow as tf

    names = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        names.append(details.get("device_name", device.name))
    return tuple(names)


def device_label() -> str:
    """A one-line description of where training runs, e.g. `"GPU: NVIDIA H200"`."""
    names = gpu_names()
    if names:
        return "GPU: " + ", ".join(names)
    return "CPU (no GPU visible)"


@dataclass(frozen=True)
class CudnnVerdict:
    """Whether Keras would take the fused cuDNN kernel, and why not.

    Args:
        eligible: `True` when every recurrent layer would run on cuDNN.
        reasons: one sentence per setting that prevents it.
    """

    eligible: bool
    reasons: tuple[str, ...]


def cudnn_eligible(config: ExperimentConfig, gpu_present: bool) -> CudnnVerdict:
    """Whether Keras (TF backend) would run this config's layers on the cuDNN kernel.

    Args:
        config: the experiment.
        gpu_present: whether a GPU is visible.

    Example:

    >>> config = ExperimentConfig.from_dict({"model": {"layers": [{"activation": "relu"}]}})
    >>> cudnn_eligible(config, gpu_present=True).reasons
    ("layer1: activation='relu' (cuDNN needs 'tanh')",)
    """
    reasons = []
    if not gpu_present:
        reasons.append("no GPU is visible, so Keras runs the generic kernel on the CPU")
    cell = config.model["cell"]
    if cell == "simple_rnn":
        reasons.append("SimpleRNN has no cuDNN kernel in Keras")
    else:
        for number, layer in enumerate(config.model["layers"], start=1):
            if layer["use_cudnn"] is False:
                reasons.append(f"layer{number}: use_cudnn=False")
                continue
            reasons.extend(f"layer{number}: {blocker}" for blocker in cudnn_blockers(layer))
    return CudnnVerdict(eligible=not reasons, reasons=tuple(reasons))


# --- describing a model -----------------------------------------------------------------


def describe(model: keras.Model) -> list[dict[str, Any]]:
    """One row per layer: name, type, output shape, parameter count and its formula.

    Example:

    >>> from lstm_explorer.config import ExperimentConfig
    >>> rows = describe(build(ExperimentConfig.from_dict({"model": {"layers": [{"units": 4}]}})))
    >>> rows[1]["formula"]
    '4·(units·(input_dim+units)+units) = 4·(4·(2+4)+4) = 112'
    """
    rows = []
    for layer in model.layers:
        inner = getattr(layer, "forward_layer", layer)
        formula = ""
        if isinstance(inner, tuple(RECURRENT_CLASSES.values())):
            input_dim = inner.cell.kernel.shape[0]
            formula = parameter_formula(inner, input_dim)
            if inner is not layer:
                formula = f"2 directions × ({formula})"
        rows.append({
            "name": layer.name,
            "type": type(layer).__name__ + (f"({type(inner).__name__})" if inner is not layer
                                            else ""),
            "output_shape": _output_shape(layer),
            "params": int(layer.count_params()),
            "formula": formula,
        })
    return rows


def parameter_formula(layer: keras.layers.Layer, input_dim: int) -> str:
    """The parameter count of a recurrent layer written out with its numbers."""
    units = layer.units
    use_bias = layer.cell.use_bias
    if isinstance(layer, keras.layers.LSTM):
        if use_bias:
            count = 4 * (units * (input_dim + units) + units)
            return (f"4·(units·(input_dim+units)+units) = 4·({units}·({input_dim}+{units})"
                    f"+{units}) = {count}")
        count = 4 * units * (input_dim + units)
        return f"4·units·(input_dim+units) = 4·{units}·({input_dim}+{units}) = {count}"
    if isinstance(layer, keras.layers.GRU):
        biases = (2 if layer.cell.reset_after else 1) if use_bias else 0
        count = 3 * (units * (input_dim + units) + biases * units)
        return (f"3·(units·(input_dim+units)+{biases}·units) = 3·({units}·({input_dim}+"
                f"{units})+{biases}·{units}) = {count}")
    bias = units if use_bias else 0
    count = units * (input_dim + units) + bias
    return (f"units·(input_dim+units){'+units' if use_bias else ''} = {units}·({input_dim}+"
            f"{units}){f'+{units}' if use_bias else ''} = {count}")


def _output_shape(layer: keras.layers.Layer) -> str:
    output = layer.output
    tensors = output if isinstance(output, list | tuple) else [output]
    return ", ".join(str(tuple(tensor.shape)) for tensor in tensors)


def state_model(model: keras.Model) -> keras.Model | None:
    """A model from the same inputs to the final states of every `return_state` layer.

    Returns `None` when no layer returns its state. For an LSTM the states come as
    [h, c]; a Bidirectional LSTM gives [h_forward, c_forward, h_backward, c_backward].
    """
    states = []
    for layer in model.layers:
        output = layer.output
        if isinstance(output, list | tuple) and len(output) > 1:
            states.extend(output[1:])
    if not states:
        return None
    return keras.Model(model.inputs, states, name="final_states")


def recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The recurrent layers (or their Bidirectional wrappers) in model order."""
    return [layer for layer in model.layers
            if isinstance(getattr(layer, "forward_layer", layer),
                          tuple(RECURRENT_CLASSES.values()))]


def reset_states(model: keras.Model) -> None:
    """Reset the state of every stateful recurrent layer (Keras 3 has no Model.reset_states)."""
    for layer in recurrent_layers(model):
        if getattr(layer, "stateful", False) or getattr(
                getattr(layer, "forward_layer", None), "stateful", False):
            layer.reset_state()
