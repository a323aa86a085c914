"""Which of a person's own Keras models the explorer can trace, checked before training.

The tracer (`lstm_explorer.trace`) replays recurrent layers from their weights and runs
every other layer as Keras does, one after another, so it is exact for a chain: one
input, recurrent layers (LSTM, GRU, SimpleRNN, each possibly inside Bidirectional), and
around them layers that map one tensor to one tensor. `check_model` refuses anything
else with an `UnsupportedModelError` that names the layer and what is supported, so the
callback fails at `on_train_begin`, never in the middle of a training.

Example:

>>> import keras
>>> inputs = keras.Input(shape=(6, 2))
>>> hidden = keras.layers.LSTM(4, return_sequences=True)(inputs)
>>> hidden = keras.layers.Conv1D(4, 3)(hidden)
>>> model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(4)(hidden)))
>>> try:
...     check_model(model)
... except UnsupportedModelError as error:
...     print(error.layer)
conv1d
"""

from __future__ import annotations

from typing import Any

import keras

from lstm_explorer.trace import (
    Functional,
    UnsupportedModelError,
    _check_functional_chain,
    _is_recurrent,
)

__all__ = ["AROUND", "RECURRENT", "SUPPORTED", "UnsupportedModelError", "check_model"]

#: Recurrent layer classes replayed from their weights, with the cell each must have.
#: Exact classes: a subclass may compute something else than its weights say.
RECURRENT: dict[str, str] = {
    "LSTM": "LSTMCell",
    "GRU": "GRUCell",
    "SimpleRNN": "SimpleRNNCell",
    "RNN": "LSTMCell, GRUCell or SimpleRNNCell",
}

#: Layers allowed around the recurrent ones, by group (Keras class names). They run as
#: Keras runs them, in inference mode, so their subclasses are fine too.
AROUND: dict[str, tuple[str, ...]] = {
    "input": ("Embedding", "Masking"),
    "regularization": ("Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
                       "AlphaDropout", "ActivityRegularization"),
    "dense": ("Dense", "TimeDistributed"),
    "activation": ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"),
    "normalization": ("BatchNormalization", "LayerNormalization", "GroupNormalization",
                      "UnitNormalization", "RMSNormalization", "Normalization"),
    "reshaping": ("Reshape", "Flatten", "Permute", "RepeatVector", "Cropping1D",
                  "ZeroPadding1D", "UpSampling1D"),
    "pooling": ("GlobalAveragePooling1D", "GlobalMaxPooling1D"),
}

#: What is supported, in one sentence for error messages (`AROUND` names every class).
SUPPORTED = (
    "LSTM, GRU and SimpleRNN layers (each possibly in Bidirectional) in one chain from a "
    "single input to a single output, with Embedding, Masking, Dense, TimeDistributed, "
    "dropout and noise, activation, normalization, reshaping (Reshape, Flatten, Permute, "
    "RepeatVector, ...) and global 1-D pooling layers around them, in a Sequential or "
    "functional model"
)

_CELLS = (keras.layers.LSTMCell, keras.layers.GRUCell, keras.layers.SimpleRNNCell)
_RECURRENT_CLASSES = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN,
                      keras.layers.RNN)
# Some names exist only in some Keras versions (RMSNormalization is recent).
_AROUND_CLASSES = tuple(
    cls for names in AROUND.values() for name in names
    if (cls := getattr(keras.layers, name, None)) is not None
)


def check_model(model: Any) -> None:
    """Raise unless the tracer can replay `model` exactly.

    Args:
        model: a built `keras.Model`, Sequential or functional.

    Raises:
        UnsupportedModelError: naming the layer (or the model) and what is supported:
            a model class with its own `call`, a layer outside `AROUND` (e.g. Conv1D,
            Attention), a layer off the chain (parallel branches, merges), a recurrent
            layer with another cell, or no recurrent layer at all.

    Example:

    >>> model = keras.Sequential([keras.Input((5, 1)), keras.layers.Masking(),
    ...                           keras.layers.GRU(3), keras.layers.Dense(1)])
    >>> check_model(model)  # nothing to say: it can be traced
    """
    if not isinstance(model, keras.Model):
        raise UnsupportedModelError(
            f"model={model!r}: expected a keras.Model (Sequential or functional)")
    if not isinstance(model, (keras.Sequential, Functional)):
        # A subclassed model's call() can do anything with its layers; only Sequential
        # and functional models say how their layers are connected.
        raise UnsupportedModelError(
            f"model={model.name!r} is a {type(model).__name__}, a keras.Model subclass with "
            "its own call(): the explorer traces Sequential and functional models only "
            f"(supported: {SUPPORTED})")
    if not model.built:
        raise UnsupportedModelError(
            f"model={model.name!r} is not built: give it an input shape (keras.Input) or "
            "call it once")
    try:
        _check_functional_chain(model)
    except UnsupportedModelError as error:
        raise UnsupportedModelError(f"{error} (supported: {SUPPORTED})", error.layer) from None
    recurrent = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if _is_recurrent(layer):
            _check_recurrent(layer)
            recurrent += 1
        else:
            _check_around(layer)
    if not recurrent:
        raise UnsupportedModelError(
            f"model={model.name!r} has no recurrent layer: there is nothing to trace "
            f"(supported: {SUPPORTED})")


def _check_recurrent(layer: Any) -> None:
    inner = [layer]
    if isinstance(layer, keras.layers.Bidirectional):
        if type(layer) is not keras.layers.Bidirectional:
            _refuse(layer, "a subclass of Bidirectional")
        inner = [layer.forward_layer, layer.backward_layer]
    for rnn in inner:
        if type(rnn) not in _RECURRENT_CLASSES:
            _refuse(layer, f"a {type(rnn).__name__}, not one of Keras's own "
                           f"{', '.join(RECURRENT)} classes")
        if type(rnn.cell) not in _CELLS:
            _refuse(layer, f"a {type(rnn).__name__} with a {type(rnn.cell).__name__} cell "
                           "(stacked or custom cells are not replayed)")


def _check_around(layer: Any) -> None:
    if isinstance(layer, keras.Model):
        _refuse(layer, f"a nested model ({type(layer).__name__}): build one model whose "
                       "layers are all at its top level")
    if isinstance(layer, keras.layers.TimeDistributed):
        if _is_recurrent(layer.layer) or not isinstance(layer.layer, _AROUND_CLASSES):
            _refuse(layer, f"a TimeDistributed of a {type(layer.layer).__name__}")
        return
    if not isinstance(layer, _AROUND_CLASSES):
        _refuse(layer, f"a {type(layer).__name__}")


def _refuse(layer: Any, what: str) -> None:
    raise UnsupportedModelError(
        f"layer {layer.name!r} is {what}, which the explorer cannot trace; supported: "
        f"{SUPPORTED}", layer=layer.name)
