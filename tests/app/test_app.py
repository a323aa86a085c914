"""The app in AppTest: pages render, widgets build the model, links, training, stop,
divergence."""

from __future__ import annotations

import json
import re
import threading
import time

import keras
import pytest
from keras.src.backend.common import global_state

from lstm_explorer import presets
from lstm_explorer.ui.widgets import widget_key
from tests.app.conftest import (
    PAGES,
    TINY,
    array,
    explorer,
    figures,
    new_app,
    no_exceptions,
    text,
    wait_for_job,
)


def _summary(at) -> list[dict]:
    """The model summary table as rows, read from the Markdown table the page shows."""
    (table,) = [md.value for md in at.markdown if md.value.startswith("| layer | type |")]
    header, _, *lines = table.splitlines()
    names = [name.strip() for name in header.strip("|").split("|")]
    return [dict(zip(names, (cell.strip().replace("\\", "")
                             for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1]))))
            for line in lines]


def test_every_page_renders_on_defaults():
    at = new_app()
    no_exceptions(at)
    assert at.title[0].value == "Build & Train"
    rows = _summary(at)
    assert [row["type"] for row in rows] == ["InputLayer", "LSTM", "Dense"]
    assert any("4·(units·(input_dim+units)+units)" in str(md.value) for md in at.markdown)
    assert at.button(key="train").disabled is False
    assert at.button(key="stop").disabled is True
    assert "CPU (no GPU visible)" in " ".join(str(md.value) for md in at.sidebar.markdown)
    for page in PAGES[1:]:
        at.switch_page(page).run()
        no_exceptions(at)
    # Parameter Guide: one "Try it" link per knob that has one.
    links = at.get("page_link")
    assert len(links) > 40
    # No trained run yet: the result pages say how to get one.
    at.switch_page("pages/inside_cell.py").run()
    assert "No trained run yet" in text(at, "info")
    assert at.get("page_link")[0].proto.page.endswith("build_train") or at.get("page_link")


def test_the_app_warms_up_the_default_presets_graph_once_its_first_page_has_run(monkeypatch):
    # What warming up does is tested in test_training; here: that the app asks for it.
    from lstm_explorer import training
    from lstm_explorer.ui import frame

    warmed = []
    arrived = threading.Event()

    def record(config):
        warmed.append(config)
        arrived.set()

    monkeypatch.setattr(training, "warm_up", record)
    frame.warm_up_default_preset.clear()  # as in a fresh server process
    new_app()
    assert arrived.wait(timeout=60)
    new_app()  # a second session: no second warm-up
    time.sleep(0.2)
    assert warmed == [presets.get("default").build()]


def test_widgets_change_the_built_model():
    at = new_app()
    at.number_input(key=widget_key("layer1.units")).set_value(8).run()
    no_exceptions(at)
    assert explorer(at).config.model["layers"][0]["units"] == 8
    assert _summary(at)[1]["parameters"] == f"{4 * (8 * (2 + 8) + 8):,}"

    at.selectbox(key=widget_key("layer1.activation")).select("relu").run()
    assert explorer(at).config.model["layers"][0]["activation"] == "relu"
    assert "activation='relu'" in " ".join(str(c.value) for c in at.caption)  # cuDNN verdict

    at.number_input(key=widget_key("model.num_layers")).set_value(2).run()
    no_exceptions(at)
    layers = explorer(at).config.model["layers"]
    assert len(layers) == 2 and layers[0]["return_sequences"] is True
    assert [tab.label for tab in at.tabs if tab.label.startswith("Layer")][:2] == [
        "Layer 1", "Layer 2"]
    assert [row["type"] for row in _summary(at)] == ["InputLayer", "LSTM", "LSTM", "Dense"]
    at.number_input(key=widget_key("layer2.units")).set_value(3).run()
    assert [layer["units"] for layer in explorer(at).config.model["layers"]] == [8, 3]

    at.toggle(key=widget_key("layer1.stateful")).set_value(True).run()
    no_exceptions(at)
    assert explorer(at).config.model["layers"][0]["stateful"] is True
    # A stateful model has a fixed batch size: training.batch_size.
    batch_size = explorer(at).config.training["batch_size"]
    assert _summary(at)[0]["output shape"].startswith(f"({batch_size},")
    # The URL holds exactly what differs from the defaults.
    assert at.query_params["layer1.stateful"] == "true"
    assert at.query_params["model.num_layers"] == "2"


def test_identifier_widget_builds_a_keras_dict():
    at = new_app()
    at.selectbox(key=widget_key("layer1.recurrent_initializer", "class")).select(
        "RandomNormal").run()
    assert explorer(at).config.model["layers"][0]["recurrent_initializer"] == "random_normal"
    at.number_input(key=widget_key("layer1.recurrent_initializer/RandomNormal.stddev")
                    ).set_value(0.5).run()
    no_exceptions(at)
    value = explorer(at).config.model["layers"][0]["recurrent_initializer"]
    assert value["class_name"] == "RandomNormal" and value["config"]["stddev"] == 0.5
    at.selectbox(key=widget_key("layer1.kernel_regularizer", "class")).select("L2").run()
    assert explorer(at).config.model["layers"][0]["kernel_regularizer"] == "l2"
    # The bias cannot take matrix-only classes.
    options = at.selectbox(key=widget_key("layer1.bias_initializer", "class")).options
    assert "orthogonal" not in options and "zeros" in options


def test_invalid_settings_show_the_field_and_keep_the_last_config():
    at = new_app({"task.name": "recall"})
    before = explorer(at).config
    at.number_input(key=widget_key("task.lag")).set_value(60).run()
    no_exceptions(at)
    errors = text(at, "error")
    assert "task.lag" in errors and "seq_len" in errors
    assert explorer(at).config == before


def test_a_bad_share_link_warns_and_uses_the_defaults():
    at = new_app({"layer1.units": "abc",
                  "layer1.kernel_initializer": "__import__('os')",
                  "training.epochs": "5"})
    no_exceptions(at)
    warning = text(at, "warning")
    assert "layer1.units" in warning and "layer1.kernel_initializer" in warning
    assert "default" in warning
    config = explorer(at).config
    assert config.model["layers"][0]["units"] == 32
    assert config.model["layers"][0]["kernel_initializer"] == "glorot_uniform"
    assert config.training["epochs"] == 5  # the good key is kept
    assert at.query_params == {"training.epochs": "5"}
    at.button(key=[b.key for b in at.button if b.key and b.key.startswith("dismiss")][0]
              ).click().run()
    assert "layer1.units" not in text(at, "warning")


def test_a_share_link_and_a_preset_link_set_the_config():
    at = new_app({"model.cell": "gru", "layer1.units": "16"})
    config = explorer(at).config
    assert config.model["cell"] == "gru" and config.model["layers"][0]["units"] == 16
    assert at.selectbox(key=widget_key("model.cell")).value == "gru"
    assert at.query_params == {"model.cell": "gru", "layer1.units": "16"}

    at = new_app({"preset": "long_lag_recall"})
    assert explorer(at).config == presets.get("long_lag_recall").build()
    assert presets.get("long_lag_recall").look_for in " ".join(
        str(md.value) for md in at.sidebar.markdown)
    # The link keeps naming the preset, so a reload keeps its title and its text.
    assert at.query_params == {"preset": "long_lag_recall"}
    at.number_input(key=widget_key("task.lag")).set_value(30).run()
    assert at.query_params == {"preset": "long_lag_recall", "task.lag": "30"}


def test_the_preset_picker_replaces_the_settings():
    at = new_app({"layer1.units": "5"})
    at.sidebar.selectbox(key="preset_picker").select("article_stacked").run()
    no_exceptions(at)
    config = explorer(at).config
    assert config == presets.get("article_stacked").build()
    assert at.number_input(key=widget_key("layer1.units")).value == 128


def test_a_try_it_link_opens_build_and_train_with_the_change():
    at = new_app({"layer1.units": "5"})
    at.switch_page("pages/parameter_guide.py").run()
    links = {link.proto.query_string: link for link in at.get("page_link")}
    (query,) = [q for q in links if "unit_forget_bias" in q]
    assert "layer1.units=5" in query  # the current settings travel along
    # Following the link: the same session, a new query string, the Build & Train page.
    at.query_params.clear()
    at.query_params.update(dict(part.split("=") for part in query.split("&")))
    at.switch_page("pages/build_train.py").run()
    no_exceptions(at)
    layer = explorer(at).config.model["layers"][0]
    assert layer["unit_forget_bias"] is False and layer["units"] == 5
    assert at.toggle(key=widget_key("layer1.unit_forget_bias")).value is False


def test_training_a_tiny_model_fills_every_chart():
    at = new_app(TINY)
    at.button(key="train").click().run()
    no_exceptions(at)
    wait_for_job(at)
    no_exceptions(at)
    session = explorer(at)
    assert len(session.runs) == 1 and session.runs[0].history["status"] == "finished"
    assert "Finished 2 epochs" in text(at, "success") + text(at, "warning")  # by its verdict
    charts = figures(at)
    gates = charts["Gate activations, layer 1"]
    assert [trace["name"] for trace in gates["data"]] == ["i", "f", "g", "o"]
    assert array(gates["data"][0]["z"]).shape == (4, 6)  # units × steps
    states = charts["Hidden and cell states, layer 1"]
    assert array(states["data"][0]["z"]).shape == (4, 6)
    flow = charts["Gradient flow through time, layer 1"]
    assert len(array(flow["data"][0]["y"])) == 6  # one norm per step
    loss = charts["Training and validation loss"]
    assert len(array(loss["data"][0]["y"])) == 2  # one point per epoch
    labels = [button.label for button in at.get("download_button")]
    assert "Model (.keras)" in labels and "History (CSV)" in labels
    assert "Verdict (.txt)" in labels  # the run's verdict travels with its downloads
    assert labels.count("PNG") == labels.count("SVG") >= 5

    at.switch_page("pages/inside_cell.py").run()
    no_exceptions(at)
    bars = figures(at)["Step 5 of 6, layer 1, sample 0"]
    assert [trace["name"] for trace in bars["data"]] == ["i", "f", "g", "o", "c", "h"]
    assert len(array(bars["data"][0]["y"])) == 4
    (latex,) = at.latex
    assert r"\sigma" in latex.value and "c_{5}" in latex.value
    at.slider(key="cell_step").set_value(0).run()
    assert "h_{-1}" in at.latex[0].value

    at.switch_page("pages/gradient_flow.py").run()
    no_exceptions(at)
    assert "At epoch 2 the gradient reaching step 0" in text(at, "info")
    assert {"Gradient flow through time, layer 1",
            "Weight gradient norms per gate, layer 1"} <= set(figures(at))


def test_a_click_on_train_starts_the_job_in_the_same_page_run(monkeypatch, tmp_path):
    from lstm_explorer import timeline

    at = new_app(TINY)
    # The chart area, before any training: words first (the chart follows a moment
    # later, see the browser test of the preload).
    assert "Press **Train**" in " ".join(str(caption.value) for caption in at.caption)
    monkeypatch.setenv(timeline.ENV, str(tmp_path / "timeline.jsonl"))
    at.button(key="train").click().run()
    no_exceptions(at)
    stages = [entry["stage"] for entry in timeline.read(tmp_path / "timeline.jsonl")
              if entry["thread"] != "lstm-explorer-trainer-0"]
    # One page run, not a run that submits and a second one that draws the job.
    assert stages.count("page run") == 1 and "job submitted" in stages
    assert at.button(key="train").disabled is True
    assert at.button(key="stop").disabled is False
    wait_for_job(at)
    no_exceptions(at)
    assert "Training charts" not in figures(at)


def test_stop_ends_a_running_job_with_status_stopped():
    at = new_app({**TINY, "task.n_samples": "2000", "task.seq_len": "20",
                  "training.epochs": "100", "training.batch_size": "16"})
    at.button(key="train").click().run()
    wait_for_job(at, until=lambda snapshot: snapshot.batch > 0)
    assert at.button(key="stop").disabled is False
    at.button(key="stop").click().run()
    wait_for_job(at, timeout=60)
    no_exceptions(at)
    run = explorer(at).runs[-1]
    assert run.history["status"] == "stopped"
    assert "Stopped by request" in text(at, "info")
    assert at.button(key="train").disabled is False


def test_a_diverging_run_is_shown_as_a_lesson():
    at = new_app({"task.seq_len": "20", "task.n_samples": "64", "layer1.units": "8",
                  "layer1.activation": "relu", "training.learning_rate": "10.0",
                  "training.batch_size": "16", "training.epochs": "3"})
    at.button(key="train").click().run()
    wait_for_job(at)
    no_exceptions(at)
    assert explorer(at).runs[-1].history["status"] == "diverged"
    lesson = text(at, "error")
    assert "diverged" in lesson and "exploding gradients" in lesson
    assert "lower learning rate" in lesson  # what to try
    at.switch_page("pages/gradient_flow.py").run()
    no_exceptions(at)
    at.switch_page("pages/inside_cell.py").run()
    no_exceptions(at)
    assert "before its first epoch was traced" in text(at, "info")


def test_the_csv_task_asks_for_a_file_and_reports_its_problems():
    at = new_app({"task.name": "csv", "task.seq_len": "5", "task.n_samples": "32"})
    assert "Upload a CSV file" in text(at, "info")
    assert at.button(key="train").disabled is True
    at.file_uploader(key="csv_upload").upload("bad.csv", b"a,b\nx,y\n", "text/csv").run()
    no_exceptions(at)
    assert "task." in text(at, "error")
    assert at.button(key="train").disabled is True
    series = "value\n" + "\n".join(str(i % 7) for i in range(80))
    at.file_uploader(key="csv_upload").set_value(None).run()
    at.file_uploader(key="csv_upload").upload("good.csv", series.encode(), "text/csv").run()
    no_exceptions(at)
    assert "80 values" in " ".join(str(c.value) for c in at.caption)
    assert at.button(key="train").disabled is False


def test_streamlit_reruns_leave_keras_state_alone():
    """Streamlit calls keras.backend.clear_session() after every script run unless the
    app stops it; that would break models training on other threads."""
    at = new_app()
    global_state.set_global_attribute("lstm_explorer_test_marker", 1)
    layer = keras.layers.Dense(1)
    at.run()
    assert global_state.get_global_attribute("lstm_explorer_test_marker") == 1
    assert keras.layers.Dense(1).name != layer.name


def test_downloads_are_offered_for_the_current_config():
    at = new_app({"layer1.units": "7"})
    (config_button,) = [b for b in at.get("download_button") if b.label == "Config (JSON)"]
    assert config_button is not None
    assert json.loads(explorer(at).config.to_json())["model"]["layers"][0]["units"] == 7


@pytest.mark.legacy_pages
def test_a_page_run_without_the_frame_reruns_through_app_py():
    """A fresh server (and AppTest) runs a page file on its own the first time; the page
    then reruns through app.py, so the frame (title, sidebar, share link) is there."""
    at = new_app({"layer1.units": "12"})
    at.switch_page("pages/gradient_flow.py").run()
    no_exceptions(at)
    assert at.title[0].value == "Gradient Flow"
    assert at.sidebar.selectbox(key="preset_picker") is not None
    assert explorer(at).config.model["layers"][0]["units"] == 12
    assert at.query_params == {"layer1.units": "12"}



def test_a_stacked_bidirectional_gru_through_every_page():
    at = new_app({**TINY, "model.cell": "gru", "model.num_layers": "2",
                  "model.bidirectional": "true", "training.epochs": "1"})
    at.button(key="train").click().run()
    wait_for_job(at)
    no_exceptions(at)
    at.selectbox(key="live_layer").select("layer1/backward").run()
    no_exceptions(at)
    gates = figures(at)["Gate activations, layer 2, backward"]
    assert [trace["name"] for trace in gates["data"]] == ["z", "r", "g"]
    at.switch_page("pages/inside_cell.py").run()
    at.selectbox(key="cell_layer").select("layer1/backward").run()
    no_exceptions(at)
    assert "z_{z}" in at.latex[0].value and "r_{5}" in at.latex[0].value
    at.switch_page("pages/gradient_flow.py").run()
    at.selectbox(key="gradient_layer").select("layer0/backward").run()
    no_exceptions(at)
    assert "‖∂L/∂h_t‖ over training, layer 1, backward" in figures(at)


def test_a_finished_run_shows_its_verdict_above_the_charts():
    from lstm_explorer import readings

    at = new_app(TINY)
    at.button(key="train").click().run()
    wait_for_job(at)
    no_exceptions(at)
    run = explorer(at).runs[-1]
    verdict = readings.verdict(run.config, run.history)
    assert verdict and verdict in text(at, "success") + text(at, "warning")
    # A run that learned nothing is not shown as a success.
    if verdict.startswith("Learned nothing"):
        assert verdict not in text(at, "success")


def test_presenter_mode_comes_with_the_link_stays_in_it_and_enlarges_the_charts():
    at = new_app({**TINY, "presenter": "1"})
    no_exceptions(at)
    assert at.sidebar.toggle(key="presenter_toggle").value is True
    assert at.query_params["presenter"] == "1"
    assert "layer1.units" in at.query_params  # the config is read as before
    at.button(key="train").click().run()
    wait_for_job(at)
    sizes = [json.loads(chart.proto.spec)["layout"]["template"]["layout"]["font"]["size"]
             for chart in at.get("plotly_chart")]
    assert sizes and all(size > 16 for size in sizes)
    at.sidebar.toggle(key="presenter_toggle").set_value(False).run()
    assert "presenter" not in at.query_params
    sizes = [json.loads(chart.proto.spec)["layout"]["template"]["layout"]["font"]["size"]
             for chart in at.get("plotly_chart")]
    assert sizes and all(size == 16 for size in sizes)
