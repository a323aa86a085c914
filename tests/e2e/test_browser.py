"""The app in a real browser: Debian's chromium, driven by Playwright, on `streamlit run`."""

import time
from urllib.parse import urlencode

from tests.e2e.server import wait_idle

pytestmark = __import__("pytest").mark.e2e

PAGES = ("Build & Train", "Inside the Cell", "Gradient Flow", "Parameter Guide")
CHART = '[data-testid="stPlotlyChart"]'


def open_app(page, url, query=None):
    page.goto(url + ("/?" + urlencode(query) if query else "/"))
    wait_idle(page, timeout=120)
    page.wait_for_selector("h1", timeout=60_000)


def assert_no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0


def shown_charts(page) -> dict | None:
    """The plotly charts a person sees: their keys and a fingerprint of their data.

    Streamlit 1.67 keeps a replaced chart mounted but hidden (`data-retained`) until the
    fragment run that replaced it ends, so a redraw briefly holds two of each chart in the
    page; only the shown ones count. `None` while a shown chart is still being drawn.
    """
    return page.evaluate("""() => {
        const charts = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
            .filter(chart => !chart.closest('[data-retained]') && chart.offsetParent !== null);
        const plots = charts.map(chart => chart.querySelector('.js-plotly-plot'));
        if (plots.some(plot => !plot || !plot.data)) return null;
        const text = plots.map(plot => JSON.stringify(plot.data)).join('|');
        let hash = 0;
        for (let index = 0; index < text.length; index++) {
            hash = (hash * 31 + text.charCodeAt(index)) | 0;
        }
        const keys = charts.map(chart => {
            const box = chart.closest('[class*="st-key-"]');
            return box ? [...box.classList].find(name => name.startsWith('st-key-')) : '';
        });
        return {keys, data: `${text.length}:${hash}`};
    }""")


def test_every_page_opens_without_an_error(page, app_url, screenshot):
    open_app(page, app_url)
    for title in PAGES:
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
        page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
        wait_idle(page)
        assert_no_exception(page)
    screenshot(page, "parameter_guide")


def test_training_draws_charts_that_update_while_it_runs_and_stop_keeps_the_run(
        page, app_url, screenshot):
    open_app(page, app_url, {"training.epochs": "100"})  # stopped long before its end
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Train").click()
    page.wait_for_selector(CHART, timeout=60_000)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2",
                           timeout=60_000)
    stop = page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop")
    drawn = []  # each distinct picture of the charts, in the order they were shown
    deadline = time.monotonic() + 90
    while len(drawn) < 3 and stop.is_enabled() and time.monotonic() < deadline:
        charts = shown_charts(page)
        if charts is not None and "st-key-live-placeholder" not in charts["keys"]:
            assert len(set(charts["keys"])) == len(charts["keys"]), f"shown twice: {charts['keys']}"
            if not drawn or drawn[-1] != charts["data"]:
                drawn.append(charts["data"])
        time.sleep(0.3)
    # The untrained trace, then two epochs' redraws, all while the training still runs.
    assert len(drawn) >= 3, f"the charts redrew {len(drawn) - 1} time(s) while training ran"
    assert stop.is_enabled(), "training ended too soon"
    screenshot(page, "build_and_train_live", full_page=True)
    stop.click()
    page.get_by_text("Stopped", exact=False).first.wait_for(timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    screenshot(page, "build_and_train_stopped", full_page=True)

    page.locator('[data-testid="stSidebarNav"] a', has_text="Gradient Flow").click()
    page.wait_for_selector("h1:has-text('Gradient Flow')")
    page.wait_for_selector(CHART, timeout=60_000)
    wait_idle(page)
    screenshot(page, "gradient_flow", full_page=True)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Inside the Cell").click()
    page.wait_for_selector("h1:has-text('Inside the Cell')")
    page.wait_for_selector(CHART, timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    screenshot(page, "inside_the_cell", full_page=True)


def test_a_share_link_opens_with_its_values(page, app_url):
    open_app(page, app_url, {"task.name": "recall", "task.lag": "5", "layer1.units": "7"})
    # The model summary is built from the link's values: LSTM(7) on 8 one-hot symbols.
    page.get_by_text("4·(7·(8+7)+7) = 448").first.wait_for(timeout=30_000)
    assert "layer1.units=7" in page.url and "task.name=recall" in page.url
    assert_no_exception(page)


def test_a_hostile_share_link_shows_a_message_not_a_traceback(page, app_url):
    open_app(page, app_url, {"layer1.kernel_initializer": "__import__('os').system('x')",
                             "training.epochs": "-4"})
    page.locator('[data-testid="stAlert"]').first.wait_for(timeout=30_000)
    text = page.locator('[data-testid="stAlert"]').first.inner_text()
    assert "layer1.kernel_initializer" in text and "training.epochs" in text
    assert_no_exception(page)
