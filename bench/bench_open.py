"""How fast Build & Train becomes usable (Train enabled) when a person opens the app.

Prints, on the real app (`streamlit run`) in Debian's chromium, each session in a new
browser context (no cache, as a student's first visit):
- the first session after a server start: from opening the page to Train enabled, the
  server already answering its health check (TensorFlow imported at its first page);
- later sessions of the warm server, one at a time: median and worst;
- a class: `--class-size` sessions opening the same link at once: every one usable,
  median, p95 and worst;
- where the time of one later session goes: the server's script-run marks
  (`lstm_explorer.timeline`) and the page's own clock.

Goals (issue 16): later sessions ≤ 2 s median, the first ≤ 5 s, a class of 30 ≤ 15 s
at the 95th percentile, on two cores.

    .venv/bin/python bench/bench_open.py [--repeats 7] [--class-size 30] [--query ...]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, urljoin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import timeline  # noqa: E402
from tests.e2e.server import (  # noqa: E402
    app_server,
    launch_browser,
)

TRAIN_ENABLED = """() => Array.from(document.querySelectorAll(
    '[data-testid="stMainBlockContainer"] button'))
    .some(button => button.innerText.trim().endsWith('Train') && !button.disabled)"""


def open_once(browser, url: str) -> tuple[float, dict[str, float]]:
    """Open the page in a new context; seconds to Train enabled, and page-clock marks."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(TRAIN_ENABLED, timeout=300_000, polling=50)
    usable = time.perf_counter() - started
    marks = page.evaluate("""() => {
        const navigation = performance.getEntriesByType('navigation')[0] || {};
        const scripts = performance.getEntriesByType('resource')
            .filter(entry => entry.initiatorType === 'script');
        return {
            html: navigation.responseEnd || 0,
            dom_ready: navigation.domContentLoadedEventEnd || 0,
            scripts_loaded: Math.max(0, ...scripts.map(entry => entry.responseEnd)),
            bytes: scripts.reduce((sum, entry) => sum + (entry.transferSize || 0), 0),
            usable: performance.now(),
        };
    }""")
    context.close()
    return usable, marks


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def open_class(url: str, query: str, size: int) -> list[float | None]:
    """`size` students opening the same link at the same moment; seconds until each
    one's page has been served and its first script run has drawn an enabled Train
    button, `None` for one who did not get there within two minutes.

    Each student is what the server sees of a browser without a cache: a GET of the
    page and of the scripts and styles it names, then a websocket conversation
    (`load_test.WebsocketSession`, the frontend's own messages). Thirty real browsers
    cannot run here: their renderers would take the two cores the server is measured
    on, where in a class each student's browser has a machine of its own. What one
    browser adds on top (drawing the page) is the later sessions' figure minus the
    server's; the report prints both.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from bench.load_test import WebsocketSession

    fields = dict(parse_qsl(query))

    def fetch_page() -> int:
        page = urllib.request.urlopen(f"{url}/", timeout=120).read()
        size_read = len(page)
        for asset in re.findall(rb'(?:src|href)="([^"]+\.(?:js|css))"', page):
            with urllib.request.urlopen(urljoin(f"{url}/", asset.decode()),
                                        timeout=120) as response:
                size_read += len(response.read())
        return size_read

    async def run() -> list[float | None]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=size) as pool:

            async def student(index: int) -> float | None:
                started = time.monotonic()
                session = WebsocketSession(index, fields, url)
                try:
                    await loop.run_in_executor(pool, fetch_page)
                    await session.open(120)
                except Exception as error:  # noqa: BLE001 - one who never got in counts
                    print(f"  student {index}: {type(error).__name__}: {str(error)[:120]}")
                    return None
                finally:
                    seconds = time.monotonic() - started
                    await session.close()
                return seconds

            return list(await asyncio.gather(*(student(index) for index in range(size))))

    # A thread of its own: Playwright's sync API keeps an event loop on this one.
    results: list[float | None] = []
    worker = threading.Thread(target=lambda: results.extend(asyncio.run(run())))
    worker.start()
    worker.join()
    return results


def server_stages(path: str, since: float) -> dict[str, float]:
    """Seconds from the first script-run mark after `since` to each later mark."""
    entries = [entry for entry in timeline.read(path) if entry["time"] >= since]
    if not entries:
        return {}
    start = entries[0]["time"]
    stages: dict[str, float] = {}
    for entry in entries:
        stages.setdefault(entry["stage"], entry["time"] - start)
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="later sessions, one by one")
    parser.add_argument("--class-size", type=int, default=30,
                        help="sessions opening at once (0: skip)")
    parser.add_argument("--query", default="", help="a share link's query string")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    timeline_path = os.path.join(tempfile.mkdtemp(prefix="lstm-explorer-"), "timeline.jsonl")
    with sync_playwright() as playwright, \
            app_server(env={timeline.ENV: timeline_path}) as url:
        link = f"{url}/?{arguments.query}" if arguments.query else f"{url}/"
        browser = launch_browser(playwright)
        first, first_marks = open_once(browser, link)
        time.sleep(3)  # the server's warm-up after its first page (frame.warm_up_...)
        later, stages = [], []
        for _ in range(arguments.repeats):
            since = time.time()
            seconds, marks = open_once(browser, link)
            later.append((seconds, marks))
            stages.append(server_stages(timeline_path, since))
        browser.close()
        crowd = []
        if arguments.class_size:
            time.sleep(2)
            crowd = open_class(url, arguments.query, arguments.class_size)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"first session after the server start: {first:.2f} s to Train enabled "
          f"(goal <= 5 s); scripts {first_marks['bytes'] / 1e6:.1f} MB")
    seconds = [value for value, _ in later]
    print(f"later sessions: median {statistics.median(seconds):.2f} s, worst "
          f"{max(seconds):.2f} s over {len(seconds)} (goal median <= 2 s); each: "
          + ", ".join(f"{value:.2f}" for value in seconds))
    print("page clock of later sessions (median seconds from navigation start): "
          + ", ".join(f"{name} {statistics.median(marks[name] for _, marks in later) / 1000:.2f}"
                      for name in ("html", "dom_ready", "scripts_loaded", "usable")))
    names = sorted({name for stage in stages for name in stage},
                   key=lambda name: statistics.median(stage.get(name, 0) for stage in stages))
    if names:
        print("server marks of later sessions (median seconds after the first mark): "
              + ", ".join(f"{name} {statistics.median(s[name] for s in stages if name in s):.2f}"
                          for name in names))
    if crowd:
        usable = [value for value in crowd if value is not None]
        print(f"a class of {len(crowd)} opening at once (websocket clients: the page, its "
              f"scripts and the first script run): {len(usable)} usable; "
              + (f"median {statistics.median(usable):.2f} s, p95 "
                 f"{percentile(usable, 0.95):.2f} s, worst {max(usable):.2f} s "
                 "(goal p95 <= 15 s)" if usable else "none usable"))


if __name__ == "__main__":
    main()
