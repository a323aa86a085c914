"""Browser-measured latencies of the real app (streamlit run + Debian chromium).

Prints:
- server start to a usable first page: from launching `streamlit run` to the Build &
  Train page having finished its first script run in a browser (TensorFlow imported);
- click Train to the first chart drawn from data (the gate heatmaps of the probe batch),
  on the default preset, after the app has loaded once: median and worst over several
  trainings, each in a fresh page.

    .venv/bin/python bench/bench_browser.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import app_server, launch_browser, wait_idle  # noqa: E402

# A chart drawn from real data: the gate heatmaps of the probe batch, which the trainer
# traces before its first update (placeholder figures say "No trace yet" instead).
DATA_CHART = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(plot => (plot.data || []).some(trace => trace.type === 'heatmap'))"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        started = time.perf_counter()
        with app_server() as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            wait_idle(page, timeout=120)
            page.wait_for_selector("h1:has-text('Build & Train')")
            page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train").wait_for()
            first_page = time.perf_counter() - started
            page.close()
            latencies = []
            for _ in range(arguments.repeats):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                wait_idle(page, timeout=120)
                train = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train")
                train.wait_for()
                clicked = time.perf_counter()
                train.click()
                page.wait_for_function(DATA_CHART, timeout=120_000, polling=50)
                latencies.append(time.perf_counter() - clicked)
                page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
                page.get_by_text("Stopped", exact=False).first.wait_for(timeout=120_000)
                page.close()
        browser.close()
    print(f"server start to usable first page: {first_page:.2f} s (goal < 10 s)")
    print(f"click Train to first chart: median {statistics.median(latencies):.2f} s, "
          f"worst {max(latencies):.2f} s over {len(latencies)} trainings (goal < 2 s); "
          "each: " + ", ".join(f"{value:.2f}" for value in latencies))


if __name__ == "__main__":
    main()
