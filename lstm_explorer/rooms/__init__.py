"""The class room: students send their finished runs to a room the teacher's screen draws.

- `store`: rooms, students and sent runs in a database every app process shares
  (SQLite by default, PostgreSQL across machines): `RoomStore`, `default_store`.
- `summary`: what a student sends, made from a finished run: `summary_of`.
- `limits`, `codes`, `errors`: the room limits (environment variables), room codes and
  keys, and `RoomError` with its kinds.

Nothing here imports Streamlit.

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
)
from lstm_explorer.rooms.summary import summary_of

__all__ = [
    "BadCode", "InvalidInput", "JoinRateLimited", "LimitReached", "NotAllowed", "RoomError",
    "RoomExpired", "RoomLimits", "RoomLocked", "RoomNotFound", "RoomState", "RoomStore",
    "RunList", "RunTooLarge", "Seat", "SentRun", "StoreError", "TeacherRoom",
    "default_store", "summary_of",
]
