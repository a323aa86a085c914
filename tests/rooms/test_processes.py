"""Two app processes share one room: each sees the runs the other's students sent.

The processes are started as separate app processes are, with `python` itself: nothing
is inherited but the store URL and the room code (a fork would also share the parent's
open connections, which the pool guards against separately). Not multiprocessing's
`spawn`: it re-imports the parent's `__main__`, which in a test session that ran AppTest
is not pytest's, and the children failed before their first line.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstm_explorer.rooms.engines import Pool, SqliteEngine
from lstm_explorer.rooms.store import RoomStore
from tests.rooms.helpers import summary

RUNS_EACH = 4
ROOT = Path(__file__).resolve().parents[2]


def app_process(url: str, code: str, name: str, total: int) -> tuple:
    """One app process: a student joins, sends runs, then polls until it has seen
    `total` runs in the room; returns what it saw."""
    store = RoomStore(url)
    try:
        seat = store.join(code, client=name)
        for index in range(RUNS_EACH):
            store.send(code, seat.token, f"{name} {index}", summary())
        deadline, seen = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            listing = store.runs(code, seat.token)
            seen = [run.name for run in listing.runs]
            if len(seen) >= total:
                break
            time.sleep(0.05)
        return name, seat.student, sorted(seen)
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        return name, None, repr(error)
    finally:
        store.close()


def test_two_processes_share_one_room_and_see_each_others_runs(store_url, store):
    room = store.open_room()
    names = ["first process", "second process"]
    script = ("import json, sys; from tests.rooms.test_processes import app_process; "
              "print(json.dumps(app_process(*sys.argv[1:4], int(sys.argv[4]))))")
    processes = [subprocess.Popen([sys.executable, "-c", script, store_url, room.code, name,
                                   str(2 * RUNS_EACH)], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for name in names]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    expected = sorted(f"{name} {index}" for name in names for index in range(RUNS_EACH))
    for name, student, seen in reports:
        assert student is not None, f"{name} failed: {seen}"
        assert seen == expected, name
    assert sorted(student for _, student, _ in reports) == [1, 2]
    state = store.state(room.code, room.teacher_key)
    assert (state.students, state.runs) == (2, 2 * RUNS_EACH)


def _fork_child(pool: Pool, answer) -> None:
    try:
        with pool.connection() as (connection, reused):
            connection.execute("SELECT 1").fetchone()
            answer.put(reused)
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        answer.put(repr(error))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="fork is a POSIX start method")
def test_a_forked_process_opens_its_own_connections_not_its_parents(tmp_path):
    pool = Pool(SqliteEngine(tmp_path / "rooms.sqlite3"))
    with pool.connection() as (connection, _):
        parent = connection
    context = multiprocessing.get_context("fork")
    answer = context.Queue()
    child = context.Process(target=_fork_child, args=(pool, answer))
    child.start()
    assert answer.get(timeout=30) is False  # a new connection, not the parent's
    child.join(30)
    with pool.connection() as (connection, reused):
        assert connection is parent and reused
    pool.close()
