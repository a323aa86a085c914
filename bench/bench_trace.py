"""Benchmark: one `Tracer` call against one Keras forward+backward of the same batch.

The trainer traces a probe batch at every epoch end, so a trace should cost about as
much as one training step on that batch. Prints the median time of each (after
warm-up) and their ratio.

Usage:

    .venv/bin/python bench/bench_trace.py [--batch 8] [--steps 200] [--units 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lstm_explorer.trace import Tracer  # noqa: E402


def build_model(steps: int, units: int) -> keras.Model:
    """One LSTM layer on a scalar series with a Dense head, compiled with MSE."""
    inputs = keras.Input(shape=(steps, 1))
    hidden = keras.layers.LSTM(units)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer="adam", loss="mse")
    return model


def median_seconds(function, repeats: int) -> float:
    """Median wall time of `repeats` calls of `function`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    model = build_model(args.steps, args.units)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.steps, 1)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    loss_fn = keras.losses.MeanSquaredError()

    # What Keras itself does for a gradient on this batch, compiled the same way.
    @tf.function
    def keras_forward_backward(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=False))
        return tape.gradient(loss, model.trainable_weights)

    tracer = Tracer(model)
    x_tensor, y_tensor = tf.constant(x), tf.constant(y)
    start = time.perf_counter()
    tracer(x, y)  # paid once per model (and per new probe shape): tracing and graph set-up
    first_call = time.perf_counter() - start
    for _ in range(3):  # warm-up: first-run allocations
        tracer(x, y)
        keras_forward_backward(x_tensor, y_tensor)

    keras_time = median_seconds(lambda: keras_forward_backward(x_tensor, y_tensor), args.repeats)
    trace_time = median_seconds(lambda: tracer(x, y), args.repeats)
    print(
        f"batch={args.batch} steps={args.steps} units={args.units} "
        f"(LSTM, input_dim 1, Dense head; median of {args.repeats})"
    )
    print(f"keras forward+backward: {keras_time * 1000:8.2f} ms")
    print(f"Tracer call:            {trace_time * 1000:8.2f} ms")
    print(f"ratio trace / keras:    {trace_time / keras_time:8.2f}")
    print(f"first Tracer call:      {first_call * 1000:8.2f} ms (one-time tracing)")
    print(f"tf.function tracings:   {tracer.trace_count}")


if __name__ == "__main__":
    main()
