"""A runs folder for the app: every run directory under one root, listed and read safely.

`streamlit run app.py -- --runs DIR` (or `LSTM_EXPLORER_RUNS=DIR`) shows, beside the
session's own runs, every run directory under DIR: those of `train`, `sweep`, the
Lab's `--out`, `ExplorerCallback` and `inspect`. `scan(root)` lists them; `load(entry,
root)` reads one for the pages: the history and trace arrays the figure code draws
(`figures.all_figures(history, arrays)`, as for a session's run), and the config or
the model description.

Both never raise: a run that is malformed or half-written is listed with a `problem`
in words, and a run still being written (a callback in another process) is marked
`writing`, so a page can refresh it as epochs arrive. Only files under the root are
read: links are resolved and anything that resolves outside the root is refused, and
file sizes are bounded. Nothing here imports TensorFlow or Streamlit.

Example:

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> (root / "a").mkdir()
>>> _ = (root / "a" / "history.json").write_text('{"epochs": [{"epoch": 1}], "status": "fini')
>>> [(entry.name, entry.problem) for entry in scan(root)]  # doctest: +ELLIPSIS
[('a', 'history.json is not valid JSON (line 1 column 38): the file is cut short or ...')]
>>> load(scan(root)[0], root).history is None  # listed, never raised
True
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstm_explorer.own_model.description import DESCRIPTION_FILE, summary_line

__all__ = [
    "CONFIG_KIND",
    "ENV_VAR",
    "OWN_MODEL_KIND",
    "LoadedRun",
    "RunEntry",
    "configured_root",
    "load",
    "root_problem",
    "scan",
]

#: The environment variable a deployment sets instead of `--runs DIR`.
ENV_VAR = "LSTM_EXPLORER_RUNS"

#: `RunEntry.kind` of a run the explorer trained from a config (`config.json`).
CONFIG_KIND = "config"
#: `RunEntry.kind` of a run of a person's own model (`model.json`).
OWN_MODEL_KIND = "own_model"

CONFIG_FILE, HISTORY_FILE, TRACE_FILE, MODEL_FILE = (
    "config.json", "history.json", "trace.npz", "model.keras")

#: How deep below the root run directories are looked for (a sweep's runs are at 2).
MAX_DEPTH = 4
#: The most folders looked into, and runs listed, in one scan.
MAX_FOLDERS = 5000
MAX_RUNS = 500
#: The largest JSON file read (a long history with every weight's gradient norms).
MAX_JSON_BYTES = 32 * 1024 * 1024
#: The most a trace may hold once decompressed.
MAX_TRACE_BYTES = 512 * 1024 * 1024
#: A run that says it is running but was not written for this long is taken as
#: abandoned (when its process cannot be asked: another machine wrote it).
STALE_SECONDS = 6 * 3600.0
#: `train` and `sweep` write a run's files one after another at its end: a run
#: directory this young with files missing is taken as being written.
SETTLING_SECONDS = 60.0

_RUN_MARKERS = (HISTORY_FILE, DESCRIPTION_FILE, TRACE_FILE)
_RUN_FILES = (CONFIG_FILE, DESCRIPTION_FILE, HISTORY_FILE, TRACE_FILE, MODEL_FILE)


@dataclass(frozen=True)
class RunEntry:
    """One run directory found under a runs folder.

    Args:
        name: its path relative to the root, with `/` (`"sweep/units=8"`); the root's
            own name when the root itself is a run.
        path: its resolved absolute path (inside the resolved root).
        kind: `CONFIG_KIND` (`config.json`: trained by the explorer: `train`, `sweep`, the
            Lab) or `OWN_MODEL_KIND` (`model.json`: the callback, `inspect`); `""` when
            it has neither yet.
        source: what wrote it: `"train"`, `"sweep"`, `"lab"`, `"callback"`,
            `"inspect"`, or `""` when unknown.
        label: a one-line description: `"lstm 32 on adding"` for a config,
            `"Embedding 20×8 → LSTM 8 → Dense 1"` for an own model; `""` when unknown.
        epochs: history rows so far (0 without a readable history).
        epochs_planned: epochs the training was asked for, when the history says.
        status: the history's status (`"running"`, `"finished"`, `"stopped"`,
            `"diverged"`, `"inspected"`), or `None`.
        writing: whether it is still being written (a training in progress).
        modified: the newest modification time of its files (seconds since the epoch).
        problem: what is wrong, in words, or `None`. A run with a problem may still
            have something to draw (`load` returns what it could read).
    """

    name: str
    path: Path
    kind: str
    source: str
    label: str
    epochs: int
    epochs_planned: int | None
    status: str | None
    writing: bool
    modified: float
    problem: str | None

    @property
    def version(self) -> tuple:
        """Changes whenever the run's files change: a key for caches of its figures."""
        return (str(self.path), self.modified, self.epochs, self.status)


@dataclass(frozen=True)
class LoadedRun:
    """What a page needs to draw one run of a runs folder (`load`).

    Args:
        entry: the run as `scan` lists it (read again by `load`).
        history: `history.json` (`{"epochs": [...], "status": ...}`), or `None`.
        arrays: `trace.npz` as read-only arrays keyed as in DESIGN §3, or `None`.
        config: `config.json` as a dict (runs of `kind == "config"`), or `None`.
        description: `model.json` as a dict (own-model runs), or `None`.
        problem: what could not be read, in words, or `None`.
    """

    entry: RunEntry
    history: dict | None = None
    arrays: dict[str, np.ndarray] | None = None
    config: dict | None = None
    description: dict | None = None
    problem: str | None = None

    @property
    def drawable(self) -> bool:
        """Whether there is anything to draw: a history or a trace."""
        return self.history is not None or self.arrays is not None

    def experiment_config(self) -> Any:
        """`config` as a `config.ExperimentConfig`, or `None` (no config, or an invalid one).

        Never raises; `lstm_explorer.config` needs no TensorFlow.
        """
        if self.config is None:
            return None
        from lstm_explorer.config import ExperimentConfig

        try:
            return ExperimentConfig.from_dict(self.config)
        except Exception:  # noqa: BLE001 - never-raise contract; ConfigError names it
            return None


def configured_root(argv: Sequence[str] | None = None,
                    environ: Mapping[str, str] | None = None) -> Path | None:
    """The runs folder the app was started with: `--runs DIR` (or `--runs=DIR`), else
    `$LSTM_EXPLORER_RUNS`, else `None`.

    Args:
        argv: the script's arguments (`streamlit run app.py -- --runs DIR` gives the
            script `["--runs", "DIR"]`). Default: `None`, `sys.argv[1:]`.
        environ: the environment. Default: `None`, `os.environ`.

    Example:

    >>> configured_root(["--runs", "runs"], {}), configured_root([], {ENV_VAR: "/srv/runs"})
    (PosixPath('runs'), PosixPath('/srv/runs'))
    """
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    for index, argument in enumerate(argv):
        if argument == "--runs" and index + 1 < len(argv) and argv[index + 1].strip():
            return Path(argv[index + 1])
        if argument.startswith("--runs=") and argument[len("--runs="):].strip():
            return Path(argument[len("--runs="):])
    value = environ.get(ENV_VAR, "").strip()
    return Path(value) if value else None


def root_problem(root: str | os.PathLike[str]) -> str | None:
    """What is wrong with a runs folder as a whole, in words, or `None` when it can be read.

    Example:

    >>> root_problem("/no/such/folder")
    "the runs folder '/no/such/folder' does not exist"
    """
    path = Path(root)
    try:
        if not path.exists():
            return f"the runs folder {str(path)!r} does not exist"
        if not path.is_dir():
            return f"the runs folder {str(path)!r} is a file, not a folder"
        with os.scandir(path):
            pass
    except OSError as error:
        return f"the runs folder {str(path)!r} cannot be read: {error.strerror or error}"
    return None


def scan(root: str | os.PathLike[str], *, now: float | None = None) -> list[RunEntry]:
    """Every run directory under `root`, newest first. Never raises.

    A run directory is a folder holding `history.json`, `model.json` or `trace.npz`, or
    `config.json` with `model.keras` (`config.json` alone is not a run). Folders are looked into down to `MAX_DEPTH`
    levels, hidden ones (`.name`) skipped; a run's own folder is not looked into. Links
    are followed only when they resolve inside `root`. Files already read are not read
    again until they change, so scanning again every second is cheap.

    Args:
        root: the runs folder.
        now: the time to judge `writing` against. Default: `None`, `time.time()`.

    Returns:
        `RunEntry`s, most recently modified first (at most `MAX_RUNS`); `[]` when
        `root` cannot be read (`root_problem` says why).
    """
    now = time.time() if now is None else now
    try:
        base = Path(root).resolve(strict=True)
        if not base.is_dir():
            return []
    except (OSError, RuntimeError):
        return []
    entries: list[RunEntry] = []
    seen: set[Path] = set()
    folders = [(base, 0)]
    while folders and len(seen) < MAX_FOLDERS and len(entries) < MAX_RUNS:
        folder, depth = folders.pop()
        if folder in seen:
            continue
        seen.add(folder)
        names, subfolders = _listing(folder, base)
        if _is_run(names):
            entries.append(_entry(folder, base, names, now))
            continue
        if depth < MAX_DEPTH:
            folders.extend((subfolder, depth + 1) for subfolder in sorted(subfolders,
                                                                          reverse=True))
    entries.sort(key=lambda entry: (-entry.modified, entry.name))
    return entries


def load(run: RunEntry | str | os.PathLike[str], root: str | os.PathLike[str], *,
         now: float | None = None) -> LoadedRun:
    """Read one run directory under `root` for the pages. Never raises.

    Args:
        run: a `RunEntry` from `scan(root)`, or the path of a run directory (absolute,
            or relative to `root`).
        root: the runs folder; a `run` that resolves outside it is refused.
        now: the time to judge `writing` against. Default: `None`, `time.time()`.

    Returns:
        A `LoadedRun`: whatever could be read, and `problem` for the rest. The arrays
        are read-only and may be shared with other callers; the history and the dicts
        are copies of their own.

    Example:

    ```python
    root = folder.configured_root()
    for entry in folder.scan(root):
        shown = folder.load(entry, root)
        if shown.drawable:
            figures = all_figures(shown.history, shown.arrays)
    ```
    """
    now = time.time() if now is None else now
    try:
        base = Path(root).resolve(strict=True)
        given = run.path if isinstance(run, RunEntry) else Path(run)
        path = (base / given).resolve(strict=True)
    except (OSError, RuntimeError, TypeError, ValueError) as error:
        return LoadedRun(_missing_entry(run), problem=f"cannot be read: {error}")
    if not _inside(path, base):
        return LoadedRun(_missing_entry(run),
                         problem=f"{str(path)!r} is outside the runs folder {str(base)!r}")
    if not path.is_dir():
        return LoadedRun(_missing_entry(run), problem=f"{str(path)!r} is not a folder")
    names, _ = _listing(path, base)
    entry = _entry(path, base, names, now)
    problems = [entry.problem] if entry.problem else []
    history = _read(path / HISTORY_FILE, base, names, _json_file).value
    config = _read(path / CONFIG_FILE, base, names, _json_file).value
    description = _read(path / DESCRIPTION_FILE, base, names, _json_file).value
    arrays = None
    if TRACE_FILE in names:
        result = _arrays(path / TRACE_FILE, base)
        arrays = result.value
        if result.problem and result.problem not in problems:
            problems.append(result.problem)
    return LoadedRun(
        entry,
        history=copy.deepcopy(history) if _is_history(history) else None,
        arrays=arrays,
        config=copy.deepcopy(config) if isinstance(config, dict) else None,
        description=copy.deepcopy(description) if isinstance(description, dict) else None,
        problem="; ".join(problems) or None,
    )


# ---------------------------------------------------------------------------------------
# One run directory


def _entry(path: Path, base: Path, names: set[str], now: float) -> RunEntry:
    """Describe the run directory `path`, whose file names are `names`."""
    problems: list[str] = []
    reads = {name: _read(path / name, base, names, _json_file)
             for name in (HISTORY_FILE, CONFIG_FILE, DESCRIPTION_FILE) if name in names}
    for result in reads.values():
        if result.problem:
            problems.append(result.problem)
    history = reads[HISTORY_FILE].value if HISTORY_FILE in reads else None
    config = reads[CONFIG_FILE].value if CONFIG_FILE in reads else None
    description = reads[DESCRIPTION_FILE].value if DESCRIPTION_FILE in reads else None
    if history is not None and not _is_history(history):
        problems.append(f"{HISTORY_FILE} is not a training history (no 'epochs' list)")
        history = None
    if CONFIG_FILE in reads and config is not None and not isinstance(config, dict):
        problems.append(f"{CONFIG_FILE} is not a config (not a JSON object)")
        config = None
    if DESCRIPTION_FILE in reads and description is not None and not isinstance(description,
                                                                                dict):
        problems.append(f"{DESCRIPTION_FILE} is not a model description (not a JSON object)")
        description = None
    if TRACE_FILE in names:
        trace_problem = _read(path / TRACE_FILE, base, names, _trace_check).problem
        if trace_problem:
            problems.append(trace_problem)

    if DESCRIPTION_FILE in names:
        kind = OWN_MODEL_KIND
        source = str(description.get("source", "")) if description else ""
        label = summary_line(description)
    elif CONFIG_FILE in names:
        kind, label = CONFIG_KIND, _config_label(config)
        parent = path.parent
        source = ("sweep" if (parent / "sweep.json").is_file() and path != base
                  else "lab" if (parent / "conclusion.txt").is_file() and path != base
                  else "train")
    else:
        kind, source, label = "", "", ""

    modified = 0.0
    for name in _RUN_FILES:
        if name in names:
            with contextlib.suppress(OSError):
                modified = max(modified, (path / name).stat().st_mtime)
    status = history.get("status") if history is not None else None
    status = status if isinstance(status, str) else None
    planned = history.get("epochs_planned") if history is not None else None
    planned = planned if isinstance(planned, int) and not isinstance(planned, bool) else None
    age = max(0.0, now - modified)

    writing = False
    missing = _missing_files(kind, names)
    if status == "running":
        alive = _writer_alive(history.get("writer"))
        if alive is False:
            problems.append("the training that wrote it ended before finishing the run "
                            f"(its process is gone; it got to epoch {len(history['epochs'])})")
        elif alive is None and age > STALE_SECONDS:
            problems.append(f"it says it is running, but nothing was written for "
                            f"{_duration(age)}: the training may have been stopped")
        else:
            writing = True
    if missing:
        if age < SETTLING_SECONDS:
            writing = True
            problems.append(f"being written: {', '.join(missing)} not there yet")
        else:
            problems.append(f"half-written: {', '.join(missing)} missing")
    return RunEntry(
        name=_relative_name(path, base),
        path=path,
        kind=kind,
        source=source,
        label=label,
        epochs=len(history["epochs"]) if history is not None else 0,
        epochs_planned=planned,
        status=status,
        writing=writing,
        modified=modified,
        problem="; ".join(problems) or None,
    )


def _is_run(names: set[str]) -> bool:
    # `train` writes config.json and model.keras before history.json and trace.npz: the
    # pair already is a run, half-written. config.json alone may be any config file.
    return any(marker in names for marker in _RUN_MARKERS) or {CONFIG_FILE, MODEL_FILE} <= names


def _missing_files(kind: str, names: set[str]) -> list[str]:
    # Both kinds need a history and a trace to be drawn. A callback writes model.json,
    # the untrained trace, then history.json; `train` config.json, ..., trace.npz.
    required = (HISTORY_FILE, TRACE_FILE)
    if not kind:
        return [f"{CONFIG_FILE} or {DESCRIPTION_FILE}"] + [
            name for name in (HISTORY_FILE, TRACE_FILE) if name not in names]
    return [name for name in required if name not in names]


def _config_label(config: Any) -> str:
    """`"lstm 32/16 on adding"`, as the app names a session's run (`ui.state.describe_config`)."""
    try:
        model, task = config["model"], config["task"]
        units = "/".join(str(layer["units"]) for layer in model["layers"])
        return f"{model['cell']} {units} on {task['name']}"
    except (KeyError, TypeError, IndexError):
        return ""


def _writer_alive(writer: Any) -> bool | None:
    """Whether the process that writes a running run still exists: `None` when that cannot
    be told here (another machine, or no writer recorded)."""
    if not isinstance(writer, Mapping) or writer.get("host") != socket.gethostname():
        return None
    pid = writer.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _is_history(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("epochs"), list)


def _relative_name(path: Path, base: Path) -> str:
    relative = path.relative_to(base)
    return relative.as_posix() if relative.parts else base.name


def _duration(seconds: float) -> str:
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.0f} hours"


def _missing_entry(run: Any) -> RunEntry:
    path = run.path if isinstance(run, RunEntry) else Path(str(run))
    if isinstance(run, RunEntry):
        return run
    return RunEntry(name=path.name, path=path, kind="", source="", label="", epochs=0,
                    epochs_planned=None, status=None, writing=False, modified=0.0,
                    problem=None)


# ---------------------------------------------------------------------------------------
# Reading files, only under the root, and each once per version


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _listing(folder: Path, base: Path) -> tuple[set[str], list[Path]]:
    """The names of `folder`'s files, and its subfolders (resolved, inside `base`)."""
    names: set[str] = set()
    subfolders: list[Path] = []
    try:
        with os.scandir(folder) as items:
            for item in items:
                if item.name.startswith(".") or item.name == "__pycache__":
                    continue  # hidden, and our own temporary files (".history-*.json")
                try:
                    if item.is_dir():
                        target = Path(item.path).resolve(strict=True)
                        if _inside(target, base):
                            subfolders.append(target)
                    elif item.is_file() or item.is_symlink():
                        names.add(item.name)
                except (OSError, RuntimeError):
                    continue
    except OSError:
        pass
    return names, subfolders


@dataclass(frozen=True)
class _Result:
    value: Any = None
    problem: str | None = None


_CACHE: OrderedDict[tuple, _Result] = OrderedDict()
_CACHE_SIZE = 2048
_ARRAYS: OrderedDict[tuple, _Result] = OrderedDict()
_ARRAYS_SIZE = 8
_LOCK = threading.Lock()


def _read(path: Path, base: Path, names: set[str], reader) -> _Result:
    """`reader(path, size)` once per version of the file (path, size, time), or a
    `_Result` with the problem: missing, a link out of the root, too large."""
    if path.name not in names:
        return _Result()
    checked = _checked_file(path, base)
    if isinstance(checked, str):
        return _Result(problem=checked)
    key = (str(path), reader.__name__, checked.st_mtime_ns, checked.st_size, checked.st_ino)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    result = reader(path, checked.st_size)
    with _LOCK:
        _CACHE[key] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def _checked_file(path: Path, base: Path) -> os.stat_result | str:
    try:
        resolved = path.resolve(strict=True)
        if not _inside(resolved, base):
            return f"{path.name} links to {str(resolved)!r}, outside the runs folder: not read"
        info = resolved.stat()
    except (OSError, RuntimeError) as error:
        return f"{path.name} cannot be read: {getattr(error, 'strerror', None) or error}"
    if not os.path.isfile(resolved):
        return f"{path.name} is not a file"
    return info


def _json_file(path: Path, size: int) -> _Result:
    if size > MAX_JSON_BYTES:
        return _Result(problem=f"{path.name} is {size / 2**20:.0f} MB, more than the "
                               f"{MAX_JSON_BYTES // 2**20} MB read: not read")
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_JSON_BYTES + 1).decode("utf-8")
        # NaN and Infinity, as `export.write_history` writes them for a diverged run.
        return _Result(json.loads(text))
    except json.JSONDecodeError as error:
        return _Result(problem=f"{path.name} is not valid JSON (line {error.lineno} column "
                               f"{error.colno}): the file is cut short or damaged")
    except UnicodeDecodeError:
        return _Result(problem=f"{path.name} is not UTF-8 text")
    except (OSError, RecursionError) as error:
        return _Result(problem=f"{path.name} cannot be read: {error}")


def _trace_check(path: Path, size: int) -> _Result:
    """Whether `trace.npz` looks like a trace, from its zip directory only (cheap)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return _Result(problem=f"{TRACE_FILE} is not a readable npz file ({error}): cut "
                               "short or damaged")
    keys = {info.filename.removesuffix(".npy") for info in infos}
    total = sum(info.file_size for info in infos)
    if total > MAX_TRACE_BYTES:
        return _Result(problem=f"{TRACE_FILE} holds {total / 2**20:.0f} MB once "
                               f"decompressed, more than the {MAX_TRACE_BYTES // 2**20} MB "
                               "read: not read")
    missing = [key for key in ("inputs", "targets", "layer0/h") if key not in keys]
    if missing:
        return _Result(problem=f"{TRACE_FILE} is not a trace: it lacks {missing}")
    return _Result(keys)


def _arrays(path: Path, base: Path) -> _Result:
    checked = _checked_file(path, base)
    if isinstance(checked, str):
        return _Result(problem=checked)
    key = (str(path), checked.st_mtime_ns, checked.st_size, checked.st_ino)
    with _LOCK:
        if key in _ARRAYS:
            _ARRAYS.move_to_end(key)
            return _ARRAYS[key]
    check = _trace_check(path, checked.st_size)
    if check.problem:
        return check
    try:
        # allow_pickle=False: a trace is plain numbers; a pickle in it could run code.
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files if name != "meta"}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        return _Result(problem=f"{TRACE_FILE} cannot be read: {error}")
    for array in arrays.values():
        array.setflags(write=False)  # shared between callers: nobody may change it
    result = _Result(arrays)
    with _LOCK:
        _ARRAYS[key] = result
        while len(_ARRAYS) > _ARRAYS_SIZE:
            _ARRAYS.popitem(last=False)
    return result
