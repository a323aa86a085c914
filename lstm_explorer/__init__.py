"""LSTM Explorer: see inside a Keras LSTM while it trains.

The library is plain Python on top of Keras 3; only `lstm_explorer.ui` knows about
Streamlit. Importing the package is cheap: TensorFlow is imported by the modules that
need it (`model`, `training`, `trace`), not here.
"""

__version__ = "0.1.0"
