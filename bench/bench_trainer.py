"""Wall time of training through `Trainer` against plain `model.fit`, in one process.

Variants, all on the same config, data and a freshly built model each time:
- plain:        model.fit(x, y, validation_data=...), no callbacks
- trainer:      Trainer(trace=False): events every few batches, stop/NaN checks
- instrumented: Trainer(trace=True): also traces the probe batch (gates, states,
                per-step gradients, weight-gradient norms) at every epoch end
- tensorboard:  plain fit with keras.callbacks.TensorBoard(histogram_freq=1), a peer

The variants are interleaved over several rounds and each is summarised by its median,
so that the machine's noise hits them alike. Ratios are to plain fit.

    .venv/bin/python bench/bench_trainer.py [--preset default] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from lstm_explorer import model as model_module  # noqa: E402
from lstm_explorer import presets, tasks  # noqa: E402
from lstm_explorer.training import Trainer  # noqa: E402


def _timed(run):
    """Wall time and this process's CPU time (less disturbed by other processes)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def plain_fit(config, data, callbacks=()):
    model = model_module.build(config)
    return _timed(lambda: model.fit(
        data.x_train, data.y_train, batch_size=config.training["batch_size"],
        epochs=config.training["epochs"], validation_data=(data.x_val, data.y_val),
        verbose=0, callbacks=list(callbacks)))


def trainer_fit(config, data, trace):
    trainer = Trainer(config, data=data, trace=trace)
    # The model is built outside the timing, as for plain fit; everything the Trainer
    # adds (the tracer's build and the untrained trace in `prepare`) is timed.
    trainer.model = model_module.build(config)
    return _timed(lambda: (trainer.prepare(), trainer.run()))


def tensorboard_fit(config, data):
    with tempfile.TemporaryDirectory() as logs:
        return plain_fit(config, data, [keras.callbacks.TensorBoard(logs, histogram_freq=1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    config = presets.get(arguments.preset).build()
    data = tasks.make(config.task, validation_split=config.training["validation_split"])
    variants = {
        "plain": lambda: plain_fit(config, data),
        "trainer": lambda: trainer_fit(config, data, trace=False),
        "instrumented": lambda: trainer_fit(config, data, trace=True),
        "tensorboard": lambda: tensorboard_fit(config, data),
    }
    variants["plain"]()  # warm-up: first use of TensorFlow's kernels in this process
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for round_number in range(arguments.rounds):
        for name, run in variants.items():
            wall, cpu = run()
            walls[name].append(wall)
            cpus[name].append(cpu)
        print(f"round {round_number + 1}: " + ", ".join(
            f"{name} {values[-1]:.2f}s" for name, values in walls.items()), flush=True)
    wall_medians = {name: statistics.median(values) for name, values in walls.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
    print(f"\npreset {arguments.preset!r}: {config.training['epochs']} epochs, "
          f"{len(data.x_train)} training sequences of {config.task['seq_len']} steps")
    for name in variants:
        print(f"{name:>13}: wall median {wall_medians[name]:6.2f} s, ratio to plain fit "
              f"{wall_medians[name] / wall_medians['plain']:.3f}   |   CPU median "
              f"{cpu_medians[name]:6.2f} s, ratio {cpu_medians[name] / cpu_medians['plain']:.3f}")


if __name__ == "__main__":
    main()
