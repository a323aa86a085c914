"""Journeys on real data: a real series forecast beats the naive forecast it is measured
against, and Python source's characters coloured by a unit the finder ranks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lstm_explorer import presets
from tests.e2e.test_journeys import (
    MAIN,
    SIZES,
    assert_no_traceback,
    open_app,
    pick_preset,
    settle,
    train_and_wait,
    type_number,
)

pytestmark = pytest.mark.e2e

CHARS_LINK = ("?task.name=chars&task.seq_len=30&task.n_samples=96&training.epochs=1"
              "&model.embedding=output_dim%3D4&layer1.units=6&layer1.return_sequences=true")
LOSS_TRACES = """() => {
    const plot = Array.from(document.querySelectorAll('.js-plotly-plot')).find(
        element => (element.layout.title.text || '').startsWith('Training and validation loss'));
    // _fullData: plotly's own arrays (data may hold the encoded {dtype, bdata} form).
    return plot ? plot._fullData.map(trace => ({name: trace.name, y: Array.from(trace.y),
                                                 hover: trace.hovertemplate})) : null;
}"""


def test_a_real_series_preset_is_judged_against_the_naive_forecast_on_the_page(
        page, app_url, screenshot):
    preset = presets.get("elnino_forecast")
    open_app(page, app_url)
    pick_preset(page, preset.title)
    type_number(page, "Epochs", 4)
    train_and_wait(page)
    assert_no_traceback(page)
    verdict = page.get_by_test_id(MAIN).get_by_test_id("stAlert").first.inner_text()
    assert "naive forecast" in verdict, verdict
    page.wait_for_function(LOSS_TRACES.replace("return plot ?", "return plot && plot.data"
                                               ".length > 2 ?"), timeout=30_000)
    traces = page.evaluate(LOSS_TRACES)
    (baseline,) = [trace for trace in traces if trace["name"] == "trivial baseline"]
    assert baseline["hover"].startswith("the naive forecast, repeating the last value read")
    validation = next(trace["y"] for trace in traces if trace["name"] == "validation loss")
    # The number the verdict compares with is the one the chart draws.
    assert re.search(re.escape(f"({baseline['y'][0]:.3g})"), verdict), verdict
    assert len(validation) == 4
    for size in SIZES:
        page.set_viewport_size(size)
        page.wait_for_timeout(600)
        screenshot(page, f"real-series-{size['width']}x{size['height']}")


def test_python_source_characters_follow_the_unit_the_finder_ranks(page, app_url, screenshot):
    open_app(page, app_url, CHARS_LINK)
    train_and_wait(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Inside the Cell").click()
    page.wait_for_selector("h1:has-text('Inside the Cell')")
    settle(page)
    main = page.get_by_test_id(MAIN)
    # Typed into the searchable box and taken with Enter, as a person can: a click on the
    # option missed once, when a redraw closed the list under the pointer.
    pattern = main.get_by_role("combobox", name="Pattern")
    pattern.click()
    pattern.fill("Position in the line")
    pattern.press("Enter")
    settle(page)
    expect(pattern).to_have_value("Position in the line")
    buttons = main.get_by_role("button", name=re.compile(r"^Unit \d+ · r = [+-]\d\.\d\d$"))
    assert buttons.count() == 5
    second = buttons.nth(1).inner_text()
    unit = int(re.match(r"Unit (\d+)", second).group(1))
    buttons.nth(1).click()
    settle(page)
    assert main.get_by_text(f"colour of unit {unit}'s state", exact=False).count() == 1
    strip = main.locator("div[style*='monospace']").first
    assert strip.locator("span").count() == 30  # one per character of the window
    assert_no_traceback(page)
    for size in SIZES:
        page.set_viewport_size(size)
        strip.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        screenshot(page, f"chars-unit-{size['width']}x{size['height']}")
