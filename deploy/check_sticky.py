"""Check deploy/nginx.conf: every browser session stays on the app process it started on.

Started by deploy/check_nginx.sh. Starts two `streamlit run app.py` processes on free
loopback ports, learns each one's process id from the sidebar ("Server process N"),
runs nginx with deploy/nginx.conf (the backends and the port swapped in), then opens
several browser sessions (Playwright contexts, each its own cookie jar) through nginx,
and in each: opens a share link, switches pages, changes a setting, reloads. Every read
of the process id must give the same backend, the session's settings must survive, and
the sessions must spread over both backends.

Then the class room (`room_check`): both processes share one room store (a SQLite file,
`LSTM_EXPLORER_ROOMS_DB`, as on one machine in production). A teacher served by one
process opens a room; a student served by the other opens the teacher's link, trains a
tiny model and sends the run; the teacher's class view, not reloaded, must show it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import app_server, free_port, launch_browser, wait_idle  # noqa: E402

TEMPLATE = ROOT / "deploy" / "nginx.conf"
PROCESS = re.compile(r"Server process (\d+)")
MAIN = '[data-testid="stMainBlockContainer"]'
# The student's training: a few seconds on two busy cores.
TINY_RUN = "task.seq_len=6&task.n_samples=64&training.epochs=1&layer1.units=3"
STUDENT_NAME = "Student on the other process"


def nginx_config(backends: list[str], port: int, prefix: Path, sticky: bool = True) -> str:
    """deploy/nginx.conf with these backends, this port, and pid/logs under `prefix`;
    without `sticky`, the upstream picks a backend at random for every request (the
    control). Random, not round robin: a page load makes a fixed number of requests, so
    round robin can send a reload's websocket to the same backend every time."""
    text = TEMPLATE.read_text(encoding="utf-8")
    if not sticky:
        text = text.replace("hash $lstm_route consistent;", "random;")
    begin, end = "# backends:begin", "# backends:end"
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    servers = "".join(f"        server {backend};\n" for backend in backends)
    text = f"{head}{begin}\n{servers}        {end}{tail}"
    text = re.sub(r"listen \d+;", f"listen 127.0.0.1:{port};", text, count=1)
    text = re.sub(r"^pid .*;$", f"pid {prefix}/nginx.pid;", text, flags=re.M)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the prefix
    return f"{user}error_log {prefix}/error.log warn;\n{text}"


@contextlib.contextmanager
def nginx(binary: str, backends: list[str], sticky: bool = True):
    """Run nginx in the foreground with a temporary prefix; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="lstm-explorer-nginx-") as folder:
        prefix = Path(folder)
        port = free_port()
        config = prefix / "nginx.conf"
        config.write_text(nginx_config(backends, port, prefix, sticky), encoding="utf-8")
        command = [binary, "-p", str(prefix), "-c", str(config)]
        subprocess.run([*command, "-t", "-q"], check=True)
        process = subprocess.Popen([*command, "-g", "daemon off;"])
        try:
            deadline = time.monotonic() + 20
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start: "
                                       + (prefix / "error.log").read_text(errors="replace"))
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=15)


def process_id(page) -> int:
    """The app process that serves this page, from the sidebar's hidden marker."""
    marker = page.locator('[data-testid="stSidebar"] [data-testid="serverProcess"]').first
    marker.wait_for(state="attached", timeout=60_000)
    return int(PROCESS.search(marker.text_content()).group(1))


def open_page(page, url: str) -> None:
    page.goto(url)
    wait_idle(page, timeout=120)
    page.wait_for_selector("h1", timeout=60_000)


def switch(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
    wait_idle(page, timeout=120)


def room_check(browser, proxy: str, pids: dict[int, str], tries: int = 12) -> list[str]:
    """A teacher on one process, a student on the other, one room: the student's run
    must reach the teacher's page. Returns what failed (nothing when it worked)."""
    from playwright.sync_api import expect

    contexts = []
    try:
        teacher_context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(teacher_context)
        teacher = teacher_context.new_page()
        open_page(teacher, f"{proxy}/class_room?{TINY_RUN}")
        teacher_pid = process_id(teacher)
        teacher.locator(MAIN).get_by_role("button", name="Open a room").click()
        teacher.get_by_text("Students joined").wait_for(timeout=60_000)
        wait_idle(teacher, timeout=120)
        link = teacher.get_by_test_id("stCode").inner_text().strip()
        code = re.search(r"room=([0-9A-Z-]+)", link).group(1)
        print(f"room {code} opened by a teacher on process {teacher_pid}; the students' "
              f"link: {link}")
        if not link.startswith(proxy):
            return [f"room: the students' link {link} does not go through nginx ({proxy})"]

        # A student's browser on the other process: the route cookie of its first page
        # decides, so the process is known before the room is joined.
        student = student_pid = None
        for _ in range(tries):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            contexts.append(context)
            page = context.new_page()
            open_page(page, f"{proxy}/")
            pid = process_id(page)
            if pid != teacher_pid:
                student, student_pid = page, pid
                break
            context.close()
            contexts.remove(context)
        if student is None:
            return [f"room: no student session landed on the other process in {tries} tries"]
        open_page(student, link)
        student.get_by_text(f"You are in class room {code}", exact=False).first.wait_for(
            timeout=60_000)
        student.locator(MAIN).get_by_role("button", name="Train").click()
        student.locator(MAIN).get_by_text("Finished 1 epoch", exact=False).first.wait_for(
            timeout=300_000)
        wait_idle(student, timeout=120)
        student.locator(MAIN).get_by_label("Your name for the class", exact=True).fill(
            STUDENT_NAME)
        student.locator(MAIN).get_by_role("button", name="Send to class").click()
        student.get_by_text(f"Sent to class room {code}", exact=False).first.wait_for(
            timeout=60_000)
        sent = time.monotonic()

        received = teacher.get_by_test_id("stMetric").filter(has_text="Runs received")
        expect(received.get_by_test_id("stMetricValue")).to_have_text("1", timeout=60_000)
        expect(teacher.locator(MAIN).get_by_text(STUDENT_NAME, exact=True).first).to_be_visible(
            timeout=30_000)
        seen = time.monotonic() - sent
        failures = []
        if {process_id(teacher), process_id(student)} != {teacher_pid, student_pid}:
            failures.append("room: the teacher or the student moved to another process")
        print(f"room {code}: teacher on process {teacher_pid}, student on process "
              f"{student_pid}; the student's run on the teacher's page {seen:.1f} s after "
              "it was sent, without a reload")
        return failures
    finally:
        for context in contexts:
            context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nginx", default="nginx")
    parser.add_argument("--sessions", type=int, default=8,
                        help="browser sessions to open at first (more are opened, up to "
                             "twice as many, until both backends have one)")
    parser.add_argument("--no-room", action="store_true",
                        help="skip the class room check (a teacher on one process, a "
                             "student on the other, one room)")
    parser.add_argument("--round-robin", action="store_true",
                        help="the control: a random backend per request instead of the "
                             "sticky hash; the check must then fail")
    arguments = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        # One room store for both processes, as on one machine in production.
        rooms = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lstm-rooms-")))
        env = {"LSTM_EXPLORER_ROOMS_DB": f"sqlite:///{rooms}/rooms.sqlite3"}
        urls = [stack.enter_context(app_server(timeout=180, env=env)) for _ in range(2)]
        print(f"backends up in {time.monotonic() - started:.0f} s: {', '.join(urls)}")
        playwright = stack.enter_context(sync_playwright())
        browser = launch_browser(playwright)
        stack.callback(browser.close)
        pids = {}
        for url in urls:
            context = browser.new_context()
            page = context.new_page()
            open_page(page, url)
            pids[process_id(page)] = url
            context.close()
        print("backend processes: " + ", ".join(f"{pid} at {url}" for pid, url in pids.items()))
        proxy = stack.enter_context(nginx(arguments.nginx, [u.removeprefix("http://")
                                                          for u in urls],
                                          sticky=not arguments.round_robin))
        print(f"nginx at {proxy}")

        sessions = []  # (context, page, units, [process ids seen])
        limit = arguments.sessions * 2
        while len(sessions) < limit:
            units = 5 + len(sessions)
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            open_page(page, f"{proxy}/?layer1.units={units}")
            sessions.append((context, page, units, [process_id(page)]))
            seen = {session[3][0] for session in sessions}
            if len(sessions) >= arguments.sessions and len(seen) == len(pids):
                break
        # Every session at once: switch pages, come back, reload; each read must agree.
        # The control reloads more: each reload's websocket then picks a backend at
        # random, so 4 sessions x 5 reloads all staying put has a chance of 2**-20.
        steps = ("Parameter Guide", "Build & Train", "reload")
        if arguments.round_robin:
            steps += ("reload",) * 4
        for step in steps:
            for _context, page, units, seen in sessions:
                if step == "reload":
                    page.reload()
                    wait_idle(page, timeout=120)
                else:
                    switch(page, step)
                seen.append(process_id(page))
                if f"layer1.units={units}" not in page.url:
                    failures.append(f"session {units}: its settings were lost after "
                                    f"'{step}' (url {page.url})")
        print(f"{'session':>8}  {'cookie':<34}  process ids seen")
        for context, _page, units, seen in sessions:
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            route = cookies.get("lstm_explorer_route", "")
            print(f"{units:>8}  {route:<34}  {seen}")
            if not route:
                failures.append(f"session {units}: nginx set no lstm_explorer_route cookie")
            if len(set(seen)) != 1:
                failures.append(f"session {units} moved between processes: {seen}")
            if seen[0] not in pids:
                failures.append(f"session {units}: process {seen[0]} is not a backend")
            context.close()
        used = {seen[0] for *_, seen in sessions}
        print(f"{len(sessions)} sessions over {len(used)} of {len(pids)} backends: "
              + ", ".join(f"{pid}: {sum(s[3][0] == pid for s in sessions)}" for pid in pids))
        if used != set(pids):
            failures.append(f"every session went to the same backend ({used})")
        if arguments.round_robin:
            print("room check skipped: the control moves sessions between processes")
        elif not arguments.no_room:
            failures += room_check(browser, proxy, pids)
    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print("PASS: every session stayed on its process")
        if not (arguments.round_robin or arguments.no_room):
            print("PASS: one class room shared by both processes")
    else:
        print("FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
