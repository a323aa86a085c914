"""Room stores for the tests: every store test runs on SQLite and on PostgreSQL.

`store_url` is parametrized over both engines: a SQLite file in the test's own folder,
or an empty schema of one PostgreSQL server started for the session (`postgres.py`).
`make_store` builds stores on that URL with the limits and clock a test gives.
"""

from __future__ import annotations

import time

import pytest

from lstm_explorer.rooms.limits import RoomLimits
from lstm_explorer.rooms.store import RoomStore
from tests.rooms import postgres

ENGINES = ("sqlite", "postgresql")


class Clock:
    """A clock a test moves by hand (Unix seconds, starting now)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def postgres_server():
    with postgres.server() as server:
        yield server


@pytest.fixture(params=ENGINES)
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/rooms.sqlite3"
    return request.getfixturevalue("postgres_server").fresh_url()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_store(store_url, clock):
    """`make_store(**limits)`: a store on the test's database with these room limits
    (the others at their defaults, whatever the environment says) and the test's clock."""
    made: list[RoomStore] = []

    def make(**limits) -> RoomStore:
        store = RoomStore(store_url, limits=RoomLimits(**limits), clock=clock)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store) -> RoomStore:
    return make_store()
