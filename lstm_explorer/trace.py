"""Replay the recurrent layers of a Keras model from their weights: gates, states, gradients.

A `Tracer` runs a probe batch through a model with every recurrent layer (`LSTM`, `GRU`,
`SimpleRNN`, each possibly inside `Bidirectional`) replaced by a step-by-step replay
computed from the layer's own weights, so that every gate, hidden state and cell state
can be read out, and so that the gradient of the loss with respect to each intermediate
state is the total derivative through all later steps and layers.

Gates are replayed, never captured by hooking `LSTMCell.call`: on a GPU Keras runs the
fused cuDNN kernel and the cell's `call` never executes.

The replay and its gradients are one traced graph that takes the weights as arguments,
traced once per architecture and probe shape and shared by every `Tracer` in the
process; each call passes the model's current weights (and, for stateful layers, the
current states, which it never modifies). In that graph each recurrent layer's gradient
is a reverse loop of our own rather than TensorFlow's gradient of the forward loop,
which for an LSTM takes about twice as long to trace and run for the first time (see
`_recurrence`): the first training of an architecture pays for that.

Example:

>>> import numpy as np, keras
>>> inputs = keras.Input(shape=(12, 1))
>>> hidden = keras.layers.LSTM(8)(inputs)
>>> model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
>>> model.compile(loss="mse")
>>> trace = Tracer(model)(np.zeros((4, 12, 1)), np.zeros((4, 1)))
>>> trace.layers[0].values["f"].shape  # (batch, steps, units)
(4, 12, 8)
>>> trace.layers[0].grad_h.shape  # (steps,)
(12,)
>>> sorted(trace.to_arrays())[:4]
['inputs', 'layer0/c', 'layer0/f', 'layer0/g']
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# compile() wraps plain loss functions in this class; it is not exported by `keras.losses`,
# and using it keeps the traced loss identical to what `fit` reports (rank fixing of
# targets, reduction, masking).
from keras.src.losses.losses import LossFunctionWrapper

# Not exported either: the class of models built from a layer graph (`keras.Model(inputs,
# outputs)`), whose graph `_check_functional_chain` walks.
from keras.src.models.functional import Functional

__all__ = [
    "GATES",
    "MAX_SHARED_GRAPHS",
    "SATURATION_BOUNDS",
    "LayerTrace",
    "Snapshot",
    "Trace",
    "Tracer",
    "UnsupportedModelError",
    "clear_shared_graphs",
    "load_npz",
    "save_npz",
    "trace_model",
]

#: Gate arrays recorded per cell kind, besides "h" (and "c" for LSTM), in weight order.
GATES: dict[str, tuple[str, ...]] = {
    "lstm": ("i", "f", "g", "o"),
    "gru": ("z", "r", "g"),
    "simple_rnn": (),
}

#: A gate value counts as saturated below the first bound or above the second.
SATURATION_BOUNDS = (0.1, 0.9)

# Gates squashed by `recurrent_activation`; the candidate g is not a gate in that sense.
_SATURATING_GATES = {"lstm": ("i", "f", "o"), "gru": ("z", "r"), "simple_rnn": ()}

# Column blocks of kernel, recurrent_kernel and bias, in Keras's weight order.
_WEIGHT_BLOCKS = {"lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h"), "simple_rnn": ()}

# Keyed by cell class, so that `keras.layers.RNN(keras.layers.LSTMCell(...))` replays too.
_KIND_OF = {
    keras.layers.LSTMCell: "lstm",
    keras.layers.GRUCell: "gru",
    keras.layers.SimpleRNNCell: "simple_rnn",
}

_KEY_PATTERN = re.compile(r"^layer(\d+)(/backward)?/([a-z_]+)$")

#: How many traced graphs (architecture x probe shape) the process keeps for reuse. A
#: graph of a one-layer LSTM takes about 2.5 MB; a class mostly trains a few configs.
MAX_SHARED_GRAPHS = 16

# Traced graphs by architecture and argument shapes, least recently used first. They
# hold no model and no weights: the weights are arguments.
_SHARED_GRAPHS: OrderedDict[tuple, Any] = OrderedDict()
_SHARED_LOCK = threading.Lock()
_BUILDING: dict[tuple, threading.Lock] = {}

# Settings that change how a layer is created or trained but not what the replay
# computes from its current weights (in inference mode, so without dropout), left out
# of the architecture key so that, say, two seeds of one config share a graph.
_UNTRACED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_UNTRACED_KEYS = ("name", "seed")


@dataclass
class LayerTrace:
    """Gates, states and per-step gradient norms of one direction of one recurrent layer.

    Every array is in processing order: with `go_backwards=True` (and for the backward
    direction of a `Bidirectional` layer) step 0 is the last input step.

    Args:
        index: 0-based position of the layer among the model's recurrent layers.
        name: the Keras layer name (the wrapper's name for `Bidirectional`).
        cell: `"lstm"`, `"gru"` or `"simple_rnn"`.
        direction: `"forward"`, or `"backward"` for the backward half of a
            `Bidirectional` layer (both halves share `index`).
        go_backwards: whether this direction reads its input from the last step.
        values: float32 arrays of shape `(batch, steps, units)`: `"h"`, and for LSTM
            `"c"`, `"i"`, `"f"`, `"g"`, `"o"`; for GRU `"z"`, `"r"`, `"g"`.
        grad_h: shape `(steps,)`: L2 norm over batch and units of dL/dh_t, the total
            derivative of the loss through all later steps and layers.
        grad_c: the same for the LSTM cell state; `None` for other cells.
            Default: `None`.
    """

    index: int
    name: str
    cell: str
    direction: str
    go_backwards: bool
    values: dict[str, np.ndarray]
    grad_h: np.ndarray
    grad_c: np.ndarray | None = None

    @property
    def key(self) -> str:
        """`"layer{k}"`, or `"layer{k}/backward"` for a backward direction."""
        if self.direction == "backward":
            return f"layer{self.index}/backward"
        return f"layer{self.index}"

    @property
    def steps(self) -> int:
        """Number of time steps."""
        return int(self.values["h"].shape[1])

    @property
    def units(self) -> int:
        """Number of units."""
        return int(self.values["h"].shape[2])


@dataclass
class Trace:
    """Everything recorded on one probe batch: inputs, loss, per-layer traces, norms.

    Args:
        inputs: the probe inputs as fed to the model.
        targets: the probe targets.
        loss: the model's loss on the probe batch (inference mode, no regularization).
        layers: one `LayerTrace` per direction of each recurrent layer, in model order.
        weight_grad_norms: `{owner: {weight: norm}}`, the L2 norm of dL/dW of every
            trainable weight. Owners are `"layer{k}"` / `"layer{k}/backward"` for
            recurrent layers, whose entries also hold per-gate blocks such as
            `"kernel/i"`, `"recurrent_kernel/f"`, `"bias/o"` (LSTM blocks i, f, c, o;
            GRU z, r, h), and the Keras layer name for other layers (`"dense"`).
            Default: `{}`.
        saturation: `{layer key: {gate: fraction}}`, the fraction of gate values below
            0.1 or above 0.9 over batch, steps and units (LSTM i, f, o; GRU z, r).
            Default: `{}`.
    """

    inputs: np.ndarray
    targets: np.ndarray
    loss: float
    layers: list[LayerTrace]
    weight_grad_norms: dict[str, dict[str, float]] = field(default_factory=dict)
    saturation: dict[str, dict[str, float]] = field(default_factory=dict)

    def layer(self, key: str) -> LayerTrace:
        """The `LayerTrace` with `key` (e.g. `"layer0"`, `"layer1/backward"`)."""
        for layer in self.layers:
            if layer.key == key:
                return layer
        known = [layer.key for layer in self.layers]
        raise KeyError(f"key={key!r}: no such layer in this trace; known keys: {known}")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the `trace.npz` contract, keyed as in DESIGN §3.

        Returns:
            `{"inputs", "targets", "layer{k}/h", "layer{k}/c", ..., "layer{k}/grad_h",
            "layer{k}/grad_c"}`, backward directions under `"layer{k}/backward/..."`.
            States and gates are float32 `(batch, steps, units)`; gradient norms are
            float64 `(steps,)`.
        """
        arrays = {"inputs": np.asarray(self.inputs), "targets": np.asarray(self.targets)}
        for layer in self.layers:
            for name, value in layer.values.items():
                arrays[f"{layer.key}/{name}"] = np.asarray(value, dtype=np.float32)
            arrays[f"{layer.key}/grad_h"] = np.asarray(layer.grad_h, dtype=np.float64)
            if layer.grad_c is not None:
                arrays[f"{layer.key}/grad_c"] = np.asarray(layer.grad_c, dtype=np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Trace:
        """Rebuild a `Trace` from `to_arrays()` output (e.g. a loaded `trace.npz`).

        What the arrays do not hold is filled in: `loss` is NaN, layer names are the
        keys, `go_backwards` is true for backward directions only, `weight_grad_norms`
        is empty, and `saturation` is recomputed from the gate values.

        Args:
            arrays: mapping from contract keys to arrays.

        Raises:
            ValueError: a key is not part of the contract, or a layer lacks `h` or
                `grad_h`.
        """
        for required in ("inputs", "targets"):
            if required not in arrays:
                raise ValueError(f"arrays lacks {required!r}; keys: {sorted(arrays)}")
        groups: dict[tuple[int, str], dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            if key in ("inputs", "targets"):
                continue
            match = _KEY_PATTERN.match(key)
            if match is None:
                raise ValueError(
                    f"arrays key {key!r} is not a trace.npz key "
                    "(expected 'inputs', 'targets' or 'layer{k}[/backward]/{name}')"
                )
            direction = "backward" if match.group(2) else "forward"
            groups.setdefault((int(match.group(1)), direction), {})[match.group(3)] = value
        layers = []
        for (index, direction), items in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1] != "forward")
        ):
            key = f"layer{index}" + ("/backward" if direction == "backward" else "")
            for required in ("h", "grad_h"):
                if required not in items:
                    raise ValueError(f"arrays lacks {key + '/' + required!r}")
            cell = "lstm" if "c" in items else "gru" if "z" in items else "simple_rnn"
            names = ("h", "c", *GATES[cell]) if cell == "lstm" else ("h", *GATES[cell])
            missing = [f"{key}/{name}" for name in names if name not in items]
            if missing:
                raise ValueError(f"arrays lacks {missing} for a {cell} layer")
            allowed = {*names, "grad_h", *(("grad_c",) if cell == "lstm" else ())}
            unknown = [f"{key}/{name}" for name in items if name not in allowed]
            if unknown:
                raise ValueError(
                    f"arrays key {unknown[0]!r} is not a trace.npz key for a {cell} layer "
                    f"(expected {key}/ followed by one of {sorted(allowed)})"
                )
            values = {name: np.asarray(items[name], dtype=np.float32) for name in names}
            grad_c = items.get("grad_c")
            layers.append(
                LayerTrace(
                    index=index,
                    name=key,
                    cell=cell,
                    direction=direction,
                    go_backwards=direction == "backward",
                    values=values,
                    grad_h=np.asarray(items["grad_h"], dtype=np.float64),
                    grad_c=None if grad_c is None else np.asarray(grad_c, dtype=np.float64),
                )
            )
        return cls(
            inputs=np.asarray(arrays["inputs"]),
            targets=np.asarray(arrays["targets"]),
            loss=math.nan,
            layers=layers,
            weight_grad_norms={},
            saturation={
                layer.key: _saturation(layer) for layer in layers if layer.cell != "simple_rnn"
            },
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready digest: loss, per-step gradient norms, weight norms, saturation.

        Non-finite numbers (a diverged run) become `None`, since JSON has no NaN.

        Returns:
            `{"loss": float, "grad_h": {key: [floats]}, "grad_c": {key: [floats]},
            "weight_grad_norms": {...}, "saturation": {...}}`; `grad_c` holds LSTM
            layers only.
        """
        return {
            "loss": _json_float(self.loss),
            "grad_h": {layer.key: _json_list(layer.grad_h) for layer in self.layers},
            "grad_c": {
                layer.key: _json_list(layer.grad_c)
                for layer in self.layers
                if layer.grad_c is not None
            },
            "weight_grad_norms": {
                owner: {name: _json_float(value) for name, value in norms.items()}
                for owner, norms in self.weight_grad_norms.items()
            },
            "saturation": {
                key: {gate: _json_float(value) for gate, value in gates.items()}
                for key, gates in self.saturation.items()
            },
        }


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _json_list(values: np.ndarray) -> list[float | None]:
    return [_json_float(value) for value in np.asarray(values).ravel()]


def _saturation(layer: LayerTrace) -> dict[str, float]:
    low, high = SATURATION_BOUNDS
    result = {}
    for gate in _SATURATING_GATES[layer.cell]:
        values = layer.values[gate]
        saturated = np.count_nonzero((values < low) | (values > high))
        result[gate] = float(saturated / values.size) if values.size else 0.0
    return result


@dataclass(frozen=True)
class Snapshot:
    """The replay's variables and their values at one moment (`Tracer.snapshot`)."""

    variables: list[Any]
    values: list[tf.Tensor]


def _read(variables: list[Any]) -> Snapshot:
    return Snapshot(variables, [tf.convert_to_tensor(variable) for variable in variables])


@dataclass
class _Direction:
    """One direction of one recurrent layer, as the replay sees it."""

    index: int
    direction: str
    layer: Any  # the keras LSTM / GRU / SimpleRNN that owns the weights
    kind: str
    name: str

    @property
    def key(self) -> str:
        return f"layer{self.index}" + ("/backward" if self.direction == "backward" else "")


class Tracer:
    """Records gates, states and gradient norms of a model's recurrent layers.

    The model must be a chain: optional `Embedding` (or other layers), one or more
    `LSTM` / `GRU` / `SimpleRNN` layers, each possibly wrapped in `Bidirectional`, then
    a head such as `Dense`. It must be compiled: the traced loss is `model.loss`.

    Build one `Tracer` per model and call it as often as needed. The computation is
    traced into a graph that takes the model's weights as arguments, so one graph
    serves every model of the same architecture in the process (a classroom training
    one config, or a second training of the same model): it is traced on the first
    call (or `build`) for an architecture and probe-batch shape and reused after that,
    by this `Tracer` and by any other (`trace_count` counts the tracings this `Tracer`
    did).
    A model with a layer outside Keras's own, or a loss that is not a name or a Keras
    `Loss`, gets a graph of its own instead. At most `MAX_SHARED_GRAPHS` graphs are
    kept; `clear_shared_graphs()` drops them.

    Args:
        model: a built, compiled `keras.Model`.

    Example:

    >>> inputs = keras.Input(shape=(5, 2))
    >>> hidden = keras.layers.Bidirectional(keras.layers.GRU(3))(inputs)
    >>> model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    >>> model.compile(loss="mse")
    >>> tracer = Tracer(model)
    >>> trace = tracer(np.ones((2, 5, 2)), np.zeros((2, 1)))
    >>> [layer.key for layer in trace.layers]
    ['layer0', 'layer0/backward']
    >>> trace.layers[1].values["z"].shape
    (2, 5, 3)
    >>> tracer.ready(np.ones((2, 5, 2)), np.zeros((2, 1)))  # the graph is at hand now
    True
    """

    def __init__(self, model: keras.Model):
        if not isinstance(model, keras.Model):
            raise TypeError(f"model={model!r}: expected a keras.Model")
        self.model = model
        self._chain, self._directions = _parse_chain(model)
        if getattr(model, "loss", None) is None:
            raise ValueError(
                f"model={model.name!r} is not compiled with a loss: call "
                "model.compile(loss=...) before tracing"
            )
        self._loss_identifier = _single_loss(model)
        self._weights = _weight_table(model, self._chain, self._directions)
        self._architecture = _architecture_key(self._chain, self._loss_identifier)
        self._own_graphs: dict[Any, Any] = {}
        # A trainer builds the graph on a thread of its own (`build`) while it calls
        # this Tracer from another; one tracing per key for a graph of its own too.
        self._own_graphs_lock = threading.Lock()
        self.trace_count = 0

    def __call__(self, inputs: Any, targets: Any, *, eager: bool = False,
                 snapshot: Snapshot | None = None) -> Trace:
        """Trace one probe batch.

        Args:
            inputs: array `(batch, steps, features)`, or int ids `(batch, steps)` for a
                model with an `Embedding` front.
            targets: array of targets matching the model's output and loss.
            eager: run the replay op by op instead of through the traced graph. The
                result is the same (to float rounding); for one call on a model whose
                graph is not `ready`, eager is quicker than tracing the graph (about
                half the time for a small LSTM), for later calls much slower.
                Default: `False`.
            snapshot: trace the weights (and states) `snapshot()` read, not the
                current ones: a trainer traces an epoch's end while the next epoch
                trains. Default: `None`.

        Returns:
            A `Trace`.
        """
        inputs, targets, variables = self._probe_arguments(inputs, targets)
        input_tensor, target_tensor = tf.convert_to_tensor(inputs), tf.convert_to_tensor(targets)
        if snapshot is None:
            snapshot = _read(variables)
        variables, values = snapshot.variables, snapshot.values
        if eager:
            result = self._compute(input_tensor, target_tensor, values, variables=variables)
        else:
            result = self._graph(input_tensor, target_tensor, values, variables)(
                input_tensor, target_tensor, values
            )
        return self._to_trace(inputs, targets, result)

    def snapshot(self) -> Snapshot:
        """The values of every variable the replay reads, as they are now.

        Cheap (no copy until the variables are next updated: TensorFlow copies on
        write), and unaffected by later training steps.

        Example:

        >>> inputs = keras.Input(shape=(4, 1))
        >>> model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(2)(inputs)))
        >>> model.compile(loss="mse")
        >>> tracer, probe = Tracer(model), (np.ones((3, 4, 1)), np.zeros((3, 1)))
        >>> h_before = tracer(*probe).layers[0].values["h"]  # (3, 4, 2)
        >>> snapshot = tracer.snapshot()
        >>> _ = model.layers[1].cell.kernel.assign(np.ones((1, 8)))  # training moves on
        >>> np.array_equal(tracer(*probe, snapshot=snapshot).layers[0].values["h"], h_before)
        True
        >>> np.array_equal(tracer(*probe).layers[0].values["h"], h_before)
        False
        """
        return _read(_replay_variables(self.model, self._directions))

    def build(self, inputs: Any, targets: Any) -> None:
        """Trace the graph for this probe batch's shapes and run it once, for later calls.

        After it, a call with batches of these shapes costs only the graph's run. A
        trainer calls it on a thread of its own while the first epoch trains, so that
        the graph's tracing (Python) and TensorFlow's optimisation of its first run
        overlap the epoch's kernels instead of adding to the training's time. The
        model's weights are not read (the run is fed zeros): they may be changing.
        Safe to call from any thread, alongside calls of this `Tracer`.

        Args:
            inputs: the probe inputs (only shape and dtype matter).
            targets: the probe targets (only shape and dtype matter).

        Example:

        >>> inputs = keras.Input(shape=(4, 1))
        >>> model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(2)(inputs)))
        >>> model.compile(loss="mse")
        >>> tracer = Tracer(model)
        >>> tracer.build(np.ones((3, 4, 1)), np.zeros((3, 1)))
        >>> tracer.ready(np.ones((3, 4, 1)), np.zeros((3, 1)))
        True
        """
        inputs, targets, variables = self._probe_arguments(inputs, targets)
        input_tensor, target_tensor = tf.convert_to_tensor(inputs), tf.convert_to_tensor(targets)
        values = [tf.zeros(variable.shape, variable.dtype) for variable in variables]
        self._graph(input_tensor, target_tensor, values, variables)(
            input_tensor, target_tensor, values
        )

    def _probe_arguments(self, inputs: Any, targets: Any) -> tuple[np.ndarray, np.ndarray, list]:
        """The probe batch as arrays (checked) and the variables the replay reads now."""
        inputs, targets = np.asarray(inputs), np.asarray(targets)
        self._check_stateful_batch(inputs)
        # Read on every call: a stateful layer may have got new state variables.
        return inputs, targets, _replay_variables(self.model, self._directions)

    def ready(self, inputs: Any, targets: Any) -> bool:
        """Whether a traced graph for this probe batch's shapes is already at hand.

        True after a call with batches of these shapes by this `Tracer`, or by any
        other `Tracer` of a model with the same architecture in this process.

        Args:
            inputs: the probe inputs (only shape and dtype matter).
            targets: the probe targets (only shape and dtype matter).
        """
        inputs, targets = np.asarray(inputs), np.asarray(targets)
        variables = _replay_variables(self.model, self._directions)
        key = self._graph_key(
            tf.TensorSpec(inputs.shape, tf.as_dtype(inputs.dtype)),
            tf.TensorSpec(targets.shape, tf.as_dtype(targets.dtype)),
            variables,
        )
        if key in self._own_graphs:
            return True
        with _SHARED_LOCK:
            return key in _SHARED_GRAPHS

    def _graph_key(self, input_spec, target_spec, variables) -> tuple:
        positions = _positions(variables, self._weights)
        variable_specs = tuple(
            (tuple(variable.shape), str(variable.dtype), bool(variable.trainable))
            for variable in variables
        )
        return (
            self._architecture,
            (tuple(input_spec.shape), input_spec.dtype.name),
            (tuple(target_spec.shape), target_spec.dtype.name),
            variable_specs,
            tuple(positions),
        )

    def _graph(self, inputs: tf.Tensor, targets: tf.Tensor, values: list[tf.Tensor],
               variables: list[Any]) -> Any:
        """The concrete function for these argument shapes: shared, own, or traced now."""
        key = self._graph_key(
            tf.TensorSpec.from_tensor(inputs), tf.TensorSpec.from_tensor(targets), variables
        )
        if key in self._own_graphs:
            return self._own_graphs[key]
        if self._architecture is None:
            with self._own_graphs_lock:
                if key not in self._own_graphs:
                    self._own_graphs[key] = self._trace_graph(inputs, targets, values, variables)
                return self._own_graphs[key]
        with _SHARED_LOCK:
            graph = _SHARED_GRAPHS.get(key)
            if graph is not None:
                _SHARED_GRAPHS.move_to_end(key)
                return graph
            building = _BUILDING.setdefault(key, threading.Lock())
        # One tracing per architecture even when a classroom clicks Train at once: the
        # others wait for it instead of tracing the same graph again.
        with building:
            with _SHARED_LOCK:
                graph = _SHARED_GRAPHS.get(key)
            if graph is not None:
                return graph
            graph = self._trace_graph(inputs, targets, values, variables)
            if any(tensor.dtype == tf.resource for tensor in graph.captured_inputs):
                # The graph reads a variable directly, not through its weight
                # arguments: right for this model only.
                self._own_graphs[key] = graph
            else:
                with _SHARED_LOCK:
                    _SHARED_GRAPHS[key] = graph
                    while len(_SHARED_GRAPHS) > MAX_SHARED_GRAPHS:
                        _SHARED_GRAPHS.popitem(last=False)
            with _SHARED_LOCK:
                _BUILDING.pop(key, None)
        return graph

    def _trace_graph(self, inputs, targets, values, variables) -> Any:
        # Only the concrete function is kept: it holds the graph, not this Tracer or its
        # model, so a cached graph never keeps a session's model alive.
        def compute(inputs, targets, values):
            return self._compute(inputs, targets, values, variables=variables)

        return tf.function(compute, autograph=False).get_concrete_function(inputs, targets, values)

    def _to_trace(self, inputs: np.ndarray, targets: np.ndarray, result: dict) -> Trace:
        result = tf.nest.map_structure(lambda tensor: tensor.numpy(), result)
        layers = []
        for direction in self._directions:
            values = result["values"][direction.key]
            grads = result["grads"][direction.key]
            layers.append(
                LayerTrace(
                    index=direction.index,
                    name=direction.name,
                    cell=direction.kind,
                    direction=direction.direction,
                    go_backwards=bool(direction.layer.go_backwards),
                    values={
                        name: np.ascontiguousarray(value.transpose(1, 0, 2), dtype=np.float32)
                        for name, value in values.items()
                    },
                    grad_h=_step_norms(grads["h"]),
                    grad_c=_step_norms(grads["c"]) if "c" in grads else None,
                )
            )
        weight_grad_norms: dict[str, dict[str, float]] = {}
        for (owner, name, _variable, blocks), gradient in zip(
            self._weights, result["weight_grads"]
        ):
            squares = np.square(gradient, dtype=np.float64)
            norms = weight_grad_norms.setdefault(owner, {})
            norms[name] = float(np.sqrt(squares.sum()))
            if blocks:
                # Gate blocks are column blocks of the last axis, in Keras's order.
                per_block = squares.reshape(-1, len(blocks), squares.shape[-1] // len(blocks))
                for block, total in zip(blocks, per_block.sum(axis=(0, 2))):
                    norms[f"{name}/{block}"] = float(np.sqrt(total))
        return Trace(
            inputs=inputs,
            targets=targets,
            loss=float(result["loss"]),
            layers=layers,
            weight_grad_norms=weight_grad_norms,
            saturation={
                layer.key: _saturation(layer) for layer in layers if layer.cell != "simple_rnn"
            },
        )

    def _check_stateful_batch(self, inputs: np.ndarray) -> None:
        for direction in self._directions:
            layer = direction.layer
            if layer.stateful and layer.states is not None:
                expected = int(_first_leaf(layer.states).shape[0])
                if inputs.ndim == 0 or inputs.shape[0] != expected:
                    raise ValueError(
                        f"inputs has shape {inputs.shape}, but layer {direction.name!r} is "
                        f"stateful with batch size {expected}: the probe batch must have "
                        f"{expected} sequences"
                    )

    def _compute(
        self, inputs: tf.Tensor, targets: tf.Tensor, values: list[tf.Tensor], *,
        variables: list[Any],
    ) -> dict[str, Any]:
        """The replay, loss and gradients; `values[k]` stands for `variables[k]`."""
        if not tf.executing_eagerly():
            self.trace_count += 1  # runs once per tracing, not per call of the graph
        probes: dict[str, dict[str, tf.Tensor]] = {}
        records: dict[str, dict[str, tf.Tensor]] = {}
        values = list(values)
        positions = _positions(variables, self._weights)
        weights = [values[position] for position in positions]
        with tf.GradientTape() as tape:
            tape.watch(weights)
            # Every variable the replay reads (recurrent weights and states, the other
            # layers' weights) reads its value from the arguments instead, so the graph
            # serves any model of this architecture.
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                outputs, mask = self._forward(inputs, tape, probes, records)
                loss = _loss_value(self._loss_identifier, targets, outputs, mask)
        probe_list = [(key, name) for key, items in probes.items() for name in items]
        gradients = tape.gradient(
            loss,
            [probes[key][name] for key, name in probe_list] + weights,
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        grads: dict[str, dict[str, tf.Tensor]] = {key: {} for key in probes}
        for (key, name), gradient in zip(probe_list, gradients[: len(probe_list)]):
            grads[key][name] = gradient
        # Norms are taken in NumPy (`_to_trace`): a reduction per weight and gate block
        # in the graph would make it larger, and a graph's size is most of what
        # tracing it costs.
        return {
            "loss": tf.cast(loss, tf.float64),
            # Time-major (steps, batch, units); `_to_trace` transposes them in NumPy.
            "values": records,
            "grads": grads,
            "weight_grads": [tf.convert_to_tensor(grad) for grad in gradients[len(probe_list) :]],
        }

    def _forward(self, inputs, tape, probes, records):
        x = inputs
        mask = None
        recurrent_index = 0
        for layer in self._chain:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if _is_recurrent(layer):
                directions = [d for d in self._directions if d.index == recurrent_index]
                recurrent_index += 1
                outputs = _replay_layer(layer, directions, x, mask, tape, probes, records)
                mask = mask if layer.return_sequences else None
                # The chain feeds the next layer the sequence output, not the states.
                x = outputs[0] if layer.return_state else outputs
            else:
                previous = x
                # As Keras does in the model: a layer that reads the mask (e.g. pooling
                # over masked steps) gets it.
                if mask is not None and layer._call_has_mask_arg:
                    x = layer(x, training=False, mask=mask)
                else:
                    x = layer(x, training=False)
                mask = layer.compute_mask(previous, mask) if layer.supports_masking else None
        return x, mask


def _step_norms(gradient: np.ndarray) -> np.ndarray:
    """L2 norms over batch and units of a time-major `(steps, batch, units)` gradient."""
    return np.sqrt(np.square(gradient, dtype=np.float64).sum(axis=(1, 2)))


def _first_leaf(structure: Any) -> Any:
    """The first leaf of a nested list/tuple (Keras keeps RNN states as lists)."""
    while isinstance(structure, (list, tuple)):
        structure = structure[0]
    return structure


def _leaves(structure: Any) -> list[Any]:
    """The leaves of a nested list/tuple, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _leaves(item)]
    return [structure]


def _is_recurrent(layer: Any) -> bool:
    return isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))


def _kind(layer: Any, model: keras.Model) -> str:
    cell = getattr(layer, "cell", None)
    for cls, kind in _KIND_OF.items():
        if isinstance(cell, cls):
            return kind
    raise ValueError(
        f"model={model.name!r}: layer {layer.name!r} is a {type(layer).__name__} with cell "
        f"{type(cell).__name__}; the tracer replays LSTM, GRU and SimpleRNN layers "
        "(optionally inside Bidirectional) only"
    )


class UnsupportedModelError(ValueError):
    """A model the tracer cannot replay exactly, with the layer that makes it so.

    Args:
        message: what is wrong and what is supported.
        layer: the name of the offending layer, or `None` when the model as a whole is
            the problem (e.g. two inputs). Default: `None`.

    Example:

    >>> error = UnsupportedModelError("layer 'conv1d' is a Conv1D", layer="conv1d")
    >>> error.layer, str(error)
    ('conv1d', "layer 'conv1d' is a Conv1D")
    """

    def __init__(self, message: str, layer: str | None = None):
        super().__init__(message)
        self.layer = layer


def _check_functional_chain(model: keras.Model) -> None:
    """Refuse a functional model whose layers are not one chain from its input to its output.

    The replay runs `model.layers` one after another, each on the previous one's output,
    so it is exact only when that is what the model computes: one input, one output, and
    each layer called once, on the first output of the layer before (a recurrent
    layer's states may be returned, not read), with no other tensor than the mask that
    layer computed. The graph is walked back from the output.

    Raises:
        UnsupportedModelError: naming the layer where the model stops being a chain.
    """
    if not isinstance(model, Functional):
        return  # Sequential is a chain by construction
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError(
            f"model={model.name!r} has {len(model.inputs)} input(s) and "
            f"{len(model.outputs)} output(s): the tracer follows one chain of layers from "
            "one input to one output"
        )
    path: list[Any] = []
    tensor = model.outputs[0]
    while True:
        operation, node_index, tensor_index = tensor._keras_history
        if isinstance(operation, keras.layers.InputLayer):
            break
        name = operation.name
        if not isinstance(operation, keras.layers.Layer):
            raise UnsupportedModelError(
                f"model={model.name!r} computes {name!r} with a keras.ops function between "
                "its layers: the tracer replays a chain of layers only (wrap the "
                "computation in a layer, or leave it out)", layer=name)
        if tensor_index != 0:
            raise UnsupportedModelError(
                f"model={model.name!r} reads output {tensor_index} of layer {name!r} (a "
                "returned state): the chain must go on with each layer's first output",
                layer=name)
        node = operation._inbound_nodes[node_index]
        args = [t for t in keras.tree.flatten(node.arguments.args)
                if isinstance(t, keras.KerasTensor)]
        if len(args) != 1 or node.arguments.args[0] is not args[0]:
            raise UnsupportedModelError(
                f"layer {name!r} ({type(operation).__name__}) takes {len(args)} input "
                "tensors: the tracer follows one chain of layers, each taking the output "
                "of the one before (no branches, merges or attention)", layer=name)
        for key, value in node.arguments.kwargs.items():
            others = [t for t in keras.tree.flatten(value) if isinstance(t, keras.KerasTensor)]
            # The mask Keras passes on by itself, from the layer before, is the one the
            # replay computes too. (A loaded model recomputes it by a separate op, so it
            # is the same mask, not the same tensor.)
            if others and not (key == "mask" and _is_mask_of(value, args[0])):
                raise UnsupportedModelError(
                    f"layer {name!r} is called with {key}= another tensor: the tracer "
                    "replays each layer on the previous layer's output and mask only",
                    layer=name)
        path.append(operation)
        tensor = args[0]
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    path.reverse()
    if path != layers:
        repeated = [layer.name for layer in layers if path.count(layer) > 1]
        if repeated:
            raise UnsupportedModelError(
                f"layer {repeated[0]!r} is called more than once in model={model.name!r}: "
                "the tracer replays each layer once, in a chain", layer=repeated[0])
        aside = [layer.name for layer in layers if layer not in path] or [layers[0].name]
        raise UnsupportedModelError(
            f"layer {aside[0]!r} is not on the one path from the input to the output of "
            f"model={model.name!r} (a branch): the tracer follows one chain of layers",
            layer=aside[0])


def _is_mask_of(value: Any, tensor: Any) -> bool:
    """Whether `value` stands for the mask that `tensor`'s layer computed."""
    mask = getattr(tensor, "_keras_mask", None)
    return (mask is not None and isinstance(value, keras.KerasTensor)
            and tuple(value.shape) == tuple(mask.shape))


def _parse_chain(model: keras.Model) -> tuple[list[Any], list[_Direction]]:
    _check_functional_chain(model)
    chain = list(model.layers)
    directions: list[_Direction] = []
    index = 0
    for layer in chain:
        if isinstance(layer, keras.layers.Bidirectional):
            for direction, inner in (
                ("forward", layer.forward_layer),
                ("backward", layer.backward_layer),
            ):
                directions.append(
                    _Direction(index, direction, inner, _kind(inner, model), layer.name)
                )
            index += 1
        elif isinstance(layer, keras.layers.RNN):
            directions.append(_Direction(index, "forward", layer, _kind(layer, model), layer.name))
            index += 1
    if not directions:
        raise ValueError(
            f"model={model.name!r} has no recurrent layer (LSTM, GRU or SimpleRNN, "
            "optionally inside Bidirectional): there is nothing to trace"
        )
    if not model.built:
        raise ValueError(f"model={model.name!r} is not built: call it or build it first")
    return chain, directions


def _single_loss(model: keras.Model) -> Any:
    loss = model.loss
    if isinstance(loss, Mapping):
        loss = list(loss.values())
    if isinstance(loss, (list, tuple)):
        if len(loss) != 1:
            raise ValueError(
                f"model={model.name!r} has loss={loss!r}: the tracer needs a single-output "
                "model with one loss"
            )
        loss = loss[0]
    return loss


def _loss_object(identifier: Any, targets: tf.Tensor, predictions: tf.Tensor) -> Any:
    """The `keras.losses.Loss` that `compile(loss=identifier)` would use."""
    if isinstance(identifier, keras.losses.Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        # Same choice as compile(): binary for one output unit, sparse when the targets
        # have one rank less (or a trailing 1) than the predictions.
        is_binary = predictions.shape[-1] == 1
        is_sparse = len(targets.shape) < len(predictions.shape) or (
            targets.shape[-1] == 1 and predictions.shape[-1] > 1
        )
        if is_binary:
            function = keras.losses.binary_crossentropy
        elif is_sparse:
            function = keras.losses.sparse_categorical_crossentropy
        else:
            function = keras.losses.categorical_crossentropy
    else:
        function = keras.losses.get(identifier)
    if isinstance(function, keras.losses.Loss):
        return function
    name = identifier if isinstance(identifier, str) else getattr(function, "__name__", None)
    return LossFunctionWrapper(function, name=name)


def _loss_value(identifier, targets, predictions, mask) -> tf.Tensor:
    loss = _loss_object(identifier, targets, predictions)
    if mask is None:
        return loss(targets, predictions)
    # Keras reads the mask that rides on the model output; the replay tracks it
    # explicitly, so pass the weights `Loss.__call__` would derive from it.
    mask = tf.cast(mask, predictions.dtype)
    if loss.reduction in ("sum_over_batch_size", "mean"):
        total = tf.cast(tf.size(mask), mask.dtype)
        mask = mask * tf.math.divide_no_nan(total, tf.reduce_sum(mask))
    return loss(targets, predictions, sample_weight=mask)


def _weight_table(model, chain, directions) -> list[tuple[str, str, Any, tuple[str, ...]]]:
    """(owner, weight name, variable, gate blocks) for every trainable weight, model order."""
    trainable = {id(variable) for variable in model.trainable_weights}
    table: list[tuple[str, str, Any, tuple[str, ...]]] = []
    claimed: set[int] = set()

    def claim(owner, name, variable, blocks=()):
        if id(variable) in trainable and id(variable) not in claimed:
            claimed.add(id(variable))
            table.append((owner, name, variable, blocks))

    recurrent_index = 0
    for layer in chain:
        if _is_recurrent(layer):
            for direction in directions:
                if direction.index == recurrent_index:
                    cell = direction.layer.cell
                    for name in ("kernel", "recurrent_kernel", "bias"):
                        variable = getattr(cell, name, None)
                        if variable is not None:
                            claim(direction.key, name, variable, _WEIGHT_BLOCKS[direction.kind])
            recurrent_index += 1
            continue
        names = [variable.name for variable in layer.trainable_weights]
        for variable in layer.trainable_weights:
            # Short names ("kernel") unless a layer repeats one; then the full path.
            unique = names.count(variable.name) == 1
            claim(layer.name, variable.name if unique else variable.path, variable)
    for variable in model.trainable_weights:  # weights of no layer in the chain
        claim(variable.path.rsplit("/", 1)[0], variable.name, variable)
    return table


def _replay_layer(layer, directions, x, mask, tape, probes, records):
    """Replay a recurrent layer; return what the Keras layer's call would return."""
    if not isinstance(layer, keras.layers.Bidirectional):
        (direction,) = directions
        sequence, last, states = _replay_direction(direction, x, mask, tape, probes, records)
        output = sequence if layer.return_sequences else last
        return [output, *states] if layer.return_state else output
    forward, backward = directions
    y, y_last, forward_states = _replay_direction(forward, x, mask, tape, probes, records)
    y_rev, y_rev_last, backward_states = _replay_direction(backward, x, mask, tape, probes, records)
    if layer.return_sequences:
        # Bidirectional flips the backward sequence back to input order before merging.
        y_rev = tf.reverse(y_rev, [1])
    else:
        y, y_rev = y_last, y_rev_last
    merge_mode = layer.merge_mode
    if merge_mode == "concat":
        output = tf.concat([y, y_rev], axis=-1)
    elif merge_mode == "sum":
        output = y + y_rev
    elif merge_mode == "ave":
        output = (y + y_rev) / 2
    elif merge_mode == "mul":
        output = y * y_rev
    elif merge_mode is None:
        output = [y, y_rev]
    else:
        raise ValueError(f"layer {layer.name!r} has merge_mode={merge_mode!r}: not supported")
    if layer.return_state:
        states = [*forward_states, *backward_states]
        return [*output, *states] if merge_mode is None else [output, *states]
    return output


def _replay_direction(direction, x, mask, tape, probes, records):
    """Run one LSTM / GRU / SimpleRNN layer step by step from its weights.

    Returns:
        `(sequence (batch, steps, units) in processing order, last output, final states)`,
        as Keras's RNN computes them; the per-step states and gates are stored in
        `records[direction.key]` (time-major), and the zero probes added to each h_t
        (and c_t) in `probes[direction.key]`, so that dL/dprobe_t = dL/dh_t in total.
    """
    layer, kind = direction.layer, direction.kind
    cell = layer.cell
    dtype = cell.compute_dtype
    units = cell.units
    x = tf.cast(x, dtype)
    sequence_mask = mask
    if layer.go_backwards:
        x = tf.reverse(x, [1])
        if sequence_mask is not None:
            sequence_mask = tf.reverse(sequence_mask, [1])
    x = tf.transpose(x, [1, 0, 2])  # time-major: (steps, batch, features)
    steps, batch = tf.shape(x)[0], tf.shape(x)[1]

    kernel = tf.convert_to_tensor(cell.kernel)
    recurrent_kernel = tf.convert_to_tensor(cell.recurrent_kernel)
    bias = tf.convert_to_tensor(cell.bias) if cell.use_bias else None
    input_bias, recurrent_bias = bias, None
    if kind == "gru" and bias is not None and cell.reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    # The input projection does not depend on the recurrence: one matmul for all steps.
    projected = tf.tensordot(x, kernel, axes=1)
    if input_bias is not None:
        projected = projected + input_bias

    if layer.stateful and layer.states is not None:
        initial = [tf.convert_to_tensor(state) for state in layer.states]
    else:
        initial = [
            tf.zeros(tf.stack([batch, units]), dtype) for _ in range(2 if kind == "lstm" else 1)
        ]
    initial = [tf.cast(state, dtype) for state in initial]

    state_names = ("h", "c") if kind == "lstm" else ("h",)
    zeros = tf.zeros(tf.stack([steps, batch, units]), dtype)
    direction_probes = {name: tf.identity(zeros) for name in state_names}
    for probe in direction_probes.values():
        tape.watch(probe)
    probes[direction.key] = direction_probes

    masked = sequence_mask is not None
    # One packed tensor in and one out per step keeps the loops small: inputs are
    # [x·W + b | probes | mask], records are [h | c | gates | output].
    packed_inputs = [projected, *(direction_probes[name] for name in state_names)]
    if masked:
        packed_inputs.append(tf.transpose(tf.cast(sequence_mask, dtype), [1, 0])[..., None])
    step = _CellStep(layer, kind, masked, has_recurrent_bias=recurrent_bias is not None)
    h0 = initial[0]
    # Keras starts the "previous output" of a masked first step at zeros, not at h0.
    initial_states = [*initial, *((tf.zeros_like(h0),) if masked else ())]
    weights = [recurrent_kernel, *((recurrent_bias,) if recurrent_bias is not None else ())]
    stacked = _recurrence(step, tf.concat(packed_inputs, axis=-1), initial_states, weights)
    stacked = dict(zip(step.record_names, tf.split(stacked, len(step.record_names), axis=-1)))
    records[direction.key] = {name: stacked[name] for name in (*state_names, *GATES[kind])}
    sequence = tf.transpose(stacked["out" if masked else "h"], [1, 0, 2])
    # The loop's output has no static step count; the input's is known. Layers after it
    # may need it: Keras 3.15's TimeDistributed maps over the batch size instead when the
    # step count is unknown.
    sequence.set_shape([x.shape[1], x.shape[0], units])
    final_states = [stacked[name][-1] for name in state_names]
    return sequence, sequence[:, -1], final_states


class _CellStep:
    """One time step of a cell, as a function of tensors only (for both loops).

    `step(packed_t, states, weights) -> (record_t, new_states)`: `packed_t` is one step
    of [x·W + b | probe_h | probe_c | mask]; states are [h, c (LSTM), output (masked)];
    weights are [recurrent_kernel, recurrent_bias (GRU with reset_after and bias)];
    `record_t` is [h | c | gates | output], each `units` wide.
    """

    def __init__(self, layer, kind: str, masked: bool, has_recurrent_bias: bool):
        cell = layer.cell
        self.kind = kind
        self.masked = masked
        self.has_recurrent_bias = has_recurrent_bias
        self.units = cell.units
        self.reset_after = bool(getattr(cell, "reset_after", False))
        self.activation = cell.activation if cell.activation is not None else tf.identity
        self.recurrent_activation = getattr(cell, "recurrent_activation", None)
        self.zero_output_for_mask = bool(getattr(layer, "zero_output_for_mask", False))
        # The Keras defaults, whose backward pass `_lstm_backward` writes out by hand.
        self.standard_lstm = (
            kind == "lstm"
            and not masked
            and self.activation is keras.activations.tanh
            and self.recurrent_activation is keras.activations.sigmoid
        )
        units = cell.units
        state_names = ("h", "c") if kind == "lstm" else ("h",)
        projection_blocks = max(len(GATES[kind]), 1)  # SimpleRNN: one block, no gates
        self.part_sizes = [projection_blocks * units, *[units] * len(state_names)]
        self.part_sizes += [1] if masked else []
        #: What a record holds, `units` wide each.
        self.record_names = (*state_names, *GATES[kind], *(("out",) if masked else ()))
        # Where each state sits in a record: the backward pass reads the state every
        # step started from out of the records.
        self.state_slots = [
            (position * units, (position + 1) * units)
            for position, name in enumerate(self.record_names)
            if name in (*state_names, "out")
        ]

    def __call__(self, packed_t, states, weights):
        units, recurrent_kernel = self.units, weights[0]
        activation, recurrent_activation = self.activation, self.recurrent_activation
        # One split rather than a slice per part: fewer ops here and in the gradient.
        parts = tf.split(packed_t, self.part_sizes, axis=1)
        projected_t, probe_h = parts[0], parts[1]
        keep = parts[-1] > 0.5 if self.masked else None
        h_prev = states[0]

        def settle(value, previous, probe):
            # A masked step leaves the state as it was; the zero probe makes the state
            # tensor that every later computation uses differentiable on its own.
            if keep is not None:
                value = tf.where(keep, value, previous)
            return value + probe

        gates = []
        if self.kind == "lstm":
            c_prev = states[1]
            z = projected_t + tf.matmul(h_prev, recurrent_kernel)
            z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
            i = recurrent_activation(z_i)
            f = recurrent_activation(z_f)
            g = activation(z_c)
            o = recurrent_activation(z_o)
            c = settle(f * c_prev + i * g, c_prev, parts[2])
            h = o * activation(c)
            gates = [i, f, g, o]
        elif self.kind == "gru":
            x_z, x_r, x_h = tf.split(projected_t, 3, axis=1)
            if self.reset_after:
                inner = tf.matmul(h_prev, recurrent_kernel)
                if self.has_recurrent_bias:
                    inner = inner + weights[1]
                r_z, r_r, r_h = tf.split(inner, 3, axis=1)
                z = recurrent_activation(x_z + r_z)
                r = recurrent_activation(x_r + r_r)
                candidate_input = x_h + r * r_h
            else:
                inner = tf.matmul(h_prev, recurrent_kernel[:, : 2 * units])
                r_z, r_r = tf.split(inner, 2, axis=1)
                z = recurrent_activation(x_z + r_z)
                r = recurrent_activation(x_r + r_r)
                candidate_input = x_h + tf.matmul(r * h_prev, recurrent_kernel[:, 2 * units :])
            g = activation(candidate_input)
            h = z * h_prev + (1 - z) * g
            gates = [z, r, g]
        else:
            h = activation(projected_t + tf.matmul(h_prev, recurrent_kernel))
        h = settle(h, h_prev, probe_h)
        new_states = [h, c] if self.kind == "lstm" else [h]
        record = [*new_states, *gates]
        if self.masked:
            out_prev = states[-1]
            out = tf.where(keep, h, tf.zeros_like(h) if self.zero_output_for_mask else out_prev)
            new_states.append(out)
            record.append(out)
        return tf.concat(record, axis=-1), new_states


def _run_steps(step, packed, initial_states, weights):
    """Run `step` over time in a `tf.while_loop`: the stacked records `(steps, batch, width)`.

    Differentiable by TensorFlow's own gradient of the loop; `_recurrence` is the same
    forward pass with a backward pass of its own.
    """
    steps = tf.shape(packed)[0]
    input_ta = tf.TensorArray(packed.dtype, size=steps).unstack(packed)

    def body(t, record_ta, *states):
        record, states = step(input_ta.read(t), list(states), weights)
        return (t + 1, record_ta.write(t, record), *states)

    _, record_ta, *_ = tf.while_loop(
        lambda t, *_: t < steps,
        body,
        (tf.constant(0), tf.TensorArray(packed.dtype, size=steps), *initial_states),
    )
    return record_ta.stack()


def _recurrence(step, packed, initial_states, weights):
    """Run `step` over time: the stacked records `(steps, batch, width)`.

    In a graph it is differentiable with a backward pass of its own, a reverse loop over
    the steps (`_lstm_backward`, `_stepwise_backward`). TensorFlow's gradient of the
    forward `tf.while_loop` gives the same numbers, but building it was most of what
    tracing the replay's graph cost, and the first training of an architecture pays
    for that tracing.

    Args:
        step: a `_CellStep`.
        packed: `(steps, batch, parts)`, every step's [x·W + b | probes | mask].
        initial_states: the states before step 0, as `step` takes them.
        weights: the recurrent weights `step` takes.
    """
    if tf.executing_eagerly():
        # Op by op, the tape through the loop costs only its ops, less than a Python
        # tape per step; only a graph pays for building the loop's gradient.
        return _run_steps(step, packed, initial_states, weights)
    state_count = len(initial_states)
    backward = _lstm_backward if step.standard_lstm else _stepwise_backward

    @tf.custom_gradient
    def recurrence(packed, *arguments):
        initial, weights = list(arguments[:state_count]), list(arguments[state_count:])
        stacked = _run_steps(step, packed, initial, weights)

        def gradient(upstream):
            if upstream is None:
                upstream = tf.zeros_like(stacked)
            return backward(step, packed, initial, weights, stacked, upstream)

        return stacked, gradient

    return recurrence(packed, *initial_states, *weights)


def _previous_states(step, initial, stacked):
    """The states every step started from: the initial ones, then the records'."""
    return [
        tf.concat([state[None], stacked[:-1, :, start:stop]], axis=0)
        for state, (start, stop) in zip(initial, step.state_slots)
    ]


def _stepwise_backward(step, packed, initial, weights, stacked, upstream):
    """Gradients of `_run_steps` for any cell: one step's vector-Jacobian product at a time.

    The reverse loop's body recomputes step t from the recorded states and takes its
    gradient with a tape of its own, carrying the state gradients back to step t - 1 and
    summing the weights' gradients.

    Returns:
        The gradients of `packed`, of each initial state and of each weight.
    """
    state_count = len(initial)
    previous = _previous_states(step, initial, stacked)

    def body(k, packed_grad_ta, *carried):
        t = tf.shape(packed)[0] - 1 - k
        packed_t = packed[t]
        states = [state[t] for state in previous]
        with tf.GradientTape() as tape:
            tape.watch([packed_t, *states, *weights])
            record, new_states = step(packed_t, states, weights)
        # The state gradients carried from step t + 1 land on the new states.
        grads = tape.gradient(
            [record, *new_states],
            [packed_t, *states, *weights],
            output_gradients=[upstream[t], *carried[:state_count]],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        weight_sums = [
            total + grad for total, grad in zip(carried[state_count:], grads[1 + state_count :])
        ]
        return (k + 1, packed_grad_ta.write(t, grads[0]), *grads[1 : 1 + state_count],
                *weight_sums)

    _, packed_grad_ta, *carried = tf.while_loop(
        lambda k, *_: k < tf.shape(packed)[0],
        body,
        (
            tf.constant(0),
            tf.TensorArray(packed.dtype, size=tf.shape(packed)[0]),
            *(tf.zeros_like(state) for state in initial),
            *(tf.zeros_like(weight) for weight in weights),
        ),
    )
    return [packed_grad_ta.stack(), *carried]


def _lstm_backward(step, packed, initial, weights, stacked, upstream):
    """Gradients of `_run_steps` for an unmasked LSTM with tanh and sigmoid, by hand.

    The same numbers as `_stepwise_backward`, from the recorded gates instead of a
    recomputed step, in a third of the loop body's ops; the recurrent kernel's gradient
    is one product over all steps after the loop. With z = x·W + b + h_{t-1}·R split
    into (z_i, z_f, z_c, z_o), c_t = f·c_{t-1} + i·g and h_t = o·tanh(c_t):
    dL/dc_t = (from step t + 1) + dL/dh_t·o·tanh'(c_t), then dz_i = dL/dc_t·g·σ'(z_i),
    dz_f = dL/dc_t·c_{t-1}·σ'(z_f), dz_c = dL/dc_t·i·tanh'(z_c), dz_o =
    dL/dh_t·tanh(c_t)·σ'(z_o), and back to step t - 1: dz·Rᵀ for h, dL/dc_t·f for c.

    Returns:
        The gradients of `packed`, of the initial h and c and of the recurrent kernel.
    """
    (recurrent_kernel,) = weights
    h_previous, c_previous = _previous_states(step, initial, stacked)

    def body(k, packed_grad_ta, h_grad, c_grad):
        t = tf.shape(packed)[0] - 1 - k
        # Records and their gradients from outside the loop (`from_*`) are
        # [h | c | i | f | g | o]; the carried gradients are those of h_t and c_t
        # through step t + 1.
        _, c, i, f, g, o = tf.split(stacked[t], 6, axis=1)
        from_h, from_c, from_i, from_f, from_g, from_o = tf.split(upstream[t], 6, axis=1)
        h_grad = h_grad + from_h
        tanh_c = tf.tanh(c)
        c_grad = c_grad + from_c + tf.raw_ops.TanhGrad(y=tanh_c, dy=h_grad * o)
        z_grad = tf.concat(
            [
                tf.raw_ops.SigmoidGrad(y=i, dy=c_grad * g + from_i),
                tf.raw_ops.SigmoidGrad(y=f, dy=c_grad * c_previous[t] + from_f),
                tf.raw_ops.TanhGrad(y=g, dy=c_grad * i + from_g),
                tf.raw_ops.SigmoidGrad(y=o, dy=h_grad * tanh_c + from_o),
            ],
            axis=1,
        )
        # d(x·W + b) is dz; the probes on h_t and c_t get the total dL/dh_t, dL/dc_t.
        packed_grad_ta = packed_grad_ta.write(t, tf.concat([z_grad, h_grad, c_grad], axis=1))
        h_grad = tf.matmul(z_grad, recurrent_kernel, transpose_b=True)
        return k + 1, packed_grad_ta, h_grad, c_grad * f

    _, packed_grad_ta, h_grad, c_grad = tf.while_loop(
        lambda k, *_: k < tf.shape(packed)[0],
        body,
        (
            tf.constant(0),
            tf.TensorArray(packed.dtype, size=tf.shape(packed)[0]),
            tf.zeros_like(initial[0]),
            tf.zeros_like(initial[1]),
        ),
    )
    packed_grad = packed_grad_ta.stack()
    units = recurrent_kernel.shape[0]
    # dR = sum over steps and batch of h_{t-1}^T dz_t: one product of (steps·batch) rows.
    recurrent_grad = tf.matmul(
        tf.reshape(h_previous, [-1, units]),
        tf.reshape(packed_grad[..., : 4 * units], [-1, 4 * units]),
        transpose_a=True,
    )
    return [packed_grad, h_grad, c_grad, recurrent_grad]


def clear_shared_graphs() -> None:
    """Forget every traced graph kept for reuse (the next call of any `Tracer` traces).

    For benchmarks that measure the first training of an architecture, and for tests.
    """
    with _SHARED_LOCK:
        _SHARED_GRAPHS.clear()


def _replay_variables(model: keras.Model, directions: list[_Direction]) -> list[Any]:
    """Every variable the replay may read, in an order fixed by the model's structure."""
    variables, seen = [], set()
    candidates = list(model.weights)
    for direction in directions:
        layer = direction.layer
        if layer.stateful and layer.states is not None:
            candidates.extend(_leaves(layer.states))
    for variable in candidates:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def _positions(variables: list[Any], weights: list[tuple]) -> list[int]:
    """Index in `variables` of each weight of the weight table."""
    index = {id(variable): position for position, variable in enumerate(variables)}
    return [index[id(variable)] for _owner, _name, variable, _blocks in weights]


def _architecture_key(chain: list[Any], loss_identifier: Any) -> str | None:
    """A text that is equal for two models whose replay graphs are equal, or `None`.

    It holds each layer's class and configuration (without names, seeds, initializers,
    regularizers and constraints) and the loss. `None` (no sharing) when a layer is
    not one of Keras's own or is a `Lambda`, or the loss is neither a name nor a Keras
    `Loss`: their configuration need not say all they compute.
    """
    layers = []
    for layer in chain:
        cls = type(layer)
        if not cls.__module__.startswith("keras.") or isinstance(layer, keras.layers.Lambda):
            return None
        layers.append([f"{cls.__module__}.{cls.__qualname__}", _traced_config(layer.get_config())])
    if isinstance(loss_identifier, str):
        loss = loss_identifier
    elif isinstance(loss_identifier, keras.losses.Loss) and type(
        loss_identifier
    ).__module__.startswith("keras."):
        loss = [type(loss_identifier).__qualname__, loss_identifier.get_config()]
    else:
        return None
    try:
        return json.dumps([layers, loss], sort_keys=True)
    except (TypeError, ValueError):  # a setting JSON cannot write: do not share
        return None


def _traced_config(config: Any) -> Any:
    if isinstance(config, Mapping):
        return {
            key: _traced_config(value)
            for key, value in config.items()
            if key not in _UNTRACED_KEYS and not str(key).endswith(_UNTRACED_SUFFIXES)
        }
    if isinstance(config, (list, tuple)):
        return [_traced_config(value) for value in config]
    return config


def trace_model(model: keras.Model, inputs: Any, targets: Any) -> Trace:
    """Trace one probe batch with a fresh `Tracer`.

    Use a `Tracer` directly to trace the same model repeatedly.

    Args:
        model: a built, compiled `keras.Model` (see `Tracer`).
        inputs: the probe inputs, e.g. `(batch, steps, features)`.
        targets: the probe targets.

    Returns:
        A `Trace`.
    """
    return Tracer(model)(inputs, targets)


def save_npz(trace: Trace, path: str | os.PathLike) -> None:
    """Write `trace` to `path` as a compressed `.npz` file (DESIGN §3 `trace.npz`).

    The file holds `trace.to_arrays()` plus one `"meta"` entry, a JSON string with the
    loss, layer names, `go_backwards` flags and weight-gradient norms, so that
    `load_npz` restores them. The path is used as given (no `.npz` is appended).

    Args:
        trace: the `Trace` to write.
        path: destination file.
    """
    meta = {
        "loss": _json_float(trace.loss),
        "layers": {
            layer.key: {"name": layer.name, "go_backwards": layer.go_backwards}
            for layer in trace.layers
        },
        "weight_grad_norms": trace.summary()["weight_grad_norms"],
    }
    with open(path, "wb") as file:
        np.savez_compressed(file, meta=np.array(json.dumps(meta)), **trace.to_arrays())


def load_npz(path: str | os.PathLike) -> Trace:
    """Read a `Trace` written by `save_npz` (or any file with the trace.npz keys).

    Args:
        path: a `.npz` file.

    Returns:
        A `Trace`; without a `"meta"` entry the loss is NaN and weight norms are empty.
    """
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta_text = arrays.pop("meta", None)
    trace = Trace.from_arrays(arrays)
    if meta_text is not None:
        meta = json.loads(str(meta_text))
        trace.loss = math.nan if meta.get("loss") is None else float(meta["loss"])
        for layer in trace.layers:
            info = meta.get("layers", {}).get(layer.key)
            if info:
                layer.name = info["name"]
                layer.go_backwards = bool(info["go_backwards"])
        trace.weight_grad_norms = {
            owner: {
                name: math.nan if value is None else float(value) for name, value in norms.items()
            }
            for owner, norms in meta.get("weight_grad_norms", {}).items()
        }
    return trace
