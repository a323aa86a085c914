"""The Lab in a real browser: run experiment 1 end to end and read its conclusion."""

import re
from urllib.parse import urlencode

import pytest

from tests.e2e.server import wait_idle

pytestmark = pytest.mark.e2e

CHART = '[data-testid="stPlotlyChart"]'
# The experiment's own 10 epochs over its 3 seeds take about a minute on an idle 2-core
# machine; the page's "Epochs per run" option shortens every run without changing the
# experiment, and its Seeds box takes 2 seeds: enough for a spread between seeds.
EPOCHS = "1"
SEEDS = "2"


def test_lab_experiment_1_runs_end_to_end_and_shows_its_conclusion(page, app_url, screenshot):
    page.goto(app_url + "/")
    wait_idle(page, timeout=120)
    page.locator('[data-testid="stSidebarNav"] a', has_text="The Lab").click()
    page.wait_for_selector("h1:has-text('The Lab')", timeout=60_000)
    wait_idle(page)
    panel = page.locator('[role="tabpanel"]:visible')
    panel.get_by_text("What to look for.").first.wait_for(timeout=30_000)
    assert "SimpleRNN vs GRU vs LSTM" in panel.inner_text()

    epochs = page.get_by_label("Epochs per run", exact=True).and_(
        page.locator("input"))
    epochs.fill(EPOCHS)
    epochs.press("Enter")
    wait_idle(page)
    panel.get_by_text(f"{EPOCHS} epochs each (the experiment has 10)").wait_for(timeout=30_000)
    # Each experiment runs over its own seeds unless its Seeds box says otherwise.
    seeds = panel.get_by_label("Seeds", exact=True).and_(page.locator("input"))
    assert seeds.input_value() == "3"
    assert "× 3 seeds" in panel.inner_text()
    seeds.fill(SEEDS)
    seeds.press("Enter")
    wait_idle(page)
    panel.get_by_text(f"× {SEEDS} seeds, {EPOCHS} epochs each").wait_for(timeout=30_000)

    run = panel.get_by_role("button", name="Run")
    assert run.count() == 1
    run.click()
    page.get_by_text(re.compile(r"Run [1-6] of 6 \((SimpleRNN|GRU|LSTM), seed [01]\)")).first \
        .wait_for(timeout=60_000)
    assert panel.get_by_role("button", name="Stop").is_enabled()

    conclusion = panel.locator('[data-testid="stAlert"]', has_text="What the runs measured")
    conclusion.wait_for(timeout=150_000)
    wait_idle(page)
    text = conclusion.inner_text()
    for cell in ("SimpleRNN", "GRU", "LSTM"):
        assert cell in text
    assert "gradient reaching step 0" in text
    assert "Medians over 2 seeds (seeds 0 and 1 of training.seed" in text
    seeds_table = panel.locator("table", has_text="seed 1")
    assert seeds_table.locator("td").first.inner_text().strip() == "SimpleRNN"
    assert panel.get_by_text("Which seeds learned").count() == 1
    page.wait_for_function(
        "Array.from(document.querySelectorAll('[role=\"tabpanel\"]'))"
        ".some(p => p.offsetParent !== null && p.querySelectorAll('.js-plotly-plot').length >= 4)",
        timeout=60_000)
    titles = panel.locator(".js-plotly-plot").evaluate_all(
        "plots => plots.map(plot => (plot.layout.title || {}).text || '')")
    assert any("Gradient flow through time" in title for title in titles), titles
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "lab_experiment1", full_page=True)


def test_vary_one_parameter_trains_the_runs_and_shows_them_compared(page, app_url, screenshot):
    """Compare Runs: a two-value sweep on small recall settings (a few seconds a run)."""
    query = {"task.name": "recall", "task.seq_len": "20", "task.lag": "15",
             "task.n_samples": "400", "training.epochs": "3"}
    page.goto(app_url + "/compare_runs?" + urlencode(query))
    wait_idle(page, timeout=120)
    page.wait_for_selector("h1:has-text('Compare Runs')", timeout=60_000)
    page.get_by_text("comparing needs at least two").wait_for(timeout=30_000)
    values = page.get_by_label("Values (comma separated)", exact=True).and_(
        page.locator("input"))
    values.fill("8,32")
    values.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Train the runs").click()
    page.get_by_text(re.compile(r"Run [12] of 2 \(layer\.units=")).first.wait_for(
        timeout=60_000)
    page.get_by_text("added runs 1 and 2").wait_for(timeout=120_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 5",
                           timeout=60_000)
    wait_idle(page)
    table = page.locator('[data-testid="stMarkdownContainer"] table',
                         has_text="layer1.units")
    table.wait_for(timeout=30_000)
    names = page.locator(".js-plotly-plot").evaluate_all(
        "plots => plots.map(plot => plot.data.filter(t => t.showlegend !== false)"
        ".map(t => t.name))")
    assert ["run 1: layer.units=8", "run 2: layer.units=32"] in names
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "compare_runs", full_page=True)
