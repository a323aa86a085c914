"""The class view's data: every run of a room placed on the parameter the class varied.

"Everyone try a different value, then we look together": `class_view(runs)` finds the
setting that differs between the runs' configs (`compare.differing_parameters`, as
Compare Runs does) and gives, per run, its value of that setting, its final metric,
the gradient reaching step 0 and its loss curve. `rooms.figures` draws them: final metric
against the setting, gradient at step 0 against it, the loss curves overlaid.

A pure function of the runs (`store.SentRun`, or dicts with `name` and `summary`): same
runs, same view. When several settings differ, the axis takes the one with the most
distinct values (the one the class was asked to vary; a stray seed or epoch count has
fewer) and `notes` name the others. When none differs, the runs stand side by side
under their names.

The gradient reaching step 0 is what the verdict reads (`readings`): `grad_h[0] /
grad_h[-1]` of the first layer (`layer0`, else the first recorded) at the last epoch that
recorded it, `compare.step0_ratio`; step 0 is the first step processed.

Example:

>>> def sent(name, units, accuracy, step0):
...     config = {"model": {"layers": [{"units": units}]}}
...     rows = [{"epoch": 1, "loss": 1.0, "val_loss": 0.9, "accuracy": accuracy,
...              "val_accuracy": accuracy, "probe": {"grad_h": {"layer0": [step0, 1.0]}}}]
...     return {"name": name, "summary": {"config": config, "history": {"epochs": rows}}}
>>> view = class_view([sent("Ada", 8, 0.6, 1e-3), sent("Bo", 64, 0.9, 0.2)])
>>> view.parameter, view.label, view.metric
('layer1.units', 'Units (layer1.units)', 'val_accuracy')
>>> [(run.name, run.x, run.final_metric, run.step0) for run in view.runs]
[('Ada', 8, 0.6, 0.001), ('Bo', 64, 0.9, 0.2)]
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lstm_explorer import compare, readings
from lstm_explorer.config import ExperimentConfig, format_text, param_for_key
from lstm_explorer.errors import ConfigError
from lstm_explorer.figures import _METRIC_LABELS

__all__ = ["ClassRun", "ClassView", "class_view"]

#: A numeric setting is drawn on a log axis when its largest value is at least this
#: many times its smallest (learning rates 1e-4 to 1e-1, not units 8 to 64).
LOG_SPAN = 100.0
_MISSING = "—"


@dataclass(frozen=True)
class ClassRun:
    """One run of the class view.

    Args:
        id: the run's id in the room (`SentRun.id`), or `None`.
        name: the display name as sent (or "student N" while hidden): text, not HTML;
            the figures escape it.
        student: the sender's number in the room, or `None`.
        x: the run's value of the view's parameter: a number on a numeric axis, the
            value's text on a categorical one, the run's name when nothing differs;
            `None` when the run has no config or no such setting.
        x_text: that value as text (`"—"` when there is none).
        values: every differing setting's value, as text, by flat key.
        final_metric: the metric after the last epoch (`compare.final_metric`), or
            `None` (diverged, or another metric than the view's).
        final_loss: the validation loss after the last epoch (else the training
            loss), or `None`.
        step0: the gradient reaching step 0 over the one at the last step, or `None`.
        level: `readings.run_level`: "learned", "learned a little", "learned nothing",
            or `None` when no baseline was recorded.
        status: the history's status ("finished", "stopped", "diverged").
        epochs: the epoch numbers of the loss curve.
        loss: training loss per epoch (`None` where not finite).
        val_loss: validation loss per epoch (`None` where not recorded or not finite).
        verdict: the verdict the student saw.
        config: the run's config dict, or `None`.
        history: the run's history, in the app's layout (for Compare Runs).
    """

    id: int | None
    name: str
    student: int | None
    x: Any
    x_text: str
    values: Mapping[str, str]
    final_metric: float | None
    final_loss: float | None
    step0: float | None
    level: str | None
    status: str
    epochs: tuple[int, ...]
    loss: tuple[float | None, ...]
    val_loss: tuple[float | None, ...]
    verdict: str
    config: Mapping[str, Any] | None
    history: Mapping[str, Any] = field(repr=False)

    def as_run_summary(self) -> compare.RunSummary:
        """The run in the form Compare Runs reads (`compare.RunSummary`)."""
        return compare.RunSummary(self.name, self.config, self.history)


@dataclass(frozen=True)
class ClassView:
    """Every run of a room, on the axis of the setting that differs between them.

    Args:
        runs: the runs, in the order given (the order they arrived).
        parameter: the flat key on the x axis (e.g. `"training.learning_rate"`), or
            `None` when no setting differs (the runs then stand under their names).
        label: the x axis's title, e.g. `"Learning rate (training.learning_rate)"`.
        numeric: whether x is a number (else categories).
        log_x: whether x spans `LOG_SPAN` or more (draw it on a log axis).
        categories: the categories in axis order, when x is not numeric.
        metric: the metric key compared (`"val_accuracy"`, `"val_mae"`...), the one
            most runs recorded, or `None`.
        metric_label: the metric for a person, e.g. `"validation accuracy (fraction
            correct)"`.
        differing: every differing setting, as `compare.differing_parameters` gives it
            (`{"key", "label", "values"}`).
        notes: what a viewer should know: other settings that differ, runs left off an
            axis and why.
    """

    runs: tuple[ClassRun, ...]
    parameter: str | None
    label: str
    numeric: bool
    log_x: bool
    categories: tuple[str, ...]
    metric: str | None
    metric_label: str
    differing: tuple[Mapping[str, Any], ...]
    notes: tuple[str, ...]

    @property
    def placed(self) -> tuple[ClassRun, ...]:
        """The runs that have a place on the x axis."""
        return tuple(run for run in self.runs if run.x is not None)


def class_view(runs: Sequence[Any], layer: str | None = None) -> ClassView:
    """Build the class view's data from a room's runs.

    Args:
        runs: the room's runs: `store.SentRun`s, or dicts with `name` and `summary`
            (and optionally `id`, `student`), or `(name, summary)` pairs. A summary is
            what `summary.summary_of` makes (`config`, `history`, `verdict`).
        layer: the layer whose gradient reaching step 0 is read, e.g. `"layer0"`.
            Default: `None`, each run's first (as the verdict reads it).

    Returns:
        A `ClassView`; with no runs, one with no runs and no parameter.

    Raises:
        ValueError: naming `runs` (and the item), when an item has none of the forms.
    """
    items = [_item(item, index) for index, item in enumerate(_sequence(runs))]
    configs: list[ExperimentConfig | None] = [_config(summary) for _, _, _, summary in items]
    notes: list[str] = []
    known = [config for config in configs if config is not None]
    differing = compare.differing_parameters(known) if len(known) > 1 else []
    parameter = _pick_parameter(differing)
    if parameter is not None:
        # Settings only some runs have (a second layer's) differ by being there; the
        # layer count that makes them is the one worth naming.
        others = [row["label"] for row in differing if row["key"] != parameter["key"]
                  and len(set(row["values"]) - {_MISSING}) > 1]
        if others:
            notes.append("also differ: " + ", ".join(others))
        unknown = sum(config is None for config in configs)
        if unknown:
            notes.append(f"{_count(unknown, 'run')} without a config, not placed on the axis")
    histories = [_history(summary) for _, _, _, summary in items]
    metrics = Counter(m for m in (compare.metric_name(h) for h in histories) if m)
    metric = metrics.most_common(1)[0][0] if metrics else None
    other_metric = 0
    flat = [config.values() if config is not None else None for config in configs]
    built = []
    for (run_id, name, student, summary), values, history in zip(items, flat, histories):
        row_values = {}
        if values is not None:
            for row in differing:
                key = row["key"]
                row_values[key] = (format_text(param_for_key(key), values[key])
                                   if key in values else _MISSING)
        if parameter is None:
            x = x_text = name
        elif values is None or parameter["key"] not in values:
            x, x_text = None, _MISSING
        else:
            raw = values[parameter["key"]]
            x_text = row_values[parameter["key"]]
            x = raw if _is_number(raw) else x_text
        run_metric = compare.metric_name(history)
        final = compare.final_metric(history) if run_metric == metric else None
        if run_metric and run_metric != metric:
            other_metric += 1
        rows = [row for row in history.get("epochs") or [] if isinstance(row, Mapping)]
        run_layer = layer or readings._first_layer(rows) or "layer0"
        built.append(ClassRun(
            id=run_id, name=name, student=student, x=x, x_text=x_text, values=row_values,
            final_metric=final, final_loss=compare.final_loss(history),
            step0=compare.step0_ratio(history, run_layer), level=readings.run_level(history),
            status=str(history.get("status") or ""),
            epochs=tuple(compare._epoch_number(row, i) for i, row in enumerate(rows)),
            loss=tuple(_finite(row.get("loss")) for row in rows),
            val_loss=tuple(_finite(row.get("val_loss")) for row in rows),
            verdict=str(summary.get("verdict") or ""), config=summary.get("config"),
            history=history))
    lacking = sum(run.x is None for run, config in zip(built, configs) if config is not None)
    if lacking:
        notes.append(f"{_count(lacking, 'run')} without {parameter['key']}, not placed on "
                     "the axis")
    if other_metric:
        notes.append(f"{_count(other_metric, 'run')} recorded another metric than "
                     f"{metric}, left off the metric chart")
    placed = [run.x for run in built if run.x is not None]
    numeric = bool(placed) and parameter is not None and all(_is_number(x) for x in placed)
    if not numeric:
        # Categories as text, in the order of their values where they compare (units
        # "8" before "64"), else as they first arrived.
        built = [run if run.x is None or isinstance(run.x, str) else
                 _replace_x(run, run.x_text) for run in built]
    categories: tuple[str, ...] = ()
    if not numeric:
        categories = tuple(dict.fromkeys(run.x for run in built if run.x is not None))
        if parameter is not None:
            order = _category_order(built, parameter["key"], flat)
            categories = tuple(sorted(categories, key=lambda text: order.get(text, math.inf)))
    log_x = numeric and min(placed) > 0 and max(placed) / min(placed) >= LOG_SPAN
    if parameter is None:
        label = "run"
    else:
        label = f"{parameter['label']} ({parameter['key']})"
    return ClassView(runs=tuple(built), parameter=parameter["key"] if parameter else None,
                     label=label, numeric=numeric, log_x=bool(log_x), categories=categories,
                     metric=metric, metric_label=_metric_label(metric),
                     differing=tuple(differing), notes=tuple(notes))


# ----------------------------------------------------------------------------------------


def _sequence(runs: Any) -> Sequence[Any]:
    if isinstance(runs, (str, bytes, Mapping)) or not isinstance(runs, Sequence):
        raise ValueError(f"runs: expected a list of a room's runs, got {type(runs).__name__}")
    return runs


def _item(item: Any, index: int) -> tuple[int | None, str, int | None, Mapping[str, Any]]:
    if hasattr(item, "summary") and hasattr(item, "name"):  # a store.SentRun
        return item.id, str(item.name), item.student, item.summary or {}
    if isinstance(item, Mapping) and isinstance(item.get("summary"), Mapping):
        return (item.get("id"), str(item.get("name", f"run {index + 1}")), item.get("student"),
                item["summary"])
    if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], Mapping):
        return None, str(item[0]), None, item[1]
    raise ValueError(f"runs[{index}]: expected a SentRun, a dict with 'name' and 'summary', "
                     f"or a (name, summary) pair; got {type(item).__name__}")


def _config(summary: Mapping[str, Any]) -> ExperimentConfig | None:
    config = summary.get("config")
    if not isinstance(config, Mapping):
        return None
    try:
        return ExperimentConfig.from_dict(config)
    except ConfigError:
        return None  # the store checks configs; one from elsewhere may not be valid


def _history(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    history = summary.get("history")
    return history if isinstance(history, Mapping) else {}


def _pick_parameter(differing: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not differing:
        return None
    # The most distinct values wins; the registry's order breaks ties (rows come in it).
    return max(differing, key=lambda row: len(set(row["values"]) - {_MISSING}))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _replace_x(run: ClassRun, x: str) -> ClassRun:
    return dataclasses.replace(run, x=x)


def _category_order(runs: list[ClassRun], key: str,
                    flat: list[dict[str, Any] | None]) -> dict[str, float]:
    raw = {}
    for run, values in zip(runs, flat):
        if run.x is not None and values is not None and key in values:
            raw.setdefault(run.x, values[key])
    try:
        ranked = sorted(raw, key=lambda text: raw[text])
    except TypeError:
        ranked = list(raw)  # values of different kinds (a dict and a string) do not compare
    return {text: float(place) for place, text in enumerate(ranked)}


def _metric_label(metric: str | None) -> str:
    if metric is None:
        return "metric"
    bare = metric.removeprefix("val_")
    prefix = "validation " if metric.startswith("val_") else ""
    return prefix + _METRIC_LABELS.get(bare, bare)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"
