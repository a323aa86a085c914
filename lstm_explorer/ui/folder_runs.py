"""The runs folder in the app: runs written by other processes, beside the session's own.

`streamlit run app.py -- --runs DIR` (or `LSTM_EXPLORER_RUNS=DIR`) makes every run
directory under DIR (`train`, `sweep`, the Lab's `--out`, `ExplorerCallback`, `inspect`)
selectable on the pages that read runs. The library side (`own_model.folder`) lists and
reads them and never raises; this module names them for the pickers, reads them for the
pages, and reads an own model's weights for Inside the Cell.

Example (inside a Streamlit page):

    for entry in entries():
        print(option_label(entry))   # "folder: my_run · LSTM 8 → Dense 1 · 3 epochs"
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import streamlit as st

from lstm_explorer.own_model import folder

# Options of a picker that stand for a folder's runs start with this; a session's run
# names start with "run N:", so the two never meet.
PREFIX = "folder: "
# Layers that pass their input on unchanged at inference (or only mask it): the cell
# view recomputes a layer's pre-activations from the layer before, so only these may
# stand between the input (or the Embedding) and the recurrent layers.
PASS_THROUGH = {"InputLayer", "Masking", "Dropout", "SpatialDropout1D", "GaussianNoise",
                "GaussianDropout", "AlphaDropout", "ActivityRegularization"}


def root() -> Path | None:
    """The runs folder the app was started with, or `None`."""
    return folder.configured_root()


def entries() -> list[folder.RunEntry]:
    """The runs under the runs folder, newest first (`[]` without a folder)."""
    where = root()
    return folder.scan(where) if where is not None else []


def folder_problem() -> str | None:
    """What is wrong with the runs folder as a whole, or `None`."""
    where = root()
    return folder.root_problem(where) if where is not None else None


def option(entry: folder.RunEntry) -> str:
    """A picker's option for a folder run: `"folder: NAME"`."""
    return PREFIX + entry.name


def is_option(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def option_label(entry: folder.RunEntry) -> str:
    """How a picker shows a folder run: its name, what it is, how far it got.

    >>> from pathlib import Path
    >>> entry = folder.RunEntry("mine", Path("/runs/mine"), "own_model", "callback",
    ...                         "LSTM 8 → Dense 1", 3, 10, "running", True, 0.0, None)
    >>> option_label(entry)
    'folder: mine · LSTM 8 → Dense 1 · being written'
    """
    # A run being written grows after the label was drawn: no count that would go stale.
    epochs = ("being written" if entry.writing
              else f"{entry.epochs} of {entry.epochs_planned} epochs" if entry.epochs_planned
              else f"{entry.epochs} epoch" + ("" if entry.epochs == 1 else "s"))
    parts = [option(entry)] + ([entry.label] if entry.label else []) + [epochs]
    if entry.problem and not entry.writing:
        parts.append("problem: " + entry.problem)
    return " · ".join(parts)


def has_trace(entry: folder.RunEntry) -> bool:
    """Whether a folder run has a trace to read (what Inside the Cell shows)."""
    return (Path(entry.path) / folder.TRACE_FILE).is_file()


def load(entry: folder.RunEntry) -> folder.LoadedRun:
    """Read a folder run as it is now (a run being written has grown since it was listed)."""
    return folder.load(entry.path, root())


def fresh(entry: folder.RunEntry) -> folder.RunEntry:
    """The entry listed again now: whether it is still being written, how far it got."""
    return load(entry).entry


def config_of(loaded: folder.LoadedRun) -> Any:
    """The run's `ExperimentConfig`, or `None` for an own model (or an invalid config)."""
    return loaded.experiment_config()


def model_weights(entry: folder.RunEntry) -> tuple[Any, str | None]:
    """The recurrent weights of a folder run's `model.keras`, for Inside the Cell.

    Returns:
        `(cell_view.ModelWeights, None)`, or `(None, why)` when the run has no model
        yet (a training still running), the file cannot be loaded, or its layers are
        not a chain the cell view can recompute.
    """
    path = Path(entry.path) / folder.MODEL_FILE
    if not path.is_file():
        return None, ("its model.keras is not there yet: the cell view reads the trained "
                      "weights, which a callback writes when fit ends")
    try:
        weights, reason = _weights(str(path), path.stat().st_mtime)
    except Exception as error:  # noqa: BLE001 - a bad file is a message, never a traceback
        logging.getLogger(__name__).exception("reading %s failed", path)
        return None, f"its model.keras could not be loaded ({type(error).__name__}: {error})"
    return weights, reason


@st.cache_resource(max_entries=16, show_spinner=False)
def _weights(path: str, modified: float) -> tuple[Any, str | None]:
    # NumPy copies of the weights, shared by every session: read-only, and keyed by
    # the file's time so that a rewritten model is read again.
    import keras

    from lstm_explorer import cell_view

    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    seen_recurrent, changed_by = False, None
    for layer in model.layers:
        inner = getattr(layer, "forward_layer", None) or layer
        kind = type(layer).__name__
        if hasattr(getattr(inner, "cell", None), "recurrent_kernel"):
            if changed_by is not None:
                return None, _not_a_chain(changed_by)
            seen_recurrent = True
        elif kind in PASS_THROUGH or (kind == "Embedding" and not seen_recurrent):
            continue
        elif changed_by is None:
            # After the last recurrent layer this is the head, which is not needed.
            changed_by = layer
            if not seen_recurrent:
                return None, _not_a_chain(layer)
    return cell_view.model_weights(model), None


def _not_a_chain(layer: Any) -> str:
    return (f"its layer {layer.name!r} ({type(layer).__name__}) changes what a recurrent "
            "layer reads, so the equations cannot be recomputed from the trace; Gradient "
            "Flow and Compare Runs show this run")
