"""Which units of a character model follow a readable pattern? Best |r| per pattern, c and h.

Trains a chars config (default: the preset `python_chars`) through the real
`training.Trainer`, then replays the trained layer on validation windows (text the
model did not train on) with `trace.Tracer` and ranks its units against every pattern
of `datasets.units.PATTERNS` (`rank_units`), for the cell state c and the hidden state
h. The same is done for the untrained model (same seed, before the first update): a
pattern that the inputs alone drive (a newline, say) shows up there too, so only the
gain over the untrained model is evidence of something learned.

    .venv/bin/python bench/units_found.py [--preset python_chars] [--set KEY=VALUE ...]
                                          [--windows 64] [--top 3]

Prints the training's time and validation accuracy against the unigram baseline, then
one row per pattern: the best unit and its r, for c and h, untrained -> trained, and
the runners-up. Seconds are wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_explorer import limits  # noqa: E402

limits.configure_threads()

from lstm_explorer import presets, readings  # noqa: E402
from lstm_explorer.config import ExperimentConfig  # noqa: E402
from lstm_explorer.datasets import chars, units  # noqa: E402
from lstm_explorer.trace import Tracer  # noqa: E402
from lstm_explorer.training import Trainer  # noqa: E402


def best_table(model, x, y, texts, top: int) -> dict[str, dict[str, list[units.UnitCorrelation]]]:
    """Pattern -> {"c": ranked, "h": ranked} (the `top` first) for the first layer."""
    layer = Tracer(model)(x, y, eager=True).layers[0]
    table = {}
    for name in units.PATTERNS:
        table[name] = {}
        for state in ("c", "h"):
            try:
                ranked = units.rank_units(layer.values[state], texts, name,
                                          go_backwards=layer.go_backwards)
            except ValueError:  # the pattern is constant over these windows
                ranked = []
            table[name][state] = ranked[:top]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="python_chars")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a flat key and its value, as in a share link")
    parser.add_argument("--windows", type=int, default=64,
                        help="validation windows to correlate over; default 64")
    parser.add_argument("--top", type=int, default=3, help="units listed per pattern")
    arguments = parser.parse_args(argv)
    base = presets.get(arguments.preset).build()
    overrides = dict(item.split("=", 1) for item in arguments.set)
    config, problems = ExperimentConfig.from_query({**base.to_query(), **overrides})
    if problems:
        raise SystemExit("; ".join(str(problem) for problem in problems))
    if config.task["name"] != "chars":
        raise SystemExit(f"--preset {arguments.preset}: a chars config is needed")
    task, training = config.task, config.training
    print(f"{arguments.preset}: seq_len {task['seq_len']}, {task['n_samples']} windows, "
          f"{config.model['cell']}({config.model['layers'][0]['units']}), "
          f"{training['epochs']} epochs, batch {training['batch_size']}, "
          f"lr {training['learning_rate']:g}" + (f", {overrides}" if overrides else ""))

    trainer = Trainer(config, trace=False)
    data, untrained_model = trainer.prepare()
    x, y = data.x_val[:arguments.windows], data.y_val[:arguments.windows]
    texts = chars.texts_of_inputs(x)
    # The model the training starts from, before its first update.
    untrained = best_table(untrained_model, x, y, texts, arguments.top)
    started = time.perf_counter()
    result = trainer.run()
    elapsed = time.perf_counter() - started
    print(f"trained in {elapsed:.1f} s ({result.status}); "
          f"{readings.verdict(config, result.history).split(' The gradient')[0]}")
    trained = best_table(result.model, x, y, texts, arguments.top)

    print(f"\nbest unit per pattern over {len(x)} validation windows "
          f"({len(x) * task['seq_len']:,} characters): the trained model's best unit, and "
          "the best r of the untrained model -> of the trained one")
    print(f"{'pattern':18} {'c: unit, r':>24} {'h: unit, r':>24} {'step':>6}   "
          "runners-up (c)")
    # Every window starts from a zero state at step 0, and some patterns drift with the
    # step (bracket depth starts at 0 in every window and can only be 0 or more): a unit
    # that merely counts steps correlates with them. r(pattern, step) shows how much.
    steps = np.broadcast_to(np.arange(task["seq_len"], dtype=float)[None, :, None],
                            (len(x), task["seq_len"], 1))
    for name in units.PATTERNS:
        cells = []
        for state in ("c", "h"):
            before, after = untrained[name][state], trained[name][state]
            if not after:
                cells.append(f"{'constant':>24}")
                continue
            cells.append(f"{after[0].unit:>5} {before[0].r:+.2f} -> {after[0].r:+.2f}"
                         .rjust(24))
        runners = ", ".join(f"{entry.unit}: {entry.r:+.2f}" for entry in trained[name]["c"][1:])
        try:
            values = np.stack([units.pattern_values(text, name) for text in texts])
            step_r = f"{units.rank_units(steps, None, values)[0].r:+.2f}"
        except ValueError:
            step_r = "-"
        print(f"{name:18} {cells[0]} {cells[1]} {step_r:>6}   {runners}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
