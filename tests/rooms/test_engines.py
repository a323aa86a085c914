"""The two engines behind the store: URLs, SQLite's WAL file, locks, lost connections."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import threading
import time

import pytest

from lstm_explorer.rooms import engines
from lstm_explorer.rooms.engines import PostgresEngine, SqliteEngine, engine_for
from lstm_explorer.rooms.errors import StoreError
from lstm_explorer.rooms.store import RoomStore
from tests.rooms.helpers import summary


def test_store_urls_name_a_sqlite_file_or_a_postgresql_server(tmp_path):
    assert engine_for("sqlite:///rooms.db").path.name == "rooms.db"
    assert str(engine_for("sqlite:////srv/rooms.db").path) == "/srv/rooms.db"
    assert str(engine_for(str(tmp_path / "a.db")).path) == str(tmp_path / "a.db")
    assert isinstance(engine_for("postgresql://u@h/db"), PostgresEngine)
    assert isinstance(engine_for(" postgres://u@h/db "), PostgresEngine)
    for wrong, match in (("", "expected sqlite"), ("sqlite:///:memory:", "in-memory"),
                         ("sqlite://", "expected a database file"),
                         ("mysql://me:secret@host/db", "unknown database 'mysql'")):
        with pytest.raises(ValueError, match=f"^url=.*{match}") as caught:
            engine_for(wrong)
        assert "secret" not in str(caught.value)


def test_the_default_store_is_a_sqlite_file_in_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("LSTM_EXPLORER_ROOMS_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert engines.default_url() == f"sqlite:///{tmp_path}/lstm-explorer/rooms.sqlite3"
    store = RoomStore()
    store.open_room()
    assert (tmp_path / "lstm-explorer" / "rooms.sqlite3").is_file()
    monkeypatch.setenv("LSTM_EXPLORER_ROOMS_DB", "postgresql://db.school/rooms")
    assert RoomStore().engine.describe() == "PostgreSQL postgresql://db.school/rooms"


def test_a_sqlite_store_makes_its_file_in_wal_mode_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "new" / "folder" / "rooms.db"
    store = RoomStore(f"sqlite:///{path}")
    room = store.open_room()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT code FROM rooms").fetchall() == [(room.code,)]


def _hold_lock(store_url: str, code: str, seconds: float, ready: threading.Event) -> None:
    """Hold the write lock a send needs, as another app process would, for `seconds`."""
    if store_url.startswith("sqlite"):
        connection = sqlite3.connect(engine_for(store_url).path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        connection = psycopg.connect(store_url)
        connection.execute("SELECT code FROM rooms WHERE code = %s FOR UPDATE", (code,))
    ready.set()
    time.sleep(seconds)
    connection.rollback() if not store_url.startswith("sqlite") else connection.execute("ROLLBACK")
    connection.close()


def _while_locked(store_url: str, code: str, seconds: float, call):
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(store_url, code, seconds, ready))
    holder.start()
    try:
        assert ready.wait(30)
        start = time.monotonic()
        try:
            return call(), time.monotonic() - start
        except StoreError as error:
            return error, time.monotonic() - start
    finally:
        holder.join(30)


def test_a_send_waits_for_another_processes_write_within_the_busy_timeout(store_url, clock):
    store = RoomStore(store_url, clock=clock, busy_timeout=10)
    room = store.open_room()
    seat = store.join(room.code, client="a")
    sent, waited = _while_locked(store_url, room.code, 0.5,
                                 lambda: store.send(room.code, seat.token, "Ada", summary()))
    assert not isinstance(sent, StoreError), sent
    assert waited >= 0.3
    assert store.state(room.code, seat.token).runs == 1
    store.close()


def test_a_write_locked_past_the_busy_timeout_fails_naming_the_database(store_url, clock):
    store = RoomStore(store_url, clock=clock, busy_timeout=0.3)
    room = store.open_room()
    seat = store.join(room.code, client="a")
    error, waited = _while_locked(store_url, room.code, 1.2,
                                  lambda: store.send(room.code, seat.token, "Ada", summary()))
    assert isinstance(error, StoreError)
    assert str(error).startswith(f"the class rooms' database ({store.engine.describe()}) failed")
    assert "LSTM_EXPLORER_ROOMS_DB" in str(error)
    assert 0.2 < waited < 1.1
    assert store.state(room.code, seat.token).runs == 0  # nothing half-written
    store.close()


def test_a_schema_of_another_version_is_refused_not_overwritten(store_url):
    store = RoomStore(store_url)
    store.open_room()
    store._transaction(True, lambda db: db.run("UPDATE room_meta SET value = '99'"))
    store.close()
    with pytest.raises(StoreError, match="schema version 99, made by another version"):
        RoomStore(store_url).open_room()


def test_an_unreachable_postgresql_fails_naming_it_without_the_password(postgres_server):
    port = postgres_server.url.rsplit(":", 1)[1].split("/")[0]
    wrong = postgres_server.url.replace(f":{port}/", ":1/")
    with pytest.raises(StoreError) as caught:
        RoomStore(wrong).open_room()
    text = str(caught.value)
    password = postgres_server.url.split(":")[2].split("@")[0]
    assert password not in text and ":***@127.0.0.1:1/postgres" in text


def test_a_postgresql_connection_that_died_in_the_pool_is_replaced(postgres_server):
    import psycopg

    url = postgres_server.fresh_url()
    store = RoomStore(url)
    room = store.open_room()
    # The server ends every other session, as a restart or an idle timeout would.
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "application_name = 'lstm-explorer rooms'").fetchall()
    assert ended
    assert store.state(room.code, room.teacher_key).students == 0
    store.close()


def test_the_rooms_library_imports_neither_streamlit_nor_tensorflow():
    code = ("import sys, lstm_explorer.rooms.store\n"
            "assert 'plotly' not in sys.modules, 'the store starts without plotly'\n"
            "from lstm_explorer.rooms import class_view, class_metric, summary_of\n"
            "bad = [m for m in ('tensorflow', 'keras', 'streamlit', 'psycopg') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sqlite_and_postgresql_run_the_same_statements():
    sqlite, postgres = SqliteEngine(engines.Path("x.db")), PostgresEngine("postgresql://h/d")
    statement = "SELECT a FROM rooms WHERE code = ? AND b = ?"
    assert sqlite.sql(statement) == statement
    assert postgres.sql(statement) == "SELECT a FROM rooms WHERE code = %s AND b = %s"
    assert (sqlite.lock_suffix, postgres.lock_suffix) == ("", " FOR UPDATE")
