"""Parameter sweeps: one base config, one flat key, a few values, one run per value.

```
python -m lstm_explorer sweep --config CFG.json --vary layer.units=8,32,128 --out DIR
```
trains the runs one after another and writes

```
DIR/layer.units=8/      a run directory per value (config.json, model.keras, history.json,
DIR/layer.units=32/     trace.npz), as `train` writes
DIR/layer.units=128/
DIR/comparison/         the comparison figures (compare.py) as HTML, PNG/SVG and Plotly JSON
DIR/sweep.json          the key, the values, and per run: name, status, final metric,
                        step-0 gradient share, seconds, what differs
```

The same engine, `run_configs`, runs the guided experiments of `lab.py`. Everything a
person types is checked before anything trains: a bad `--vary` is a `ConfigError`
naming `--vary` and the offending value.

`--seeds N` (`run_sweep(..., seeds=N)`) trains each value once per training seed
(`seeds.repeat_configs`), writes `DIR/<key>=<value>/seed-K/`, draws each value's median
with its spread, and adds to `sweep.json` each value's per-seed scores and whether the
values differ by more than the spread between seeds (`seeds.compare_groups`).

Example:

>>> parse_vary("layer.units=8,32,128")
('layer.units', [8, 32, 128])
>>> parse_vary("layer.recurrent_initializer=orthogonal(gain=2.0),glorot_uniform")[1]
[{'class_name': 'orthogonal', 'config': {'gain': 2.0}}, 'glorot_uniform']
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstm_explorer import compare
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig, format_text, param_for_key, parse_text
from lstm_explorer.errors import ConfigError

__all__ = [
    "COMPARISON_DIR",
    "SWEEP_FILE",
    "SweepEvent",
    "parse_vary",
    "run_configs",
    "run_name",
    "run_sweep",
    "sweep_configs",
    "trace_readings",
]

COMPARISON_DIR = "comparison"
SWEEP_FILE = "sweep.json"
RUN_STARTED, TRAINING, RUN_FINISHED, FINISHED = (
    "run_started", "training", "run_finished", "finished")

_VARY_FIELD = "--vary"
_VARY_FORM = "expected KEY=V1,V2,... such as layer.units=8,32,128"


@dataclass
class SweepEvent:
    """Progress of a sweep (or a lab experiment), for a progress bar or a log line.

    Args:
        kind: `"run_started"`, `"training"` (a `Trainer` event, in `event`),
            `"run_finished"` (with `summary`) or `"finished"` (all runs done).
        index: 0-based index of the run it concerns (`total` for `"finished"`).
        total: how many runs the sweep has.
        name: the run's name, e.g. `"layer.units=8"`.
        event: for `"training"`, the `training.Event` the run's trainer emitted.
        summary: for `"run_finished"`, the run's `RunSummary`.
        message: a sentence to show.
    """

    kind: str
    index: int
    total: int
    name: str = ""
    event: Any = None
    summary: RunSummary | None = None
    message: str = ""

    @property
    def fraction(self) -> float:
        """How much of the whole sweep is done, from 0 to 1."""
        if not self.total:
            return 0.0
        if self.kind == FINISHED:
            return 1.0
        inner = 0.0
        if self.kind == RUN_FINISHED:
            inner = 1.0
        elif self.kind == TRAINING and self.event is not None:
            inner = float(getattr(self.event, "fraction", 0.0))
        return max(0.0, min(1.0, (self.index + inner) / self.total))


# ----------------------------------------------------------------------------------------
# Reading --vary


def _split_values(text: str) -> list[str]:
    """Split on commas outside parentheses (`orthogonal(gain=2,seed=1),zeros`), or on
    semicolons when there are any (for values that hold bare commas)."""
    if ";" in text:
        return [part.strip() for part in text.split(";")]
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """Read `KEY=V1,V2,...` into the flat key and its typed values, using the registry.

    Values are separated by commas (commas inside parentheses belong to the value, as in
    `orthogonal(gain=2,seed=1)`), or by semicolons when the text has any. Each value is
    read by `config.parse_text`, so it has the same form as in a share link.

    Args:
        text: e.g. `"layer.units=8,32,128"`, `"model.cell=simple_rnn,gru,lstm"`,
            `"training.clipnorm=none,1.0"`.

    Returns:
        `(key, values)`.

    Raises:
        ConfigError: naming `--vary` and echoing the bad part: no `=`, an unknown key, a
            value of the wrong form, an empty or repeated value, or fewer than 2 or more
            than 6 values (the comparison figures take 2 to 6 runs).

    Example:

    >>> parse_vary("model.cell=simple_rnn,gru,lstm")
    ('model.cell', ['simple_rnn', 'gru', 'lstm'])
    >>> parse_vary("layer.units=8,many")
    Traceback (most recent call last):
    ...
    lstm_explorer.errors.ConfigError: --vary='many': is not a valid value of layer.units: \
expected an integer
    """
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(_VARY_FIELD, text, _VARY_FORM)
    key, _, values_text = text.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(_VARY_FIELD, text, _VARY_FORM)
    try:
        param = param_for_key(key)
    except ConfigError as error:
        raise ConfigError(_VARY_FIELD, key, error.message) from None
    if param.name == "num_layers" and param.section == "model":
        pass  # a plain int, handled by with_values
    parts = _split_values(values_text)
    if not values_text.strip() or any(not part for part in parts):
        raise ConfigError(_VARY_FIELD, text, f"has an empty value; {_VARY_FORM}")
    if not compare.MIN_RUNS <= len(parts) <= compare.MAX_RUNS:
        raise ConfigError(_VARY_FIELD, text,
                          f"has {len(parts)} value(s); a sweep compares "
                          f"{compare.MIN_RUNS} to {compare.MAX_RUNS} values")
    values = []
    for part in parts:
        try:
            value = parse_text(param, part, field=key)
        except ConfigError as error:
            raise ConfigError(_VARY_FIELD, part,
                              f"is not a valid value of {key}: {error.message}") from None
        values.append(value)
    seen = [json.dumps(value, sort_keys=True) for value in values]
    for index, value_text in enumerate(seen):
        if value_text in seen[:index]:
            raise ConfigError(_VARY_FIELD, parts[index],
                              f"appears twice among the values of {key}")
    return key, values


def run_name(key: str, value: Any) -> str:
    """The run's name and folder: `key=value` in the value's text form, made safe as a file
    name (letters, digits and `_.,=()+-`; anything else becomes `_`).

    Example:

    >>> run_name("layer.recurrent_initializer", {"class_name": "Orthogonal",
    ...                                          "config": {"gain": 2.0}})
    'layer.recurrent_initializer=orthogonal(gain=2.0)'
    >>> run_name("task.path", "data/x.csv")
    'task.path=data_x.csv'
    """
    text = format_text(param_for_key(key), value)
    safe = re.sub(r"[^A-Za-z0-9_.,=()+-]", "_", f"{key}={text}")
    return safe[:120]


def sweep_configs(config: ExperimentConfig, key: str, values: Sequence[Any]
                  ) -> list[ExperimentConfig]:
    """One validated config per value: the base config with `key` set to that value.

    Args:
        config: the base config.
        key: a flat key (`layer.units`, `task.lag`, `model.cell`, ...).
        values: typed values, e.g. from `parse_vary`.

    Raises:
        ConfigError: naming `--vary` and `key=value` when a value makes an invalid
            config (out of range, or a combination the base does not allow, such as
            `task.lag` not below `task.seq_len`); the message carries the config's own.

    Example:

    >>> base = ExperimentConfig.from_dict({"task": {"name": "recall", "seq_len": 20}})
    >>> [c.task["lag"] for c in sweep_configs(base, "task.lag", [5, 15])]
    [5, 15]
    >>> sweep_configs(base, "task.lag", [5, 20])
    Traceback (most recent call last):
    ...
    lstm_explorer.errors.ConfigError: --vary='task.lag=20': makes an invalid config: \
task.lag=20: must be smaller than task.seq_len=20: the symbol to recall has to be inside \
the sequence
    """
    param = param_for_key(key)
    configs, texts = [], []
    for value in values:
        try:
            built = config.with_values({key: value})
        except ConfigError as error:
            raise ConfigError(_VARY_FIELD, f"{key}={_value_text(param, value)}",
                              f"makes an invalid config: {error}") from None
        text = format_text(param, built.get(key))
        if text in texts:
            raise ConfigError(_VARY_FIELD, f"{key}={text}",
                              f"appears twice among the values of {key}")
        configs.append(built)
        texts.append(text)
    return configs


def _value_text(param, value: Any) -> str:
    # A value that failed validation may not be in normalized form; show it as typed.
    try:
        return format_text(param, value)
    except (KeyError, TypeError, AttributeError):
        return str(value)


# ----------------------------------------------------------------------------------------
# Running


def trace_readings(trace: Any) -> dict[str, Any]:
    """Numbers read from a run's last trace that the history does not hold.

    Returns:
        `{"gate_means": {layer: {gate: mean}}, "gate_mean_by_step": {layer: {gate:
        [mean per step]}}}` over the probe batch and units, for every gate of every
        gated layer (LSTM i, f, g, o; GRU z, r, g). Non-finite means are `None`.
    """
    if trace is None:
        return {}
    means: dict[str, dict[str, float | None]] = {}
    by_step: dict[str, dict[str, list[float | None]]] = {}
    for layer in trace.layers:
        for gate, values in layer.values.items():
            if gate in ("h", "c"):
                continue
            array = np.asarray(values, dtype=np.float64)
            with np.errstate(all="ignore"):
                per_step = array.mean(axis=(0, 2)) if array.ndim == 3 else np.ravel(array)
                mean = float(array.mean()) if array.size else math.nan
            means.setdefault(layer.key, {})[gate] = mean if math.isfinite(mean) else None
            by_step.setdefault(layer.key, {})[gate] = [
                float(v) if math.isfinite(v) else None for v in per_step]
    return {"gate_means": means, "gate_mean_by_step": by_step}


def _unique_folders(names: Sequence[str]) -> list[str]:
    folders, seen = [], set()
    for name in names:
        folder = re.sub(r"[^A-Za-z0-9_.,=()+-]", "_", name)[:120] or "run"
        candidate, number = folder, 2
        while candidate in seen or candidate == COMPARISON_DIR:
            candidate = f"{folder}-{number}"
            number += 1
        seen.add(candidate)
        folders.append(candidate)
    return folders


def run_configs(
    named_configs: Sequence[tuple[str, ExperimentConfig]],
    out_dir: str | Path | None = None,
    on_event: Callable[[SweepEvent], Any] | None = None,
    *,
    measure: Callable[[Any], dict] | None = None,
    values: Sequence[Any] | None = None,
    epochs: int | None = None,
    stop: threading.Event | None = None,
    progress_every: int | None = None,
) -> list[RunSummary]:
    """Train several configs one after another and summarize each run.

    Args:
        named_configs: `(name, config)` pairs, in order.
        out_dir: when given, each run is written to `out_dir/<name>/` with
            `runs.save_run`. Default: `None` (nothing written).
        on_event: called with a `SweepEvent` at each run's start and end, for every
            `Trainer` event in between (with the run index), and once when all are done.
            Default: `None`.
        measure: called with each `training.TrainingResult`; the dict it returns is
            added to the run's `readings` (e.g. an evaluation that needs the model).
            Default: `None`.
        values: the value each run stands for (`RunSummary.value`). Default: `None`.
        epochs: overrides `training.epochs` of every config. Default: `None`.
        stop: when set, the running trainer stops after its current batch and no
            further run starts. Default: `None`.
        progress_every: emit a progress event every this many batches (1: every
            batch). Default: `None`, the trainer's (about ten per epoch).

    Returns:
        One `RunSummary` per run that started, with `readings` holding `seconds`,
        `batch_losses` (`[epoch, batch, batches, running loss or None]` per progress
        event), the trace's gate means (`trace_readings`) and what `measure` returned.
    """
    from lstm_explorer import runs as runs_module
    from lstm_explorer.training import Trainer

    emit = on_event or (lambda event: None)
    total = len(named_configs)
    folders = _unique_folders([name for name, _ in named_configs])
    summaries: list[RunSummary] = []
    for index, (name, config) in enumerate(named_configs):
        if stop is not None and stop.is_set():
            break
        emit(SweepEvent(RUN_STARTED, index, total, name,
                        message=f"Run {index + 1} of {total}: {name}"))
        forward = _Forwarder(emit, index, total, name, stop)
        trainer = forward.trainer = Trainer(config, on_event=forward, epochs=epochs,
                                            progress_every=progress_every)
        started = time.perf_counter()
        result = trainer.run()
        seconds = time.perf_counter() - started
        readings: dict[str, Any] = {"seconds": seconds, "batch_losses": forward.batch_losses,
                                    **trace_readings(result.trace)}
        if measure is not None:
            readings.update(measure(result) or {})
        run_dir = None
        if out_dir is not None:
            run_dir = runs_module.save_run(result, Path(out_dir) / folders[index])
        summary = RunSummary(name, result.config, result.history, readings, run_dir,
                             None if values is None else values[index])
        summaries.append(summary)
        emit(SweepEvent(RUN_FINISHED, index, total, name, summary=summary,
                        message=f"Run {index + 1} of {total}: {name}: {result.message}"))
    emit(SweepEvent(FINISHED, total, total,
                    message=f"Trained {len(summaries)} of {total} runs."))
    return summaries


class _Forwarder:
    """Passes a trainer's events on with the run index, relays a stop request, and keeps
    the running training loss of every progress event (`readings["batch_losses"]`)."""

    def __init__(self, emit, index: int, total: int, name: str,
                 stop: threading.Event | None):
        self.emit, self.index, self.total, self.name, self.stop = emit, index, total, name, stop
        self.trainer: Any = None
        self.batch_losses: list[list[Any]] = []

    def __call__(self, event) -> None:
        if self.stop is not None and self.stop.is_set() and self.trainer is not None:
            self.trainer.request_stop()
        if getattr(event, "kind", None) == "progress":
            loss = event.loss
            loss = float(loss) if loss is not None and math.isfinite(loss) else None
            self.batch_losses.append([event.epoch, event.batch, event.batches, loss])
        self.emit(SweepEvent(TRAINING, self.index, self.total, self.name, event=event))


def _table(summaries: Sequence[RunSummary]) -> list[dict[str, Any]]:
    from lstm_explorer import seeds

    rows = []
    for summary in summaries:
        row = {
            "name": summary.name,
            "run_dir": summary.run_dir.name if summary.run_dir else None,
            "status": summary.status,
            "metric": compare.metric_name(summary.history),
            "final_metric": compare.final_metric(summary.history),
            "final_loss": compare.final_loss(summary.history),
            "step0_ratio": compare.step0_ratio(summary.history),
            "seconds": summary.readings.get("seconds"),
        }
        if isinstance(summary, seeds.SeedGroup):
            # The numbers above are the median run's; these are each seed's.
            score = summary.score()
            row.update({
                "seeds": summary.seeds,
                "score_key": score.key,
                "scores": list(score.values),
                "score_median": score.median,
                "score_min": score.low,
                "score_max": score.high,
                "levels": list(score.levels),
                "seed_run_dirs": [f"{summary.run_dir.name}/{run.run_dir.name}"
                                  if summary.run_dir and run.run_dir else None
                                  for run in summary.runs],
            })
        rows.append(row)
    return rows


def write_comparison(
    summaries: Sequence[RunSummary],
    out_dir: str | Path,
    figures: dict | None = None,
    formats: Sequence[str] = ("html", "png"),
) -> list[Path]:
    """Write comparison figures to `out_dir/comparison/` in each format, plus Plotly JSON.

    Args:
        summaries: 2 to 6 runs.
        out_dir: the sweep folder.
        figures: name to figure. Default: `None`, `compare.comparison_figures(summaries)`.
        formats: any of `"html"`, `"png"`, `"svg"`. Default: `("html", "png")`.

    Returns:
        The written paths.
    """
    from lstm_explorer import export

    if figures is None:
        figures = compare.comparison_figures(summaries)
    folder = Path(out_dir) / COMPARISON_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        path = folder / f"{name}.json"
        path.write_text(fig.to_json(), encoding="utf-8")
        paths.append(path)
    for format in dict.fromkeys(formats):
        paths.extend(export.export_figures(figures, folder, format=format))
    return paths


def run_sweep(
    config: ExperimentConfig,
    key: str,
    values: Sequence[Any],
    out_dir: str | Path | None = None,
    on_event: Callable[[SweepEvent], Any] | None = None,
    *,
    formats: Sequence[str] = ("html", "png"),
    epochs: int | None = None,
    stop: threading.Event | None = None,
    seeds: int = 1,
) -> list[RunSummary]:
    """Train one run per value of `key`, one after another, and compare them.

    Args:
        config: the base config.
        key: the flat key to vary, e.g. `"layer.units"`.
        values: its typed values (2 to 6), e.g. from `parse_vary`.
        out_dir: when given, writes `out_dir/<key>=<value>/` run directories, the
            comparison figures in `out_dir/comparison/` and `out_dir/sweep.json`.
            Default: `None` (nothing written).
        on_event: receives `SweepEvent`s (see `run_configs`). Default: `None`.
        formats: formats of the comparison figures, from `"html"`, `"png"`, `"svg"`.
            Default: `("html", "png")`.
        epochs: overrides the base's `training.epochs` (a sweep of `training.epochs`
            still sets each run's own). Default: `None`.
        stop: stops the sweep (see `run_configs`). Default: `None`.
        seeds: train each value once per training seed (`seeds.repeat_configs`) and
            compare the values by their spread: each summary is then a
            `seeds.SeedGroup`, the runs go to `out_dir/<key>=<value>/seed-K/`, the
            comparison figures draw each value's median with a band (min–max over the
            seeds), `comparison/score_over_seeds` is `seeds.metric_band`, and
            `sweep.json` gets `seeds`, each value's per-seed scores and the
            `conclusion` (`seeds.compare_groups`). Default: `1` (one run per value).

    Returns:
        One `RunSummary` per value, in value order (a `seeds.SeedGroup` per value with
        `seeds` > 1).

    Raises:
        ConfigError: naming `--vary` for a bad value, or `--seeds` for a bad number of
            seeds, before anything trains.
    """
    from lstm_explorer import export
    from lstm_explorer import seeds as seeds_module

    values = list(values)
    if not compare.MIN_RUNS <= len(values) <= compare.MAX_RUNS:
        raise ConfigError(_VARY_FIELD, f"{len(values)} values",
                          f"a sweep compares {compare.MIN_RUNS} to {compare.MAX_RUNS} values")
    bad = [format for format in formats if format not in export.FORMATS]
    if bad or not formats:
        raise ValueError(f"formats={list(formats)!r}: expected some of {export.FORMATS}")
    if epochs is not None:
        # On the base, so that a sweep of training.epochs itself still wins.
        config = config.with_values({"training.epochs": epochs})
    seeds = seeds_module.check_seeds(seeds, "--seeds")
    configs = sweep_configs(config, key, values)
    named = [(run_name(key, c.get(key)), c) for c in configs]
    if seeds > 1:
        summaries = seeds_module.repeat_configs(
            named, seeds, out_dir, on_event, values=[c.get(key) for c in configs], stop=stop,
            field="--seeds")
    else:
        summaries = run_configs(named, out_dir, on_event,
                                values=[c.get(key) for c in configs], stop=stop)
    if out_dir is not None and len(summaries) >= compare.MIN_RUNS:
        param = param_for_key(key)
        shown = [s.value for s in summaries]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in shown):
            shown = [format_text(param, v) for v in shown]
        figures = compare.comparison_figures(summaries)
        figures["result_vs_value"] = compare.compare_sweep(summaries, shown, label=key)
        if seeds > 1:
            figures["score_over_seeds"] = seeds_module.metric_band(summaries)
        write_comparison(summaries, out_dir, figures, formats)
        record = {
            "key": key,
            "values": [format_text(param, s.config.get(key)) for s in summaries],
            "base": config.to_dict(),
            "differences": compare.differing_parameters([s.config for s in summaries]),
            "runs": _table(summaries),
        }
        if seeds > 1:
            record["seeds"] = summaries[0].seeds
            record["conclusion"] = seeds_module.compare_groups(summaries).sentence
        (Path(out_dir) / SWEEP_FILE).write_text(
            json.dumps(record, indent=1, allow_nan=True, default=str) + "\n", encoding="utf-8")
    return summaries
