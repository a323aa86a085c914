"""LSTM Explorer: see inside a Keras LSTM while it trains.

The library is plain Python on top of Keras 3; only `lstm_explorer.ui` knows about
Streamlit. Importing the package is cheap: TensorFlow is imported by the modules that
need it (`model`, `training`, `trace`), not here. `lstm_explorer.ExplorerCallback`, the
callback for your own `model.fit`, is imported (with TensorFlow) on first use of the name.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # PEP 562: `from lstm_explorer import ExplorerCallback` imports Keras then, not at
    # `import lstm_explorer` (which the app does before TensorFlow is ready).
    if name == "ExplorerCallback":
        from lstm_explorer.own_model.callback import ExplorerCallback

        return ExplorerCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
