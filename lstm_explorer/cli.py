"""The command line: `python -m lstm_explorer train | sweep | figures | code | inspect |
presets`.

```
python -m lstm_explorer train   --config CFG.json --out RUN_DIR [--epochs N] [--seeds N]
python -m lstm_explorer sweep   --config CFG.json --vary KEY=V1,V2,... --out DIR
                                [--epochs N] [--format png|svg|html] [--seeds N]
python -m lstm_explorer figures --run RUN_DIR --out FIG_DIR [--format png|svg|html]
python -m lstm_explorer code    --config CFG.json
python -m lstm_explorer inspect MODEL.keras --inputs X.npy [--targets Y.npy]
                                [--loss LOSS] [--samples N] --out RUN_DIR
```
A bad config or argument ends with exit status 2 and one message naming the field,
never a traceback. `train` prints its progress on stderr and, as its last line, the
run's verdict (`readings.verdict`) on stdout.

`--seeds N` repeats every run over N training seeds, from the config's own (the same
data; see `seeds.py`): `train` writes `OUT/seed-K/` run directories, `OUT/seeds.json`
and `OUT/verdict.txt`, and prints the verdict over the seeds last; `sweep` writes
`OUT/<key>=<value>/seed-K/`, draws each value's median with its spread, and prints last
whether the values differ by more than the spread between seeds.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise _UsageError(message)


class _UsageError(Exception):
    pass


# The largest config file read: every knob of a ten-layer model is a few KB.
MAX_CONFIG_BYTES = 1024 * 1024

def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    try:
        arguments = parser.parse_args(argv)
        return arguments.handler(arguments)
    except (ConfigError, _UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lstm_explorer",
                     description="Train and inspect Keras LSTM experiments.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a config and write a run directory")
    _add_config_arguments(train)
    train.add_argument("--out", required=True, type=Path, help="run directory to write")
    train.add_argument("--epochs", type=int, help="override training.epochs")
    train.add_argument("--seeds", type=int, metavar="N",
                       help="repeat over N training seeds (OUT/seed-K/ per seed, "
                            "OUT/seeds.json) and print the verdict over them")
    train.set_defaults(handler=_train)

    sweep = commands.add_parser(
        "sweep", help="train one run per value of a parameter and compare them",
        description="Train one run per value of one parameter, one after another, and "
                    "write a run directory per value plus comparison figures in "
                    "OUT/comparison/.")
    _add_config_arguments(sweep)
    sweep.add_argument("--vary", required=True, metavar="KEY=V1,V2,...",
                       help="the flat key and its 2 to 6 values, e.g. layer.units=8,32,128 "
                            "or model.cell=simple_rnn,gru,lstm")
    sweep.add_argument("--out", required=True, type=Path, help="folder to write")
    sweep.add_argument("--epochs", type=int, help="override training.epochs of every run")
    sweep.add_argument("--format", default="png", choices=("png", "svg", "html"),
                       help="static format of the comparison figures (HTML is always "
                            "written too); default png")
    sweep.add_argument("--seeds", type=int, metavar="N",
                       help="repeat each value over N training seeds and compare the "
                            "values by their spread")
    sweep.set_defaults(handler=_sweep)

    figures = commands.add_parser("figures", help="export every figure of a run")
    figures.add_argument("--run", required=True, type=Path, help="run directory to read")
    figures.add_argument("--out", required=True, type=Path, help="folder for the figures")
    figures.add_argument("--format", default="png", choices=("png", "svg", "html"))
    figures.set_defaults(handler=_figures)

    code = commands.add_parser("code", help="print a standalone Keras script for a config")
    _add_config_arguments(code)
    code.set_defaults(handler=_code)

    inspect = commands.add_parser(
        "inspect", help="trace a saved Keras model on your arrays and write a run directory",
        description="Load a .keras model (safe_mode: no code from the file runs), trace "
                    "its recurrent layers on the first sequences of your inputs, and write "
                    "a run directory the app opens (model.json, trace.npz, history.json).")
    inspect.add_argument("model", metavar="MODEL", help="the saved model (.keras)")
    inspect.add_argument("--inputs", required=True, metavar="X",
                         help="input sequences: X.npy, X.npz (first array), X.npz:NAME, or a "
                              "CSV file cut into windows of the model's step count")
    inspect.add_argument("--targets", metavar="Y",
                         help="one target per sequence (Y.npy, Y.npz, Y.npz:NAME): gives the "
                              "per-step gradients; without it, gates and states only")
    inspect.add_argument("--loss", help="a Keras loss name, instead of the model's own (needed "
                                        "when the model was saved without one)")
    inspect.add_argument("--samples", type=int, metavar="N",
                         help="how many sequences to trace, from the first (default 32)")
    inspect.add_argument("--column", default="", help="the CSV column (name or index)")
    inspect.add_argument("--out", required=True, type=Path, help="run directory to write")
    inspect.set_defaults(handler=_inspect)

    presets = commands.add_parser("presets", help="list the presets")
    presets.set_defaults(handler=_presets)
    return parser


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="config JSON file (DESIGN.md §3)")
    source.add_argument("--preset", help="a preset key (see `presets`)")


def load_config(arguments) -> ExperimentConfig:
    """The config named by `--config FILE` or `--preset KEY`."""
    if arguments.preset:
        from lstm_explorer import presets

        try:
            return presets.get(arguments.preset).build()
        except KeyError as error:
            raise ConfigError("--preset", arguments.preset, str(error.args[0])) from None
    path: Path = arguments.config
    try:
        with path.open("rb") as file:
            # Read no more than a config can be: a device such as /dev/zero never ends.
            content = file.read(MAX_CONFIG_BYTES + 1)
        if len(content) > MAX_CONFIG_BYTES:
            raise ConfigError("--config", str(path), f"is larger than "
                              f"{MAX_CONFIG_BYTES // 1024} KB; a config is a small JSON "
                              "file, such as the config.json of a run directory")
        text = content.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("--config", str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError("--config", str(path), f"cannot be read as text ({error})") from None
    return ExperimentConfig.from_json(text)


def _train(arguments) -> int:
    config = load_config(arguments)
    if arguments.epochs is not None:
        config = config.with_values({"training.epochs": arguments.epochs})
    if arguments.seeds is not None:
        return _train_seeds(config, arguments)
    for note in config.notes():
        print(f"note: {note}", file=sys.stderr)
    from lstm_explorer import readings, runs
    from lstm_explorer.training import Trainer

    # The csv task reads task.path itself, with its size and encoding checks.
    trainer = Trainer(config, on_event=_ProgressPrinter(sys.stderr))
    result = trainer.run()
    runs.save_run(result, arguments.out)
    print(f"{result.message} Wrote {arguments.out}/ (config.json, model.keras, "
          f"history.json, trace.npz, {runs.VERDICT_FILE}).", file=sys.stderr, flush=True)
    # Last, and on stdout: the line a person reads when the training ends, and the one
    # a script keeps (`... | tail -n 1`).
    print(readings.verdict(config, result.history), flush=True)
    return 0 if result.status != "diverged" else 1


def _train_seeds(config, arguments) -> int:
    from lstm_explorer import seeds

    # Every seed is checked before the first one trains.
    seeds.seed_values(config, arguments.seeds, "--seeds")
    for note in config.notes():
        print(f"note: {note}", file=sys.stderr)
    group = seeds.repeat(config, arguments.seeds, arguments.out, _SweepPrinter(sys.stderr),
                         field="--seeds")
    for run, score in zip(group.runs, group.score().values, strict=True):
        shown = f"{score:.4g}" if score is not None else "none"
        print(f"{run.name}: {run.status}, {group.score().key} {shown}", file=sys.stderr)
    print(f"Wrote {len(group.runs)} run directories, {arguments.out}/{seeds.SEEDS_FILE} and "
          f"{arguments.out}/{seeds.VERDICT_FILE}.", file=sys.stderr, flush=True)
    # Last, and on stdout, as for a single run: the verdict, here over the seeds.
    print(seeds.verdict(group), flush=True)
    return 0 if all(run.status != "diverged" for run in group.runs) else 1


def _sweep(arguments) -> int:
    from lstm_explorer import seeds as seeds_module
    from lstm_explorer import sweep

    config = load_config(arguments)
    if arguments.epochs is not None:
        config = config.with_values({"training.epochs": arguments.epochs})
    key, values = sweep.parse_vary(arguments.vary)
    # Check every value before the first run trains.
    configs = sweep.sweep_configs(config, key, values)
    count = 1
    if arguments.seeds is not None:
        count = seeds_module.check_seeds(arguments.seeds, "--seeds")
        for built in configs:
            seeds_module.seed_values(built, count, "--seeds")
    for note in configs[0].notes():
        print(f"note: {note}", file=sys.stderr)
    formats = ("html",) if arguments.format == "html" else ("html", arguments.format)
    printer = _SweepPrinter(sys.stderr)
    summaries = sweep.run_sweep(config, key, values, arguments.out, printer, formats=formats,
                                seeds=count)
    from lstm_explorer import compare

    for summary in summaries:
        metric = compare.final_metric(summary.history)
        ratio = compare.step0_ratio(summary.history)
        metric_text = (f"{compare.metric_name(summary.history)} {metric:.4g}"
                       if metric is not None else "no metric")
        ratio_text = f"{ratio:.2e}" if ratio is not None else "n/a"
        median = f" (medians of {count} seeds)" if count > 1 else ""
        print(f"{summary.name}: {summary.status}, {metric_text}, gradient at step 0 / "
              f"last step {ratio_text}{median}", file=sys.stderr)
    if arguments.seeds is None:
        print(f"Wrote {len(summaries)} run directories, {arguments.out}/comparison/ and "
              f"{arguments.out}/{sweep.SWEEP_FILE}.", file=sys.stderr)
        return 0 if all(s.status != "diverged" for s in summaries) else 1
    runs = [run for group in summaries for run in group.runs]
    print(f"Wrote {len(runs)} run directories ({count} seeds per value), "
          f"{arguments.out}/comparison/ and {arguments.out}/{sweep.SWEEP_FILE}.",
          file=sys.stderr)
    # Last, and on stdout: whether the values differ by more than the seeds do.
    if len(summaries) >= 2:
        print(seeds_module.compare_groups(summaries).sentence, flush=True)
    return 0 if all(run.status != "diverged" for run in runs) else 1


def _figures(arguments) -> int:
    from lstm_explorer import export, figures

    try:
        _, history, arrays = export.read_run(arguments.run)
    except FileNotFoundError as error:
        raise ConfigError("--run", str(arguments.run), str(error)) from None
    paths = export.export_figures(figures.all_figures(history, arrays), arguments.out,
                                  format=arguments.format)
    for path in paths:
        print(path)
    return 0


def _code(arguments) -> int:
    from lstm_explorer import codegen

    print(codegen.script(load_config(arguments)), end="")
    return 0


def _inspect(arguments) -> int:
    from lstm_explorer import readings
    from lstm_explorer.own_model.inspection import inspect_model

    history = inspect_model(arguments.model, arguments.inputs, arguments.out,
                            targets=arguments.targets, loss=arguments.loss,
                            samples=arguments.samples, column=arguments.column)
    for note in history["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"{history['message']} Wrote {arguments.out}/ (model.json, trace.npz, "
          "history.json).", file=sys.stderr, flush=True)
    # Last, and on stdout: what the gradients show, when there are any.
    reading = readings.gradient_reading(history) if history["epochs"] else ""
    print(reading or history["message"], flush=True)
    return 0


def _presets(arguments) -> int:
    from lstm_explorer import presets

    for preset in presets.PRESETS:
        print(f"{preset.key}: {preset.title}")
    return 0


class _ProgressPrinter:
    """Prints training progress: a bar that redraws on a terminal, lines per epoch in a log."""

    def __init__(self, stream):
        self.stream = stream
        self.interactive = stream.isatty() and os.environ.get("CI") != "true"

    def __call__(self, event) -> None:
        if event.kind == "progress" and self.interactive:
            width = 30
            filled = int(event.fraction * width)
            remaining = f"{event.remaining:.0f}s left" if event.remaining is not None else ""
            self.stream.write(f"\repoch {event.epoch}/{event.epochs} "
                              f"[{'#' * filled}{'.' * (width - filled)}] "
                              f"batch {event.batch}/{event.batches} loss {event.loss:.4g} "
                              f"{remaining}   ")
            self.stream.flush()
        elif event.kind == "epoch":
            row = event.row
            extras = "  ".join(f"{key} {value:.4g}" for key, value in row.items()
                               if key not in ("epoch", "probe", "seconds")
                               and isinstance(value, float))
            prefix = "\r" if self.interactive else ""
            self.stream.write(f"{prefix}epoch {event.epoch}/{event.epochs}  {extras}  "
                              f"({row['seconds']:.1f}s)\n")
        elif event.kind in ("started",) and event.message:
            self.stream.write(f"note: {event.message}\n")
        elif event.kind in ("stopped", "diverged"):
            self.stream.write(f"{event.kind}: {event.message}\n")


class _SweepPrinter:
    """Prints a sweep's progress: a header per run, then the run's own progress lines."""

    def __init__(self, stream):
        self.stream = stream
        self.training = _ProgressPrinter(stream)

    def __call__(self, event) -> None:
        if event.kind == "run_started":
            self.stream.write(f"== run {event.index + 1}/{event.total}: {event.name}\n")
        elif event.kind == "training":
            self.training(event.event)
        elif event.kind == "run_finished":
            self.stream.write(f"== {event.message}\n")
        self.stream.flush()
