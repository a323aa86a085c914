"""The class room through the app's pages (AppTest): open, join, send, the class view,
lock, hide names, remove, end, Compare Runs, and who may do what.

Each test has its own room store (`LSTM_EXPLORER_ROOMS_DB`, a SQLite file in the test's
folder); runs that need no training are sent straight to the store with the summaries
of `tests.rooms.helpers`, as another student's browser would send them.
"""

from __future__ import annotations

import json
import re

import pytest

from lstm_explorer import rooms
from lstm_explorer.ui import room_view
from tests.app.conftest import TINY, explorer, figures, new_app, no_exceptions, text, wait_for_job
from tests.rooms import helpers

ROOM_PAGE = "pages/class_room.py"
CLASS_TITLES = ("Final validation mean absolute error against units",
                "Gradient reaching step 0 against units", "Loss of every run")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The store the app uses in this test (a SQLite file of its own)."""
    url = f"sqlite:///{tmp_path}/rooms.sqlite3"
    monkeypatch.setenv("LSTM_EXPLORER_ROOMS_DB", url)
    for variable in rooms.limits.ENV_NAMES.values():
        monkeypatch.delenv(variable, raising=False)
    return rooms.default_store(url)


def plain(markdown: str) -> str:
    """Markdown as a person reads it: backslash escapes undone."""
    return re.sub(r"\\(.)", r"\1", markdown)


def said(at, kind: str) -> str:
    """The texts of one kind of message (`error`, `warning`...), as a person reads them."""
    return plain(text(at, kind))


def page_text(at) -> str:
    """Everything a person reads on the page: Markdown, captions, alerts, notices."""
    parts = [str(element.value) for kind in ("markdown", "caption", "success", "info",
                                             "warning", "error") for element in getattr(at, kind)]
    return plain("\n".join(parts))


def room_page(query: dict | None = None):
    at = new_app(query)
    at.switch_page(ROOM_PAGE).run()
    no_exceptions(at)
    return at


def metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def open_room(at):
    """Click "Open a room"; the room code the page shows."""
    at.button(key=room_view.OPEN_BUTTON).click().run()
    no_exceptions(at)
    return at.query_params["room"]


def send_from_another_student(store, code: str, name: str, units: int, **history):
    seat = store.join(code, client=f"another browser {name}")
    return store.send(code, seat.token, name, helpers.summary({"layer1.units": units},
                                                              **history))


def trained_student(store, code: str, units: int = 4):
    """A student who opened the class link and trained a tiny run."""
    at = new_app({**TINY, "layer1.units": str(units), "room": code})
    no_exceptions(at)
    at.button(key="train").click().run()
    return wait_for_job(at)


def type_code(at, code: str):
    """Type a room code into the join form and press Join (one run, as a form sends)."""
    at.text_input(key=room_view.CODE_KEY).input(code)
    at.button(key=room_view.JOIN_BUTTON).click().run()
    no_exceptions(at)
    return at


def press_send(at, name: str):
    at.text_input(key=room_view.NAME_KEY).input(name)
    at.button(key=room_view.SEND_BUTTON).click().run()
    no_exceptions(at)
    return at


# --- opening, and the teacher's link -------------------------------------------------------


def test_a_teacher_opens_a_room_sees_code_link_and_counts_and_a_reload_keeps_them_in_charge(
        store):
    at = room_page({**TINY, "layer1.units": "6"})
    assert "Open a room" in [button.label for button in at.button]
    code = open_room(at)
    teacher_key = at.query_params["teacher"]
    assert store.role(code, teacher_key) == "teacher"
    # The code, large; the students' link with the config and the room, never the key.
    assert any(code in element.proto.body for element in at.get("html"))
    link = at.code[0].value
    assert f"room={code}" in link and "layer1.units=6" in link and "task.seq_len=6" in link
    assert teacher_key not in link and "teacher=" not in link
    assert metrics(at) == {"Students joined": "0", "Runs received": "0"}
    assert "No runs yet" in said(at, "info")

    # The teacher's own link (a reload, another tab) is the teacher again.
    again = room_page({"room": code, "teacher": teacher_key})
    assert "Students joined" in metrics(again)
    assert [toggle.label for toggle in again.toggle][:2] == ["Hide names", "Lock room"]
    assert again.query_params["teacher"] == teacher_key
    assert store.state(code, teacher_key).students == 0  # the teacher did not join


def test_a_link_with_a_wrong_teacher_key_is_a_notice_not_a_teacher_and_not_a_traceback(store):
    room = store.open_room()
    at = room_page({"room": room.code, "teacher": "guessed-key"})
    assert "could not be joined" in said(at, "warning")
    assert "not the teacher key" in said(at, "warning")
    assert "Hide names" not in [toggle.label for toggle in at.toggle]
    assert "teacher" not in at.query_params and "room" not in at.query_params


# --- joining -------------------------------------------------------------------------------


def test_join_errors_are_messages_that_say_what_to_do(store, monkeypatch):
    room = store.open_room()
    # By link: no such room.
    at = new_app({"room": "ZZZ-ZZZ"})
    no_exceptions(at)
    warning = said(at, "warning")
    assert "could not be joined" in warning and "no room ZZZ-ZZZ is open" in warning
    # Typed: not a code at all; then a locked room.
    at.switch_page(ROOM_PAGE).run()
    assert at.text_input(key=room_view.CODE_KEY).value == "ZZZ-ZZZ"  # offered to fix
    type_code(at, "hello")
    no_exceptions(at)
    assert "'hello' is not a room code" in said(at, "error")
    store.lock(room.code, room.teacher_key)
    type_code(at, room.code.lower())
    assert f"room {room.code} is locked by the teacher" in said(at, "error")
    # Too many wrong codes from one client: the wait is shown.
    monkeypatch.setenv("LSTM_EXPLORER_ROOM_JOIN_FAILURES", "2")
    for _ in range(3):
        type_code(at, "AAA-AAA")
    no_exceptions(at)
    error = said(at, "error")
    assert "too many wrong room codes" in error and "wait" in error and " s" in error
    assert store.state(room.code, room.teacher_key).students == 0


def test_a_student_joins_by_typing_the_code_and_leaves(store):
    room = store.open_room()
    at = room_page()
    type_code(at, f" {room.code.lower()} ")
    no_exceptions(at)
    assert f"joined class room {room.code} as student 1" in said(at, "success")
    assert f"student 1** in class room **{room.code}" in page_text(at)
    assert at.query_params["room"] == room.code and "teacher" not in at.query_params
    assert store.state(room.code, room.teacher_key).students == 1
    at.button(key=room_view.LEAVE_BUTTON).click().run()
    assert "You left class room" in said(at, "info")
    assert "room" not in at.query_params


# --- sending -------------------------------------------------------------------------------


def test_a_student_joins_by_link_trains_sends_and_sees_only_what_they_sent(store):
    room = store.open_room()
    send_from_another_student(store, room.code, "Someone Else", 8)
    at = trained_student(store, room.code, units=4)
    assert at.query_params["room"] == room.code
    assert f"class room {room.code}" not in said(at, "warning")
    press_send(at, "<b>Ada</b> **x**")
    assert "Sent to class room" in said(at, "success")
    assert "\\<b\\>Ada\\</b\\> \\*\\*x\\*\\*" in text(at, "success")  # escaped text
    listed = store.runs(room.code, room.teacher_key).runs
    assert [(run.name, run.summary["config"]["model"]["layers"][0]["units"])
            for run in listed] == [("Someone Else", 8), ("<b>Ada</b> **x**", 4)]
    mine = listed[-1].summary
    assert mine["history"]["status"] == "finished" and len(mine["history"]["epochs"]) == 2
    # The summary only: no weights, trace arrays or data of the session.
    assert sorted(mine) == ["config", "final", "format", "history", "verdict"]
    assert mine["verdict"].startswith(("Learned", "Diverged")) and len(json.dumps(mine)) < 20_000
    # The same run is not sent twice.
    assert not [button for button in at.button if button.key == room_view.SEND_BUTTON]
    at.switch_page(ROOM_PAGE).run()
    no_exceptions(at)
    shown = page_text(at)
    assert "What you sent" in shown and "Ada" in shown
    assert "Someone Else" not in shown  # nothing of another student's
    assert not at.get("plotly_chart")
    # The next run offers the name typed before (the box was not drawn in between).
    at.switch_page("pages/build_train.py").run()
    at.button(key="train").click().run()
    wait_for_job(at)
    assert at.text_input(key=room_view.NAME_KEY).value == "<b>Ada</b> **x**"


def test_a_student_who_reloads_keeps_their_seat_and_what_they_sent(store):
    room = store.open_room()
    at = trained_student(store, room.code, units=4)
    press_send(at, "Ada")
    students = store.state(room.code, room.teacher_key).students
    # The student's own address holds the seat; the link the teacher hands out does not.
    own = {key: value for key, value in at.query_params.items()}
    assert own["room"] == room.code and own.get("seat")
    reloaded = room_page({key: value[0] if isinstance(value, list) else value
                          for key, value in own.items()})
    no_exceptions(reloaded)
    assert store.state(room.code, room.teacher_key).students == students  # no new student
    shown = page_text(reloaded)
    assert "What you sent" in shown and "Ada" in shown
    # A seat made up (or of another room) joins as a new student, without an error.
    stranger = room_page({"room": room.code, "seat": "not-a-seat"})
    no_exceptions(stranger)
    assert store.state(room.code, room.teacher_key).students == students + 1


def test_send_refusals_are_messages_and_an_empty_name_is_asked_for(store, monkeypatch):
    room = store.open_room()
    at = trained_student(store, room.code)
    # No name.
    press_send(at, "   ")
    assert "Type the name the class should see" in said(at, "error")
    # Locked.
    store.lock(room.code, room.teacher_key)
    press_send(at, "Ada")
    assert f"room {room.code} is locked by the teacher" in said(at, "error")
    store.lock(room.code, room.teacher_key, False)
    # Too large for the server.
    monkeypatch.setenv("LSTM_EXPLORER_ROOM_MAX_RUN_KB", "0.5")
    press_send(at, "Ada")
    error = said(at, "error")
    assert "may be at most 0.5 KB" in error and "LSTM_EXPLORER_ROOM_MAX_RUN_KB" in error
    monkeypatch.delenv("LSTM_EXPLORER_ROOM_MAX_RUN_KB")
    # The room is full.
    monkeypatch.setenv("LSTM_EXPLORER_ROOM_MAX_RUNS", "1")
    send_from_another_student(store, room.code, "Bo", 8)
    press_send(at, "Ada")
    assert "the most a room holds" in said(at, "error")
    assert at.text_input(key=room_view.NAME_KEY).value == "Ada"  # the name stays
    # Ended: the student leaves it.
    store.end(room.code, room.teacher_key)
    press_send(at, "Ada")
    error = said(at, "error")
    assert "Not sent, and you left the room" in error and f"no room {room.code} is open" in error
    at.run()
    assert "room" not in at.query_params and "class room" not in page_text(at)
    no_exceptions(at)


def test_without_a_room_build_and_train_has_no_send_and_the_link_no_room(store):
    at = new_app(TINY)
    at.button(key="train").click().run()
    wait_for_job(at)
    no_exceptions(at)
    assert room_view.SEND_BUTTON not in [button.key for button in at.button]
    assert "class room" not in page_text(at)
    assert "room" not in at.query_params


# --- the teacher's class view --------------------------------------------------------------


def teacher_with_runs(store, *runs):
    at = room_page()
    code = open_room(at)
    for name, units, history in runs:
        send_from_another_student(store, code, name, units, **history)
    at.run()
    no_exceptions(at)
    return at, code, at.query_params["teacher"]


def test_the_class_view_draws_every_run_and_escapes_names(store):
    at, code, _key = teacher_with_runs(
        store, ("<b>Ada</b>", 8, {"final_loss": 0.02}), ("**Bo** %{x}", 32, {"final_loss": 0.5}),
        ("Cy", 64, {"final_loss": 0.01}))
    assert metrics(at) == {"Students joined": "3", "Runs received": "3"}
    charts = figures(at)
    assert tuple(charts) == CLASS_TITLES
    metric = charts[CLASS_TITLES[0]]
    xs = sorted(x for trace in metric["data"] if trace["name"] != "median" for x in trace["x"])
    assert xs == [8, 32, 64]
    names = [row[0] for trace in metric["data"] for row in trace.get("customdata", [])]
    assert "&lt;b&gt;Ada&lt;/b&gt;" in names and "<b>Ada</b>" not in json.dumps(metric)
    # The runs list: names as escaped Markdown, newest first.
    shown = [str(element.value) for element in at.markdown]
    assert "\\<b\\>Ada\\</b\\>" in shown and "\\*\\*Bo\\*\\* \\%\\{x\\}" in shown
    assert shown.index("Cy") < shown.index("\\<b\\>Ada\\</b\\>")
    # A run sent now appears on the next look, without a reload of the page.
    send_from_another_student(store, code, "Di", 16)
    at.run()
    assert metrics(at)["Runs received"] == "4"


def test_hide_lock_remove_and_end_act_on_the_room(store):
    at, code, key = teacher_with_runs(store, ("Ada", 8, {}), ("Bo", 32, {}))
    at.toggle(key=room_view.HIDE_KEY).set_value(True).run()
    no_exceptions(at)
    assert store.state(code, key).names_hidden
    shown = [str(element.value) for element in at.markdown]
    assert "student 1" in shown and "student 2" in shown and "Ada" not in shown
    at.toggle(key=room_view.LOCK_KEY).set_value(True).run()
    assert store.state(code, key).locked
    with pytest.raises(rooms.RoomLocked):
        store.join(code, client="late student")
    at.toggle(key=room_view.LOCK_KEY).set_value(False).run()
    assert not store.state(code, key).locked

    first = store.runs(code, key).ids[0]
    at.button(key=f"room_remove_{first}").click().run()
    no_exceptions(at)
    assert store.runs(code, key).ids == (first + 1,)
    assert metrics(at)["Runs received"] == "1"

    at.button(key=room_view.END_BUTTON).click().run()
    assert f"End room {code}?" in said(at, "warning")
    at.button(key=room_view.END_NO).click().run()
    assert store.state(code, key).runs == 1  # cancelled: nothing happened
    at.button(key=room_view.END_BUTTON).click().run()
    at.button(key=room_view.END_YES).click().run()
    no_exceptions(at)
    with pytest.raises(rooms.RoomNotFound):
        store.state(code, key)
    assert f"Room {code} has ended" in said(at, "info")
    assert "Open a room" in [button.label for button in at.button]
    assert "room" not in at.query_params and "teacher" not in at.query_params


def test_one_click_takes_runs_into_compare_runs_with_names_safe_for_plotly(store):
    at, code, key = teacher_with_runs(store, ("<b>Ada</b> %{y}", 8, {}), ("Bo", 32, {}),
                                      ("Cy", 64, {}))
    ada = store.runs(code, key).ids[0]
    at.button(key=f"room_compare_{ada}").click().run()
    no_exceptions(at)
    runs = explorer(at).runs
    assert [run.name for run in runs] == ["run 1: bAda/b y (class, 8)"]
    assert runs[0].config.model["layers"][0]["units"] == 8
    assert at.button(key=f"room_compare_{ada}").disabled  # in the session already
    at.button(key=room_view.ALL_BUTTON).click().run()
    no_exceptions(at)
    assert at.title[0].value == "Compare Runs"
    assert [run.name for run in explorer(at).runs] == [
        "run 1: bAda/b y (class, 8)", "run 2: Bo (class, 32)", "run 3: Cy (class, 64)"]
    assert at.multiselect(key="compare_runs").value == [run.name for run in explorer(at).runs]
    for figure in figures(at).values():
        for trace in figure["data"]:
            assert "<b>" not in str(trace.get("hovertemplate", "")) + str(trace.get("name"))
            assert "%{y}" not in str(trace.get("name"))


# --- who may do what -----------------------------------------------------------------------


def test_a_student_sees_no_teacher_controls_and_no_other_runs(store):
    room = store.open_room()
    send_from_another_student(store, room.code, "Secret Sam", 8)
    at = room_page({"room": room.code})
    assert f"in class room **{room.code}" in page_text(at)
    labels = [button.label for button in at.button] + [toggle.label for toggle in at.toggle]
    for teacher_only in ("End room", "Hide names", "Lock room", "Remove", "Compare",
                         "Open a room"):
        assert teacher_only not in labels
    assert "Secret Sam" not in page_text(at) and not at.get("plotly_chart")
    assert not at.metric  # no counts of the class either
    token = at.session_state[room_view._STATE_KEY].token
    with pytest.raises(rooms.NotAllowed):
        store.lock(room.code, token)
