"""Your own model: trace a Keras model the explorer did not build, and read runs folders.

- `ExplorerCallback` (`callback.py`): add it to your own `model.fit(...)`; it writes a
  run directory the app can open (`streamlit run app.py -- --runs DIR`).
- `inspect_model` (`inspection.py`): trace a saved `.keras` model on your arrays, the
  library side of `python -m lstm_explorer inspect`.
- `check_model` (`support.py`): which models can be traced, refused by layer name.
- `describe` / `summary_line` (`description.py`): the `model.json` of such a run.
- `scan` / `load` (`folder.py`): list and read every run directory under a folder, for
  the app; never raises, and needs no TensorFlow.

Importing this package is cheap: the TensorFlow-using modules are imported on first use
of their names.
"""

from __future__ import annotations

import importlib
from typing import Any

# Name -> module that defines it; imported on first access (PEP 562), so that
# `lstm_explorer.own_model.folder` and `description` stay free of TensorFlow.
_LAZY = {
    "ExplorerCallback": "callback",
    "inspect_model": "inspection",
    "check_model": "support",
    "SUPPORTED": "support",
    "describe": "description",
    "summary_line": "description",
    "RunEntry": "folder",
    "LoadedRun": "folder",
    "scan": "folder",
    "load": "folder",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
