"""The Parameter Guide's text: default, allowed values and scope of every registry entry.

Pure functions of `params.py` (no Streamlit), so the guide can never disagree with the
widgets or the validation: all three read the same entries.
"""

from __future__ import annotations

from lstm_explorer import params
from lstm_explorer.config import format_text
from lstm_explorer.params import Param

#: Sections of the guide: title, one-line description, and which entries go in it.
SECTIONS = (
    ("LSTM arguments: structural",
     "keras.layers.LSTM arguments that decide the shape of the computation "
     "(as the Keras docs group them). Set per layer.", "layer", "structural"),
    ("LSTM arguments: training",
     "keras.layers.LSTM arguments that act on training: initializers, regularizers, "
     "constraints, dropout. Set per layer.", "layer", "training"),
    ("Model", "Around the recurrent layers: the cell, stacking, Bidirectional, Embedding.",
     "model", ""),
    ("Task", "The data the model learns from.", "task", ""),
    ("Training", "How model.fit runs.", "training", ""),
)


def _number(value: float, kind: str) -> str:
    return str(int(value)) if kind == params.INT else f"{value:g}"


def default_text(param: Param) -> str:
    """The default as a share link spells it.

    >>> default_text(params.layer_param("recurrent_initializer"))
    'orthogonal'
    >>> default_text(params.get("training.clipnorm")), default_text(params.get("task.column"))
    ('none', '(empty)')
    """
    return format_text(param, param.default) or "(empty)"


def allowed_text(param: Param) -> str:
    """What values a knob takes, in words.

    >>> allowed_text(params.get("training.learning_rate"))
    'a number from 1e-06 to 10 (log scale)'
    >>> allowed_text(params.layer_param("use_bias"))
    'true or false'
    """
    kind = param.kind
    if kind in (params.INT, params.FLOAT):
        word = "an integer" if kind == params.INT else "a number"
        low, high = param.minimum, param.maximum
        if low is not None and high is not None:
            text = f"{word} from {_number(low, kind)} to {_number(high, kind)}"
        elif low is not None:
            text = f"{word} of at least {_number(low, kind)}"
        else:
            text = word
        if param.log:
            text += " (log scale)"
        return text + (", or none" if param.nullable else "")
    if kind == params.BOOL:
        return "true or false"
    if kind in (params.CHOICE, params.ACTIVATION):
        return ", ".join(format_text(param, choice) for choice in param.choices)
    if kind in params.CATALOGS:
        names = ", ".join(spec.identifier for spec in params.CATALOGS[kind].values())
        prefix = "none, or " if param.nullable else ""
        return f"{prefix}{names}; each with its arguments, e.g. {_example(kind)}"
    if kind == params.EMBEDDING:
        arguments = ", ".join(f"{argument.name}=…" for argument in params.EMBEDDING_ARGS)
        return f"none, or {arguments}"
    return "text"


def _example(kind: str) -> str:
    for spec in params.CATALOGS[kind].values():
        if spec.args:
            arguments = ",".join(f"{argument.name}={format_text(argument, argument.default)}"
                                 for argument in spec.args)
            return f"{spec.identifier}({arguments})"
    return next(iter(params.CATALOGS[kind].values())).identifier


def scope_text(param: Param) -> str:
    """Where a knob means something ("all" when everywhere).

    >>> scope_text(params.get("task.lag")), scope_text(params.layer_param("units"))
    ('recall task', 'all')
    """
    if not param.applies_to:
        return "all"
    names = ", ".join(param.applies_to)
    return f"{names} task" if param.section == "task" else f"{names} cells"


def section_params(section: str, keras_group: str) -> list[Param]:
    """The entries of one guide section, in registry order."""
    return [param for param in params.section_params(section).values()
            if not keras_group or param.keras_group == keras_group]


def matches(param: Param, text: str) -> bool:
    """Whether a filter text finds the knob (name, label or help).

    >>> matches(params.layer_param("unit_forget_bias"), "forget")
    True
    """
    needle = text.strip().lower()
    return not needle or any(needle in field.lower()
                             for field in (param.name, param.label, param.help, param.path))
