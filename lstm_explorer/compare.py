"""Side-by-side comparison of runs: what differs, how they trained, where the gradient went.

Everything here is a pure function of plain data: configs, and training histories in the
layout `Trainer` writes (`{"epochs": [row, ...], "status": ..., "message": ...}`, each row
with `loss`, `val_loss`, the metric and a `probe` holding the per-step gradient norms).
The figures use the one theme of `figures.py` (`pio.templates["lstm_explorer"]`) and give
each run one colour, the same in every comparison figure, with the run's name in the
legend. Nothing here imports TensorFlow or Streamlit.

A run is given as a `RunSummary(name, config, history)` (what `sweep.run_sweep` and
`lab.run_experiment` return), or as a plain `(name, history)` or
`(name, config, history)` tuple, or a dict with those keys (what a page keeps in its
session). Comparison figures take 2 to 6 runs; anything else is a `ValueError` naming
`runs`. Missing or non-finite data (a diverged run, a SimpleRNN with no cell state and no
gates) never raises: the run is left out of that panel and the subtitle says why.

Example:

>>> flat = {"epochs": [{"epoch": 1, "loss": 1.0, "val_accuracy": 0.5,
...                     "probe": {"grad_h": {"layer0": [1.0, 1.0, 1.0]}}}]}
>>> steep = {"epochs": [{"epoch": 1, "loss": 2.0, "val_accuracy": 0.1,
...                      "probe": {"grad_h": {"layer0": [1e-4, 1e-2, 1.0]}}}]}
>>> fig = compare_gradient_flow([("lstm", flat), ("simple_rnn", steep)])
>>> [trace.name for trace in fig.data], fig.layout.yaxis.type
(['lstm', 'simple_rnn'], 'log')
>>> step0_ratio(steep), final_metric(flat)
(0.0001, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from lstm_explorer import figures as _figures
from lstm_explorer.config import ExperimentConfig, format_text, param_for_key

__all__ = [
    "MAX_RUNS",
    "MIN_RUNS",
    "RunSummary",
    "as_runs",
    "compare_batch_losses",
    "compare_gate_means",
    "compare_gradient_flow",
    "compare_loss_curves",
    "compare_saturation",
    "compare_step0_gradient",
    "compare_sweep",
    "comparison_figures",
    "difference_table",
    "differing_parameters",
    "final_metric",
    "gradient_at",
    "metric_name",
    "run_colour",
    "step0_ratio",
]

MIN_RUNS, MAX_RUNS = 2, 6

# The run colours: Okabe & Ito without the pale yellow, which vanishes on a projector.
_RUN_COLOURS = _figures.OKABE_ITO[:MAX_RUNS]
_MISSING = "—"


@dataclass
class RunSummary:
    """One finished run, as the comparison functions and the lab read it.

    Args:
        name: the run's name, shown in legends and sentences (e.g. `"layer.units=8"`,
            `"LSTM"`).
        config: the run's `ExperimentConfig` (or its dict form), or `None` when unknown.
        history: the training history: `{"epochs": [row, ...], "status", "message"}`.
        readings: extra numbers measured from the run beyond the history, keyed by name,
            e.g. `"gate_means"` (`{layer: {gate: mean}}`), `"gate_mean_by_step"`
            (`{layer: {gate: [mean per step]}}`), `"seconds"`. Default: `{}`.
        run_dir: where the run was written, if it was. Default: `None`.
        value: the swept value this run stands for, if it came from a sweep.
            Default: `None`.
    """

    name: str
    config: Any
    history: Mapping[str, Any]
    readings: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None
    value: Any = None

    @property
    def status(self) -> str:
        """`"finished"`, `"stopped"`, `"diverged"`, or `""` when the history does not say."""
        return str((self.history or {}).get("status") or "")

    @property
    def cell(self) -> str | None:
        """The run's `model.cell`, when its config is known."""
        model = _config_section(self.config, "model")
        return model.get("cell") if model else None


# ----------------------------------------------------------------------------------------
# Reading runs and histories


def as_runs(runs: Any, argument: str = "runs", bounded: bool = True) -> list[RunSummary]:
    """Normalize the accepted run forms into a list of `RunSummary`.

    Args:
        runs: a sequence of `RunSummary`, `(name, history)`, `(name, config, history)`
            or dicts with `name`, `history` and optionally `config`, `readings`.
        argument: the argument name used in error messages. Default: `"runs"`.
        bounded: whether to require `MIN_RUNS` to `MAX_RUNS` runs. Default: `True`.

    Raises:
        ValueError: naming `argument`, when the count is out of bounds or an item has
            none of the accepted forms.

    Example:

    >>> [run.name for run in as_runs([("a", {"epochs": []}), ("b", None, {"epochs": []})])]
    ['a', 'b']
    """
    if isinstance(runs, (str, bytes, Mapping)) or not isinstance(runs, Sequence):
        raise ValueError(f"{argument}: expected a list of runs, got {type(runs).__name__}")
    if bounded and not MIN_RUNS <= len(runs) <= MAX_RUNS:
        raise ValueError(
            f"{argument}: expected {MIN_RUNS} to {MAX_RUNS} runs to compare, got {len(runs)}"
        )
    out = []
    for index, item in enumerate(runs):
        if isinstance(item, RunSummary):
            out.append(item)
        elif isinstance(item, Mapping) and "history" in item:
            out.append(
                RunSummary(
                    str(item.get("name", f"run {index + 1}")),
                    item.get("config"),
                    item.get("history") or {},
                    dict(item.get("readings") or {}),
                )
            )
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
            name, *rest = item
            config, history = (None, rest[0]) if len(rest) == 1 else rest
            out.append(RunSummary(str(name), config, history or {}))
        else:
            raise ValueError(
                f"{argument}[{index}]: expected a RunSummary, a (name, history) or "
                f"(name, config, history) tuple, or a dict with 'name' and 'history'; "
                f"got {type(item).__name__}"
            )
    return out


def _config_section(config: Any, section: str) -> Mapping[str, Any]:
    if isinstance(config, ExperimentConfig):
        return getattr(config, section)
    if isinstance(config, Mapping):
        value = config.get(section)
        return value if isinstance(value, Mapping) else {}
    return {}


def _goes_backwards(run: RunSummary) -> bool:
    layers = _config_section(run.config, "model").get("layers") or []
    return any(isinstance(layer, Mapping) and layer.get("go_backwards") for layer in layers)


def _rows(history: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    rows = (history or {}).get("epochs") if isinstance(history, Mapping) else None
    return [row for row in rows or [] if isinstance(row, Mapping)]


def _float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def _series(row: Mapping[str, Any], quantity: str, layer: str) -> list[float] | None:
    probe = row.get("probe")
    per_layer = probe.get(quantity) if isinstance(probe, Mapping) else None
    values = per_layer.get(layer) if isinstance(per_layer, Mapping) else None
    if values is None:
        return None
    return [_float(value) for value in np.ravel(np.asarray(values, dtype=object))]


def _check_epoch(epoch: Any) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch == 0:
        raise ValueError(
            f"epoch={epoch!r}: expected an epoch number ≥ 1, or a negative index such as "
            "-1 for the last epoch"
        )
    return int(epoch)


def _epoch_number(row: Mapping[str, Any], index: int) -> int:
    number = row.get("epoch")
    return int(number) if isinstance(number, (int, np.integer)) else index + 1


def gradient_at(
    history: Mapping[str, Any] | None,
    layer: str = "layer0",
    epoch: int = -1,
    quantity: str = "grad_h",
) -> tuple[int, list[float]] | None:
    """The per-step gradient norms recorded at one epoch, with that epoch's number.

    Args:
        history: a training history.
        layer: the layer key in the probe, e.g. `"layer0"` or `"layer0/backward"`.
            Default: `"layer0"`.
        epoch: an epoch number (1-based), or a negative index counted from the end over
            the epochs that recorded this gradient (a diverged epoch records none, so
            `-1` is the last epoch with data). Default: `-1`.
        quantity: `"grad_h"` or `"grad_c"`. Default: `"grad_h"`.

    Returns:
        `(epoch number, norms per step)` with NaN for missing values, or `None` when the
        history holds no such gradient.

    Example:

    >>> rows = [{"epoch": 1, "probe": {"grad_h": {"layer0": [0.1, 1.0]}}},
    ...         {"epoch": 2, "loss": float("nan")}]
    >>> gradient_at({"epochs": rows})
    (1, [0.1, 1.0])
    """
    epoch = _check_epoch(epoch)
    recorded = []
    for index, row in enumerate(_rows(history)):
        values = _series(row, quantity, layer)
        if values:
            recorded.append((_epoch_number(row, index), values))
    if epoch < 0:
        return recorded[epoch] if -epoch <= len(recorded) else None
    for number, values in recorded:
        if number == epoch:
            return number, values
    return None


def step0_ratio(
    history: Mapping[str, Any] | None,
    layer: str = "layer0",
    epoch: int = -1,
    quantity: str = "grad_h",
) -> float | None:
    """The gradient norm reaching step 0 as a fraction of the one at the last step.

    `grad_h[0] / grad_h[-1]` in processing order: with `go_backwards` (and for the
    backward half of a Bidirectional layer) step 0 is the first step processed, which
    reads the last input.

    Args:
        history: a training history.
        layer: the layer key in the probe. Default: `"layer0"`.
        epoch: epoch number, or negative index over the epochs with data, as in
            `gradient_at`. Default: `-1`.
        quantity: `"grad_h"` or `"grad_c"`. Default: `"grad_h"`.

    Returns:
        The ratio, or `None` when the gradient is missing, not finite, or zero at the
        last step.

    Example:

    >>> rows = [{"epoch": 1, "probe": {"grad_h": {"layer0": [2e-9, 1e-3, 1.0]}}}]
    >>> step0_ratio({"epochs": rows})
    2e-09
    """
    found = gradient_at(history, layer, epoch, quantity)
    if found is None or len(found[1]) < 1:
        return None
    first, last = found[1][0], found[1][-1]
    if not (math.isfinite(first) and math.isfinite(last)) or last <= 0 or first < 0:
        return None
    return first / last


def metric_name(history: Mapping[str, Any] | None) -> str | None:
    """The history's metric key, preferring validation: e.g. `"val_accuracy"`, `"val_mae"`.

    Example:

    >>> metric_name({"epochs": [{"loss": 1.0, "mae": 0.5, "val_mae": 0.6}]})
    'val_mae'
    """
    keys: list[str] = []
    for row in _rows(history):
        keys.extend(key for key in row if key not in keys)
    skip = {"epoch", "loss", "seconds", "probe", "learning_rate", "lr"}
    bare = [key.removeprefix("val_") for key in keys]
    bare = [name for index, name in enumerate(bare) if name not in skip
            and name not in bare[:index]]
    if not bare:
        return None
    chosen = next((name for name in ("accuracy", "mae") if name in bare), bare[0])
    return f"val_{chosen}" if f"val_{chosen}" in keys else chosen


def final_metric(history: Mapping[str, Any] | None) -> float | None:
    """The metric after the last epoch (validation if recorded), or `None`.

    A diverged run's last epoch has no finite metric, so its result is `None`.

    Example:

    >>> final_metric({"epochs": [{"accuracy": 0.3, "val_accuracy": 0.25},
    ...                          {"accuracy": 0.5, "val_accuracy": 0.4}]})
    0.4
    """
    name = metric_name(history)
    rows = _rows(history)
    if name is None or not rows:
        return None
    value = _float(rows[-1].get(name))
    return None if math.isnan(value) else value


def final_loss(history: Mapping[str, Any] | None, validation: bool = True) -> float | None:
    """The (validation) loss after the last epoch, or `None` when missing or not finite."""
    rows = _rows(history)
    if not rows:
        return None
    value = _float(rows[-1].get("val_loss" if validation else "loss"))
    if math.isnan(value) and validation:
        value = _float(rows[-1].get("loss"))
    return None if math.isnan(value) else value


# ----------------------------------------------------------------------------------------
# What differs


def _same(left: Any, right: Any) -> bool:
    # True == 1 in Python, but use_cudnn=True and units=1 are different settings.
    if isinstance(left, bool) or isinstance(right, bool) or left is None or right is None:
        return left is right
    return bool(left == right)


def differing_parameters(configs: Sequence[ExperimentConfig | Mapping]) -> list[dict[str, Any]]:
    """The flat keys whose values differ between configs, and nothing else.

    Keys are compared with `ExperimentConfig.values()` (`task.lag`, `model.cell`,
    `layer1.units`, ...). A layer that only some configs have shows as `"—"` for the
    others.

    Args:
        configs: the runs' configs (`ExperimentConfig`, or dicts that `from_dict`
            accepts), in run order.

    Returns:
        One row per differing key, in registry order: `{"key": "layer1.units",
        "label": "Units", "values": ["8", "32"]}`, values as `format_text` writes them.

    Raises:
        ValueError: naming `configs` when the list is empty.

    Example:

    >>> base = ExperimentConfig.default()
    >>> rows = differing_parameters([base, base.with_values({"layer.units": 8})])
    >>> rows == [{"key": "layer1.units", "label": "Units", "values": ["32", "8"]}]
    True
    """
    if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Sequence):
        raise ValueError(f"configs: expected a list of configs, got {type(configs).__name__}")
    if not configs:
        raise ValueError("configs: expected at least one config, got none")
    normalized = [
        config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
        for config in configs
    ]
    flat = [config.values() for config in normalized]
    keys: list[str] = []
    for values in flat:
        keys.extend(key for key in values if key not in keys)
    rows = []
    for key in keys:
        present = [values[key] for values in flat if key in values]
        if len(present) == len(flat) and all(_same(present[0], other) for other in present[1:]):
            continue
        param = param_for_key(key)
        rows.append(
            {
                "key": key,
                "label": param.label,
                "values": [
                    format_text(param, values[key]) if key in values else _MISSING
                    for values in flat
                ],
            }
        )
    return rows


def difference_table(runs: Sequence[Any], key: str | None = None) -> dict[str, Any]:
    """What differs between 2 to 6 runs, their results, and whether the results differ by
    more than the spread between seeds.

    The rows of `differing_parameters` and a last row, `"result"`, with each run's final
    score: the median and range (min–max) over its seeds for a `seeds.SeedGroup`, the
    single value for a plain run. The conclusion says, from `seeds.compare_groups`,
    whether the results differ by more than the spread between seeds, and says so
    plainly when they do not ("within the spread between seeds: this difference may be
    one seed's luck") or when each run has one seed only.

    Args:
        runs: 2 to 6 runs: `seeds.SeedGroup`s, or any form `as_runs` takes (a plain run
            counts as one seed).
        key: the history key the result row reads. Default: `None`, the key the runs'
            verdicts judge them by (`seeds.score_key`).

    Returns:
        `{"rows": [..., {"key": "result", "label": ..., "values": [...]}], "conclusion":
        str, "beyond_spread": True | False | None}`; `beyond_spread` is `None` when no
        run has more than one seed.

    Example:

    >>> from lstm_explorer.seeds import SeedGroup
    >>> base = ExperimentConfig.default()
    >>> def group(config, losses):
    ...     return SeedGroup.of(str(config.model["layers"][0]["units"]), [
    ...         RunSummary(f"seed {s}", config, {"epochs": [{"val_loss": v}]})
    ...         for s, v in enumerate(losses)])
    >>> table = difference_table([group(base, [0.1, 0.2, 0.3]),
    ...                           group(base.with_values({"layer.units": 8}), [0.5, 0.6, 0.7])])
    >>> [row["key"] for row in table["rows"]], table["rows"][-1]["values"]
    (['layer1.units', 'result'], ['0.2 (0.1–0.3)', '0.6 (0.5–0.7)'])
    >>> table["beyond_spread"]
    True
    """
    from lstm_explorer import seeds

    runs = as_runs(runs)
    groups = [seeds.as_group(run) for run in runs]
    comparison = seeds.compare_groups(groups, key)
    configs = [run.config for run in runs]
    rows = differing_parameters(configs) if all(config is not None for config in configs) \
        else []
    counts = sorted({len(group.runs) for group in groups})
    over = (f", median (min–max) over {counts[0]} seeds" if counts == [counts[0]] and
            counts[0] > 1 else ", median (min–max) over the seeds" if counts[-1] > 1 else "")
    values = []
    for score in comparison.groups:
        text = score.text()
        values.append(text[len(score.name):].strip() if text.startswith(score.name + " ")
                      else text.split(": ", 1)[-1])
    rows.append({"key": "result", "label": f"final {comparison.label}{over}",
                 "values": values})
    return {"rows": rows, "conclusion": comparison.sentence,
            "beyond_spread": comparison.beyond_spread}


# ----------------------------------------------------------------------------------------
# Figures


def run_colour(index: int) -> str:
    """The colour of the index-th run (0-based) in every comparison figure."""
    return _RUN_COLOURS[index % len(_RUN_COLOURS)]


def _subtitle(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def _short_name(run: RunSummary) -> str:
    """A session run's number (`"run 2"` of `"run 2: simple_rnn 32 on adding"`), else
    its whole name: for notes that list runs in a subtitle's one line."""
    head, colon, _ = run.name.partition(":")
    return head if colon and head.startswith("run ") else run.name


def _problems(runs: list[RunSummary]) -> list[str]:
    notes = []
    for run in runs:
        group = _seed_group(run)
        if group is not None:
            # A group's median run is "finished" while some of its seeds diverged: name them.
            notes.extend(f"{run.name}: {problem}" for problem in group.problems)
        elif run.status in ("diverged", "stopped"):
            notes.append(f"{run.name} {run.status}")
    return notes


def _seed_group(run: RunSummary) -> Any:
    """The run as a `seeds.SeedGroup` of more than one seed (one with a spread to draw),
    else `None`."""
    from lstm_explorer.seeds import SeedGroup  # seeds builds on this module

    return run if isinstance(run, SeedGroup) and len(run.runs) > 1 else None


def _seed_note(runs: list[RunSummary], marks: str = "lines", spread: str = "bands") -> str:
    """`lines: median of 5 seeds, bands: min–max` when some run is a seed group."""
    counts = sorted({len(group.runs) for group in map(_seed_group, runs) if group})
    if not counts:
        return ""
    seeds = f"{counts[0]} seeds" if len(counts) == 1 else "each run's seeds"
    return f"{marks}: median of {seeds}, {spread}: min–max"


def _add_band(fig: go.Figure, x: Sequence[Any], low: Sequence[Any], high: Sequence[Any],
              index: int, name: str, plotted: list[np.ndarray] | None = None,
              **position: Any) -> None:
    """Add a run's spread band (behind its line, which comes next), in the run's colour;
    its ends join `plotted`, so that an axis range made from it takes the band in."""
    from lstm_explorer.seeds import band_trace

    band = band_trace(x, low, high, run_colour(index), name, legendgroup=name)
    if band is None:
        return
    fig.add_trace(band, **position)
    if plotted is not None:
        plotted.append(np.asarray([value for value in band.y if value is not None], dtype=float))


def _positive(values: Sequence[Any]) -> np.ndarray:
    out = np.asarray([_float(v) for v in values], dtype=np.float64)
    out[~(out > 0)] = np.nan
    return out


@_figures.themed
def compare_loss_curves(runs: Sequence[Any]) -> go.Figure:
    """Loss per epoch of every run (training solid, validation dashed), and the metric.

    One colour per run; the legend lists the runs. The loss axis is logarithmic when
    every finite loss is positive. A second panel shows the validation metric
    (accuracy or mae; the training one when there is no validation set). NaN epochs of
    a diverged run are gaps and the subtitle names the run.

    Args:
        runs: 2 to 6 runs (`RunSummary`, `(name, history)`, ...).

    Returns:
        A figure with up to two panels; each run has one legend entry.

    Example:

    >>> rows = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.1 / e} for e in (1, 2)]
    >>> fig = compare_loss_curves([("a", {"epochs": rows}), ("b", {"epochs": rows})])
    >>> sorted({trace.legendgroup for trace in fig.data}), fig.layout.yaxis.type
    (['a', 'b'], 'log')
    """
    runs = as_runs(runs)
    title = "Loss of each run"
    metrics = [metric_name(run.history) for run in runs]
    metric_keys = [m for m in metrics if m]
    metric = metric_keys[0] if metric_keys else None
    bare = metric.removeprefix("val_") if metric else None
    panels = ["loss"] + ([bare] if bare else [])
    fig = _figures._subplots(
        rows=1,
        cols=len(panels),
        horizontal_spacing=0.05,
        subplot_titles=(
            ["loss", _figures._METRIC_LABELS.get(bare, bare)] if bare else None
        ),
    )
    losses: list[np.ndarray] = [np.zeros(0)]
    notes = []
    for index, run in enumerate(runs):
        rows = _rows(run.history)
        if not rows:
            notes.append(f"{run.name}: no epochs")
            continue
        epochs = [_epoch_number(row, i) for i, row in enumerate(rows)]
        colour = run_colour(index)
        shown = False
        group = _seed_group(run)
        for split, key, dash in (("training", "loss", None), ("validation", "val_loss", "dash")):
            y = np.asarray([_float(row.get(key)) for row in rows])
            if not np.isfinite(y).any():
                continue
            losses.append(y[np.isfinite(y)])
            if group is not None:
                _add_loss_band(fig, group, key, index, run.name, losses, row=1, col=1)
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=y,
                    mode="lines+markers",
                    name=run.name,
                    legendgroup=run.name,
                    showlegend=not shown,
                    line=dict(color=colour, dash=dash),
                    hovertemplate=f"{run.name}<br>epoch %{{x}}<br>{split} loss = "
                    "%{y:.4g}<extra></extra>",
                ),
                row=1,
                col=1,
            )
            shown = True
        key = metrics[index] or ""
        if bare and key.removeprefix("val_") == bare:
            y = np.asarray([_float(row.get(key)) for row in rows])
            if np.isfinite(y).any():
                if group is not None:
                    _add_loss_band(fig, group, key, index, run.name, None, row=1, col=2)
                fig.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=y,
                        mode="lines+markers",
                        name=run.name,
                        legendgroup=run.name,
                        showlegend=not shown,
                        line=dict(color=colour, dash="dash" if key.startswith("val_") else None),
                        hovertemplate=f"{run.name}<br>epoch %{{x}}<br>{key} = "
                        "%{y:.4g}<extra></extra>",
                    ),
                    row=1,
                    col=2,
                )
                shown = True
        if not shown:
            notes.append(f"{run.name}: no finite loss")
    if not fig.data:
        return _figures.empty_figure(title, _figures._ALL_NONFINITE)
    finite = np.concatenate(losses)
    if finite.size and bool(np.all(finite > 0)):
        fig.update_yaxes(title_text="loss (log scale)", **_figures._log_axis(finite), row=1, col=1)
    else:
        fig.update_yaxes(title_text="loss", row=1, col=1)
    if bare:
        # On the right of its panel, with the metric's short name (the panel's title
        # spells it out): between the panels, its title ran into the loss panel.
        fig.update_yaxes(title_text=bare, side="right", row=1, col=2)
    fig.update_xaxes(title_text="epoch")
    longest = max(len(_rows(run.history)) for run in runs)
    fig.update_xaxes(**_figures._epoch_ticks(longest))
    _figures._new_figure(
        fig,
        title=title,
        subtitle=_subtitle("solid: training, dashed: validation", _seed_note(runs),
                           *_problems(runs), *notes),
    )
    # Under the plot: at its right the legend covered the metric axis's tick labels.
    fig.update_layout(legend=dict(_figures._legend_below(), title=dict(text="run")),
                      hovermode="closest")
    return fig


def _add_loss_band(fig: go.Figure, group: Any, key: str, index: int, name: str,
                   plotted: list[np.ndarray] | None, **position: Any) -> None:
    from lstm_explorer.seeds import epoch_stats

    found = epoch_stats(group.histories, key)
    _add_band(fig, found["epochs"], found["min"], found["max"], index, name, plotted,
              **position)


def _gradient_symbol(quantity: str) -> str:
    if quantity not in _figures.GRADIENT_LABELS:
        raise ValueError(f"quantity={quantity!r}: expected 'grad_h' or 'grad_c'")
    return _figures._GRADIENT_SYMBOL[quantity]


@_figures.themed
def compare_gradient_flow(
    runs: Sequence[Any],
    layer: str = "layer0",
    epoch: int = -1,
    quantity: str = "grad_h",
) -> go.Figure:
    """Per-step gradient norm against time step at one epoch, one line per run, log y.

    The loss is computed at the end, so a line that falls steeply towards step 0 is a
    vanishing gradient; the run whose line stays highest at step 0 carries the most
    gradient to the earliest steps. Runs without this gradient (a SimpleRNN has no
    `grad_c`) or with only NaN (diverged) are left out and named in the subtitle.

    Args:
        runs: 2 to 6 runs.
        layer: the layer key in the probe, e.g. `"layer0"` or `"layer0/backward"`.
            Default: `"layer0"`.
        epoch: epoch number, or negative index over the epochs with data (`-1`: the
            last epoch that recorded a gradient). Default: `-1`.
        quantity: `"grad_h"` (‖∂L/∂h_t‖) or `"grad_c"` (‖∂L/∂c_t‖, LSTM only).
            Default: `"grad_h"`.

    Returns:
        A figure with one trace per run that has data, named by the run.

    Example:

    >>> rows = [{"epoch": 1, "probe": {"grad_h": {"layer0": [1e-6, 1e-3, 1.0]}}}]
    >>> nan = [{"epoch": 1, "probe": {"grad_h": {"layer0": [None, None, None]}}}]
    >>> fig = compare_gradient_flow([("a", {"epochs": rows}), ("b", {"epochs": nan})])
    >>> [trace.name for trace in fig.data], fig.layout.title.subtitle.text
    (['a'], 'epoch 1; b: no finite ‖∂L/∂h_t‖')
    """
    runs = as_runs(runs)
    _check_epoch(epoch)
    symbol = _gradient_symbol(quantity)
    title = f"Gradient flow through time, {_figures._layer_label(layer)}: runs compared"
    fig = _figures._new_figure(title=title)
    plotted: list[np.ndarray] = [np.zeros(0)]
    notes = []
    epochs_used = set()
    for index, run in enumerate(runs):
        found = gradient_at(run.history, layer, epoch, quantity)
        if found is None:
            notes.append(f"{run.name}: no {symbol}")
            continue
        number, values = found
        y = _positive(values)
        if not np.isfinite(y).any():
            notes.append(f"{run.name}: no finite {symbol}")
            continue
        epochs_used.add(number)
        plotted.append(y[np.isfinite(y)])
        group = _seed_group(run)
        if group is not None:
            from lstm_explorer.seeds import step_stats

            spread = step_stats(group.histories, layer, quantity, number)
            if spread is not None:
                _add_band(fig, list(range(len(spread["min"]))), _positive(spread["min"]),
                          _positive(spread["max"]), index, run.name, plotted)
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(y)),
                y=y,
                mode="lines",
                name=run.name,
                line=dict(color=run_colour(index)),
                hovertemplate=f"{run.name} (epoch {number})<br>step %{{x}}<br>{symbol} = "
                "%{y:.3e}<extra></extra>",
            )
        )
    if not fig.data:
        return _figures.empty_figure(title, _subtitle(*notes) or _figures._NO_EPOCHS)
    if len(epochs_used) == 1:
        at = f"epoch {next(iter(epochs_used))}"
    else:
        at = "last epoch with data" if epoch < 0 else f"epoch {epoch}"
    fig.update_xaxes(title_text=_figures.STEP_AXIS)
    fig.update_yaxes(
        title_text=_figures.GRADIENT_LABELS[quantity], **_figures._log_axis(np.concatenate(plotted))
    )
    _figures._new_figure(fig, title=title, subtitle=_subtitle(at, _seed_note(runs),
                                                              *_problems(runs), *notes))
    fig.update_layout(legend=dict(title=dict(text="run")), hovermode="closest")
    return fig


@_figures.themed
def compare_step0_gradient(
    runs: Sequence[Any],
    layer: str = "layer0",
    quantity: str = "grad_h",
    relative: bool = False,
) -> go.Figure:
    """The gradient norm reaching step 0, epoch after epoch, one line per run, log y.

    Step 0 is the first step *processed*: for a `go_backwards` run (and the backward
    half of a Bidirectional layer) it reads the last input. The axis title says so.

    Args:
        runs: 2 to 6 runs.
        layer: the layer key in the probe. Default: `"layer0"`.
        quantity: `"grad_h"` or `"grad_c"`. Default: `"grad_h"`.
        relative: plot `grad[0] / grad[-1]` (the share of the last step's gradient that
            reaches step 0) instead of the norm itself. Default: `False`.

    Returns:
        A figure with one trace per run that has data.

    Example:

    >>> rows = [{"epoch": e, "probe": {"grad_h": {"layer0": [10.0 ** -e, 1.0]}}}
    ...         for e in (1, 2, 3)]
    >>> fig = compare_step0_gradient([("a", {"epochs": rows}), ("b", {"epochs": rows})])
    >>> len(fig.data), fig.data[0].y.tolist()
    (2, [0.1, 0.01, 0.001])
    """
    runs = as_runs(runs)
    symbol = _gradient_symbol(quantity)
    title = f"Gradient reaching step 0 over training, {_figures._layer_label(layer)}"
    fig = _figures._new_figure(title=title)
    plotted: list[np.ndarray] = [np.zeros(0)]
    notes = []
    longest = 0
    for index, run in enumerate(runs):
        epochs, values = [], []
        for row_index, row in enumerate(_rows(run.history)):
            series = _series(row, quantity, layer)
            if not series:
                continue
            first, last = series[0], series[-1]
            value = first / last if relative and last and last > 0 else first
            if relative and not (last and last > 0):
                value = math.nan
            epochs.append(_epoch_number(row, row_index))
            values.append(value)
        y = _positive(values)
        if not np.isfinite(y).any():
            notes.append(f"{run.name}: no {'finite ' if values else ''}{symbol}")
            continue
        longest = max(longest, len(epochs))
        plotted.append(y[np.isfinite(y)])
        group = _seed_group(run)
        if group is not None:
            from lstm_explorer.seeds import epoch_stats

            spread = epoch_stats(group.histories,
                                 _step0_reader(quantity, layer, relative), log=True)
            _add_band(fig, spread["epochs"], _positive(spread["min"]),
                      _positive(spread["max"]), index, run.name, plotted)
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=y,
                mode="lines+markers",
                name=run.name,
                line=dict(color=run_colour(index)),
                hovertemplate=f"{run.name}<br>epoch %{{x}}<br>"
                + ("step 0 / last step = " if relative else f"{symbol} at step 0 = ")
                + "%{y:.3e}<extra></extra>",
            )
        )
    if not fig.data:
        return _figures.empty_figure(title, _subtitle(*notes) or _figures._NO_EPOCHS)
    at_step0 = symbol.replace("_t", "_0")
    quantity_text = f"{at_step0} / last step's" if relative else at_step0
    backwards = any(_goes_backwards(run) for run in runs) or layer.endswith("/backward")
    meaning = (
        "step 0 = the first step processed; with go_backwards, the last input"
        if backwards
        else "step 0 = the first step processed"
    )
    fig.update_yaxes(
        title_text=f"{quantity_text} (log scale)<br>"
        f"<span style='font-size:{_figures.FONT_SIZE - 1}px'>{meaning}</span>",
        **_figures._log_axis(np.concatenate(plotted)),
    )
    fig.update_xaxes(title_text="epoch", **_figures._epoch_ticks(longest))
    _figures._new_figure(fig, title=title, subtitle=_subtitle(_seed_note(runs),
                                                              *_problems(runs), *notes))
    fig.update_layout(legend=dict(title=dict(text="run")), hovermode="closest")
    return fig


def _step0_reader(quantity: str, layer: str, relative: bool):
    """A row's gradient at step 0 (or its share of the last step's), as the line reads it."""
    def read(row: Mapping[str, Any]) -> float:
        series = _series(row, quantity, layer)
        if not series:
            return math.nan
        first, last = series[0], series[-1]
        if not relative:
            return first
        return first / last if last and last > 0 else math.nan
    return read


def _saturation_at(history: Mapping[str, Any], layer: str) -> tuple[int, Mapping] | None:
    rows = _rows(history)
    for index in range(len(rows) - 1, -1, -1):
        probe = rows[index].get("probe")
        saturation = probe.get("saturation") if isinstance(probe, Mapping) else None
        gates = saturation.get(layer) if isinstance(saturation, Mapping) else None
        if isinstance(gates, Mapping) and gates:
            return _epoch_number(rows[index], index), gates
    return None


@_figures.themed
def compare_saturation(runs: Sequence[Any], layer: str = "layer0") -> go.Figure:
    """Share of saturated gate activations per gate, bars grouped by gate, one colour per run.

    A gate near 0 or 1 has a derivative near 0, so the gradient through it vanishes. The
    last epoch that recorded a saturation is used for each run. A SimpleRNN has no
    gates: it is left out, and the subtitle names it ("run 2 (SimpleRNN) has no gates").
    Each bar's label has its run's colour and the legend is always shown, so that a
    label over a bar of no height (0%: no activation saturated) still says whose it is.

    Args:
        runs: 2 to 6 runs.
        layer: the layer key in the probe. Default: `"layer0"`.

    Returns:
        A grouped bar figure with one trace per gated run; x: the gates.

    Example:

    >>> lstm = {"epochs": [{"probe": {"saturation": {"layer0": {"i": 0.1, "f": 0.5,
    ...                                                          "o": 0.0}}}}]}
    >>> rnn = {"epochs": [{"probe": {"saturation": {}}}]}
    >>> from lstm_explorer.config import ExperimentConfig
    >>> simple = ExperimentConfig.default().with_values({"model.cell": "simple_rnn"})
    >>> fig = compare_saturation([("run 1: lstm", lstm), ("run 2: rnn", simple, rnn)])
    >>> [trace.name for trace in fig.data], list(fig.data[0].x)
    (['run 1: lstm'], ['input gate i', 'forget gate f', 'output gate o'])
    >>> fig.layout.title.subtitle.text
    'last epoch, probe batch; run 2 (SimpleRNN) has no gates; 0% = none saturated'
    """
    runs = as_runs(runs)
    title = f"Gate saturation, {_figures._layer_label(layer)}: runs compared"
    found = []
    notes = []
    gateless = [_short_name(run) for run in runs if run.cell == "simple_rnn"]
    if gateless:
        named = [name if "simplernn" in name.lower().replace("_", "") else f"{name} (SimpleRNN)"
                 for name in gateless]
        notes.append(f"{', '.join(named)} {'has' if len(named) == 1 else 'have'} no gates")
    for index, run in enumerate(runs):
        if run.cell == "simple_rnn":
            continue
        at = _saturation_at(run.history, layer)
        if at is None:
            notes.append(f"{run.name}: no saturation recorded")
            continue
        found.append((index, run, *at))
    gates: list[str] = []
    for *_, saturation in found:
        gates.extend(gate for gate in saturation if gate not in gates)
    order = _figures._SLICE_ORDER
    gates.sort(key=lambda g: order.index(g) if g in order else len(order))
    fig = _figures._new_figure(title=title)
    for index, run, number, saturation in found:
        y = np.asarray([_float(saturation.get(gate)) for gate in gates])
        if not np.isfinite(y).any():
            notes.append(f"{run.name}: no finite saturation")
            continue
        fig.add_trace(
            go.Bar(
                x=[_figures.GATE_NAMES.get(gate, gate) for gate in gates],
                y=y,
                name=run.name,
                marker=dict(color=run_colour(index)),
                # A gate this run does not have gets no bar and no label (not "NaN%").
                text=[f"{value:.0%}" if np.isfinite(value) else "" for value in y],
                textposition="outside",
                textfont=dict(color=run_colour(index)),
                hovertemplate=f"{run.name} (epoch {number})<br>%{{x}}: %{{y:.1%}} saturated"
                "<extra></extra>",
            )
        )
    if not fig.data:
        return _figures.empty_figure(
            title, _subtitle(*notes) or "No gated layers: a SimpleRNN has no gates to saturate."
        )
    if any(trace_label == "0%" for trace in fig.data for trace_label in trace.text):
        notes.append("0% = none saturated")  # such a bar has no height, only its label
    fig.update_layout(barmode="group", showlegend=True, legend=dict(title=dict(text="run")))
    fig.update_xaxes(title_text="gate")
    fig.update_yaxes(
        title_text="saturated activations (share)",
        range=[0, 1.08],
        tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
        tickformat=".0%",
    )
    _figures._new_figure(
        fig, title=title, subtitle=_subtitle("last epoch, probe batch", *_problems(runs), *notes)
    )
    return fig


@_figures.themed
def compare_gate_means(runs: Sequence[Any], gate: str = "f", layer: str = "layer0") -> go.Figure:
    """Mean of one gate over the probe batch and units, against time step, one line per run.

    Reads `readings["gate_mean_by_step"][layer][gate]` of each `RunSummary` (written by
    `sweep.run_configs` from the last epoch's trace). A forget gate near 1 keeps the cell
    state, and the gradient through it, from step to step; near 0 it forgets both.

    Args:
        runs: 2 to 6 runs.
        gate: `"i"`, `"f"`, `"o"` (LSTM) or `"z"`, `"r"` (GRU). Default: `"f"`.
        layer: the layer key. Default: `"layer0"`.

    Returns:
        A figure with one trace per run that recorded the gate, y in [0, 1].

    Example:

    >>> a = RunSummary("bias 1", None, {}, {"gate_mean_by_step": {"layer0": {"f": [0.7, 0.8]}}})
    >>> b = RunSummary("bias 0", None, {}, {"gate_mean_by_step": {"layer0": {"f": [0.5, 0.5]}}})
    >>> [trace.name for trace in compare_gate_means([a, b]).data]
    ['bias 1', 'bias 0']
    """
    runs = as_runs(runs)
    if gate not in _figures.GATE_NAMES or gate in ("c", "h", "g"):
        raise ValueError(f"gate={gate!r}: expected one of 'i', 'f', 'o', 'z', 'r'")
    name = _figures.GATE_NAMES[gate]
    title = f"Mean {name} over time, {_figures._layer_label(layer)}: runs compared"
    fig = _figures._new_figure(title=title)
    notes = []
    for index, run in enumerate(runs):
        by_step = (run.readings or {}).get("gate_mean_by_step") or {}
        values = (by_step.get(layer) or {}).get(gate) if isinstance(by_step, Mapping) else None
        y = np.asarray([_float(v) for v in values or []])
        if not y.size or not np.isfinite(y).any():
            notes.append(f"{run.name}: no {name}")
            continue
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(y)),
                y=y,
                mode="lines",
                name=run.name,
                line=dict(color=run_colour(index)),
                hovertemplate=f"{run.name}<br>step %{{x}}<br>mean {gate} = %{{y:.3f}}"
                "<extra></extra>",
            )
        )
    if not fig.data:
        return _figures.empty_figure(title, _subtitle(*notes) or _figures._NO_TRACE)
    fig.update_xaxes(title_text=_figures.STEP_AXIS)
    fig.update_yaxes(title_text=f"mean {name}", range=[0, 1.02])
    _figures._new_figure(
        fig, title=title, subtitle=_subtitle("last epoch, probe batch", *_problems(runs), *notes)
    )
    fig.update_layout(legend=dict(title=dict(text="run")), hovermode="closest")
    return fig


@_figures.themed
def compare_batch_losses(runs: Sequence[Any]) -> go.Figure:
    """The running training loss at every recorded batch, one line per run, log y.

    Finer than the per-epoch curves: a run that blows up within its first epoch still
    shows its loss climbing before it became NaN. Reads `readings["batch_losses"]`
    (`[epoch, batch, batches, loss]` rows, written by `sweep.run_configs`); x is the
    epoch as a fraction (epoch 1, halfway = 0.5).

    Args:
        runs: 2 to 6 runs.

    Returns:
        A figure with one trace per run that recorded a finite loss.

    Example:

    >>> a = RunSummary("a", None, {}, {"batch_losses": [[1, 1, 2, 0.5], [1, 2, 2, 9e4]]})
    >>> b = RunSummary("b", None, {}, {"batch_losses": [[1, 1, 2, 0.5], [1, 2, 2, None]]})
    >>> fig = compare_batch_losses([a, b])
    >>> [trace.name for trace in fig.data], list(fig.data[0].x), fig.layout.yaxis.type
    (['a', 'b'], [0.5, 1.0], 'log')
    """
    runs = as_runs(runs)
    title = "Training loss batch by batch"
    fig = _figures._new_figure(title=title)
    plotted: list[np.ndarray] = [np.zeros(0)]
    notes = []
    for index, run in enumerate(runs):
        points = []
        for item in (run.readings or {}).get("batch_losses") or []:
            try:
                epoch, batch, batches, loss = item
                points.append((epoch - 1 + batch / batches, _float(loss)))
            except (TypeError, ValueError, ZeroDivisionError):
                continue
        y = _positive([loss for _, loss in points])
        if not np.isfinite(y).any():
            notes.append(f"{run.name}: no finite batch loss")
            continue
        plotted.append(y[np.isfinite(y)])
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in points],
                y=y,
                mode="lines+markers",
                name=run.name,
                line=dict(color=run_colour(index)),
                hovertemplate=f"{run.name}<br>epoch %{{x:.2f}}<br>running loss = %{{y:.4g}}"
                "<extra></extra>",
            )
        )
    if not fig.data:
        return _figures.empty_figure(title, _subtitle(*notes) or _figures._NO_EPOCHS)
    fig.update_xaxes(title_text="epoch (fraction done)")
    fig.update_yaxes(title_text="running training loss (log scale)",
                     **_figures._log_axis(np.concatenate(plotted)))
    _figures._new_figure(
        fig, title=title,
        subtitle=_subtitle("mean over the epoch so far", *_problems(runs), *notes))
    fig.update_layout(legend=dict(title=dict(text="run")), hovermode="closest")
    return fig


@_figures.themed
def compare_sweep(
    runs: Sequence[Any],
    values: Sequence[Any] | None = None,
    label: str = "value",
    layer: str = "layer0",
) -> go.Figure:
    """The final metric and the step-0 gradient share against the swept value.

    Two panels, one point per run: left, the final metric (validation accuracy or mae);
    right, `grad_h[0] / grad_h[-1]` on a log axis. Runs that diverged or have no
    gradient leave a gap.

    Args:
        runs: 2 to 6 runs, in sweep order.
        values: the x value of each run. Default: `None`, each `RunSummary.value`, or
            the run names.
        label: the x axis title, e.g. `"task.lag"`. Default: `"value"`.
        layer: the layer key. Default: `"layer0"`.

    Returns:
        A two-panel figure with one trace per panel.

    Example:

    >>> rows = lambda acc, g0: {"epochs": [{"val_accuracy": acc,
    ...                                     "probe": {"grad_h": {"layer0": [g0, 1.0]}}}]}
    >>> fig = compare_sweep([("10", rows(0.9, 0.1)), ("40", rows(0.2, 1e-5))],
    ...                     values=[10, 40], label="task.lag")
    >>> fig.data[0].y.tolist(), fig.data[1].y.tolist()
    ([0.9, 0.2], [0.1, 1e-05])
    """
    runs = as_runs(runs)
    if values is None:
        values = [run.value if run.value is not None else run.name for run in runs]
    values = list(values)
    if len(values) != len(runs):
        raise ValueError(f"values: expected one per run ({len(runs)}), got {len(values)}")
    x = [v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v) for v in values]
    numeric = all(isinstance(v, (int, float)) for v in x)
    metrics = [metric_name(run.history) for run in runs]
    metric = next((m for m in metrics if m), None)
    bare = metric.removeprefix("val_") if metric else "metric"
    metric_label = ("validation " if metric and metric.startswith("val_") else "") + (
        _figures._METRIC_LABELS.get(bare, bare)
    )
    title = f"Result and gradient against {label}"
    fig = _figures._subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        # The panels' titles name their y axes: a y-axis title between the panels
        # runs into the left one at 1280×720 zoomed to 150 %. Each starts at its panel's
        # left edge, so two long ones never meet in the middle.
        subplot_titles=[metric_label, "step 0's gradient ÷ last step's"],
    )
    for annotation, axis in zip(fig.layout.annotations, ("xaxis", "xaxis2")):
        annotation.update(x=fig.layout[axis].domain[0], xanchor="left")
    metric_y = np.asarray([_float(final_metric(run.history)) for run in runs])
    ratio_y = _positive([step0_ratio(run.history, layer) for run in runs])
    names = [run.name for run in runs]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=metric_y,
            mode="lines+markers",
            name=metric_label,
            customdata=names,
            line=dict(color=_figures.OKABE_ITO[0]),
            hovertemplate="%{customdata}<br>" + metric_label + " = %{y:.4g}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=ratio_y,
            mode="lines+markers",
            name="step 0 / last step",
            customdata=names,
            line=dict(color=_figures.OKABE_ITO[1]),
            hovertemplate="%{customdata}<br>‖∂L/∂h_0‖ / last step's = %{y:.3e}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    spread = _sweep_spread(runs, layer)
    if spread is not None:
        # A seed group's point is its median run; the bar spans its seeds.
        (metric_low, metric_high), (ratio_low, ratio_high) = spread
        fig.data[0].error_y = _error_bars(metric_y, metric_low, metric_high)
        fig.data[1].error_y = _error_bars(ratio_y, ratio_low, ratio_high)
    if not np.isfinite(metric_y).any() and not np.isfinite(ratio_y).any():
        return _figures.empty_figure(title, _figures._ALL_NONFINITE)
    fig.update_xaxes(title_text=label, type=None if numeric else "category")
    finite = ratio_y[np.isfinite(ratio_y)]
    fig.update_yaxes(**_figures._log_axis(finite), row=1, col=2)
    if spread is not None:
        ends = np.concatenate([finite, spread[1][0], spread[1][1]])
        fig.update_yaxes(**_figures._log_axis(ends[np.isfinite(ends)]), row=1, col=2)
    _figures._new_figure(fig, title=title, subtitle=_subtitle(
        "last epoch", _seed_note(runs, "points", "bars"), *_problems(runs)))
    fig.update_layout(showlegend=False)
    return fig


def _sweep_spread(runs: list[RunSummary], layer: str) -> tuple | None:
    """Per run, the min and max over its seeds of the final metric and of the step-0
    share (NaN for a run of one seed); `None` when no run is a seed group."""
    if not any(_seed_group(run) for run in runs):
        return None
    from lstm_explorer.seeds import stats

    metric_ends, ratio_ends = [], []
    for run in runs:
        group = _seed_group(run)
        members = group.runs if group is not None else []
        metric = stats([final_metric(member.history) for member in members])
        ratio = stats(_positive([step0_ratio(member.history, layer) for member in members]))
        metric_ends.append((metric["min"], metric["max"]))
        ratio_ends.append((ratio["min"], ratio["max"]))
    as_array = lambda ends, side: np.asarray([_float(end[side]) for end in ends])  # noqa: E731
    return ((as_array(metric_ends, 0), as_array(metric_ends, 1)),
            (as_array(ratio_ends, 0), as_array(ratio_ends, 1)))


def _error_bars(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, Any]:
    """Asymmetric error bars from each point down to `low` and up to `high` (none where
    either is missing)."""
    with np.errstate(invalid="ignore"):
        up, down = high - y, y - low
    up[~np.isfinite(up)] = 0.0
    down[~np.isfinite(down)] = 0.0
    return dict(type="data", symmetric=False, array=np.maximum(up, 0.0),
                arrayminus=np.maximum(down, 0.0), thickness=2, width=8)


def comparison_figures(
    runs: Sequence[Any],
    layer: str = "layer0",
    include: Sequence[str] | None = None,
    values: Sequence[Any] | None = None,
    label: str = "value",
) -> dict[str, go.Figure]:
    """The standard comparison figures of 2 to 6 runs, under stable file names.

    Args:
        runs: 2 to 6 runs.
        layer: the layer key. Default: `"layer0"`.
        include: which to make, from `"loss_curves"`, `"gradient_flow"`,
            `"cell_gradient_flow"` (grad_c), `"step0_gradient"`, `"saturation"`,
            `"forget_gate"`, `"batch_loss"`, `"result_vs_value"`. Default: `None`:
            loss, gradient flow, cell gradient flow (only when some run has grad_c),
            step-0 gradient and saturation.
        values: the swept values, for `"result_vs_value"`. Default: `None`.
        label: the swept key, for `"result_vs_value"`. Default: `"value"`.

    Returns:
        An ordered dict of name to figure, ready for `export.export_figures`.

    Example:

    >>> rows = [{"epoch": 1, "loss": 1.0, "probe": {"grad_h": {"layer0": [0.1, 1.0]}}}]
    >>> list(comparison_figures([("a", {"epochs": rows}), ("b", {"epochs": rows})]))
    ['loss_curves', 'gradient_flow', 'step0_gradient', 'saturation']
    """
    runs = as_runs(runs)
    makers = {
        "loss_curves": lambda: compare_loss_curves(runs),
        "gradient_flow": lambda: compare_gradient_flow(runs, layer),
        "cell_gradient_flow": lambda: compare_gradient_flow(runs, layer, quantity="grad_c"),
        "step0_gradient": lambda: compare_step0_gradient(runs, layer),
        "saturation": lambda: compare_saturation(runs, layer),
        "forget_gate": lambda: compare_gate_means(runs, "f", layer),
        "batch_loss": lambda: compare_batch_losses(runs),
        "result_vs_value": lambda: compare_sweep(runs, values, label, layer),
    }
    if include is None:
        has_c = any(gradient_at(run.history, layer, -1, "grad_c") for run in runs)
        include = ["loss_curves", "gradient_flow"]
        include += ["cell_gradient_flow"] if has_c else []
        include += ["step0_gradient", "saturation"]
    unknown = [name for name in include if name not in makers]
    if unknown:
        raise ValueError(f"include: unknown figures {unknown}; choose from {', '.join(makers)}")
    return {name: makers[name]() for name in include}
