"""Browser-measured latencies of the real app (streamlit run + Debian chromium).

Prints:
- server start to a usable first page: from launching `streamlit run` to the Build &
  Train page having finished its first script run in a browser (TensorFlow imported);
- click Train to the first chart drawn from data (the gate heatmaps of the probe batch),
  on the default preset (or the share link's `--query`), after the app has loaded once,
  each training in a fresh page: the first training of the server process apart, then
  the median and worst of the later ones. The server traces the default preset's graph
  once its first page has run, so its first training finds the graph ready; `--query layer1.units=48`
  measures a first training of an architecture the server has not traced (its
  untrained picture goes op by op, its graph is traced during the first epoch);
- where that time goes: the server writes a timeline (`lstm_explorer.timeline`) and
  each stage is printed as seconds after the click, median over the trainings.

    .venv/bin/python bench/bench_browser.py [--repeats 5] [--query layer1.units=48]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import timeline  # noqa: E402
from tests.e2e.server import app_server, launch_browser, wait_idle  # noqa: E402

# A chart drawn from real data: the gate heatmaps of the probe batch, which the trainer
# traces before its first update (placeholder figures say "No trace yet" instead).
DATA_CHART = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(plot => (plot.data || []).some(trace => trace.type === 'heatmap'))"""

WATCH_PLOTS = """() => {
    window.__plots = {any: null, data: null};
    const look = () => {
        const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
        if (plots.length && window.__plots.any === null) window.__plots.any = performance.now();
        if (window.__plots.data === null && plots.some(
                plot => (plot.data || []).some(trace => trace.type === 'heatmap'))) {
            window.__plots.data = performance.now();
        }
        if (window.__plots.data === null) requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
}"""

TRAIN_ENABLED = """() => Array.from(document.querySelectorAll(
    '[data-testid="stMainBlockContainer"] button'))
    .some(button => button.innerText.trim().endsWith('Train') && !button.disabled)"""

# The stages of the click-to-chart path, in the order they happen (see the marks in
# pages/build_train.py and lstm_explorer/training.py).
STAGES = ("click seen", "job submitted", "page run end", "prepare", "data made",
          "model built", "fit set up", "initial trace", "charts poll", "figures built",
          "charts sent")


def stage_offsets(entries: list[dict], clicked: float, seen: float) -> dict[str, float]:
    """Seconds from the click to the first time each stage was reached before `seen`.

    For the chart stages only the first run that had a trace to draw counts.
    """
    offsets: dict[str, float] = {}
    traced_from = None
    for entry in entries:
        if not clicked <= entry["time"] <= seen:
            continue
        stage = entry["stage"]
        if stage == "initial trace" and traced_from is None:
            traced_from = entry["time"]
        if stage in ("charts poll", "figures built", "charts sent"):
            if stage != "charts poll" and not entry.get("trace"):
                continue
            if stage == "charts poll" and (traced_from is None or entry["time"] < traced_from):
                continue
        offsets.setdefault(stage, entry["time"] - clicked)
    return offsets


def click_to_chart(browser, url: str, timeline_path: str) -> tuple[float, dict[str, float]]:
    """One training in a fresh page: seconds from the click to the first data chart."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    wait_idle(page, timeout=120)
    train = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train")
    train.wait_for()
    # The page's own clock: when the first plotly chart of any kind exists, and when
    # the first one with data does (a chart is drawn only once plotly.js has loaded).
    page.evaluate(WATCH_PLOTS)
    clicked = time.time()
    clicked_page = page.evaluate("performance.now()")
    train.click()
    page.wait_for_function(DATA_CHART, timeout=120_000, polling=50)
    seen = time.time()
    seen_page = page.evaluate("window.__plots")
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
    # However it ended (stopped, or cancelled if the click came while it was prepared),
    # the next training may start once Train is enabled again.
    page.wait_for_function(TRAIN_ENABLED, timeout=120_000, polling=100)
    page.close()
    offsets = stage_offsets(timeline.read(timeline_path), clicked, seen)
    for stage, key in (("plot in page", "any"), ("data plot", "data")):  # page clock
        if seen_page.get(key) is not None:
            offsets[stage] = max(0.0, seen_page[key] - clicked_page) / 1000
    return seen - clicked, offsets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="trainings after the first one of the server process")
    parser.add_argument("--query", default="",
                        help="a share link's query string to train instead of the default "
                             "preset, e.g. layer1.units=48")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    timeline_path = os.path.join(tempfile.mkdtemp(prefix="lstm-explorer-"), "timeline.jsonl")
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        started = time.perf_counter()
        with app_server(env={timeline.ENV: timeline_path}) as url:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            wait_idle(page, timeout=120)
            page.wait_for_selector("h1:has-text('Build & Train')")
            page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train").wait_for()
            first_page = time.perf_counter() - started
            page.close()
            link = f"{url}/?{arguments.query}" if arguments.query else url
            runs = [click_to_chart(browser, link, timeline_path)
                    for _ in range(1 + arguments.repeats)]
        browser.close()
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"server start to usable first page: {first_page:.2f} s (goal < 10 s)")
    first, later = runs[0], runs[1:]
    print(f"click Train to first chart, first training of the server process: "
          f"{first[0]:.2f} s (goal < 2 s)")
    if later:
        latencies = [latency for latency, _ in later]
        print(f"click Train to first chart, later trainings: median "
              f"{statistics.median(latencies):.2f} s, worst {max(latencies):.2f} s over "
              f"{len(latencies)} (goal < 2 s); each: "
              + ", ".join(f"{value:.2f}" for value in latencies))
    print("\nseconds after the click each stage was first reached:")
    print(f"{'stage':>15}  {'first':>6}  {'later (median)':>14}")
    for stage in (*STAGES, "plot in page", "data plot", "chart seen"):
        def offset(run, stage=stage):
            return run[0] if stage == "chart seen" else run[1].get(stage)
        later_values = [value for value in map(offset, later) if value is not None]
        first_value = offset(first)
        first_text = "-" if first_value is None else f"{first_value:.2f}"
        later_text = f"{statistics.median(later_values):.2f}" if later_values else "-"
        print(f"{stage:>15}  {first_text:>6}  {later_text:>14}")


if __name__ == "__main__":
    main()
