"""A closed tab stops its training: on a server with one trainer, a second session's
training waits in the queue until the first tab is closed, then starts."""

import time
from urllib.parse import urlencode

import pytest

from tests.e2e.server import app_server, wait_idle

pytestmark = pytest.mark.e2e

LONG = {"task.seq_len": "20", "task.n_samples": "4000", "layer1.units": "16",
        "training.epochs": "100", "training.batch_size": "16"}
SHORT = {"task.seq_len": "6", "task.n_samples": "64", "layer1.units": "4",
         "training.epochs": "2"}


def open_and_train(browser, url: str, query: dict):
    """A new tab (its own session) on the share link `query`, Train clicked."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/?{urlencode(query)}")
    wait_idle(page, timeout=120)
    page.get_by_role("button", name="Train").click()
    return context, page


def test_closing_a_tab_stops_its_training_and_frees_the_trainer(browser):
    env = {"LSTM_EXPLORER_MAX_TRAININGS": "1", "LSTM_EXPLORER_SESSION_TIMEOUT": "3"}
    with app_server(env=env) as url:
        first, page = open_and_train(browser, url, LONG)
        page.get_by_text("Epoch 1 of 100", exact=False).first.wait_for(timeout=60_000)

        second, other = open_and_train(browser, url, SHORT)
        other.get_by_text("Queued, place 1", exact=False).first.wait_for(timeout=30_000)

        closed = time.monotonic()
        first.close()  # the tab goes away mid-training
        other.get_by_text("Finished 2 epochs", exact=False).first.wait_for(timeout=60_000)
        waited = time.monotonic() - closed
        # 3 s without the tab, a check every 0.75 s, the current batch, then the short run.
        assert waited < 45, f"the trainer was freed only {waited:.0f} s after the tab closed"
        second.close()
