"""The errors of the class room: one base class, a subclass per kind of refusal.

Every message names the room (when there is one), says what is wrong and what to do,
in a sentence a student or teacher can act on: a page shows `str(error)` as it is.

Example:

>>> error = RoomLocked("K7Q-M2X")
>>> isinstance(error, RoomError), error.code
(True, 'K7Q-M2X')
>>> print(error)
room K7Q-M2X is locked by the teacher: no one can join it or send runs to it; ask the teacher to unlock it
"""

from __future__ import annotations


class RoomError(Exception):
    """A room refused what was asked, or cannot be reached; the message says why and how to fix it.

    Args:
        message: the sentence a person sees.
        code: the room's code, when the error is about one room. Default: `None`.
    """

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class RoomNotFound(RoomError):
    """No room has this code: it was mistyped, or the room has ended."""

    def __init__(self, code: str):
        super().__init__(f"no room {code} is open: check the code with your teacher (it may "
                         "have been mistyped, or the room has ended)", code)


class BadCode(RoomNotFound):
    """What was typed cannot be a room code at all (wrong length or characters)."""

    def __init__(self, text: object, example: str):
        RoomError.__init__(self, f"{_echo(text)} is not a room code: a code has six letters "
                           f"and digits, like {example}; check it with your teacher")


class RoomExpired(RoomError):
    """The room outlived its lifetime (`LSTM_EXPLORER_ROOM_HOURS`) and is gone."""

    def __init__(self, code: str, hours: float):
        super().__init__(f"room {code} has ended: a room lasts {hours:g} hours at most on this "
                         "server; the teacher can open a new one", code)


class RoomLocked(RoomError):
    """The teacher locked the room: no joins, no sends until they unlock it."""

    def __init__(self, code: str):
        super().__init__(f"room {code} is locked by the teacher: no one can join it or send "
                         "runs to it; ask the teacher to unlock it", code)


class NotAllowed(RoomError):
    """A key is not the teacher's (or not a student's of this room) for what was asked."""


class LimitReached(RoomError):
    """A room limit (runs per student, runs per room, students per room) is reached.

    Args:
        message: the sentence a person sees.
        code: the room's code.
        variable: the environment variable that raises the limit.
    """

    def __init__(self, message: str, code: str | None, variable: str):
        super().__init__(message, code)
        self.variable = variable


class RunTooLarge(LimitReached):
    """A run summary is bigger than `LSTM_EXPLORER_ROOM_MAX_RUN_KB` allows.

    Args:
        size: the summary's size in bytes (compact JSON, UTF-8).
        limit: the most bytes allowed.
        variable: the environment variable that raises the limit.
        code: the room it was sent to, if any. Default: `None`.
    """

    def __init__(self, size: int, limit: int, variable: str, code: str | None = None):
        self.size, self.limit = size, limit
        super().__init__(
            f"this run's summary is {_kb(size)} ({size:,} bytes); a run sent to a class "
            f"room may be at most {_kb(limit)} ({limit:,} bytes). Train fewer epochs or "
            "shorter sequences, or ask an administrator to raise the limit with the "
            f"environment variable {variable}", code, variable)


class JoinRateLimited(RoomError):
    """Too many wrong room codes from one client in the last minute.

    Args:
        failures: wrong codes counted in the window.
        window: the window, in seconds.
        retry_after: seconds until a join may be tried again.
    """

    def __init__(self, failures: int, window: float, retry_after: float):
        self.failures, self.window, self.retry_after = failures, window, retry_after
        super().__init__(
            f"too many wrong room codes from this device ({failures} in the last "
            f"{window:g} s): wait {max(1, round(retry_after))} s, and check the code with "
            "your teacher before trying again")


class InvalidInput(RoomError):
    """An argument is malformed (an empty display name, a summary that is not one).

    Args:
        argument: the argument's name, e.g. `"name"`.
        value: the value given, echoed (shortened) in the message.
        message: what is allowed.
    """

    def __init__(self, argument: str, value: object, message: str):
        super().__init__(f"{argument}={_echo(value)}: {message}")
        self.argument, self.value = argument, value


class StoreError(RoomError):
    """The rooms' database cannot be reached or used; the message names it (no password)."""


def _echo(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kb(size: int) -> str:
    return f"{size / 1024:,.1f} KB"
