"""The one error type for bad user input, shared by config, tasks and the CLI."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A user-supplied value is wrong; the message says which field, the value, and the fix.

    Args:
        field: dotted path of the offending field, e.g. `"model.layers[0].units"` or
            `"task.column"`.
        value: the value that was given (echoed back in the message with `repr`).
        message: what is wrong and what is allowed, as a sentence a student can act on.

    Example:

    >>> error = ConfigError("training.batch_size", 0, "must be an integer from 1 to 4096")
    >>> str(error)
    'training.batch_size=0: must be an integer from 1 to 4096'
    """

    def __init__(self, field: str, value: Any, message: str):
        self.field = field
        self.value = value
        self.message = message
        super().__init__(f"{field}={_echo(value)}: {message}")


def _echo(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
