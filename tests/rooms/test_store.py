"""The room store, on SQLite and on PostgreSQL (every test runs on both engines)."""

from __future__ import annotations

import threading

import pytest

from lstm_explorer.rooms import codes
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
)
from lstm_explorer.rooms.limits import JOIN_WINDOW_SECONDS
from lstm_explorer.rooms.store import RoomStore, RunList, SentRun, hidden_name, join_client
from tests.rooms.helpers import summary

SUMMARY = summary()


def send(store, seat, name="Ada", run=SUMMARY) -> SentRun:
    return store.send(seat.code, seat.token, name, run)


# --- the lifecycle -----------------------------------------------------------------------


def test_a_student_joins_with_the_code_as_typed_and_the_teacher_sees_the_count(store):
    room = store.open_room()
    assert codes.normalize_code(room.code) == room.code
    typed = room.code.replace("-", " ").lower().replace("0", "o")
    first = store.join(typed, client="a")
    second = store.join(room.code, client="b")
    assert (first.code, first.student, second.student) == (room.code, 1, 2)
    assert first.token != second.token
    state = store.state(room.code, room.teacher_key)
    assert (state.students, state.runs, state.locked, state.names_hidden) == (2, 0, False, False)
    assert store.role(room.code, room.teacher_key) == "teacher"
    assert store.role(room.code, first.token) == "student"


def test_a_students_token_gives_back_their_seat_and_no_other_rooms(store):
    room, other = store.open_room(), store.open_room()
    first = store.join(room.code, client="a")
    second = store.join(room.code, client="b")
    assert store.seat_of(room.code, second.token) == second
    assert store.seat_of(room.code, first.token).student == 1
    with pytest.raises(NotAllowed, match="join the room with its code"):
        store.seat_of(other.code, first.token)
    with pytest.raises(NotAllowed):
        store.seat_of(room.code, room.teacher_key)  # the teacher holds no seat
    assert store.state(room.code, room.teacher_key).students == 2  # nobody joined again


def test_a_sent_run_comes_back_to_the_teacher_and_every_student_as_it_was_sent(store, clock):
    room = store.open_room()
    ada, bo = store.join(room.code, client="a"), store.join(room.code, client="b")
    sent = send(store, ada, "Ada")
    assert (sent.code, sent.student, sent.name, sent.sent_at) == (room.code, 1, "Ada", clock.now)
    for key in (room.teacher_key, ada.token, bo.token):
        listing = store.runs(room.code, key)
        assert [run.id for run in listing.runs] == [sent.id]
        got = listing.runs[0]
        assert got.summary == SUMMARY and got.size == sent.size and got.name == "Ada"
    assert store.state(room.code, bo.token).runs == 1


def test_display_names_with_html_come_back_as_given(store):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    names = ["<script>alert(1)</script>", "<b>Bo</b> & \"Cy\"", "%{y} 'Dee'", "Zoë 🙂"]
    for name in names:
        send(store, seat, name)
    assert [run.name for run in store.runs(room.code, room.teacher_key).runs] == names


@pytest.mark.parametrize("name", ["", "   ", "x" * 41, "Ada\nBo", "tab\there", 7, None])
def test_a_display_name_that_is_empty_too_long_or_not_text_is_refused_by_name(store, name):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    with pytest.raises(InvalidInput, match=r"^name="):
        send(store, seat, name)


def test_hidden_names_read_as_student_numbers_until_shown_again(store):
    room = store.open_room()
    ada, bo = store.join(room.code, client="a"), store.join(room.code, client="b")
    send(store, ada, "Ada")
    send(store, bo, "Bo")
    store.hide_names(room.code, room.teacher_key)
    for key in (room.teacher_key, ada.token):
        listing = store.runs(room.code, key)
        assert listing.names_hidden
        assert [run.name for run in listing.runs] == [hidden_name(1), hidden_name(2)]
    assert store.state(room.code, ada.token).names_hidden
    store.hide_names(room.code, room.teacher_key, hidden=False)
    assert [run.name for run in store.runs(room.code, bo.token).runs] == ["Ada", "Bo"]


def test_a_locked_room_refuses_joins_and_sends_until_the_teacher_unlocks_it(store):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    store.lock(room.code, room.teacher_key)
    with pytest.raises(RoomLocked, match=f"room {room.code} is locked by the teacher.*unlock"):
        store.join(room.code, client="b")
    with pytest.raises(RoomLocked):
        send(store, seat)
    assert store.state(room.code, seat.token).locked
    store.lock(room.code, room.teacher_key, locked=False)
    send(store, seat)
    assert store.join(room.code, client="b").student == 2


def test_a_removed_run_is_gone_for_everyone_and_cannot_be_removed_twice(store):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    first, second = send(store, seat, "one"), send(store, seat, "two")
    store.remove_run(room.code, room.teacher_key, first.id)
    assert [run.name for run in store.runs(room.code, seat.token).runs] == ["two"]
    with pytest.raises(RoomError, match=f"room {room.code} holds no run {first.id}"):
        store.remove_run(room.code, room.teacher_key, first.id)
    assert store.state(room.code, room.teacher_key).runs == 1
    assert second.id > first.id


def test_an_ended_room_is_gone_for_everyone_with_its_runs(store):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    send(store, seat)
    store.end(room.code, room.teacher_key)
    for call in (lambda: store.state(room.code, room.teacher_key),
                 lambda: store.runs(room.code, seat.token),
                 lambda: send(store, seat),
                 lambda: store.join(room.code, client="b"),
                 lambda: store.end(room.code, room.teacher_key)):
        with pytest.raises(RoomNotFound, match=f"no room {room.code} is open"):
            call()


def test_rooms_do_not_see_each_others_students_or_runs(store):
    one, two = store.open_room(), store.open_room()
    assert one.code != two.code
    seat = store.join(one.code, client="a")
    send(store, seat)
    assert store.runs(two.code, two.teacher_key).ids == ()
    with pytest.raises(NotAllowed, match=f"neither the teacher's nor a student's of room {two.code}"):
        store.runs(two.code, seat.token)
    with pytest.raises(NotAllowed, match=f"not one of room {two.code}'s"):
        store.send(two.code, seat.token, "Ada", SUMMARY)


# --- permissions --------------------------------------------------------------------------

TEACHER_ACTIONS = {
    "end": lambda store, code, key, run: store.end(code, key),
    "lock": lambda store, code, key, run: store.lock(code, key),
    "unlock": lambda store, code, key, run: store.lock(code, key, locked=False),
    "remove": lambda store, code, key, run: store.remove_run(code, key, run),
    "hide names": lambda store, code, key, run: store.hide_names(code, key),
}


@pytest.mark.parametrize("action", TEACHER_ACTIONS)
def test_only_the_teacher_key_can_end_lock_remove_or_hide_names(store, action):
    room, other = store.open_room(), store.open_room()
    seat = store.join(room.code, client="a")
    run = send(store, seat)
    before = store.state(room.code, room.teacher_key)
    wrong_keys = [seat.token, other.teacher_key, "", None, room.teacher_key + "x",
                  room.teacher_key[:-1]]
    for key in wrong_keys:
        with pytest.raises(NotAllowed, match=f"only the teacher of room {room.code} can"):
            TEACHER_ACTIONS[action](store, room.code, key, run.id)
    assert store.state(room.code, room.teacher_key) == before
    assert [r.name for r in store.runs(room.code, seat.token).runs] == ["Ada"]
    TEACHER_ACTIONS[action](store, room.code, room.teacher_key, run.id)


def test_a_key_of_no_one_in_the_room_reads_nothing(store):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    send(store, seat)
    for key in ("", "guess", seat.token[:-1], codes.key_hash(seat.token), None):
        for read in (store.state, store.runs, store.role):
            with pytest.raises(NotAllowed):
                read(room.code, key)


def test_the_database_keeps_only_hashes_of_the_teacher_key_and_student_tokens(store_url, store):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    send(store, seat)
    dump = _dump(store)
    assert room.code in dump and codes.key_hash(room.teacher_key) in dump
    assert room.teacher_key not in dump and seat.token not in dump


def _dump(store: RoomStore) -> str:
    tables = ("rooms", "room_students", "room_runs", "room_join_failures")
    return repr([store._transaction(False, lambda db, t=t: db.all(f"SELECT * FROM {t}"))
                 for t in tables])


# --- polling --------------------------------------------------------------------------------


def test_runs_after_an_id_brings_only_newer_summaries_and_merge_keeps_the_rest(store):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    first, second = send(store, seat, "one"), send(store, seat, "two")
    listing = store.runs(room.code, room.teacher_key)
    known = {run.id: run for run in listing.merge()}
    third = send(store, seat, "three")
    store.remove_run(room.code, room.teacher_key, first.id)
    store.hide_names(room.code, room.teacher_key)
    later = store.runs(room.code, room.teacher_key, after=listing.last_id)
    assert [run.id for run in later.runs] == [third.id]
    assert later.ids == (second.id, third.id) and later.last_id == third.id
    merged = later.merge(known)
    assert [(run.id, run.name) for run in merged] == [(second.id, "student 1"),
                                                       (third.id, "student 1")]
    assert merged[0].summary == SUMMARY


def test_the_version_moves_with_every_change_and_only_with_a_change(store):
    room = store.open_room()
    versions = [store.state(room.code, room.teacher_key).version]

    def changed(step) -> bool:
        step()
        versions.append(store.state(room.code, room.teacher_key).version)
        return versions[-1] != versions[-2]

    seat = store.join(room.code, client="a")
    assert changed(lambda: store.join(room.code, client="b"))
    assert changed(lambda: send(store, seat))
    assert changed(lambda: store.hide_names(room.code, room.teacher_key))
    assert not changed(lambda: store.hide_names(room.code, room.teacher_key))
    assert changed(lambda: store.lock(room.code, room.teacher_key))
    assert not changed(lambda: store.lock(room.code, room.teacher_key))
    assert not changed(lambda: store.runs(room.code, seat.token))
    run_id = store.runs(room.code, seat.token).last_id
    assert changed(lambda: store.remove_run(room.code, room.teacher_key, run_id))
    assert versions == sorted(versions)


def test_runs_merged_from_a_run_list_with_a_run_read_before_it_was_kept():
    run = SentRun(3, "K7Q-M2X", 1, "Ada", 0.0, 10, {})
    listing = RunList(version=5, names_hidden=False, runs=(), ids=(2, 3), names={3: "Ada"})
    assert listing.merge({3: run}) == [run]  # 2 was read with an `after` past it: dropped


# --- limits ---------------------------------------------------------------------------------


def test_a_student_may_send_the_runs_per_student_limit_and_no_more(make_store):
    store = make_store(max_runs_per_student=2)
    room = store.open_room()
    ada, bo = store.join(room.code, client="a"), store.join(room.code, client="b")
    first = send(store, ada)
    send(store, ada)
    with pytest.raises(LimitReached, match=r"you have sent 2 runs to room .* "
                                           "LSTM_EXPLORER_ROOM_MAX_RUNS_PER_STUDENT") as caught:
        send(store, ada)
    assert caught.value.variable == "LSTM_EXPLORER_ROOM_MAX_RUNS_PER_STUDENT"
    send(store, bo)  # the limit is per student
    store.remove_run(room.code, room.teacher_key, first.id)
    send(store, ada)  # a removed run frees its place


def test_a_room_holds_the_runs_per_room_limit_and_no_more(make_store):
    store = make_store(max_runs=3)
    room = store.open_room()
    seats = [store.join(room.code, client=f"c{i}") for i in range(4)]
    for seat in seats[:3]:
        send(store, seat)
    with pytest.raises(LimitReached, match=f"room {room.code} holds 3 runs.*"
                                           "LSTM_EXPLORER_ROOM_MAX_RUNS"):
        send(store, seats[3])
    assert store.state(room.code, room.teacher_key).runs == 3


def test_a_room_takes_the_students_limit_and_no_more(make_store):
    store = make_store(max_students=2)
    room = store.open_room()
    store.join(room.code, client="a")
    store.join(room.code, client="a")
    with pytest.raises(LimitReached, match=f"room {room.code} is full: 2 students.*"
                                           "LSTM_EXPLORER_ROOM_MAX_STUDENTS"):
        store.join(room.code, client="a")


def test_a_summary_over_the_size_limit_is_refused_with_its_size_and_the_limit(make_store):
    store = make_store(max_run_kb=1)
    room = store.open_room()
    seat = store.join(room.code, client="a")
    big = summary(epochs=20, steps=40)
    with pytest.raises(RunTooLarge) as caught:
        send(store, seat, run=big)
    error = caught.value
    assert error.limit == 1024 and error.size > 1024 and error.code == room.code
    assert f"({error.size:,} bytes)" in str(error) and "at most 1.0 KB (1,024 bytes)" in str(error)
    assert "LSTM_EXPLORER_ROOM_MAX_RUN_KB" in str(error)
    assert store.state(room.code, room.teacher_key).runs == 0


def test_a_room_ends_by_itself_after_its_lifetime_and_is_cleared_out(make_store, clock):
    store = make_store(hours=2)
    room = store.open_room()
    short = store.open_room(hours=0.5)
    seat = store.join(room.code, client="a")
    send(store, seat)
    clock.advance(3600)
    with pytest.raises(RoomExpired, match=f"room {short.code} has ended: a room lasts 0.5 hours"):
        store.state(short.code, short.teacher_key)
    assert store.state(room.code, seat.token).runs == 1
    clock.advance(3600)
    with pytest.raises(RoomExpired, match="lasts 2 hours at most.*open a new one"):
        send(store, seat)
    assert store.purge() == 2
    with pytest.raises(RoomNotFound):
        store.runs(room.code, room.teacher_key)
    assert "Ada" not in _dump(store)


@pytest.mark.parametrize("hours", [0, -1, 2.5, float("nan"), "1", True])
def test_a_room_lifetime_beyond_the_limit_or_not_a_number_is_refused_by_name(make_store, hours):
    with pytest.raises(InvalidInput, match=r"^hours=.*at most 2 \(LSTM_EXPLORER_ROOM_HOURS\)"):
        make_store(hours=2).open_room(hours=hours)


# --- the join rate limit --------------------------------------------------------------------


def test_wrong_codes_from_one_client_are_refused_for_a_minute_after_the_limit(make_store, clock):
    store = make_store(join_failures=3)
    room = store.open_room()
    wrong = [codes.new_code() for _ in range(3)]
    for code in wrong[:2]:
        with pytest.raises(RoomNotFound):
            store.join(code, client="10.0.0.5")
    clock.advance(20)
    with pytest.raises(BadCode, match="'K7Q' is not a room code: a code has six"):
        store.join("K7Q", client="10.0.0.5")
    clock.advance(1)
    # Even the right code: the client is refused before any code is looked at.
    with pytest.raises(JoinRateLimited, match=r"too many wrong room codes from this device "
                                              r"\(3 in the last 60 s\): wait 39 s") as caught:
        store.join(room.code, client="10.0.0.5")
    assert caught.value.retry_after == pytest.approx(JOIN_WINDOW_SECONDS - 21)
    assert store.join(room.code, client="10.0.0.6").student == 1  # another client is not
    clock.advance(39.5)  # the first two failures are a minute old: one left in the window
    assert store.join(room.code, client="10.0.0.5").student == 2


def test_refused_joins_do_not_count_so_waiting_is_enough(make_store, clock):
    store = make_store(join_failures=2)
    room = store.open_room()
    for _ in range(2):
        with pytest.raises(RoomNotFound):
            store.join(codes.new_code(), client="x")
    for _ in range(5):
        clock.advance(10)
        with pytest.raises(JoinRateLimited):
            store.join(room.code, client="x")
    clock.advance(10.5)
    assert store.join(room.code, client="x").code == room.code


def test_a_locked_room_is_no_wrong_code_and_does_not_count_against_the_client(make_store):
    store = make_store(join_failures=1)
    room = store.open_room()
    store.lock(room.code, room.teacher_key)
    for _ in range(3):
        with pytest.raises(RoomLocked):
            store.join(room.code, client="x")


@pytest.mark.parametrize("client", ["", "  ", None, "x" * 201])
def test_a_join_needs_a_client_identifier_for_the_rate_limit(store, client):
    room = store.open_room()
    with pytest.raises(InvalidInput, match=r"^client="):
        store.join(room.code, client=client)


# --- restarts, threads ----------------------------------------------------------------------


def test_a_new_store_on_the_same_database_loses_nothing(store_url, store, clock):
    room = store.open_room()
    seat = store.join(room.code, client="a")
    sent = send(store, seat, "<i>Ada</i>")
    store.hide_names(room.code, room.teacher_key)
    store.lock(room.code, room.teacher_key)
    state = store.state(room.code, room.teacher_key)
    store.close()
    del store
    again = RoomStore(store_url, clock=clock)
    try:
        assert again.state(room.code, seat.token) == state
        run = again.runs(room.code, room.teacher_key).runs[0]
        assert (run.id, run.name, run.summary) == (sent.id, "student 1", SUMMARY)
        again.hide_names(room.code, room.teacher_key, hidden=False)
        assert again.runs(room.code, seat.token).runs[0].name == "<i>Ada</i>"
        with pytest.raises(RoomLocked):
            again.join(room.code, client="b")
    finally:
        again.close()


def test_many_threads_join_and_send_at_once_and_nothing_is_lost(store):
    room = store.open_room()
    errors: list[BaseException] = []
    sent: list[int] = []

    def student(index: int) -> None:
        try:
            seat = store.join(room.code, client=f"thread {index}")
            for round_ in range(3):
                sent.append(store.send(room.code, seat.token, f"s{index}r{round_}", SUMMARY).id)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            errors.append(error)

    threads = [threading.Thread(target=student, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    listing = store.runs(room.code, room.teacher_key)
    assert sorted(listing.ids) == sorted(sent) and len(set(sent)) == 24
    state = store.state(room.code, room.teacher_key)
    assert (state.students, state.runs) == (8, 24)
    assert sorted(run.student for run in listing.runs) == sorted(list(range(1, 9)) * 3)
    assert store.timings()["send"]["calls"] == 24


def test_a_limit_holds_when_many_students_send_at_the_same_moment(make_store):
    store = make_store(max_runs=5)
    room = store.open_room()
    seats = [store.join(room.code, client=f"c{index}") for index in range(12)]
    barrier = threading.Barrier(len(seats))
    outcomes: list[object] = []

    def student(seat) -> None:
        barrier.wait(30)
        try:
            outcomes.append(store.send(room.code, seat.token, "Ada", SUMMARY))
        except LimitReached as error:
            outcomes.append(error)

    threads = [threading.Thread(target=student, args=(seat,)) for seat in seats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(isinstance(outcome, SentRun) for outcome in outcomes) == 5
    assert sum(isinstance(outcome, LimitReached) for outcome in outcomes) == 7
    assert store.state(room.code, room.teacher_key).runs == 5


def test_the_join_client_is_the_address_nginx_saw_never_one_the_browser_wrote():
    # nginx appends the browser's address; what comes before it is the browser's own text.
    assert join_client(None, "6.6.6.6, 203.0.113.9") == "203.0.113.9"
    assert join_client("10.1.2.3", "203.0.113.9") == "203.0.113.9"
    assert join_client("::1", " 2001:db8::7 ") == "2001:db8::7"
    # A browser that reaches the app directly cannot choose its identity with a header.
    assert join_client("81.2.69.160", "203.0.113.9") == "81.2.69.160"
    assert join_client("127.0.0.1", "not an address") == "127.0.0.1"
    assert join_client(None, None, "s1") == "session s1"
    assert join_client(None, "", None) == "session unknown"
