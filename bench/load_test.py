"""Load test: N browser sessions train at once on one `streamlit run` server.

For each N: starts a fresh server (`streamlit run app.py`, as tests/e2e/server.py does),
opens N Playwright contexts on Debian's chromium (each its own session), loads a share
link with a small config and a distinct `layer1.units` and seed per session, clicks Train
in every session, and waits for each to finish. Reports completed runs, failures, time
from the click to the first chart (median, p95) and to the finished run, the server's
peak memory (RSS of the streamlit process tree, sampled every 0.5 s), and cross-session
leaks: every heatmap a session draws must have its own number of units as rows, its
URL its own units, and its model summary its own parameter count.

    .venv/bin/python bench/load_test.py [--sessions 1 10 30] [--trainings K]

The server trains `LSTM_EXPLORER_MAX_TRAININGS` models at once (default: half the
cores); the rest queue. The browsers run on the same machine as the server, so with many
sessions they compete with it for the CPU: the times are an upper bound.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import limits, timeline  # noqa: E402
from lstm_explorer.config import ExperimentConfig  # noqa: E402
from tests.e2e.server import (  # noqa: E402
    FOREGROUND_ARGS,
    app_server,
    launch_browser,
    wait_idle,
)

MB = 2**20
DEFAULT_UNITS = ExperimentConfig.default().model["layers"][0]["units"]
BASE = {"task.seq_len": "30", "task.n_samples": "500", "training.epochs": "3"}
PROCESS = re.compile(r"Server process (\d+)")
# The first chart drawn from data (the gate heatmaps of the probe batch; placeholder
# figures have no heatmap), timed in the page's own clock so that the polling of 30 pages
# from here does not blur it.
WATCH_FIRST_CHART = """() => {
    window.lstmFirstChart = null;
    const drawn = () => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .some(plot => (plot.data || []).some(trace => trace.type === 'heatmap'));
    const timer = setInterval(() => {
        if (drawn()) {
            window.lstmFirstChart = performance.now();
            window.lstmFirstChartEpoch = performance.timeOrigin + performance.now();
            clearInterval(timer);
        }
    }, 100);
}"""
# Rows of every heatmap drawn (gates and states: one row per unit). Plotly keeps `z` as
# nested arrays, a typed array, or {bdata, dtype, shape: "rows, columns"}.
HEATMAP_ROWS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .flatMap(plot => (plot.data || []).filter(t => t.type === 'heatmap').map(t => {
        const z = t.z;
        if (!z) return 0;
        if (Array.isArray(z) || ArrayBuffer.isView(z)) return z.length;
        if (z.shape !== undefined) return parseInt(String(z.shape).split(',')[0]);
        return 0;
    }))"""


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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(count: int, browser, trainings: int | None, timeout: float, niceness: int) -> dict:
    env = {"LSTM_EXPLORER_SESSION_TIMEOUT": "600"}
    if trainings:
        env["LSTM_EXPLORER_MAX_TRAININGS"] = str(trainings)
    load_before = os.getloadavg()
    with app_server(env=env, timeout=180) as url:
        sessions = []
        for index in range(count):
            units = 16 + index
            query = {**BASE, "layer1.units": str(units), "training.seed": str(index)}
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/?{urlencode(query)}")
            sessions.append({"units": units, "context": context, "page": page,
                             "query": query})
        if niceness:
            lower_browser_priority(niceness)  # the renderers of the pages just opened
        for session in sessions:
            wait_idle(session["page"], timeout=300)
        pid = int(PROCESS.search(sessions[0]["page"].locator('[data-testid="stSidebar"]')
                                 .get_by_text(PROCESS).first.inner_text()).group(1))
        peak, stop = [tree_rss(pid)], threading.Event()
        idle_rss = peak[0]

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss(pid))
                if niceness:
                    # Chromium sets its processes' priorities itself (-8 for the browser
                    # and GPU processes when it may): keep them all down.
                    lower_browser_priority(niceness)
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        for session in sessions:
            page = session["page"]
            page.evaluate(WATCH_FIRST_CHART)
            session["clicked_in_page"], session["clicked_epoch"] = page.evaluate(
                "[performance.now(), performance.timeOrigin + performance.now()]")
            session["clicked"] = time.monotonic()
            page.get_by_test_id("stMainBlockContainer").get_by_role("button",
                                                                    name="Train").click()
        pending = list(sessions)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for session in list(pending):
                page = session["page"]
                if "first_chart" not in session:
                    drawn = page.evaluate("window.lstmFirstChart")
                    if drawn is not None:
                        session["first_chart"] = (drawn - session["clicked_in_page"]) / 1000
                        session["chart_epoch"] = page.evaluate("window.lstmFirstChartEpoch")
                if page.locator('[data-testid="stException"]').count():
                    session["failure"] = "exception on the page"
                elif page.get_by_text("Finished 3 epochs", exact=False).count():
                    session["finished"] = time.monotonic() - session["clicked"]
                elif page.get_by_text("Training failed", exact=False).count():
                    session["failure"] = "training failed"
                if "finished" in session or "failure" in session:
                    pending.remove(session)
            time.sleep(0.5)
        wall = time.monotonic() - started
        leaks = []
        for session in sessions:
            page, units = session["page"], session["units"]
            if "finished" not in session:
                session.setdefault("failure", "timed out")
                continue
            wait_idle(page, timeout=120)
            rows = set(page.evaluate(HEATMAP_ROWS))
            params = limits.count_params(ExperimentConfig.from_query(session["query"])[0])
            summary = page.get_by_text(f"{params:,} parameters").count()
            # The URL holds only what differs from the defaults (32 units is the default).
            in_url = (f"layer1.units={units}" in page.url if units != DEFAULT_UNITS
                      else "layer1.units=" not in page.url)
            if rows != {units} or not in_url or not summary:
                leaks.append(f"session units={units}: heatmap rows {sorted(rows)}, "
                             f"summary {'ok' if summary else 'missing'}, url {page.url}")
        stop.set()
        sampler.join()
        for session in sessions:
            session["context"].close()
    firsts = [s["first_chart"] for s in sessions if "first_chart" in s]
    finished = [s["finished"] for s in sessions if "finished" in s]
    return {
        "sessions": count, "completed": len(finished),
        "failures": [f"units={s['units']}: {s['failure']}" for s in sessions if "failure" in s],
        "first_chart_median": statistics.median(firsts) if firsts else None,
        "first_chart_p95": percentile(firsts, 0.95) if firsts else None,
        "finished_median": statistics.median(finished) if finished else None,
        "finished_p95": percentile(finished, 0.95) if finished else None,
        "firsts_in_order": [s.get("first_chart") for s in sessions],
        "stages": stages(sessions),
        "wall": wall, "idle_rss": idle_rss, "peak_rss": peak[0], "leaks": leaks,
        "load": (load_before, os.getloadavg()),
    }


def stages(sessions: list[dict]) -> dict[str, float] | None:
    """Median seconds of click -> server sees it -> untrained trace -> chart drawn, from
    the server's timeline (`LSTM_EXPLORER_TIMELINE`, see lstm_explorer/timeline.py) and
    the pages' clocks (one machine, one clock); `None` without a timeline."""
    path = os.environ.get(timeline.ENV)
    if not path:
        return None
    seen, traced = {}, {}
    for entry in timeline.read(path):
        if entry["stage"] == "click seen":
            seen.setdefault(entry.get("seed"), entry["time"])
        elif entry["stage"] == "initial trace":
            traced.setdefault(entry.get("seed"), entry["time"])
    parts: dict[str, list[float]] = {"click to seen": [], "seen to trace": [],
                                     "trace to chart": []}
    for index, session in enumerate(sessions):
        if index not in seen or index not in traced or "chart_epoch" not in session:
            continue
        parts["click to seen"].append(seen[index] - session["clicked_epoch"] / 1000)
        parts["seen to trace"].append(traced[index] - seen[index])
        parts["trace to chart"].append(session["chart_epoch"] / 1000 - traced[index])
    return {name: statistics.median(values) for name, values in parts.items() if values}


def fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--trainings", type=int, default=None,
                        help="LSTM_EXPLORER_MAX_TRAININGS for the server (default: its own)")
    parser.add_argument("--timeout", type=float, default=1200,
                        help="seconds to wait for every session of one round")
    parser.add_argument("--browser-nice", type=int, default=19,
                        help="niceness of the browser processes (default 19, the lowest "
                             "priority): they stand in for the students' own machines, so "
                             "they get only the CPU the server leaves; 0 to compete")
    parser.add_argument("--each", action="store_true",
                        help="also print every session's time to its first chart")
    arguments = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print(f"{os.cpu_count()} cores; trainers: "
          f"{arguments.trainings or limits.Limits().trainings}; config "
          f"{urlencode(BASE)}, layer1.units=16+i, training.seed=i")
    ok = True
    with sync_playwright() as playwright:
        browser = launch_browser(playwright, FOREGROUND_ARGS)
        if arguments.browser_nice:
            lower_browser_priority(arguments.browser_nice)
        for count in arguments.sessions:
            result = run(count, browser, arguments.trainings, arguments.timeout,
                         arguments.browser_nice)
            ok &= not result["failures"] and not result["leaks"]
            print(f"\nN={count}: {result['completed']}/{count} completed, "
                  f"{len(result['failures'])} failed, {len(result['leaks'])} leaks; "
                  f"all done in {result['wall']:.0f} s")
            print(f"  time to first chart: median {fmt(result['first_chart_median'])}, p95 "
                  f"{fmt(result['first_chart_p95'])}; to the finished run: median "
                  f"{fmt(result['finished_median'])}, p95 {fmt(result['finished_p95'])}")
            print(f"  server RSS: {result['idle_rss'] / MB:.0f} MB with the sessions open, "
                  f"peak {result['peak_rss'] / MB:.0f} MB while training")
            before, after = result["load"]
            print(f"  load average before {before[0]:.1f}, after {after[0]:.1f}")
            if result["stages"]:
                print("  medians: " + ", ".join(f"{name} {value:.1f} s"
                                                for name, value in result["stages"].items()))
            if arguments.each:
                print("  first chart, in click order: " + ", ".join(
                    f"{value:.0f}" if value is not None else "-"
                    for value in result["firsts_in_order"]))
            for line in result["failures"] + result["leaks"]:
                print("  !", line)
        browser.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
