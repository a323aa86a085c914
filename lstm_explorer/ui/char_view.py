"""Inside the Cell for the chars task: the text along the time axis, coloured by a unit,
and the unit finder that ranks a layer's units by how well they follow a pattern.

Example (inside a Streamlit page, with a chars run's trace `arrays` and `config`):

    if char_view.reads_characters(config, arrays):
        char_view.character_section(arrays, config, "layer0", sample=0, step=5, unit=3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from lstm_explorer import cell_view
from lstm_explorer.datasets import chars
from lstm_explorer.datasets.units import PATTERNS, pattern_values, rank_units

# The unit slider of Inside the Cell: "Show" sets it.
UNIT_KEY = "cell_unit"
QUANTITY_KEY = "char_quantity"
PATTERN_KEY = "char_pattern"
SHOWN_UNITS = 5


def reads_characters(config: Any, arrays: dict | None) -> bool:
    """Whether a run read characters of the chars task (ids the text can be read from)."""
    return (config is not None and config.task.get("name") == "chars" and arrays is not None
            and np.ndim(arrays.get("inputs")) == 2)


def reads_backwards(config: Any, key: str) -> bool:
    """Whether the layer direction `key`'s step 0 is the text's last character."""
    index, direction = cell_view.parse_key(key)
    layers = config.model["layers"]
    go_backwards = bool(layers[index].get("go_backwards")) if index < len(layers) else False
    return (direction == "backward") != go_backwards


def _show_unit(unit: int) -> None:
    st.session_state[UNIT_KEY] = unit


def character_section(arrays: dict, config: Any, key: str, sample: int, step: int,
                      unit: int) -> None:
    """Draw the probe sample's characters coloured by `unit`, and the unit finder.

    Args:
        arrays: the run's trace arrays.
        config: the run's `ExperimentConfig` (a chars task).
        key: the layer direction shown, e.g. `"layer0"`.
        sample, step, unit: what Inside the Cell's sliders chose (step in processing
            order).
    """
    texts = chars.texts_of_inputs(arrays["inputs"])
    backwards = reads_backwards(config, key)
    quantities = [quantity for quantity in ("c", "h") if f"{key}/{quantity}" in arrays]
    st.markdown(f"**The text of probe sample {sample}**, each character on the colour of "
                f"unit {unit}'s state after reading it (blue positive, red negative; the "
                "outlined character is the step above)")
    quantity = st.radio("Colour by", quantities, horizontal=True, key=QUANTITY_KEY,
                        format_func={"c": "cell state c", "h": "hidden state h"}.get)
    states = np.asarray(arrays[f"{key}/{quantity}"], dtype=np.float64)
    steps = states.shape[1]
    in_text_order = states[:, ::-1] if backwards else states
    marked = steps - 1 - step if backwards else step
    st.html(cell_view.character_strip(texts[sample], in_text_order[sample, :, unit],
                                      marked=marked))

    st.markdown("**Unit finder** · rank this layer's units by the correlation of their "
                f"{quantity} with a pattern of the text, over all {len(texts)} probe samples")
    pattern = st.selectbox("Pattern", list(PATTERNS), key=PATTERN_KEY,
                           format_func=lambda name: PATTERNS[name].label,
                           help="\n\n".join(f"**{p.label}**: {p.description}"
                                            for p in PATTERNS.values()))
    try:
        ranked = rank_units(states, texts, pattern, go_backwards=backwards)[:SHOWN_UNITS]
    except ValueError as error:
        st.info(str(error), icon=":material/info:")
        return
    best = ranked[0]
    strength = ("clearly follows it" if abs(best.r) >= 0.5 else
                "follows it a little" if abs(best.r) >= 0.3 else "does not follow it")
    st.caption(f"Best: unit {best.unit}, r = {best.r:+.2f}: its {quantity} {strength} "
               "(|r| ≥ 0.5 reads as clear). Press a unit to colour the text by it.")
    columns = st.columns(len(ranked))
    for column, found in zip(columns, ranked, strict=True):
        column.button(f"Unit {found.unit} · r = {found.r:+.2f}", key=f"char-unit-{found.unit}",
                      on_click=_show_unit, args=(found.unit,), width="stretch",
                      type="primary" if found.unit == unit else "secondary")
    st.caption(f"The pattern itself ({PATTERNS[pattern].label.lower()}) over the same text:")
    st.html(cell_view.character_strip(texts[sample], pattern_values(texts[sample], pattern),
                                      marked=marked))
