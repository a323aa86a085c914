"""Stage timestamps for latency work, written only when an environment variable asks.

`bench/bench_browser.py` starts the app with `LSTM_EXPLORER_TIMELINE` naming a file;
the training and the pages then append one JSON line per stage they reach (click seen,
job started, data made, model built, first trace, figures built, charts sent), so the
time from a click to the first chart can be split into its parts. Unset (the normal
case), `mark` only reads the environment and returns.

Example:

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "timeline.jsonl")
>>> os.environ[ENV] = path
>>> mark("model built", units=32)
>>> [(entry["stage"], entry["units"]) for entry in read(path)]
[('model built', 32)]
>>> del os.environ[ENV]
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

ENV = "LSTM_EXPLORER_TIMELINE"

_lock = threading.Lock()
_details: list[Callable[[], dict[str, Any]]] = []


def add_details(provider: Callable[[], dict[str, Any]]) -> None:
    """Record `provider()`'s items with every later mark, e.g. the page's session id.

    The app registers one that names the Streamlit session of the calling thread, so
    that thirty sessions' marks can be told apart; a provider that raises is skipped.

    Args:
        provider: returns JSON-ready details for the calling thread (may be empty).
    """
    if provider not in _details:
        _details.append(provider)


def mark(stage: str, **details: Any) -> None:
    """Append `{"stage", "time", "thread", **provided, **details}` to the timeline file,
    if one is set (`provided`: the items of every `add_details` provider; `details`
    win over them).

    Args:
        stage: what was just reached, e.g. `"initial trace"`.
        **details: JSON-ready values to record with it.
    """
    path = os.environ.get(ENV)
    if not path:
        return
    entry = {"stage": stage, "time": time.time(),
             "thread": threading.current_thread().name}
    for provider in _details:
        try:
            entry.update(provider())
        except Exception:  # noqa: BLE001 - a timeline must never break what it times
            continue
    entry.update(details)
    line = json.dumps(entry, default=str)
    # Several threads (the page runs, the trainer) write to one file: one line each.
    with _lock, open(path, "a", encoding="utf-8") as file:
        file.write(line + "\n")


def read(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The entries of a timeline file, in the order they were written.

    Args:
        path: a file written by `mark`.

    Returns:
        A list of dicts with at least `stage`, `time` (seconds since the epoch) and
        `thread`; an empty list when the file does not exist.
    """
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
