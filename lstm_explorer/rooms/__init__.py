"""The class room: students send their finished runs to a room the teacher's screen draws.

- `store`: rooms, students and sent runs in a database every app process shares
  (SQLite by default, PostgreSQL across machines): `RoomStore`, `default_store`.
- `summary`: what a student sends, made from a finished run: `summary_of`.
- `classview`: the class view's data, from the room's runs: `class_view`.
- `figures`: its three figures: `class_metric`, `class_step0`, `class_loss_curves`.
- `limits`, `codes`, `errors`: the room limits (environment variables), room codes and
  keys, and `RoomError` with its kinds.

Nothing here imports Streamlit; the class view's data and figures are pure functions.
`classview` and `figures` load plotly when first used, so the store starts without it.

Example:

>>> import tempfile
>>> from lstm_explorer import rooms
>>> store = rooms.RoomStore(f"sqlite:///{tempfile.mkdtemp()}/rooms.db")
>>> room = store.open_room()
>>> seat = store.join(room.code.lower(), client="192.0.2.7")
>>> store.state(room.code, room.teacher_key).students
1
"""

from __future__ import annotations

import importlib
from typing import Any

from lstm_explorer.rooms.errors import (
    BadCode,
    InvalidInput,
    JoinRateLimited,
    LimitReached,
    NotAllowed,
    RoomError,
    RoomExpired,
    RoomLocked,
    RoomNotFound,
    RunTooLarge,
    StoreError,
)
from lstm_explorer.rooms.limits import RoomLimits
from lstm_explorer.rooms.store import (
    RoomState,
    RoomStore,
    RunList,
    Seat,
    SentRun,
    TeacherRoom,
    default_store,
    join_client,
)
from lstm_explorer.rooms.summary import summary_of

_LAZY = {
    "ClassView": "classview", "ClassRun": "classview", "class_view": "classview",
    "class_metric": "figures", "class_step0": "figures", "class_loss_curves": "figures",
    "class_figures": "figures",
}

__all__ = [
    "BadCode", "ClassRun", "ClassView", "InvalidInput", "JoinRateLimited", "LimitReached",
    "NotAllowed", "RoomError", "RoomExpired", "RoomLimits", "RoomLocked", "RoomNotFound",
    "RoomState", "RoomStore", "RunList", "RunTooLarge", "Seat", "SentRun", "StoreError",
    "TeacherRoom", "class_figures", "class_loss_curves", "class_metric", "class_step0",
    "class_view", "default_store", "join_client", "summary_of",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"lstm_explorer.rooms.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'lstm_explorer.rooms' has no attribute {name!r}")
