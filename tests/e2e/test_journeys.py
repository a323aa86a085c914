"""A person's paths through Build & Train in a real browser, asserting what the page shows.

Each test does what a person does (pick a preset in the sidebar, type a number, flip a
switch, open a link in a new browser context) and reads the page: widget values, the
model summary, the URL, messages, the run that Train trained. None reads session state:
the first round's tests did, and a preset that never reached the widgets passed them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from lstm_explorer import presets
from tests.e2e.server import ROOT, wait_idle

pytestmark = pytest.mark.e2e

MAIN = "stMainBlockContainer"
SIZES = ({"width": 1280, "height": 720}, {"width": 1600, "height": 1000})


@pytest.fixture(params=SIZES, ids=lambda size: f"{size['width']}x{size['height']}")
def sized_page(request, browser):
    context = browser.new_context(viewport=request.param)
    page = context.new_page()
    yield page
    context.close()


# --- what a person does ------------------------------------------------------------------


def open_app(page, url: str, query: str = "") -> None:
    page.goto(f"{url}/{query}")
    wait_idle(page, timeout=120)
    page.wait_for_selector("h1", timeout=60_000)


def settle(page) -> None:
    """Wait for the script run that an action started to finish."""
    page.wait_for_timeout(300)
    wait_idle(page, timeout=60)


def open_tab(page, name: str) -> None:
    page.get_by_test_id(MAIN).get_by_role("tab", name=name).click()
    settle(page)


def pick_preset(page, title: str) -> None:
    page.get_by_test_id("stSidebar").get_by_role("combobox").first.click()
    page.get_by_role("option", name=title, exact=True).click()
    settle(page)


def choose(page, label: str, option: str) -> None:
    """Pick an option of the select box labelled `label` in the settings."""
    page.get_by_test_id(MAIN).get_by_role("combobox", name=label, exact=True).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def section(page, title: str):
    """The settings expander with this title (opened if it was closed)."""
    expander = page.get_by_test_id("stExpander").filter(
        has=page.get_by_text(title, exact=True))
    if expander.locator("details").get_attribute("open") is None:
        expander.locator("summary").click()
        page.wait_for_timeout(300)
    return expander


def type_number(page, label: str, value: int | float, within: str | None = None) -> None:
    """Type into the number field labelled `label` (in the expander `within`) + Enter."""
    where = section(page, within) if within else page.get_by_test_id(MAIN)
    field = where.get_by_label(label, exact=True).first
    field.fill(str(value))
    field.press("Enter")
    settle(page)


def switch_box(page, label: str):
    return page.get_by_test_id(MAIN).get_by_test_id("stCheckbox").filter(
        has=page.get_by_role("switch", name=label, exact=True)).first


def flip(page, label: str) -> None:
    switch_box(page, label).locator("label").click()
    settle(page)


# --- what a person reads -----------------------------------------------------------------


def shows(page, label: str, value) -> None:
    """Assert the field or select box labelled `label` shows `value` (waiting for it)."""
    field = page.get_by_test_id(MAIN).get_by_label(label, exact=True).first
    expect(field).to_have_value(str(value), timeout=15_000)


def is_disabled(page, label: str) -> bool:
    return page.get_by_test_id(MAIN).get_by_label(label, exact=True).first.is_disabled()


def _bottom(locator) -> float:
    box = locator.bounding_box()
    return box["y"] + box["height"]


def parameters_shown(page) -> int:
    text = page.get_by_test_id(MAIN).get_by_text(re.compile(r"^Model · [\d,]+ parameters$"))
    return int(text.inner_text().split("·")[1].split()[0].replace(",", ""))


def link_query(page) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlparse(page.url).query).items()}


def sidebar_text(page) -> str:
    return page.get_by_test_id("stSidebar").inner_text()


def assert_no_traceback(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, \
        page.locator('[data-testid="stException"]').first.inner_text()[:500]


def train_and_wait(page) -> str:
    """Click Train, wait for the run to finish; the line naming the trained run."""
    page.get_by_test_id(MAIN).get_by_role("button", name="Train").click()
    page.get_by_test_id(MAIN).get_by_text("Finished", exact=False).first.wait_for(
        timeout=240_000)
    wait_idle(page, timeout=60)
    line = page.get_by_test_id(MAIN).get_by_test_id("stCaptionContainer").filter(
        has_text=re.compile(r"^run \d+: .* parameters"))
    line.first.wait_for(timeout=30_000)
    return line.first.inner_text()


# Trains a config as the app server does (thread pools sized first, a process of its
# own) and prints its parameter count and history as JSON.
_REFERENCE = """
import json, sys
from lstm_explorer import limits
limits.configure_threads()
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.training import Trainer
result = Trainer(ExperimentConfig.from_json(sys.stdin.read())).run()
print(json.dumps({"params": result.model.count_params(), "history": result.history},
                 default=float))
"""


def reference_run(config) -> dict:
    """`{"params", "history"}` of `config` trained in a process of its own, as the app
    trains it: in the test process, background trainings left by earlier in-process
    tests share Keras's random state and thread pools, and the numbers drift."""
    done = subprocess.run([sys.executable, "-c", _REFERENCE], input=config.to_json(),
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the journeys ------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [preset for preset in presets.PRESETS
                                    if preset.key != "default"], ids=lambda p: p.key)
def test_a_preset_picked_in_the_sidebar_is_what_the_page_shows_and_what_train_trains(
        page, app_url, screenshot, preset):
    config = presets.get(preset.key).build()
    open_app(page, app_url)
    pick_preset(page, preset.title)
    assert_no_traceback(page)
    # The widgets, the summary and the URL all show the preset.
    shows(page, "Task", config.task["name"])
    shows(page, "Sequence length", config.task["seq_len"])
    layers = config.model["layers"]
    shows(page, "Stacked layers", len(layers))
    shows(page, "Units", layers[0]["units"])
    reference = reference_run(config.with_values({"training.epochs": 1}))
    assert parameters_shown(page) == reference["params"]
    assert link_query(page) == {"preset": preset.key}
    assert preset.title in sidebar_text(page)
    assert "You have changed settings" not in sidebar_text(page)
    screenshot(page, f"journey_preset_{preset.key}")

    # One epoch is enough to see what trains; changing it is a change the sidebar notes.
    type_number(page, "Epochs", 1)
    assert link_query(page) == {"preset": preset.key, "training.epochs": "1"}
    assert "You have changed settings since loading this preset" in sidebar_text(page)
    line = train_and_wait(page)
    assert_no_traceback(page)
    first_loss = reference["history"]["epochs"][0]["loss"]
    assert f"{reference['params']:,} parameters" in line, line
    assert f"loss by epoch {first_loss:.4f}" in line, (line, first_loss)
    # A click on another widget afterwards does not bring back any earlier value.
    open_tab(page, "Settings and model")
    type_number(page, "Seed", 1, within="Training")
    shows(page, "Units", layers[0]["units"])
    assert link_query(page) == {"preset": preset.key, "training.epochs": "1",
                                "training.seed": "1"}


def test_dependent_fields_follow_the_task_in_the_same_click(sized_page, app_url, screenshot):
    page = sized_page
    open_app(page, app_url)
    assert is_disabled(page, "Lag · recall only")
    choose(page, "Task", "recall")
    # Enabled at once, so the very next click sets it.
    assert not is_disabled(page, "Lag")
    type_number(page, "Lag", 7)
    type_number(page, "Symbols", 5)
    assert link_query(page)["task.lag"] == "7" and link_query(page)["task.n_symbols"] == "5"
    page.get_by_test_id(MAIN).get_by_text("4·(32·(5+32)+32)").first.wait_for(timeout=30_000)
    choose(page, "Task", "sine")
    assert not is_disabled(page, "Noise") and not is_disabled(page, "Stream")
    assert is_disabled(page, "Lag · recall only")
    # Python characters are read as ids: the Embedding comes with the task, in the
    # summary at once, and goes again with a real series, which enables its own fields.
    choose(page, "Task", "chars")
    main = page.get_by_test_id(MAIN)
    main.get_by_text("Embedding", exact=True).first.wait_for(timeout=30_000)
    assert main.get_by_test_id("stAlert").filter(has_text="model.embedding").count() == 0
    choose(page, "Task", "series")
    assert not is_disabled(page, "Series") and not is_disabled(page, "Horizon")
    page.wait_for_function("""() => !Array.from(document.querySelectorAll(
        '[data-testid="stMainBlockContainer"] td')).some(cell => cell.innerText === 'Embedding')""",
                           timeout=30_000)
    assert_no_traceback(page)
    screenshot(page, f"journey_dependent_{page.viewport_size['width']}")


def test_bidirectional_with_go_backwards_says_why_next_to_the_switch_and_train_waits(
        sized_page, app_url, screenshot):
    page = sized_page
    open_app(page, app_url)
    flip(page, "Bidirectional")
    flip(page, "Go backwards")
    assert_no_traceback(page)
    main = page.get_by_test_id(MAIN)
    message = main.get_by_test_id("stAlert").filter(has_text="go_backwards").first
    message.wait_for(timeout=30_000)
    assert "Bidirectional" in message.inner_text() or "bidirectional" in message.inner_text()
    train = main.get_by_role("button", name="Train")
    assert train.is_disabled()
    assert main.get_by_text("Train is off").first.is_visible()
    # The message sits right under the switch it is about, not at the bottom.
    below = message.bounding_box()["y"] - _bottom(switch_box(page, "Go backwards"))
    assert 0 <= below < 200, below
    screenshot(page, f"journey_go_backwards_{page.viewport_size['width']}")
    # Undo brings back the settings that train.
    flip(page, "Go backwards")
    assert not train.is_disabled()
    assert main.get_by_test_id("stAlert").filter(has_text="go_backwards").count() == 0


def test_return_sequences_on_a_single_layer_is_explained_next_to_its_switch(
        sized_page, app_url, screenshot):
    page = sized_page
    open_app(page, app_url)
    flip(page, "Return sequences")
    main = page.get_by_test_id(MAIN)
    message = main.get_by_test_id("stAlert").filter(has_text="return_sequences").first
    message.wait_for(timeout=30_000)
    below = message.bounding_box()["y"] - _bottom(switch_box(page, "Return sequences"))
    assert 0 <= below < 200, below
    assert main.get_by_role("button", name="Train").is_disabled()
    assert "layer1.return_sequences" not in link_query(page)  # the URL keeps what trains
    screenshot(page, f"journey_return_sequences_{page.viewport_size['width']}")
    assert_no_traceback(page)


def test_a_preset_link_opened_in_a_new_context_keeps_its_name_and_text(
        browser, page, app_url):
    open_app(page, app_url)
    preset = presets.get("long_lag_recall")
    pick_preset(page, preset.title)
    type_number(page, "Units", 48)
    shared = page.url
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        other = context.new_page()
        other.goto(shared)
        wait_idle(other, timeout=120)
        other.wait_for_selector("h1")
        assert preset.title in sidebar_text(other)
        assert preset.look_for[:60] in sidebar_text(other)
        assert "You have changed settings since loading this preset" in sidebar_text(other)
        shows(other, "Units", 48)
        shows(other, "Lag", preset.build().task["lag"])
        other.reload()
        wait_idle(other, timeout=120)
        shows(other, "Units", 48)
        assert preset.title in sidebar_text(other)
        assert_no_traceback(other)
    finally:
        context.close()


def test_a_regularizer_picked_starts_from_strengths_that_do_something(page, app_url):
    open_app(page, app_url)
    section(page, "Regularizers and constraints")
    choose(page, "Kernel regularizer", "l1l2")
    main = page.get_by_test_id(MAIN)
    for label in ("L1", "L2"):
        slider = main.get_by_test_id("stSlider").filter(
            has=page.get_by_text(label, exact=True)).first
        value = slider.get_by_test_id("stSliderThumbValue").inner_text()
        assert value != "none" and float(value) > 0, (label, value)
    assert "layer1.kernel_regularizer" in link_query(page)


def test_a_lab_experiment_opened_in_build_and_train_is_what_its_widgets_show(page, app_url):
    from lstm_explorer import lab

    experiment = lab.EXPERIMENTS[0]
    config = experiment.base_config()
    open_app(page, app_url)
    type_number(page, "Units", 7)  # something the experiment replaces
    page.locator('[data-testid="stSidebarNav"] a', has_text="The Lab").click()
    page.wait_for_selector("h1:has-text('The Lab')")
    wait_idle(page)
    page.get_by_test_id(MAIN).get_by_role("button", name="Open in Build & Train").first.click()
    page.wait_for_selector("h1:has-text('Build & Train')", timeout=60_000)
    settle(page)
    shows(page, "Task", config.task["name"])
    shows(page, "Sequence length", config.task["seq_len"])
    shows(page, "Units", config.model["layers"][0]["units"])
    assert link_query(page) == config.to_query()
    assert_no_traceback(page)


def test_after_train_the_charts_and_the_progress_are_in_view_and_the_line_never_stalls(
        sized_page, app_url, screenshot):
    page = sized_page
    size = page.viewport_size
    open_app(page, app_url, "?training.epochs=8&task.n_samples=5000")  # ~10 s
    main = page.get_by_test_id(MAIN)
    main.get_by_role("button", name="Train").click()
    progress = main.get_by_test_id("stProgress").first
    progress.wait_for(timeout=30_000)
    finished = main.get_by_text("Finished 8 epochs", exact=False)
    lines, deadline = [], time.monotonic() + 90
    while time.monotonic() < deadline and not finished.count():
        try:
            # The line is redrawn twice a second: read whichever element shows it now.
            lines.append((time.monotonic(), main.get_by_test_id("stProgress").first
                          .inner_text(timeout=1_000)))
        except PlaywrightError:
            pass  # between two redraws, or the training just ended
        time.sleep(0.25)
    # The line moved at least every 2 s while the training ran (its seconds count on).
    changes = [moment for (moment, text), (_, before) in zip(lines[1:], lines) if text != before]
    gaps = [later - earlier for earlier, later in zip([lines[0][0]] + changes, changes)]
    assert len(changes) >= 3 and max(gaps) <= 2.5, (gaps, [text for _, text in lines])
    main.get_by_text("Finished 8 epochs", exact=False).first.wait_for(timeout=120_000)
    wait_idle(page)
    screenshot(page, f"journey_trained_{size['width']}")
    # The verdict and the first chart are in the window, without scrolling.
    verdict = main.get_by_test_id("stAlert").filter(has_text="Finished 8 epochs").first
    chart = main.get_by_test_id("stPlotlyChart").first
    for element in (verdict, chart):
        box = element.bounding_box()
        assert box is not None and box["y"] >= 0, box
    assert _bottom(verdict) <= size["height"]
    # Most of the first chart shows (its title, axes and curves, at least).
    assert chart.bounding_box()["y"] + 0.6 * chart.bounding_box()["height"] <= size["height"]
    assert_no_traceback(page)


def test_gradient_flow_shows_an_older_run_picked_by_name_and_keeps_it_after_a_page_switch(
        sized_page, app_url, screenshot):
    from lstm_explorer import readings
    from lstm_explorer.config import ExperimentConfig

    page = sized_page
    size = page.viewport_size["width"]
    tiny = {"task.seq_len": "6", "task.n_samples": "64", "training.epochs": "2"}
    first_link = {**tiny, "layer1.units": "4"}
    main = page.get_by_test_id(MAIN)
    open_app(page, app_url, "?" + "&".join(f"{key}={value}" for key, value in first_link.items()))
    assert train_and_wait(page).startswith("run 1: lstm 4 on adding")
    open_tab(page, "Settings and model")
    type_number(page, "Units", 3)
    main.get_by_role("button", name="Train").click()
    main.get_by_test_id("stCaptionContainer").filter(
        has_text=re.compile(r"^run 2: lstm 3 on adding .*parameters")).first.wait_for(
        timeout=240_000)
    wait_idle(page)

    def reading_of(units: int) -> str:
        """What Gradient Flow says about a run of these settings (training is seeded)."""
        config, problems = ExperimentConfig.from_query({**tiny, "layer1.units": str(units)})
        assert not problems
        return readings.gradient_reading(reference_run(config)["history"], "layer0",
                                         "grad_h")

    def open_gradient_flow() -> None:
        page.locator('[data-testid="stSidebarNav"] a', has_text="Gradient Flow").click()
        page.wait_for_selector("h1:has-text('Gradient Flow')", timeout=60_000)
        settle(page)

    def shown_caption():
        return main.get_by_test_id("stCaptionContainer").filter(has_text="Showing").first

    open_gradient_flow()
    shows(page, "Run", "run 2: lstm 3 on adding")  # the newest, by default
    expect(shown_caption()).to_have_text("Showing run 2: lstm 3 on adding · finished, 2 epochs")
    choose(page, "Run", "run 1: lstm 4 on adding")
    expect(shown_caption()).to_have_text("Showing run 1: lstm 4 on adding · finished, 2 epochs")
    reading = main.get_by_test_id("stAlert").filter(has_text="gradient reaching step 0").first
    first_reading, second_reading = reading_of(4), reading_of(3)
    assert first_reading != second_reading
    expect(reading).to_contain_text(first_reading)
    expect(main.get_by_test_id("stPlotlyChart").first).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, f"journey_gradient_flow_run_picker_{size}")

    # Away and back: the run picked is still the one shown.
    page.locator('[data-testid="stSidebarNav"] a', has_text="Build & Train").click()
    page.wait_for_selector("h1:has-text('Build & Train')", timeout=60_000)
    settle(page)
    open_gradient_flow()
    shows(page, "Run", "run 1: lstm 4 on adding")
    expect(shown_caption()).to_have_text("Showing run 1: lstm 4 on adding · finished, 2 epochs")
    expect(reading).to_contain_text(first_reading)


def test_train_is_usable_before_the_charting_library_loads_and_it_loads_soon_after(
        page, app_url):
    open_app(page, app_url, "?task.seq_len=7")  # a new session
    main = page.get_by_test_id(MAIN)
    expect(main.get_by_role("button", name="Train")).to_be_enabled(timeout=60_000)
    # plotly.js comes with the first chart; the page draws one a moment after it is
    # usable, in the charts tab, so that a click on Train finds the library loaded.
    main.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=30_000)
    open_tab(page, "Training charts")
    expect(main.get_by_test_id("stPlotlyChart").first).to_be_visible()
    assert_no_traceback(page)


def test_the_first_visitor_after_a_server_start_can_train_while_tensorflow_loads(browser):
    from tests.e2e.server import app_server

    with app_server() as url:  # a fresh server: nobody has opened a page yet
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            page = context.new_page()
            page.goto(url + "/")
            main = page.get_by_test_id(MAIN)
            expect(main.get_by_role("button", name="Train")).to_be_enabled(timeout=60_000)
            # The summary and the device follow by themselves once TensorFlow is in.
            main.get_by_text(re.compile(r"^Model · [\d,]+ parameters$")).wait_for(
                timeout=180_000)
            expect(page.get_by_test_id("stSidebar").get_by_text("CPU (no GPU visible)")
                   ).to_be_visible(timeout=30_000)
            assert_no_traceback(page)
        finally:
            context.close()
