"""Fixtures for the browser tests: one real app server and one browser per module."""

import os
import re
from pathlib import Path

import pytest

from tests.e2e.server import app_server, launch_browser

SCREENSHOTS = Path(os.environ.get("LSTM_EXPLORER_SCREENSHOTS", "/tmp/lstm-explorer-screens"))


@pytest.fixture(scope="session")
def app_url(browser, tmp_path_factory):
    """One app server for every browser test, warmed up: its first page has been
    opened and TensorFlow imported (the first page draws before that, and tests that
    read the model summary would otherwise wait for it on a busy machine). Its class
    rooms live in a SQLite file of the test session's own, not in the user's."""
    rooms_db = tmp_path_factory.mktemp("rooms") / "rooms.sqlite3"
    with app_server(env={"LSTM_EXPLORER_ROOMS_DB": f"sqlite:///{rooms_db}"}) as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "/")
        page.get_by_test_id("stMainBlockContainer").get_by_text(
            re.compile(r"^Model · [\d,]+ parameters$")).wait_for(timeout=300_000)
        context.close()
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot():
    """Save a named screenshot (the README's come from here, see docs/screenshots.sh)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        if not full_page:
            page.screenshot(path=str(path))
            return path
        # Streamlit scrolls inside its own container, so a "full page" screenshot of the
        # document shows one viewport only: make the viewport tall instead.
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": 2400})
        page.wait_for_timeout(1500)
        page.screenshot(path=str(path))
        page.set_viewport_size(size)
        return path

    return save
