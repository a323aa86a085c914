"""Inside the Cell on the chars task: the probe's characters coloured by a unit, and the
unit finder that ranks units by a pattern of the text and shows the one pressed."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from lstm_explorer import training
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.datasets import chars
from lstm_explorer.datasets.units import rank_units
from lstm_explorer.ui.state import describe_config
from tests.app.conftest import explorer, new_app, no_exceptions

CELL = "pages/inside_cell.py"
CHARS = {"task": {"name": "chars", "seq_len": 30, "n_samples": 96},
         "model": {"embedding": {"output_dim": 4},
                   "layers": [{"units": 6, "return_sequences": True}]},
         "training": {"epochs": 1}}


@pytest.fixture(scope="module")
def chars_run():
    return training.Trainer(ExperimentConfig.from_dict(CHARS)).run()


@pytest.fixture
def cell_page(chars_run):
    at = new_app()
    explorer(at).add_run(describe_config(chars_run.config), chars_run.config,
                         chars_run.history, chars_run.trace.to_arrays(), chars_run)
    return at.switch_page(CELL).run()


def strips(at) -> list[str]:
    return [str(element.proto.body) for element in at.get("html")
            if "font-family: monospace" in str(element.proto.body)]


def test_the_probe_text_runs_along_the_time_axis_coloured_by_the_unit_chosen(
        cell_page, chars_run):
    # The position in the line changes along any text (a string may not occur in one).
    at = cell_page.selectbox(key="char_pattern").set_value("position_in_line").run()
    no_exceptions(at)
    arrays = chars_run.trace.to_arrays()
    text = chars.texts_of_inputs(arrays["inputs"])[0]
    unit_strip, pattern_strip = strips(at)
    # Every character of sample 0 in order, escaped, one span each.
    shown = [html.unescape(part) for part in re.findall(r"<span [^>]*>(.*?)</span>",
                                                          unit_strip)]
    assert "".join(shown).replace("↵", "\n").replace("→", "\t").replace("\u00a0", " ") \
        == text
    first_c = arrays["layer0/c"][0, 0, at.slider(key="cell_unit").value]
    assert f'title="step 0: {first_c:.3f}"' in unit_strip
    assert "outline" in unit_strip  # the step viewed is outlined


def test_the_unit_finder_ranks_units_as_rank_units_does_and_shows_the_one_pressed(
        cell_page, chars_run):
    at = cell_page
    arrays = chars_run.trace.to_arrays()
    texts = chars.texts_of_inputs(arrays["inputs"])
    at.selectbox(key="char_pattern").set_value("position_in_line").run()
    no_exceptions(at)
    expected = rank_units(arrays["layer0/c"], texts, "position_in_line")[:5]
    labels = [button.label for button in at.button if button.key.startswith("char-unit-")]
    assert labels == [f"Unit {unit} · r = {r:+.2f}" for unit, r in expected]
    last = expected[-1].unit
    at.button(key=f"char-unit-{last}").click().run()
    no_exceptions(at)
    assert at.slider(key="cell_unit").value == last
    value = arrays["layer0/c"][0, 0, last]
    assert f'title="step 0: {value:.3f}"' in strips(at)[0]
    assert np.isfinite(value)
