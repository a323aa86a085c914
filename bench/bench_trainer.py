"""Wall and CPU time of training through `Trainer` against plain `model.fit`, in one process.

Variants, all on the same config and data, each with a freshly built model (built
outside the timing, for every variant alike):
- plain:        model.fit on the trainer's own input pipelines (`training._dataset`:
                shuffled, batched, tf.data autotuning off; validation likewise), no
                callbacks: the same work as the Trainer minus everything it adds
- plain arrays: model.fit(x, y, batch_size=..., validation_data=(x_val, y_val)), as the
                exported script and most tutorials do; Keras's own array pipeline is
                slower here, so it is shown for reference, not used for the ratios
- trainer:      Trainer(trace=False): events every few batches, stop/NaN checks
- traced cold:  Trainer(trace=True): also traces the probe batch (gates, states,
                per-step gradients, weight-gradient norms) before the first update and
                at every epoch end, with no traced graph of this architecture in the
                process yet (the shared graphs are cleared first): the untrained trace
                goes op by op and the graph is traced on a thread of its own during the
                first epoch, all within the timing: the first training of a config in a
                server process
- cold, graph first: the same, but the graph is traced (and run once) before fit and
                the untrained trace goes through it, as the trainer did before it had
                a tracing thread: what that thread saves
- traced warm:  the same once an earlier training of this architecture traced the
                graph: every later training of the config in the process (a second
                run, a classroom's thirty students), and in the app every training of
                the default preset, whose graph the server traces once its first
                page has run (`training.warm_up`)
- tensorboard:  plain fit with keras.callbacks.TensorBoard(histogram_freq=1), a peer

Everything the Trainer does beyond fit is timed: `prepare` (the tracer, the untrained
trace) as well as `run`. The variants are interleaved over several rounds and each is
summarised by its median, so that the machine's noise hits them alike; ratios are to
plain fit. CPU time (this process, all threads) is less disturbed than wall time by
other processes on a shared machine. For the traced variants the CPU time the tracer's
calling thread spends (the Python side of tracing, see `TimedTracer`) is shown too.

    .venv/bin/python bench/bench_trainer.py [--preset default] [--rounds 3] [--variants NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from lstm_explorer import model as model_module  # noqa: E402
from lstm_explorer import presets, tasks, trace, training  # noqa: E402
from lstm_explorer.training import Trainer  # noqa: E402

BOUND = 1.10


class TimedTracer(trace.Tracer):
    """A `Tracer` that adds the CPU time of its calls and builds to `TimedTracer.seconds`.

    The trainer calls and builds on its tracing thread while fit goes on, so each is
    timed with the calling thread's own clock: the Python side of tracing (the graph's
    building, a call's arguments and results, an op-by-op trace). The graph's kernels
    run on TensorFlow's threads and are not counted here; they are in each variant's
    process CPU time.
    """

    seconds = 0.0
    _adding = threading.Lock()

    def __call__(self, *arguments, **keywords):
        with _counted(time.thread_time):
            return super().__call__(*arguments, **keywords)

    def build(self, *arguments, **keywords):
        with _counted(time.thread_time):
            return super().build(*arguments, **keywords)


@contextlib.contextmanager
def _counted(clock):
    """Adds the `clock` seconds spent within to `TimedTracer.seconds` (from any thread)."""
    started = clock()
    try:
        yield
    finally:
        with TimedTracer._adding:
            TimedTracer.seconds += clock() - started


def _timed(run):
    """Wall time and this process's CPU time (less disturbed by other processes)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def plain_fit(config, data, callbacks=()):
    """`model.fit` on the pipelines the Trainer feeds it, with nothing else."""
    model = model_module.build(config)
    batch_size = config.training["batch_size"]
    train = training._dataset(data.x_train, data.y_train, batch_size, shuffle=True,
                              seed=config.training["seed"])
    validation = training._dataset(data.x_val, data.y_val, batch_size, shuffle=False, seed=0)
    return _timed(lambda: model.fit(
        train, epochs=config.training["epochs"], validation_data=validation, verbose=0,
        shuffle=False, callbacks=list(callbacks)))


def array_fit(config, data):
    """`model.fit` on NumPy arrays, Keras's own pipeline: what a script usually does."""
    model = model_module.build(config)
    return _timed(lambda: model.fit(
        data.x_train, data.y_train, batch_size=config.training["batch_size"],
        epochs=config.training["epochs"], validation_data=(data.x_val, data.y_val),
        verbose=0))


def trainer_fit(config, data, trace_probe, cold=False):
    trainer = Trainer(config, data=data, trace=trace_probe)
    trainer.model = model_module.build(config)  # built outside the timing, as for plain fit
    if cold:
        trace.clear_shared_graphs()
    TimedTracer.seconds = 0.0
    return _timed(lambda: (trainer.prepare(), trainer.run()))


def graph_first_fit(config, data):
    trainer = Trainer(config, data=data, trace=True)
    trainer.model = model_module.build(config)
    trace.clear_shared_graphs()
    TimedTracer.seconds = 0.0
    probe = training._probe_batch(data, None)
    return _timed(lambda: (TimedTracer(trainer.model).build(*probe), trainer.prepare(),
                           trainer.run()))


def tensorboard_fit(config, data):
    with tempfile.TemporaryDirectory() as logs:
        return plain_fit(config, data, [keras.callbacks.TensorBoard(logs, histogram_freq=1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", metavar="NAME",
                        help="time only these (plain is always timed): more rounds in the "
                             "same time, e.g. --variants 'traced cold' 'traced warm'")
    arguments = parser.parse_args()
    training.Tracer = TimedTracer  # the Trainer builds its tracers from this name
    config = presets.get(arguments.preset).build()
    data = tasks.make(config.task, validation_split=config.training["validation_split"])
    variants = {
        "plain": lambda: plain_fit(config, data),
        "plain arrays": lambda: array_fit(config, data),
        "trainer": lambda: trainer_fit(config, data, trace_probe=False),
        "traced cold": lambda: trainer_fit(config, data, trace_probe=True, cold=True),
        "cold, graph first": lambda: graph_first_fit(config, data),
        "traced warm": lambda: trainer_fit(config, data, trace_probe=True),
        "tensorboard": lambda: tensorboard_fit(config, data),
    }
    if arguments.variants:
        unknown = set(arguments.variants) - set(variants)
        if unknown:
            parser.error(f"--variants: unknown {sorted(unknown)}; choose from {list(variants)}")
        variants = {name: run for name, run in variants.items()
                    if name == "plain" or name in arguments.variants}
    variants["plain"]()  # warm-up: first use of TensorFlow's kernels in this process
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    tracing: dict[str, list[float]] = {name: [] for name in ("traced cold", "cold, graph first",
                                                             "traced warm") if name in variants}
    for round_number in range(arguments.rounds):
        for name, run in variants.items():
            wall, cpu = run()
            walls[name].append(wall)
            cpus[name].append(cpu)
            if name in tracing:
                tracing[name].append(TimedTracer.seconds)
        print(f"round {round_number + 1}: " + ", ".join(
            f"{name} {walls[name][-1]:.2f}s/{cpus[name][-1]:.2f}s CPU" for name in variants),
            flush=True)
    wall_medians = {name: statistics.median(values) for name, values in walls.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
    load = os.getloadavg()
    print(f"\npreset {arguments.preset!r}: {config.training['epochs']} epochs, "
          f"{len(data.x_train)} training sequences of {config.task['seq_len']} steps; "
          f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name in variants:
        print(f"{name:>17}: wall median {wall_medians[name]:6.2f} s, ratio to plain fit "
              f"{wall_medians[name] / wall_medians['plain']:.3f}   |   CPU median "
              f"{cpu_medians[name]:6.2f} s, ratio {cpu_medians[name] / cpu_medians['plain']:.3f}")
    # Two estimates that resist the machine's drift and bursts better than a ratio of
    # medians: the median of each round's own ratio (a slow minute slows both runs of a
    # round), and the ratio of the fastest runs (noise only ever adds time).
    print("\nwall ratio to plain fit, robust estimates:")
    for name in variants:
        paired = statistics.median(wall / plain for wall, plain in zip(walls[name],
                                                                      walls["plain"]))
        fastest = min(walls[name]) / min(walls["plain"])
        print(f"{name:>17}: median of the rounds' ratios {paired:.3f}, fastest to fastest "
              f"{fastest:.3f}")
    if {"traced warm", "trainer"} <= set(variants):
        tracing_only = statistics.median(traced / untraced for traced, untraced
                                         in zip(walls["traced warm"], walls["trainer"]))
        print(f"\ntracing's own cost, traced warm / trainer without tracing (median of the "
              f"rounds' ratios): {tracing_only:.3f}")
    colds = [name for name in ("traced cold", "cold, graph first") if name in variants]
    if "traced warm" in variants and colds:
        print("\nthe first training of an architecture, wall time over a warm one (median "
              "of the rounds' differences):")
        for name in colds:
            extra = statistics.median(cold - warm for cold, warm in zip(walls[name],
                                                                        walls["traced warm"]))
            print(f"{name:>17}: {extra:+.2f} s")
    print(f"\nbound (issue 4): instrumented / plain fit <= {BOUND:.2f}, median of the "
          "rounds' ratios:")
    for name in ("traced warm", "traced cold"):
        if name not in variants:
            continue
        ratio = statistics.median(wall / plain for wall, plain in zip(walls[name],
                                                                     walls["plain"]))
        print(f"{name:>17}: {ratio:.3f} {'holds' if ratio <= BOUND else 'DOES NOT HOLD'}")
    print()
    for name, values in tracing.items():
        seconds = statistics.median(values)
        print(f"{name:>17}: Python CPU of the tracer's calls and builds {seconds:.3f} s, "
              f"{seconds / cpu_medians['plain']:.1%} of plain fit's CPU; plain + tracer "
              f"= {(cpu_medians['plain'] + seconds) / cpu_medians['plain']:.3f}")


if __name__ == "__main__":
    main()
