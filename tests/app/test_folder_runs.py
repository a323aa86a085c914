"""A runs folder (`--runs DIR` / LSTM_EXPLORER_RUNS): its runs on every page that reads runs."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from lstm_explorer import cli
from tests.app.conftest import array, figures, new_app, no_exceptions, text
from tests.e2e import own_training

GRADIENT, CELL, COMPARE = "pages/gradient_flow.py", "pages/inside_cell.py", \
    "pages/compare_runs.py"
TINY_CONFIG = {"task": {"seq_len": 6, "n_samples": 64},
               "model": {"layers": [{"units": 4}]}, "training": {"epochs": 2}}


def named(options: list[str]) -> list[str]:
    """The runs a picker offers, by name (its labels add what each run is)."""
    return [option.split(" · ")[0] for option in options]


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    config = root / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    assert cli.main(["train", "--config", str(config), "--out", str(root / "trained")]) == 0
    config.unlink()
    # A person's own functional model, trained with plain fit and the callback.
    own_training.main(str(root / "mine"), epochs=2, seconds=0)
    (root / "broken").mkdir()
    broken = root / "broken" / "history.json"
    broken.write_text('{"epochs": [{"epoch": 1}], "sta')
    # An hour old: a run this young with files missing is taken as still being written.
    os.utime(broken, (time.time() - 3600, time.time() - 3600))
    return root


@pytest.fixture
def app_with_folder(runs_folder, monkeypatch):
    monkeypatch.setenv("LSTM_EXPLORER_RUNS", str(runs_folder))
    return new_app()


def test_gradient_flow_lists_every_run_of_the_folder_and_draws_the_one_picked(
        app_with_folder, runs_folder):
    at = app_with_folder.switch_page(GRADIENT).run()
    no_exceptions(at)
    options = named(at.selectbox(key="gradient_run").options)
    assert {"folder: trained", "folder: mine", "folder: broken"} <= set(options)
    at.selectbox(key="gradient_run").set_value("folder: trained").run()
    no_exceptions(at)
    history = json.loads((runs_folder / "trained" / "history.json").read_text())
    expected = history["epochs"][-1]["probe"]["grad_h"]["layer0"]
    flow = next(spec for title, spec in figures(at).items()
                if title.startswith("Gradient flow through time"))
    drawn = [array(trace["y"]) for trace in flow["data"] if trace.get("name") == "epoch 2"]
    assert drawn and np.allclose(drawn[0], expected)
    assert "Showing **folder: trained** from the runs folder" in "\n".join(
        str(caption.value) for caption in at.caption)


def test_a_malformed_run_is_listed_with_what_is_wrong_and_breaks_nothing(app_with_folder):
    at = app_with_folder.switch_page(GRADIENT).run()
    at.selectbox(key="gradient_run").set_value("folder: broken").run()
    no_exceptions(at)
    assert "history.json is not valid JSON" in text(at, "warning")


def test_inside_the_cell_reads_an_own_models_weights_from_the_folder(app_with_folder):
    at = app_with_folder.switch_page(CELL).run()
    options = named(at.selectbox(key="cell_run").options)
    assert "folder: mine" in options and "folder: broken" not in options  # no trace
    at.selectbox(key="cell_run").set_value("folder: mine").run()
    no_exceptions(at)
    assert any(title.startswith("Step 6 of 7") for title in figures(at))
    assert at.latex, "the equations of a unit are drawn from the model's weights"


def test_compare_runs_sets_folder_runs_side_by_side(app_with_folder):
    at = app_with_folder.switch_page(COMPARE).run()
    no_exceptions(at)
    at.multiselect(key="compare_runs").set_value(["folder: trained", "folder: mine"]).run()
    no_exceptions(at)
    assert any(title.startswith("Loss") for title in figures(at))
    assert "**folder: mine** is a model of your own" in "\n".join(
        str(caption.value) for caption in at.caption)
