"""The two databases a room store runs on, behind one small interface.

`engine_for(url)` reads a store URL and returns the engine that serves it:

- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, or a bare file path:
  SQLite in WAL mode, for every app process of one machine. No set-up: the file and its
  folder are made on first use (the file readable by its owner only).
- `postgresql://user:password@host:5432/database` (or `postgres://`): PostgreSQL through
  psycopg 3, for app processes on several machines. The database must exist; the store
  makes its tables itself. Any libpq URL parameter works, e.g. `?sslmode=require`.

Both run the same SQL (a portable subset: `?` placeholders, rewritten to `%s` for
psycopg) and serialise the writes to one room: SQLite takes its write lock at the start
of a write (`BEGIN IMMEDIATE`), PostgreSQL locks the room's row (`SELECT ... FOR
UPDATE`). Connections are pooled per store and safe to share between threads; a
process forked from one that holds connections opens its own.

Example:

>>> engine_for("sqlite:////tmp/class/rooms.db").describe()
'SQLite /tmp/class/rooms.db'
>>> engine_for("postgresql://teacher:secret@db.school:5432/rooms").describe()
'PostgreSQL postgresql://teacher:***@db.school:5432/rooms'
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lstm_explorer.rooms.errors import StoreError

#: The environment variable that names the store.
URL_VARIABLE = "LSTM_EXPLORER_ROOMS_DB"

#: Seconds a write waits for another process's write before it gives up (SQLite's busy
#: timeout, PostgreSQL's lock_timeout).
BUSY_TIMEOUT = 10.0

#: Idle connections a store keeps open for the next operation.
POOL_SIZE = 8

SCHEMA_VERSION = "1"


def default_url(environ: dict[str, str] | None = None) -> str:
    """The store URL: `LSTM_EXPLORER_ROOMS_DB`, else a SQLite file in the data folder.

    The data folder is `$XDG_DATA_HOME/lstm-explorer` (`~/.local/share/lstm-explorer`
    when `XDG_DATA_HOME` is unset): every app process of one user on one machine finds
    the same file there.

    Args:
        environ: the variables. Default: `None` (`os.environ`).

    Example:

    >>> default_url({"LSTM_EXPLORER_ROOMS_DB": "postgresql://db/rooms"})
    'postgresql://db/rooms'
    >>> default_url({"XDG_DATA_HOME": "/srv/data"})
    'sqlite:////srv/data/lstm-explorer/rooms.sqlite3'
    """
    environ = os.environ if environ is None else environ
    url = environ.get(URL_VARIABLE, "").strip()
    if url:
        return url
    home = environ.get("XDG_DATA_HOME", "").strip() or os.path.join(
        os.path.expanduser("~"), ".local", "share")
    return "sqlite:///" + str(Path(home, "lstm-explorer", "rooms.sqlite3"))


def engine_for(url: str, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """The engine for a store URL (see the module's docstring for the forms).

    Args:
        url: `sqlite:///PATH`, a file path, or `postgresql://...`.
        busy_timeout: seconds a write waits for another's lock. Default: `BUSY_TIMEOUT`.

    Raises:
        ValueError: naming `url` (with any password hidden) when it is none of the forms.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"url={url!r}: expected sqlite:///PATH, a file path, or "
                         f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE ({URL_VARIABLE})")
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if re.match(r"^[A-Za-z][\w+.-]*://", url) else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresEngine(url, busy_timeout)
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.lower().startswith("sqlite:///") else ""
    elif scheme:
        raise ValueError(f"url={redact(url)!r}: unknown database {scheme!r}; expected "
                         f"sqlite:///PATH or postgresql://... ({URL_VARIABLE})")
    else:
        path = url
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ValueError(f"url={url!r}: expected a database file, e.g. sqlite:////srv/rooms.db; "
                         "rooms are shared between processes, so an in-memory database "
                         "cannot hold them")
    return SqliteEngine(Path(path), busy_timeout)


def redact(url: str) -> str:
    """The URL with its password replaced by `***`.

    >>> redact("postgresql://me:pw@host/db?password=pw&sslmode=require")
    'postgresql://me:***@host/db?password=***&sslmode=require'
    """
    url = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url, flags=re.I)


class Engine:
    """What the store needs from a database: connections, transactions, its dialect."""

    kind = ""
    #: Appended to the SELECT that reads a room's row in a write, to lock that row.
    lock_suffix = ""

    def describe(self) -> str:
        raise NotImplementedError

    def connect(self) -> Any:
        raise NotImplementedError

    def begin(self, connection: Any, write: bool) -> None:
        raise NotImplementedError

    def commit(self, connection: Any) -> None:
        connection.commit()

    def rollback(self, connection: Any) -> None:
        connection.rollback()

    def broken(self, connection: Any) -> bool:
        return False

    def close(self, connection: Any) -> None:
        with contextlib.suppress(Exception):
            connection.close()

    def sql(self, text: str) -> str:
        return text

    def create_schema(self, connection: Any) -> None:
        raise NotImplementedError

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        raise NotImplementedError

    def retryable(self, error: BaseException, connection: Any) -> bool:
        """Whether an error on a transaction's first statement came from a connection
        that died while idle in the pool (so the operation may run again on a new one)."""
        return False


def _tables(serial: str) -> list[str]:
    # Times are Unix seconds from the app servers' clocks (time.time()), which every
    # process of a deployment shares closely enough for lifetimes of hours.
    return [
        "CREATE TABLE IF NOT EXISTS room_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS rooms (
            code TEXT PRIMARY KEY,
            teacher_hash TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            hours DOUBLE PRECISION NOT NULL,
            locked INTEGER NOT NULL DEFAULT 0,
            names_hidden INTEGER NOT NULL DEFAULT 0,
            students INTEGER NOT NULL DEFAULT 0,
            version BIGINT NOT NULL DEFAULT 1)""",
        """CREATE TABLE IF NOT EXISTS room_students (
            room TEXT NOT NULL,
            seat INTEGER NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            joined_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (room, seat))""",
        f"""CREATE TABLE IF NOT EXISTS room_runs (
            id {serial},
            room TEXT NOT NULL,
            seat INTEGER NOT NULL,
            name TEXT NOT NULL,
            summary TEXT NOT NULL,
            size INTEGER NOT NULL,
            sent_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS room_runs_by_room ON room_runs (room, id)",
        "CREATE INDEX IF NOT EXISTS room_runs_by_seat ON room_runs (room, seat)",
        "CREATE TABLE IF NOT EXISTS room_join_failures (client TEXT NOT NULL, "
        "at DOUBLE PRECISION NOT NULL)",
        "CREATE INDEX IF NOT EXISTS room_join_failures_by_client ON room_join_failures "
        "(client, at)",
        "CREATE INDEX IF NOT EXISTS room_join_failures_by_time ON room_join_failures (at)",
        "CREATE INDEX IF NOT EXISTS rooms_by_expiry ON rooms (expires_at)",
    ]


def _check_version(cursor: Any, placeholder: str, describe: str) -> None:
    cursor.execute("INSERT INTO room_meta (name, value) VALUES ('schema', "
                   f"{placeholder}) ON CONFLICT (name) DO NOTHING", (SCHEMA_VERSION,))
    cursor.execute("SELECT value FROM room_meta WHERE name = 'schema'")
    found = cursor.fetchone()[0]
    if found != SCHEMA_VERSION:
        raise StoreError(f"the rooms' database {describe} has tables of schema version "
                         f"{found}, made by another version of LSTM Explorer (this one "
                         f"reads version {SCHEMA_VERSION}); point {URL_VARIABLE} at a new "
                         "database, or run the version that made it")


# ----------------------------------------------------------------------------------------
# SQLite


class SqliteEngine(Engine):
    """SQLite in WAL mode: readers never wait for the writer, writers take turns.

    Args:
        path: the database file.
        busy_timeout: seconds a writer waits for another's lock.
    """

    kind = "sqlite"

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT):
        self.path = Path(os.path.expanduser(str(path)))
        self.busy_timeout = busy_timeout

    def describe(self) -> str:
        return f"SQLite {self.path}"

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Made here, readable by its owner only: it holds students' display
                # names. SQLite gives the -wal and -shm files the same permissions.
                os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            except OSError as error:
                raise StoreError(f"{self.describe()} cannot be made: {error}; point "
                                 f"{URL_VARIABLE} at a file in a folder this server may "
                                 "write to") from None
        # isolation_level=None: the store writes BEGIN and COMMIT itself, so that a
        # write can take the lock at its start (BEGIN IMMEDIATE). check_same_thread is
        # off because the pool hands a connection to one thread at a time.
        connection = sqlite3.connect(self.path, timeout=self.busy_timeout,
                                     isolation_level=None, check_same_thread=False)
        # NORMAL in WAL mode: a commit survives the app process being killed; only a
        # power cut can lose the last moments of writes.
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    def begin(self, connection: sqlite3.Connection, write: bool) -> None:
        # A write takes the write lock now, waiting up to the busy timeout: taking it
        # later (BEGIN DEFERRED) can fail with "database is locked" at once when two
        # writers upgrade from reading at the same time.
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self, connection: sqlite3.Connection) -> None:
        connection.execute("COMMIT")

    def rollback(self, connection: sqlite3.Connection) -> None:
        if connection.in_transaction:
            connection.execute("ROLLBACK")

    def create_schema(self, connection: sqlite3.Connection) -> None:
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.describe()} cannot use WAL mode (journal mode is "
                             f"{mode!r}), which a network file system does not allow: keep "
                             "the file on a local disk, or use PostgreSQL for processes on "
                             f"several machines ({URL_VARIABLE}=postgresql://...)")
        connection.execute("BEGIN IMMEDIATE")
        try:
            cursor = connection.cursor()
            for statement in _tables("INTEGER PRIMARY KEY AUTOINCREMENT"):
                cursor.execute(statement)
            _check_version(cursor, "?", self.describe())
            connection.execute("COMMIT")
        except BaseException:
            self.rollback(connection)
            raise


# ----------------------------------------------------------------------------------------
# PostgreSQL


class PostgresEngine(Engine):
    """PostgreSQL through psycopg 3, for app processes on several machines.

    Args:
        url: a libpq URL, `postgresql://user:password@host:port/database?param=value`.
        busy_timeout: seconds a write waits for a room's row lock (`lock_timeout`).
    """

    kind = "postgresql"
    lock_suffix = " FOR UPDATE"

    def __init__(self, url: str, busy_timeout: float = BUSY_TIMEOUT):
        self.url = url
        self.busy_timeout = busy_timeout

    def describe(self) -> str:
        return f"PostgreSQL {redact(self.url)}"

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return (_psycopg().Error,)

    def connect(self) -> Any:
        psycopg = _psycopg()
        connection = psycopg.connect(self.url, connect_timeout=10,
                                     application_name="lstm-explorer rooms")
        connection.execute(f"SET lock_timeout = {int(self.busy_timeout * 1000)}")
        connection.commit()
        return connection

    def begin(self, connection: Any, write: bool) -> None:
        pass  # psycopg opens a transaction at the first statement

    def broken(self, connection: Any) -> bool:
        return bool(connection.closed or connection.broken)

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def retryable(self, error: BaseException, connection: Any) -> bool:
        return isinstance(error, _psycopg().OperationalError) and self.broken(connection)

    def create_schema(self, connection: Any) -> None:
        try:
            with connection.cursor() as cursor:
                # Two processes starting at once would both create the tables; CREATE
                # ... IF NOT EXISTS is not safe against that in PostgreSQL (one fails
                # on the catalog's unique index), so they take turns on a lock.
                cursor.execute("SELECT pg_advisory_xact_lock(7423190511)")
                for statement in _tables("BIGINT GENERATED BY DEFAULT AS IDENTITY "
                                         "PRIMARY KEY"):
                    cursor.execute(statement)
                _check_version(cursor, "%s", self.describe())
            connection.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                connection.rollback()
            raise


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as error:
        raise StoreError(f"a PostgreSQL room store needs psycopg 3 ({error}): pip install "
                         "'psycopg[binary]' (it is in requirements.txt)") from None
    return psycopg


# ----------------------------------------------------------------------------------------
# Connections


class Pool:
    """Connections of one engine, each used by one thread at a time.

    Args:
        engine: the engine that opens them.
        size: idle connections kept for reuse; more may be open at once while many
            threads work, and are closed when they come back to a full pool.
            Default: `POOL_SIZE`.
    """

    def __init__(self, engine: Engine, size: int = POOL_SIZE):
        self.engine = engine
        self.size = size
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False

    def _take(self) -> Any | None:
        with self._lock:
            if self._pid != os.getpid():
                # A forked child shares the parent's sockets and files: closing them
                # here would close the parent's session, so they are only forgotten.
                self._idle, self._pid = [], os.getpid()
            return self._idle.pop() if self._idle else None

    def _give(self, connection: Any) -> None:
        with self._lock:
            if not self._closed and self._pid == os.getpid() and len(self._idle) < self.size:
                self._idle.append(connection)
                return
        self.engine.close(connection)

    def acquire(self) -> tuple[Any, bool]:
        """A connection for this thread alone, and whether it was reused (else new);
        hand it back with `release`."""
        connection = self._take()
        if connection is not None:
            return connection, True
        return self.engine.connect(), False

    def release(self, connection: Any) -> None:
        """Take a connection back: kept for reuse, or closed when broken or not needed."""
        if self.engine.broken(connection):
            self.engine.close(connection)
        else:
            self._give(connection)

    @contextlib.contextmanager
    def connection(self) -> Iterator[tuple[Any, bool]]:
        """`acquire` and `release` around a block."""
        connection, reused = self.acquire()
        try:
            yield connection, reused
        finally:
            self.release(connection)

    def close(self) -> None:
        """Close the idle connections; connections in use close when they come back."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for connection in idle:
            self.engine.close(connection)


class Transaction:
    """One transaction's statements, in the store's portable SQL (`?` placeholders)."""

    def __init__(self, engine: Engine, connection: Any):
        self.engine = engine
        self.connection = connection
        self.cursor = connection.cursor()
        self.statements = 0

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        self.statements += 1
        self.cursor.execute(self.engine.sql(sql), tuple(parameters))
        return self.cursor

    def one(self, sql: str, parameters: Sequence[Any] = ()) -> tuple | None:
        return self.execute(sql, parameters).fetchone()

    def all(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(sql, parameters).fetchall())

    def run(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        return self.execute(sql, parameters).rowcount
