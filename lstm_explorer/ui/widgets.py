"""Widgets generated from the parameter registry: one renderer for every `Param`.

`param_widget` turns any registry entry into the right Streamlit widget (numbers, toggles,
select boxes, a class picker with its arguments for initializers, regularizers and
constraints, an enable switch for the Embedding) and returns a plain value in the
config's own form. `config_editor` lays out every knob of a session's settings in
expanders, with one tab per stacked layer.

The session's config is the one source of truth. Every widget shows the session's value
in every run (written to its state before it is drawn, so a preset, a link or a
dependent field shows at once), and a change goes back through the widget's callback,
`ExplorerSession.edit`, before the next run draws anything. Widget keys derive from the
flat keys (`param:layer1.units`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from lstm_explorer import params
from lstm_explorer.config import ExperimentConfig, flat_field, format_text, param_for_key
from lstm_explorer.errors import ConfigError
from lstm_explorer.params import Param
from lstm_explorer.ui.state import task_needs

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


def not_applicable(param: Param, task_name: str, cell: str) -> str:
    """Why a knob means nothing for this task and cell (empty when it applies).

    >>> not_applicable(params.get("task.lag"), "adding", "lstm")
    'Only for the recall task.'
    >>> not_applicable(params.get("task.lag"), "recall", "lstm")
    ''
    """
    if not param.applies_to:
        return ""
    context = task_name if param.section == "task" else cell
    if param.applies(context):
        return ""
    names = ", ".join(param.applies_to)
    if param.section == "task":
        return f"Only for the {names} task."
    return f"No effect on a {context} cell (only {names}); kept for when you switch back."


def error_text(error: ConfigError) -> str:
    """The message shown for a config error: the field as links spell it, what to do.

    >>> error_text(ConfigError("model.layers[0].units", 0, "must be at least 1"))
    '**layer1.units**: must be at least 1 (you set 0; what trains stays as it was until this is fixed)'
    """
    return (f"**{flat_field(error.field)}**: {error.message} (you set {error.value!r}; "
            "what trains stays as it was until this is fixed)")


def error_key(field: str, keys: Iterable[str]) -> str | None:
    """The widget's flat key an error field belongs to, among the keys drawn.

    Config errors name the JSON path (`model.layers[0].units`); widgets have flat keys
    (`layer1.units`). The longest key that the field starts with wins.

    >>> error_key("model.layers[1].kernel_initializer.config.gain",
    ...           ["layer2.kernel_initializer", "layer2.units"])
    'layer2.kernel_initializer'
    >>> error_key("model.embedding.input_dim", ["model.embedding"]), error_key("x", [])
    ('model.embedding', None)
    """
    flat = flat_field(field)
    matches = [key for key in keys if flat == key or flat.startswith(key + ".")]
    return max(matches, key=len) if matches else None


# --- rendering one parameter ------------------------------------------------------------


def _show(key: str, value: Any) -> None:
    """Make the widget of `key` show `value` in this run (before it is drawn).

    A widget with a key keeps its own value and ignores `value=` on later runs; only a
    value written to the session state before it is drawn reaches the browser
    (DESIGN §5). Written only when it differs, so that nothing is sent for nothing.
    """
    state = st.session_state
    if key not in state or not _identical(state[key], value):
        state[key] = value


def _identical(left: Any, right: Any) -> bool:
    # True == 1 and 1 == 1.0 in Python, but they are different widget values.
    return type(left) is type(right) and left == right


def read_value(param: Param, flat_key: str, shown: Any) -> Any:
    """The value in the config's own form that a knob's widgets hold now.

    Called from a widget's change callback, when the session state holds the browser's
    new values. A class picked in a class picker starts from its arguments' defaults
    (its argument widgets are not drawn yet); `shown` is the value the widgets showed.

    Args:
        param: the registry entry.
        flat_key: its flat key, e.g. `"layer1.kernel_regularizer"`.
        shown: the value shown before the change.
    """
    state = st.session_state
    key = widget_key(flat_key)
    if param.kind in params.CATALOGS:
        chosen = state.get(widget_key(flat_key, "class"))
        if chosen is None:
            return None
        previous_class, previous_arguments = _split_identifier(param.kind, shown)
        arguments = {}
        for argument in _argument_params(params.CATALOGS[param.kind][chosen]):
            argument_key = widget_key(f"{flat_key}/{chosen}.{argument.name}")
            if chosen == previous_class:
                arguments[argument.name] = state.get(
                    argument_key, previous_arguments.get(argument.name, argument.default))
            else:
                arguments[argument.name] = argument.default
        return identifier_value(param.kind, chosen, arguments)
    if param.kind == params.EMBEDDING:
        if not state.get(widget_key(flat_key, "enabled")):
            return None
        current = shown or {}
        return {argument.name: state.get(widget_key(f"{flat_key}/{argument.name}"),
                                          current.get(argument.name, argument.default))
                for argument in params.EMBEDDING_ARGS}
    value = state.get(key, shown)
    if param.kind == params.TEXT and param.nullable and value == "":
        return None
    return value


def _edited(explorer: Any, flat_key: str) -> None:
    """A widget's change callback: the config takes the new value before the run."""
    param = param_for_key(flat_key)
    explorer.edit({flat_key: read_value(param, flat_key, explorer.shown(flat_key))})


def param_widget(param: Param, flat_key: str, value: Any, *, disabled: bool = False,
                 note: str = "", container: Any = None, part: str = "",
                 scope: str = "", on_change: Any = None) -> Any:
    """Render the widget for one registry entry, showing `value`, and return its value.

    The widget shows `value` in this very run, whatever it held before (a preset, a
    link or a dependent field may have changed it).

    Args:
        param: the registry entry (its label, help, bounds and kind drive the widget).
        flat_key: the config key, e.g. `"layer2.units"`; the widget key derives from it.
        value: the value to show, in the config's own form.
        disabled: grey the widget out (the value is kept and returned).
        note: a caption under the widget, e.g. why it is disabled.
        container: where to draw. Default: the current container.
        part: a suffix for the widget key, for a second widget of the same knob.
        scope: for a knob that does not apply, where it does (e.g. `"recall only"`):
            shown after the label, with `note` moved into the help.
        on_change: `(callback, args)` called when the person changes the widget (or one
            of its parts), before the next script run. Default: `None`.

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
    if on_change is not None:
        common.update(on_change=on_change[0], args=on_change[1])
    kind = param.kind
    if kind == params.BOOL:
        _show(key, bool(value))
        result = where.toggle(label, **common)
    elif kind in (params.CHOICE, params.ACTIVATION):
        choices = list(param.choices)
        index = _choice_index(choices, value)
        if index is None:
            choices.append(value)
            index = len(choices) - 1
        _show(key, choices[index])
        result = where.selectbox(label, choices, format_func=format_value, **common)
        if (kind == params.ACTIVATION and result in params.ACTIVATION_NOTES
                and result != param.default):
            note = note or f"{result}: {params.ACTIVATION_NOTES[result]}"
    elif kind == params.INT:
        _show(key, None if value is None else int(value))
        result = where.number_input(
            label, min_value=_bound(param.minimum, int), max_value=_bound(param.maximum, int),
            value=None if param.nullable else "min", step=1,
            placeholder=NONE_LABEL if param.nullable else None, **common)
    elif kind == params.FLOAT:
        result = _float_widget(where, param, value, common)
    elif kind == params.TEXT:
        _show(key, value or "")
        result = where.text_input(label, max_chars=500, **common)
    elif kind in params.CATALOGS:
        result = _identifier_widget(where, param, flat_key, value, disabled, on_change)
    elif kind == params.EMBEDDING:
        result = _embedding_widget(where, param, flat_key, value, disabled, on_change)
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
    key = common["key"]
    if param.log and low is not None and high is not None:
        options = log_grid(low, high, value, nullable=param.nullable)
        _show(key, None if value is None else float(value))
        return where.select_slider(label, options=options, format_func=format_value,
                                   **common)
    if (low is not None and high is not None and high - low <= 2
            and not param.nullable):
        _show(key, float(value))
        return where.slider(label, min_value=float(low), max_value=float(high),
                            step=0.01, **common)
    _show(key, None if value is None else float(value))
    return where.number_input(label, min_value=_bound(low, float), max_value=_bound(high, float),
                              value=None if param.nullable else "min", format="%g",
                              step=0.01, placeholder=NONE_LABEL if param.nullable else None,
                              **common)


def _argument_params(spec: params.KerasClass) -> list[Param]:
    """A class's arguments as widgets show them: a seeded class adds its seed."""
    arguments = list(spec.args)
    if spec.seeded:
        arguments.append(Param("seed", "argument", params.INT, None,
                               "Seed of the random draw; empty: derived from the "
                               "training seed, so a share link reproduces the run.",
                               minimum=0, maximum=2**31 - 1, nullable=True))
    return arguments


def _identifier_widget(where: Any, param: Param, flat_key: str, value: Any,
                       disabled: bool, on_change: Any) -> Any:
    """A class picker (plus "none" when allowed) and inputs for the class's arguments."""
    catalog = params.CATALOGS[param.kind]
    classes = allowed_classes(param)
    options: list[str | None] = ([None] if param.nullable else []) + classes
    current_class, current_arguments = _split_identifier(param.kind, value)
    class_key = widget_key(flat_key, "class")
    _show(class_key, current_class if current_class in options else options[0])
    callback = {} if on_change is None else {"on_change": on_change[0], "args": on_change[1]}
    chosen = where.selectbox(
        param.label, options, key=class_key, help=param.help, disabled=disabled,
        format_func=lambda name: NONE_LABEL if name is None else catalog[name].identifier,
        **callback)
    if chosen is None:
        return None
    spec = catalog[chosen]
    where.caption(spec.help)
    arguments: dict[str, Any] = {}
    start = current_arguments if chosen == current_class else {}
    argument_params = _argument_params(spec)
    if argument_params:
        columns = where.columns(len(argument_params))
        for column, argument in zip(columns, argument_params):
            if argument.name == "axis" and param.name.startswith("bias_"):
                argument = dataclasses.replace(argument, maximum=0)  # a vector has one axis
            argument_value = start.get(argument.name, argument.default)
            arguments[argument.name] = param_widget(
                argument, f"{flat_key}/{chosen}.{argument.name}", argument_value,
                disabled=disabled, container=column, on_change=on_change)
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
                      disabled: bool, on_change: Any) -> Any:
    enabled_key = widget_key(flat_key, "enabled")
    _show(enabled_key, value is not None)
    callback = {} if on_change is None else {"on_change": on_change[0], "args": on_change[1]}
    enabled = where.toggle(f"{param.label} layer in front", key=enabled_key,
                           help=param.help, disabled=disabled, **callback)
    if not enabled:
        return None
    current = value or {}
    columns = where.columns(len(params.EMBEDDING_ARGS))
    result = {}
    for column, argument in zip(columns, params.EMBEDDING_ARGS):
        result[argument.name] = param_widget(
            argument, f"{flat_key}/{argument.name}", current.get(argument.name, argument.default),
            disabled=disabled, container=column, on_change=on_change)
    return result


# --- the whole config -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Entry:
    """One knob to draw: its registry entry, flat key, value and how to show it.

    Args:
        param: the registry entry.
        key: the flat config key, e.g. `"layer2.units"`.
        value: the value to show (the draft's, else the config's).
        note: a caption under the widget (why it is off, what sets it).
        disabled: grey it out; its value is still kept.
        derived: the config sets it (return_sequences under a stacked layer): shown,
            not read back.
        scope: for a knob that does not apply, where it does (`"recall only"`).
    """

    param: Param
    key: str
    value: Any
    note: str = ""
    disabled: bool = False
    derived: bool = False
    scope: str = ""


class _Editor:
    """Draws entries for one session: its values, its callbacks, its error's place."""

    def __init__(self, explorer: Any) -> None:
        self.explorer = explorer
        self.error = explorer.draft_error
        self.error_placed = False

    def draw(self, entry: Entry, container: Any = None) -> None:
        on_change = None if entry.derived else (_edited, (self.explorer, entry.key))
        param_widget(entry.param, entry.key, entry.value, disabled=entry.disabled,
                     note=entry.note, container=container,
                     part="derived" if entry.derived else "", scope=entry.scope,
                     on_change=on_change)

    def error_under(self, entries: list[Entry]) -> None:
        """The settings error, full width under the row of the widget it concerns."""
        if self.error is None or self.error_placed:
            return
        if error_key(self.error.field, [entry.key for entry in entries]):
            st.error(error_text(self.error), icon=":material/error:")
            self.error_placed = True

    def grid(self, entries: list[Entry], columns: int = 2) -> None:
        """Draw simple widgets two per row and wide ones (class pickers) full width."""
        row: list[Entry] = []

        def flush() -> None:
            if not row:
                return
            cells = st.columns(columns)
            for cell, entry in zip(cells, row):
                self.draw(entry, cell)
            self.error_under(row)
            row.clear()

        for entry in entries:
            if entry.param.kind in params.CATALOGS or entry.param.kind == params.EMBEDDING:
                flush()
                self.draw(entry)
                self.error_under([entry])
            else:
                row.append(entry)
                if len(row) == columns:
                    flush()
        flush()


def section_entries(explorer: Any, section: str, group: str) -> list[Entry]:
    """The entries of a task, model or training group, as the session shows them."""
    task_name, cell = explorer.shown("task.name"), explorer.shown("model.cell")
    entries = []
    for name, param in params.section_params(section).items():
        if param.group != group:
            continue
        key = f"{section}.{name}"
        if key in HIDDEN:
            continue
        note = not_applicable(param, task_name, cell)
        scope = scope_suffix(param) if note else ""
        if key == "model.merge_mode" and not explorer.shown("model.bidirectional"):
            note = "Used when Bidirectional is on."
        entries.append(Entry(param, key, explorer.shown(key), note, bool(scope), scope=scope))
    # Knobs for other tasks or cells go last, so the ones that matter come first.
    return sorted(entries, key=lambda entry: bool(entry.scope))


def layer_entries(explorer: Any, number: int, group: str) -> list[Entry]:
    """The entries of one layer's knobs in a group (`number` is 1-based)."""
    count = len(explorer.config.model["layers"])
    task_name, cell = explorer.shown("task.name"), explorer.shown("model.cell")
    entries = []
    for name, param in params.section_params("layer").items():
        if param.group != group:
            continue
        key = f"layer{number}.{name}"
        note = not_applicable(param, task_name, cell)
        scope = scope_suffix(param) if note else ""
        entry = Entry(param, key, explorer.shown(key), note, bool(note), scope=scope)
        if name == "return_sequences" and number < count:
            entry = Entry(param, key, True, f"On because layer {number} feeds layer "
                          f"{number + 1}, which reads the whole sequence.", True, True)
        entries.append(entry)
    return entries


def _layer_tabs(editor: _Editor, groups: tuple[str, ...]) -> None:
    count = len(editor.explorer.config.model["layers"])
    tabs = (st.tabs([f"Layer {number}" for number in range(1, count + 1)]) if count > 1
            else [st.container()])
    for number, tab in enumerate(tabs, start=1):
        with tab:
            for group in groups:
                if len(groups) > 1:
                    st.markdown(f"**{group.capitalize()}**")
                editor.grid(layer_entries(editor.explorer, number, group))


def group_of(key: str) -> str | None:
    """The title of the expander that holds a flat key's widget.

    >>> group_of("layer2.kernel_regularizer"), group_of("task.lag")
    ('Regularizers and constraints', 'Task')
    """
    param = param_for_key(key)
    for title, _, groups in GROUPS:
        if param.group in groups:
            return title
    return None


def config_editor(explorer: Any, *, expanded: tuple[str, ...] = (
        "Task", "Model and layers (structural)", "Training")) -> bool:
    """Draw every knob of the session's settings, grouped in expanders.

    Each widget shows the session's value (`explorer.shown`) and, when changed, updates
    the session's config in its callback, before the next run draws anything: so every
    widget, dependent ones included, shows the new state in the run that follows a
    change. The settings error, if any, is drawn under the widget it concerns, and that
    widget's expander opens.

    Args:
        explorer: the session (`ui.state.ExplorerSession`).
        expanded: titles of the expanders open at the start.

    Returns:
        Whether the session's settings error (if any) was drawn next to a widget.
    """
    editor = _Editor(explorer)
    error_group = None
    if editor.error is not None:
        key = error_key(editor.error.field, explorer.config.values())
        error_group = group_of(key) if key else None
    for title, caption, groups in GROUPS:
        with st.expander(title, expanded=title in expanded or title == error_group):
            st.caption(caption)
            for group in groups:
                if group in ("task", "model", "training"):
                    editor.grid(section_entries(explorer, group, group))
            layer_groups = tuple(group for group in groups
                                 if group not in ("task", "model", "training"))
            if layer_groups:
                _layer_tabs(editor, layer_groups)
    return editor.error_placed


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
            task = values.get("task.name")
            values = {**(task_needs(config, task) if task else {}), **values}
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
