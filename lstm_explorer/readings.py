"""One-sentence readings of a training history, computed from the numbers.

The Gradient Flow page shows the per-step gradient norms; `gradient_reading` says in
words what they show: whether the gradient that reaches step 0 has vanished, grown, or
come through. Pure functions of the history dict (DESIGN §3 rows with `probe`).

Example:

>>> rows = [{"epoch": 1, "probe": {"grad_h": {"layer0": [1e-7, 1e-4, 0.1]}}}]
>>> gradient_reading({"epochs": rows})
'At epoch 1 the gradient reaching step 0 is 10⁻⁶ of the one at the last step (2): it vanishes.'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Below this ratio (step 0 / last step) the gradient counts as vanished, above its
#: inverse as exploding.
VANISHING_RATIO = 1e-2

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
    rows = [row for row in (history or {}).get("epochs") or [] if isinstance(row, Mapping)]
    name = "‖∂L/∂c_t‖" if quantity == "grad_c" else "gradient"
    if not rows:
        return "No gradients recorded yet: train for at least one epoch."
    recorded = [(row, _series(row, quantity, layer)) for row in rows]
    recorded = [(row, values) for row, values in recorded if values]
    if not recorded:
        return f"No {name} recorded for {layer} yet."
    row, values = recorded[-1]
    epoch = row.get("epoch", len(rows))
    if not all(math.isfinite(value) for value in values):
        return (f"At epoch {epoch} the {name} is NaN or infinite at some steps: the run "
                "diverged, so nothing can be read from it.")
    last = len(values) - 1
    if values[-1] == 0:
        return (f"At epoch {epoch} the {name} at the last step ({last}) is exactly 0: no "
                "gradient starts there, so there is nothing to compare.")
    ratio = _ratio(values)
    if ratio == 0:
        return (f"At epoch {epoch} no {name} at all reaches step 0 (it is exactly 0): it "
                "vanishes completely.")
    trend = ""
    if len(recorded) > 1:
        first_ratio = _ratio(recorded[0][1])
        if first_ratio:
            trend = (f" At epoch {recorded[0][0].get('epoch', 1)} it was "
                     f"{_ratio_text(first_ratio)}.")
    start = f"At epoch {epoch} the {name} reaching step 0 is"
    if ratio < VANISHING_RATIO:
        return (f"{start} {_ratio_text(ratio)} of the one at the last step ({last}): "
                f"it vanishes.{trend}")
    if ratio > 1 / VANISHING_RATIO:
        return (f"{start} {_ratio_text(ratio)} times the one at the last step ({last}): it "
                f"grows on the way back, the sign of exploding gradients.{trend}")
    return (f"{start} {_ratio_text(ratio)} the one at the last step ({last}): it flows back "
            f"through all {len(values)} steps without vanishing.{trend}")
