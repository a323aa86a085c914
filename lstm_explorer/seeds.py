"""Repeat a run over several seeds, and tell a real difference from one seed's luck.

One run says little about a setting: the Lab's own cells experiment (adding, 40 steps,
10 epochs) learns with some training seeds and not with others. Here a config is trained
once per seed, the histories are summed up per epoch (median and spread), and groups of
seed runs that differ in one parameter are compared: a difference counts only when it is
larger than the spread between seeds.

**What "seed" means.** A repeat changes `training.seed`, which draws the initial weights,
the dropout masks and the order of the training batches. The data stay the same
(`task.seed` is kept), so the repeats differ only in what the training seed decides and
their trivial baselines are identical. `vary_data=True` moves `task.seed` by the same
offsets, for a question about the data's luck as well. Seeds that a config pins by hand
(an initializer's own `seed`, a layer's `seed` for its dropout masks) stay pinned. The
seeds are consecutive from the config's own: a config with `training.seed` 0 repeated 5
times trains seeds 0 to 4, so the first repeat is the run without repetition.

**The spread.** Per epoch and per seed-group: the median, the range (min–max) and the
interquartile range of every metric, of the gradient reaching each step, and of the
share of the last step's gradient that reaches step 0; gradient norms, which span many
orders of magnitude, are summed up on a log scale. Two groups differ beyond the spread
between seeds when their ranges of the final score do not overlap; a seed with no finite
score (it diverged, or stopped before its first epoch) counts as the worst score there is.

```
python -m lstm_explorer train --config CFG.json --out DIR --seeds 5
    DIR/seed-0/ ... DIR/seed-4/   a run directory per seed, as `train` writes
    DIR/seeds.json                the aggregate (`aggregate`) and the verdict over seeds
    DIR/verdict.txt               the verdict over seeds (also the last line printed)
```

Nothing here imports Streamlit; the statistics and the wording are pure functions of
histories, tested without training.

Example:

>>> def run(seed, loss):
...     return RunSummary(f"seed {seed}", None, {"epochs": [{"epoch": 1, "val_loss": loss}]})
>>> lstm = SeedGroup.of("LSTM", [run(s, v) for s, v in enumerate([0.01, 0.02, 0.03])])
>>> rnn = SeedGroup.of("SimpleRNN", [run(s, v) for s, v in enumerate([0.16, 0.17, 0.18])])
>>> lstm.history["epochs"][0]["val_loss"], lstm.aggregate()["metrics"]["val_loss"]["max"]
(0.02, [0.03])
>>> compare_groups([lstm, rnn]).beyond_spread
True
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from lstm_explorer import compare, readings
from lstm_explorer import figures as _figures
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError

__all__ = [
    "MAX_SEEDS",
    "SEEDS_FILE",
    "GroupScore",
    "SeedGroup",
    "SpreadComparison",
    "aggregate",
    "as_group",
    "check_seeds",
    "compare_groups",
    "epoch_stats",
    "median_history",
    "metric_band",
    "repeat",
    "repeat_configs",
    "score_key",
    "seed_configs",
    "seed_values",
    "stats",
    "step_stats",
    "verdict",
    "write_group",
]

#: The most seeds one repeat trains: twenty already shows a spread's shape, and each seed
#: is a whole training.
MAX_SEEDS = 20
SEEDS_FILE = "seeds.json"
VERDICT_FILE = "verdict.txt"
SEED_KEY, DATA_SEED_KEY = "training.seed", "task.seed"
_SEED_LIMIT = 2**31 - 1  # the registry's maximum for both seeds

WITHIN = "within the spread between seeds: this difference may be one seed's luck"

# History keys whose values span orders of magnitude: summed up on a log scale.
_LOG_KEYS = ("grad_h", "grad_c", "weight_grad_norms")
_LABELS = {"val_loss": "validation loss", "loss": "training loss",
           "val_accuracy": "validation accuracy", "accuracy": "training accuracy",
           "val_mae": "validation mae", "mae": "training mae"}


# ----------------------------------------------------------------------------------------
# Which seeds


def check_seeds(n: Any, field: str = "seeds") -> int:
    """The number of seeds, checked: an integer from 1 to `MAX_SEEDS`.

    Args:
        n: the number asked for.
        field: the argument's name in the error (`"--seeds"` on the command line).
            Default: `"seeds"`.

    Raises:
        ConfigError: naming `field` and echoing `n`.

    Example:

    >>> check_seeds(5)
    5
    >>> check_seeds(0, "--seeds")
    Traceback (most recent call last):
    ...
    lstm_explorer.errors.ConfigError: --seeds=0: must be an integer from 1 to 20
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SEEDS:
        raise ConfigError(field, n, f"must be an integer from 1 to {MAX_SEEDS}")
    return int(n)


def seed_values(config: ExperimentConfig, n: int, field: str = "seeds") -> list[int]:
    """The training seeds of `n` repeats: consecutive, from the config's own.

    Args:
        config: the config to repeat.
        n: how many seeds, 1 to `MAX_SEEDS`.
        field: the argument's name in errors. Default: `"seeds"`.

    Raises:
        ConfigError: naming `field`, when `n` is out of range or the last seed would pass
            the registry's maximum (2³¹ - 1).

    Example:

    >>> seed_values(ExperimentConfig.default().with_values({"training.seed": 7}), 3)
    [7, 8, 9]
    """
    n = check_seeds(n, field)
    first = config.training["seed"]
    last = max(first, config.task["seed"]) + n - 1
    if last > _SEED_LIMIT:
        raise ConfigError(field, n, f"seeds from {first} would pass the largest seed, "
                                    f"{_SEED_LIMIT}; lower training.seed first")
    return [first + offset for offset in range(n)]


def seed_configs(config: ExperimentConfig, n: int, *, vary_data: bool = False,
                 field: str = "seeds") -> list[tuple[int, ExperimentConfig]]:
    """One config per seed: `training.seed` moved (and `task.seed` with `vary_data`).

    Args:
        config: the config to repeat.
        n: how many seeds, 1 to `MAX_SEEDS`.
        vary_data: move `task.seed` by the same offsets, so that each repeat draws its
            own data too. Default: `False` (the same data in every repeat).
        field: the argument's name in errors. Default: `"seeds"`.

    Returns:
        `(training seed, config)` pairs, in seed order.

    Example:

    >>> base = ExperimentConfig.default()
    >>> [(seed, c.training["seed"], c.task["seed"]) for seed, c in seed_configs(base, 2)]
    [(0, 0, 0), (1, 1, 0)]
    >>> [c.task["seed"] for _, c in seed_configs(base, 2, vary_data=True)]
    [0, 1]
    """
    out = []
    data_seed = config.task["seed"]
    for offset, seed in enumerate(seed_values(config, n, field)):
        values: dict[str, Any] = {SEED_KEY: seed}
        if vary_data:
            values[DATA_SEED_KEY] = data_seed + offset
        out.append((seed, config.with_values(values)))
    return out


def _seeds_text(seeds: Sequence[int]) -> str:
    """`seeds 0 to 4`, `seeds 0, 3 and 7`, `seed 2`."""
    seeds = list(seeds)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]} to {seeds[-1]}"
    return "seeds " + _join([str(seed) for seed in seeds])


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------------------------------
# Statistics (pure)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def stats(values: Sequence[Any], log: bool = False) -> dict[str, Any]:
    """Median, range and interquartile range of the finite values among `values`.

    Args:
        values: numbers; `None`, NaN and infinities are left out (and not counted).
        log: sum up on a log scale (for gradient norms): the quartiles are taken of
            log10 of the values, so that a median of 1e-8 and 1e-2 is 1e-5, not 0.005.
            Falls back to the plain scale when a value is zero or negative.
            Default: `False`.

    Returns:
        `{"median", "min", "max", "q1", "q3", "count"}`; the statistics are `None` when
        no value is finite.

    Example:

    >>> stats([3.0, 1.0, None, 2.0, float("nan"), 4.0, 5.0])
    {'median': 3.0, 'min': 1.0, 'max': 5.0, 'q1': 2.0, 'q3': 4.0, 'count': 5}
    >>> stats([1e-8, 1e-2], log=True)["median"]
    1e-05
    """
    finite = np.asarray([value for value in map(_finite, values) if value is not None])
    if not finite.size:
        return {"median": None, "min": None, "max": None, "q1": None, "q3": None, "count": 0}
    on_log = log and bool(np.all(finite > 0))
    scaled = np.log10(finite) if on_log else finite
    q1, median, q3 = np.quantile(scaled, [0.25, 0.5, 0.75])
    back = (lambda x: float(f"{10.0 ** x:.12g}")) if on_log else float
    return {"median": back(median), "min": float(finite.min()), "max": float(finite.max()),
            "q1": back(q1), "q3": back(q3), "count": int(finite.size)}


_STAT_NAMES = ("median", "min", "max", "q1", "q3", "count")


def _rows(history: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    rows = (history or {}).get("epochs") if isinstance(history, Mapping) else None
    return [row for row in rows or [] if isinstance(row, Mapping)]


def epoch_stats(histories: Sequence[Mapping[str, Any]],
                value: str | Callable[[Mapping[str, Any]], Any],
                log: bool = False) -> dict[str, list]:
    """Per epoch, the statistics (`stats`) of one number over the histories.

    Epoch k is the k-th row of each history; a history that ended earlier (it diverged
    or was stopped) no longer counts from there, as `count` shows.

    Args:
        histories: training histories, one per seed.
        value: a row key (`"val_loss"`) or a function of a row returning the number.
        log: sum up on a log scale (see `stats`). Default: `False`.

    Returns:
        `{"epochs": [1, 2, ...], "median": [...], "min": [...], "max": [...], "q1":
        [...], "q3": [...], "count": [...]}`, one entry per epoch.

    Example:

    >>> a = {"epochs": [{"loss": 1.0}, {"loss": 0.5}]}
    >>> b = {"epochs": [{"loss": 3.0}]}
    >>> epoch_stats([a, b], "loss")["median"], epoch_stats([a, b], "loss")["count"]
    ([2.0, 0.5], [2, 1])
    """
    read = value if callable(value) else (lambda row: row.get(value))
    all_rows = [_rows(history) for history in histories]
    longest = max((len(rows) for rows in all_rows), default=0)
    out: dict[str, list] = {"epochs": list(range(1, longest + 1))}
    out.update({name: [] for name in _STAT_NAMES})
    for index in range(longest):
        summary = stats([read(rows[index]) for rows in all_rows if len(rows) > index], log)
        for name in _STAT_NAMES:
            out[name].append(summary[name])
    return out


def _probe_series(row: Mapping[str, Any], quantity: str, layer: str) -> list | None:
    probe = row.get("probe")
    per_layer = probe.get(quantity) if isinstance(probe, Mapping) else None
    values = per_layer.get(layer) if isinstance(per_layer, Mapping) else None
    return list(values) if isinstance(values, (list, tuple)) else None


def step_stats(histories: Sequence[Mapping[str, Any]], layer: str = "layer0",
               quantity: str = "grad_h", epoch: int = -1) -> dict[str, Any] | None:
    """Per time step, the statistics of a per-step gradient norm over the histories.

    Args:
        histories: training histories, one per seed.
        layer: the layer key in the probe. Default: `"layer0"`.
        quantity: `"grad_h"` or `"grad_c"`. Default: `"grad_h"`.
        epoch: the epoch number (1-based), or a negative index over the epochs (`-1`:
            the last epoch any history reached). Default: `-1`.

    Returns:
        `{"epoch": number, "median": [per step], "min", "max", "q1", "q3", "count"}` on
        a log scale, or `None` when no history recorded this gradient at that epoch.

    Example:

    >>> h = lambda g: {"epochs": [{"probe": {"grad_h": {"layer0": g}}}]}
    >>> step_stats([h([1e-6, 1.0]), h([1e-2, 1.0]), h([1e-4, 1.0])])["median"]
    [0.0001, 1.0]
    """
    all_rows = [_rows(history) for history in histories]
    longest = max((len(rows) for rows in all_rows), default=0)
    index = epoch - 1 if epoch > 0 else longest + epoch
    if not 0 <= index < longest:
        return None
    series = [_probe_series(rows[index], quantity, layer) for rows in all_rows
              if len(rows) > index]
    series = [values for values in series if values]
    if not series:
        return None
    steps = max(len(values) for values in series)
    out: dict[str, Any] = {"epoch": index + 1}
    out.update({name: [] for name in _STAT_NAMES})
    for step in range(steps):
        summary = stats([values[step] for values in series if len(values) > step], log=True)
        for name in _STAT_NAMES:
            out[name].append(summary[name])
    return out


def _step0_share(layer: str, quantity: str = "grad_h") -> Callable[[Mapping], float | None]:
    def share(row: Mapping[str, Any]) -> float | None:
        values = _probe_series(row, quantity, layer)
        if not values:
            return None
        first, last = _finite(values[0]), _finite(values[-1])
        if first is None or last is None or last <= 0 or first < 0:
            return None
        return first / last
    return share


def _layers(histories: Sequence[Mapping[str, Any]], quantity: str) -> list[str]:
    found: list[str] = []
    for history in histories:
        for row in _rows(history):
            probe = row.get("probe")
            per_layer = probe.get(quantity) if isinstance(probe, Mapping) else None
            for layer in per_layer or {}:
                if layer not in found:
                    found.append(layer)
    return found


def _numeric_keys(histories: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: list[str] = []
    for history in histories:
        for row in _rows(history):
            for key, value in row.items():
                if key in ("epoch", "probe") or key in keys:
                    continue
                if value is None or (isinstance(value, (int, float))
                                     and not isinstance(value, bool)):
                    keys.append(key)
    return keys


def score_key(histories: Sequence[Mapping[str, Any]]) -> tuple[str, bool]:
    """The history key a group of runs is judged by, and whether higher is better.

    The key of the trivial baseline stored with the runs (`val_loss` for adding,
    `val_accuracy` for recall: what a run's verdict judges it by); without one, the
    metric `compare.metric_name` picks, and else the validation (or training) loss.

    Example:

    >>> score_key([{"epochs": [{"val_loss": 0.1, "val_accuracy": 0.5}]}])
    ('val_accuracy', True)
    >>> score_key([{"epochs": [], "baseline": {"key": "val_loss"}}])
    ('val_loss', False)
    """
    for history in histories:
        baseline = (history or {}).get("baseline")
        if isinstance(baseline, Mapping) and baseline.get("key"):
            key = str(baseline["key"])
            return key, bool(baseline.get("higher_is_better", "accuracy" in key))
    for history in histories:
        name = compare.metric_name(history)
        if name:
            return name, "accuracy" in name
    has_val = any(row.get("val_loss") is not None for h in histories for row in _rows(h))
    return ("val_loss" if has_val else "loss"), False


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("val_", "validation "))


def _show(value: float | None, accuracy: bool) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.3g}%" if accuracy else f"{value:.3g}"


def _sci(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.1e}"


def aggregate(histories: Sequence[Mapping[str, Any]], seeds: Sequence[int] | None = None
              ) -> dict[str, Any]:
    """Per-epoch median and spread of every metric and gradient of a group of runs.

    Args:
        histories: training histories, one per seed.
        seeds: the seed of each history. Default: `None` (0, 1, 2, ...).

    Returns:
        A JSON-ready dict: `seeds`; `epochs` (1 to the longest run); `metrics` (each
        numeric row key such as `loss`, `val_loss`, `val_accuracy`, `seconds`:
        `epoch_stats`); `gradients` (`{quantity: {layer: {"median": [[per step] per
        epoch], "min", "max", "q1", "q3", "count"}}}`, on a log scale); `step0_share`
        (`{layer: epoch_stats}` of grad_h[0] / grad_h[-1]); and `score`: the final
        value of the judged key (`score_key`) per seed, with its statistics.

    Example:

    >>> rows = lambda *losses: {"epochs": [{"epoch": i + 1, "loss": v}
    ...                                    for i, v in enumerate(losses)]}
    >>> summary = aggregate([rows(1.0, 0.2), rows(2.0, 0.4), rows(3.0, 0.9)], seeds=[4, 5, 6])
    >>> summary["metrics"]["loss"]["median"], summary["metrics"]["loss"]["min"]
    ([2.0, 0.4], [1.0, 0.2])
    >>> summary["score"]["key"], summary["score"]["values"], summary["score"]["median"]
    ('loss', [0.2, 0.4, 0.9], 0.4)
    """
    histories = list(histories)
    seeds = list(seeds) if seeds is not None else list(range(len(histories)))
    if len(seeds) != len(histories):
        raise ValueError(f"seeds: expected one per history ({len(histories)}), got {len(seeds)}")
    longest = max((len(_rows(history)) for history in histories), default=0)
    metrics = {key: _without_epochs(epoch_stats(histories, key))
               for key in _numeric_keys(histories)}
    gradients: dict[str, dict[str, Any]] = {}
    for quantity in ("grad_h", "grad_c"):
        for layer in _layers(histories, quantity):
            per_epoch = [step_stats(histories, layer, quantity, epoch)
                         for epoch in range(1, longest + 1)]
            gradients.setdefault(quantity, {})[layer] = {
                name: [found[name] if found else None for found in per_epoch]
                for name in _STAT_NAMES}
    shares = {layer: _without_epochs(epoch_stats(histories, _step0_share(layer), log=True))
              for layer in _layers(histories, "grad_h")}
    key, higher = score_key(histories)
    finals = [_final(history, key) for history in histories]
    return {
        "seeds": seeds,
        "epochs": list(range(1, longest + 1)),
        "metrics": metrics,
        "gradients": gradients,
        "step0_share": shares,
        "score": {"key": key, "higher_is_better": higher, "values": finals,
                  **stats(finals)},
    }


def _without_epochs(found: dict[str, list]) -> dict[str, list]:
    return {name: values for name, values in found.items() if name != "epochs"}


def _final(history: Mapping[str, Any], key: str) -> float | None:
    """The run's final `key`: its last row's (a diverged run's last row has none)."""
    rows = _rows(history)
    return _finite(rows[-1].get(key)) if rows else None


# ----------------------------------------------------------------------------------------
# The median run


def _median_tree(items: Sequence[Any], log: bool = False) -> Any:
    """The element-wise median of like-shaped values: numbers, lists, dicts of them."""
    present = [item for item in items if item is not None]
    if not present:
        return None
    if all(isinstance(item, Mapping) for item in present):
        keys: list[Any] = []
        for item in present:
            keys.extend(key for key in item if key not in keys)
        return {key: _median_tree([item.get(key) for item in present],
                                  log or key in _LOG_KEYS) for key in keys}
    if all(isinstance(item, (list, tuple)) for item in present):
        longest = max(len(item) for item in present)
        return [_median_tree([item[index] for item in present if len(item) > index], log)
                for index in range(longest)]
    if all(isinstance(item, (int, float, np.number)) and not isinstance(item, bool)
           for item in present):
        if all(isinstance(item, (int, np.integer)) for item in present) and \
                len(set(present)) == 1:
            return int(present[0])  # an epoch number, a batch count: the same in every run
        return stats(present, log)["median"]
    return present[0]  # strings and flags: the first run's


def median_history(histories: Sequence[Mapping[str, Any]], seeds: Sequence[int] | None = None
                   ) -> dict[str, Any]:
    """A history whose every number is the median over the histories, epoch by epoch.

    Every function that reads one history (`compare`, `readings`, the Lab's
    conclusions) reads this one as "the typical seed". Gradient norms take the median
    on a log scale; each epoch's median is over the runs that reached that epoch with a
    finite value. Its `status` is `"finished"` unless every run diverged (`"diverged"`)
    or some run was stopped (`"stopped"`); `notes` name the seeds that diverged or
    stopped.

    Args:
        histories: training histories, one per seed.
        seeds: the seed of each. Default: `None` (0, 1, 2, ...).

    Example:

    >>> h = lambda loss, g: {"epochs": [{"epoch": 1, "loss": loss,
    ...                                  "probe": {"grad_h": {"layer0": [g, 1.0]}}}],
    ...                      "status": "finished"}
    >>> row = median_history([h(0.1, 1e-6), h(0.3, 1e-2)])["epochs"][0]
    >>> row["loss"], row["probe"]["grad_h"]["layer0"]
    (0.2, [0.0001, 1.0])
    """
    histories = list(histories)
    seeds = list(seeds) if seeds is not None else list(range(len(histories)))
    all_rows = [_rows(history) for history in histories]
    longest = max((len(rows) for rows in all_rows), default=0)
    statuses = [str((history or {}).get("status") or "") for history in histories]
    # The median seed diverged when at least half did: at the epoch by which half had.
    diverged_at = sorted(epoch for epoch in map(_diverged_epoch, histories) if epoch)
    half = math.ceil(len(histories) / 2)
    median_diverged = diverged_at[half - 1] if histories and len(diverged_at) >= half else None
    rows = []
    for index in range(min(longest, median_diverged or longest)):
        row = _median_tree([rows[index] for rows in all_rows if len(rows) > index])
        row["epoch"] = index + 1
        rows.append(row)
    if median_diverged is not None and rows:
        rows[-1]["loss"] = None  # where the median seed's loss became NaN
    if median_diverged is not None:
        status = "diverged"
    elif "stopped" in statuses:
        status = "stopped"
    else:
        status = "finished"
    notes = _problem_notes(seeds, statuses)
    baselines = [history.get("baseline") for history in histories
                 if isinstance((history or {}).get("baseline"), Mapping)]
    count = f"{len(histories)} seed{'s' * (len(histories) != 1)}"
    out: dict[str, Any] = {"epochs": rows, "status": status, "notes": notes,
                           "message": f"Median over {count}."}
    if baselines:
        out["baseline"] = _median_tree(baselines)
    if median_diverged is not None:
        out["message"] = (f"The median seed diverged in epoch {median_diverged}: "
                          f"{len(diverged_at)} of {count} diverged.")
    return out


def _diverged_epoch(history: Mapping[str, Any]) -> int | None:
    """The epoch in which a run's loss became NaN or infinite, if it diverged."""
    rows = _rows(history)
    for index, row in enumerate(rows):
        if "loss" in row and _finite(row.get("loss")) is None:
            return int(row.get("epoch") or index + 1)
    if (history or {}).get("status") == "diverged":
        return len(rows) or 1
    return None


def _problem_notes(seeds: Sequence[int], statuses: Sequence[str]) -> list[str]:
    notes = []
    for kind in ("diverged", "stopped"):
        which = [seed for seed, status in zip(seeds, statuses, strict=True) if status == kind]
        if which and len(which) < len(seeds):
            notes.append(f"{_seeds_text(which)} {kind}")
        elif which:
            notes.append(f"every seed {kind}")
    return notes


@dataclass
class SeedGroup(RunSummary):
    """One setting trained once per seed: its runs, and the median run that stands for it.

    A `compare.RunSummary` whose `history` is `median_history` of its runs and whose
    `readings` are their medians (`seconds`: the total), so every comparison figure and
    conclusion that takes runs takes seed groups too; the band-aware figures
    (`compare.compare_loss_curves`, `compare_gradient_flow`, `compare_step0_gradient`,
    `compare_sweep`, `metric_band`) draw the spread from `runs` as well.

    Build one with `SeedGroup.of(name, runs, seeds)`.

    Args:
        runs: the per-seed `RunSummary`s, in seed order. Default: `[]`.
        seeds: the training seed of each run. Default: `[]`.
    """

    runs: list[RunSummary] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, name: str, runs: Sequence[RunSummary], seeds: Sequence[int] | None = None, *,
           value: Any = None, run_dir: Path | None = None) -> SeedGroup:
        """The group of `runs` (one per seed), named `name`.

        Args:
            name: the setting's name, e.g. `"LSTM"` or `"layer.units=8"`.
            runs: one `RunSummary` per seed, at least one.
            seeds: the seed of each run. Default: `None`, each run's config's
                `training.seed` when known, else 0, 1, 2, ...
            value: the swept value the group stands for. Default: `None`.
            run_dir: the folder holding the runs' directories. Default: `None`.

        Raises:
            ValueError: naming `runs` when there is none, or `seeds` when their number
                differs from the runs'.
        """
        runs = list(runs)
        if not runs:
            raise ValueError(f"runs: expected at least one run of {name!r}, got none")
        if seeds is None:
            seeds = [_config_seed(run) for run in runs]
            if None in seeds or len(set(seeds)) < len(seeds):
                seeds = list(range(len(runs)))
        seeds = [int(seed) for seed in seeds]
        if len(seeds) != len(runs):
            raise ValueError(f"seeds: expected one per run ({len(runs)}), got {len(seeds)}")
        history = median_history([run.history for run in runs], seeds)
        found = _median_tree([dict(run.readings or {}) for run in runs])
        found = found if isinstance(found, dict) else {}
        seconds = [_finite((run.readings or {}).get("seconds")) for run in runs]
        if any(value is not None for value in seconds):
            found["seconds"] = sum(value for value in seconds if value is not None)
        return cls(name, runs[0].config, history, found, run_dir, value, runs, seeds)

    @property
    def histories(self) -> list[Mapping[str, Any]]:
        """The runs' histories, in seed order."""
        return [run.history for run in self.runs]

    def aggregate(self) -> dict[str, Any]:
        """`aggregate` of the runs' histories, with their seeds."""
        return aggregate(self.histories, self.seeds)

    def score(self, key: str | None = None) -> GroupScore:
        """The final score of each seed (see `GroupScore`).

        Args:
            key: the history key. Default: `None`, `score_key` of the runs.
        """
        return _group_score(self, key)

    @property
    def problems(self) -> list[str]:
        """Which seeds diverged or stopped, e.g. `["seed 2 diverged"]`."""
        return list((self.history or {}).get("notes") or [])


def _config_seed(run: RunSummary) -> int | None:
    config = run.config
    if isinstance(config, ExperimentConfig):
        return config.training["seed"]
    if isinstance(config, Mapping):
        seed = (config.get("training") or {}).get("seed", 0)
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    return None


def as_group(run: Any) -> SeedGroup:
    """A `SeedGroup` as is; any other run form (see `compare.as_runs`) as a group of one.

    Example:

    >>> as_group(("a", {"epochs": []})).seeds
    [0]
    """
    if isinstance(run, SeedGroup):
        return run
    (single,) = compare.as_runs([run], bounded=False)
    seed = _config_seed(single)
    return SeedGroup.of(single.name, [single], [seed if seed is not None else 0],
                        value=single.value, run_dir=single.run_dir)


# ----------------------------------------------------------------------------------------
# Comparing groups


@dataclass(frozen=True)
class GroupScore:
    """The final score of each seed of a group.

    Args:
        name: the group's name.
        key: the history key scored, e.g. `"val_loss"`.
        higher_is_better: whether a larger score is better (an accuracy).
        seeds: the seeds, in order.
        values: each seed's final score, `None` where it has none (diverged, stopped
            before its first epoch).
        reasons: why each missing score is missing (`"diverged"`, `"stopped"`, `"no
            value"`), `""` for the others.
        levels: each seed's `readings.run_level` (learned, learned a little, learned
            nothing), `None` where unknown.
    """

    name: str
    key: str
    higher_is_better: bool
    seeds: tuple[int, ...]
    values: tuple[float | None, ...]
    reasons: tuple[str, ...]
    levels: tuple[str | None, ...]

    @property
    def finite(self) -> list[float]:
        return [value for value in self.values if value is not None]

    @property
    def median(self) -> float | None:
        """The median of the seeds with a score; `None` when at least half have none
        (then the median seed has no score either)."""
        if 2 * len(self.missing) >= len(self.values):
            return None
        return stats(self.finite)["median"]

    @property
    def low(self) -> float | None:
        return min(self.finite) if self.finite else None

    @property
    def high(self) -> float | None:
        return max(self.finite) if self.finite else None

    @property
    def missing(self) -> list[int]:
        """The seeds without a score."""
        return [seed for seed, value in zip(self.seeds, self.values, strict=True)
                if value is None]

    def best(self) -> float:
        """The best score of any seed (the worst possible when none has one)."""
        if not self.finite:
            return -math.inf if self.higher_is_better else math.inf
        return max(self.finite) if self.higher_is_better else min(self.finite)

    def worst(self) -> float:
        """The worst score of any seed; a seed without one counts as the worst possible."""
        if self.missing or not self.finite:
            return -math.inf if self.higher_is_better else math.inf
        return min(self.finite) if self.higher_is_better else max(self.finite)

    def text(self) -> str:
        """`LSTM 0.006 (0.004–0.17)`, with the seeds that have no score."""
        accuracy = self.higher_is_better and "accuracy" in self.key
        if not self.finite:
            reasons = set(self.reasons)
            why = reasons.pop() if len(reasons) == 1 else "had no score"
            return f"{self.name}: {why} with every seed"
        if len(self.values) == 1:
            shown = _show(self.values[0], accuracy)
        elif self.median is None:
            # At least half the seeds have no score: no median to give, only the others'.
            others = [seed for seed in self.seeds if seed not in self.missing]
            values = (_show(self.low, accuracy) if self.low == self.high else
                      f"{_show(self.low, accuracy)}–{_show(self.high, accuracy)}")
            reasons = set(reason for reason in self.reasons if reason)
            why = reasons.pop() if len(reasons) == 1 else "no score"
            return (f"{self.name}: {why} with {_seeds_text(self.missing)}, {values} with "
                    f"{_seeds_text(others)}")
        else:
            shown = (f"{_show(self.median, accuracy)} ({_show(self.low, accuracy)}–"
                     f"{_show(self.high, accuracy)})")
        missing = [f"{_seeds_text([seed])} {reason}"
                   for seed, value, reason in zip(self.seeds, self.values, self.reasons,
                                                  strict=True) if value is None]
        return f"{self.name} {shown}" + (f", {_join(missing)}" if missing else "")


def _group_score(group: SeedGroup, key: str | None = None) -> GroupScore:
    higher = None
    if key is None:
        key, higher = score_key(group.histories)
    if higher is None:
        baseline = next((h.get("baseline") for h in group.histories
                         if isinstance((h or {}).get("baseline"), Mapping)
                         and h["baseline"].get("key") == key), None)
        higher = bool(baseline.get("higher_is_better")) if baseline else "accuracy" in key
    values, reasons, levels = [], [], []
    for run in group.runs:
        value = _final(run.history, key)
        values.append(value)
        status = run.status
        reasons.append("" if value is not None else
                       status if status in ("diverged", "stopped") else "had no score")
        levels.append(readings.run_level(run.history) if value is not None else None)
    return GroupScore(group.name, key, bool(higher), tuple(group.seeds), tuple(values),
                      tuple(reasons), tuple(levels))


@dataclass(frozen=True)
class Pair:
    """Two groups compared: whether one is better with every seed.

    Args:
        first, second: the groups' names, in the order given.
        beyond: `True` when the ranges of the final score do not overlap (a seed without
            a score counts as the worst), `False` when they do, `None` when neither group
            has more than one seed.
        better: the name of the group with the better median, `None` on a tie or when
            neither has a score.
        difference: the absolute difference between the medians, when both have one.
    """

    first: str
    second: str
    beyond: bool | None
    better: str | None
    difference: float | None


@dataclass(frozen=True)
class SpreadComparison:
    """Whether groups of seed runs differ by more than the spread between seeds.

    Args:
        key: the history key compared (`score_key`), e.g. `"val_loss"`.
        label: it in words, e.g. `"validation loss"`.
        higher_is_better: whether a larger value is better.
        groups: each group's `GroupScore`, in the order given.
        pairs: every pair of groups, in the order given.
        sentence: the conclusion, in plain words.
    """

    key: str
    label: str
    higher_is_better: bool
    groups: tuple[GroupScore, ...]
    pairs: tuple[Pair, ...]
    sentence: str

    @property
    def beyond_spread(self) -> bool | None:
        """`True` when every pair differs beyond the spread between seeds, `False` when
        some pair does not, `None` when every group has a single seed."""
        known = [pair.beyond for pair in self.pairs if pair.beyond is not None]
        if not known:
            return None
        return all(known) and len(known) == len(self.pairs)

    def pair(self, first: str, second: str) -> Pair:
        """The comparison of two groups by name, in either order.

        Raises:
            KeyError: naming the pair when there is no such pair.
        """
        for pair in self.pairs:
            if {pair.first, pair.second} == {first, second}:
                return pair
        raise KeyError(f"pair=({first!r}, {second!r}): no such pair among "
                       f"{[group.name for group in self.groups]}")


def _pair(a: GroupScore, b: GroupScore) -> Pair:
    higher = a.higher_is_better
    if len(a.values) <= 1 and len(b.values) <= 1:
        beyond = None
    elif higher:
        beyond = a.worst() > b.best() or b.worst() > a.best()
    else:
        beyond = a.worst() < b.best() or b.worst() < a.best()
    better = difference = None
    if a.median is not None and b.median is not None:
        difference = abs(a.median - b.median)
        if a.median != b.median:
            better = a.name if (a.median > b.median) == higher else b.name
    elif a.median is not None or b.median is not None:
        better = a.name if a.median is not None else b.name
    if beyond and better is None:
        better = a.name if (a.worst() > b.best()) == higher else b.name
    return Pair(a.name, b.name, beyond, better, difference)


def compare_groups(groups: Sequence[Any], key: str | None = None) -> SpreadComparison:
    """Say whether groups of seed runs differ by more than the spread between seeds.

    Two groups differ beyond the spread when the ranges (min–max over seeds) of their
    final score do not overlap: one is better with every seed. A seed without a final
    score (it diverged) counts as the worst score there is, so a group with such a seed
    is never "better with every seed".

    Args:
        groups: 2 to 6 `SeedGroup`s (a plain run counts as a group of one seed; see
            `as_group`).
        key: the history key to compare. Default: `None`, `score_key` of all runs.

    Returns:
        A `SpreadComparison`; its `sentence` gives each group's median and range and
        says, pair by pair, whether the difference is larger than the spread between
        seeds or "within the spread between seeds: this difference may be one seed's
        luck".

    Raises:
        ValueError: naming `groups` when there are fewer than 2 or more than 6.

    Example:

    >>> def group(name, losses):
    ...     runs = [RunSummary(f"seed {s}", None, {"epochs": [{"val_loss": v}]})
    ...             for s, v in enumerate(losses)]
    ...     return SeedGroup.of(name, runs)
    >>> print(compare_groups([group("units=8", [0.10, 0.12, 0.2]),
    ...                       group("units=32", [0.09, 0.11, 0.13])]).sentence)
    ... # doctest: +NORMALIZE_WHITESPACE
    Final validation loss over 3 seeds (seeds 0 to 2), median (min–max): units=8 0.12
    (0.1–0.2); units=32 0.11 (0.09–0.13). The ranges of units=8 and units=32 overlap: the
    difference between their medians (0.01) is within the spread between seeds: this
    difference may be one seed's luck.
    """
    if isinstance(groups, (str, bytes, Mapping)) or not isinstance(groups, Sequence):
        raise ValueError(f"groups: expected a list of seed groups, got {type(groups).__name__}")
    if not compare.MIN_RUNS <= len(groups) <= compare.MAX_RUNS:
        raise ValueError(f"groups: expected {compare.MIN_RUNS} to {compare.MAX_RUNS} groups "
                         f"to compare, got {len(groups)}")
    groups = [as_group(group) for group in groups]
    if key is None:
        key, higher = score_key([h for group in groups for h in group.histories])
    scores = [group.score(key) for group in groups]
    higher = scores[0].higher_is_better
    pairs = [_pair(a, b) for index, a in enumerate(scores) for b in scores[index + 1:]]
    sentence = _sentence(scores, pairs, key, higher)
    return SpreadComparison(key, _label(key), higher, tuple(scores), tuple(pairs), sentence)


def _sentence(scores: list[GroupScore], pairs: list[Pair], key: str, higher: bool) -> str:
    accuracy = higher and "accuracy" in key
    label = _label(key)
    counts = {len(score.values) for score in scores}
    seed_lists = {score.seeds for score in scores}
    if counts == {1}:
        values = "; ".join(score.text() for score in scores)
        return (f"Final {label}: {values}. One seed per run: there is no spread between "
                "seeds to judge the difference by, so it may be one seed's luck; repeat "
                "each run over several seeds.")
    if len(seed_lists) == 1:
        over = f"over {len(scores[0].seeds)} seeds ({_seeds_text(scores[0].seeds)})"
    else:
        over = "over " + ", ".join(f"{len(s.seeds)} seeds for {s.name}" for s in scores)
    text = (f"Final {label} {over}, median (min–max): "
            + "; ".join(score.text() for score in scores) + ".")
    for score in scores:
        mixed = _mixed_levels(score)
        if mixed:
            text += f" {score.name} {mixed}."
    word = ("higher" if higher else "lower")
    if len(pairs) == 1:
        (pair,) = pairs
        if pair.beyond:
            worse = pair.second if pair.better == pair.first else pair.first
            return (text + f" {pair.better} has a {word} {label} than {worse} with every "
                    "seed: the ranges do not overlap, so the difference is larger than the "
                    "spread between seeds.")
        gap = _difference(pair.difference, accuracy)
        between = f"their medians ({gap})" if gap else "them"
        return (text + f" The ranges of {pair.first} and {pair.second} overlap: the "
                f"difference between {between} is {WITHIN}.")
    beyond = [pair for pair in pairs if pair.beyond]
    within = [pair for pair in pairs if not pair.beyond]
    if beyond:
        listed = [f"{pair.better} {word} than "
                  f"{pair.second if pair.better == pair.first else pair.first}"
                  for pair in beyond]
        text += (" Larger than the spread between seeds (the ranges do not overlap): "
                 + "; ".join(listed) + ".")
    if within:
        listed = [f"{pair.first} and {pair.second}" for pair in within]
        these = ("this difference" if len(within) == 1 else "these differences")
        text += (" Within the spread between seeds: " + "; ".join(listed)
                 + f": {these} may be one seed's luck.")
    return text


def _difference(value: float | None, accuracy: bool) -> str:
    if value is None:
        return ""
    return f"{value * 100:.3g} percentage points" if accuracy else f"{value:.3g}"


_LEVEL_ORDER = (readings.LEARNED, readings.LEARNED_A_LITTLE, readings.LEARNED_NOTHING)


def _mixed_levels(score: GroupScore) -> str:
    """`learned with seeds 0, 1, 3 and 4; learned nothing with seed 2`, when the seeds
    of a group disagree on whether it learned (or some diverged); else `""`."""
    outcomes: dict[str, list[int]] = {}
    for seed, level, reason in zip(score.seeds, score.levels, score.reasons, strict=True):
        outcome = level or reason
        if outcome:
            outcomes.setdefault(outcome, []).append(seed)
    if len(outcomes) < 2:
        return ""
    order = {name: index for index, name in enumerate(_LEVEL_ORDER)}
    parts = [f"{outcome} with {_seeds_text(seeds)}"
             for outcome, seeds in sorted(outcomes.items(),
                                          key=lambda item: order.get(item[0], len(order)))]
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------
# The verdict over seeds


def verdict(group: SeedGroup) -> str:
    """How a setting went over its seeds, in two or three sentences.

    Whether it learned with each seed (as each run's own verdict judges it), the final
    score's median and range against the trivial baseline, and the median and range of
    the gradient share that reaches step 0. A group of one seed gets that run's verdict
    and a note that one seed shows no spread.

    Args:
        group: the seed group.

    Returns:
        The verdict, e.g. "Over 5 seeds (seeds 0 to 4 of training.seed; the same data):
        learned with seeds 0, 1, 3 and 4; learned nothing with seed 2. ..."

    Example:

    >>> base = {"value": 0.167, "description": "always answering 1.0", "key": "val_loss",
    ...         "higher_is_better": False, "margin": 0.02}
    >>> def run(seed, loss):
    ...     rows = [{"epoch": 1, "val_loss": loss,
    ...              "probe": {"grad_h": {"layer0": [0.1, 1.0]}}}]
    ...     return RunSummary(f"seed {seed}", None, {"epochs": rows, "baseline": base,
    ...                                              "status": "finished"})
    >>> print(verdict(SeedGroup.of("", [run(0, 0.01), run(1, 0.17), run(2, 0.02)])))
    ... # doctest: +NORMALIZE_WHITESPACE
    Over 3 seeds (seeds 0 to 2 of training.seed): learned with seeds 0 and 2; learned
    nothing with seed 1. Validation loss: median 0.02, min 0.01, max 0.17, against 0.167
    for always answering 1.0. The gradient reaching step 0 is a median 1.0e-01 of the
    last step's (min 1.0e-01, max 1.0e-01).
    """
    if len(group.runs) == 1:
        run = group.runs[0]
        return (readings.verdict(run.config, run.history) + " One seed only: repeat over "
                "several seeds to see whether another seed would go otherwise.")
    score = group.score()
    accuracy = score.higher_is_better and "accuracy" in score.key
    data = _data_note(group)
    head = f"Over {len(group.seeds)} seeds ({_seeds_text(group.seeds)} of training.seed{data})"
    outcomes = _mixed_levels(score)
    if not outcomes:
        outcome = next((level or reason for level, reason in zip(score.levels, score.reasons,
                                                                 strict=True)
                        if level or reason), None)
        outcomes = (f"{outcome} with every seed" if outcome else
                    "no seed recorded a score to judge it by")
    sentences = [f"{head}: {outcomes}."]
    if score.finite:
        baseline = (group.history or {}).get("baseline")
        against = ""
        if isinstance(baseline, Mapping) and baseline.get("key") == score.key and \
                _finite(baseline.get("value")) is not None:
            against = (f", against {_show(float(baseline['value']), accuracy)} for "
                       f"{baseline.get('description') or 'the trivial answer'}")
        sentences.append(f"{_label(score.key).capitalize()}: median "
                         f"{_show(score.median, accuracy)}, min {_show(score.low, accuracy)}, "
                         f"max {_show(score.high, accuracy)}{against}.")
    layer = next(iter(_layers(group.histories, "grad_h")), None)
    if layer is not None:
        shares = stats([compare.step0_ratio(h, layer) for h in group.histories], log=True)
        if shares["count"]:
            where = "" if layer == "layer0" else f" in {layer}"
            sentences.append(f"The gradient reaching step 0{where} is a median "
                             f"{_sci(shares['median'])} of the last step's (min "
                             f"{_sci(shares['min'])}, max {_sci(shares['max'])}).")
    return " ".join(sentences)


def _data_note(group: SeedGroup) -> str:
    data_seeds = []
    for run in group.runs:
        config = run.config
        task = config.task if isinstance(config, ExperimentConfig) else \
            (config or {}).get("task") if isinstance(config, Mapping) else None
        data_seeds.append((task or {}).get("seed"))
    if None in data_seeds:
        return ""
    return "; the same data" if len(set(data_seeds)) == 1 else "; new data for each seed"


# ----------------------------------------------------------------------------------------
# Training


def _run_folder(seed: int) -> str:
    return f"seed-{seed}"


def repeat_configs(
    named_configs: Sequence[tuple[str, ExperimentConfig]],
    n: int,
    out_dir: str | Path | None = None,
    on_event: Callable[[Any], Any] | None = None,
    *,
    measure: Callable[[Any], dict] | None = None,
    values: Sequence[Any] | None = None,
    epochs: int | None = None,
    stop: threading.Event | None = None,
    progress_every: int | None = None,
    vary_data: bool = False,
    field: str = "seeds",
) -> list[SeedGroup]:
    """Train each config once per seed, one run after another; one `SeedGroup` per config.

    The repeating counterpart of `sweep.run_configs`, with the same events: a
    `sweep.SweepEvent` at each run's start and end and for each trainer event, numbered
    over all the runs (config 1's seeds first), and one `"finished"` at the end. Each
    seed run is named `"<name>, seed K"` (`"seed K"` when the name is empty).

    Args:
        named_configs: `(name, config)` pairs, in order.
        n: seeds per config, 1 to `MAX_SEEDS` (see `seed_configs`).
        out_dir: when given, each run is written to `out_dir/<name>/seed-K/` (or
            `out_dir/seed-K/` for a single config named `""`). Default: `None`.
        on_event: receives the `sweep.SweepEvent`s. Default: `None`.
        measure: called with each `training.TrainingResult`; its dict joins the run's
            readings. Default: `None`.
        values: the value each config stands for (`SeedGroup.value`). Default: `None`.
        epochs: overrides `training.epochs` of every run. Default: `None`.
        stop: when set, the running trainer stops after its current batch and no
            further run starts; a group keeps the seeds that started. Default: `None`.
        progress_every: a progress event every this many batches. Default: `None`.
        vary_data: move `task.seed` with the training seed. Default: `False`.
        field: the seeds argument's name in errors. Default: `"seeds"`.

    Returns:
        One `SeedGroup` per config with at least one run, in order.

    Raises:
        ConfigError: naming `field`, before anything trains, when `n` is out of range.
    """
    from lstm_explorer import runs as runs_module
    from lstm_explorer import sweep

    emit = on_event or (lambda event: None)
    repeats = [(name, seed_configs(config, n, vary_data=vary_data, field=field))
               for name, config in named_configs]
    total = sum(len(seeded) for _, seeded in repeats)
    folders = sweep._unique_folders([name or "run" for name, _ in named_configs])
    groups: list[SeedGroup] = []
    done = 0
    for index, (name, seeded) in enumerate(repeats):
        if stop is not None and stop.is_set():
            break
        group_dir = None
        if out_dir is not None:
            group_dir = Path(out_dir) if name == "" and len(repeats) == 1 else \
                Path(out_dir) / folders[index]

        def keep(result, group_dir=group_dir):
            # Written here, while the trained model is at hand: the summaries that
            # `run_configs` returns hold no model.
            found = (measure(result) or {}) if measure is not None else {}
            if group_dir is not None:
                runs_module.save_run(result, group_dir / _run_folder(
                    result.config.training["seed"]))
            return found

        runs = sweep.run_configs(
            [(f"{name}, seed {seed}" if name else f"seed {seed}", config)
             for seed, config in seeded],
            None, _Renumber(emit, done, total), measure=keep, epochs=epochs, stop=stop,
            progress_every=progress_every)
        done += len(seeded)
        if not runs:
            continue
        seeds = [seed for seed, _ in seeded][:len(runs)]
        if group_dir is not None:
            for run, seed in zip(runs, seeds, strict=True):
                run.run_dir = group_dir / _run_folder(seed)
        groups.append(SeedGroup.of(name, runs, seeds,
                                   value=None if values is None else values[index],
                                   run_dir=group_dir))
    emit(sweep.SweepEvent(sweep.FINISHED, total, total,
                          message=f"Trained {sum(len(g.runs) for g in groups)} of {total} runs."))
    return groups


class _Renumber:
    """Passes a sweep's events on, numbered among all the runs of a repeat, and holds
    back each inner sweep's `"finished"` (the repeat sends one at its very end)."""

    def __init__(self, emit, offset: int, total: int):
        self.emit, self.offset, self.total = emit, offset, total

    def __call__(self, event) -> None:
        from lstm_explorer import sweep

        if event.kind == sweep.FINISHED:
            return
        self.emit(replace(event, index=event.index + self.offset, total=self.total,
                          message=event.message.replace(
                              f"Run {event.index + 1} of {event.total}",
                              f"Run {event.index + 1 + self.offset} of {self.total}")))
def repeat(
    config: ExperimentConfig,
    n: int,
    out_dir: str | Path | None = None,
    on_event: Callable[[Any], Any] | None = None,
    *,
    name: str = "",
    epochs: int | None = None,
    stop: threading.Event | None = None,
    vary_data: bool = False,
    field: str = "seeds",
) -> SeedGroup | None:
    """Train one config once per seed and sum the runs up.

    Args:
        config: the config; its `training.seed` is the first seed.
        n: how many seeds, 1 to `MAX_SEEDS`.
        out_dir: when given, writes `out_dir/seed-K/` run directories, `out_dir/seeds.json`
            and `out_dir/verdict.txt` (see `write_group`). Default: `None`.
        on_event: receives `sweep.SweepEvent`s, one run per seed. Default: `None`.
        name: the group's name. Default: `""`.
        epochs: overrides `training.epochs`. Default: `None`.
        stop: stops the repeat (see `repeat_configs`). Default: `None`.
        vary_data: move `task.seed` with the training seed. Default: `False`.
        field: the seeds argument's name in errors. Default: `"seeds"`.

    Returns:
        The `SeedGroup`, or `None` when stopped before the first seed started.

    Example:

    >>> config = ExperimentConfig.from_dict({"task": {"n_samples": 32, "seq_len": 4},
    ...                                      "model": {"layers": [{"units": 2}]},
    ...                                      "training": {"epochs": 1}})
    >>> group = repeat(config, 2)
    >>> group.seeds, [run.name for run in group.runs], len(group.history["epochs"])
    ([0, 1], ['seed 0', 'seed 1'], 1)
    """
    groups = repeat_configs([("", config)], n, out_dir, on_event, epochs=epochs, stop=stop,
                            vary_data=vary_data, field=field)
    if not groups:
        return None
    group = groups[0]
    group.name = name
    if out_dir is not None:
        write_group(group, out_dir)
    return group


def _json_ready(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_group(group: SeedGroup, out_dir: str | Path) -> Path:
    """Write `out_dir/seeds.json` (the aggregate, each seed's outcome, the verdict) and
    `out_dir/verdict.txt`.

    `seeds.json` holds `name`, `seed_key` (`"training.seed"`), `runs` (per seed: `seed`,
    `run_dir` relative to `out_dir`, `status`, `score`, `level`), `verdict`, and the keys
    of `aggregate` (`seeds`, `epochs`, `metrics`, `gradients`, `step0_share`, `score`).
    Non-finite numbers are written as `null`.

    Args:
        group: the seed group.
        out_dir: the folder (created if missing).

    Returns:
        The path of `seeds.json`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    score = group.score()
    text = verdict(group)
    runs = []
    for run, seed, value, level in zip(group.runs, group.seeds, score.values, score.levels,
                                       strict=True):
        folder = None
        if run.run_dir is not None:
            try:
                folder = str(Path(run.run_dir).relative_to(out_dir))
            except ValueError:
                folder = str(run.run_dir)
        runs.append({"seed": seed, "run_dir": folder, "status": run.status,
                     "score": value, "level": level})
    record = {"name": group.name, "seed_key": SEED_KEY, "runs": runs, "verdict": text,
              **group.aggregate()}
    path = out_dir / SEEDS_FILE
    path.write_text(json.dumps(_json_ready(record), indent=1) + "\n", encoding="utf-8")
    (out_dir / VERDICT_FILE).write_text(text + "\n", encoding="utf-8")
    return path


def conclusion(groups: Sequence[Any], key: str | None = None) -> str:
    """The conclusion over seeds of 1 to 6 groups: `verdict` of a single group, else
    `compare_groups(...).sentence`.

    Example:

    >>> a = SeedGroup.of("a", [RunSummary("s0", None, {"epochs": [{"val_loss": 0.1}]}),
    ...                        RunSummary("s1", None, {"epochs": [{"val_loss": 0.2}]})])
    >>> b = SeedGroup.of("b", [RunSummary("s0", None, {"epochs": [{"val_loss": 0.5}]}),
    ...                        RunSummary("s1", None, {"epochs": [{"val_loss": 0.7}]})])
    >>> conclusion([a, b]).endswith("larger than the spread between seeds.")
    True
    """
    groups = [as_group(group) for group in groups]
    if len(groups) == 1:
        return verdict(groups[0])
    return compare_groups(groups, key).sentence


# ----------------------------------------------------------------------------------------
# The figure


def rgba(colour: str, alpha: float) -> str:
    """`#RRGGBB` as a translucent `rgba(...)`, for a band under its line.

    >>> rgba("#0072B2", 0.2)
    'rgba(0,114,178,0.2)'
    """
    colour = colour.lstrip("#")
    red, green, blue = (int(colour[index:index + 2], 16) for index in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha:g})"


BAND_ALPHA = 0.2


def band_trace(x: Sequence[Any], low: Sequence[Any], high: Sequence[Any], colour: str,
               name: str, **keywords: Any) -> go.Scatter | None:
    """A filled band from `low` to `high` along `x`, in `colour` made translucent.

    Points where either end is missing are left out (a band cannot have gaps); `None`
    when no point is left. The band has no legend entry of its own: give it the
    `legendgroup` of its line (`keywords` go to `go.Scatter`).

    Example:

    >>> band = band_trace([1, 2, 3], [0.1, None, 0.3], [0.2, 0.4, 0.5], "#0072B2", "a")
    >>> list(band.x), list(band.y)
    ([1, 3, 3, 1], [0.2, 0.5, 0.3, 0.1])
    """
    points = [(xi, _finite(lo), _finite(hi)) for xi, lo, hi in zip(x, low, high, strict=True)]
    points = [(xi, lo, hi) for xi, lo, hi in points if lo is not None and hi is not None]
    if not points:
        return None
    xs = [xi for xi, _, _ in points]
    return go.Scatter(
        x=xs + xs[::-1],
        y=[hi for _, _, hi in points] + [lo for _, lo, _ in points][::-1],
        fill="toself",
        fillcolor=rgba(colour, BAND_ALPHA),
        line=dict(width=0, color=rgba(colour, 0.0)),
        mode="lines",
        name=f"{name} (range)",
        showlegend=False,
        hoverinfo="skip",
        **keywords,
    )


@_figures.themed
def metric_band(groups: Sequence[Any], key: str | None = None,
                spread: str = "range") -> go.Figure:
    """One metric per epoch: each group's median line over a band of its spread.

    One colour per group (`compare.run_colour`); the band runs from the lowest to the
    highest seed at each epoch (`spread="range"`) or over the middle half of the seeds
    (`"iqr"`). A loss goes on a log axis when every value is positive.

    Args:
        groups: 1 to 6 `SeedGroup`s (a plain run counts as a group of one seed).
        key: the history key, e.g. `"val_loss"` or `"val_accuracy"`. Default: `None`,
            the key the groups are judged by (`score_key`).
        spread: `"range"` (min–max) or `"iqr"` (first to third quartile).
            Default: `"range"`.

    Returns:
        A figure with, per group with data, a band trace and a median line named by
        the group.

    Raises:
        ValueError: naming `groups` (none, or more than 6) or `spread`.

    Example:

    >>> g = lambda name, *losses: SeedGroup.of(name, [
    ...     RunSummary(f"seed {s}", None, {"epochs": [{"val_loss": v}]})
    ...     for s, v in enumerate(losses)])
    >>> fig = metric_band([g("a", 0.1, 0.3, 0.2), g("b", 0.5, 0.6, 0.7)])
    >>> [trace.name for trace in fig.data], list(fig.data[1].y)
    (['a (range)', 'a', 'b (range)', 'b'], [0.2])
    """
    if spread not in ("range", "iqr"):
        raise ValueError(f"spread={spread!r}: expected 'range' or 'iqr'")
    if isinstance(groups, (str, bytes, Mapping)) or not isinstance(groups, Sequence) or \
            not 1 <= len(groups) <= compare.MAX_RUNS:
        count = len(groups) if isinstance(groups, Sequence) else type(groups).__name__
        raise ValueError(f"groups: expected 1 to {compare.MAX_RUNS} seed groups, got {count}")
    groups = [as_group(group) for group in groups]
    if key is None:
        key, _ = score_key([h for group in groups for h in group.histories])
    label = _label(key)
    title = f"{label[0].upper()}{label[1:]} over seeds"
    fig = _figures._new_figure(title=title)
    low_name, high_name = ("min", "max") if spread == "range" else ("q1", "q3")
    plotted: list[float] = []
    notes = []
    counts = set()
    for index, group in enumerate(groups):
        found = epoch_stats(group.histories, key)
        if not any(value is not None for value in found["median"]):
            notes.append(f"{group.name}: no {key}")
            continue
        counts.add(len(group.runs))
        colour = compare.run_colour(index)
        band = band_trace(found["epochs"], found[low_name], found[high_name], colour,
                          group.name, legendgroup=group.name)
        if band is not None and len(group.runs) > 1:
            fig.add_trace(band)
        plotted += [v for name in ("median", low_name, high_name) for v in found[name]
                    if v is not None]
        median = [np.nan if value is None else value for value in found["median"]]
        fig.add_trace(go.Scatter(
            x=found["epochs"], y=median, mode="lines+markers", name=group.name,
            legendgroup=group.name, line=dict(color=colour),
            customdata=np.stack([[np.nan if v is None else v for v in found[low_name]],
                                 [np.nan if v is None else v for v in found[high_name]],
                                 found["count"]], axis=-1),
            hovertemplate=f"{group.name}<br>epoch %{{x}}<br>median {key} = %{{y:.4g}}<br>"
                          f"{low_name}–{high_name}: %{{customdata[0]:.4g}}–"
                          "%{customdata[1]:.4g} (%{customdata[2]} seeds)<extra></extra>"))
    if not fig.data:
        return _figures.empty_figure(title, "; ".join(notes) or _figures._NO_EPOCHS)
    values = np.asarray(plotted)
    if "accuracy" not in key and values.size and bool(np.all(values > 0)):
        fig.update_yaxes(title_text=f"{key} (log scale)", **_figures._log_axis(values))
    else:
        fig.update_yaxes(title_text=key)
    longest = max(len(group.history.get("epochs") or []) for group in groups)
    fig.update_xaxes(title_text="epoch", **_figures._epoch_ticks(longest))
    seeds = (f"{counts.pop()} seeds" if len(counts) == 1 else "the seeds of each group")
    band = "min–max" if spread == "range" else "middle half (q1–q3)"
    problems = [f"{group.name}: {problem}" for group in groups for problem in group.problems]
    _figures._new_figure(fig, title=title, subtitle="; ".join(
        [f"line: median of {seeds}, band: {band}", *problems, *notes]))
    fig.update_layout(legend=dict(_figures._legend_below(), title=dict(text="run")),
                      hovermode="closest")
    return fig
