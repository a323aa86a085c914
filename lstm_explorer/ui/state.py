"""Per-session state of the app, and the one training queue the server shares.

Everything a person builds lives in their own `st.session_state`: the config being
edited, the current training job and the finished runs. Only the `JobQueue` is shared
(through `st.cache_resource`), and it holds no results, only jobs waiting their turn.
The queue stops a job whose tab is gone (`LSTM_EXPLORER_SESSION_TIMEOUT`, see
`lstm_explorer.limits`): each page run touches the session's job, and `submit` gives
the job a probe that asks Streamlit whether the browser is still connected.

Example (inside a Streamlit script):

    explorer = session()
    explorer.config              # the ExperimentConfig being edited
    explorer.job                 # the latest TrainingJob, or None
    history, arrays = explorer.latest()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from lstm_explorer import limits, tasks
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from lstm_explorer.jobs import JobQueue, TrainingJob

_KEY = "lstm_explorer"
MAX_RUNS = limits.current().max_runs  # LSTM_EXPLORER_MAX_RUNS


@dataclass
class Run:
    """A finished training kept in the session.

    Args:
        name: a short label, e.g. "run 3: lstm, units=32".
        config: the config it was trained with.
        history: `{"epochs": [...], "status": ..., "message": ...}`.
        arrays: the last trace of the probe batch as trace.npz arrays (may be empty).
        result: the `training.TrainingResult` (model, data, traces).
        group: the `seeds.SeedGroup` when the run stands for one setting trained over
            several seeds: then `history` is the group's median run, and `arrays` and
            `result` are the median seed's (the one model kept of the group, so that a
            repeat over ten seeds costs the session one run). Default: `None`.
    """

    name: str
    config: ExperimentConfig
    history: dict
    arrays: dict
    result: Any = None
    group: Any = None


@dataclass
class ExplorerSession:
    """What one browser session owns.

    Args:
        config: the config shown in the widgets (always valid).
        job: the latest training job (running or done), if any.
        runs: finished runs, oldest first, at most `MAX_RUNS`.
        csv_text: the uploaded CSV for the csv task, if any.
        notices: messages to show until dismissed (e.g. a bad share link).
        link_loaded: whether the share link has been read into `config`.
        collected_job: the job `collect` has already dealt with.
        preset: the key of the preset the config was last loaded from, if any.
        last_query: the share-link query last written to the URL.
        csv_name: the name of the uploaded CSV, if any.
        cache: per-session memo of derived data (live figures, a run's figures, model
            weights for the cell view); each entry records the job or run it was made
            from, so it is rebuilt, not reused, when that changes.
        batch: the session's sweeps and lab experiments (`ui.batch.BatchState`), trained
            on a thread of their own; `collect` keeps their runs too.
        draft: flat key → value the person set that does not validate together with
            `config` yet (shown in the widgets, never trained); empty when the screen
            shows `config` exactly.
        draft_error: why `draft` does not validate, or `None`.
        last_built: the last config whose model Keras built, for "back to what worked".
        presenter: presenter mode: larger type and thicker lines, on the page and in
            every chart (a share-link key, so a teacher's link carries it).
        charts_loaded: whether a chart has been drawn in this session's browser (so
            it has plotly.js); see `panels.placeholder_or_preload`.
    """

    config: ExperimentConfig = field(default_factory=ExperimentConfig.default)
    job: TrainingJob | None = None
    runs: list[Run] = field(default_factory=list)
    csv_text: str | None = None
    notices: list[str] = field(default_factory=list)
    link_loaded: bool = False
    collected_job: TrainingJob | None = None
    preset: str | None = None
    last_query: dict | None = None
    csv_name: str | None = None
    cache: dict = field(default_factory=dict)
    batch: Any = None
    draft: dict = field(default_factory=dict)
    draft_error: ConfigError | None = None
    last_built: ExperimentConfig | None = None
    presenter: bool = False
    charts_loaded: bool = False

    # --- the one source of truth: every way in changes the config here, before any
    # widget is drawn; the widgets then show `shown(key)`.

    def load(self, config: ExperimentConfig, preset: str | None = None) -> None:
        """Replace the settings from outside (a preset, a link, a Lab experiment).

        Args:
            config: the new settings.
            preset: the key of the preset they come from. Default: `None`.
        """
        self.config = config
        self.preset = preset
        self.draft = {}
        self.draft_error = None

    def edit(self, values: dict[str, Any]) -> ConfigError | None:
        """Apply what the person just set (flat key → value) on top of any draft.

        A change of task brings what the task needs (an Embedding for tokens, none for
        the others) unless the same edit sets the Embedding itself. When the result
        does not validate, it is kept as the draft, so that the screen shows what was
        set and Train waits for a fix; nothing valid is lost.

        Returns:
            The error, or `None` when the config took the values.

        Example:

        >>> explorer = ExplorerSession()
        >>> explorer.edit({"task.name": "tokens"}) is None
        True
        >>> explorer.config.model["embedding"]["output_dim"]
        64
        >>> explorer.edit({"layer1.return_sequences": True}).field
        'model.layers[0].return_sequences'
        >>> explorer.shown("layer1.return_sequences"), explorer.config.per_step_targets
        (True, False)
        """
        wanted = {**self.draft, **values}
        task = values.get("task.name")
        if task is not None and "model.embedding" not in values:
            wanted = {**task_needs(self.config, task), **wanted}
        try:
            config = self.config.with_values(wanted)
        except ConfigError as error:
            self.draft, self.draft_error = wanted, error
            return error
        self.config, self.draft, self.draft_error = config, {}, None
        return None

    def discard_draft(self) -> None:
        """Forget the settings that did not validate: the widgets show `config` again."""
        self.draft, self.draft_error = {}, None

    def shown(self, key: str) -> Any:
        """The value the widget of a flat key shows: the draft's, else the config's."""
        if key in self.draft:
            return self.draft[key]
        return self.config.get(key)

    @property
    def running(self) -> bool:
        """Whether this session's job is queued, preparing or training."""
        return self.job is not None and not self.job.snapshot().done

    def latest(self) -> tuple[dict | None, dict | None]:
        """History and trace arrays to draw: the running job's, else the last run's."""
        if self.job is not None and (not self.job.snapshot().done
                                     or self.collected_job is not self.job):
            snapshot = self.job.snapshot()
            history = {"epochs": snapshot.rows, "status": snapshot.status,
                       "message": snapshot.message}
            arrays = snapshot.trace.to_arrays() if snapshot.trace is not None else None
            return history, arrays
        if self.runs:
            return self.runs[-1].history, self.runs[-1].arrays
        return None, None

    def collect(self) -> Run | None:
        """Keep the finished job as a run (once); returns the new run, if any.

        The runs of a finished sweep or lab experiment (`batch`) are kept here too.
        """
        if self.batch is not None:
            self.batch.collect(self)
        job = self.job
        if job is None or self.collected_job is job:
            return None
        snapshot = job.snapshot()
        if not snapshot.done:
            return None
        self.collected_job = job
        if snapshot.result is None:  # failed or cancelled: nothing to keep
            return None
        result = snapshot.result
        arrays = result.trace.to_arrays() if result.trace is not None else {}
        return self.add_run(describe_config(result.config), result.config, result.history,
                            arrays, result)

    def add_run(self, label: str, config: ExperimentConfig, history: dict, arrays: dict,
                result: Any = None, group: Any = None) -> Run:
        """Keep a finished training as the next numbered run, `"run N: label"`; beyond
        `MAX_RUNS` the oldest is dropped, with a notice that says so. A seed group
        (`group`) is one run here, whatever its number of seeds."""
        number = _run_number(self.runs[-1]) + 1 if self.runs else 1
        run = Run(name=f"run {number}: {label}", config=config, history=history,
                  arrays=arrays, result=result, group=group)
        self.runs.append(run)
        if len(self.runs) > MAX_RUNS:
            dropped = self.runs.pop(0)
            self.notices.append(f"Only the last {MAX_RUNS} runs are kept on this server; "
                                f"{dropped.name} was dropped. (An administrator can raise "
                                f"the limit with {limits.ENV_NAMES['max_runs']}.)")
        return run


def task_needs(config: ExperimentConfig, task: str) -> dict[str, Any]:
    """What switching to a task also needs: an Embedding for the tasks that feed ids
    (tokens, chars: `tasks.needs_embedding`), none for the others.

    >>> task_needs(ExperimentConfig.default(), "tokens")
    {'model.embedding': {'output_dim': 64}}
    >>> task_needs(ExperimentConfig.default(), "chars")
    {'model.embedding': {'output_dim': 64}}
    >>> task_needs(ExperimentConfig.default(), "recall")
    {}
    """
    needed = tasks.needs_embedding(task)
    if needed and config.model["embedding"] is None:
        return {"model.embedding": {"output_dim": 64}}
    if not needed and config.model["embedding"] is not None:
        return {"model.embedding": None}
    return {}


def _run_number(run: Run) -> int:
    try:
        return int(run.name.split(":")[0].split()[-1])
    except (ValueError, IndexError):
        return 0


def describe_config(config: ExperimentConfig) -> str:
    """A short label for a run: cell, units per layer and the task."""
    units = "/".join(str(layer["units"]) for layer in config.model["layers"])
    return f"{config.model['cell']} {units} on {config.task['name']}"


def session() -> ExplorerSession:
    """This browser session's state, created on first use."""
    if _KEY not in st.session_state:
        st.session_state[_KEY] = ExplorerSession()
    explorer = st.session_state[_KEY]
    if explorer.job is not None:
        explorer.job.touch()  # the session is here: its job is not abandoned
    return explorer


def default_max_running() -> int:
    """Trainings at once: `LSTM_EXPLORER_MAX_TRAININGS`, else one per two cores."""
    return limits.current().trainings


@st.cache_resource
def job_queue() -> JobQueue:
    """The server's one training queue, shared by every session (it is thread-safe)."""
    current = limits.current()
    return JobQueue(max_running=current.trainings, session_timeout=current.session_timeout,
                    max_seconds=current.training_seconds)


def connected() -> Callable[[], bool] | None:
    """A probe, safe on any thread: is this session's browser still connected?

    `None` where there is no Streamlit server (AppTest, a bare script run); then only
    the page runs count as signs of life.
    """
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or not Runtime.exists():
        return None
    runtime, session_id = Runtime.instance(), context.session_id
    return lambda: runtime.is_active_session(session_id)


def submit(config: ExperimentConfig, **job_arguments) -> TrainingJob:
    """Queue a training for this session, watched for the session going away."""
    return job_queue().submit(config, alive=connected(), **job_arguments)
