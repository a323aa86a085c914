"""The pure helpers behind the pages: widget values, links, guide text, readings,
downloads and progress lines."""

from __future__ import annotations

import csv
import io
import math
import threading

import numpy as np
import pytest

from lstm_explorer import params, presets, readings
from lstm_explorer.config import ExperimentConfig, param_for_key
from lstm_explorer.jobs import Snapshot
from lstm_explorer.ui import downloads, guide, panels, widgets
from lstm_explorer.ui.frame import config_from_link
from lstm_explorer.ui.state import ExplorerSession

DEFAULT = ExperimentConfig.default()


# --- widgets --------------------------------------------------------------------------


def test_log_grid_covers_the_bounds_and_keeps_the_current_value():
    grid = widgets.log_grid(1e-6, 10.0, 0.003)
    assert grid[0] == 1e-6 and grid[-1] == 10.0 and 0.003 in grid and 0.001 in grid
    assert grid == sorted(grid)
    with_zero = widgets.log_grid(0.0, 10.0, nullable=True)
    assert with_zero[:2] == [None, 0.0]


@pytest.mark.parametrize("param", [p for p in params.ALL_PARAMS if p.log
                                   and p.minimum is not None and p.maximum is not None])
def test_every_log_scale_default_is_on_its_grid(param):
    grid = widgets.log_grid(param.minimum, param.maximum, param.default,
                            nullable=param.nullable)
    assert param.default in grid
    assert all(value is None or param.minimum <= value <= param.maximum for value in grid)


def test_identifier_values_take_the_shortest_form():
    assert widgets.identifier_value("initializer", None, {}) is None
    assert widgets.identifier_value("initializer", "Zeros", {}) == "zeros"
    assert widgets.identifier_value("initializer", "Orthogonal", {"gain": 2.0, "seed": 3}) == {
        "class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 3}}


def test_canonical_values_compare_meaning_not_spelling():
    param = params.layer_param("kernel_regularizer")
    assert widgets.same_value(param, "l2", {"class_name": "L2", "config": {"l2": 0.01}})
    assert not widgets.same_value(param, "l2", {"class_name": "L2", "config": {"l2": 0.1}})
    assert not widgets.same_value(params.layer_param("use_cudnn"), True, "auto")
    units = params.layer_param("units")
    assert widgets.same_value(units, 3, 3) and not widgets.same_value(units, 3, 4)


def test_an_edit_that_validates_becomes_the_config_and_leaves_no_draft():
    explorer = ExplorerSession()
    assert explorer.edit({"layer1.units": 8, "model.num_layers": 2}) is None
    assert [layer["units"] for layer in explorer.config.model["layers"]] == [8, 32]
    assert explorer.draft == {} and explorer.draft_error is None


def test_an_edit_that_does_not_validate_is_kept_as_the_draft_and_shown():
    explorer = ExplorerSession()
    assert explorer.edit({"training.clipnorm": 1.0}) is None
    error = explorer.edit({"training.clipvalue": 1.0})
    assert error.field == "training.clipvalue" and explorer.draft_error is error
    assert explorer.config.training["clipvalue"] is None  # what trains stays valid
    assert explorer.shown("training.clipvalue") == 1.0  # what the widget shows
    assert "training.clipvalue" in widgets.error_text(error)
    # Fixing the other field of the pair applies the draft too.
    assert explorer.edit({"training.clipnorm": None}) is None
    assert explorer.config.training["clipvalue"] == 1.0 and explorer.draft == {}


def test_discarding_the_draft_shows_the_config_again():
    explorer = ExplorerSession()
    explorer.edit({"task.name": "recall", "task.lag": 80})
    assert explorer.shown("task.lag") == 80 and explorer.draft_error.field == "task.lag"
    explorer.discard_draft()
    assert explorer.shown("task.lag") == explorer.config.task["lag"] and explorer.draft == {}


def test_switching_the_task_brings_what_the_task_needs():
    explorer = ExplorerSession()
    assert explorer.edit({"task.name": "tokens"}) is None
    assert explorer.config.model["embedding"] == {"output_dim": 64, "input_dim": None}
    assert explorer.edit({"task.name": "sine"}) is None
    assert explorer.config.model["embedding"] is None


def test_loading_a_preset_replaces_the_config_and_forgets_the_draft():
    explorer = ExplorerSession()
    explorer.edit({"training.clipnorm": 1.0, "training.clipvalue": 1.0})
    explorer.load(presets.get("article_stacked").build(), "article_stacked")
    assert explorer.draft == {} and explorer.draft_error is None
    assert explorer.preset == "article_stacked"
    assert explorer.shown("layer2.units") == 64


def test_an_error_field_finds_the_widget_it_belongs_to():
    keys = DEFAULT.values()
    assert widgets.error_key("model.layers[0].return_sequences", keys) == "layer1.return_sequences"
    assert widgets.error_key("model.layers[0].kernel_regularizer.config.l2",
                             keys) == "layer1.kernel_regularizer"
    assert widgets.error_key("training.clipvalue", keys) == "training.clipvalue"
    assert widgets.error_key("config", keys) is None
    assert widgets.group_of("layer1.kernel_regularizer") == "Regularizers and constraints"


def test_bias_arguments_offer_only_what_a_vector_takes():
    assert "Orthogonal" not in widgets.allowed_classes(params.layer_param("bias_initializer"))
    assert "Orthogonal" in widgets.allowed_classes(params.layer_param("kernel_initializer"))


def test_not_applicable_explains_where_a_knob_works():
    assert widgets.not_applicable(params.get("task.noise"), "adding",
                                  "lstm") == "Only for the sine task."
    assert "lstm" in widgets.not_applicable(params.layer_param("unit_forget_bias"), "adding",
                                            "gru")
    assert widgets.not_applicable(params.layer_param("units"), "adding", "gru") == ""


@pytest.mark.parametrize("param", params.ALL_PARAMS, ids=lambda param: param.path)
def test_try_links_change_the_knob_and_stay_valid(param):
    query = widgets.try_query(DEFAULT, param)
    if param.kind == params.TEXT:
        assert query is None
        return
    assert query, f"no try-it link for {param.path}"
    key = f"layer1.{param.name}" if param.section == "layer" else param.path
    assert key in query
    config, problems = ExperimentConfig.from_query(query)
    assert problems == []
    assert config != DEFAULT


def test_try_links_keep_the_current_settings():
    config = DEFAULT.with_values({"layer1.units": 5, "model.cell": "gru"})
    query = widgets.try_query(config, params.layer_param("unit_forget_bias"))
    assert query["layer1.units"] == "5" and query["model.cell"] == "lstm"
    assert query["layer1.unit_forget_bias"] == "false"


# --- share links ----------------------------------------------------------------------


def test_a_link_with_bad_keys_names_each_and_keeps_the_good_ones():
    config, preset, messages = config_from_link({
        "layer1.units": "abc", "layer1.kernel_initializer": "__import__('os')",
        "nonsense": "1", "training.epochs": "4", "embed": "true"})
    assert preset is None
    assert config.training["epochs"] == 4 and config.model["layers"][0]["units"] == 32
    assert len(messages) == 3
    for key in ("layer1.units", "layer1.kernel_initializer", "nonsense"):
        assert any(key in message for message in messages)
    assert any("__import__('os')" in message for message in messages)  # echoed as given


def test_a_preset_link_and_its_overrides():
    config, preset, messages = config_from_link({"preset": "long_lag_recall",
                                                 "task.lag": "30"})
    assert preset == "long_lag_recall" and messages == []
    expected = presets.get("long_lag_recall").build().with_values({"task.lag": 30})
    assert config == expected
    config, preset, messages = config_from_link({"preset": "nope"})
    assert preset is None and config == DEFAULT and "nope" in messages[0]


def test_a_link_never_makes_the_server_read_a_file():
    config, _, messages = config_from_link({"task.name": "csv", "task.path": "/etc/passwd"})
    assert config.task["path"] == "" and "task.path" in messages[0]


# --- guide ----------------------------------------------------------------------------


@pytest.mark.parametrize("param", params.ALL_PARAMS, ids=lambda param: param.path)
def test_the_guide_describes_every_knob(param):
    assert guide.allowed_text(param)
    assert guide.default_text(param)
    assert guide.scope_text(param)


def test_the_guide_sections_cover_the_registry_once():
    listed = [param.path for _, _, section, group in guide.SECTIONS
              for param in guide.section_params(section, group)]
    assert sorted(listed) == sorted(param.path for param in params.ALL_PARAMS)
    assert len(listed) == len(set(listed))


def test_guide_filter():
    assert guide.matches(params.layer_param("recurrent_dropout"), "DROPOUT")
    assert not guide.matches(params.layer_param("units"), "dropout")
    assert guide.matches(params.layer_param("units"), " ")


# --- readings -------------------------------------------------------------------------


def _history(*series, layer="layer0", quantity="grad_h"):
    return {"epochs": [{"epoch": number, "probe": {quantity: {layer: list(values)}}}
                       for number, values in enumerate(series, start=1)]}


def test_reading_vanishing_exploding_and_flowing():
    steps = 20
    vanishing = [10.0 ** (t - steps + 1) for t in range(steps)]
    text = readings.gradient_reading(_history(vanishing))
    assert "10⁻¹⁹" in text and "vanishes" in text and "(19)" in text
    exploding = list(reversed(vanishing))
    assert "exploding" in readings.gradient_reading(_history(exploding))
    flat = [0.5] * 10 + [1.0] * 10
    text = readings.gradient_reading(_history(vanishing, flat))
    assert "0.5×" in text and "without vanishing" in text and "At epoch 1 it was 10⁻¹⁹" in text


def test_reading_edge_cases():
    assert "train for at least one epoch" in readings.gradient_reading(None)
    assert "No gradient recorded for layer1" in readings.gradient_reading(
        _history([1.0, 1.0]), "layer1")
    assert "diverged" in readings.gradient_reading(_history([None, 1.0]))
    assert "exactly 0" in readings.gradient_reading(_history([1.0, 0.0]))
    assert "vanishes completely" in readings.gradient_reading(_history([0.0, 1.0]))
    text = readings.gradient_reading(_history([1e-3, 1.0], quantity="grad_c"),
                                     quantity="grad_c")
    assert "‖∂L/∂c_t‖" in text


# --- downloads and progress -----------------------------------------------------------


def test_history_csv_has_one_row_per_epoch_and_no_probe():
    history = {"epochs": [
        {"epoch": 1, "loss": 0.5, "mae": 0.4, "val_loss": 0.6, "val_mae": 0.5,
         "seconds": 1.2, "probe": {"grad_h": {"layer0": [1.0]}}},
        {"epoch": 2, "loss": math.nan, "mae": None, "val_loss": None, "val_mae": None,
         "seconds": 0.1, "probe": {}}]}
    rows = list(csv.reader(io.StringIO(downloads.history_csv(history))))
    assert rows[0] == ["epoch", "loss", "val_loss", "mae", "val_mae", "seconds"]
    assert rows[1][:3] == ["1", "0.5", "0.6"] and rows[2][1] == "nan"
    assert downloads.history_csv(None) == "\n"


def test_config_and_script_downloads():
    config = DEFAULT.with_values({"layer1.units": 7})
    assert ExperimentConfig.from_json(downloads.config_json(config)) == config
    assert "keras.layers.LSTM(" in downloads.script_text(config)


def test_trace_and_model_downloads_from_a_real_run():
    from lstm_explorer.trace import load_npz
    from lstm_explorer.training import Trainer

    config = ExperimentConfig.from_dict({"task": {"seq_len": 5, "n_samples": 32},
                                         "model": {"layers": [{"units": 3}]},
                                         "training": {"epochs": 1}})
    result = Trainer(config).run()
    data = downloads.trace_npz(result)
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".npz") as file:
        file.write(data)
        file.flush()
        assert load_npz(file.name).layers[0].values["h"].shape[1:] == (5, 3)
    model_bytes = downloads.model_keras(result)
    assert model_bytes[:2] == b"PK"  # a .keras file is a zip archive
    with np.testing.assert_raises(ValueError):
        downloads.trace_npz(None)


def test_progress_lines():
    queued = Snapshot(status="queued", place=2)
    assert "place 2" in panels.progress_text(queued)
    preparing = Snapshot(status="preparing", message="Building...", started_at=10.0)
    assert panels.progress_text(preparing, now=12.2) == "Building... · 2 s so far"
    making = Snapshot(status="preparing", phase="Making the data", phase_since=11.0,
                      started_at=10.0)
    assert panels.progress_text(making, now=13.0) == "Making the data (2 s) · 3 s so far"
    long = Snapshot(status="running", epoch=1, epochs=3, batch=0, batches=4, elapsed=200.0,
                    remaining=400.0)
    assert "3.3 min so far, about 6.7 min left" in panels.progress_text(long)


def test_layer_pickers_list_both_directions_and_number_layers_from_one():
    config = DEFAULT.with_values({"model.num_layers": 2, "model.bidirectional": True})
    assert panels.layer_keys(config) == ["layer0", "layer0/backward", "layer1",
                                         "layer1/backward"]
    assert panels.layer_label("layer1/backward") == "Layer 2, backward"


def test_widget_keys_derive_from_flat_keys():
    for key in DEFAULT.values():
        assert widgets.widget_key(key).endswith(key)
        param_for_key(key)  # every flat key has a registry entry


class _FakeJob:
    """The parts of `TrainingJob` the panels read; `traced` plays the trainer."""

    def __init__(self, snapshot: Snapshot):
        self._snapshot = snapshot
        self._arrived = threading.Event()

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def wait_for_trace(self, timeout: float | None = None) -> bool:
        self._arrived.wait(timeout)
        return self._snapshot.trace is not None

    def traced(self) -> None:
        self._snapshot = Snapshot(status="running", trace=object())
        self._arrived.set()


@pytest.mark.parametrize("snapshot, expected", [
    (Snapshot(status="running"), True),
    (Snapshot(status="preparing"), True),
    (Snapshot(status="queued", place=1), True),  # next, or being prepared
    (Snapshot(status="queued", place=5), True),  # the queue's preparer traces it
    (Snapshot(status="running", trace=object()), False),  # the first trace is there
    (Snapshot(status="finished"), False),
])
def test_a_job_awaits_its_first_trace_until_it_has_one_or_is_done(snapshot, expected):
    assert panels.awaits_first_trace(_FakeJob(snapshot)) is expected
    assert panels.awaits_first_trace(None) is False


def test_waiting_for_the_first_trace_ends_when_it_comes_or_when_it_cannot_come():
    job = _FakeJob(Snapshot(status="preparing"))
    threading.Timer(0.1, job.traced).start()
    assert panels.wait_for_first_trace(job, timeout=30) is True
    cancelled = _FakeJob(Snapshot(status="cancelled"))
    assert panels.wait_for_first_trace(cancelled, timeout=30) is False  # returns at once
    slow = _FakeJob(Snapshot(status="preparing"))
    assert panels.wait_for_first_trace(slow, timeout=0.05) is False


class _NewerRequest(Exception):
    """Stands for Streamlit's RerunException: the browser sent something newer."""


def test_waiting_for_the_first_trace_gives_way_to_a_newer_request_at_every_step(monkeypatch):
    looks = []

    def newer_request_on_the_third_look():
        looks.append(1)
        if len(looks) == 3:
            raise _NewerRequest

    monkeypatch.setattr(panels, "WAIT_STEP", 0.01)
    monkeypatch.setattr(panels, "_give_way_to_newer_requests", newer_request_on_the_third_look)
    with pytest.raises(_NewerRequest):
        panels.wait_for_first_trace(_FakeJob(Snapshot(status="queued", place=9)), timeout=60)
    assert len(looks) == 3


def _session_state_is_a_yield_point() -> None:
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    callback = get_script_run_ctx().session_state._yield_callback
    st.write(getattr(callback, "__name__", repr(callback)))


def test_reading_the_session_state_lets_streamlit_handle_newer_requests():
    # What `panels._give_way_to_newer_requests` relies on (a Streamlit internal): the
    # session state of a script run calls the runner's execution-control check.
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_session_state_is_a_yield_point).run()
    assert at.markdown[0].value == "_maybe_handle_execution_control_request"
