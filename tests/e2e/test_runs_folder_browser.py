"""Journey: a person trains their own model in another process and watches it in the app.

The app is started with a runs folder (`LSTM_EXPLORER_RUNS`, as a deployment sets it;
`-- --runs DIR` does the same). With Gradient Flow open, a training with
`ExplorerCallback` starts in another process: without a reload the page offers the new
run, shows it, and its epoch count and charts grow as the epochs arrive, until the
run is listed as finished.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.e2e.server import ROOT, app_server, wait_idle

pytestmark = pytest.mark.e2e

EPOCHS = 5
MAIN = "stMainBlockContainer"


@pytest.fixture(scope="module")
def folder_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    with app_server(env={"LSTM_EXPLORER_RUNS": str(root)}) as url:
        yield url, root


def written_so_far(page) -> int | None:
    found = re.search(r"(\d+) epochs? of \d+ written so far", page.get_by_test_id(MAIN)
                      .inner_text())
    return int(found.group(1)) if found else None


def test_a_run_written_by_another_process_appears_and_grows_without_a_reload(
        folder_app, browser, screenshot):
    url, root = folder_app
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{url}/gradient_flow")
    wait_idle(page, timeout=120)
    assert "No gradients recorded yet" in page.get_by_test_id(MAIN).inner_text()

    training = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.own_training", str(root / "mine"), str(EPOCHS),
         "2.5"], cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        counts = set()
        deadline = time.monotonic() + 180
        while training.poll() is None and time.monotonic() < deadline:
            count = written_so_far(page)
            if count is not None:
                counts.add(count)
                if len(counts) == 2:
                    screenshot(page, "runs-folder-growing")
            time.sleep(0.5)
        assert training.wait(timeout=60) == 0
    finally:
        training.kill()
    # Seen while the other process trained: at least two different epoch counts.
    assert len({count for count in counts if 0 < count < EPOCHS}) >= 2, counts
    caption = page.get_by_text(re.compile(r"^Showing folder: mine from the runs folder"))
    caption.filter(has_text=f"{EPOCHS} of {EPOCHS} epochs").wait_for(timeout=30_000)
    assert "being written" not in caption.inner_text()
    assert page.locator(f'[data-testid="{MAIN}"] .js-plotly-plot').count() >= 3
    assert page.locator('[data-testid="stException"]').count() == 0
    for width, height in ((1280, 720), (1600, 1000)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(800)
        screenshot(page, f"runs-folder-{width}x{height}")
    context.close()
