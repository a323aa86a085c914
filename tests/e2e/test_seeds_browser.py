"""Repeat with seeds in a real browser: a sweep over two seeds per value on Compare Runs,
and a single run repeated over seeds from Build & Train's verdict."""

import re
from urllib.parse import urlencode

import pytest

from tests.e2e.server import wait_idle

pytestmark = pytest.mark.e2e

# Tiny settings: each run trains in a second or two on two cores.
TINY = {"task.seq_len": "6", "task.n_samples": "64", "layer1.units": "4",
        "training.epochs": "2"}
WITHIN = "within the spread between seeds: this difference may be one seed's luck"
BEYOND = "larger than the spread between seeds"


def number_box(page, label: str):
    return page.get_by_label(label, exact=True).and_(page.locator("input"))


def set_number(page, label: str, value: str) -> None:
    box = number_box(page, label)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def plot_traces(page) -> list[dict]:
    """Each chart's title, its legend names and the names of its filled band traces."""
    return page.locator(".js-plotly-plot").evaluate_all(
        "plots => plots.map(plot => ({title: (plot.layout.title || {}).text || '',"
        " legend: plot.data.filter(t => t.showlegend !== false).map(t => t.name),"
        " bands: plot.data.filter(t => t.fill === 'toself').map(t => t.name),"
        " drawn: plot.querySelectorAll('path.js-fill').length}))")


def test_a_sweep_over_two_seeds_per_value_shows_bands_and_says_whether_it_is_luck(
        page, app_url, screenshot):
    page.goto(app_url + "/compare_runs?" + urlencode(TINY))
    wait_idle(page, timeout=120)
    page.wait_for_selector("h1:has-text('Compare Runs')", timeout=60_000)
    page.get_by_text("comparing needs at least two").wait_for(timeout=30_000)
    assert number_box(page, "Seeds per value").input_value() == "1"
    set_number(page, "Seeds per value", "2")
    page.get_by_text("Each value is trained over 2 seeds").wait_for(timeout=30_000)
    values = page.get_by_label("Values (comma separated)", exact=True).and_(
        page.locator("input"))
    values.fill("2,3")
    values.press("Enter")
    wait_idle(page)

    page.get_by_role("button", name="Train the runs").click()
    # The progress line says which value and which seed, of values × seeds runs.
    page.get_by_text(re.compile(r"Run [1-4] of 4 \(layer\.units=[23], seed [01]\)")).first \
        .wait_for(timeout=60_000)
    page.get_by_text("added runs 1 and 2").wait_for(timeout=180_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 5",
                           timeout=60_000)
    wait_idle(page)

    names = ["run 1: layer.units=2, median of 2 seeds", "run 2: layer.units=3, median of 2 seeds"]
    table = page.locator('[data-testid="stMarkdownContainer"] table',
                         has_text="final validation loss")
    header = table.locator("th").all_inner_texts()
    assert [cell.strip() for cell in header] == ["parameter", "setting", *names]
    result = table.locator("tr", has_text="median (min–max) over 2 seeds")
    cells = [cell.strip() for cell in result.locator("td").all_inner_texts()]
    assert cells[0] == "result"
    assert all(re.fullmatch(r"\S+ \(\S+–\S+\)", cell) for cell in cells[2:]), cells

    conclusion = page.locator('[data-testid="stAlert"]', has_text="Final validation loss over "
                              "2 seeds (seeds 0 and 1), median (min–max)")
    conclusion.wait_for(timeout=30_000)
    text = conclusion.inner_text()
    assert (WITHIN in text) != (BEYOND in text), text

    plots = {plot["title"]: plot for plot in plot_traces(page)}
    loss = plots["Loss of each run"]
    assert loss["legend"] == names
    assert {f"{name} (range)" for name in names} <= set(loss["bands"])
    assert loss["drawn"] >= 2  # the bands are painted, not only listed
    flow = plots["Gradient flow through time, layer 1: runs compared"]
    assert flow["bands"] == [f"{name} (range)" for name in names] and flow["drawn"] >= 2
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "compare_runs_seeds", full_page=True)


def test_a_single_run_is_repeated_over_seeds_from_its_verdict(page, app_url, screenshot):
    page.goto(app_url + "/?" + urlencode({**TINY, "training.epochs": "1"}))
    wait_idle(page, timeout=120)
    page.get_by_role("button", name="Train").first.click()
    repeat_link = page.get_by_role("link", name="Repeat over seeds")
    repeat_link.wait_for(timeout=120_000)
    wait_idle(page)
    repeat_link.click()
    page.wait_for_selector("h1:has-text('Compare Runs')", timeout=60_000)
    wait_idle(page)

    # The run just trained is what the box repeats.
    box = page.locator('[data-testid="stVerticalBlock"]',
                       has_text="Repeat over seeds ·").last
    chosen = box.get_by_role("combobox", name="Settings to repeat").input_value()
    assert chosen == "run 1: lstm 4 on adding", chosen
    set_number(page, "Seeds", "2")
    box.get_by_text("Trains seeds 0 to 1 of training.seed: 2 runs of 1 epoch").wait_for(
        timeout=30_000)
    box.get_by_role("button", name="Repeat over seeds").click()
    verdict = page.locator('[data-testid="stAlert"]', has_text="Over the seeds.")
    verdict.wait_for(timeout=180_000)
    wait_idle(page)
    assert "Over 2 seeds (seeds 0 and 1 of training.seed; the same data)" in \
        verdict.inner_text()
    page.get_by_text("Added to this session's runs as run 2").wait_for(timeout=30_000)
    seeds_table = box.locator("table", has_text="lstm 4 on adding")
    assert [cell.strip() for cell in seeds_table.locator("th").all_inner_texts()] == [
        "", "seed 0", "seed 1"]
    plots = {plot["title"]: plot for plot in plot_traces(page)}
    band = plots["Validation loss over seeds"]
    assert band["bands"] == ["lstm 4 on adding (range)"] and band["drawn"] == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "repeat_over_seeds", full_page=True)
