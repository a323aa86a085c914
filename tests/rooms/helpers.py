"""Runs as the app keeps them, made without training, for the room tests."""

from __future__ import annotations

import math

from lstm_explorer.config import ExperimentConfig
from lstm_explorer.rooms.summary import summary_of

ADDING_BASELINE = {"value": 0.167, "description": "always answering 1.0", "key": "val_loss",
                   "higher_is_better": False, "margin": 0.01, "samples": 400}


def history(epochs: int = 3, steps: int = 5, final_loss: float = 0.02, grad0: float = 1e-3,
            status: str = "finished", baseline: dict | None = ADDING_BASELINE) -> dict:
    """A history in the layout `training.Trainer` writes: a row per epoch with the
    losses, mae, seconds and a probe of per-step gradient norms; NaN from the epoch a
    run diverged."""
    rows = []
    for epoch in range(1, epochs + 1):
        loss = final_loss * (epochs + 1 - epoch)
        if status == "diverged" and epoch == epochs:
            loss = math.nan
        grads = [grad0 ** ((steps - 1 - step) / (steps - 1)) for step in range(steps)]
        rows.append({"epoch": epoch, "loss": loss, "val_loss": loss * 1.1, "mae": loss / 2,
                     "val_mae": loss / 2 * 1.1, "seconds": 0.25,
                     "probe": {"loss": loss, "grad_h": {"layer0": grads},
                               "grad_c": {"layer0": [g * 2 for g in grads]},
                               "weight_grad_norms": {"layer0": {"kernel": 0.1}},
                               "saturation": {"layer0": {"i": 0.1, "f": 0.2, "o": 0.0}}}})
    out = {"epochs": rows, "status": status, "message": f"{status} after {epochs} epochs"}
    if baseline is not None:
        out["baseline"] = dict(baseline)
    return out


def config(**values) -> ExperimentConfig:
    """The default config with flat keys set, e.g. `config(**{"layer1.units": 8})`."""
    return ExperimentConfig.default().with_values(values)


def summary(values: dict | None = None, **history_arguments) -> dict:
    """A sendable summary of a run with these flat settings and this history."""
    return summary_of(history(**history_arguments), config(**(values or {})))
