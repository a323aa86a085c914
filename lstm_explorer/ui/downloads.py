"""What the download buttons hand out: config, script, model, history, trace, figures.

Pure functions from a config or a finished run to bytes or text, so the page only
wires them to buttons and the tests call them directly. The expensive ones (the
model, the trace, every figure through Chromium) are handed to the buttons as
callables and run only when someone clicks.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from lstm_explorer import export, loading
from lstm_explorer.config import ExperimentConfig

FIGURE_FORMATS = ("png", "svg")
MIME = {"png": "image/png", "svg": "image/svg+xml", "json": "application/json",
        "py": "text/x-python", "csv": "text/csv", "npz": "application/octet-stream",
        "keras": "application/octet-stream"}


def config_json(config: ExperimentConfig) -> str:
    """The complete, normalized config as JSON (what `--config` reads)."""
    return config.to_json() + "\n"


def script_text(config: ExperimentConfig) -> str:
    """The standalone Keras script that trains this config."""
    loading.import_tensorflow()  # codegen reads Keras's signatures
    from lstm_explorer import codegen

    return codegen.script(config)


def history_columns(history: Mapping[str, Any] | None) -> list[str]:
    """The scalar columns of a history: epoch first, then loss, metrics, seconds."""
    columns: list[str] = []
    for row in (history or {}).get("epochs") or []:
        for key, value in row.items():
            if key == "probe" or key in columns or isinstance(value, dict | list):
                continue
            columns.append(key)
    order = {"epoch": 0, "loss": 1, "val_loss": 2, "seconds": 99}
    return sorted(columns, key=lambda key: (order.get(key, 50), columns.index(key)))


def history_csv(history: Mapping[str, Any] | None) -> str:
    """One CSV row per epoch with the loss, the validation loss, the metrics and time.

    Example:

    >>> print(history_csv({"epochs": [{"epoch": 1, "loss": 0.5, "val_loss": None,
    ...                                "probe": {}}]}), end="")
    epoch,loss,val_loss
    1,0.5,
    """
    columns = history_columns(history)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in (history or {}).get("epochs") or []:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def trace_npz(result: Any) -> bytes:
    """The run's last trace as `trace.npz` bytes (DESIGN §3, with its meta entry)."""
    if result is None or result.trace is None:
        raise ValueError("this run recorded no trace (it ended before the first epoch)")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trace.npz")
        loading.import_tensorflow()
        from lstm_explorer import trace

        trace.save_npz(result.trace, path)
        with open(path, "rb") as file:
            return file.read()


def model_keras(result: Any) -> bytes:
    """The trained model in Keras's `.keras` format."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        result.model.save(path)
        with open(path, "rb") as file:
            return file.read()


def figure_file(figure: Any, format: str) -> bytes:
    """One figure as PNG or SVG, rendered the same way as the CLI export."""
    return export.figure_bytes(figure, format)
