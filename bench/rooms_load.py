"""Load test of the class room: N students send their runs to one room; the teacher's
class view must show every one, soon after it was sent.

Starts a fresh server (`streamlit run app.py`, as tests/e2e/server.py does) with its own
room store (a SQLite file in a temporary folder), opens a room in that store, and
connects N + 1 websocket clients that speak Streamlit's protocol as the browser's
frontend does (`bench/load_test.py`'s `WebsocketSession`):

- the teacher: the Class Room page from the teacher's own link (`room=CODE&teacher=KEY`),
  whose class view is a fragment the server reruns every 2 s on the client's
  `auto_rerun` timer, as in a browser tab;
- N students: Build & Train from the students' link (`room=CODE`) with a setting of
  their own (`layer1.units` = 1..N: the class varies the units), each on the smallest
  config (6 steps, 64 samples, 1 epoch). All press Train at once; each, when its run has
  finished, types its name (`Pupil NN`) and presses "Send to class" (the form's text
  box and submit button, found in the page's deltas as load_test finds Train, sent in
  one `rerun_script` with the form's fragment id, as the frontend does).

Measured, on one machine and one clock: when each student's Send left the client, when
the student's page confirmed it, and when the teacher's page first received the row
naming that student (the websocket client receives the fragment's deltas; the browser's
drawing is not included). Reports runs sent, confirmed, held by the store and shown on
the teacher's page (its "Runs received" count, its names and the points of its metric
chart), what was lost, the spread of the sends, and the time from send to visible on the
teacher's page: median, p95 (goal: under 5 s) and worst.

    .venv/bin/python bench/rooms_load.py [--students 30] [--trainings K] [--each]

Exit status 0 when nothing was lost and p95 is under the goal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.load_test import WebsocketClients, WebsocketSession, percentile  # noqa: E402
from lstm_explorer import limits  # noqa: E402
from lstm_explorer.rooms import RoomStore  # noqa: E402
from tests.e2e.server import app_server  # noqa: E402

TINY = {"task.seq_len": "6", "task.n_samples": "64", "training.epochs": "1"}
FINISHED_TEXT = "Finished 1 epoch"
SENT_TEXT = "Sent to class room"
SEND_LABEL, NAME_LABEL = "Send to class", "Your name for the class"
GOAL_P95 = 5.0
NAME = re.compile(r"^Pupil \d\d$")


def student_name(index: int) -> str:
    return f"Pupil {index:02d}"


class RoomClient(WebsocketSession):
    """A `WebsocketSession` that can open a page other than the first (`page_name`, the
    page's address as the frontend sends it) and send several widgets' states at once
    (a form's values with its submit button)."""

    page_name = ""

    def __init__(self, index: int, query: dict[str, str], url: str):
        super().__init__(index, query, url)
        self.fragment_of_delta = ""

    async def open(self, timeout: float) -> None:
        """Connect and load the page (without load_test's check for a Train button)."""
        from websockets.asyncio.client import connect

        host = self.url.removeprefix("http://")
        self.connection = await connect(
            f"ws://{host}/_stcore/stream", origin=self.url, subprotocols=["streamlit"],
            proxy=None, max_size=None, ping_interval=None, open_timeout=timeout)
        self.reader = asyncio.create_task(self._read())
        await self._rerun()
        await asyncio.wait_for(self.loaded.wait(), timeout)
        if "failure" in self.result:
            raise RuntimeError(f"session {self.index}: {self.result['failure']}")

    async def _rerun(self, *, fragment_id: str = "", auto: bool = False,
                     trigger: str | None = None, text: tuple[str, str] | None = None) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        if not self.page_script_hash:
            state.page_name = self.page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self.cache)
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url = f"{self.url}/{self.page_name}?{self.query_string}"
        info.is_embedded, info.color_scheme = False, "light"
        if text is not None:
            widget = state.widget_states.widgets.add()
            widget.id, widget.string_value = text
        if trigger is not None:
            widget = state.widget_states.widgets.add()
            widget.id, widget.trigger_value = trigger, True
        await self.connection.send(message.SerializeToString())

    def _handle(self, payload: bytes, now: float) -> None:
        # Which fragment drew the element that comes next: a widget of a fragment is
        # sent back with its fragment's id, as the frontend does.
        message = ForwardMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "delta":
            self.fragment_of_delta = message.delta.fragment_id
        super()._handle(payload, now)


class Student(RoomClient):
    """A student: Build & Train from the class link; Train, then Send to class."""

    def __init__(self, index: int, query: dict[str, str], url: str):
        super().__init__(index, query, url)
        self.name = student_name(index)
        self.name_id: str | None = None
        self.send_id: str | None = None
        self.send_fragment = ""
        self.trained = asyncio.Event()
        self.form_ready = asyncio.Event()
        self.confirmed = asyncio.Event()

    async def click_train(self) -> None:
        self.result["clicked"] = time.monotonic()
        await self._rerun(trigger=self.train_id)

    async def train(self, timeout: float) -> None:
        """Press Train; wait for the run and for the Send form under its verdict."""
        await self.click_train()
        await asyncio.wait_for(self.trained.wait(), timeout)
        await asyncio.wait_for(self.form_ready.wait(), timeout)

    async def send(self, after: float = 0.0) -> None:
        """After `after` seconds, type the name and press Send; wait for the confirmation."""
        await asyncio.sleep(after)
        if "failure" in self.result:
            return
        self.result["send_at"] = time.monotonic()
        await self._rerun(fragment_id=self.send_fragment, trigger=self.send_id,
                          text=(self.name_id, self.name))
        await asyncio.wait_for(self.confirmed.wait(), 60)

    async def train_then_send(self, timeout: float) -> None:
        await self.train(timeout)
        await self.send()

    def _element(self, element, main: bool, now: float) -> None:
        kind = element.WhichOneof("type")
        result = self.result
        if kind == "button" and main and element.button.label == "Train":
            self.train_id, self.train_enabled = element.button.id, not element.button.disabled
        elif kind == "button" and main and element.button.label == SEND_LABEL:
            self.send_id, self.send_fragment = element.button.id, self.fragment_of_delta
            if self.trained.is_set() and self.name_id is not None:
                self.form_ready.set()
        elif kind == "text_input" and main and element.text_input.label == NAME_LABEL:
            self.name_id = element.text_input.id
        elif kind == "exception" and not element.exception.is_warning:
            self._fail(f"exception on the page: {element.exception.type}: "
                       f"{element.exception.message[:200]}")
        elif kind in ("markdown", "alert") and main:
            body = getattr(element, kind).body
            if "clicked" in result and FINISHED_TEXT in body and "trained" not in result:
                result["trained"] = now - result["clicked"]
                self.trained.set()
            elif SENT_TEXT in body and "send_at" in result and "confirmed" not in result:
                result["confirmed"] = now - result["send_at"]
                self.confirmed.set()
            elif kind == "alert" and element.alert.format == Alert.ERROR:
                self._fail(f"the page says: {body[:300]}")

    def _fail(self, reason: str) -> None:
        if self.confirmed.is_set():
            return  # done: the connection closing at the end is no failure
        self.result.setdefault("failure", reason)
        for event in (self.trained, self.form_ready, self.confirmed):
            event.set()


class Teacher(RoomClient):
    """The teacher's Class Room page; records when each student's row first arrives."""

    page_name = "class_room"

    def __init__(self, query: dict[str, str], url: str):
        super().__init__(-1, query, url)
        self.seen: dict[str, float] = {}
        self.received: str | None = None
        self.points: int | None = None
        self.fragment_runs = 0

    def _handle(self, payload: bytes, now: float) -> None:
        message = ForwardMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "script_finished" and message.metadata.run.fragment_ids:
            self.fragment_runs += 1
        super()._handle(payload, now)

    def _element(self, element, main: bool, now: float) -> None:
        kind = element.WhichOneof("type")
        if kind == "markdown" and main and NAME.match(element.markdown.body):
            self.seen.setdefault(element.markdown.body, now)
        elif kind == "metric" and element.metric.label == "Runs received":
            self.received = element.metric.body
        elif kind == "plotly_chart":
            figure = json.loads(element.plotly_chart.spec)
            title = figure.get("layout", {}).get("title", {}).get("text", "")
            if title.startswith("Final "):
                self.points = sum(len(trace.get("x") or []) for trace in figure["data"]
                                  if trace.get("name") != "median")
        elif kind == "exception" and not element.exception.is_warning:
            self._fail(f"exception on the teacher's page: {element.exception.message[:200]}")


def send_offsets(students: int, window: float, seed: int = 0) -> list[float]:
    """When each student presses Send, in seconds from the moment every run is ready:
    spread at random (seeded) over `window`; all at once when it is 0.

    >>> send_offsets(3, 0), [round(x, 1) for x in send_offsets(3, 60)]
    ([0.0, 0.0, 0.0], [50.7, 45.5, 25.2])
    """
    generator = random.Random(seed)
    return [generator.uniform(0, window) if window else 0.0 for _ in range(students)]


def _failed(pupil: Student, outcome: Any) -> None:
    if isinstance(outcome, BaseException):
        pupil.result.setdefault("failure", f"{type(outcome).__name__} {outcome}".strip())


def run(students: int, trainings: int | None, timeout: float,
        send_window: float | None) -> dict[str, Any]:
    """One lesson. `send_window`: `None`, each student sends as soon as its run is
    ready; else every student trains first, then all send within that many seconds."""
    folder = tempfile.mkdtemp(prefix="lstm-rooms-load-")
    store_url = f"sqlite:///{folder}/rooms.sqlite3"
    env = {"LSTM_EXPLORER_ROOMS_DB": store_url, "LSTM_EXPLORER_SESSION_TIMEOUT": "600"}
    if trainings:
        env["LSTM_EXPLORER_MAX_TRAININGS"] = str(trainings)
    store = RoomStore(store_url)
    room = store.open_room()
    clients = WebsocketClients()  # its event loop, on a thread of its own
    try:
        with app_server(env=env, timeout=180) as url:
            teacher = Teacher({"room": room.code, "teacher": room.teacher_key}, url)
            pupils = [Student(index, {**TINY, "layer1.units": str(index + 1),
                                      "room": room.code}, url)
                      for index in range(students)]

            async def lesson() -> float:
                await teacher.open(300)
                await asyncio.gather(*(pupil.open(300) for pupil in pupils))
                started = time.monotonic()
                if send_window is None:
                    outcomes = await asyncio.gather(
                        *(pupil.train_then_send(timeout) for pupil in pupils),
                        return_exceptions=True)
                else:
                    outcomes = await asyncio.gather(
                        *(pupil.train(timeout) for pupil in pupils), return_exceptions=True)
                    for pupil, outcome in zip(pupils, outcomes):
                        _failed(pupil, outcome)
                    offsets = send_offsets(students, send_window)
                    outcomes = await asyncio.gather(
                        *(pupil.send(after) for pupil, after in zip(pupils, offsets)),
                        return_exceptions=True)
                for pupil, outcome in zip(pupils, outcomes):
                    _failed(pupil, outcome)
                # The teacher's page: every name, or 30 s after the last send.
                deadline = time.monotonic() + 30
                while len(teacher.seen) < students and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(2.5)  # one more look: the count and the chart settle
                teacher.done.set()  # its connection closing next is no failure
                return started

            started = clients._run(lesson())
            clients.sessions = [teacher, *pupils]
            held = store.runs(room.code, room.teacher_key)
            names = sorted(run.name for run in held.runs)
            clients.close()
    finally:
        clients.shutdown()
    results = [pupil.result for pupil in pupils]
    send_at = {pupil.name: pupil.result["send_at"] for pupil in pupils
               if "send_at" in pupil.result}
    visible = {name: teacher.seen[name] - at for name, at in send_at.items()
               if name in teacher.seen}
    expected = [student_name(index) for index in range(students)]
    return {
        "students": students, "code": room.code, "results": results,
        "sent": len(send_at),
        "confirmed": sum("confirmed" in result for result in results),
        "held": len(names), "held_names_ok": names == expected,
        "shown": len(teacher.seen), "received": teacher.received, "points": teacher.points,
        "lost": sorted(set(send_at) - set(teacher.seen)),
        "failures": [f"student {r['index']}: {r['failure']}" for r in results
                     if "failure" in r] + ([teacher.result["failure"]]
                                           if "failure" in teacher.result else []),
        "visible": visible,
        "sends_span": (max(send_at.values()) - min(send_at.values())) if send_at else None,
        "first_send": (min(send_at.values()) - started) if send_at else None,
        "last_send": (max(send_at.values()) - started) if send_at else None,
        "trained": [r["trained"] for r in results if "trained" in r],
        "confirm": [r["confirmed"] for r in results if "confirmed" in r],
        "fragment_runs": teacher.fragment_runs,
    }


def report(result: dict[str, Any], each: bool) -> bool:
    n = result["students"]
    visible = sorted(result["visible"].values())
    print(f"\nroom {result['code']}: {n} students; {result['sent']} runs sent, "
          f"{result['confirmed']} confirmed on the students' pages, {result['held']} held "
          f"by the store, {result['shown']} shown on the teacher's page (its count: "
          f"{result['received']}, points on its metric chart: {result['points']})")
    if result["sent"]:
        print(f"  sends from {result['first_send']:.1f} s to {result['last_send']:.1f} s "
              f"after the Train clicks: all {result['sent']} within "
              f"{result['sends_span']:.1f} s of each other")
    if result["trained"]:
        print(f"  Train click to finished run: median {statistics.median(result['trained']):.1f} "
              f"s, worst {max(result['trained']):.1f} s")
    if result["confirm"]:
        print(f"  send to confirmed on the student's page: median "
              f"{statistics.median(result['confirm']):.2f} s, p95 "
              f"{percentile(result['confirm'], 0.95):.2f} s")
    if visible:
        p95 = percentile(visible, 0.95)
        print(f"  send to visible on the teacher's page (received by its websocket client): "
              f"median {statistics.median(visible):.2f} s, p95 {p95:.2f} s, worst "
              f"{visible[-1]:.2f} s (goal: p95 < {GOAL_P95:g} s); the class view redrew "
              f"{result['fragment_runs']} times")
    if each:
        for name, seconds in sorted(result["visible"].items()):
            print(f"    {name}: {seconds:.2f} s")
    lost = result["lost"] or ([] if result["held_names_ok"] else ["the store's names differ"])
    ok = (not lost and not result["failures"] and result["sent"] == n
          and result["held"] == n and result["shown"] == n and result["received"] == str(n)
          and result["points"] == n and bool(visible)
          and percentile(visible, 0.95) < GOAL_P95)
    print(f"  lost: {', '.join(lost) if lost else 'nothing'}")
    for line in result["failures"]:
        print("  !", line)
    print("PASS" if ok else "FAIL")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--trainings", type=int, default=None,
                        help="LSTM_EXPLORER_MAX_TRAININGS for the server (default: its own)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds a student waits for its run and its Send form")
    parser.add_argument("--send-window", type=float, default=60.0,
                        help="every student trains first, then all press Send at random "
                             "moments within this many seconds (0: all at once); default 60")
    parser.add_argument("--as-trained", action="store_true",
                        help="each student sends as soon as its run is ready instead (the "
                             "sends then spread over the whole training of the class)")
    parser.add_argument("--each", action="store_true", help="print every student's time")
    arguments = parser.parse_args(argv)
    print(f"{os.cpu_count()} cores; trainers: "
          f"{arguments.trainings or limits.Limits().trainings}; {arguments.students} "
          f"websocket students on {urlencode(TINY)}, layer1.units=1..{arguments.students}; "
          "one websocket teacher on the Class Room page; sends "
          + ("as each run is ready" if arguments.as_trained
             else f"after every run is ready, within {arguments.send_window:g} s"))
    result = run(arguments.students, arguments.trainings, arguments.timeout,
                 None if arguments.as_trained else arguments.send_window)
    return 0 if report(result, arguments.each) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
