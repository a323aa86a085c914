"""The class rooms' store: every room, student and sent run, in one shared database.

Every app process of a deployment (several behind nginx, see `deploy/`) opens the same
store, so a student served by one process and the teacher served by another see one
room. All state is in the database: an app process that restarts, or a new
`RoomStore` on the same URL, finds every room as it was.

Where the store is (`LSTM_EXPLORER_ROOMS_DB`, see `engines`):

- unset: a SQLite file, `~/.local/share/lstm-explorer/rooms.sqlite3`, in WAL mode; right
  for every process of one machine, with no set-up step;
- `sqlite:////srv/lstm-explorer/rooms.db`: a SQLite file of your choice (on a local
  disk: WAL mode does not work over a network file system);
- `postgresql://USER:PASSWORD@HOST:5432/DATABASE`: PostgreSQL, for app processes on
  several machines. Make a database and a user once, e.g. as the `postgres` user:
  `createuser --pwprompt lstm_explorer && createdb --owner lstm_explorer lstm_explorer`;
  the store makes its tables on first use.

Who may do what, checked by the store (a page only shows the buttons):

- anyone with a room code may `join` it (wrong codes are rate-limited per client) and
  gets a `Seat`: a student number and a secret token, kept in the student's session;
- a student's token sends runs to that room (`send`) and reads the room (`state`,
  `runs`);
- the teacher key, returned once by `open_room` and kept only as a hash, does what a
  student can, and hides names, removes runs, locks and unlocks, and ends the room.

Polling is cheap: `state` reads one row, whose `version` changes with every change to the
room; `runs(..., after=ID)` sends the bodies of runs newer than `ID` only.

Example:

>>> import tempfile
>>> store = RoomStore(f"sqlite:///{tempfile.mkdtemp()}/rooms.db")
>>> room = store.open_room()
>>> seat = store.join(room.code, client="192.0.2.7")
>>> summary = {"format": 1, "config": None, "verdict": "Learned.",
...            "history": {"epochs": [{"epoch": 1, "loss": 0.1}]}}
>>> sent = store.send(room.code, seat.token, "Ada <3", summary)
>>> [(run.name, run.student) for run in store.runs(room.code, room.teacher_key).runs]
[('Ada <3', 1)]
>>> store.hide_names(room.code, room.teacher_key)
>>> [run.name for run in store.runs(room.code, seat.token).runs]
['student 1']
>>> store.lock(room.code, seat.token)
Traceback (most recent call last):
...
lstm_explorer.rooms.errors.NotAllowed: only the teacher of room ... can lock the room: the key given is not the teacher key (use the class view from the teacher's own link)
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import ipaddress
import json
import math
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lstm_explorer.rooms import codes, engines
from lstm_explorer.rooms.engines import Engine, Pool, Transaction
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
from lstm_explorer.rooms.limits import ENV_NAMES, JOIN_WINDOW_SECONDS, RoomLimits
from lstm_explorer.rooms.summary import check_summary

T = TypeVar("T")

#: Longest display name, in characters.
MAX_NAME_CHARS = 40
#: Longest client identifier (an address, a session id) kept for the join rate limit.
MAX_CLIENT_CHARS = 200
#: Operation durations kept per operation for `timings()`.
TIMING_SAMPLES = 2000
TEACHER, STUDENT = "teacher", "student"


# ----------------------------------------------------------------------------------------
# What the store hands out


@dataclass(frozen=True)
class TeacherRoom:
    """A room just opened: its code, for the class, and its key, for the teacher only.

    Args:
        code: the room code, e.g. `"K7Q-M2X"`.
        teacher_key: the secret that proves the teacher; the store keeps only its hash,
            so it cannot be shown again.
        expires_at: when the room ends by itself (Unix seconds).
    """

    code: str
    teacher_key: str
    expires_at: float


@dataclass(frozen=True)
class Seat:
    """A student's place in a room.

    Args:
        code: the room code.
        student: the student's number in the room, from 1 in the order of joining; what
            the class sees instead of a display name when the teacher hides names.
        token: the secret that proves this student; keep it in the session only.
    """

    code: str
    student: int
    token: str


@dataclass(frozen=True)
class RoomState:
    """What a room is like now, in one cheap read (for polling).

    Args:
        code: the room code.
        version: a number that changes with every change to the room (a join, a run
            sent or removed, names hidden, a lock); equal versions mean nothing changed.
        students: students who joined.
        runs: runs the room holds.
        locked: whether joins and sends are refused.
        names_hidden: whether run lists show "student N" instead of display names.
        created_at: when it was opened (Unix seconds).
        expires_at: when it ends by itself (Unix seconds).
    """

    code: str
    version: int
    students: int
    runs: int
    locked: bool
    names_hidden: bool
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class SentRun:
    """One run in a room.

    Args:
        id: the run's id; ids only grow, within a room in the order the runs arrived.
        code: the room code.
        student: the number of the student who sent it (`Seat.student`).
        name: the display name as the student gave it (text: escape it where it is
            drawn), or `"student N"` while the teacher hides names.
        sent_at: when the store received it (Unix seconds).
        size: its summary's size in bytes.
        summary: the summary (`summary.summary_of`).
    """

    id: int
    code: str
    student: int
    name: str
    sent_at: float
    size: int
    summary: Mapping[str, Any]


@dataclass(frozen=True)
class RunList:
    """A room's runs as of one read: the new ones in full, and who is still there.

    Args:
        version: the room's version at the read (`RoomState.version`).
        names_hidden: whether `names` are anonymised.
        runs: the runs newer than the `after` asked for, with their summaries.
        ids: the ids of every run the room holds, oldest first.
        names: the name to show for each id.
    """

    version: int
    names_hidden: bool
    runs: tuple[SentRun, ...]
    ids: tuple[int, ...]
    names: Mapping[int, str]

    @property
    def last_id(self) -> int:
        """The newest run's id (0 when there is none): the next poll's `after`."""
        return max(self.ids, default=0)

    def merge(self, known: Mapping[int, SentRun] | None = None) -> list[SentRun]:
        """Every run of the room, oldest first: `known` ones kept, new ones added, removed
        ones dropped, and names as they are to be shown now.

        Args:
            known: runs from earlier reads, by id. Default: `None` (none).
        """
        fresh = {run.id: run for run in self.runs}
        merged = []
        for run_id in self.ids:
            run = fresh.get(run_id) or (known or {}).get(run_id)
            if run is None:
                continue  # read before with an `after` past it: the caller dropped it
            name = self.names.get(run_id, run.name)
            merged.append(run if run.name == name else dataclasses.replace(run, name=name))
        return merged


def join_client(peer: str | None, forwarded_for: str | None = None,
                session: str | None = None) -> str:
    """The client identifier `join` rate-limits: the browser's address, as far as trusted.

    Behind nginx (`deploy/nginx.conf`) the app sees nginx's address, and the browser's is
    the last entry of `X-Forwarded-For`, the one nginx appended: the entries before it
    are whatever the browser sent, so they are never used (a guesser would send a new
    one with every try). The header is believed only when the connection comes from a
    loopback or private address, i.e. from a proxy of the deployment, or from an
    unknown one (`st.context.ip_address` is `None` for a connection from the same
    machine, as nginx's is); a browser that reaches the app directly is known by its own
    address. With neither (a test harness), the session stands in.

    Note that a class behind one school router shares one address, and so one budget of
    wrong codes (`LSTM_EXPLORER_ROOM_JOIN_FAILURES`); joining by the teacher's link
    types no code.

    Args:
        peer: the address of the connection's other end (`st.context.ip_address`), or
            `None`.
        forwarded_for: the request's `X-Forwarded-For` header, if any. Default: `None`.
        session: the session's id, used when there is no address. Default: `None`.

    Example:

    >>> join_client("127.0.0.1", "6.6.6.6, 203.0.113.9")
    '203.0.113.9'
    >>> join_client("81.2.69.160", "203.0.113.9"), join_client(None, None, "abc")
    ('81.2.69.160', 'session abc')
    """
    address = _address(peer)
    if forwarded_for and (address is None or address.is_loopback or address.is_private):
        last = _address(forwarded_for.split(",")[-1])
        if last is not None:
            return str(last)
    if address is not None:
        return str(address)
    if peer and peer.strip():
        return peer.strip()[:MAX_CLIENT_CHARS]
    return f"session {session or 'unknown'}"[:MAX_CLIENT_CHARS]


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def hidden_name(student: int) -> str:
    """The name a run shows while the teacher hides names.

    >>> hidden_name(3)
    'student 3'
    """
    return f"student {student}"


def check_name(name: object) -> str:
    """A display name as it is stored: the text given, without surrounding spaces.

    The name is stored as text, whatever characters it holds (`<b>` stays `<b>`); who
    draws it escapes it. Control characters (new lines, tabs, ...) are refused.

    Raises:
        InvalidInput: naming `name`, when it is not text, empty, longer than
            `MAX_NAME_CHARS` or holds a control character.

    Example:

    >>> check_name("  <i>Ada</i> ")
    '<i>Ada</i>'
    >>> check_name("")
    Traceback (most recent call last):
    ...
    lstm_explorer.rooms.errors.InvalidInput: name='': must be 1 to 40 characters: type the name the class should see
    """
    if not isinstance(name, str):
        raise InvalidInput("name", name, "expected text, the name the class should see")
    text = name.strip()
    if not 1 <= len(text) <= MAX_NAME_CHARS:
        raise InvalidInput("name", name, f"must be 1 to {MAX_NAME_CHARS} characters: type "
                           "the name the class should see")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise InvalidInput("name", name, "holds a control character (a new line, a tab, "
                           "...): use letters, digits, spaces and punctuation")
    return text


# ----------------------------------------------------------------------------------------
# The store


def _timed(method: Callable[..., T]) -> Callable[..., T]:
    """Record how long each call of a store operation takes (`RoomStore.timings`)."""

    @functools.wraps(method)
    def timed(self: RoomStore, *arguments: Any, **keywords: Any) -> T:
        start = time.perf_counter()
        try:
            return method(self, *arguments, **keywords)
        finally:
            self._record(method.__name__, time.perf_counter() - start)

    return timed


class RoomStore:
    """Rooms, students and sent runs in one database shared by every app process.

    Thread-safe: one store serves every session of a process (keep one per process,
    e.g. with `default_store()` or `st.cache_resource`). Every method is one short
    transaction.

    Args:
        url: where the rooms are: `sqlite:///PATH`, a file path, or
            `postgresql://...` (see `engines`). Default: `None`, `LSTM_EXPLORER_ROOMS_DB`
            or the default SQLite file (`engines.default_url`).
        limits: the room limits. Default: `None`, read from the environment
            (`RoomLimits.from_env()`) at each use.
        clock: the time in Unix seconds. Default: `time.time` (every process of a
            deployment must share it, as its machines' clocks do).
        busy_timeout: seconds a write waits for another process's write before it
            fails. Default: `engines.BUSY_TIMEOUT` (10).

    Raises:
        ValueError: naming `url`, when it is not a store URL.
    """

    def __init__(self, url: str | None = None, *, limits: RoomLimits | None = None,
                 clock: Callable[[], float] = time.time,
                 busy_timeout: float = engines.BUSY_TIMEOUT):
        self.url = url if url is not None else engines.default_url()
        self.engine: Engine = engines.engine_for(self.url, busy_timeout)
        self._limits = limits
        self.clock = clock
        self._pool = Pool(self.engine)
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._timings: dict[str, collections.deque[float]] = {}
        self._timings_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RoomStore({self.engine.describe()})"

    @property
    def limits(self) -> RoomLimits:
        """The limits in force (read from the environment when none were given)."""
        return self._limits or RoomLimits.from_env()

    def close(self) -> None:
        """Close the store's idle connections (a later call opens new ones)."""
        self._pool.close()
        self._pool = Pool(self.engine)

    # --- the teacher --------------------------------------------------------------------

    @_timed
    def open_room(self, hours: float | None = None) -> TeacherRoom:
        """Open a new room; rooms past their lifetime are cleared out on the way.

        Args:
            hours: how long the room lasts. Default: `None`, the longest allowed
                (`LSTM_EXPLORER_ROOM_HOURS`).

        Returns:
            The room's code and teacher key: show the code to the class, keep the key
            in the teacher's session and link only.

        Raises:
            InvalidInput: naming `hours`, when it is not a number from above 0 to the
                limit.
        """
        limits = self.limits
        if hours is None:
            hours = limits.hours
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or \
                not math.isfinite(hours) or not 0 < hours <= limits.hours:
            raise InvalidInput("hours", hours, f"expected a number of hours above 0 and at "
                               f"most {limits.hours:g} ({ENV_NAMES['hours']})")
        key = codes.new_teacher_key()

        def work(db: Transaction) -> TeacherRoom:
            now = self.clock()
            self._purge(db, now)
            # A clash with an open room is as likely as a guess (1 in 10⁹ per room);
            # a new code is drawn until one is free.
            for _ in range(100):
                code = codes.new_code()
                inserted = db.run(
                    "INSERT INTO rooms (code, teacher_hash, created_at, expires_at, hours) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
                    (code, codes.key_hash(key), now, now + hours * 3600.0, float(hours)))
                if inserted:
                    return TeacherRoom(code, key, now + hours * 3600.0)
            raise StoreError("no free room code was found in 100 draws: the store is full "
                             "of rooms; end some, or wait for them to expire")

        return self._transaction(True, work)

    @_timed
    def hide_names(self, code: str, teacher_key: str, hidden: bool = True) -> None:
        """Show every run as "student N" instead of its display name (or names again).

        Args:
            code: the room code.
            teacher_key: the teacher key.
            hidden: hide (`True`) or show (`False`) names. Default: `True`.

        Raises:
            NotAllowed: the key is not the teacher's. RoomNotFound, RoomExpired.
        """
        self._set_flag(code, teacher_key, "names_hidden", bool(hidden),
                       "hide names" if hidden else "show names")

    @_timed
    def lock(self, code: str, teacher_key: str, locked: bool = True) -> None:
        """Lock the room (no joins, no sends) or unlock it.

        Args:
            code: the room code.
            teacher_key: the teacher key.
            locked: lock (`True`) or unlock (`False`). Default: `True`.

        Raises:
            NotAllowed: the key is not the teacher's. RoomNotFound, RoomExpired.
        """
        self._set_flag(code, teacher_key, "locked", bool(locked),
                       "lock the room" if locked else "unlock the room")

    @_timed
    def remove_run(self, code: str, teacher_key: str, run_id: int) -> None:
        """Remove one run from the room, for everyone.

        Args:
            code: the room code.
            teacher_key: the teacher key.
            run_id: the run's `SentRun.id`.

        Raises:
            NotAllowed: the key is not the teacher's.
            RoomError: the room holds no such run (it may be removed already).
            RoomNotFound, RoomExpired.
        """
        if isinstance(run_id, bool) or not isinstance(run_id, int):
            raise InvalidInput("run_id", run_id, "expected a run's id (SentRun.id)")

        def work(db: Transaction) -> None:
            room = self._teacher_room(db, code, teacher_key, "remove a run")
            if not db.run("DELETE FROM room_runs WHERE room = ? AND id = ?", (room, run_id)):
                raise RoomError(f"room {room} holds no run {run_id}: it may have been "
                                "removed already; reload the class view", room)
            self._bump(db, room)

        self._transaction(True, work)

    @_timed
    def end(self, code: str, teacher_key: str) -> None:
        """End the room: it and every run sent to it are gone, for everyone.

        Raises:
            NotAllowed: the key is not the teacher's. RoomNotFound, RoomExpired.
        """
        def work(db: Transaction) -> None:
            self._delete(db, self._teacher_room(db, code, teacher_key, "end the room"))

        self._transaction(True, work)

    # --- the students -------------------------------------------------------------------

    @_timed
    def join(self, code: str, *, client: str) -> Seat:
        """Join a room with its code.

        A wrong code (mistyped, or of no open room) counts against `client`: after
        `LSTM_EXPLORER_ROOM_JOIN_FAILURES` of them within a minute, its joins are
        refused until the oldest is a minute old, so that codes are not worth guessing.

        Args:
            code: the room code as typed or read from a link (see
                `codes.normalize_code`: case, spaces and dashes do not matter).
            client: who is joining, for the rate limit: `join_client(...)`, the
                browser's address as far as it can be trusted.

        Returns:
            The student's seat: number and token.

        Raises:
            JoinRateLimited: too many wrong codes from `client`; says how long to wait.
            BadCode: `code` cannot be a room code. RoomNotFound: no room has it.
            RoomExpired, RoomLocked, LimitReached (students per room).
        """
        if not isinstance(client, str) or not client.strip() or len(client) > MAX_CLIENT_CHARS:
            raise InvalidInput("client", client, f"expected text of 1 to {MAX_CLIENT_CHARS} "
                               "characters that tells clients apart (an address, a session id)")
        normalized = codes.normalize_code(code)
        limits = self.limits
        token = codes.new_student_token()

        def work(db: Transaction) -> Seat | RoomError:
            now = self.clock()
            since = now - JOIN_WINDOW_SECONDS
            recent = db.all("SELECT at FROM room_join_failures WHERE client = ? AND at > ? "
                            "ORDER BY at DESC LIMIT ?", (client, since, limits.join_failures))
            if len(recent) >= limits.join_failures:
                # Joins open again when the oldest of the last N failures leaves the
                # window; refusals are not counted, so waiting is enough.
                retry = recent[-1][0] + JOIN_WINDOW_SECONDS - now
                return JoinRateLimited(len(recent), JOIN_WINDOW_SECONDS, retry)
            row = self._room_row(db, normalized, lock=True) if normalized else None
            problem: RoomError | None = None
            if row is None:
                problem = BadCode(code, codes.new_code()) if normalized is None \
                    else RoomNotFound(normalized)
            elif row["expires_at"] <= now:
                self._delete(db, normalized)
                problem = RoomExpired(normalized, row["hours"])
            if problem is not None:
                db.run("DELETE FROM room_join_failures WHERE at <= ?", (since,))
                db.run("INSERT INTO room_join_failures (client, at) VALUES (?, ?)",
                       (client, now))
                return problem
            if row["locked"]:
                return RoomLocked(normalized)
            if row["students"] >= limits.max_students:
                variable = ENV_NAMES["max_students"]
                return LimitReached(
                    f"room {normalized} is full: {row['students']} students have joined, the "
                    f"most a room takes on this server; the teacher can open a second room, "
                    f"or an administrator can raise the limit with {variable}",
                    normalized, variable)
            seat = row["students"] + 1
            db.run("INSERT INTO room_students (room, seat, token_hash, joined_at) "
                   "VALUES (?, ?, ?, ?)", (normalized, seat, codes.key_hash(token), now))
            db.run("UPDATE rooms SET students = ?, version = version + 1 WHERE code = ?",
                   (seat, normalized))
            return Seat(normalized, seat, token)

        # A refusal is returned, not raised, by the transaction: a wrong code's failure
        # must be committed for the rate limit to count it.
        outcome = self._transaction(True, work)
        if isinstance(outcome, RoomError):
            raise outcome
        return outcome

    @_timed
    def send(self, code: str, token: str, name: str, summary: Mapping[str, Any]) -> SentRun:
        """Send a finished run's summary to the room, under a display name.

        Args:
            code: the room code.
            token: the student's token (`Seat.token`).
            name: the display name, as the student typed it (see `check_name`).
            summary: the run's summary (`summary.summary_of`).

        Returns:
            The run as the room holds it.

        Raises:
            InvalidInput: naming `name` or the part of `summary` that is wrong.
            RunTooLarge: the summary is over `LSTM_EXPLORER_ROOM_MAX_RUN_KB`.
            NotAllowed: the token is not a student's of this room.
            RoomLocked, LimitReached (runs per student, runs per room), RoomNotFound,
            RoomExpired.
        """
        name = check_name(name)
        limits = self.limits
        normalized = codes.normalize_code(code) or str(code)
        try:
            text = check_summary(summary, limits)
        except RunTooLarge as error:
            error.code = normalized
            raise
        size = len(text.encode("utf-8", "surrogatepass"))

        def work(db: Transaction) -> SentRun:
            now = self.clock()
            row = self._live_room(db, code, now, lock=True)
            room = row["code"]
            seat = self._seat(db, room, token)
            if seat is None:
                raise NotAllowed(f"this student key is not one of room {room}'s: join the "
                                 "room again with its code", room)
            if row["locked"]:
                raise RoomLocked(room)
            mine = db.one("SELECT COUNT(*) FROM room_runs WHERE room = ? AND seat = ?",
                          (room, seat))[0]
            if mine >= limits.max_runs_per_student:
                variable = ENV_NAMES["max_runs_per_student"]
                raise LimitReached(
                    f"you have sent {mine} runs to room {room}, the most one student may "
                    f"send: ask the teacher to remove one of them (or an administrator can "
                    f"raise the limit with {variable})", room, variable)
            held = db.one("SELECT COUNT(*) FROM room_runs WHERE room = ?", (room,))[0]
            if held >= limits.max_runs:
                variable = ENV_NAMES["max_runs"]
                raise LimitReached(
                    f"room {room} holds {held} runs, the most a room holds on this server: "
                    f"ask the teacher to remove some (or an administrator can raise the "
                    f"limit with {variable})", room, variable)
            # The room's row is locked until commit, so the runs of one room get their
            # ids in the order they commit (PostgreSQL hands out ids outside
            # transactions): polling with `after=` never skips one.
            run_id = db.one("INSERT INTO room_runs (room, seat, name, summary, size, sent_at) "
                            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                            (room, seat, name, text, size, now))[0]
            self._bump(db, room)
            return SentRun(int(run_id), room, seat, name, now, size, summary)

        return self._transaction(True, work)

    # --- reading ------------------------------------------------------------------------

    @_timed
    def seat_of(self, code: str, token: str) -> Seat:
        """The seat a student's token holds: how a student's reload keeps its place
        (the token is in the student's own address) instead of joining again.

        Raises:
            NotAllowed: the token is no student's of this room. RoomNotFound,
                RoomExpired.
        """
        def work(db: Transaction) -> Seat:
            row = self._live_room(db, code, self.clock())
            seat = self._seat(db, row["code"], token)
            if seat is None:
                raise NotAllowed(f"this link's seat is not one of room {row['code']}: "
                                 "join the room with its code", row["code"])
            return Seat(row["code"], seat, token)

        return self._transaction(False, work)

    @_timed
    def role(self, code: str, key: str) -> str:
        """Whose key this is in the room: `"teacher"` or `"student"`.

        Raises:
            NotAllowed: it is neither. RoomNotFound, RoomExpired.
        """
        def work(db: Transaction) -> str:
            row = self._live_room(db, code, self.clock())
            return self._role(db, row, key)

        return self._transaction(False, work)

    @_timed
    def state(self, code: str, key: str) -> RoomState:
        """The room now: version, students, runs, flags (one cheap read, for polling).

        Args:
            code: the room code.
            key: the teacher key or a student's token.

        Raises:
            NotAllowed: the key is neither. RoomNotFound, RoomExpired.
        """
        def work(db: Transaction) -> RoomState:
            row = self._live_room(db, code, self.clock())
            self._role(db, row, key)
            runs = db.one("SELECT COUNT(*) FROM room_runs WHERE room = ?", (row["code"],))[0]
            return RoomState(row["code"], int(row["version"]), int(row["students"]), int(runs),
                             bool(row["locked"]), bool(row["names_hidden"]),
                             float(row["created_at"]), float(row["expires_at"]))

        return self._transaction(False, work)

    @_timed
    def runs(self, code: str, key: str, after: int = 0) -> RunList:
        """The room's runs: the summaries of those newer than `after`, and every id and name.

        Args:
            code: the room code.
            key: the teacher key or a student's token.
            after: the newest run id already read (`RunList.last_id`); only newer runs
                come with their summaries. Default: `0` (all of them).

        Returns:
            A `RunList`; `merge` it with the runs read before.

        Raises:
            NotAllowed: the key is neither the teacher's nor a student's of this room.
            RoomNotFound, RoomExpired.
        """
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise InvalidInput("after", after, "expected a run id of 0 or more (RunList.last_id)")

        def work(db: Transaction) -> RunList:
            row = self._live_room(db, code, self.clock())
            self._role(db, row, key)
            room, hidden = row["code"], bool(row["names_hidden"])
            # One statement, so the ids and the new bodies are of the same moment.
            rows = db.all("SELECT id, seat, name, sent_at, size, CASE WHEN id > ? THEN "
                          "summary ELSE NULL END FROM room_runs WHERE room = ? ORDER BY id",
                          (after, room))
            names = {int(r[0]): hidden_name(r[1]) if hidden else r[2] for r in rows}
            fresh = tuple(SentRun(int(r[0]), room, int(r[1]), names[int(r[0])], float(r[3]),
                                  int(r[4]), json.loads(r[5])) for r in rows if r[5] is not None)
            return RunList(int(row["version"]), hidden, fresh, tuple(names), names)

        return self._transaction(False, work)

    # --- upkeep and measuring -----------------------------------------------------------

    @_timed
    def purge(self) -> int:
        """Delete every room past its lifetime (with its students and runs), and join
        failures older than the rate limit's window; the number of rooms deleted.

        `open_room` does this on its way; a room past its lifetime is refused anyway.
        """
        def work(db: Transaction) -> int:
            return self._purge(db, self.clock())

        return self._transaction(True, work)

    def timings(self) -> dict[str, dict[str, float]]:
        """How long each operation took in this process, for load tests and benchmarks.

        Returns:
            `{operation: {"calls", "mean_ms", "p50_ms", "p95_ms", "max_ms"}}` over the
            last `TIMING_SAMPLES` calls of each (failed calls included).

        Example:

        >>> import tempfile
        >>> store = RoomStore(f"sqlite:///{tempfile.mkdtemp()}/rooms.db")
        >>> _ = store.open_room()
        >>> sorted(store.timings()["open_room"])
        ['calls', 'max_ms', 'mean_ms', 'p50_ms', 'p95_ms']
        """
        with self._timings_lock:
            samples = {name: sorted(values) for name, values in self._timings.items()}
        out = {}
        for name, values in samples.items():
            def at(share: float, values: list[float] = values) -> float:
                return values[min(len(values) - 1, math.ceil(share * len(values)) - 1)]

            out[name] = {"calls": len(values), "mean_ms": sum(values) / len(values) * 1e3,
                         "p50_ms": at(0.5) * 1e3, "p95_ms": at(0.95) * 1e3,
                         "max_ms": values[-1] * 1e3}
        return out

    # --- inside -------------------------------------------------------------------------

    def _record(self, name: str, seconds: float) -> None:
        with self._timings_lock:
            samples = self._timings.setdefault(name, collections.deque(maxlen=TIMING_SAMPLES))
            samples.append(seconds)

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            try:
                with self._pool.connection() as (connection, _):
                    self.engine.create_schema(connection)
            except self.engine.errors as error:
                raise self._failure(error) from error
            self._schema_ready = True

    def _transaction(self, write: bool, work: Callable[[Transaction], T]) -> T:
        self._ensure_schema()
        engine = self.engine
        for attempt in (1, 2):
            try:
                connection, reused = self._pool.acquire()
            except engine.errors as error:  # the database cannot be reached at all
                raise self._failure(error) from error
            db = Transaction(engine, connection)
            try:
                engine.begin(connection, write)
                result = work(db)
                engine.commit(connection)
                return result
            except engine.errors as error:
                with contextlib.suppress(Exception):
                    engine.rollback(connection)
                # A pooled connection whose server went away (a restart, an idle
                # timeout) fails at its first statement, before anything was written:
                # that is safe to run again, once, on a new connection.
                if attempt == 1 and reused and db.statements <= 1 and \
                        engine.retryable(error, connection):
                    continue
                raise self._failure(error) from error
            except BaseException:
                with contextlib.suppress(Exception):
                    engine.rollback(connection)
                raise
            finally:
                self._pool.release(connection)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _failure(self, error: BaseException) -> StoreError:
        text = " ".join(str(error).split()) or type(error).__name__
        return StoreError(f"the class rooms' database ({self.engine.describe()}) failed: "
                          f"{text}. Check that it is reachable and writable, or point "
                          f"{engines.URL_VARIABLE} at one that is")

    _ROOM_COLUMNS = ("code", "teacher_hash", "created_at", "expires_at", "hours", "locked",
                     "names_hidden", "students", "version")

    def _room_row(self, db: Transaction, code: str, lock: bool = False) -> dict | None:
        row = db.one(f"SELECT {', '.join(self._ROOM_COLUMNS)} FROM rooms WHERE code = ?"
                     + (self.engine.lock_suffix if lock else ""), (code,))
        return None if row is None else dict(zip(self._ROOM_COLUMNS, row))

    def _live_room(self, db: Transaction, code: str, now: float, lock: bool = False) -> dict:
        normalized = codes.normalize_code(code)
        if normalized is None:
            raise BadCode(code, codes.new_code())
        row = self._room_row(db, normalized, lock)
        if row is None:
            raise RoomNotFound(normalized)
        if row["expires_at"] <= now:
            raise RoomExpired(normalized, row["hours"])
        return row

    def _seat(self, db: Transaction, room: str, key: object) -> int | None:
        if not isinstance(key, str) or not key:
            return None
        row = db.one("SELECT seat FROM room_students WHERE room = ? AND token_hash = ?",
                     (room, codes.key_hash(key)))
        return None if row is None else int(row[0])

    def _role(self, db: Transaction, row: Mapping[str, Any], key: object) -> str:
        if codes.verify_key(key, row["teacher_hash"]):
            return TEACHER
        if self._seat(db, row["code"], key) is not None:
            return STUDENT
        raise NotAllowed(f"this key is neither the teacher's nor a student's of room "
                         f"{row['code']}: join the room with its code first", row["code"])

    def _teacher_room(self, db: Transaction, code: str, key: object, action: str) -> str:
        row = self._live_room(db, code, self.clock(), lock=True)
        if not codes.verify_key(key, row["teacher_hash"]):
            raise NotAllowed(f"only the teacher of room {row['code']} can {action}: the key "
                             "given is not the teacher key (use the class view from the "
                             "teacher's own link)", row["code"])
        return row["code"]

    def _set_flag(self, code: str, key: str, column: str, value: bool, action: str) -> None:
        def work(db: Transaction) -> None:
            room = self._teacher_room(db, code, key, action)
            # Only a change moves the version, so pollers refetch only when it matters.
            db.run(f"UPDATE rooms SET {column} = ?, version = version + 1 "
                   f"WHERE code = ? AND {column} <> ?", (int(value), room, int(value)))

        self._transaction(True, work)

    def _bump(self, db: Transaction, room: str) -> None:
        db.run("UPDATE rooms SET version = version + 1 WHERE code = ?", (room,))

    def _delete(self, db: Transaction, room: str) -> None:
        for table, column in (("room_runs", "room"), ("room_students", "room"),
                              ("rooms", "code")):
            db.run(f"DELETE FROM {table} WHERE {column} = ?", (room,))

    def _purge(self, db: Transaction, now: float) -> int:
        expired = [row[0] for row in db.all("SELECT code FROM rooms WHERE expires_at <= ?",
                                            (now,))]
        for room in expired:
            self._delete(db, room)
        db.run("DELETE FROM room_join_failures WHERE at <= ?", (now - JOIN_WINDOW_SECONDS,))
        return len(expired)


# ----------------------------------------------------------------------------------------
# One store per process


_STORES: dict[str, RoomStore] = {}
_STORES_LOCK = threading.Lock()


def default_store(url: str | None = None) -> RoomStore:
    """The process's store for `url` (default: `LSTM_EXPLORER_ROOMS_DB`), made once.

    Args:
        url: the store URL. Default: `None` (`engines.default_url()`).
    """
    url = url if url is not None else engines.default_url()
    with _STORES_LOCK:
        if url not in _STORES:
            _STORES[url] = RoomStore(url)
        return _STORES[url]
