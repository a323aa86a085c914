"""Writing the files of an own-model run directory, each atomically.

The app may read a run while another process writes it (a callback in a person's own
training), so every file is written under a temporary name in the same folder and
renamed into place (`os.replace`, atomic on one file system): a reader sees the old file
or the new one, never half of one. `history.json` goes through `export.write_history`,
which does the same.

```
RUN_DIR/model.json     description of the model (`description.describe`)
RUN_DIR/history.json   rows so far, "status" ("running" until the training ends)
RUN_DIR/trace.npz      the latest trace of the probe batch
RUN_DIR/model.keras    the trained model, written when the training ends
```
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lstm_explorer.export import TRACE_FILE
from lstm_explorer.own_model.description import DESCRIPTION_FILE

__all__ = ["MODEL_FILE", "replace_atomically", "save_model", "save_trace", "write_description"]

MODEL_FILE = "model.keras"


def replace_atomically(path: str | os.PathLike[str], write: Callable[[str], Any]) -> Path:
    """Have `write(temporary_path)` write a file, then rename it to `path`.

    Args:
        path: the file to create or replace; its folder must exist.
        write: writes the whole file at the path it is given (which keeps `path`'s
            suffix, for writers that check it, such as `model.save`).

    Returns:
        `path` as a `Path`.

    Example:

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = replace_atomically(folder / "a.txt", lambda tmp: Path(tmp).write_text("hi"))
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('hi', ['a.txt'])
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_description(run_dir: Path, description: dict) -> Path:
    """Write `run_dir/model.json`."""
    text = json.dumps(description, indent=1, allow_nan=False) + "\n"
    return replace_atomically(run_dir / DESCRIPTION_FILE,
                              lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_trace(run_dir: Path, trace: Any) -> Path:
    """Write a `trace.Trace` to `run_dir/trace.npz` (`trace.save_npz`)."""
    from lstm_explorer import trace as trace_module

    return replace_atomically(run_dir / TRACE_FILE,
                              lambda tmp: trace_module.save_npz(trace, tmp))


def save_model(run_dir: Path, model: Any) -> Path:
    """Write `run_dir/model.keras` (`model.save`)."""
    # `model.save` wants a name ending in .keras, which the temporary one keeps.
    return replace_atomically(run_dir / MODEL_FILE, model.save)
