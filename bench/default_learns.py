"""Does the default experiment learn, for every seed? Validation loss per epoch vs the baseline.

Trains the config the app opens with (`ExperimentConfig.default()`) once per seed, with
`training.seed` and `task.seed` both set to the seed (the weights, the shuffling and the
data all change), through the real `training.Trainer`, and prints per seed the
validation loss after each epoch, the trivial baseline measured on the same validation
set (`tasks.trivial_baseline`: for the adding problem, always answering the mean), the
final loss as a fraction of it, the wall time of the whole training (data, model, fit
and tracing; the first seed also pays TensorFlow's one-off graph tracing) and the
verdict the app and the CLI show.

    .venv/bin/python bench/default_learns.py [--seeds 0,1,2,3,4] [--preset KEY]
                                             [--set KEY=VALUE ...]

`--preset vanishing_adding` runs the old default (50 steps, learning rate 0.001, batch
64) for contrast; `--set task.seq_len=30` tries a variant. The goal for the default
(issue 16): every seed's final validation loss under half the baseline, each training
under 20 s on 2 cores. Seconds are wall time on a shared machine: repeat before
trusting a difference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import limits  # noqa: E402

limits.configure_threads()

from lstm_explorer import presets, readings  # noqa: E402
from lstm_explorer.config import ExperimentConfig  # noqa: E402
from lstm_explorer.training import Trainer  # noqa: E402

#: The issue's bar: the final validation loss under this fraction of the baseline.
GOAL_FRACTION = 0.5
GOAL_SECONDS = 20.0


def config_for(base: ExperimentConfig, seed: int, overrides: dict[str, str]) -> ExperimentConfig:
    """`base` with both seeds set and the `--set` values applied (share-link text)."""
    query = {**base.to_query(), **overrides,
             "training.seed": str(seed), "task.seed": str(seed)}
    config, problems = ExperimentConfig.from_query(query)
    if problems:
        raise SystemExit("; ".join(str(problem) for problem in problems))
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--preset", default="default", help="a preset key; default: default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a flat key and its value, as in a share link")
    arguments = parser.parse_args(argv)
    seeds = [int(seed) for seed in arguments.seeds.split(",")]
    overrides = dict(item.split("=", 1) for item in arguments.set)
    base = presets.get(arguments.preset).build()
    task, training = base.task, base.training
    print(f"preset {arguments.preset!r}: {task['name']}, seq_len {task['seq_len']}, "
          f"{task['n_samples']} samples, {base.model['cell']}"
          f"({base.model['layers'][0]['units']}), {training['optimizer']} "
          f"{training['learning_rate']:g}, batch {training['batch_size']}, "
          f"{training['epochs']} epochs" + (f", {overrides}" if overrides else ""))
    fractions, seconds = [], []
    for seed in seeds:
        config = config_for(base, seed, overrides)
        started = time.perf_counter()
        result = Trainer(config).run()
        elapsed = time.perf_counter() - started
        history = result.history
        baseline = history["baseline"]
        key = baseline["key"]
        values = [row.get(key) for row in history["epochs"]]
        final = values[-1] if values else None
        fraction = final / baseline["value"] if final is not None else float("nan")
        fractions.append(fraction)
        seconds.append(elapsed)
        curve = " ".join(f"{value:.3f}" if value is not None else "n/a" for value in values)
        print(f"seed {seed}: {key} by epoch {curve}")
        print(f"        baseline {baseline['value']:.3f} ({baseline['description']}), "
              f"final {final:.4f} = {fraction:.3f} of it, {elapsed:.1f} s, {result.status}")
        print(f"        {readings.verdict(config, history)}", flush=True)
    worst = max(fractions)
    slowest = max(seconds)
    print(f"worst final/baseline {worst:.3f} (goal < {GOAL_FRACTION}); seconds median "
          f"{statistics.median(seconds):.1f}, slowest {slowest:.1f} (goal < {GOAL_SECONDS:.0f})")
    met = worst < GOAL_FRACTION and slowest < GOAL_SECONDS
    print("goal met" if met else "goal NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
