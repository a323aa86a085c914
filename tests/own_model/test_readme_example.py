"""The README's "Your own model" example, run exactly as it is written there."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np

from lstm_explorer import export, figures
from lstm_explorer.own_model import folder

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- own-model-example: start", "<!-- own-model-example: end -->"


def example() -> tuple[str, str, int]:
    """The example's Python code, its shell command, and how many lines it has in all."""
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    block = text[text.index(START):text.index(END)]
    block = block[block.index("\n") + 1:]  # after the start marker's line
    python = re.search(r"```python\n(.*?)```", block, re.DOTALL).group(1)
    shell = re.search(r"```bash\n(.*?)```", block, re.DOTALL).group(1)
    return python, shell, len(block.strip().splitlines())


def test_the_example_is_at_most_20_lines_and_opens_its_folder_in_the_app():
    python, shell, lines = example()
    assert lines <= 20
    assert "keras.Model(inputs" in python and "ExplorerCallback(" in python
    assert python.count("keras.layers.LSTM(") == 2
    command = shlex.split(shell.splitlines()[0], comments=True)
    assert command[:5] == ["streamlit", "run", "app.py", "--", "--runs"]
    assert folder.configured_root(command[4:], {}) == Path("runs")


def test_the_example_trains_and_writes_a_run_the_app_lists_and_draws(tmp_path, monkeypatch):
    python, shell, _ = example()
    monkeypatch.chdir(tmp_path)
    exec(compile(python, str(README), "exec"), {"__name__": "__main__"})

    root = folder.configured_root(shlex.split(shell.splitlines()[0], comments=True)[4:], {})
    (entry,) = folder.scan(root)
    assert (entry.name, entry.kind, entry.source) == ("tokens", "own_model", "callback")
    assert (entry.epochs, entry.status, entry.writing, entry.problem) == (
        2, "finished", False, None)
    assert entry.label == "Embedding 20×8 → LSTM 8 → LSTM 8 → Dense 1"
    run = tmp_path / "runs" / "tokens"
    assert sorted(path.name for path in run.iterdir()) == [
        "history.json", "model.json", "model.keras", "trace.npz"]
    history = export.read_history(run)
    assert all(set(row) >= {"loss", "val_loss", "accuracy", "val_accuracy", "probe"}
               for row in history["epochs"])
    description = json.loads((run / "model.json").read_text())
    assert description["layers"][0]["arguments"]["mask_zero"] is True

    shown = folder.load(entry, root)
    assert shown.problem is None
    assert shown.arrays["layer0/h"].shape == (16, 10, 8)
    assert shown.arrays["layer1/c"].shape == (16, 10, 8)
    assert np.all(np.isfinite(shown.arrays["layer1/grad_c"]))
    drawn = figures.all_figures(shown.history, shown.arrays)
    assert {"layer0_gates", "layer1_states", "layer1_gradient_flow"} <= set(drawn)
