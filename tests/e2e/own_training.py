"""A person's own training in a process of its own, for the browser test that watches it.

    python -m tests.e2e.own_training RUN_DIR EPOCHS SECONDS_PER_EPOCH

A functional model (Embedding with mask_zero, an LSTM, Dense) trained with plain
`model.fit` and `ExplorerCallback`; each epoch is held `SECONDS_PER_EPOCH` longer, so the
page has time to show the run growing.
"""

from __future__ import annotations

import sys
import time

import keras
import numpy as np

from lstm_explorer import ExplorerCallback


class _Slow(keras.callbacks.Callback):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(self.seconds)


def main(run_dir: str, epochs: int, seconds: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 12, size=(64, 7))
    y = (x[:, 0] > 6).astype("float32")
    inputs = keras.Input(shape=(7,))
    hidden = keras.layers.Embedding(12, 4, mask_zero=True)(inputs)
    hidden = keras.layers.LSTM(4)(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    # The callback first: its epoch is written before the pause.
    model.fit(x, y, epochs=epochs, verbose=0,
              callbacks=[ExplorerCallback(run_dir, probe=(x[:8], y[:8])), _Slow(seconds)])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
