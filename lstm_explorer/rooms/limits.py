"""The limits of class rooms, each set by an environment variable like `limits.py`'s.

A room is shared by a class and lives in a database every app process reaches, so its
limits bound what one student, one room and one guesser may put there:

=========================================  =======  ==========================================
variable                                   default  what it bounds
=========================================  =======  ==========================================
LSTM_EXPLORER_ROOM_MAX_RUNS_PER_STUDENT    10       runs one student may send to a room (a
                                                    run the teacher removes frees its place)
LSTM_EXPLORER_ROOM_MAX_RUNS                200      runs a room holds
LSTM_EXPLORER_ROOM_MAX_STUDENTS            300      students who may join one room
LSTM_EXPLORER_ROOM_HOURS                   4        a room's lifetime from its opening; then
                                                    it is gone, with every run sent to it
LSTM_EXPLORER_ROOM_MAX_RUN_KB              512      size of one sent run summary (compact
                                                    JSON), in KB of 1024 bytes
LSTM_EXPLORER_ROOM_JOIN_FAILURES           10       wrong room codes one client may try per
                                                    minute; then its joins are refused until
                                                    the oldest of them is a minute old
=========================================  =======  ==========================================

Sizing (`summary.summary_size`): the summary of a default run (10 epochs of 50 steps, one
LSTM layer) is about 12 KB, most of it the two per-step gradient series of each epoch;
100 epochs of 500 steps, the most `limits.py` allows by default, make about 0.8 MB per
layer, and such a run is refused with its size and the limit in the message (50 epochs
of 500 steps fit). A room of 200 runs of at most 512 KB holds at most 100 MB.

Example:

>>> RoomLimits.from_env({"LSTM_EXPLORER_ROOM_HOURS": "1.5"}).hours
1.5
>>> RoomLimits().max_run_bytes
524288
>>> RoomLimits.from_env({"LSTM_EXPLORER_ROOM_MAX_RUNS": "0"})
Traceback (most recent call last):
...
ValueError: LSTM_EXPLORER_ROOM_MAX_RUNS='0': must be a whole number of at least 1
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lstm_explorer.limits import _parse

#: Seconds over which wrong room codes are counted per client.
JOIN_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RoomLimits:
    """The room limits in force; `from_env()` reads them from the environment.

    Args:
        max_runs_per_student: runs one student may send to one room. Default: 10.
        max_runs: runs one room holds. Default: 200.
        max_students: students who may join one room. Default: 300.
        hours: a room's lifetime, in hours. Default: 4.
        max_run_kb: size of one sent run summary, in KB (1024 bytes). Default: 512.
        join_failures: wrong room codes one client may try per minute. Default: 10.
    """

    max_runs_per_student: int = 10
    max_runs: int = 200
    max_students: int = 300
    hours: float = 4
    max_run_kb: float = 512
    join_failures: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RoomLimits:
        """The limits from `LSTM_EXPLORER_ROOM_*` variables; unset ones take their default.

        Args:
            environ: the variables. Default: `None` (`os.environ`).

        Raises:
            ValueError: naming the variable and echoing its value, when one is not a
                positive number (a whole one where the limit counts things).
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            variable = ENV_NAMES[field.name]
            text = environ.get(variable, "").strip()
            if text:
                values[field.name] = _parse(variable, text, field.type in ("int", int))
        return cls(**values)

    @property
    def max_run_bytes(self) -> int:
        """`max_run_kb` in bytes."""
        return int(self.max_run_kb * 1024)

    @property
    def lifetime_seconds(self) -> float:
        """`hours` in seconds."""
        return self.hours * 3600.0


ENV_NAMES = {
    "max_runs_per_student": "LSTM_EXPLORER_ROOM_MAX_RUNS_PER_STUDENT",
    "max_runs": "LSTM_EXPLORER_ROOM_MAX_RUNS",
    "max_students": "LSTM_EXPLORER_ROOM_MAX_STUDENTS",
    "hours": "LSTM_EXPLORER_ROOM_HOURS",
    "max_run_kb": "LSTM_EXPLORER_ROOM_MAX_RUN_KB",
    "join_failures": "LSTM_EXPLORER_ROOM_JOIN_FAILURES",
}
