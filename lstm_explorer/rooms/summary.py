"""What a student sends to a class room: the summary of a finished run, never the model.

`summary_of(history, config, verdict)` makes it from a run as the app keeps it
(`ui.state.Run`: its `history` and `config`), and `check_summary` is what the store
runs on anything sent: the same layout, strict JSON, at most
`LSTM_EXPLORER_ROOM_MAX_RUN_KB`. The summary holds:

- `config`: the normalized config (DESIGN §3), so the class view can find what differs;
- `history`: the epoch rows in the app's own layout (`loss`, `val_loss`, the metric,
  `seconds`, and `probe` with the per-step gradient norms `grad_h`/`grad_c` of every
  layer, the weight-gradient norms and the gate saturation), with `status`, `message`
  and the trivial `baseline`, so that every reading (`readings`, `compare`) works on it
  as on a run of the session and the teacher can take it into Compare Runs;
- `final`: the final metric (its key and value) and loss, and the gradient reaching
  step 0 of the first layer (`grad_h[0] / grad_h[-1]` at the last epoch, as the verdict
  reads it), for readers that want the numbers without the rows;
- `verdict`: the sentence the student saw.

Nothing else of a session goes in: no weights, traces, data or CSV content. Per-step
gradient norms keep four significant digits (what a log-scale chart can show), which
halves the size; NaN and infinity become `null`, as in `trace.Trace.summary`.

Example:

>>> rows = [{"epoch": 1, "loss": 0.5, "val_loss": 0.4, "mae": 0.3, "val_mae": 0.35,
...          "probe": {"grad_h": {"layer0": [1.23456e-5, 0.5]}}}]
>>> summary = summary_of({"epochs": rows, "status": "finished"}, None, "Learned.")
>>> summary["history"]["epochs"][0]["probe"]["grad_h"]["layer0"]
[1.235e-05, 0.5]
>>> summary["final"]
{'metric': 'val_mae', 'value': 0.35, 'loss': 0.4, 'layer': 'layer0', 'step0_ratio': 2.47e-05}
>>> summary_size(summary) < 1000
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from lstm_explorer import readings
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from lstm_explorer.rooms.errors import InvalidInput, RunTooLarge
from lstm_explorer.rooms.limits import ENV_NAMES, RoomLimits

#: The layout's version; a store refuses summaries of another.
SUMMARY_FORMAT = 1
#: Significant digits kept of per-step gradient norms.
GRADIENT_DIGITS = 4
MAX_VERDICT_CHARS = 2000
_HISTORY_KEYS = ("status", "message", "baseline")
_PROBE_SERIES = ("grad_h", "grad_c")
_PROBE_TABLES = ("weight_grad_norms", "saturation")


def summary_of(history: Mapping[str, Any], config: Any, verdict: str | None = None, *,
               limits: RoomLimits | None = None) -> dict[str, Any]:
    """The summary of a finished run, ready to send to a class room.

    Args:
        history: the run's history (`{"epochs": [row, ...], "status", "message",
            "baseline"}`, as `training.Trainer` writes it and `ui.state.Run` keeps it).
        config: the run's `ExperimentConfig`, its dict form, or `None` when unknown
            (the class view cannot place such a run on a parameter's axis).
        verdict: the verdict the student saw. Default: `None`, computed with
            `readings.verdict(config, history)`.
        limits: the room limits, for the size check. Default: `None`
            (`RoomLimits.from_env()`).

    Returns:
        A JSON-ready dict: `format`, `config`, `history`, `final`, `verdict`.

    Raises:
        InvalidInput: naming `history` or `config`, when it is not one.
        RunTooLarge: the summary is over `LSTM_EXPLORER_ROOM_MAX_RUN_KB`; the message
            gives its size and the limit.
    """
    if not isinstance(history, Mapping) or not isinstance(history.get("epochs"), list):
        raise InvalidInput("history", history,
                           "expected a training history, a dict with an 'epochs' list")
    config_dict = _config_dict(config)
    if verdict is None:
        verdict = readings.verdict(config_dict, history)
    rows = [_row(row) for row in history["epochs"] if isinstance(row, Mapping)]
    trimmed: dict[str, Any] = {"epochs": rows}
    for key in _HISTORY_KEYS:
        if key in history:
            trimmed[key] = _plain(history[key])
    summary = {
        "format": SUMMARY_FORMAT,
        "config": config_dict,
        "history": trimmed,
        "final": final_numbers(trimmed),
        "verdict": str(verdict),
    }
    check_summary(summary, limits)
    return summary


def final_numbers(history: Mapping[str, Any]) -> dict[str, Any]:
    """The final metric and loss and the gradient reaching step 0, from a history.

    The metric is `compare.metric_name`'s (validation if recorded); the gradient is
    `grad_h[0] / grad_h[-1]` of the layer the verdict reads (`layer0`, else the first
    recorded), at the last epoch that recorded it. Missing numbers are `None`.

    Example:

    >>> final_numbers({"epochs": [{"loss": 1.0, "probe": {"grad_h": {"layer0": [0.1, 1.0]}}}]})
    {'metric': None, 'value': None, 'loss': 1.0, 'layer': 'layer0', 'step0_ratio': 0.1}
    """
    # compare draws figures (plotly); imported here so that the store, which only
    # checks summaries, starts without it.
    from lstm_explorer import compare

    rows = [row for row in history.get("epochs") or [] if isinstance(row, Mapping)]
    layer = readings._first_layer(rows) or "layer0"
    return {"metric": compare.metric_name(history), "value": compare.final_metric(history),
            "loss": compare.final_loss(history), "layer": layer,
            "step0_ratio": compare.step0_ratio(history, layer)}


def encode(summary: Mapping[str, Any]) -> str:
    """The summary as compact, strict JSON (what the store keeps and measures).

    Raises:
        InvalidInput: naming `summary`, when it holds something JSON cannot (a NaN, an
            object).
    """
    try:
        return json.dumps(summary, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput("summary", type(summary).__name__,
                           f"must be plain JSON data as summary_of makes it ({error})") from None


def summary_size(summary: Mapping[str, Any]) -> int:
    """Bytes of the summary as the store keeps it (compact JSON, UTF-8)."""
    return len(encode(summary).encode("utf-8", "surrogatepass"))


def check_summary(summary: Any, limits: RoomLimits | None = None) -> str:
    """Check a summary before it is stored; its JSON text when it may be.

    Args:
        summary: what `summary_of` made.
        limits: the room limits. Default: `None` (`RoomLimits.from_env()`).

    Raises:
        InvalidInput: naming the part that is wrong.
        RunTooLarge: with the size and the limit.

    Example:

    >>> check_summary({"format": 1, "config": None, "verdict": "",
    ...                "history": {"epochs": [{"loss": 1.0}]}})[:12]
    '{"format":1,'
    >>> check_summary({"format": 1, "config": None, "history": {"epochs": []},
    ...                "verdict": "x" * 600}, RoomLimits(max_run_kb=0.5))
    Traceback (most recent call last):
    ...
    lstm_explorer.rooms.errors.RunTooLarge: this run's summary is 0.6 KB (663 bytes); a run sent to a class room may be at most 0.5 KB (512 bytes). Train fewer epochs or shorter sequences, or ask an administrator to raise the limit with the environment variable LSTM_EXPLORER_ROOM_MAX_RUN_KB
    """
    limits = limits or RoomLimits.from_env()
    if not isinstance(summary, Mapping):
        raise InvalidInput("summary", summary, "expected the dict that summary_of makes")
    if summary.get("format") != SUMMARY_FORMAT:
        raise InvalidInput("summary['format']", summary.get("format"),
                           f"expected {SUMMARY_FORMAT}, the layout summary_of makes")
    history = summary.get("history")
    if not isinstance(history, Mapping) or not isinstance(history.get("epochs"), list) or \
            not all(isinstance(row, Mapping) for row in history["epochs"]):
        raise InvalidInput("summary['history']", history,
                           "expected a dict with an 'epochs' list of rows")
    verdict = summary.get("verdict")
    if not isinstance(verdict, str) or len(verdict) > MAX_VERDICT_CHARS:
        raise InvalidInput("summary['verdict']", verdict,
                           f"expected a sentence of at most {MAX_VERDICT_CHARS} characters")
    text = encode(summary)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_run_bytes:
        raise RunTooLarge(size, limits.max_run_bytes, ENV_NAMES["max_run_kb"])
    # The config last: it is the slowest check, and a summary over the size limit is
    # refused whatever its config.
    if summary.get("config") is not None:
        _config_dict(summary["config"], "summary['config']")
    return text


def _config_dict(config: Any, argument: str = "config") -> dict | None:
    if config is None:
        return None
    try:
        if isinstance(config, ExperimentConfig):
            return config.to_dict()
        return ExperimentConfig.from_dict(config).to_dict()
    except ConfigError as error:
        raise InvalidInput(argument, config, f"not a valid config: {error}") from None


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        key = str(key)
        if key == "probe":
            if isinstance(value, Mapping):
                out["probe"] = _probe(value)
        elif value is None or isinstance(value, (bool, int, float, str)) or _is_number(value):
            out[key] = _plain(value)
    return out


def _probe(probe: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "loss" in probe:
        out["loss"] = _number(probe["loss"])
    for name in _PROBE_SERIES:
        series = probe.get(name)
        if isinstance(series, Mapping):
            out[name] = {str(layer): [_rounded(value) for value in _values(values)]
                         for layer, values in series.items()}
    for name in _PROBE_TABLES:
        table = probe.get(name)
        if isinstance(table, Mapping):
            out[name] = _plain(table)
    return out


def _values(values: Any) -> list[Any]:
    if hasattr(values, "tolist"):
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        return [values]
    flat: list[Any] = []
    for value in values:
        flat.extend(_values(value) if isinstance(value, (list, tuple)) else [value])
    return flat


def _is_number(value: Any) -> bool:
    return hasattr(value, "dtype") and getattr(value, "shape", None) == ()


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(value) if isinstance(value, int) else number


def _rounded(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else float(f"{number:.{GRADIENT_DIGITS}g}")


def _plain(value: Any) -> Any:
    """JSON-ready: numpy numbers as Python's, NaN and infinity as None, keys as text."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and not _is_number(value):
        return [_plain(item) for item in (value.tolist() if hasattr(value, "tolist") else value)]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) or _is_number(value):
        return _number(value.item() if hasattr(value, "item") else value)
    return str(value)
