"""Shared helpers for the AppTest tests of the Streamlit app."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGES = ("pages/build_train.py", "pages/inside_cell.py", "pages/gradient_flow.py",
         "pages/parameter_guide.py")
# A config that trains in a few seconds on two cores.
TINY = {"task.seq_len": "6", "task.n_samples": "64", "layer1.units": "4",
        "training.epochs": "2"}


def new_app(query: dict | None = None) -> AppTest:
    """The app with a share-link query, after its first run (TensorFlow is imported once
    per process; the first run of a test session takes a few seconds)."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    if query:
        at.query_params.update(query)
    return at.run()


def explorer(at: AppTest):
    """The session's `ExplorerSession`."""
    return at.session_state["lstm_explorer"]


def wait_for_job(at: AppTest, timeout: float = 120, until=None) -> AppTest:
    """Rerun the app until the session's job is done (or `until(snapshot)` holds)."""
    job = explorer(at).job
    assert job is not None, "no job was submitted"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = job.snapshot()
        if (until(snapshot) if until else snapshot.done):
            break
        time.sleep(0.3)
        at.run()
    else:
        pytest.fail(f"the job did not get there in {timeout} s: {job.snapshot().status}")
    return at.run()


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [exception.value for exception in at.exception]


def figures(at: AppTest) -> dict[str, dict]:
    """Every plotly chart on the page as figure JSON, by its title text."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("layout", {}).get("title", {}).get("text", "")
        out[title] = spec
    return out


def array(value) -> np.ndarray:
    """A data array from figure JSON (plotly writes numpy arrays as base64 `bdata`)."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            data = data.reshape([int(part) for part in str(shape).split(",")])
        return data
    return np.asarray(value)


def text(at: AppTest, kind: str) -> str:
    """All texts of one element kind (`error`, `warning`, `info`...) joined."""
    return "\n".join(str(element.value) for element in getattr(at, kind))


@pytest.fixture(autouse=True)
def navigation_mode(request, monkeypatch):
    """Run every AppTest run the way a server runs after its first `st.navigation` call.

    Because the page files live in `pages/`, Streamlit's legacy pages-folder mode is on
    until `st.navigation` turns it off, once per process. AppTest turns it back on at
    the start of every run, so each run would first execute the page file on its own
    (`frame.require_frame` then reruns through `app.py`, losing a button click on the
    way). Tests marked `legacy_pages` keep AppTest's behaviour to test that recovery.
    """
    if request.node.get_closest_marker("legacy_pages"):
        return
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def pytest_configure(config):
    config.addinivalue_line("markers", "legacy_pages: keep AppTest's pages-folder mode")
