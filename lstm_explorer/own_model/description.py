"""`model.json`: what a run of a person's own model says about the model.

A run the explorer trained has `config.json`, from which the model was built. A run of
a model built elsewhere (`ExplorerCallback`, `python -m lstm_explorer inspect`) has
`model.json` instead: a description read off the model, not a recipe to rebuild it.

```json
{
  "format": 1,
  "source": "callback",
  "name": "functional",
  "class_name": "Functional",
  "input": {"shape": [null, 10], "dtype": "int32"},
  "output_shape": [null, 1],
  "loss": "binary_crossentropy",
  "optimizer": {"class_name": "Adam", "learning_rate": 0.001},
  "parameters": 1193,
  "layers": [
    {"name": "embedding", "class_name": "Embedding", "output_shape": [null, 10, 8],
     "arguments": {"input_dim": 20, "output_dim": 8, "mask_zero": true}},
    {"name": "lstm", "class_name": "LSTM", "output_shape": [null, 10, 8],
     "arguments": {"units": 8, "return_sequences": true, ...}, "trace": ["layer0"]},
    ...
  ],
  "probe": {"inputs": [16, 10], "targets": [16]},
  "keras_version": "3.15.1"
}
```
- `layers` excludes the input layer; `arguments` is the layer's `get_config()` without its
  name, dtype, trainability, seed, initializers, regularizers and constraints; a wrapper's
  (Bidirectional, TimeDistributed) inner layer is `{"class_name", "arguments"}`.
- `trace` lists the `trace.npz` keys of a recurrent layer (`"layer0"`, and
  `"layer0/backward"` for Bidirectional).
- Extra keys by source: the callback adds `epochs` (asked of fit); `inspect` adds
  `inputs` (the file read) and `samples`.

This module imports neither TensorFlow nor Keras: `describe` reads a model it is given,
and `summary_line` reads a description.

Example:

>>> summary_line({"layers": [{"class_name": "LSTM", "arguments": {"units": 8}},
...                          {"class_name": "Dense", "arguments": {"units": 1}}]})
'LSTM 8 → Dense 1'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["DESCRIPTION_FILE", "FORMAT", "describe", "summary_line"]

DESCRIPTION_FILE = "model.json"
FORMAT = 1

_DROPPED_KEYS = {"name", "trainable", "dtype", "seed", "build_config", "input_shape",
                 "batch_input_shape", "batch_shape", "sparse", "ragged"}
_DROPPED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_OPTIMIZER_KEYS = ("learning_rate", "momentum", "nesterov", "beta_1", "beta_2", "epsilon",
                   "rho", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "amsgrad")
_WRAPPERS = ("Bidirectional", "TimeDistributed")


def describe(model: Any, *, source: str, extra: Mapping[str, Any] | None = None) -> dict:
    """The `model.json` description of a built (and usually compiled) Keras model.

    Args:
        model: a built `keras.Model` that `support.check_model` accepted.
        source: what wrote the run: `"callback"` or `"inspect"`.
        extra: more top-level keys (e.g. `{"epochs": 10}`). Default: `None`.

    Returns:
        A JSON-ready dict (see the module docstring).

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(3),
    ...                           keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> description = describe(model, source="callback")
    >>> description["input"], summary_line(description)
    ({'shape': [None, 5, 2], 'dtype': 'float32'}, 'LSTM 3 → Dense 1')
    """
    layers = []
    recurrent_index = 0
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        item = {
            "name": layer.name,
            "class_name": type(layer).__name__,
            "output_shape": _output_shape(layer),
            "arguments": _arguments(layer),
        }
        if _recurrent(layer):
            key = f"layer{recurrent_index}"
            item["trace"] = [key, f"{key}/backward"] if item["class_name"] == "Bidirectional" \
                else [key]
            recurrent_index += 1
        layers.append(item)
    description = {
        "format": FORMAT,
        "source": source,
        "name": model.name,
        "class_name": type(model).__name__,
        "input": {"shape": _shape(model.inputs[0].shape),
                  "dtype": str(model.inputs[0].dtype)},
        "output_shape": _shape(model.outputs[0].shape),
        "loss": _loss(getattr(model, "loss", None)),
        "optimizer": _optimizer(getattr(model, "optimizer", None)),
        "parameters": int(model.count_params()),
        "layers": layers,
        "keras_version": _keras_version(),
    }
    description.update(_plain(dict(extra or {})))
    return description


def summary_line(description: Mapping[str, Any] | None) -> str:
    """A one-line label of a described model, e.g. `'Embedding 20×8 → LSTM 8 → Dense 1'`.

    Layers without much to say (Dropout, Masking, normalization, reshaping) are left out;
    never raises, even on a malformed description.

    Args:
        description: a `model.json` dict, or `None`.

    Returns:
        The label; `""` when there is nothing to say.

    Example:

    >>> summary_line({"layers": [
    ...     {"class_name": "Embedding", "arguments": {"input_dim": 20, "output_dim": 8}},
    ...     {"class_name": "Bidirectional",
    ...      "arguments": {"layer": {"class_name": "GRU", "arguments": {"units": 4}}}},
    ...     {"class_name": "Dropout", "arguments": {"rate": 0.1}}]})
    'Embedding 20×8 → Bidirectional GRU 4'
    """
    if not isinstance(description, Mapping) or not isinstance(description.get("layers"), list):
        return ""
    parts = []
    for layer in description["layers"]:
        if isinstance(layer, Mapping):
            part = _layer_label(layer)
            if part:
                parts.append(part)
    return " → ".join(parts)


def _layer_label(layer: Mapping[str, Any]) -> str:
    name = str(layer.get("class_name", ""))
    arguments = layer.get("arguments")
    arguments = arguments if isinstance(arguments, Mapping) else {}
    if name in _WRAPPERS:
        inner = arguments.get("layer")
        inner_label = _layer_label(inner) if isinstance(inner, Mapping) else ""
        return f"{name} {inner_label}".strip() if inner_label else name
    if name == "Embedding":
        return f"Embedding {arguments.get('input_dim')}×{arguments.get('output_dim')}"
    if "units" in arguments:
        return f"{name} {arguments['units']}"
    return ""


def _recurrent(layer: Any) -> bool:
    return hasattr(layer, "cell") or type(layer).__name__ == "Bidirectional"


def _arguments(layer: Any) -> dict:
    try:
        config = layer.get_config()
    except Exception as error:  # noqa: BLE001 - a custom layer may not implement it
        return {"error": f"get_config() failed: {type(error).__name__}"}
    arguments = {}
    for key, value in config.items():
        if key in _DROPPED_KEYS or key.endswith(_DROPPED_SUFFIXES):
            continue
        if key in ("layer", "backward_layer") and isinstance(value, Mapping):
            if key == "backward_layer":
                continue  # the forward layer says it; a custom backward one is rare
            inner = getattr(layer, "layer", None) or getattr(layer, "forward_layer", None)
            value = {"class_name": value.get("class_name"),
                     "arguments": _arguments(inner) if inner is not None else {}}
            if type(layer).__name__ == "Bidirectional" and "arguments" in value:
                value["arguments"].pop("go_backwards", None)
        arguments[key] = _plain(value)
    return arguments


def _output_shape(layer: Any) -> Any:
    try:
        output = layer.output
    except (AttributeError, ValueError):  # a layer without exactly one node
        return None
    if isinstance(output, (list, tuple)):
        return [_shape(tensor.shape) for tensor in output]
    return _shape(output.shape)


def _shape(shape: Any) -> list[int | None]:
    return [None if size is None else int(size) for size in shape]


def _loss(loss: Any) -> Any:
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, Mapping):
        return {key: _loss(value) for key, value in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_loss(value) for value in loss]
    if hasattr(loss, "get_config"):
        try:
            config = loss.get_config()
        except Exception:  # noqa: BLE001 - a custom loss may not implement it
            config = {}
        return {"class_name": type(loss).__name__, "config": _plain(config)}
    return getattr(loss, "__name__", type(loss).__name__)


def _optimizer(optimizer: Any) -> dict | None:
    if optimizer is None:
        return None
    result: dict[str, Any] = {"class_name": type(optimizer).__name__}
    try:
        config = optimizer.get_config()
    except Exception:  # noqa: BLE001 - a custom optimizer may not implement it
        return result
    for key in _OPTIMIZER_KEYS:
        value = config.get(key)
        if value is None or value is False:
            continue
        if isinstance(value, Mapping):  # a learning-rate schedule
            value = {"class_name": value.get("class_name"),
                     "config": _plain(value.get("config", {}))}
        if isinstance(value, float):
            # Read back from a float32 variable: 0.0010000000474974513 means 0.001.
            value = float(f"{value:.7g}")
        result[key] = _plain(value)
    return result


def _plain(value: Any) -> Any:
    """`value` as JSON can store it: numbers, text, lists and dicts (else its repr)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return _plain(value.item())
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _keras_version() -> str | None:
    import sys

    keras = sys.modules.get("keras")  # a described model means Keras is imported
    return getattr(keras, "__version__", None)
