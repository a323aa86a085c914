"""How long a training's first step takes right after another training was stopped.

Stop leaves a training's data iterator mid-epoch; whenever the garbage collector frees
it, TensorFlow destroys it on that thread. With tf.data autotuning on, that destruction
waited on a tf.data background thread and stalled the next training's first step for
3-37 s in a few of every 40-60 cycles; the trainer now turns autotuning off (see
`training._dataset`). This repeats the cycle a person makes on Build & Train (Train,
the first picture, Stop, Train again) through a `JobQueue`, with the app's thread pools,
and prints the time from fit's start to the end of its first batch (the step's tracing
and first run, about 1 s on two cores): the median, the slowest, and how many cycles
took over `--stall` seconds.

    .venv/bin/python bench/stop_and_train.py [--cycles 60] [--stall 3] [--autotune]

`--autotune` runs the same cycles with tf.data's default options (autotuning on) in the
trainer's datasets: the control for the fix.
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
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import limits  # noqa: E402

limits.configure_threads()

from lstm_explorer import jobs, presets, timeline, training  # noqa: E402


def autotuned_dataset(x, y, batch_size: int, *, shuffle: bool, seed: int):
    """The trainer's pipeline as it was before the fix: tf.data's default options."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size)


def first_steps(entries: list[dict]) -> list[float]:
    """Seconds from each training's "fit set up" mark to its "first batch" mark."""
    seconds, fit_started = [], None
    for entry in entries:
        if entry["stage"] == "fit set up":
            fit_started = entry["time"]
        elif entry["stage"] == "first batch" and fit_started is not None:
            seconds.append(entry["time"] - fit_started)
            fit_started = None
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=60)
    parser.add_argument("--stall", type=float, default=3.0,
                        help="a first step slower than this many seconds counts as a stall")
    parser.add_argument("--pause", type=float, default=0.3,
                        help="seconds between the first picture and the Stop")
    parser.add_argument("--autotune", action="store_true",
                        help="the control: tf.data autotuning on, as before the fix")
    arguments = parser.parse_args()
    if arguments.autotune:
        training._dataset = autotuned_dataset
    timeline_path = os.path.join(tempfile.mkdtemp(prefix="lstm-explorer-"), "timeline.jsonl")
    os.environ[timeline.ENV] = timeline_path
    config = presets.get("default").build()
    queue = jobs.JobQueue(1)
    for _ in range(arguments.cycles):
        job = queue.submit(config)
        job.wait_for_trace(60)
        time.sleep(arguments.pause)
        job.stop()
        job.wait(300)
    seconds = first_steps(timeline.read(timeline_path))
    stalls = [value for value in seconds if value > arguments.stall]
    print(f"autotuning {'on (control)' if arguments.autotune else 'off (the trainer)'}: "
          f"{len(seconds)} stop-then-train cycles; first step median "
          f"{statistics.median(seconds):.2f} s, slowest {max(seconds):.2f} s; "
          f"{len(stalls)} over {arguments.stall:g} s"
          + (f" ({', '.join(f'{value:.1f}' for value in stalls)} s)" if stalls else ""))


if __name__ == "__main__":
    main()
