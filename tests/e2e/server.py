"""Start the real app with `streamlit run` on a free loopback port, and a browser for it.

Shared by the browser tests, the screenshot script and the browser benchmarks. The
browser is Debian's chromium driven by Playwright (`executable_path`), since browser
downloads are impossible here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-quic", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def app_server(port: int | None = None, env: dict | None = None,
               timeout: float = 90.0) -> Iterator[str]:
    """Run `streamlit run app.py` until the block ends; yields its base URL."""
    port = port or free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
               "--server.headless", "true", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    log = open(os.devnull, "w")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the app at {url} was not healthy within {timeout:.0f} s")


# Every page a load test opens stands for a student's tab in the foreground: Chromium
# must not throttle the timers or rendering of the many pages it thinks are hidden.
FOREGROUND_ARGS = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                   "--disable-backgrounding-occluded-windows"]


def launch_browser(playwright, extra_args: list[str] = ()):
    """Debian's chromium through Playwright; fails (never skips) when it is missing."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium package "
                                "(tests/run.sh does it)")
    return playwright.chromium.launch(executable_path=CHROMIUM,
                                      args=[*CHROMIUM_ARGS, *extra_args])


def wait_idle(page, timeout: float = 60.0) -> None:
    """Wait until the Streamlit script run has finished."""
    page.wait_for_selector(IDLE, timeout=timeout * 1000)
