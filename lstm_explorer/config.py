"""ExperimentConfig: the task, model and training of one run, validated and complete.

A config has three sections (DESIGN.md §3). `from_dict` fills every missing key from the
registry in `params.py`, checks every value and every combination, and returns the
normalized config; `to_dict` gives it back so that `from_dict(c.to_dict()) == c`.
Every problem raises `ConfigError` naming the field, echoing the value and saying what
is allowed.

The same values travel as flat, readable keys in share links and sweeps:
`task.name=recall`, `task.lag=20`, `model.cell=gru`, `model.num_layers=2`,
`layer1.units=64` (layers are numbered from 1), `layer.units=64` (every layer),
`training.epochs=5`. Identifier values read as `orthogonal(gain=2.0)` or `l2(l2=0.01)`.

Example:

>>> config = ExperimentConfig.from_dict({"model": {"layers": [{"units": 16}]}})
>>> config.model["layers"][0]["units"], config.training["epochs"]
(16, 10)
>>> config.to_query()
{'layer1.units': '16'}
>>> ExperimentConfig.from_dict({"training": {"epochs": 0}})
Traceback (most recent call last):
...
lstm_explorer.errors.ConfigError: training.epochs=0: must be an integer from 1 to 1000
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lstm_explorer import params, tasks
from lstm_explorer.datasets import series as series_data
from lstm_explorer.errors import ConfigError
from lstm_explorer.params import Param

# The losses that fit each kind of task; "auto" is the task's own (tasks.default_loss).
LOSSES_BY_KIND = {
    "regression": ("mse", "mae", "huber"),
    "multiclass": ("sparse_categorical_crossentropy",),
    "binary": ("binary_crossentropy", "mse"),
}
# Unrolling builds one graph node per step: past this it takes minutes to compile.
MAX_UNROLL_STEPS = 200
MAX_TEXT_LENGTH = 500
_IDENTIFIER_MODULES = {
    params.INITIALIZER: "keras.initializers",
    params.REGULARIZER: "keras.regularizers",
    params.CONSTRAINT: "keras.constraints",
}
_MODEL_KEYS = ("cell", "bidirectional", "merge_mode", "embedding", "layers")


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated, complete experiment: `task`, `model` and `training` sections.

    Build it with `from_dict`, `from_json` or `from_query`, never by hand: those fill
    in defaults and validate. The sections are plain dicts with the JSON layout of
    DESIGN.md §3; `model["layers"]` holds one dict of `keras.layers.LSTM` arguments per
    recurrent layer.

    Example:

    >>> config = ExperimentConfig.default()
    >>> config.task["name"], len(config.model["layers"])
    ('adding', 1)
    """

    task: dict
    model: dict
    training: dict

    # --- construction -----------------------------------------------------------------

    @classmethod
    def default(cls) -> ExperimentConfig:
        """The config with every value at its registry default."""
        return cls.from_dict({})

    @classmethod
    def from_dict(cls, data: Any) -> ExperimentConfig:
        """Validate and complete a config dict (DESIGN.md §3); missing keys take defaults.

        Args:
            data: a dict with optional `"task"`, `"model"` and `"training"` sections.

        Raises:
            ConfigError: naming the first field that is wrong.
        """
        data = _require_mapping("config", data)
        _reject_unknown("config", data, ("task", "model", "training"))
        task = _section("task", data.get("task", {}))
        model_data = _require_mapping("model", data.get("model", {}))
        model = _model_section(model_data)
        training = _section("training", data.get("training", {}))
        config = cls(task=task, model=model, training=training)
        _check_combinations(config)
        return config

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        """Parse and validate a config from JSON text."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError, RecursionError) as error:
            # ValueError covers bad JSON, bad UTF-8 and integers of over 4300 digits;
            # RecursionError arrays or objects nested thousands deep.
            reason = "nested too deeply" if isinstance(error, RecursionError) else error
            raise ConfigError("config", _shorten(text),
                              f"is not valid JSON ({reason}); a config is a JSON object "
                              'such as {"task": {"name": "adding"}}') from None
        return cls.from_dict(data)

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> tuple[ExperimentConfig, list[ConfigError]]:
        """Build a config from share-link keys, skipping the bad ones.

        A link must never break the page: each key that cannot be used is skipped and
        reported, and if the remaining values do not form a valid config, the defaults
        are used and that problem is reported.

        Args:
            query: key → text (or list of texts, the last wins), e.g. from
                `st.query_params` or `urllib.parse.parse_qs`.

        Returns:
            The config and the list of problems (empty when every key was used).

        Example:

        >>> config, problems = ExperimentConfig.from_query({"layer1.units": "8",
        ...                                                 "layer1.units2": "1"})
        >>> config.model["layers"][0]["units"], [p.field for p in problems]
        (8, ['layer1.units2'])
        """
        problems: list[ConfigError] = []
        values: dict[str, Any] = {}
        for key, raw in query.items():
            text = raw[-1] if isinstance(raw, list | tuple) and raw else raw
            try:
                param = param_for_key(key)
                values[key] = parse_text(param, text, field=key)
            except ConfigError as problem:
                problems.append(problem)
        default = cls.default()
        try:
            return default.with_values(values), problems
        except ConfigError:
            pass
        # Keep what can be kept: drop the keys that are wrong even on their own.
        usable = {}
        for key, value in values.items():
            try:
                default.with_values({key: value})
                usable[key] = value
            except ConfigError as problem:
                problems.append(problem)
        try:
            return default.with_values(usable), problems
        except ConfigError as problem:
            problems.append(problem)
            return default, problems

    # --- output -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The complete config as a JSON-ready dict (a deep copy)."""
        return copy.deepcopy({"task": self.task, "model": self.model,
                              "training": self.training})

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def values(self) -> dict[str, Any]:
        """Every value under its flat key (`task.lag`, `layer2.units`, ...)."""
        flat: dict[str, Any] = {}
        for section in ("task", "training"):
            for name in params.section_params(section):
                flat[f"{section}.{name}"] = getattr(self, section)[name]
        for name in params.section_params("model"):
            flat[f"model.{name}"] = self.get(f"model.{name}")
        for number, layer in enumerate(self.model["layers"], start=1):
            for name in params.section_params("layer"):
                flat[f"layer{number}.{name}"] = layer[name]
        return flat

    def to_query(self) -> dict[str, str]:
        """The share-link keys: only values that differ from the defaults, as text.

        A layer beyond the first is compared with a default layer; `return_sequences`
        is left out where stacking sets it, since `from_query` sets it again.
        """
        query: dict[str, str] = {}
        for key, value in self.values().items():
            param = param_for_key(key)
            if _is_derived(self, key, value):
                continue
            if not _same(value, param.default):
                query[key] = format_text(param, value)
        return query

    # --- reading and changing ---------------------------------------------------------

    def get(self, key: str) -> Any:
        """The value under a flat key, e.g. `config.get("layer1.units")`."""
        section, name, layer_index = split_key(key)
        if section == "layer":
            layers = self.model["layers"]
            index = 0 if layer_index is None else layer_index
            if index >= len(layers):
                raise ConfigError(key, None, f"there are only {len(layers)} layers")
            return layers[index][name]
        if section == "model" and name == "num_layers":
            return len(self.model["layers"])
        return getattr(self, section)[name]

    def with_values(self, values: Mapping[str, Any]) -> ExperimentConfig:
        """A new, validated config with some flat keys changed.

        Args:
            values: flat key → value (typed, not text). `layer.NAME` sets every layer;
                `layerN.NAME` one layer (adding layers up to N if needed);
                `model.num_layers` grows or shrinks the stack.

        Example:

        >>> config = ExperimentConfig.default().with_values({"model.num_layers": 2,
        ...                                                  "layer2.units": 8})
        >>> [layer["units"] for layer in config.model["layers"]]
        [32, 8]
        """
        data = self.to_dict()
        layers = data["model"]["layers"]
        # Stacking sets return_sequences on every layer but the last; recompute it
        # after the stack changes instead of carrying a forced value along.
        auto_sequences = [index < len(layers) - 1 for index in range(len(layers))]
        wanted_layers = len(layers)
        for key, value in values.items():
            section, name, layer_index = split_key(key)
            if section == "model" and name == "num_layers":
                wanted_layers = _check_value(params.get("model.num_layers"), value, key)
            elif section == "layer" and layer_index is not None:
                wanted_layers = max(wanted_layers, layer_index + 1)
        layers[:] = layers[:wanted_layers]
        while len(layers) < wanted_layers:
            layers.append({"units": layers[-1]["units"]})
        for index, layer in enumerate(layers):
            was_auto = index < len(auto_sequences) and auto_sequences[index]
            if was_auto and layer.get("return_sequences") is True:
                layer.pop("return_sequences")
        for key, value in values.items():
            section, name, layer_index = split_key(key)
            if section == "layer":
                targets = layers if layer_index is None else [layers[layer_index]]
                for layer in targets:
                    layer[name] = value
            elif section == "model" and name == "num_layers":
                continue
            else:
                data[section][name] = value
        return ExperimentConfig.from_dict(data)

    def notes(self) -> list[str]:
        """Things a person should be told about this config (nothing here is an error)."""
        notes = []
        layers = self.model["layers"]
        cell = self.model["cell"]
        for number in range(1, len(layers)):
            notes.append(f"layer{number}.return_sequences is True because layer{number} "
                         f"feeds layer{number + 1}, which needs the whole sequence.")
        for number, layer in enumerate(layers, start=1):
            for name, param in params.section_params("layer").items():
                if not param.applies(cell) and not _same(layer[name], param.default):
                    notes.append(f"layer{number}.{name} has no effect on a {cell} cell; "
                                 f"it is kept for when you switch back to lstm.")
        if any(layer["stateful"] for layer in layers):
            notes.append("Stateful layers: the data is not shuffled, the training set is "
                         "trimmed to a multiple of the batch size, and states are reset "
                         "at the start of every epoch.")
        return notes

    @property
    def task_kind(self) -> str:
        """`"regression"`, `"multiclass"` or `"binary"`."""
        return tasks.task_kind(self.task["name"])

    @property
    def loss(self) -> str:
        """The loss that training uses, with `"auto"` resolved for the task."""
        loss = self.training["loss"]
        return tasks.default_loss(self.task["name"]) if loss == "auto" else loss

    @property
    def per_step_targets(self) -> bool:
        """Whether the head predicts at every step (the last layer returns sequences)."""
        return bool(self.model["layers"][-1]["return_sequences"])


# --- flat keys ----------------------------------------------------------------------------

_KEY = re.compile(r"^(task|model|training|layer)(\d*)\.([a-z_0-9]+)$")


def split_key(key: str) -> tuple[str, str, int | None]:
    """Split a flat key into (section, name, 0-based layer index or None).

    Example:

    >>> split_key("layer2.units"), split_key("training.epochs")
    (('layer', 'units', 1), ('training', 'epochs', None))
    """
    match = _KEY.match(key) if isinstance(key, str) else None
    if not match:
        raise ConfigError(str(key)[:60], None,
                          "is not a parameter key; keys look like task.lag, model.cell, "
                          "layer1.units or training.epochs")
    section, number, name = match.groups()
    if number and section != "layer":
        raise ConfigError(key, None, "only layer keys take a number, as in layer2.units")
    if section == "layer" and number:
        layer_number = int(number)
        maximum = int(params.get("model.num_layers").maximum)
        if not 1 <= layer_number <= maximum:
            raise ConfigError(key, None, f"layers are numbered 1 to {maximum}")
        index = layer_number - 1
    else:
        index = None
    if name not in params.section_params(section):
        allowed = ", ".join(params.section_params(section))
        raise ConfigError(key, None, f"{section} has no parameter {name!r}; it has {allowed}")
    return section, name, index


_LAYER_FIELD = re.compile(r"^model\.layers\[(\d+)\]")


def flat_field(field: str) -> str:
    """An error's field in the flat-key form of share links and widgets.

    Config errors name the JSON path; links and widgets use flat keys.

    >>> flat_field("model.layers[0].go_backwards"), flat_field("task.lag")
    ('layer1.go_backwards', 'task.lag')
    """
    return _LAYER_FIELD.sub(lambda match: f"layer{int(match.group(1)) + 1}", field)


def param_for_key(key: str) -> Param:
    """The registry entry behind a flat key such as `layer2.units`."""
    section, name, _ = split_key(key)
    return params.section_params(section)[name]


# --- text forms (share links, sweeps, the CLI) ------------------------------------------

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def parse_text(param: Param, text: Any, field: str | None = None) -> Any:
    """Turn the text form of a value (from a URL or a command line) into a typed value.

    The result is checked only for form; ranges and combinations are checked when the
    config is built.

    Example:

    >>> parse_text(params.layer_param("units"), "64")
    64
    >>> parse_text(params.layer_param("recurrent_initializer"), "orthogonal(gain=2)")
    {'class_name': 'orthogonal', 'config': {'gain': 2}}
    """
    field = field or param.path
    if not isinstance(text, str):
        raise ConfigError(field, text, "expected text")
    if len(text) > MAX_TEXT_LENGTH:
        raise ConfigError(field, _shorten(text), f"is longer than {MAX_TEXT_LENGTH} characters")
    stripped = text.strip()
    if param.nullable and stripped.lower() in ("", "none", "null"):
        return None
    kind = param.kind
    if kind == params.INT:
        return _parse_number(stripped, int, field)
    if kind == params.FLOAT:
        return _parse_number(stripped, float, field)
    if kind == params.BOOL:
        return _parse_bool(stripped, field)
    if kind == params.CHOICE:
        for choice in param.choices:
            if stripped.lower() == str(choice).lower():
                return choice
        return stripped
    if kind in (params.TEXT, params.ACTIVATION):
        return stripped if kind == params.ACTIVATION else text
    if kind in params.CATALOGS:
        return _parse_identifier_text(stripped, field)
    if kind == params.EMBEDDING:
        return _parse_arguments(stripped, field)
    raise AssertionError(f"unknown kind {kind!r}")


def format_text(param: Param, value: Any) -> str:
    """The readable text form of a value; `parse_text` reads it back.

    Example:

    >>> format_text(params.layer_param("kernel_regularizer"),
    ...             {"class_name": "L2", "config": {"l2": 0.01}})
    'l2(l2=0.01)'
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if param.kind in params.CATALOGS and isinstance(value, dict):
        spec = params.CATALOGS[param.kind][value["class_name"]]
        arguments = ",".join(f"{name}={_format_scalar(argument)}"
                             for name, argument in value["config"].items())
        return f"{spec.identifier}({arguments})"
    if param.kind == params.EMBEDDING:
        return ",".join(f"{name}={_format_scalar(argument)}"
                        for name, argument in value.items() if argument is not None)
    return _format_scalar(value)


def _format_scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse_number(text: str, number_type: type, field: str) -> Any:
    try:
        value = float(text) if number_type is float else int(text)
    except ValueError:
        if number_type is int:
            try:
                as_float = float(text)
            except ValueError:
                as_float = math.nan
            if math.isfinite(as_float) and as_float.is_integer():
                return int(as_float)
        word = "an integer" if number_type is int else "a number"
        raise ConfigError(field, text, f"expected {word}") from None
    return value


def _parse_bool(text: str, field: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ConfigError(field, text, "expected true or false")


def _parse_identifier_text(text: str, field: str) -> Any:
    match = _CALL.match(text)
    if not match:
        raise ConfigError(field, text, "expected a name such as orthogonal or a call "
                                       "such as orthogonal(gain=2.0)")
    name, arguments = match.groups()
    if arguments is None:
        return name
    return {"class_name": name, "config": _parse_arguments(arguments, field)}


def _parse_arguments(text: str, field: str) -> dict[str, Any]:
    """Parse `a=1, b=fan_in` into a dict of numbers and words; nothing is evaluated."""
    result: dict[str, Any] = {}
    if not text.strip():
        return result
    for part in text.split(","):
        name, equals, raw = part.partition("=")
        name, raw = name.strip(), raw.strip()
        if not equals or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ConfigError(field, text, "arguments look like name=value, separated "
                                           "by commas, e.g. gain=2.0")
        result[name] = _parse_scalar(raw)
    return result


def _parse_scalar(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("none", "null", ""):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


# --- validation -------------------------------------------------------------------------


def _require_mapping(field: str, value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(field, value, f"expected an object (a dict), got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(field, key, "keys must be strings")
    return dict(value)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,59}")


def _reject_unknown(field: str, data: Mapping, allowed) -> None:
    for key in data:
        if key not in allowed:
            # A key that is not a plain name (empty, huge, odd characters) is shown quoted
            # and shortened, so that the field stays readable.
            name = key if _NAME.fullmatch(key) else _shorten(repr(key))
            raise ConfigError(f"{field}.{name}" if field != "config" else name, data[key],
                              f"unknown key; {field} allows {', '.join(allowed)}")


def _section(section: str, data: Any) -> dict:
    data = _require_mapping(section, data)
    entries = params.section_params(section)
    _reject_unknown(section, data, tuple(entries))
    return {name: _check_value(param, data.get(name, param.default), f"{section}.{name}")
            for name, param in entries.items()}


def _model_section(data: dict) -> dict:
    allowed = _MODEL_KEYS + ("num_layers",)
    _reject_unknown("model", data, allowed)
    model = {}
    for name in ("cell", "bidirectional", "merge_mode", "embedding"):
        param = params.get(f"model.{name}")
        model[name] = _check_value(param, data.get(name, param.default), f"model.{name}")
    layers_data = data.get("layers")
    count_param = params.get("model.num_layers")
    count = None
    if "num_layers" in data:
        count = _check_value(count_param, data["num_layers"], "model.num_layers")
    if layers_data is None:
        layers_data = [{} for _ in range(count or count_param.default)]
    if not isinstance(layers_data, list | tuple):
        raise ConfigError("model.layers", layers_data,
                          "expected a list with one object of LSTM arguments per layer")
    if not 1 <= len(layers_data) <= count_param.maximum:
        raise ConfigError("model.layers", f"<{len(layers_data)} layers>",
                          f"expected 1 to {int(count_param.maximum)} layers")
    if count is not None and count != len(layers_data):
        raise ConfigError("model.num_layers", count,
                          f"disagrees with model.layers, which has {len(layers_data)}")
    layers = []
    for index, layer_data in enumerate(layers_data):
        field = f"model.layers[{index}]"
        layer_data = _require_mapping(field, layer_data)
        entries = params.section_params("layer")
        _reject_unknown(field, layer_data, tuple(entries))
        layer = {name: _check_value(param, layer_data.get(name, param.default),
                                    f"{field}.{name}")
                 for name, param in entries.items()}
        if index < len(layers_data) - 1:
            layer["return_sequences"] = True
        layers.append(layer)
    model["layers"] = layers
    return model


def _bounds_text(param: Param, word: str) -> str:
    low, high = param.minimum, param.maximum
    fmt = (lambda v: str(int(v))) if param.kind == params.INT else _format_scalar
    if low is not None and high is not None:
        return f"must be {word} from {fmt(low)} to {fmt(high)}"
    if low is not None:
        return f"must be {word} of at least {fmt(low)}"
    if high is not None:
        return f"must be {word} of at most {fmt(high)}"
    return f"must be {word}"


def _check_value(param: Param, value: Any, field: str) -> Any:
    """Check one value against its registry entry and return its normalized form."""
    if value is None:
        if param.nullable:
            return None
        raise ConfigError(field, value, "cannot be empty")
    kind = param.kind
    if kind in (params.INT, params.FLOAT):
        word = "an integer" if kind == params.INT else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(field, value, _bounds_text(param, word))
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(field, value, _bounds_text(param, "a finite number"))
        if kind == params.INT:
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(field, value, _bounds_text(param, word))
            value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:  # an integer beyond any float, e.g. 10**400
                raise ConfigError(field, value, _bounds_text(param, word)) from None
        if ((param.minimum is not None and value < param.minimum)
                or (param.maximum is not None and value > param.maximum)):
            raise ConfigError(field, value, _bounds_text(param, word))
        return value
    if kind == params.BOOL:
        if not isinstance(value, bool):
            raise ConfigError(field, value, "must be true or false")
        return value
    if kind in (params.CHOICE, params.ACTIVATION):
        for choice in param.choices:
            if type(choice) is type(value) and choice == value:
                return choice
        allowed = ", ".join(_format_scalar(choice) for choice in param.choices)
        raise ConfigError(field, value, f"is not allowed; choose one of: {allowed}")
    if kind == params.TEXT:
        if not isinstance(value, str):
            raise ConfigError(field, value, "must be text")
        if len(value) > MAX_TEXT_LENGTH:
            raise ConfigError(field, _shorten(value),
                              f"is longer than {MAX_TEXT_LENGTH} characters")
        return value
    if kind in params.CATALOGS:
        return _check_identifier(kind, value, field)
    if kind == params.EMBEDDING:
        return _check_arguments(params.EMBEDDING_ARGS, value, field)
    raise AssertionError(f"unknown kind {kind!r}")


def _check_identifier(kind: str, value: Any, field: str) -> Any:
    catalog = params.CATALOGS[kind]
    allowed = ", ".join(spec.identifier for spec in catalog.values())
    if isinstance(value, str):
        spec = params.identifier_class(kind, value)
        if spec is None:
            raise ConfigError(field, value, f"is not an allowed {kind}; choose one of: {allowed}")
        return spec.identifier
    if not isinstance(value, Mapping):
        raise ConfigError(field, value, f"expected a {kind} name such as "
                                        f"{next(iter(catalog.values())).identifier} or "
                                        '{"class_name": ..., "config": {...}}')
    _reject_unknown(field, value, ("class_name", "config", "module", "registered_name"))
    module = value.get("module")
    if module not in (None, _IDENTIFIER_MODULES[kind]):
        raise ConfigError(f"{field}.module", module,
                          f"only {_IDENTIFIER_MODULES[kind]} is allowed")
    if value.get("registered_name") is not None:
        raise ConfigError(f"{field}.registered_name", value["registered_name"],
                          "custom registered objects are not allowed")
    class_name = value.get("class_name")
    spec = params.identifier_class(kind, class_name) if isinstance(class_name, str) else None
    if spec is None:
        raise ConfigError(f"{field}.class_name", class_name,
                          f"is not an allowed {kind}; choose one of: "
                          + ", ".join(catalog))
    arguments = spec.args + ((params.Param("seed", "argument", params.INT, None, "",
                                           minimum=0, maximum=2**31 - 1, nullable=True),)
                             if spec.seeded else ())
    config = _check_arguments(arguments, value.get("config", {}), f"{field}.config")
    if not spec.seeded:
        config.pop("seed", None)
    elif config.get("seed") is None:
        config.pop("seed")
    _check_class_arguments(spec.class_name, config, field)
    return {"class_name": spec.class_name, "config": config}


def _check_arguments(arguments: tuple[Param, ...], value: Any, field: str) -> dict | None:
    if value is None:
        return None
    value = _require_mapping(field, value)
    names = tuple(argument.name for argument in arguments)
    if not names and value:
        raise ConfigError(field, value, "takes no arguments")
    _reject_unknown(field, value, names)
    return {argument.name: _check_value(argument, value.get(argument.name, argument.default),
                                        f"{field}.{argument.name}")
            for argument in arguments}


def _check_class_arguments(class_name: str, config: dict, field: str) -> None:
    """Argument values Keras refuses that the registry's inclusive bounds let through."""
    pairs = {"RandomUniform": ("minval", "maxval"), "MinMaxNorm": ("min_value", "max_value")}
    if class_name in pairs:
        low, high = pairs[class_name]
        if config[low] > config[high]:
            raise ConfigError(f"{field}.config.{low}", config[low],
                              f"must not exceed {high}={config[high]}")
    if class_name == "VarianceScaling" and config["scale"] <= 0:
        raise ConfigError(f"{field}.config.scale", config["scale"],
                          "must be above 0: Keras refuses a scale of 0; for weights that "
                          "all start at 0 choose zeros")


def cudnn_blockers(layer: Mapping[str, Any]) -> list[str]:
    """The settings of one layer that keep Keras off the fused cuDNN kernel.

    Keras (TF backend) uses cuDNN only with activation tanh, recurrent_activation
    sigmoid, recurrent_dropout 0, unroll False and use_bias True (DESIGN.md §4).

    Example:

    >>> cudnn_blockers({"activation": "relu", "recurrent_activation": "sigmoid",
    ...                 "recurrent_dropout": 0.0, "unroll": False, "use_bias": True})
    ["activation='relu' (cuDNN needs 'tanh')"]
    """
    blockers = []
    if layer["activation"] != "tanh":
        blockers.append(f"activation={layer['activation']!r} (cuDNN needs 'tanh')")
    if layer["recurrent_activation"] != "sigmoid":
        blockers.append(f"recurrent_activation={layer['recurrent_activation']!r} "
                        "(cuDNN needs 'sigmoid')")
    if layer["recurrent_dropout"]:
        blockers.append(f"recurrent_dropout={layer['recurrent_dropout']} (cuDNN needs 0)")
    if layer["unroll"]:
        blockers.append("unroll=True (cuDNN needs False)")
    if not layer["use_bias"]:
        blockers.append("use_bias=False (cuDNN needs True)")
    return blockers


def _check_combinations(config: ExperimentConfig) -> None:
    task, model, training = config.task, config.model, config.training
    name = task["name"]
    layers = model["layers"]
    last = len(layers)
    if name == "recall" and task["lag"] >= task["seq_len"]:
        raise ConfigError("task.lag", task["lag"],
                          f"must be smaller than task.seq_len={task['seq_len']}: the symbol "
                          "to recall has to be inside the sequence")
    if tasks.needs_embedding(name) and model["embedding"] is None:
        what = "token ids" if name == "tokens" else "character ids"
        raise ConfigError("model.embedding", None,
                          f"the {name} task feeds integer {what}, which need an Embedding "
                          'in front; set model.embedding to {"output_dim": 64}')
    if not tasks.needs_embedding(name) and model["embedding"] is not None:
        raise ConfigError("model.embedding", model["embedding"],
                          "an Embedding reads integer ids (token ids or character ids), "
                          f"but task {name!r} feeds real numbers; use task tokens or chars, "
                          "or set model.embedding to null")
    embedding = model["embedding"]
    vocabulary = tasks.vocab_size(task)
    if (embedding and embedding["input_dim"] is not None
            and embedding["input_dim"] < vocabulary):
        source = (f"task.vocab_size={vocabulary}" if name == "tokens"
                  else f"{vocabulary}, the {name} task's vocabulary")
        raise ConfigError("model.embedding.input_dim", embedding["input_dim"],
                          f"must be at least {source}, or empty to follow the task")
    if layers[-1]["return_sequences"] and not tasks.supports_per_step(name):
        raise ConfigError(f"model.layers[{last - 1}].return_sequences", True,
                          f"on the last layer it makes the model predict at every step, but "
                          f"task {name!r} has one target per sequence; set it to false, or "
                          f"use one of the tasks {', '.join(tasks.PER_STEP_TASKS)}")
    for index, layer in enumerate(layers):
        field = f"model.layers[{index}]"
        if layer["use_cudnn"] is True and model["cell"] != "simple_rnn":
            blockers = cudnn_blockers(layer)
            if blockers:
                raise ConfigError(f"{field}.use_cudnn", True,
                                  "insists on the cuDNN kernel, which Keras cannot use with "
                                  + "; ".join(blockers) + ". Set use_cudnn to 'auto'.")
        if layer["unroll"] and task["seq_len"] > MAX_UNROLL_STEPS:
            raise ConfigError(f"{field}.unroll", True,
                              f"builds one graph node per step; with task.seq_len="
                              f"{task['seq_len']} that takes minutes to compile. Use unroll "
                              f"only up to {MAX_UNROLL_STEPS} steps.")
        _check_bias_arguments(layer, field)
        if layer["go_backwards"] and model["bidirectional"]:
            # Bidirectional builds its backward copy with go_backwards=True; Keras
            # refuses a forward layer that reads backwards too.
            raise ConfigError(f"{field}.go_backwards", True,
                              "Bidirectional already reads the sequence backwards in its "
                              "second copy, and Keras refuses a forward copy that does too; "
                              "turn off go_backwards or model.bidirectional")
        if layer["stateful"] and layer["return_state"] and model["bidirectional"]:
            # Keras 3.15 cannot build this: Bidirectional.compute_mask fails on it.
            raise ConfigError(f"{field}.return_state", True,
                              "Keras cannot build a stateful Bidirectional layer that returns "
                              "its state (a Keras bug); turn off return_state, stateful or "
                              "model.bidirectional")
    allowed_losses = LOSSES_BY_KIND[config.task_kind]
    if training["loss"] != "auto" and training["loss"] not in allowed_losses:
        raise ConfigError("training.loss", training["loss"],
                          f"does not fit task {name!r} ({config.task_kind}); choose auto or "
                          + ", ".join(allowed_losses))
    if training["clipnorm"] is not None and training["clipvalue"] is not None:
        raise ConfigError("training.clipvalue", training["clipvalue"],
                          "Keras allows only one of clipnorm and clipvalue; empty one of them")
    if name == "series":
        # The series' lengths are in the catalog: its windows are counted without loading.
        n_train = series_data.check_split(task, training["validation_split"],
                                          config.per_step_targets).n_train
    else:
        # The same split rule as tasks.make and Keras: the last part is held out.
        n_train = int(task["n_samples"] * (1.0 - training["validation_split"]))
    if n_train < 1:
        raise ConfigError("training.validation_split", training["validation_split"],
                          f"leaves no training sample out of task.n_samples="
                          f"{task['n_samples']}")
    if any(layer["stateful"] for layer in layers) and training["batch_size"] > n_train:
        raise ConfigError("training.batch_size", training["batch_size"],
                          f"a stateful layer needs at least one full batch, but there are "
                          f"only {n_train} training sequences; lower the batch size or "
                          "raise task.n_samples")
    _check_orthogonal_regularizers(config)


# Kernel columns per unit: one block of weights per gate (LSTM i, f, c, o; GRU z, r, h).
_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def _check_orthogonal_regularizers(config: ExperimentConfig) -> None:
    """OrthogonalRegularizer needs a matrix with two rows (or columns) or more, of known size.

    Keras raises on the 3-D output of a layer that returns sequences, and on the output
    of any layer when the batch size is not fixed (it builds an identity matrix of the
    batch's size). On a matrix with a single row ("rows") or column ("columns") it
    divides 0 by 0: the loss is NaN from the first step, which looks like an exploding
    gradient but is not.
    """
    model, batch_size = config.model, config.training["batch_size"]
    gates = _GATES[model["cell"]]
    # Only a stateful model has a fixed batch size (DESIGN.md §4).
    fixed_batch = any(layer["stateful"] for layer in model["layers"])
    embedding = model["embedding"]
    # Validation has checked that the tokens task, and only it, has an Embedding.
    inputs = embedding["output_dim"] if embedding else tasks.input_shape(config.task)[-1]
    for index, layer in enumerate(model["layers"]):
        field = f"model.layers[{index}]"
        units = layer["units"]
        activity = layer["activity_regularizer"]
        if _orthogonal_mode(activity) and layer["return_sequences"]:
            why = ("it feeds the next layer" if index < len(model["layers"]) - 1
                   else "return_sequences is true")
            raise ConfigError(f"{field}.activity_regularizer", activity,
                              "orthogonal_regularizer takes a matrix, but this layer returns "
                              f"a sequence (batch, steps, units), as {why}, which Keras "
                              "cannot take; choose l1, l2 or l1l2, or put it on a layer that "
                              "returns only its last step")
        if _orthogonal_mode(activity) == "rows" and not fixed_batch:
            raise ConfigError(f"{field}.activity_regularizer", activity,
                              "orthogonal_regularizer with mode 'rows' compares the outputs "
                              "of the sequences in a batch, which Keras can do only when the "
                              "batch size is fixed, as in a stateful model; otherwise the "
                              "first training step fails. Use mode 'columns', another "
                              "regularizer, or stateful layers")
        matrices = {
            "kernel_regularizer": ("the kernel W", (inputs, gates * units)),
            "recurrent_regularizer": ("the recurrent kernel U", (units, gates * units)),
            "activity_regularizer": ("the output", (batch_size, units)),
        }
        for name, (what, (rows, columns)) in matrices.items():
            mode = _orthogonal_mode(layer[name])
            if (mode, rows, columns) in (("rows", 1, columns), ("columns", rows, 1)):
                other, count = ("columns", columns) if mode == "rows" else ("rows", rows)
                instead = f"mode {other!r} or another regularizer" if count > 1 else (
                    "another regularizer")
                raise ConfigError(f"{field}.{name}", layer[name],
                                  f"orthogonal_regularizer with mode {mode!r} compares the "
                                  f"{mode} of {what}, which is {rows}×{columns} here: with one "
                                  f"alone, Keras's penalty is 0/0 and the loss NaN from the "
                                  f"first step; use {instead}")
        inputs = units * (2 if model["bidirectional"] and model["merge_mode"] == "concat" else 1)


def _orthogonal_mode(value: Any) -> str | None:
    """The mode of an OrthogonalRegularizer value ("rows" or "columns"), else None."""
    if value == "orthogonal_regularizer":
        return params.REGULARIZERS["OrthogonalRegularizer"].arg("mode").default
    if isinstance(value, Mapping) and value["class_name"] == "OrthogonalRegularizer":
        return value["config"]["mode"]
    return None


def _check_bias_arguments(layer: Mapping[str, Any], field: str) -> None:
    """The bias is a vector: matrix-only classes and axis=1 cannot apply to it."""
    for name, kind in (("bias_initializer", params.INITIALIZER),
                       ("bias_regularizer", params.REGULARIZER),
                       ("bias_constraint", params.CONSTRAINT)):
        value = layer[name]
        if value is None:
            continue
        class_name = value if isinstance(value, str) else value["class_name"]
        spec = params.identifier_class(kind, class_name)
        if spec.matrix_only:
            raise ConfigError(f"{field}.{name}", value,
                              f"{spec.identifier} works on a matrix, but the bias is a "
                              "vector; choose another, e.g. zeros or constant")
        if isinstance(value, dict) and value["config"].get("axis", 0) != 0:
            raise ConfigError(f"{field}.{name}.config.axis", value["config"]["axis"],
                              "the bias is a vector, so only axis 0 exists")


def _is_derived(config: ExperimentConfig, key: str, value: Any) -> bool:
    section, name, index = split_key(key)
    if section == "layer" and name == "return_sequences":
        return index is not None and index < len(config.model["layers"]) - 1
    return False


def _same(left: Any, right: Any) -> bool:
    # `True == 1` in Python, but use_cudnn=True and units=1 are different settings.
    if isinstance(left, bool) or isinstance(right, bool) or left is None or right is None:
        return left is right
    return left == right


def _shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
