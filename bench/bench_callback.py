"""Wall and CPU time of a plain `model.fit` with `ExplorerCallback` against without, in one process.

Variants, all on the same config's data and architecture, each with a freshly built model
(built outside the timing, for every variant alike):
- plain:         model.fit(x, y, batch_size=..., validation_data=(x_val, y_val)), as a
                 person's own script does it, no callbacks
- callback cold: the same with ExplorerCallback(log_dir, probe=(8 sequences)): the model
                 check and the untrained trace (op by op) at on_train_begin, the tracer's
                 graph traced on the tracing thread during the first epoch, every epoch
                 end traced while the next trains, history.json and trace.npz rewritten
                 each epoch, model.keras written at the end; with no traced graph of this
                 architecture in the process yet (the shared graphs are cleared first):
                 what a person's script pays, training once
- callback warm: the same once an earlier training of the architecture traced the graph
                 (a second fit in the same process)
and, with --trainer, the explorer's own Trainer for comparison (as bench_trainer.py
measures it): "trainer plain", model.fit on the Trainer's own input pipelines with no
callbacks, and "trainer cold", Trainer(trace=True) with the shared graphs cleared; its
ratio is trainer cold / trainer plain.

Rounds interleave the variants, so that the machine's noise hits them alike; each ratio
is the median of the rounds' own ratios (a slow minute slows both runs of a round), and
the ratio of the fastest runs is printed beside it (noise only ever adds time).

    .venv/bin/python bench/bench_callback.py [--preset default] [--epochs N] [--rounds 5]
                                             [--trainer]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import model as model_module  # noqa: E402
from lstm_explorer import presets, tasks, trace, training  # noqa: E402
from lstm_explorer.own_model.callback import ExplorerCallback  # noqa: E402


def _timed(run):
    """Wall time and this process's CPU time (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def array_fit(config, data, callbacks=()):
    model = model_module.build(config)
    return _timed(lambda: model.fit(
        data.x_train, data.y_train, batch_size=config.training["batch_size"],
        epochs=config.training["epochs"], validation_data=(data.x_val, data.y_val),
        verbose=0, callbacks=list(callbacks)))


def callback_fit(config, data, *, cold: bool):
    folder = tempfile.mkdtemp(prefix="bench-callback-")
    try:
        if cold:
            trace.clear_shared_graphs()
        explorer = ExplorerCallback(Path(folder) / "run", probe=(data.probe_x, data.probe_y))
        return array_fit(config, data, [explorer])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def trainer_plain_fit(config, data):
    model = model_module.build(config)
    batch_size = config.training["batch_size"]
    train = training._dataset(data.x_train, data.y_train, batch_size, shuffle=True,
                              seed=config.training["seed"])
    validation = training._dataset(data.x_val, data.y_val, batch_size, shuffle=False, seed=0)
    return _timed(lambda: model.fit(train, epochs=config.training["epochs"],
                                    validation_data=validation, verbose=0, shuffle=False))


def trainer_cold_fit(config, data):
    trainer = training.Trainer(config, data=data, trace=True)
    trainer.model = model_module.build(config)  # built outside the timing, as for plain
    trace.clear_shared_graphs()
    return _timed(lambda: (trainer.prepare(), trainer.run()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trainer", action="store_true",
                        help="also time the explorer's own Trainer against its plain fit")
    arguments = parser.parse_args()
    config = presets.get(arguments.preset).build()
    if arguments.epochs:
        config = config.with_values({"training.epochs": arguments.epochs})
    data = tasks.make(config.task, validation_split=config.training["validation_split"])
    variants = {
        "plain": lambda: array_fit(config, data),
        "callback cold": lambda: callback_fit(config, data, cold=True),
        "callback warm": lambda: callback_fit(config, data, cold=False),
    }
    pairs = {"callback cold": "plain", "callback warm": "plain"}
    if arguments.trainer:
        variants["trainer plain"] = lambda: trainer_plain_fit(config, data)
        variants["trainer cold"] = lambda: trainer_cold_fit(config, data)
        pairs["trainer cold"] = "trainer plain"
    variants["plain"]()  # warm-up: first use of TensorFlow's kernels in this process
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for number in range(arguments.rounds):
        for name, run in variants.items():
            wall, cpu = run()
            walls[name].append(wall)
            cpus[name].append(cpu)
        print(f"round {number + 1}: " + ", ".join(
            f"{name} {walls[name][-1]:.2f}s/{cpus[name][-1]:.2f}s CPU" for name in variants),
            flush=True)
    load = os.getloadavg()
    print(f"\npreset {arguments.preset!r}: {config.training['epochs']} epochs, "
          f"{len(data.x_train)} training sequences of {config.task['seq_len']} steps, "
          f"batch {config.training['batch_size']}, probe {len(data.probe_x)} sequences; "
          f"{os.cpu_count()} CPUs, load average at the end {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}")
    for name in variants:
        print(f"{name:>14}: wall median {statistics.median(walls[name]):6.2f} s, CPU median "
              f"{statistics.median(cpus[name]):6.2f} s")
    print("\nratios (median of the rounds' ratios; fastest to fastest):")
    for name, base in pairs.items():
        wall = statistics.median(a / b for a, b in zip(walls[name], walls[base]))
        cpu = statistics.median(a / b for a, b in zip(cpus[name], cpus[base]))
        fastest = min(walls[name]) / min(walls[base])
        print(f"{name:>14} / {base:<13}: wall {wall:.3f} ({fastest:.3f}), CPU {cpu:.3f}")


if __name__ == "__main__":
    main()
