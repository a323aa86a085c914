"""The class room in the app: a teacher opens a room, students send their runs to it, and
the teacher's Class Room page draws the whole class at once (issue 19).

Three parts, over the store of `lstm_explorer.rooms` (one database every app process
shares, so a student served by one process and the teacher served by another meet in
one room):

- the share link (`link_in`, `link_keys`): `room=CODE` joins a room when the link is
  opened; `room=CODE&teacher=KEY` is the teacher's own link, so a reload keeps the
  teacher in charge. The frame reads them with the config and writes them back.
  The link the teacher hands out (`student_link`) never holds the teacher key.
- Build & Train's "Send to class" (`send_panel`): after a finished run, a student in a
  room sends its summary (`rooms.summary_of`) under a display name.
- the Class Room page (`page`): open a room or join one; for the teacher, the class
  view (counts, `rooms.class_figures`, the runs with Compare and Remove), refreshed by a
  fragment that polls the room's version every `POLL_EVERY` seconds and rebuilds the
  figures only when it changed; for a student, the runs they sent, and nothing of
  anyone else's.

Display names are the students' own text: drawn as escaped Markdown (`md_escape`), never
as HTML, and cleaned of what Plotly would read as markup (`safe_run_label`) before they
name a run in Compare Runs. Every refusal of the store is a `rooms.RoomError` whose
message says what to do; it is shown as it is, never as a traceback.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from lstm_explorer import compare, readings, rooms
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from lstm_explorer.rooms import RoomError
from lstm_explorer.rooms.codes import normalize_code
from lstm_explorer.rooms.store import MAX_NAME_CHARS
from lstm_explorer.ui import frame
from lstm_explorer.ui.state import ExplorerSession, session

# Share-link keys (not part of the config; `frame.config_from_link` leaves them out).
LINK_KEYS = frame.ROOM_KEYS
ROOM_KEY, TEACHER_KEY, SEAT_KEY = LINK_KEYS
# The Class Room page's address (its file is pages/class_room.py).
PAGE_PATH = "class_room"
TEACHER, STUDENT = "teacher", "student"
# Seconds between the class view's looks at the room's version: a new run is on the
# projector within this (plus the figures' build) of being sent.
POLL_EVERY = 2.0
# Pixels of each class figure (presenter mode adds a fifth): enough for the plot area to
# be taller than its y axis title (the step 0 one is the longest), with the legend below.
CHART_HEIGHTS = {"metric": 460, "step0": 500, "loss_curves": 440}

_STATE_KEY = "lstm_explorer_room"
NAME_KEY = "room_name"
SEND_FORM = "room_send"
SEND_BUTTON = "room_send_button"
JOIN_FORM = "room_join"
CODE_KEY = "room_code"
JOIN_BUTTON = "room_join_button"
OPEN_BUTTON = "room_open"
LEAVE_BUTTON = "room_leave"
HIDE_KEY = "room_hide_names"
LOCK_KEY = "room_lock"
END_BUTTON, END_YES, END_NO = "room_end", "room_end_yes", "room_end_no"
ALL_BUTTON = "room_compare_all"


@dataclass
class Sent:
    """A run this student sent: what the student's own Class Room page lists.

    Args:
        id: its id in the room.
        name: the display name it was sent under.
        run: the session run's name (e.g. `"run 2: lstm 4 on adding"`).
        sent_at: when the room received it (Unix seconds).
    """

    id: int
    name: str
    run: str
    sent_at: float


@dataclass
class RoomSession:
    """What one browser session knows of its class room (kept in `st.session_state`).

    Args:
        code: the room's code, or `None` outside a room.
        role: `"teacher"`, `"student"` or `None`.
        teacher_key: the teacher key (the teacher only; never shown to a student).
        token: the student's token (a student only).
        student: the student's number in the room.
        name: the display name last typed (offered again for the next send).
        sent: the runs this student sent, oldest first.
        typed_code: a code to offer in the join box (one a link failed to join).
        messages: `(kind, text)` to show once on the next page run (from callbacks).
        version: the room version the class view last read (teacher).
        known: the room's runs read so far, by id (teacher).
        after: the newest run id read (the next read's `after`).
        view: the class view of `known`, and `figures`, its figures (built when
            `version` changes).
        compared: room run id → the session run it became in Compare Runs.
        confirm_end: whether "End room" waits for its confirmation.
    """

    code: str | None = None
    role: str | None = None
    teacher_key: str | None = None
    token: str | None = None
    student: int | None = None
    name: str = ""
    sent: list[Sent] = field(default_factory=list)
    typed_code: str = ""
    messages: list[tuple[str, str]] = field(default_factory=list)
    version: int | None = None
    known: dict[int, Any] = field(default_factory=dict)
    after: int = 0
    view: Any = None
    figures: dict[str, Any] | None = None
    compared: dict[int, str] = field(default_factory=dict)
    confirm_end: bool = False

    @property
    def key(self) -> str | None:
        """The key this session reads the room with: the teacher's, else the token."""
        return self.teacher_key if self.role == TEACHER else self.token

    def leave(self) -> None:
        """Forget the room (its code, keys and what was read of it); the name stays."""
        name, messages = self.name, self.messages
        self.__init__()
        self.name, self.messages = name, messages

    def say(self, kind: str, text: str) -> None:
        self.messages.append((kind, text))


def room_session() -> RoomSession:
    """This browser session's `RoomSession`, created on first use."""
    if _STATE_KEY not in st.session_state:
        st.session_state[_STATE_KEY] = RoomSession()
    return st.session_state[_STATE_KEY]


def store() -> rooms.RoomStore:
    """The process's room store (`LSTM_EXPLORER_ROOMS_DB`, SQLite by default)."""
    return rooms.default_store()


# --- pure helpers ------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&%=^\"'])")


def md_escape(text: Any) -> str:
    """Text as Streamlit's Markdown shows it literally: every ASCII punctuation mark
    that Markdown, Streamlit's `:colour[...]`/`:material/...:` codes, LaTeX (`$`) or
    HTML could read is backslash-escaped.

    >>> md_escape("**Ada** <b>$x$</b> [me](javascript:x) :red[no]")
    '\\\\*\\\\*Ada\\\\*\\\\* \\\\<b\\\\>\\\\$x\\\\$\\\\</b\\\\> \\\\[me\\\\]\\\\(javascript\\\\:x\\\\) \\\\:red\\\\[no\\\\]'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


_PLOTLY_MARKUP = re.compile(r"[<>%{}&$\\\"'`]")


def safe_run_label(name: Any, fallback: str = "a student") -> str:
    """A display name made safe to name a run in Compare Runs.

    Compare Runs (`compare.py`) writes run names into Plotly's legends and hover
    templates as they are, where `<...>` is HTML to Plotly and `%{...}` a template
    field: those characters (and `&`, `$`, quotes) are dropped, spaces collapsed, and
    the result kept to `MAX_NAME_CHARS`.

    Args:
        name: the display name, as sent.
        fallback: the label when nothing is left. Default: `"a student"`.

    >>> safe_run_label("<b>Ada</b> %{x} & {Bo}")
    'bAda/b x Bo'
    >>> safe_run_label("<>%"), safe_run_label("  Li   Wei ")
    ('a student', 'Li Wei')
    """
    text = " ".join(_PLOTLY_MARKUP.sub("", str(name)).split())[:MAX_NAME_CHARS].strip()
    return text or fallback


def app_root(url: str | None, page_path: str = PAGE_PATH) -> str:
    """The app's address without this page's path and without a query: where a link
    opens the app's first page (Build & Train).

    Args:
        url: the page's address in the browser (`st.context.url`), or `None` when it is
            not known (a test harness): then the link is relative, `/`.
        page_path: the address of the page the teacher is on. Default: `PAGE_PATH`.

    >>> app_root("http://10.0.0.2:8501/class_room?room=K7Q-M2X&teacher=secret")
    'http://10.0.0.2:8501/'
    >>> app_root("https://school.example/lstm/class_room"), app_root(None)
    ('https://school.example/lstm/', '/')
    """
    if not url:
        return "/"
    parts = urlsplit(url)
    path = parts.path or "/"
    if path.rstrip("/").endswith("/" + page_path):
        path = path.rstrip("/")[: -len(page_path)]
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def student_link(root: str, config_query: Mapping[str, str], code: str) -> str:
    """The link a teacher hands out: the app's first page with the config being edited
    (its share-link keys) and `room=CODE`; never the teacher key.

    >>> student_link("http://host/", {"preset": "default", "layer1.units": "4"}, "K7Q-M2X")
    'http://host/?preset=default&layer1.units=4&room=K7Q-M2X'
    """
    query = {key: value for key, value in config_query.items() if key not in LINK_KEYS}
    query[ROOM_KEY] = code
    return f"{root}?{urlencode(query)}"


def spread(items: Sequence[Any], count: int) -> list[Any]:
    """`count` items spread evenly over `items`, first and last included (all of them
    when there are no more than `count`).

    >>> spread(list(range(10)), 4), spread([1, 2], 6)
    ([0, 3, 6, 9], [1, 2])
    """
    items = list(items)
    if len(items) <= count:
        return items
    if count == 1:
        return [items[-1]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(index * step)] for index in range(count)]


def _first(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    return None if value is None else str(value)


def _client() -> str:
    """Who is joining, for the join rate limit (`rooms.join_client`)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    session_id = context.session_id if context is not None else None
    headers = st.context.headers
    forwarded = headers.get("X-Forwarded-For") if headers is not None else None
    peer = st.context.ip_address
    # Text or nothing: a test harness's context holds stand-in objects.
    return rooms.join_client(peer if isinstance(peer, str) else None,
                             forwarded if isinstance(forwarded, str) else None, session_id)


# --- the share link ------------------------------------------------------------------------


def link_keys() -> dict[str, str]:
    """The room's share-link keys for this session's own address: `room` (and, for the
    teacher, `teacher`); none outside a room. `frame.write_link` adds them."""
    room = st.session_state.get(_STATE_KEY)
    if room is None or room.code is None:
        return {}
    if room.role == TEACHER:
        return {ROOM_KEY: room.code, TEACHER_KEY: room.teacher_key}
    # The student's own address holds the seat, so a reload keeps the student's place
    # (and what they sent) instead of joining again as a new student.
    return {ROOM_KEY: room.code, SEAT_KEY: room.token}


def link_in(query: Mapping[str, Any], explorer: ExplorerSession) -> None:
    """Take the room of a link that was opened: `room=CODE&teacher=KEY` makes this session
    the room's teacher (once the store has checked the key), `room=CODE` joins it as a
    student. A link without `room` changes nothing (a Parameter Guide link keeps the
    room). What goes wrong is a notice on the page, never an error.

    Args:
        query: the link's keys (`st.query_params.to_dict()`).
        explorer: the session, for its notices.
    """
    code_text = _first(query.get(ROOM_KEY))
    if code_text is None:
        return
    room = room_session()
    teacher_key = _first(query.get(TEACHER_KEY))
    code = normalize_code(code_text)
    if code is not None and room.code == code and (
            room.role == STUDENT and not teacher_key
            and _first(query.get(SEAT_KEY)) in (None, room.token)
            or room.role == TEACHER and teacher_key in (None, room.teacher_key)):
        return  # this session is in that room already (a reload of its own link)
    try:
        if teacher_key:
            try:
                role = store().role(code_text, teacher_key)
            except rooms.NotAllowed:
                role = None
            if role != TEACHER:
                raise rooms.NotAllowed(f"the key in this link is not the teacher key of "
                                       f"room {code}: open the room from the teacher's own "
                                       "link, or join it as a student with its code", code)
            room.leave()
            room.code, room.role, room.teacher_key = code, TEACHER, teacher_key
            return
        seat_token = _first(query.get(SEAT_KEY))
        seat, kept = None, []
        if seat_token:
            try:
                seat = store().seat_of(code_text, seat_token)
                # What this student sent before the reload (the store keeps it).
                kept = [Sent(run.id, run.name, "", run.sent_at)
                        for run in store().runs(seat.code, seat.token).merge()
                        if run.student == seat.student]
            except rooms.NotAllowed:
                seat = None  # a seat of another room, or made up: join as anyone does
        restored = seat is not None
        if seat is None:
            seat = store().join(code_text, client=_client())
    except RoomError as error:
        room.typed_code = code or code_text[:20]
        explorer.notices.append(f"**This link's class room could not be joined.** "
                                f"{md_escape(error)}")
        return
    room.leave()
    room.code, room.role, room.token, room.student = seat.code, STUDENT, seat.token, \
        seat.student
    room.sent = kept
    st.toast(f"You {'are back in' if restored else 'joined'} class room "
             f"{seat.code} as student {seat.student}.", icon=":material/groups:")


# --- Build & Train: Send to class ----------------------------------------------------------


def send_panel(explorer: ExplorerSession) -> None:
    """Under the verdict of Build & Train: for a student in a room, "Send to class" with a
    display-name box for the latest run; a line saying so before the first run; nothing
    outside a room."""
    room = room_session()
    if room.role == TEACHER:
        return
    if room.role is None:
        show_messages(room)  # "Not sent: the room has ended" left it just now
        return
    if not explorer.runs:
        st.caption(f"You are in class room **{room.code}**: train, then send your run to "
                   "the class from here.")
        return
    run = explorer.runs[-1]
    done = next((sent for sent in room.sent if sent.run == run.name), None)
    if done is not None:
        st.success(f"Sent to class room {room.code} as **{md_escape(done.name)}**: it is on "
                   "the teacher's screen. Change a setting and train again to send another "
                   "run.", icon=":material/send:")
        return
    if NAME_KEY not in st.session_state:
        # The box is not drawn while a run trains, and Streamlit forgets a widget's value
        # once it is not drawn: the name typed before comes back from the session.
        st.session_state[NAME_KEY] = room.name
    with st.form(SEND_FORM, border=False):
        name_column, button_column = st.columns([3, 2], vertical_alignment="bottom")
        name_column.text_input(
            "Your name for the class", key=NAME_KEY, max_chars=MAX_NAME_CHARS,
            placeholder="e.g. Ada", help="Shown on the teacher's screen beside your run "
                                         "(the teacher can hide names).")
        button_column.form_submit_button(
            "Send to class", icon=":material/send:", type="primary", key=SEND_BUTTON,
            width="stretch", on_click=_send, args=(run.name,),
            help=f"Sends this run's summary (settings, losses, gradients per step, verdict; "
                 f"not the model) to room {room.code}.")
    show_messages(room)


def show_messages(room: RoomSession) -> None:
    """Show, once, what the callbacks of this run had to say."""
    for kind, text in room.messages:
        getattr(st, kind)(text)
    room.messages.clear()


def _send(run_name: str) -> None:
    """"Send to class", before the page runs: so that the run that follows shows the
    run as sent (or why not), not the form again."""
    explorer, room = session(), room_session()
    run = next((run for run in explorer.runs if run.name == run_name), None)
    if run is None or room.role != STUDENT:
        return  # the run was dropped, or the room left, since the form was drawn
    room.name = str(st.session_state.get(NAME_KEY) or "").strip()
    if not room.name:
        room.say("error", "Type the name the class should see, then press **Send to "
                          "class**.")
        return
    try:
        verdict = readings.verdict(run.config, run.history)
        summary = rooms.summary_of(run.history, run.config, verdict)
        sent = store().send(room.code, room.token, room.name, summary)
    except RoomError as error:
        if isinstance(error, rooms.RoomNotFound | rooms.RoomExpired):
            room.leave()  # nothing can be sent there any more
            room.say("error", f"**Not sent, and you left the room.** {md_escape(error)}")
        else:
            room.say("error", f"**Not sent.** {md_escape(error)}")
        return
    room.sent.append(Sent(sent.id, sent.name, run.name, sent.sent_at))


# --- the Class Room page -------------------------------------------------------------------


def page() -> None:
    """The whole Class Room page: open or join a room; the class view for the teacher,
    what they sent for a student."""
    explorer = session()
    room = room_session()
    show_messages(room)
    if room.role == TEACHER:
        teacher_view(explorer, room)
    elif room.role == STUDENT:
        student_view(room)
    else:
        start_view(room)


def start_view(room: RoomSession) -> None:
    """No room yet: join one with its code, or open one."""
    join_column, open_column = st.columns(2, gap="large")
    with join_column:
        st.subheader("Join a class room")
        if CODE_KEY not in st.session_state or room.typed_code:
            st.session_state[CODE_KEY] = room.typed_code
            room.typed_code = ""
        with st.form(JOIN_FORM, border=True):
            st.text_input("Room code", key=CODE_KEY, max_chars=20, placeholder="K7Q-M2X",
                          help="Six letters and digits, from your teacher's screen; case, "
                               "spaces and dashes do not matter.")
            st.form_submit_button("Join", type="primary", icon=":material/login:",
                                  key=JOIN_BUTTON, on_click=_join)
        st.caption("Or open the link your teacher shared: it joins the room by itself. "
                   "Joining is optional: without a room nothing you do leaves this tab.")
    with open_column:
        st.subheader("Teach a class")
        st.markdown("Open a room, hand out its link, and every student's run appears here "
                    "as they send it: the final result and the gradient reaching step 0 "
                    "against the setting the class varied, and every loss curve.")
        limits = store().limits
        st.button("Open a room", type="primary", icon=":material/co_present:",
                  key=OPEN_BUTTON, on_click=_open)
        st.caption(f"A room lasts {limits.hours:g} hours and holds {limits.max_runs} runs, "
                   f"at most {limits.max_runs_per_student} per student. Set the class's "
                   "starting settings on Build & Train first: the students' link carries "
                   "them.")


def _join() -> None:
    room = room_session()
    text = str(st.session_state.get(CODE_KEY) or "").strip()
    if not text:
        room.say("error", "Type the room code from your teacher's screen, then press "
                          "**Join**.")
        return
    try:
        seat = store().join(text, client=_client())
    except RoomError as error:
        room.typed_code = text
        room.say("error", f"**Not joined.** {md_escape(error)}")
        return
    room.leave()
    room.code, room.role, room.token, room.student = seat.code, STUDENT, seat.token, \
        seat.student
    room.say("success", f"You joined class room {seat.code} as student {seat.student}. "
                        "Train on Build & Train, then press **Send to class** under the "
                        "verdict.")


def _open() -> None:
    room = room_session()
    try:
        opened = store().open_room()
    except RoomError as error:
        room.say("error", f"**No room was opened.** {md_escape(error)}")
        return
    room.leave()
    room.code, room.role, room.teacher_key = opened.code, TEACHER, opened.teacher_key


def _leave() -> None:
    room = room_session()
    code = room.code
    room.leave()
    room.say("info", f"You left class room {code}. The runs you sent stay there until the "
                     "teacher removes them or ends the room.")


def student_view(room: RoomSession) -> None:
    """A student's page: their room and the runs they sent (only theirs)."""
    try:
        state = store().state(room.code, room.token)
    except RoomError as error:
        code = room.code
        room.leave()
        st.error(f"**You are no longer in class room {code}.** {md_escape(error)}",
                 icon=":material/error:")
        start_view(room)
        return
    st.markdown(f"You are **student {room.student}** in class room **{state.code}**"
                + (" (locked by the teacher: sending is paused)." if state.locked else "."))
    st.caption("Train on Build & Train; under the verdict, **Send to class** sends the run "
               "to the teacher's screen. Only what you send leaves this tab.")
    st.page_link("pages/build_train.py", label="Go to Build & Train",
                 icon=":material/model_training:")
    limit = store().limits.max_runs_per_student
    if room.sent:
        st.markdown(f"**What you sent** ({len(room.sent)} of at most {limit}):")
        for sent in room.sent:
            when = time.strftime("%H:%M:%S", time.localtime(sent.sent_at))
            st.markdown(f"- {md_escape(sent.run)}, as **{md_escape(sent.name)}**, at {when}")
    else:
        st.caption(f"Nothing sent yet (at most {limit} runs per student).")
    st.button("Leave the room", key=LEAVE_BUTTON, icon=":material/logout:", on_click=_leave)


# --- the teacher's class view ----------------------------------------------------------------


CODE_HTML = ('<div style="font-family: ui-monospace, monospace; font-size: 3rem; '
             'font-weight: 700; letter-spacing: 0.1em; line-height: 1.15; '
             'white-space: nowrap">{code}</div>')


def teacher_view(explorer: ExplorerSession, room: RoomSession) -> None:
    """The class view: the code and the students' link, then what refreshes as runs
    arrive (counts, switches, figures, runs)."""
    try:
        state = store().state(room.code, room.teacher_key)
    except RoomError as error:
        code = room.code
        room.leave()
        st.error(f"**Class room {code} is closed.** {md_escape(error)}",
                 icon=":material/error:")
        start_view(room)
        return
    code_column, link_column = st.columns([3, 5], vertical_alignment="top")
    with code_column:
        st.caption("Room code")
        # The code is of the store's own alphabet (Crockford base 32 and a dash): no
        # markup can hide in it.
        st.html(CODE_HTML.format(code=state.code))
    with link_column:
        st.caption("Students open this link, with the settings of Build & Train (or type "
                   "the code on their Class Room page):")
        link = student_link(app_root(st.context.url),
                            frame.link_query(explorer.config, explorer.preset), state.code)
        st.code(link, language=None, wrap_lines=True)
        limits = store().limits
        ends = time.strftime("%H:%M", time.localtime(state.expires_at))
        st.caption(f"Open until {ends} · at most {limits.max_runs_per_student} runs per "
                   f"student, {limits.max_runs} in all · this page's own address holds "
                   "your teacher key (a reload keeps you in charge): never share it, and "
                   "project in full screen (F11), which hides it.")
    st.fragment(lambda: class_view(explorer, room), run_every=POLL_EVERY)()


def controls(room: RoomSession, state: rooms.RoomState, columns: Sequence[Any]) -> None:
    """Hide names, lock, and end (with its confirmation), in three columns."""
    # The switches show the room as the store has it (another tab of the teacher may
    # have changed it): written before they are drawn (DESIGN §5).
    st.session_state[HIDE_KEY] = state.names_hidden
    st.session_state[LOCK_KEY] = state.locked
    hide_column, lock_column, end_column = columns
    hide_column.toggle("Hide names", key=HIDE_KEY, on_change=_flag, args=(HIDE_KEY,),
                       help="Show every run as \"student N\" instead of the name sent, "
                            "here and in what students read of the room.")
    lock_column.toggle("Lock room", key=LOCK_KEY, on_change=_flag, args=(LOCK_KEY,),
                       help="No one can join or send runs while the room is locked.")
    end_column.button("End room", key=END_BUTTON, icon=":material/cancel:",
                      on_click=_ask_end, disabled=room.confirm_end,
                      help="Deletes the room and every run sent to it (asks first).")
    if room.confirm_end:
        box = st.container(border=True)
        box.warning(f"End room {state.code}? Every run sent to it is deleted, for everyone, "
                    "and students can no longer send.", icon=":material/warning:")
        yes, no, _ = box.columns([2, 2, 6])
        yes.button("Yes, end the room", key=END_YES, type="primary", on_click=_end)
        no.button("Cancel", key=END_NO, on_click=_cancel_end)


def _flag(key: str) -> None:
    room = room_session()
    value = bool(st.session_state.get(key))
    try:
        if key == HIDE_KEY:
            store().hide_names(room.code, room.teacher_key, value)
        else:
            store().lock(room.code, room.teacher_key, value)
    except RoomError as error:
        room.say("error", md_escape(error))


def _ask_end() -> None:
    room_session().confirm_end = True


def _cancel_end() -> None:
    room_session().confirm_end = False


def _end() -> None:
    room = room_session()
    code = room.code
    try:
        store().end(room.code, room.teacher_key)
    except RoomError as error:
        room.say("error", md_escape(error))
        room.confirm_end = False
        return
    room.leave()
    room.say("info", f"Room {code} has ended: its runs are deleted. The runs you took into "
                     "Compare Runs stay in this session.")


def refresh(room: RoomSession) -> rooms.RoomState:
    """Read the room's state (one cheap read) and, when its version moved, the new runs;
    the class view and its figures are rebuilt only then.

    Raises:
        RoomError: the room is gone, or the key no longer works.
    """
    state = store().state(room.code, room.teacher_key)
    if state.version == room.version and room.view is not None:
        return state
    listed = store().runs(room.code, room.teacher_key, after=room.after)
    merged = listed.merge(room.known)
    room.known = {run.id: run for run in merged}
    # Ids only grow, so the newest read stays the mark even when that run is removed.
    room.after = max(room.after, listed.last_id)
    room.version = listed.version
    room.view = rooms.class_view(merged)
    room.figures = rooms.class_figures(room.view) if merged else None
    return dataclasses.replace(state, version=listed.version, runs=len(merged))


def class_view(explorer: ExplorerSession, room: RoomSession) -> None:
    """What refreshes as runs arrive: counts and switches, the three figures, the runs."""
    from lstm_explorer.ui import panels

    if room.role != TEACHER:
        st.rerun()  # ended (in a callback of this fragment): the page shows it
    open_compare_if_asked()
    try:
        state = refresh(room)
    except RoomError as error:
        code = room.code
        room.leave()
        room.say("error", f"**Class room {code} is closed.** {md_escape(error)}")
        st.rerun()
    show_messages(room)
    view = room.view
    students, received, *switches = st.columns([3, 3, 3, 3, 3], vertical_alignment="center")
    students.metric("Students joined", state.students)
    received.metric("Runs received", len(view.runs))
    controls(room, state, switches)
    if not view.runs:
        st.info("No runs yet. Students open the link above, train on Build & Train and "
                "press **Send to class**; each run appears here within seconds.",
                icon=":material/hourglass_top:")
        return
    if view.notes:
        st.caption(md_escape("; ".join(view.notes)))
    # One under the other, each the page's width: the titles name the metric and the
    # setting in full, which half a 1280-pixel page cuts off.
    for name, height in CHART_HEIGHTS.items():
        panels.chart(room.figures[name], f"room-{name}", height)
    runs_table(explorer, room, view)


def _metric_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.3g}"


def runs_table(explorer: ExplorerSession, room: RoomSession, view: Any) -> None:
    """Every run, newest first: name (escaped text), value, results, Compare, Remove."""
    title, action = st.columns([3, 2], vertical_alignment="center")
    title.markdown(f"**Runs received**, newest first · {md_escape(view.label)}")
    action.button("All into Compare Runs", key=ALL_BUTTON, icon=":material/compare_arrows:",
                  on_click=_compare_all, width="stretch",
                  help=f"Adds the runs to your session's runs and opens Compare Runs, which "
                       f"shows up to {compare.MAX_RUNS} at once (spread over the setting the "
                       f"class varied when there are more).")
    # The buttons' columns are wide enough for their labels at 1280 pixels.
    widths = [3, 1.2, 1.8, 1.6, 2.4, 2.5, 2.5]
    header = st.columns(widths)
    for column, title in zip(header, ("Name", "Value", view.metric_label, "Step 0 / last",
                                      "Verdict", "", "")):
        column.caption(md_escape(title))
    in_session = {run.name for run in explorer.runs}
    for run in reversed(view.runs):
        name, value, metric, step0, level, compare_column, remove_column = st.columns(
            widths, vertical_alignment="center")
        name.markdown(md_escape(run.name))
        # With no setting differing, the axis is the runs' names: no value to repeat.
        value.markdown(md_escape(run.x_text) if view.parameter else "—")
        metric.markdown(_metric_text(run.final_metric))
        step0.markdown(f"{run.step0:.1e}" if run.step0 is not None else "—")
        level.markdown(md_escape(run.level or run.status or "—"))
        taken = room.compared.get(run.id) in in_session
        compare_column.button("In Compare" if taken else "Compare",
                              key=f"room_compare_{run.id}", disabled=taken,
                              icon=":material/compare_arrows:", on_click=_compare,
                              args=(run.id,), width="stretch",
                              help="Adds this run to your session's runs, for Compare Runs.")
        remove_column.button("Remove", key=f"room_remove_{run.id}",
                             icon=":material/delete:", on_click=_remove, args=(run.id,),
                             width="stretch", help="Removes this run from the room, for "
                                                   "everyone (it frees the student's place).")


def _remove(run_id: int) -> None:
    room = room_session()
    try:
        store().remove_run(room.code, room.teacher_key, run_id)
    except RoomError as error:
        room.say("error", md_escape(error))


def _find(room: RoomSession, run_id: int) -> Any:
    view = room.view
    return next((run for run in (view.runs if view else ()) if run.id == run_id), None)


def take_into_session(explorer: ExplorerSession, room: RoomSession, run: Any) -> str:
    """Add one class run to the session's runs (once); the session run's name.

    The name sent is cleaned of markup (`safe_run_label`): Compare Runs puts run names
    into Plotly's hover templates and legends as they are.
    """
    kept = room.compared.get(run.id)
    if kept is not None and any(mine.name == kept for mine in explorer.runs):
        return kept
    try:
        config = ExperimentConfig.from_dict(run.config) if run.config else None
    except ConfigError:
        config = None  # Compare Runs shows such a run without its settings
    value = f", {safe_run_label(run.x_text, '')}" if run.x_text not in ("", "—") else ""
    label = f"{safe_run_label(run.name)} (class{value})"
    added = explorer.add_run(label, config, dict(run.history), {}, None)
    room.compared[run.id] = added.name
    return added.name


def _select_in_compare(explorer: ExplorerSession, names: list[str]) -> None:
    from lstm_explorer.ui import batch

    present = {run.name for run in explorer.runs}
    batch.state_of(explorer).select = [name for name in names if name in present][
        -compare.MAX_RUNS:]


def _compare(run_id: int) -> None:
    explorer, room = session(), room_session()
    run = _find(room, run_id)
    if run is None:
        room.say("warning", "That run is no longer in the room.")
        return
    name = take_into_session(explorer, room, run)
    taken = [kept for kept in room.compared.values()]
    _select_in_compare(explorer, taken)
    room.say("success", f"{md_escape(name)} is in your session's runs: open **Compare Runs** "
                        "to see it beside the others you took.")


def _compare_all() -> None:
    explorer, room = session(), room_session()
    view = room.view
    if view is None or not view.runs:
        return
    # Compare Runs draws at most MAX_RUNS; the session keeps few runs: a spread over the
    # axis shows the class's range.
    limit = min(compare.MAX_RUNS, _session_max_runs())
    ordered = sorted(view.runs, key=lambda run: _axis_order(view, run))
    chosen = spread(ordered, limit)
    names = [take_into_session(explorer, room, run) for run in chosen]
    _select_in_compare(explorer, names)
    st.session_state["room_open_compare"] = True
    if len(chosen) < len(view.runs):
        room.say("info", f"Compare Runs shows {len(chosen)} runs at once: these {len(chosen)} "
                         f"of {len(view.runs)} spread over {md_escape(view.label)}.")


def _session_max_runs() -> int:
    from lstm_explorer.ui.state import MAX_RUNS

    return MAX_RUNS


def _axis_order(view: Any, run: Any) -> tuple:
    if run.x is None:
        return (2, 0, run.id or 0)
    if view.numeric:
        return (0, float(run.x), run.id or 0)
    categories = list(view.categories)
    place = categories.index(run.x) if run.x in categories else len(categories)
    return (1, place, run.id or 0)


def open_compare_if_asked() -> None:
    """After "All into Compare Runs": switch to that page (a callback cannot)."""
    if st.session_state.pop("room_open_compare", False):
        st.switch_page("pages/compare_runs.py")
