"""Static figure export (PNG, SVG, self-contained HTML) and run directory reading/writing.

PNG and SVG go through kaleido, which drives a headless Chromium (Debian's
`/usr/bin/chromium` is found by kaleido itself). Starting Chromium costs ~3 s, rendering
on a running one ~0.2 s, so a batch keeps ONE Chromium alive: kaleido's sync server.
That server is a process-wide singleton and not thread-safe (two threads would read
each other's images off its queues), so every use goes through `_KALEIDO_LOCK`.

A run directory (`python -m lstm_explorer train --out RUN_DIR`) holds `config.json`,
`model.keras`, `history.json` and `trace.npz`; this module reads the three plain-data
files and writes `history.json`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kaleido
import numpy as np
import plotly.graph_objects as go
from choreographer.browsers.chromium import Chromium

__all__ = [
    "CONFIG_FILE",
    "FORMATS",
    "HISTORY_FILE",
    "TRACE_FILE",
    "export_figures",
    "figure_bytes",
    "kaleido_server",
    "read_history",
    "read_run",
    "write_history",
]

FORMATS = ("png", "svg", "html")
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
TRACE_FILE = "trace.npz"

# Re-entrant: `export_figures` holds it for a whole batch and renders each figure through
# the same helper `figure_bytes` uses, which takes it again.
_KALEIDO_LOCK = threading.RLock()

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TRAIN_HINT = "it is written by `python -m lstm_explorer train --config CFG.json --out {run_dir}`"


# ----------------------------------------------------------------------------------------
# Static export


def _check_options(format: str, width: Any, height: Any, scale: Any) -> None:
    if format not in FORMATS:
        raise ValueError(f"format={format!r}: expected one of {', '.join(map(repr, FORMATS))}")
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name}={value!r}: expected a positive integer number of pixels")
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float, np.number))
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise ValueError(f"scale={scale!r}: expected a positive number, e.g. 2 for retina PNGs")


def _server_running() -> bool:
    # kaleido has no public "is it running?"; the singleton's own flag is the truth
    # (the server may have been started by someone else, e.g. the app or a test).
    return bool(kaleido._global_server.is_running())


def _start_server() -> None:
    # kaleido's server looks for Chromium in its own thread; when there is none that
    # thread dies and every later render waits forever on its queue. Look first, here.
    browser = Chromium.find_browser(skip_local=False)
    if not browser or not os.access(browser, os.X_OK):
        raise RuntimeError(
            "PNG/SVG export needs Chromium, and none was found"
            + (f" at {browser!r}" if browser else "")
            + ": install it (Debian: `apt-get install chromium`) or set BROWSER_PATH. "
            "HTML export works without it."
        )
    # Our figures use no LaTeX; MathJax would be fetched from a CDN, which a classroom
    # machine offline cannot reach.
    kaleido.start_sync_server(mathjax=False, silence_warnings=True)


@contextlib.contextmanager
def kaleido_server() -> Iterator[None]:
    """Keep one Chromium alive for every PNG/SVG export inside the `with` block.

    Starts kaleido's sync server unless one is already running, and stops it on exit
    only if it started it. Holds the module lock for the whole block, so other threads'
    exports wait rather than interleave.

    Example:

    ```python
    with kaleido_server():
        png = figure_bytes(fig_a, "png")
        svg = figure_bytes(fig_b, "svg")  # no second Chromium start
    ```
    """
    with _KALEIDO_LOCK:
        started = not _server_running()
        if started:
            _start_server()
        try:
            yield
        finally:
            if started:
                kaleido.stop_sync_server(silence_warnings=True)


def _html(fig: go.Figure, name: str, width: int, height: int, scale: float) -> str:
    return fig.to_html(
        include_plotlyjs=True,  # self-contained: opens offline, no CDN
        full_html=True,
        div_id=name,  # a fixed id instead of a random one: same figure, same file
        default_width=f"{width}px",
        default_height=f"{height}px",
        config={
            "displaylogo": False,
            # The camera button in the page saves at the same size as the docs export.
            "toImageButtonOptions": {
                "format": "png",
                "filename": name,
                "width": width,
                "height": height,
                "scale": scale,
            },
        },
    )


def figure_bytes(
    fig: go.Figure,
    format: str = "png",
    width: int = 1200,
    height: int = 700,
    scale: float = 2,
    keep_alive: bool = True,
) -> bytes:
    """One figure as PNG, SVG or HTML bytes, e.g. for a download button.

    The same rendering path and defaults as `export_figures`, so a downloaded PNG is
    pixel-for-pixel the one in the docs.

    Args:
        fig: the figure.
        format: `"png"`, `"svg"` or `"html"` (self-contained, plotly.js inlined).
            Default: `"png"`.
        width: layout width in CSS pixels. Default: `1200`.
        height: layout height in CSS pixels. Default: `700`.
        scale: pixel density of PNGs (a 1200 px wide figure at scale 2 is 2400 px).
            Default: `2`.
        keep_alive: when no kaleido server runs yet, leave the one started here running
            for later calls (a web app renders again on every rerun; kaleido stops it at
            exit). `False` starts and stops one just for this call. Default: `True`.

    Returns:
        The encoded figure: PNG bytes, or UTF-8 SVG/HTML text.

    Example:

    >>> fig = go.Figure(go.Scatter(y=[1, 3, 2]))
    >>> figure_bytes(fig, "html")[:15]
    b'<!doctype html>'
    """
    _check_options(format, width, height, scale)
    if format == "html":
        return _html(fig, "figure", width, height, scale).encode("utf-8")
    with _KALEIDO_LOCK:
        if keep_alive and not _server_running():
            _start_server()
        with kaleido_server():
            # kaleido directly rather than `fig.to_image`: plotly passes its own browser
            # options, which a running server ignores with a warning on every call.
            return kaleido.calc_fig_sync(
                fig.to_dict(),
                opts={"format": format, "width": width, "height": height, "scale": scale},
            )


def export_figures(
    figures: Mapping[str, go.Figure],
    out_dir: str | os.PathLike[str],
    format: str = "png",
    width: int = 1200,
    height: int = 700,
    scale: float = 2,
) -> list[Path]:
    """Write each figure to `out_dir/<name>.<format>` at a fixed size and scale.

    PNG and SVG share one Chromium for the whole batch (started here and stopped at the
    end, unless one was already running). HTML files are self-contained: plotly.js is
    inlined, so they open offline.

    Args:
        figures: name to figure, e.g. `figures.all_figures(history, arrays)`. Names become
            file names: letters, digits, `_`, `-`, `.`.
        out_dir: directory to write into; created if missing.
        format: `"png"`, `"svg"` or `"html"`. Default: `"png"`.
        width: layout width in CSS pixels. Default: `1200`.
        height: layout height in CSS pixels. Default: `700`.
        scale: pixel density of PNGs; the PNG is `width * scale` pixels wide.
            Default: `2`.

    Returns:
        The written paths, in the order of `figures`.

    Example:

    >>> import tempfile
    >>> fig = go.Figure(go.Scatter(y=[1, 3, 2]))
    >>> out = tempfile.mkdtemp()
    >>> [p.name for p in export_figures({"loss_curves": fig}, out, format="html")]
    ['loss_curves.html']
    """
    _check_options(format, width, height, scale)
    bad = [name for name in figures if not isinstance(name, str) or not _NAME.match(name)]
    if bad:
        raise ValueError(
            f"figures: names {bad!r} are not usable as file names; "
            "use letters, digits, '_', '-' and '.', e.g. 'layer0_gates'"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.{format}" for name in figures]
    if format == "html":
        for (name, fig), path in zip(figures.items(), paths, strict=True):
            path.write_text(_html(fig, name, width, height, scale), encoding="utf-8")
        return paths
    with kaleido_server():
        for fig, path in zip(figures.values(), paths, strict=True):
            path.write_bytes(figure_bytes(fig, format, width, height, scale))
    return paths


# ----------------------------------------------------------------------------------------
# Run directory


def _json_default(value: Any) -> Any:
    # Histories are built from numpy and Keras values; json knows neither.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"history holds a {type(value).__name__}, which JSON cannot store: {value!r}")


def write_history(run_dir: str | os.PathLike[str], history: Mapping[str, Any]) -> Path:
    """Write `run_dir/history.json` atomically.

    Written to a temporary file and renamed into place, so a reader (the app polling a
    live run) never sees half a file. NaN and infinity are kept as JSON's `NaN` /
    `Infinity` extensions, which `read_history` (Python's json) reads back exactly: a
    diverged epoch stays visibly diverged.

    Args:
        run_dir: the run directory; created if missing.
        history: `{"epochs": [row, ...], "status": ..., "message": ...}`. Numpy scalars
            and arrays are stored as plain numbers and lists.

    Returns:
        The path of `history.json`.

    Example:

    >>> import tempfile
    >>> run = tempfile.mkdtemp()
    >>> path = write_history(run, {"epochs": [{"epoch": 1, "loss": float("nan")}]})
    >>> read_history(run)["epochs"][0]["loss"]
    nan
    """
    if not isinstance(history, Mapping):
        raise ValueError(f"history={type(history).__name__}: expected a dict with an 'epochs' list")
    directory = Path(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / HISTORY_FILE
    text = json.dumps(history, indent=1, default=_json_default, allow_nan=True)
    fd, tmp = tempfile.mkstemp(prefix=".history-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _run_file(run_dir: str | os.PathLike[str], name: str) -> Path:
    directory = Path(run_dir)
    hint = _TRAIN_HINT.format(run_dir=directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"run directory {str(directory)!r} does not exist; {hint}")
    path = directory / name
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} not found; {hint}")
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON: {error}") from None


def read_history(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read `run_dir/history.json`.

    Args:
        run_dir: the run directory.

    Returns:
        The history dict: `{"epochs": [...], "status": ..., "message": ...}`.

    Raises:
        FileNotFoundError: the directory or the file is missing (the message says which
            command writes it).
        ValueError: the file is not JSON, or not a history.
    """
    path = _run_file(run_dir, HISTORY_FILE)
    history = _read_json(path)
    if not isinstance(history, dict) or not isinstance(history.get("epochs"), list):
        raise ValueError(f"{str(path)!r} is not a training history: no 'epochs' list")
    return history


def read_run(
    run_dir: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """Read a run directory's config, history and trace.

    Args:
        run_dir: a directory written by `python -m lstm_explorer train --out RUN_DIR`.

    Returns:
        `(config, history, arrays)`: the normalized config dict, the history dict, and
        the trace as a dict of numpy arrays keyed as in `trace.npz` (`"layer0/h"` ...).

    Raises:
        FileNotFoundError: `config.json`, `history.json` or `trace.npz` is missing.
        ValueError: a file is unreadable (not JSON, not an npz, or holds pickled objects).

    Example:

    ```python
    config, history, arrays = read_run("runs/adding")
    figures = all_figures(history, arrays)
    ```
    """
    config_path = _run_file(run_dir, CONFIG_FILE)
    history = read_history(run_dir)
    trace_path = _run_file(run_dir, TRACE_FILE)
    config = _read_json(config_path)
    if not isinstance(config, dict):
        raise ValueError(f"{str(config_path)!r} is not a config: expected a JSON object")
    try:
        # allow_pickle=False: a trace is plain numbers; a pickle in it could run code.
        with np.load(trace_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{str(trace_path)!r} is not a readable trace: {error}") from None
    return config, history, arrays
