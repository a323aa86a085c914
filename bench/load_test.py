"""Load test: N sessions press Train at once on one `streamlit run` server.

For each N: starts a fresh server (`streamlit run app.py`, as tests/e2e/server.py does),
opens N sessions on a share link with a small config (30 steps, 500 samples, 3 epochs,
16 units), clicks Train in every one and waits for each to finish. As in a class given
one link, every session has the same config and its own `training.seed=i`;
`--vary-units` gives session i 16+i units instead (N distinct architectures, each
traced anew by the server: a harder stress).

The clients (`--clients`):

- `websocket` (the default): one asyncio websocket client per session that speaks
  Streamlit's own protocol as the browser's frontend does (`WebsocketSession`): the page
  load and the click are `rerun_script` BackMsgs, the fragments' `run_every` redraws are
  sent on the server's `auto_rerun` timers, and cached ForwardMsgs are resolved. The
  clients cost almost no CPU, so the times are the server's. The time to first chart
  runs from sending the click to receiving the first ForwardMsg with a Plotly chart
  holding a heatmap with data: the time the server needs to SEND it. The browser's
  drawing is not included; `bench/bench_browser.py` measured about 0.5 s from "charts
  sent" to "chart seen" for one page on a quiet machine.
- `browser`: N Playwright contexts on Debian's chromium, each its own session; the
  first chart is timed when drawn in the page. The tabs run on the same cores as the
  server (at the lowest priority, `--browser-nice`), so with many sessions they take CPU
  from it: the times are an upper bound.

Reports: completed runs, failures, time from the click to the first chart (median,
p95), to the finished run and, with websocket clients, to the server's first
ForwardMsg after the click (a proxy for "click seen"; `--each` prints every session's
three times), the server's peak memory (RSS of the streamlit process
tree, sampled every 0.5 s) and cross-session leaks. Leaks: the first gate heatmaps a
session draws must be ITS OWN untrained model's, computed here from its config with
`Trainer.prepare` (N seeds give N different untrained models, so a mix-up shows; a first
chart that is nobody's untrained model, e.g. already epoch 1, is reported apart); every
heatmap has the session's units as rows; its query string holds its own seed and units;
its model summary its own parameter count.

    .venv/bin/python bench/load_test.py [--sessions 1 10 30] [--clients websocket]
        [--vary-units] [--trainings K] [--each]
    .venv/bin/python bench/load_test.py --clients browser [--browser-nice 19] ...

The server trains `LSTM_EXPLORER_MAX_TRAININGS` models at once (default: half the
cores); the rest queue.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import numpy as np
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the expected charts are made here

from lstm_explorer import limits, timeline  # noqa: E402
from lstm_explorer.config import ExperimentConfig  # noqa: E402
from tests.e2e.server import (  # noqa: E402
    FOREGROUND_ARGS,
    app_server,
    launch_browser,
    wait_idle,
)

MB = 2**20
DEFAULTS = ExperimentConfig.default()
DEFAULT_UNITS = DEFAULTS.model["layers"][0]["units"]
DEFAULT_SEED = DEFAULTS.training["seed"]
BASE = {"task.seq_len": "30", "task.n_samples": "500", "training.epochs": "3"}
UNITS = 16
FINISHED_TEXT = f"Finished {BASE['training.epochs']} epochs"
FAILED_TEXT = "Training failed"
GATES = ("i", "f", "g", "o")
TOLERANCE = 1e-4
PROCESS = re.compile(r"Server process (\d+)")
# The first chart drawn from data (the gate heatmaps of the probe batch; placeholder
# figures have no heatmap), timed in the page's own clock so that the polling of 30 pages
# from here does not blur it, and the first gate heatmaps drawn (traces i, f, g, o), kept
# for the leak check. Plotly keeps `z` as nested arrays, typed arrays, or
# {bdata, dtype, shape}: arrays are copied into plain ones, the rest goes as it is.
WATCH_FIRST_CHART = """() => {
    window.lstmFirstChart = null;
    window.lstmFirstGates = null;
    const plain = z => (Array.isArray(z) || ArrayBuffer.isView(z))
        ? Array.from(z, row => (Array.isArray(row) || ArrayBuffer.isView(row))
                               ? Array.from(row) : row)
        : z;
    const timer = setInterval(() => {
        for (const plot of document.querySelectorAll('.js-plotly-plot')) {
            const maps = (plot.data || []).filter(trace => trace.type === 'heatmap');
            if (!maps.length) continue;
            if (window.lstmFirstChart === null) {
                window.lstmFirstChart = performance.now();
                window.lstmFirstChartEpoch = performance.timeOrigin + performance.now();
            }
            const names = maps.map(trace => trace.name).sort().join(',');
            if (window.lstmFirstGates === null && names === 'f,g,i,o') {
                window.lstmFirstGates = maps.map(trace => ({name: trace.name,
                                                            z: plain(trace.z)}));
            }
        }
        if (window.lstmFirstChart !== null && window.lstmFirstGates !== null) {
            clearInterval(timer);
        }
    }, 100);
}"""
# Rows of every heatmap drawn (gates and states: one row per unit).
HEATMAP_ROWS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .flatMap(plot => (plot.data || []).filter(t => t.type === 'heatmap').map(t => {
        const z = t.z;
        if (!z) return 0;
        if (Array.isArray(z) || ArrayBuffer.isView(z)) return z.length;
        if (z.shape !== undefined) return parseInt(String(z.shape).split(',')[0]);
        return 0;
    }))"""


# --- the server's memory ---------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    for child in children.read().split():
                        found.append(int(child))
                        stack.append(int(child))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def lower_browser_priority(niceness: int) -> None:
    """Renice the chromium processes started by this one (not the app server, which is
    a child too: only command lines naming chromium are touched)."""
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"chrom" not in cmdline.read():
                    continue
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue


class MemorySampler:
    """The peak of `tree_rss(pid)`, sampled every 0.5 s in a thread while the block runs;
    `also` is called at every sample (the browser mode renices its tabs there)."""

    def __init__(self, pid: int, also: Callable[[], None] | None = None):
        self.pid, self.also = pid, also
        self.idle = self.peak = tree_rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            if self.also is not None:
                self.also()
            time.sleep(0.5)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


# --- what each session must see --------------------------------------------------------


def session_query(index: int, vary_units: bool = False) -> dict[str, str]:
    """Session `index`'s share link: the class's one config with its own seed, or with
    `vary_units` also its own number of units (16 + index)."""
    units = UNITS + index if vary_units else UNITS
    return {**BASE, "layer1.units": str(units), "training.seed": str(index)}


@functools.cache
def _untrained_gates(items: tuple[tuple[str, str], ...]) -> dict[str, np.ndarray]:
    from lstm_explorer import figures
    from lstm_explorer.training import Trainer

    trainer = Trainer(ExperimentConfig.from_query(dict(items))[0])
    # Not in the server's timeline (`stages` reads it): this process is no server.
    saved = os.environ.pop(timeline.ENV, None)
    try:
        trainer.prepare()
    finally:
        if saved is not None:
            os.environ[timeline.ENV] = saved
    fig = figures.gate_heatmaps(trainer.initial_trace.to_arrays(), 0)
    return {trace.name: np.asarray(trace.z, dtype=float) for trace in fig.data}


def untrained_gates(query: dict[str, str]) -> dict[str, np.ndarray]:
    """The gate heatmaps (`z` by trace name, units × steps) that the page draws first for
    the untrained model of the share link `query`: the same seeded data and model as
    the server makes (`Trainer.prepare`), drawn by the page's own figure factory."""
    return _untrained_gates(tuple(sorted(query.items())))


def same_gates(drawn: dict[str, np.ndarray], expected: dict[str, np.ndarray],
               tolerance: float = TOLERANCE) -> bool:
    """Whether two sets of gate heatmaps hold the same traces and values."""
    return drawn.keys() == expected.keys() and all(
        drawn[name].shape == expected[name].shape
        and np.allclose(drawn[name], expected[name], atol=tolerance, rtol=0, equal_nan=True)
        for name in expected)


def judge_first_gates(index: int, drawn: dict[str, np.ndarray] | None,
                      expected: list[dict[str, np.ndarray]]) -> tuple[str, str] | None:
    """Check that session `index` first drew its own untrained model's gates.

    Args:
        index: the session, an index into `expected`.
        drawn: the first gate heatmaps it drew (`z` by trace name), or `None`.
        expected: every session's untrained gates (`untrained_gates`), in session order.

    Returns:
        `None` when they are its own; `("leak", text)` when they are another session's;
        `("not untrained", text)` when they are nobody's untrained model (e.g. a trained
        epoch's) or no gate heatmap was drawn.
    """
    if drawn is None:
        return "not untrained", f"session {index}: no gate heatmap was drawn"
    if same_gates(drawn, expected[index]):
        return None
    others = [other for other, gates in enumerate(expected)
              if other != index and same_gates(drawn, gates)]
    if others:
        return "leak", f"session {index}: its first gates are session {others[0]}'s"
    shapes = {name: z.shape for name, z in drawn.items()}
    return "not untrained", (f"session {index}: its first gates ({shapes}) are no "
                             "session's untrained model")


def plotly_array(value: Any) -> np.ndarray:
    """An array of a Plotly figure's JSON: a list (of lists), or Plotly's typed array
    `{"bdata": base64, "dtype": "f4", "shape": "16, 30"}`."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            array = array.reshape([int(size) for size in str(shape).split(",")])
        return array.astype(float)
    return np.asarray(value, dtype=float)


def heatmaps(traces: list[dict]) -> list[tuple[str, np.ndarray]]:
    """(name, z) of every heatmap trace with data, from a figure's `data`."""
    found = []
    for trace in traces:
        if trace.get("type") == "heatmap" and trace.get("z") is not None:
            z = plotly_array(trace["z"])
            if z.size:
                found.append((trace.get("name", ""), z))
    return found


def gates_of(maps: list[tuple[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
    """The gate heatmaps of one figure (traces named i, f, g, o), if it is that figure."""
    names = sorted(name for name, _ in maps)
    return dict(maps) if names == sorted(GATES) else None


def link_problems(query: dict[str, str], shown: str) -> list[str]:
    """What the query string a page shows lacks of the session's own link (it holds only
    what differs from the defaults)."""
    shown_values = {key: values[-1] for key, values in parse_qs(shown).items()}
    problems = []
    for key, default in (("training.seed", DEFAULT_SEED), ("layer1.units", DEFAULT_UNITS)):
        want = query[key] if int(query[key]) != default else None
        if shown_values.get(key) != want:
            problems.append(f"{key}={shown_values.get(key)} (want {want})")
    return problems


# --- websocket clients -----------------------------------------------------------------


class WebsocketSession:
    """One browser tab's conversation with the server, without the browser.

    What the frontend sends, as Streamlit 1.67's does: a `rerun_script` BackMsg with the
    share link's query string to load the page (the server runs nothing before it); the
    click as a `rerun_script` whose widget states hold the Train button's
    `trigger_value=True` (the frontend also sends every other widget's value; the server
    keeps them in the session state, so a client that never changes one may leave them
    out: the runs are the same); for each `auto_rerun` ForwardMsg (a fragment's
    `run_every`) a `rerun_script` with the fragment's id and `is_auto_rerun` at its
    interval, until a `stop_auto_rerun` or a full run's `new_session` ends it; the
    hashes of the cacheable ForwardMsgs it keeps, so that the server sends a `ref_hash`
    instead of a chart it already sent (kept for the whole session here; the frontend
    drops those unused for a few runs). Heartbeats are only sent when a host page asks
    for them; the websocket's own pings are answered by the `websockets` library.
    """

    def __init__(self, index: int, query: dict[str, str], url: str):
        self.index, self.query, self.url = index, query, url
        self.units = int(query.get("layer1.units", DEFAULT_UNITS))
        self.query_string = urlencode(query)
        self.page_script_hash = ""
        self.connection = None
        self.reader: asyncio.Task | None = None
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}
        self.cache: dict[str, ForwardMsg] = {}
        self.loaded = asyncio.Event()
        self.done = asyncio.Event()
        self.train_id: str | None = None
        self.train_enabled = False
        self.pid: int | None = None
        self.result: dict[str, Any] = {"index": index, "query": query, "units": self.units,
                                       "rows": set(), "summaries": []}

    async def open(self, timeout: float) -> None:
        """Connect and load the page; fails unless it shows an enabled Train button."""
        host = self.url.removeprefix("http://")
        self.connection = await connect(
            f"ws://{host}/_stcore/stream", origin=self.url, subprotocols=["streamlit"],
            proxy=None, max_size=None, ping_interval=None, open_timeout=timeout)
        self.reader = asyncio.create_task(self._read())
        await self._rerun()
        await asyncio.wait_for(self.loaded.wait(), timeout)
        if "failure" in self.result:
            raise RuntimeError(f"session {self.index}: {self.result['failure']}")
        if self.train_id is None or not self.train_enabled:
            raise RuntimeError(f"session {self.index}: no enabled Train button on the page")

    async def click_train(self) -> None:
        self.result["clicked"] = time.monotonic()
        self.result["clicked_epoch"] = time.time()
        await self._rerun(trigger=self.train_id)

    async def close(self) -> None:
        for _, timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        if self.connection is not None:
            await self.connection.close()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader

    # What the frontend sends.

    async def _rerun(self, *, fragment_id: str = "", auto: bool = False,
                     trigger: str | None = None) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self.cache)
        state.context_info.timezone = "UTC"
        state.context_info.timezone_offset = 0
        state.context_info.locale = "en-US"
        state.context_info.url = f"{self.url}/?{self.query_string}"
        state.context_info.is_embedded = False
        state.context_info.color_scheme = "light"
        if trigger is not None:
            widget = state.widget_states.widgets.add()
            widget.id = trigger
            widget.trigger_value = True
        await self.connection.send(message.SerializeToString())

    async def _tick(self, fragment_id: str, interval: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                await self._rerun(fragment_id=fragment_id, auto=True)

    def _schedule(self, fragment_id: str, interval: float) -> None:
        if fragment_id in self.timers and self.timers[fragment_id][0] == interval:
            return  # as the frontend: the same timer goes on
        self._unschedule([fragment_id])
        self.timers[fragment_id] = (interval,
                                    asyncio.create_task(self._tick(fragment_id, interval)))

    def _unschedule(self, fragment_ids) -> None:
        for fragment_id in list(fragment_ids):
            entry = self.timers.pop(fragment_id, None)
            if entry is not None:
                entry[1].cancel()

    # What the server sends.

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for payload in self.connection:
                self._handle(payload, time.monotonic())
        self._fail("the connection closed")

    def _handle(self, payload: bytes, now: float) -> None:
        message = ForwardMsg()
        message.ParseFromString(payload)
        kind = message.WhichOneof("type")
        if kind == "ref_hash":
            cached = self.cache.get(message.ref_hash)
            if cached is None:
                self._fail(f"the server referred to a message not cached: {message.ref_hash}")
                return
            metadata = message.metadata
            message = ForwardMsg()
            message.CopyFrom(cached)
            message.metadata.CopyFrom(metadata)
            kind = message.WhichOneof("type")
        elif message.metadata.cacheable:
            self.cache[message.hash] = message
        result = self.result
        if "clicked" in result and "first_response" not in result:
            result["first_response"] = now - result["clicked"]
        if kind == "new_session":
            self.page_script_hash = message.new_session.page_script_hash
            if not message.metadata.run.fragment_ids:
                self._unschedule(self.timers)  # a full run: the frontend drops every timer
        elif kind == "auto_rerun":
            self._schedule(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            self._unschedule(message.stop_auto_rerun.fragment_ids)
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "script_finished":
            if message.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self._fail("the script did not compile")
            elif message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                self.loaded.set()
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            self._element(message.delta.new_element, message.metadata.delta_path[:1] == [0],
                          now)

    def _element(self, element, main: bool, now: float) -> None:
        kind = element.WhichOneof("type")
        result, clicked = self.result, "clicked" in self.result
        if kind == "button" and main and element.button.label == "Train":
            self.train_id, self.train_enabled = element.button.id, not element.button.disabled
        elif kind == "exception" and not element.exception.is_warning:
            self._fail(f"exception on the page: {element.exception.type}: "
                       f"{element.exception.message[:200]}")
        elif kind == "plotly_chart" and clicked:
            maps = heatmaps(json.loads(element.plotly_chart.spec).get("data", []))
            if maps:
                if "first_chart" not in result:
                    result["first_chart"] = now - result["clicked"]
                    result["chart_epoch"] = time.time()
                result["rows"].update(z.shape[0] for _, z in maps)
                if "first_gates" not in result and gates_of(maps) is not None:
                    result["first_gates"] = gates_of(maps)
        elif kind in ("markdown", "alert", "text", "html"):
            body = getattr(element, kind).body
            found = PROCESS.search(body)
            if found and not main:
                self.pid = int(found.group(1))
            if not clicked or not main:
                return
            if FINISHED_TEXT in body:
                result["finished"] = now - result["clicked"]
                self.done.set()
            elif FAILED_TEXT in body or kind == "alert" and element.alert.format == Alert.ERROR:
                self._fail(f"the page says: {body[:200]}")
            elif kind == "markdown" and body.startswith("**Model**"):
                result["summaries"].append(body)

    def _fail(self, reason: str) -> None:
        if not self.done.is_set():
            self.result["failure"] = reason
            self.done.set()


class WebsocketClients:
    """N `WebsocketSession`s on one event loop, on a thread of its own.

    Its own thread, not this one: Playwright's sync API (the browser tests, in the same
    pytest process) leaves an event loop running on the main thread, where another
    cannot run.
    """

    name = "websocket"

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="load-test-websockets")
        self._thread.start()
        self.sessions: list[WebsocketSession] = []

    def _run(self, coroutine) -> Any:
        """Run a coroutine on the clients' loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def open(self, url: str, queries: list[dict[str, str]]) -> int:
        """Load every session's page; returns the server's process id."""
        self.sessions = [WebsocketSession(index, query, url)
                         for index, query in enumerate(queries)]

        async def load() -> None:
            await asyncio.gather(*(session.open(300) for session in self.sessions))

        self._run(load())
        pids = {session.pid for session in self.sessions}
        if len(pids) != 1 or None in pids:
            raise RuntimeError(f"the sessions name server processes {pids}")
        return pids.pop()

    def click_and_wait(self, timeout: float) -> None:
        async def round_() -> None:
            for session in self.sessions:  # one after the other, at once
                await session.click_train()
            waits = [asyncio.create_task(session.done.wait()) for session in self.sessions]
            _, pending = await asyncio.wait(waits, timeout=timeout)
            for wait in pending:
                wait.cancel()

        self._run(round_())

    def inspect(self) -> list[dict]:
        async def collect() -> list[dict]:  # on the loop: the sessions' timers still run
            results = []
            for session in self.sessions:
                result = session.result
                result["query_string"] = session.query_string
                session._fail("timed out")  # unless it is done
                results.append(result)
            return results

        return self._run(collect())

    def close(self) -> None:
        async def close() -> None:
            await asyncio.gather(*(session.close() for session in self.sessions))

        self._run(close())
        self.sessions = []

    def shutdown(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


# --- browser clients -------------------------------------------------------------------


class BrowserClients:
    """N Playwright contexts (tabs) on Debian's chromium, at the lowest CPU priority."""

    name = "browser"

    def __init__(self, niceness: int):
        from playwright.sync_api import sync_playwright

        self.niceness = niceness
        self.playwright = sync_playwright().start()
        self.browser = launch_browser(self.playwright, FOREGROUND_ARGS)
        if niceness:
            lower_browser_priority(niceness)
        self.sessions: list[dict] = []

    def renice(self) -> None:
        if self.niceness:
            # Chromium sets its processes' priorities itself (-8 for the browser and GPU
            # processes when it may): keep them all down.
            lower_browser_priority(self.niceness)

    def open(self, url: str, queries: list[dict[str, str]]) -> int:
        for index, query in enumerate(queries):
            context = self.browser.new_context(viewport={"width": 1300, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/?{urlencode(query)}")
            self.sessions.append({"index": index, "units": int(query["layer1.units"]),
                                  "context": context, "page": page, "query": query})
        self.renice()  # the renderers of the pages just opened
        for session in self.sessions:
            wait_idle(session["page"], timeout=300)
        marker = self.sessions[0]["page"].locator(
            '[data-testid="stSidebar"] [data-testid="serverProcess"]').first
        marker.wait_for(state="attached", timeout=60_000)
        return int(PROCESS.search(marker.text_content()).group(1))

    def click_and_wait(self, timeout: float) -> None:
        for session in self.sessions:
            page = session["page"]
            page.evaluate(WATCH_FIRST_CHART)
            session["clicked_in_page"], clicked_epoch = page.evaluate(
                "[performance.now(), performance.timeOrigin + performance.now()]")
            session["clicked_epoch"] = clicked_epoch / 1000
            session["clicked"] = time.monotonic()
            page.get_by_test_id("stMainBlockContainer").get_by_role("button",
                                                                    name="Train").click()
        pending = list(self.sessions)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for session in list(pending):
                page = session["page"]
                if "first_chart" not in session:
                    drawn = page.evaluate("window.lstmFirstChart")
                    if drawn is not None:
                        session["first_chart"] = (drawn - session["clicked_in_page"]) / 1000
                        session["chart_epoch"] = page.evaluate(
                            "window.lstmFirstChartEpoch") / 1000
                if page.locator('[data-testid="stException"]').count():
                    session["failure"] = "exception on the page"
                elif page.get_by_text(FINISHED_TEXT, exact=False).count():
                    session["finished"] = time.monotonic() - session["clicked"]
                elif page.get_by_text(FAILED_TEXT, exact=False).count():
                    session["failure"] = "training failed"
                if "finished" in session or "failure" in session:
                    pending.remove(session)
            time.sleep(0.5)

    def inspect(self) -> list[dict]:
        results = []
        for session in self.sessions:
            page = session["page"]
            result = {key: value for key, value in session.items()
                      if key not in ("context", "page")}
            results.append(result)
            if "finished" not in session:
                result.setdefault("failure", "timed out")
                continue
            wait_idle(page, timeout=120)
            gates = page.evaluate("window.lstmFirstGates")
            if gates is not None:
                result["first_gates"] = {trace["name"]: plotly_array(trace["z"])
                                         for trace in gates}
            result["rows"] = set(page.evaluate(HEATMAP_ROWS))
            result["query_string"] = page.url.partition("?")[2]
            params = limits.count_params(ExperimentConfig.from_query(session["query"])[0])
            result["summaries"] = ([f"{params:,} parameters"]
                                   if page.get_by_text(f"{params:,} parameters").count()
                                   else [])
        return results

    def close(self) -> None:
        for session in self.sessions:
            session["context"].close()
        self.sessions = []

    def shutdown(self) -> None:
        self.browser.close()
        self.playwright.stop()


# --- one round -------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def check(results: list[dict], expected: list[dict[str, np.ndarray]]) -> tuple[list, list]:
    """Cross-session leaks and first charts that were not the untrained trace."""
    leaks, not_untrained = [], []
    for result in results:
        index, units = result["index"], result["units"]
        if "finished" not in result:
            continue
        judged = judge_first_gates(index, result.get("first_gates"), expected)
        if judged is not None:
            (leaks if judged[0] == "leak" else not_untrained).append(judged[1])
        problems = link_problems(result["query"], result.get("query_string", ""))
        if result["rows"] != {units}:
            problems.append(f"heatmap rows {sorted(result['rows'])} (want {units})")
        params = limits.count_params(ExperimentConfig.from_query(result["query"])[0])
        if not any(f"{params:,} parameters" in text for text in result["summaries"]):
            problems.append(f"no model summary with its {params:,} parameters")
        if problems:
            leaks.append(f"session {index}: " + "; ".join(problems))
    return leaks, not_untrained


def run(count: int, clients, *, vary_units: bool = False, trainings: int | None = None,
        timeout: float = 1200, expected: list | None = None) -> dict:
    """One round of `count` sessions on a fresh server; `expected` overrides each
    session's untrained gates (a test feeds wrong ones to see the check fail)."""
    queries = [session_query(index, vary_units) for index in range(count)]
    # Made before the server starts, so that it takes no CPU from the round.
    expected = expected or [untrained_gates(query) for query in queries]
    env = {"LSTM_EXPLORER_SESSION_TIMEOUT": "600"}
    if trainings:
        env["LSTM_EXPLORER_MAX_TRAININGS"] = str(trainings)
    load_before = os.getloadavg()
    with app_server(env=env, timeout=180) as url:
        try:
            pid = clients.open(url, queries)
            with MemorySampler(pid, getattr(clients, "renice", None)) as memory:
                started, cpu = time.monotonic(), time.process_time()
                clients.click_and_wait(timeout)
                wall, cpu = time.monotonic() - started, time.process_time() - cpu
                results = clients.inspect()
        finally:
            clients.close()  # every connection stays open until the round ends
    leaks, not_untrained = check(results, expected)
    firsts = [r["first_chart"] for r in results if "first_chart" in r]
    finished = [r["finished"] for r in results if "finished" in r]
    responses = [r["first_response"] for r in results if "first_response" in r]
    return {
        "sessions": count, "completed": len(finished), "results": results,
        "failures": [f"session {r['index']}: {r['failure']}" for r in results
                     if "failure" in r],
        "first_chart_median": statistics.median(firsts) if firsts else None,
        "first_chart_p95": percentile(firsts, 0.95) if firsts else None,
        "first_response_median": statistics.median(responses) if responses else None,
        "first_response_p95": percentile(responses, 0.95) if responses else None,
        "finished_median": statistics.median(finished) if finished else None,
        "finished_p95": percentile(finished, 0.95) if finished else None,
        "stages": stages(results),
        "wall": wall, "client_cpu": cpu, "idle_rss": memory.idle, "peak_rss": memory.peak,
        "leaks": leaks, "not_untrained": not_untrained,
        "load": (load_before, os.getloadavg()),
    }


def stages(results: list[dict]) -> dict[str, float] | None:
    """Median seconds of click -> server sees it -> untrained trace -> chart (drawn in the
    page, or received by a websocket client), from the server's timeline
    (`LSTM_EXPLORER_TIMELINE`, see lstm_explorer/timeline.py) and the clients' clocks (one
    machine, one clock); `None` without a timeline. Sessions are told apart by their
    seed, which is their index; entries from before the round's first click are not
    its own."""
    path = os.environ.get(timeline.ENV)
    if not path:
        return None
    clicks = [result["clicked_epoch"] for result in results if "clicked_epoch" in result]
    seen, traced = {}, {}
    for entry in timeline.read(path):
        if not clicks or entry["time"] < min(clicks):
            continue  # an earlier round's (one file serves every round)
        if entry["stage"] == "click seen":
            seen.setdefault(entry.get("seed"), entry["time"])
        elif entry["stage"] == "initial trace":
            traced.setdefault(entry.get("seed"), entry["time"])
    parts: dict[str, list[float]] = {"click to seen": [], "seen to trace": [],
                                     "trace to chart": []}
    for result in results:
        index = result["index"]
        if index not in seen or index not in traced or "chart_epoch" not in result:
            continue
        parts["click to seen"].append(seen[index] - result["clicked_epoch"])
        parts["seen to trace"].append(traced[index] - seen[index])
        parts["trace to chart"].append(result["chart_epoch"] - traced[index])
    return {name: statistics.median(values) for name, values in parts.items() if values}


# --- the report ------------------------------------------------------------------------


def fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def report(result: dict, clients: str, each: bool) -> None:
    count = result["sessions"]
    print(f"\nN={count}: {result['completed']}/{count} completed, "
          f"{len(result['failures'])} failed, {len(result['leaks'])} leaks, "
          f"{len(result['not_untrained'])} first charts not the untrained trace; "
          f"all done in {result['wall']:.0f} s")
    where = ("received by the client (the browser's drawing not included)"
             if clients == "websocket" else "drawn in the page")
    print(f"  time to first chart, {where}: median {fmt(result['first_chart_median'])}, "
          f"p95 {fmt(result['first_chart_p95'])}; to the finished run: median "
          f"{fmt(result['finished_median'])}, p95 {fmt(result['finished_p95'])}")
    if clients == "websocket":
        print(f"  click to the server's first response: median "
              f"{fmt(result['first_response_median'])}, p95 "
              f"{fmt(result['first_response_p95'])}")
    print(f"  server RSS: {result['idle_rss'] / MB:.0f} MB with the sessions open, "
          f"peak {result['peak_rss'] / MB:.0f} MB while training")
    before, after = result["load"]
    driver = ("the websocket clients" if clients == "websocket"
              else "Playwright's side; the tabs' own CPU not counted")
    print(f"  load average before {before[0]:.1f}, after {after[0]:.1f}; CPU of this "
          f"process ({driver}) during the round {result['client_cpu']:.2f} s")
    if result["stages"]:
        print("  medians: " + ", ".join(f"{name} {value:.1f} s"
                                        for name, value in result["stages"].items()))
    if each:
        print("  per session, in click order (s): first response / first chart / finished")
        for r in result["results"]:
            print(f"    {r['index']:>2} seed {r['query']['training.seed']}: "
                  + " / ".join(f"{r[key]:.2f}" if key in r else "-"
                               for key in ("first_response", "first_chart", "finished")))
    for line in result["failures"] + result["leaks"] + result["not_untrained"]:
        print("  !", line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--clients", choices=("websocket", "browser"), default="websocket",
                        help="websocket: Streamlit's protocol without a browser (default); "
                             "browser: one Chromium tab per session")
    parser.add_argument("--vary-units", action="store_true",
                        help="session i gets 16+i units (distinct architectures) instead of "
                             "the class's one config")
    parser.add_argument("--trainings", type=int, default=None,
                        help="LSTM_EXPLORER_MAX_TRAININGS for the server (default: its own)")
    parser.add_argument("--timeout", type=float, default=1200,
                        help="seconds to wait for every session of one round")
    parser.add_argument("--browser-nice", type=int, default=19,
                        help="browser mode: niceness of the browser processes (default 19, "
                             "the lowest priority): they stand in for the students' own "
                             "machines, so they get only the CPU the server leaves; 0 to "
                             "compete")
    parser.add_argument("--each", action="store_true",
                        help="also print every session's times")
    arguments = parser.parse_args(argv)

    units = "layer1.units=16+i" if arguments.vary_units else "layer1.units=16"
    kind = ("one config per session (--vary-units)" if arguments.vary_units
            else "one share link for all")
    print(f"{os.cpu_count()} cores; trainers: "
          f"{arguments.trainings or limits.Limits().trainings}; clients: "
          + ("websocket (Streamlit's protocol, no browser)" if arguments.clients == "websocket"
             else f"browser (Chromium tabs, nice {arguments.browser_nice})")
          + f"; {kind}: {urlencode(BASE)}, {units}, training.seed=i")
    # Every session's expected first chart, before any server runs.
    for index in range(max(arguments.sessions)):
        untrained_gates(session_query(index, arguments.vary_units))
    clients = (WebsocketClients() if arguments.clients == "websocket"
               else BrowserClients(arguments.browser_nice))
    ok = True
    try:
        for count in arguments.sessions:
            result = run(count, clients, vary_units=arguments.vary_units,
                         trainings=arguments.trainings, timeout=arguments.timeout)
            ok &= not (result["failures"] or result["leaks"] or result["not_untrained"])
            report(result, arguments.clients, arguments.each)
    finally:
        clients.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
