"""Widgets generated from the parameter registry: one renderer for every `Param`.

`param_widget` turns any registry entry into the right Streamlit widget (numbers, toggles,
select boxes, a class picker with its arguments for initializers, regularizers and
constraints, an enable switch for the Embedding) and returns a plain value in the
config's own form. `config_editor` lays out every knob of a config in expanders, with
one tab per stacked layer, and returns the flat-key values the person set;
`apply_values` turns them into a new validated config or a `ConfigError`.

Widget keys derive from the flat keys (`param:layer1.units`), so values survive reruns;
when the config is replaced from outside (a preset, a link), `reset_widgets` drops the
widget state so every widget shows the new config.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from lstm_explorer import params
from lstm_explorer.config import ExperimentConfig, format_text, param_for_key, split_key
from lstm_explorer.errors import ConfigError
from lstm_explorer.params import Param

PREFIX = "param:"
# Knobs the app does not offer: the server never reads a CSV from its own disk (the
# file is uploaded instead); the Parameter Guide still lists it.
HIDDEN = ("task.path",)
NONE_LABEL = "none"

# Expanders of the Build & Train page: title, one-line help, and what goes in them.
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Task", "What the model learns, and the data it is trained on.", ("task",)),
    ("Model and layers (structural)",
     "The cell, how many layers are stacked, and the arguments that shape each layer.",
     ("model", "structural")),
    ("Initializers", "How the weights start: W (input), U (recurrent) and the biases.",
     ("initializers",)),
    ("Regularizers and constraints",
     "Penalties added to the loss, and projections applied after every update.",
     ("regularizers", "constraints")),
    ("Dropout", "Random masks on the inputs and on the recurrent state, in training only.",
     ("dropout",)),
    ("Training", "The optimizer, the loss and how long to train.", ("training",)),
)


def widget_key(flat_key: str, part: str = "") -> str:
    """The session-state key of the widget for a flat key (and an optional sub-part).

    >>> widget_key("layer1.units"), widget_key("layer1.kernel_initializer", "class")
    ('param:layer1.units', 'param:layer1.kernel_initializer/class')
    """
    return PREFIX + flat_key + (f"/{part}" if part else "")


def reset_widgets() -> None:
    """Forget every parameter widget's state, so the widgets show the session's config."""
    for key in [key for key in st.session_state if str(key).startswith(PREFIX)]:
        del st.session_state[key]


# --- pure helpers -----------------------------------------------------------------------


def format_value(value: Any) -> str:
    """How a choice or number is labelled in a widget.

    >>> format_value(None), format_value(True), format_value(0.001), format_value(2000.0)
    ('none', 'True', '0.001', '2000')
    """
    if value is None:
        return NONE_LABEL
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def log_grid(minimum: float, maximum: float, current: float | None = None, *,
             nullable: bool = False) -> list[Any]:
    """Options for a log-scale slider: 1, 2 and 5 times the powers of ten in bounds.

    0 joins when it is the lower bound, `None` (shown "none") first when the value may
    be empty, and the current value is always an option, so a shared value survives.

    >>> log_grid(1e-3, 0.1)
    [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]
    >>> log_grid(0.0, 0.01, 0.003, nullable=True)[:3]
    [None, 0.0, 0.0001]
    """
    low = minimum if minimum and minimum > 0 else 1e-4
    values: set[float] = set()
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(maximum)) + 1):
        for multiple in (1, 2, 5):
            value = float(f"{multiple}e{exponent}")
            if low * (1 - 1e-9) <= value <= maximum * (1 + 1e-9):
                values.add(value)
    if minimum == 0:
        values.add(0.0)
    if current is not None:
        values.add(float(current))
    options: list[Any] = sorted(values)
    return ([None] if nullable else []) + options


def _choice_index(choices: Iterable[Any], value: Any) -> int | None:
    for index, choice in enumerate(choices):
        if type(choice) is type(value) and choice == value:
            return index
    return None


def canonical(param: Param, value: Any) -> Any:
    """A value in one normal form, so that two spellings of one setting compare equal.

    Identifier values become `(ClassName, {every argument})`; everything else is kept.

    >>> layer = params.layer_param("recurrent_initializer")
    >>> canonical(layer, "orthogonal") == canonical(
    ...     layer, {"class_name": "Orthogonal", "config": {"gain": 1.0}})
    True
    """
    if param.kind in params.CATALOGS and value is not None:
        if isinstance(value, str):
            spec, arguments = params.identifier_class(param.kind, value), {}
        else:
            spec = params.identifier_class(param.kind, value.get("class_name", ""))
            arguments = dict(value.get("config") or {})
        if spec is None:
            return ("?", value)
        full = {**spec.defaults(), **arguments}
        if full.get("seed") is None:
            full.pop("seed", None)
        return (spec.class_name, tuple(sorted(full.items())))
    if param.kind == params.EMBEDDING and value is not None:
        return tuple(sorted({"input_dim": None, **value}.items()))
    return (type(value).__name__, value)


def same_value(param: Param, left: Any, right: Any) -> bool:
    """Whether two values of a parameter mean the same setting."""
    return canonical(param, left) == canonical(param, right)


def identifier_value(kind: str, class_name: str | None, arguments: Mapping[str, Any]) -> Any:
    """The config value for a chosen class and its arguments (plain name when default).

    >>> identifier_value("initializer", "Orthogonal", {"gain": 1.0, "seed": None})
    'orthogonal'
    >>> identifier_value("regularizer", "L2", {"l2": 0.1})
    {'class_name': 'L2', 'config': {'l2': 0.1}}
    """
    if class_name is None:
        return None
    spec = params.CATALOGS[kind][class_name]
    config = {name: value for name, value in arguments.items()
              if not (name == "seed" and value is None)}
    if config == spec.defaults() or (not spec.args and not config):
        return spec.identifier
    return {"class_name": spec.class_name, "config": config}


def allowed_classes(param: Param) -> list[str]:
    """The catalog classes a parameter may take (the bias is a vector: no matrix-only)."""
    catalog = params.CATALOGS[param.kind]
    return [name for name, spec in catalog.items()
            if not (param.name.startswith("bias_") and spec.matrix_only)]


def scope_suffix(param: Param) -> str:
    """The short label suffix of a knob that does not apply, e.g. `"recall only"`.

    >>> scope_suffix(params.get("task.lag")), scope_suffix(params.layer_param("unit_forget_bias"))
    ('recall only', 'lstm only')
    """
    return "/".join(param.applies_to) + " only"


def not_applicable(param: Param, config: ExperimentConfig) -> str:
    """Why a knob means nothing for this config (empty when it applies).

    >>> config = ExperimentConfig.default()
    >>> not_applicable(params.get("task.lag"), config)
    'Only for the recall task.'
    """
    if not param.applies_to:
        return ""
    context = config.task["name"] if param.section == "task" else config.model["cell"]
    if param.applies(context):
        return ""
    names = ", ".join(param.applies_to)
    if param.section == "task":
        return f"Only for the {names} task."
    return f"No effect on a {context} cell (only {names}); kept for when you switch back."


def changed_values(config: ExperimentConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """The flat-key values that differ from the config's (in meaning, not spelling)."""
    changed = {}
    for key, value in values.items():
        if key == "model.num_layers":
            if value != len(config.model["layers"]):
                changed[key] = value
            continue
        try:
            current = config.get(key)
        except ConfigError:
            changed[key] = value
            continue
        if not same_value(param_for_key(key), current, value):
            changed[key] = value
    return changed


def apply_values(config: ExperimentConfig, values: Mapping[str, Any]
                 ) -> tuple[ExperimentConfig, ConfigError | None]:
    """The config with the widgets' values applied, or the old one and the error.

    Args:
        config: the last valid config.
        values: flat key → value, as the widgets returned them.

    Returns:
        `(new config, None)`, or `(config, error)` when the values do not validate, so
        that nothing the person built is lost.
    """
    changed = changed_values(config, values)
    if not changed:
        return config, None
    # The number of layers first: layerN keys past the stack must not grow it back.
    if "model.num_layers" in changed:
        count = changed["model.num_layers"]
        changed = {key: value for key, value in changed.items()
                   if not _layer_beyond(key, count)}
    try:
        return config.with_values(changed), None
    except ConfigError as error:
        return config, error


def _layer_beyond(key: str, count: Any) -> bool:
    section, _, index = split_key(key)
    return section == "layer" and index is not None and isinstance(count, int) and index >= count


def error_text(error: ConfigError) -> str:
    """The message shown for a config error: the field, then what to do."""
    return f"**{error.field}**: {error.message} (you entered {error.value!r}; the last " \
           "valid settings are kept until this is fixed)"


# --- rendering one parameter ------------------------------------------------------------


def param_widget(param: Param, flat_key: str, value: Any, *, disabled: bool = False,
                 note: str = "", container: Any = None, part: str = "",
                 scope: str = "") -> Any:
    """Render the widget for one registry entry and return its value.

    Args:
        param: the registry entry (its label, help, bounds and kind drive the widget).
        flat_key: the config key, e.g. `"layer2.units"`; the widget key derives from it.
        value: the current value, shown when the widget has no state yet.
        disabled: grey the widget out (the value is kept and returned).
        note: a caption under the widget, e.g. why it is disabled.
        container: where to draw. Default: the current container.
        part: a suffix for the widget key, for a second widget of the same knob.
        scope: for a knob that does not apply, where it does (e.g. `"recall only"`):
            shown after the label, with `note` moved into the help.

    Returns:
        The value in the config's own form (`None` for "none").
    """
    where = container if container is not None else st
    key = widget_key(flat_key, part)
    label = param.label + (f" · {scope}" if scope else "")
    help_text = param.help + (f"\n\n*{note}*" if note and scope else "")
    if scope:
        note = ""  # said in the label and the help; a caption per widget is clutter
    common = {"key": key, "help": help_text, "disabled": disabled}
    kind = param.kind
    if kind == params.BOOL:
        result = where.toggle(label, value=bool(value), **common)
    elif kind in (params.CHOICE, params.ACTIVATION):
        choices = list(param.choices)
        index = _choice_index(choices, value)
        if index is None:
            choices.append(value)
            index = len(choices) - 1
        result = where.selectbox(label, choices, index=index, format_func=format_value,
                                 **common)
        if (kind == params.ACTIVATION and result in params.ACTIVATION_NOTES
                and result != param.default):
            note = note or f"{result}: {params.ACTIVATION_NOTES[result]}"
    elif kind == params.INT:
        result = where.number_input(
            label, min_value=_bound(param.minimum, int), max_value=_bound(param.maximum, int),
            value=None if value is None else int(value), step=1,
            placeholder=NONE_LABEL if param.nullable else None, **common)
    elif kind == params.FLOAT:
        result = _float_widget(where, param, value, common)
    elif kind == params.TEXT:
        result = where.text_input(label, value=value or "",
                                  max_chars=500, **common)
    elif kind in params.CATALOGS:
        result = _identifier_widget(where, param, flat_key, value, disabled)
    elif kind == params.EMBEDDING:
        result = _embedding_widget(where, param, flat_key, value, disabled)
    else:  # pragma: no cover - the registry has no other kinds
        raise AssertionError(f"unknown kind {kind!r}")
    if note:
        where.caption(note)
    return result


def _bound(value: float | None, kind: type) -> Any:
    return None if value is None else kind(value)


def _float_widget(where: Any, param: Param, value: Any, common: dict) -> Any:
    label = param.label
    low, high = param.minimum, param.maximum
    if param.log and low is not None and high is not None:
        options = log_grid(low, high, value, nullable=param.nullable)
        return where.select_slider(label, options=options, value=value,
                                   format_func=format_value, **common)
    if (low is not None and high is not None and high - low <= 2
            and not param.nullable):
        return where.slider(label, min_value=float(low), max_value=float(high),
                            value=float(value), step=0.01, **common)
    return where.number_input(label, min_value=_bound(low, float), max_value=_bound(high, float),
                              value=None if value is None else float(value), format="%g",
                              step=0.01, placeholder=NONE_LABEL if param.nullable else None,
                              **common)


def _identifier_widget(where: Any, param: Param, flat_key: str, value: Any,
                       disabled: bool) -> Any:
    """A class picker (plus "none" when allowed) and inputs for the class's arguments."""
    catalog = params.CATALOGS[param.kind]
    classes = allowed_classes(param)
    options: list[str | None] = ([None] if param.nullable else []) + classes
    current_class, current_arguments = _split_identifier(param.kind, value)
    index = options.index(current_class) if current_class in options else 0
    chosen = where.selectbox(
        param.label, options, index=index, key=widget_key(flat_key, "class"),
        help=param.help, disabled=disabled,
        format_func=lambda name: NONE_LABEL if name is None else catalog[name].identifier)
    if chosen is None:
        return None
    spec = catalog[chosen]
    where.caption(spec.help)
    arguments: dict[str, Any] = {}
    start = current_arguments if chosen == current_class else {}
    argument_params = list(spec.args)
    if spec.seeded:
        argument_params.append(Param("seed", "argument", params.INT, None,
                                     "Seed of the random draw; empty: derived from the "
                                     "training seed, so a share link reproduces the run.",
                                     minimum=0, maximum=2**31 - 1, nullable=True))
    if argument_params:
        columns = where.columns(len(argument_params))
        for column, argument in zip(columns, argument_params):
            if argument.name == "axis" and param.name.startswith("bias_"):
                argument = dataclasses.replace(argument, maximum=0)  # a vector has one axis
            argument_value = start.get(argument.name, argument.default)
            arguments[argument.name] = param_widget(
                argument, f"{flat_key}/{chosen}.{argument.name}", argument_value,
                disabled=disabled, container=column)
    return identifier_value(param.kind, chosen, arguments)


def _split_identifier(kind: str, value: Any) -> tuple[str | None, dict]:
    if value is None:
        return None, {}
    if isinstance(value, str):
        spec = params.identifier_class(kind, value)
        return (spec.class_name if spec else None), {}
    spec = params.identifier_class(kind, value.get("class_name", ""))
    return (spec.class_name if spec else None), dict(value.get("config") or {})


def _embedding_widget(where: Any, param: Param, flat_key: str, value: Any,
                      disabled: bool) -> Any:
    enabled = where.toggle(f"{param.label} layer in front", value=value is not None,
                           key=widget_key(flat_key, "enabled"), help=param.help,
                           disabled=disabled)
    if not enabled:
        return None
    current = value or {}
    columns = where.columns(len(params.EMBEDDING_ARGS))
    result = {}
    for column, argument in zip(columns, params.EMBEDDING_ARGS):
        result[argument.name] = param_widget(
            argument, f"{flat_key}/{argument.name}", current.get(argument.name, argument.default),
            disabled=disabled, container=column)
    return result


# --- the whole config -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Entry:
    """One knob to draw: its registry entry, flat key, value and how to show it.

    Args:
        param: the registry entry.
        key: the flat config key, e.g. `"layer2.units"`.
        value: the config's current value.
        note: a caption under the widget (why it is off, what sets it).
        disabled: grey it out; its value is still kept.
        derived: the config sets it (return_sequences under a stacked layer): shown,
            not read back.
    """

    param: Param
    key: str
    value: Any
    note: str = ""
    disabled: bool = False
    derived: bool = False
    scope: str = ""


def _draw(entry: Entry, container: Any = None) -> Any:
    return param_widget(entry.param, entry.key, entry.value, disabled=entry.disabled,
                        note=entry.note, container=container,
                        part="derived" if entry.derived else "", scope=entry.scope)


def _grid(entries: list[Entry], columns: int = 2) -> dict:
    """Draw simple widgets two per row and wide ones (class pickers) full width."""
    values = {}
    row: list[Entry] = []

    def keep(entry: Entry, value: Any) -> None:
        if not entry.derived:
            values[entry.key] = value

    def flush() -> None:
        if not row:
            return
        cells = st.columns(columns)
        for cell, entry in zip(cells, row):
            keep(entry, _draw(entry, cell))
        row.clear()

    for entry in entries:
        if entry.param.kind in params.CATALOGS or entry.param.kind == params.EMBEDDING:
            flush()
            keep(entry, _draw(entry))
        else:
            row.append(entry)
            if len(row) == columns:
                flush()
    flush()
    return values


def section_entries(config: ExperimentConfig, section: str, group: str) -> list[Entry]:
    """The entries of a task, model or training group."""
    entries = []
    for name, param in params.section_params(section).items():
        if param.group != group:
            continue
        key = f"{section}.{name}"
        if key in HIDDEN:
            continue
        note = not_applicable(param, config)
        scope = scope_suffix(param) if note else ""
        if key == "model.merge_mode" and not config.model["bidirectional"]:
            note = "Used when Bidirectional is on."
        entries.append(Entry(param, key, config.get(key), note, bool(scope), scope=scope))
    # Knobs for other tasks or cells go last, so the ones that matter come first.
    return sorted(entries, key=lambda entry: bool(entry.scope))


def layer_entries(config: ExperimentConfig, number: int, group: str) -> list[Entry]:
    """The entries of one layer's knobs in a group (`number` is 1-based)."""
    layers = config.model["layers"]
    entries = []
    for name, param in params.section_params("layer").items():
        if param.group != group:
            continue
        key = f"layer{number}.{name}"
        note = not_applicable(param, config)
        scope = scope_suffix(param) if note else ""
        entry = Entry(param, key, layers[number - 1][name], note, bool(note), scope=scope)
        if name == "return_sequences" and number < len(layers):
            entry = Entry(param, key, True, f"On because layer {number} feeds layer "
                          f"{number + 1}, which reads the whole sequence.", True, True)
        entries.append(entry)
    return entries


def _layer_tabs(config: ExperimentConfig, groups: tuple[str, ...]) -> dict:
    values = {}
    count = len(config.model["layers"])
    tabs = (st.tabs([f"Layer {number}" for number in range(1, count + 1)]) if count > 1
            else [st.container()])
    for number, tab in enumerate(tabs, start=1):
        with tab:
            for group in groups:
                if len(groups) > 1:
                    st.markdown(f"**{group.capitalize()}**")
                values.update(_grid(layer_entries(config, number, group)))
    return values


def config_editor(config: ExperimentConfig, *, expanded: tuple[str, ...] = (
        "Task", "Model and layers (structural)", "Training")) -> dict[str, Any]:
    """Draw every knob of a config, grouped in expanders; return flat key → value.

    Task and model widgets come first; the layer tabs are drawn for the config those
    widgets describe (so a new layer count shows its tabs at once).

    Args:
        config: the last valid config; widgets without state start from its values.
        expanded: titles of the expanders open at the start.
    """
    values: dict[str, Any] = {}
    provisional = config
    for title, caption, groups in GROUPS:
        with st.expander(title, expanded=title in expanded):
            st.caption(caption)
            for group in groups:
                if group in ("task", "model", "training"):
                    values.update(_grid(section_entries(provisional, group, group)))
                    if group in ("task", "model"):
                        provisional, _ = apply_values(provisional, values)
            layer_groups = tuple(group for group in groups
                                 if group not in ("task", "model", "training"))
            if layer_groups:
                values.update(_layer_tabs(provisional, layer_groups))
    return values


def try_query(config: ExperimentConfig, param: Param, *, gpu_present: bool = False
              ) -> dict[str, str] | None:
    """A share-link query that opens the config with this knob changed, or `None`.

    The change is the instructive one the knob's kind suggests (the other truth value,
    the next choice, ten times the number on a log scale, a class instead of none...),
    plus what the knob needs to mean something (the recall task for `task.lag`, an lstm
    cell for `unit_forget_bias`). Candidates that do not validate are skipped.

    Example:

    >>> query = try_query(ExperimentConfig.default(), params.layer_param("unit_forget_bias"))
    >>> query
    {'layer1.unit_forget_bias': 'false'}
    """
    from lstm_explorer import model as model_module

    key = f"layer1.{param.name}" if param.section == "layer" else param.path
    if param.kind == params.TEXT:
        return None
    context: dict[str, Any] = {}
    if param.applies_to:
        context_key = "task.name" if param.section == "task" else "model.cell"
        if not param.applies(config.get(context_key)):
            context[context_key] = param.applies_to[0]
    if param.kind == params.EMBEDDING and config.model["embedding"] is None:
        context["task.name"] = "tokens"
    if key == "model.merge_mode":
        context["model.bidirectional"] = True
    # When no change fits the current task (return_sequences on a task with one target
    # per sequence), try the other tasks too.
    contexts = [context] + [{**context, "task.name": name} for name in params.TASKS
                            if name not in ("csv", config.task["name"])
                            and "task.name" not in context]
    current = config.get(key)
    candidates = [candidate for candidate in _candidates(param, current)
                  if not (key == "task.name" and candidate == "csv")]  # csv needs a file
    for extra in contexts:
        for candidate in candidates:
            values = {**extra, key: candidate}
            values = {**_task_needs(config, values.get("task.name")), **values}
            try:
                changed = config.with_values(values)
                model_module.plan(changed, gpu_present=gpu_present)
            except ConfigError:
                continue
            if changed != config:
                # Name the changed keys even where they equal a default, so the link
                # always says what it changes (and is never empty).
                query = changed.to_query()
                for name, value in values.items():
                    query.setdefault(name, format_text(param_for_key(name), value))
                return query
    return None


def _task_needs(config: ExperimentConfig, task: str | None) -> dict[str, Any]:
    """What switching to a task also needs: an Embedding for tokens, none otherwise."""
    if task is None:
        return {}
    if task == "tokens" and config.model["embedding"] is None:
        return {"model.embedding": {"output_dim": 64}}
    if task != "tokens" and config.model["embedding"] is not None:
        return {"model.embedding": None}
    return {}


def _candidates(param: Param, current: Any) -> list[Any]:
    kind = param.kind
    if kind == params.BOOL:
        return [not current]
    if kind == params.CHOICE:
        choices = list(param.choices)
        index = _choice_index(choices, current) or 0
        return [choices[(index + step) % len(choices)] for step in range(1, len(choices))]
    if kind == params.ACTIVATION:
        preferred = ("hard_sigmoid",) if current == "sigmoid" else ("relu", "tanh")
        return [name for name in preferred if name != current]
    if kind in (params.INT, params.FLOAT):
        return _number_candidates(param, current)
    if kind in params.CATALOGS:
        if current is not None and param.nullable:
            return [None]
        order = {"initializer": ["random_normal", "glorot_uniform"],
                 "regularizer": ["l2"], "constraint": ["max_norm"]}[kind]
        return [name for name in order if canonical(param, name) != canonical(param, current)]
    if kind == params.EMBEDDING:
        return [None] if current is not None else [{"output_dim": 64}]
    return []


def _number_candidates(param: Param, current: Any) -> list[Any]:
    low = param.minimum if param.minimum is not None else -math.inf
    high = param.maximum if param.maximum is not None else math.inf
    cast = int if param.kind == params.INT else float
    if current is None:
        raw = [1.0, (low + high) / 2 if math.isfinite(high) else 1.0]
    elif current == 0:
        raw = [0.2 if high <= 1 else 1.0, high / 4]
    elif param.log and param.kind == params.INT:
        raw = [current * 4, current / 4]
    elif param.log:
        raw = [current * 10, current / 10]
    else:
        raw = [current * 2, current / 2, current + 1]
    out = []
    for value in raw:
        value = cast(round(value) if cast is int else float(f"{value:.2g}"))
        if low <= value <= high and value != current and value not in out:
            out.append(value)
    return out


def value_text(param: Param, value: Any) -> str:
    """A value as the Parameter Guide shows it (the share-link spelling)."""
    if value is None:
        return NONE_LABEL
    return format_text(param, value)
