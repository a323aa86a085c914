"""Write a finished training to a run directory (DESIGN.md §3).

```
RUN_DIR/config.json    the normalized, complete config
RUN_DIR/model.keras    the trained model (keras.saving format)
RUN_DIR/history.json   one row per epoch, with the probe batch's per-step gradients; the
                       trivial baseline ("baseline") and the verdict ("verdict")
RUN_DIR/trace.npz      the trace of the probe batch after the last epoch
RUN_DIR/verdict.txt    the verdict: how the run went, in plain words
```
Reading a run back is `export.read_run`, which needs no TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from lstm_explorer import export, readings, trace

VERDICT_FILE = "verdict.txt"


def save_run(result, run_dir: str | Path) -> Path:
    """Write a `training.TrainingResult` into `run_dir` (created if missing).

    Args:
        result: what `Trainer.run()` returned.
        run_dir: the folder to write.

    Returns:
        The run directory as a `Path`.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(result.config.to_json() + "\n", encoding="utf-8")
    result.model.save(run_dir / "model.keras")
    verdict = readings.verdict(result.config, result.history)
    export.write_history(run_dir, {**result.history, "verdict": verdict})
    (run_dir / VERDICT_FILE).write_text(verdict + "\n", encoding="utf-8")
    if result.trace is not None:
        trace.save_npz(result.trace, run_dir / "trace.npz")
    return run_dir
