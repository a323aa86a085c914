"""Plain-language readings of a training history, computed from the numbers.

The Gradient Flow page shows the per-step gradient norms; `gradient_reading` says in
words what they show: whether the gradient that reaches step 0 has vanished, grown, or
come through. `verdict` says in one to three short sentences how a run went: whether it
learned, against the trivial baseline stored in the history (`tasks.trivial_baseline`),
how much gradient reached the first step, whether the gates saturated, whether it
diverged. `learning_level` is the learned / not learned judgement itself, shared with
the Lab's conclusions. Pure functions of the history dict (DESIGN §3 rows with `probe`);
nothing here needs TensorFlow.

Example:

>>> rows = [{"epoch": 1, "probe": {"grad_h": {"layer0": [1e-7, 1e-4, 0.1]}}}]
>>> gradient_reading({"epochs": rows})
'At epoch 1 the gradient reaching step 0 is 10⁻⁶ of the one at the last step (2): it vanishes.'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Below this ratio (step 0 / last step) the gradient counts as vanished, above its
#: inverse as exploding.
VANISHING_RATIO = 1e-2

#: A run has learned when its final loss is at most this fraction of the trivial
#: baseline's (for an accuracy: when its error rate is at most this fraction of the
#: baseline's error rate).
LEARNED_FRACTION = 0.5

#: A gate is worth a mention when at least this share of its values is saturated.
SATURATED_SHARE = 0.5

LEARNED, LEARNED_A_LITTLE, LEARNED_NOTHING = "learned", "learned a little", "learned nothing"

_GATE_NAMES = {"i": "input", "f": "forget", "o": "output", "z": "update", "r": "reset"}

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float) -> str:
    """A ratio rounded to a power of ten, e.g. `10⁻⁶`.

    >>> power_of_ten(2e-6), power_of_ten(3e4)
    ('10⁻⁶', '10⁴')
    """
    exponent = round(math.log10(value))
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def _ratio_text(ratio: float) -> str:
    if ratio < VANISHING_RATIO or ratio > 1 / VANISHING_RATIO:
        return power_of_ten(ratio)
    return f"{ratio:.2g}×"


def _series(row: Mapping[str, Any], quantity: str, layer: str) -> list[float] | None:
    probe = row.get("probe") if isinstance(row, Mapping) else None
    if not isinstance(probe, Mapping):
        return None
    per_layer = probe.get(quantity)
    if not isinstance(per_layer, Mapping) or per_layer.get(layer) is None:
        return None
    values = []
    for value in per_layer[layer]:
        try:
            values.append(float(value))
        except (TypeError, ValueError):
            values.append(math.nan)
    return values


def _ratio(values: list[float]) -> float | None:
    """step 0 / last step, or None when either end is missing or not finite."""
    if len(values) < 2:
        return None
    first, last = values[0], values[-1]
    if not (math.isfinite(first) and math.isfinite(last)) or first < 0 or last <= 0:
        return None
    return first / last


def gradient_reading(history: Mapping[str, Any] | None, layer: str = "layer0",
                     quantity: str = "grad_h") -> str:
    """Say in one sentence whether the gradient vanishes, explodes or flows.

    Compares the gradient norm at step 0 with the one at the last step (processing
    order), at the latest epoch that recorded one, and, when there are several epochs,
    with the first epoch.

    Args:
        history: the training history (`{"epochs": [row, ...], ...}`).
        layer: the layer key, e.g. `"layer0"` or `"layer1/backward"`. Default: `"layer0"`.
        quantity: `"grad_h"` or `"grad_c"`. Default: `"grad_h"`.

    Returns:
        One sentence, e.g. "At epoch 10 the gradient reaching step 0 is 10⁻⁶ of the one
        at the last step (49): it vanishes."

    Example:

    >>> rows = [{"epoch": 3, "probe": {"grad_h": {"layer0": [0.5, 1.0]}}}]
    >>> gradient_reading({"epochs": rows})
    'At epoch 3 the gradient reaching step 0 is 0.5× the one at the last step (1): it flows back through all 2 steps without vanishing.'
    """
    reading = _read_gradient(history, layer, quantity)
    name = "‖∂L/∂c_t‖" if quantity == "grad_c" else "gradient"
    if reading.state == _NO_ROWS:
        return "No gradients recorded yet: train for at least one epoch."
    if reading.state == _NOT_RECORDED:
        return f"No {name} recorded for {layer} yet."
    epoch, last = reading.epoch, reading.steps - 1
    if reading.state == _NOT_FINITE:
        return (f"At epoch {epoch} the {name} is NaN or infinite at some steps: the run "
                "diverged, so nothing can be read from it.")
    if reading.state == _NO_START:
        return (f"At epoch {epoch} the {name} at the last step ({last}) is exactly 0: no "
                "gradient starts there, so there is nothing to compare.")
    if reading.state == _NONE_ARRIVES:
        return (f"At epoch {epoch} no {name} at all reaches step 0 (it is exactly 0): it "
                "vanishes completely.")
    trend = ""
    if reading.first_ratio:
        trend = (f" At epoch {reading.first_epoch} it was "
                 f"{_ratio_text(reading.first_ratio)}.")
    ratio = reading.ratio
    start = f"At epoch {epoch} the {name} reaching step 0 is"
    if reading.state == _VANISHES:
        return (f"{start} {_ratio_text(ratio)} of the one at the last step ({last}): "
                f"it vanishes.{trend}")
    if reading.state == _EXPLODES:
        return (f"{start} {_ratio_text(ratio)} times the one at the last step ({last}): it "
                f"grows on the way back, the sign of exploding gradients.{trend}")
    return (f"{start} {_ratio_text(ratio)} the one at the last step ({last}): it flows back "
            f"through all {reading.steps} steps without vanishing.{trend}")


_NO_ROWS, _NOT_RECORDED, _NOT_FINITE, _NO_START, _NONE_ARRIVES = (
    "no rows", "not recorded", "not finite", "no start", "none arrives")
_VANISHES, _EXPLODES, _FLOWS = "vanishes", "explodes", "flows"


@dataclass(frozen=True)
class _GradientReading:
    """What the per-step gradient norms of a layer say at the latest epoch recording them."""

    state: str
    epoch: Any = None
    steps: int = 0
    ratio: float | None = None
    first_epoch: Any = None
    first_ratio: float | None = None


def _read_gradient(history: Mapping[str, Any] | None, layer: str,
                   quantity: str) -> _GradientReading:
    rows = [row for row in (history or {}).get("epochs") or [] if isinstance(row, Mapping)]
    if not rows:
        return _GradientReading(_NO_ROWS)
    recorded = [(row, _series(row, quantity, layer)) for row in rows]
    recorded = [(row, values) for row, values in recorded if values]
    if not recorded:
        return _GradientReading(_NOT_RECORDED)
    row, values = recorded[-1]
    epoch, steps = row.get("epoch", len(rows)), len(values)
    if not all(math.isfinite(value) for value in values):
        return _GradientReading(_NOT_FINITE, epoch, steps)
    if values[-1] == 0:
        return _GradientReading(_NO_START, epoch, steps)
    # With a single step, step 0 is the last step.
    ratio = _ratio(values) if steps > 1 else 1.0
    if ratio is None:
        return _GradientReading(_NOT_RECORDED, epoch, steps)
    if ratio == 0:
        return _GradientReading(_NONE_ARRIVES, epoch, steps, ratio)
    first_epoch = first_ratio = None
    if len(recorded) > 1:
        first_ratio = _ratio(recorded[0][1])
        first_epoch = recorded[0][0].get("epoch", 1)
    if ratio < VANISHING_RATIO:
        state = _VANISHES
    elif ratio > 1 / VANISHING_RATIO:
        state = _EXPLODES
    else:
        state = _FLOWS
    return _GradientReading(state, epoch, steps, ratio, first_epoch, first_ratio)


# --- the verdict ---------------------------------------------------------------------------


def learning_level(value: float | None, baseline: Mapping[str, Any] | None) -> str | None:
    """Whether a final score means the model learned, compared with the trivial baseline.

    Args:
        value: the run's final score, in the baseline's `key` (a loss or an accuracy).
        baseline: a baseline dict as stored in a history (`tasks.Baseline.to_dict()`):
            `value`, `higher_is_better` and `margin` are read.

    Returns:
        `LEARNED` when the loss is at most `LEARNED_FRACTION` of the baseline's (for an
        accuracy, the error rate at most that fraction of the baseline's error rate);
        `LEARNED_A_LITTLE` when it only beats the baseline by more than its `margin`;
        `LEARNED_NOTHING` otherwise; `None` when either number is missing or not finite.

    Example:

    >>> baseline = {"value": 0.167, "higher_is_better": False, "margin": 0.01}
    >>> [learning_level(loss, baseline) for loss in (0.012, 0.12, 0.16, None)]
    ['learned', 'learned a little', 'learned nothing', None]
    """
    reference = _finite((baseline or {}).get("value"))
    value = _finite(value)
    if value is None or reference is None:
        return None
    margin = _finite(baseline.get("margin")) or 0.0
    if baseline.get("higher_is_better"):
        if 1.0 - value <= LEARNED_FRACTION * (1.0 - reference):
            return LEARNED
        return LEARNED_A_LITTLE if value > reference + margin else LEARNED_NOTHING
    if value <= LEARNED_FRACTION * reference:
        return LEARNED
    return LEARNED_A_LITTLE if value < reference - margin else LEARNED_NOTHING


def run_level(history: Mapping[str, Any] | None) -> str | None:
    """`learning_level` of a run from its history and the baseline stored with it.

    >>> history = {"epochs": [{"epoch": 1, "val_loss": 0.01}], "baseline": {
    ...     "value": 0.167, "key": "val_loss", "higher_is_better": False, "margin": 0.01}}
    >>> run_level(history), run_level({"epochs": []})
    ('learned', None)
    """
    baseline = (history or {}).get("baseline")
    if not isinstance(baseline, Mapping):
        return None
    return learning_level(final_score(history, str(baseline.get("key", "val_loss"))),
                          baseline)


def final_score(history: Mapping[str, Any] | None, key: str) -> float | None:
    """The last finite value of `key` (e.g. `"val_loss"`) over the history's epochs.

    Example:

    >>> final_score({"epochs": [{"val_loss": 0.3}, {"val_loss": 0.2}]}, "val_loss")
    0.2
    """
    for row in reversed((history or {}).get("epochs") or []):
        if isinstance(row, Mapping) and _finite(row.get(key)) is not None:
            return float(row[key])
    return None


def verdict(config: Any, history: Mapping[str, Any] | None, *,
            baseline: Mapping[str, Any] | None = None, layer: str | None = None) -> str:
    """How a run went, in one to three short sentences computed from its numbers.

    First whether it learned: the final validation score against the trivial baseline
    (what always giving the trivial answer scores on the same data), or that it
    diverged or stopped. Then how much gradient reached step 0, relative to the last
    step, and what that means; then, only when at least `SATURATED_SHARE` of a gate's
    values are saturated, which gates.

    Args:
        config: the run's `ExperimentConfig`, its dict form, or `None`; only the number
            of epochs asked for is read (to say where a stopped run stopped).
        history: the run's history (`{"epochs": [row, ...], "status": ...,
            "baseline": {...}}`, as `training.Trainer` writes it).
        baseline: the trivial baseline, as `tasks.Baseline.to_dict()`. Default: `None`,
            the history's `"baseline"`.
        layer: the layer key whose gradient is read (e.g. `"layer0/backward"`).
            Default: `None`, `"layer0"` or else the first layer recorded.

    Returns:
        The verdict, e.g. "Learned: validation loss 0.012, 14× lower than always
        answering 1.0 (0.167). The gradient reaching step 0 is 10⁻² of the one at the
        last step: it flows back through all 20 steps."

    Example:

    >>> rows = [{"epoch": 1, "val_loss": 0.16, "probe": {"grad_h": {"layer0": [1e-7, 1.0]}}},
    ...         {"epoch": 2, "val_loss": 0.012, "probe": {"grad_h": {"layer0": [0.02, 1.0]}}}]
    >>> history = {"epochs": rows, "status": "finished", "baseline": {
    ...     "value": 0.167, "description": "always answering 1.0", "key": "val_loss",
    ...     "higher_is_better": False, "margin": 0.02}}
    >>> print(verdict(None, history))
    Learned: validation loss 0.012, 14× lower than always answering 1.0 (0.167). The gradient reaching step 0 is 0.02× the one at the last step: it flows back through both steps.
    """
    history = history or {}
    baseline = baseline if baseline is not None else history.get("baseline")
    if not isinstance(baseline, Mapping):
        baseline = None
    rows = [row for row in history.get("epochs") or [] if isinstance(row, Mapping)]
    status = history.get("status")
    if status == "diverged":
        return _diverged(rows)
    stopped = ""
    if status == "stopped":
        asked = _epochs_asked(config)
        of = f" of {asked}" if asked else ""
        stopped = f"Stopped after {len(rows)}{of} epoch{'s' * (len(rows) != 1)}. "
    if not rows:
        return (stopped + "No epoch finished, so there is nothing to judge yet.").strip()
    sentences = [stopped + _outcome(rows, history, baseline)]
    layer = layer or _first_layer(rows)
    if layer is not None:
        sentences += [_gradient_sentence(history, layer), _saturation_sentence(rows, layer)]
    return " ".join(sentence for sentence in sentences if sentence)


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _epochs_asked(config: Any) -> int | None:
    training = getattr(config, "training", None)
    if training is None and isinstance(config, Mapping):
        training = config.get("training")
    if isinstance(training, Mapping) and isinstance(training.get("epochs"), int):
        return training["epochs"]
    return None


def _diverged(rows: list[Mapping[str, Any]]) -> str:
    epoch = next((row.get("epoch", index + 1) for index, row in enumerate(rows)
                  if _finite(row.get("loss")) is None), len(rows) or 1)
    return (f"Diverged in epoch {epoch}: the loss became NaN or infinite as the weights "
            "overflowed, the sign of exploding gradients. Try a tenth of the learning "
            "rate, or clipnorm 1.0.")


_LABELS = {"val_loss": "validation loss", "loss": "training loss",
           "val_accuracy": "validation accuracy", "accuracy": "training accuracy"}


def _score_text(value: float, accuracy: bool) -> str:
    return f"{value * 100:.3g}%" if accuracy else f"{value:.3g}"


def _times_lower(reference: float, value: float) -> str:
    if value <= 0:
        return "far lower"
    factor = reference / value
    return f"{factor:.0f}× lower" if factor >= 10 else f"{factor:.1f}× lower"


def _outcome(rows: list[Mapping[str, Any]], history: Mapping[str, Any],
             baseline: Mapping[str, Any] | None) -> str:
    epochs = f"{len(rows)} epoch{'s' * (len(rows) != 1)}"
    if baseline is None:
        key = "val_loss" if final_score(history, "val_loss") is not None else "loss"
        value = final_score(history, key)
        shown = _score_text(value, False) if value is not None else "not recorded"
        return (f"After {epochs} the {_LABELS[key]} is {shown}; no trivial baseline was "
                "recorded to compare it with.")
    key = str(baseline.get("key", "val_loss"))
    label = _LABELS.get(key, key)
    accuracy = bool(baseline.get("higher_is_better"))
    value = final_score(history, key)
    reference = _finite(baseline.get("value"))
    level = learning_level(value, baseline)
    if level is None:
        return f"After {epochs} no {label} was recorded to judge the run by."
    description = baseline.get("description") or "the trivial answer"
    shown, reference_shown = _score_text(value, accuracy), _score_text(reference, accuracy)
    if level == LEARNED_NOTHING:
        # Worse by more than the baseline's own uncertainty, e.g. a loss that climbed.
        margin = _finite(baseline.get("margin")) or 0.0
        worse = value < reference - margin if accuracy else value > reference + margin
        comparison = "worse than" if worse else "no better than"
        return (f"Learned nothing: {label} {shown}, {comparison} {description} "
                f"({reference_shown}).")
    head = "Learned" if level == LEARNED else "Learned a little"
    if accuracy:
        return f"{head}: {label} {shown}, against {reference_shown} for {description}."
    return (f"{head}: {label} {shown}, {_times_lower(reference, value)} than {description} "
            f"({reference_shown}).")


def _first_layer(rows: list[Mapping[str, Any]]) -> str | None:
    for row in reversed(rows):
        probe = row.get("probe")
        grads = probe.get("grad_h") if isinstance(probe, Mapping) else None
        if isinstance(grads, Mapping) and grads:
            return "layer0" if "layer0" in grads else next(iter(grads))
    return None


def _gradient_sentence(history: Mapping[str, Any], layer: str) -> str:
    reading = _read_gradient(history, layer, "grad_h")
    if reading.state in (_NO_ROWS, _NOT_RECORDED, _NO_START, _NOT_FINITE):
        return ""
    where = "" if layer == "layer0" else f" in {layer}"
    if reading.state == _NONE_ARRIVES:
        return (f"No gradient at all reaches step 0{where}: the first steps cannot change "
                "the weights.")
    start = f"The gradient reaching step 0{where} is {_ratio_text(reading.ratio)}"
    if reading.state == _VANISHES:
        return (f"{start} of the one at the last step: the first steps barely change the "
                "weights (a vanishing gradient).")
    if reading.state == _EXPLODES:
        return (f"{start} times the one at the last step: it grows on the way back "
                "(exploding gradients).")
    steps = "both steps" if reading.steps == 2 else f"all {reading.steps} steps"
    return f"{start} the one at the last step: it flows back through {steps}."


def _saturation_sentence(rows: list[Mapping[str, Any]], layer: str) -> str:
    for row in reversed(rows):
        probe = row.get("probe")
        saturation = probe.get("saturation") if isinstance(probe, Mapping) else None
        gates = saturation.get(layer) if isinstance(saturation, Mapping) else None
        if isinstance(gates, Mapping) and gates:
            break
    else:
        return ""
    shares = [(gate, _finite(value)) for gate, value in gates.items()]
    saturated = [(gate, share) for gate, share in shares
                 if share is not None and share >= SATURATED_SHARE]
    if not saturated:
        return ""
    parts = [f"{_GATE_NAMES.get(gate, gate)} ({share:.0%})" for gate, share in saturated]
    names = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    gate_word = "gate" if len(parts) == 1 else "gates"
    return (f"Most values of the {names} {gate_word} are saturated (near 0 or 1), where a "
            "gate's own weights get almost no gradient.")
