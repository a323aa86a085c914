"""Panels the pages draw: model summary, cuDNN badge, training progress, live charts,
run status and downloads.

Each `*_panel` function draws; the numbers come from the library (`model.describe`,
`model.cudnn_eligible`, `figures.*`, `jobs.Snapshot`).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from lstm_explorer import figures, limits, readings, seeds, tasks
from lstm_explorer.config import ExperimentConfig, flat_field
from lstm_explorer.errors import ConfigError
from lstm_explorer.jobs import (
    DIVERGED,
    FAILED,
    FINISHED,
    STOPPED,
    Snapshot,
    TrainingJob,
)
from lstm_explorer.ui import downloads
from lstm_explorer.ui.state import ExplorerSession, Run, session

CHART_CONFIG = {"displaylogo": False}
PRESENTER_HEIGHT = 1.2  # larger type needs taller charts
CHART_HEIGHT = 380  # of each live chart: the first is whole under the bar at 1280×720
LIVE_EVERY = 0.5  # seconds between redraws of a running job's progress line
CHARTS_EVERY = 1.0  # seconds between redraws of its charts
# ... while other jobs wait in the queue: each redraw rebuilds and sends four figures,
# server time taken from the queue's preparer, which is making the waiting students'
# first pictures (measured: every 1 s instead of 3 s put ~2 s on the last first chart
# of a class of thirty).
BUSY_CHARTS_EVERY = 3.0
FIRST_CHARTS_EVERY = 0.25  # seconds between looks for a new job's first trace
# Seconds between looks at a queued job. Its charts (the untrained model) do not change
# until its turn; with a class of thirty waiting, every look costs the one server that
# also trains, so only the cheap progress line looks, and less often.
QUEUED_EVERY = 2.0
# Seconds the click's own page run waits for that trace, at most. Drawing it in that run
# saves a round trip (the progress line's next look, then a whole page run: 2 to 5 s for
# a queued job in a busy class); with thirty clicks at once on two cores, the queue's
# preparer reaches the last of them 11 to 15 s after its click (`bench/load_test.py`:
# at 10 s, a quarter of the class missed the wait). The wait gives way to a newer click.
FIRST_TRACE_WAIT = 20.0
# Seconds between the wait's checks for a newer request from the browser (a Stop).
WAIT_STEP = 0.25


# --- model summary -------------------------------------------------------------------


@st.cache_data(max_entries=64, show_spinner=False)
def model_rows(config_json: str) -> list[dict]:
    """`model.describe(build(config))` for a config given as JSON (cached per config).

    Raises:
        ConfigError: when the model cannot be built here (e.g. use_cudnn=True without a
            GPU).
    """
    from lstm_explorer import model as model_module

    config = ExperimentConfig.from_json(config_json)
    return model_module.describe(model_module.build(config))


@st.cache_resource(show_spinner=False)
def gpu_present() -> bool:
    from lstm_explorer import model as model_module

    return bool(model_module.gpu_names())


def model_check(explorer: ExplorerSession) -> tuple[list[dict] | None, BaseException | None]:
    """Build the session's model (cached per config) without drawing anything.

    Returns:
        `(rows of model.describe, None)`, or `(None, the error)` when it cannot be built
        here; a model that builds becomes the session's `last_built`. `(None, None)`
        while TensorFlow is still being imported (`frame.start_tensorflow`).
    """
    from lstm_explorer.ui import frame

    if not frame.tensorflow_ready():
        return None, None
    try:
        rows = model_rows(explorer.config.to_json(indent=None))
    except Exception as error:  # noqa: BLE001 - Keras's own refusal, shown, not raised
        return None, error
    explorer.last_built = explorer.config
    return rows, None


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table, its cells escaped for Markdown.

    >>> print(markdown_table(("layer", "type"), [("lstm", "LSTM"), ("a|b", "*x*")]))
    | layer | type |
    | --- | --- |
    | lstm | LSTM |
    | a\\|b | \\*x\\* |
    """
    def cell(value: Any) -> str:
        return re.sub(r"([\\`*_{}\[\]<>|#~$])", r"\\\1", str(value)).replace("\n", " ")

    lines = ["| " + " | ".join(cell(name) for name in header) + " |",
             "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_panel(explorer: ExplorerSession, rows: list[dict] | None,
                  error: BaseException | None) -> None:
    """The layer table with parameter formulas, the device and the cuDNN verdict.

    A model Keras cannot build is told as a message naming the settings involved and a
    way back to the last settings that built, never as a traceback.

    Args:
        explorer: the session.
        rows, error: what `model_check` returned.
    """
    if isinstance(error, ConfigError):
        st.error(f"**{flat_field(error.field)}**: {error.message}", icon=":material/error:")
        return
    if error is not None:
        build_failure_panel(explorer, error)
        return
    if rows is None:
        from lstm_explorer.ui import frame

        st.info("**Model** · the summary comes in a moment: TensorFlow is starting, as it "
                "does once after the server starts. Train works already.",
                icon=":material/hourglass_top:")
        frame.when_tensorflow_ready()
        return
    total = sum(row["params"] for row in rows)
    st.markdown(f"**Model** · {total:,} parameters")
    # A Markdown table, not st.dataframe: the data grid's scripts (1.5 MB) would load in
    # every new session for a table of a few rows, a third of a second on two cores.
    st.markdown(markdown_table(
        ("layer", "type", "output shape", "parameters"),
        [(row["name"], row["type"], row["output_shape"], f"{row['params']:,}")
         for row in rows]))
    formulas = [f"- `{row['name']}`: {row['formula']}" for row in rows if row["formula"]]
    if formulas:
        st.markdown("\n".join(formulas))
    cudnn_panel(explorer.config)


def changed_settings(config: ExperimentConfig, base: ExperimentConfig | None) -> list[str]:
    """The share-link keys in which `config` differs from `base` (or the defaults).

    >>> default = ExperimentConfig.default()
    >>> changed_settings(default.with_values({"layer1.units": 8}), default)
    ['layer1.units=8']
    """
    mine = config.to_query()
    theirs = (base or ExperimentConfig.default()).to_query()
    return [f"{key}={text}" for key, text in mine.items() if theirs.get(key) != text] + [
        f"{key} back to its default" for key in theirs if key not in mine]


def build_failure_panel(explorer: ExplorerSession, error: BaseException) -> None:
    """Keras refused to build the model: say which settings, and offer the way back."""
    failure_panel(explorer, error, "Keras cannot build this model.")


def failure_panel(explorer: ExplorerSession, error: BaseException, headline: str) -> None:
    """Something failed while building, tracing or drawing: a message, not a traceback.

    Names the settings involved (those changed since the last model that built, else
    those that differ from the defaults), says what the error said, and offers the way
    back to the last settings that built. Runs and settings are kept.

    Args:
        explorer: the session.
        error: what was raised.
        headline: one bold sentence: what failed.
    """
    config = explorer.config
    base = explorer.last_built if explorer.last_built != config else None
    involved = changed_settings(config, base)
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
    if base is not None:
        what = f"Changed since the last model that built: {', '.join(involved[:8])}."
    elif involved:
        what = f"The settings that differ from the defaults: {', '.join(involved[:8])}."
    else:
        what = "These are the default settings."
    back = (" Change one of them back, or return to the last settings that built."
            if base is not None else " Change one of them, or pick a preset.")
    st.error(f"**{headline}** It says: {reason[:300]}\n\n{what}{back} Your runs and "
             "settings are kept.", icon=":material/error:")
    if base is not None:
        st.button("Back to the last settings that built", icon=":material/undo:",
                  key=f"back-to-built-{id(error)}", on_click=explorer.load,
                  args=(base, explorer.preset))


def draft_panel(explorer: ExplorerSession) -> None:
    """In place of the model summary while the settings shown do not validate."""
    error = explorer.draft_error
    st.warning(f"**These settings cannot be trained yet.** {flat_field(error.field)}: "
               f"{error.message}\n\nThe message is also under the setting on the left. "
               "The model summary comes back when it is fixed; your runs are kept.",
               icon=":material/warning:")
    st.button("Undo: back to the last valid settings", icon=":material/undo:",
              key="discard-draft", on_click=explorer.discard_draft)


CSV_KEY = "csv_upload"
MISSING_CSV = "Upload a CSV file to train on the csv task."


def csv_status(explorer: ExplorerSession) -> tuple[bool, str]:
    """Whether the csv task has a usable file, reading the uploader's state (no drawing).

    Read before anything is drawn, so that Train knows in the same run; `csv_panel`
    draws the uploader and the message later.

    Returns:
        `(ready, message)`: the message says what is used, what is wrong, or (with no
        file yet, `MISSING_CSV`) what to do.
    """
    config = explorer.config
    if config.task["name"] != "csv":
        return True, ""
    upload = st.session_state.get(CSV_KEY)
    if upload is not None:
        too_big = limits.check_upload(upload.size)
        if too_big is not None:
            return False, too_big.text
        explorer.csv_text = upload.getvalue()
        explorer.csv_name = upload.name
    if explorer.csv_text is None:
        return False, MISSING_CSV
    try:
        series = tasks.read_csv_series(explorer.csv_text, config.task["column"])
    except ConfigError as problem:
        return False, f"**{problem.field}**: {problem.message}"
    return True, (f"Using {explorer.csv_name or 'the uploaded file'}: "
                  f"{len(series.values):,} values.")


def csv_panel(ready: bool, message: str) -> None:
    """The uploader of the csv task, with what `csv_status` said."""
    box = st.container(border=True)
    box.markdown("**Your CSV file** (one numeric column is modelled; see *Column* under "
                 "Task)")
    limit_mb = limits.current().max_upload_mb
    box.file_uploader("CSV file", type=["csv", "txt", "tsv"], key=CSV_KEY,
                      max_upload_size=max(1, math.ceil(limit_mb)),
                      help=f"Up to {limit_mb:g} MB and {tasks.MAX_CSV_ROWS:,} rows; a "
                           "header row and the delimiter are detected.")
    if ready:
        box.caption(message)
    elif message == MISSING_CSV:
        box.info(message, icon=":material/upload_file:")
    else:
        box.error(message, icon=":material/block:")


def why_not_trainable(error: ConfigError | None, *, buildable: bool, csv_ready: bool,
                      over_limits: bool) -> str:
    """The reason shown next to a disabled Train button.

    >>> why_not_trainable(None, buildable=True, csv_ready=False, over_limits=False)
    'Train is off: the csv task needs a usable CSV file (see Settings).'
    """
    if error is not None:
        return (f"Train is off: fix **{flat_field(error.field)}** first (the message is "
                "under it).")
    if not buildable:
        return "Train is off: Keras cannot build this model (see above)."
    if not csv_ready:
        return "Train is off: the csv task needs a usable CSV file (see Settings)."
    if over_limits:
        return "Train is off: the model is too big for this server (see above)."
    return ""


def cudnn_panel(config: ExperimentConfig) -> None:
    """Would Keras run the fused cuDNN kernel, here and on a GPU, and if not, why."""
    from lstm_explorer import model as model_module

    here = model_module.cudnn_eligible(config, gpu_present=gpu_present())
    on_gpu = model_module.cudnn_eligible(config, gpu_present=True)
    if here.eligible:
        st.badge("cuDNN kernel: yes", icon=":material/bolt:", color="green")
        st.caption("Every recurrent layer runs on the fused cuDNN kernel of this GPU.")
    elif on_gpu.eligible:
        st.badge("cuDNN kernel: on a GPU, yes", icon=":material/bolt:", color="blue")
        st.caption("No GPU is visible here, so Keras runs its generic kernel on the CPU; "
                   "on a GPU these settings would use the fused cuDNN kernel.")
    else:
        st.badge("cuDNN kernel: no", icon=":material/block:", color="orange")
        st.caption("Keras cannot use the fused cuDNN kernel even on a GPU because of: "
                   + "; ".join(on_gpu.reasons) + ".")


# --- training ------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    value = max(0.0, float(value))
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def progress_text(snapshot: Snapshot, now: float | None = None) -> str:
    """One line: the step under way, epoch, batch, loss, time (or the queue place).

    The seconds count on from the job's start (`now`, default `time.monotonic()`), so
    the line moves every second even while a step moves no batch count, such as Keras
    compiling its training step; the time left is "estimating" until an epoch has
    finished, as the first batches include that compiling.

    >>> progress_text(Snapshot(status="running", epoch=2, epochs=10, batch=5, batches=25,
    ...                        loss=0.1234, elapsed=3.0, remaining=12.0))
    'Epoch 2 of 10 · batch 5 of 25 · loss 0.1234 · 3 s so far, about 12 s left'
    >>> progress_text(Snapshot(status="running", epoch=1, epochs=10, batches=25,
    ...                        phase="Preparing the training step", phase_since=100.0,
    ...                        started_at=98.0), now=107.4)
    'Epoch 1 of 10 · Preparing the training step (7 s) · 9 s so far, estimating the time left'
    >>> progress_text(Snapshot(status="queued", place=3, wait=40.0))
    'Queued, place 3, about 40 s to wait: the server trains a few models at a time. Stop cancels it.'
    """
    if snapshot.status == "queued":
        if not snapshot.place:
            return "Queued: starting now."
        wait = (f"about {_seconds(snapshot.wait)} to wait" if snapshot.wait is not None
                else "no estimate of the wait yet")
        # The queue traces a waiting model untrained (jobs.JobQueue), so there is
        # already something to look at.
        meanwhile = (" Meanwhile the charts show the untrained model."
                     if snapshot.trace is not None else "")
        return (f"Queued, place {snapshot.place}, {wait}: the server trains a few models "
                f"at a time. Stop cancels it.{meanwhile}")
    now = time.monotonic() if now is None else now
    elapsed = now - snapshot.started_at if snapshot.started_at is not None else snapshot.elapsed
    phase = (f"{snapshot.phase} ({_seconds(now - snapshot.phase_since)})" if snapshot.phase
             else "")
    if snapshot.status == "preparing":
        return f"{phase or snapshot.message or 'Making the data and the model'} · " \
               f"{_seconds(elapsed)} so far"
    parts = [f"Epoch {max(snapshot.epoch, 1)} of {snapshot.epochs}"]
    if phase:
        parts.append(phase)
    elif snapshot.batches:
        parts.append(f"batch {snapshot.batch} of {snapshot.batches}")
    if snapshot.loss is not None:
        parts.append(f"loss {snapshot.loss:.4g}")
    time_text = f"{_seconds(elapsed)} so far"
    if snapshot.remaining is not None and not snapshot.done:
        time_text += f", about {_seconds(snapshot.remaining)} left"
    elif not snapshot.done and not snapshot.rows:
        time_text += ", estimating the time left"
    parts.append(time_text)
    return " · ".join(parts)


def progress_panel(snapshot: Snapshot) -> None:
    """Progress bar and the line of numbers under it."""
    st.progress(min(1.0, max(0.0, snapshot.fraction)), text=progress_text(snapshot))


def status_panel(status: str, message: str) -> None:
    """How a run ended; a diverged run is told as a lesson, not as a crash."""
    if status == FINISHED:
        st.success(message or "Training finished.")
    elif status == STOPPED:
        st.info(message or "Training stopped; the model keeps what it learned.")
    elif status == DIVERGED:
        st.error("**The training diverged: the loss became NaN or infinite.** This is "
                 "what exploding gradients look like: each update made the weights "
                 "larger until the numbers overflowed.\n\n" + message + "\n\nOpen the "
                 "Gradient Flow page to see the gradient norms grow toward the early "
                 "steps before the blow-up.", icon=":material/school:")
    elif status == FAILED:
        st.error(message or "Training failed.")
    elif message:
        st.info(message)


def run_panel(run: Run) -> None:
    """How the latest run ended, its verdict, and the line that names what trained.

    A run over several seeds gets the verdict over its seeds (`seeds.verdict`); a
    single run a way to repeat it over seeds, since another seed can go otherwise.
    """
    status = run.history.get("status", "")
    message = run.history.get("message", "")
    over_seeds = run.group is not None and len(run.group.runs) > 1
    reading = "" if status not in (FINISHED, STOPPED) else (
        seeds.verdict(run.group) if over_seeds else readings.verdict(run.config, run.history))
    if status == FINISHED and readings.run_level(run.history) == readings.LEARNED:
        st.success(f"**{message}** {reading}", icon=":material/school:")
    elif status == FINISHED and reading:
        st.warning(f"**{message}** {reading}", icon=":material/lightbulb:")
    elif status == STOPPED:
        st.info(f"{message} {reading}".strip(), icon=":material/pause_circle:")
    else:
        status_panel(status, message)
    if status not in (FINISHED, STOPPED) or over_seeds:
        st.caption(run_line(run))
        return
    # Beside the line, not under it: the bar stays one line high, so the first chart
    # still fits under it at 1280×720.
    line, link = st.columns([2.6, 1.2], vertical_alignment="center")
    line.caption(run_line(run))
    link.page_link("pages/compare_runs.py", label="Repeat over seeds",
                   icon=":material/replay:",
                   help="One training seed can mislead: another (other initial weights, "
                        "dropout masks and batch order) can end otherwise. On Compare "
                        "Runs, Repeat over seeds trains this run's settings once per seed "
                        "and shows the median, the spread and the verdict over the seeds.")


def run_line(run: Run) -> str:
    """One line naming a finished run: what was trained and its loss by epoch.

    What a person reads to know which model the last Train trained.
    """
    parts = [f"**{run.name}**"]
    model = getattr(run.result, "model", None)
    if model is not None:
        parts.append(f"{model.count_params():,} parameters")
    losses = [row["loss"] for row in run.history.get("epochs", []) if "loss" in row]
    if losses:
        shown = [f"{loss:.4f}" for loss in losses[:3]]
        if len(losses) > 4:
            shown.append("…")
        if len(losses) > 3:
            shown.append(f"{losses[-1]:.4f}")
        parts.append("loss by epoch " + " → ".join(shown))
    return " · ".join(parts)


def layer_keys(config: ExperimentConfig) -> list[str]:
    """The trace keys of a config's recurrent layers (`layer0`, `layer0/backward`, ...)."""
    keys = []
    for index in range(len(config.model["layers"])):
        keys.append(f"layer{index}")
        if config.model["bidirectional"]:
            keys.append(f"layer{index}/backward")
    return keys


def layer_label(key: str) -> str:
    """A trace key as the figures name it, with the settings tab it belongs to.

    The figures count recurrent layers from 0 (as the trace does); the settings and
    share links from 1 (`layer1.units`); people see the numbers from 1 everywhere.

    >>> layer_label("layer0"), layer_label("layer1/backward")
    ('Layer 1', 'Layer 2, backward')
    """
    index, _, rest = key.removeprefix("layer").partition("/")
    return f"Layer {int(index) + 1}" + (f", {rest}" if rest else "")


def live_figures(explorer: ExplorerSession, token: Any, history: dict | None,
                 arrays: dict | None, layer: str) -> dict[str, Any]:
    """The live charts for one layer, rebuilt only when the data changed."""
    cache_key = ("live", token, layer)
    cached = explorer.cache.get("live")
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    index = int(layer.split("/")[0].removeprefix("layer"))
    direction = "backward" if layer.endswith("/backward") else "forward"
    has_layer = arrays is not None and f"{layer}/h" in arrays
    # Before the first epoch's end the loss and gradient charts would be empty boxes:
    # the gates and states of the untrained model come first instead, in view.
    charts = ({"loss": figures.loss_curves(history),
               "gradient_flow": figures.gradient_flow(history, layer)}
              if history and history.get("epochs") else {})
    if has_layer and f"{layer}/i" in arrays or has_layer and f"{layer}/z" in arrays:
        charts["gates"] = figures.gate_heatmaps(arrays, index, direction=direction)
    elif not has_layer:
        charts["gates"] = figures.empty_figure(
            "Gate activations", "No trace yet: the gates appear after the first epoch.")
    if has_layer:
        charts["states"] = figures.state_heatmaps(arrays, index, direction=direction)
    else:
        charts["states"] = figures.empty_figure(
            "Hidden and cell states", "No trace yet: the states appear after the first epoch.")
    explorer.cache["live"] = (cache_key, charts)
    return charts


def awaits_first_trace(job: TrainingJob | None) -> bool:
    """Whether `job` has no trace of the probe batch yet but will have one soon.

    Soon: it is preparing or training, or it waits in the queue, whose preparer traces
    the jobs waiting behind running ones untrained, in queue order, while those train
    (`jobs.JobQueue`); a job that an idle worker takes at once is traced by that worker.
    """
    if job is None:
        return False
    snapshot = job.snapshot()
    return not snapshot.done and snapshot.trace is None


def wait_for_first_trace(job: TrainingJob | None, timeout: float = FIRST_TRACE_WAIT) -> bool:
    """Wait until `job` has its first trace, while it `awaits_first_trace`.

    The page run of a click on Train calls it before drawing the charts, so that the
    untrained model's charts (usually there within a second) are drawn by that run
    instead of by a later redraw of the charts fragment. Every `WAIT_STEP` seconds it
    lets Streamlit end the run for a newer request from the same browser (a click on
    Stop, a changed setting), so that waiting never holds one up.

    Args:
        job: the job just submitted.
        timeout: seconds to wait at most. Default: `FIRST_TRACE_WAIT`.

    Returns:
        Whether the trace is there.

    Example:

    >>> wait_for_first_trace(None)
    False
    """
    if not awaits_first_trace(job):
        return job is not None and job.snapshot().trace is not None
    deadline = time.monotonic() + timeout
    while not job.wait_for_trace(min(WAIT_STEP, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline or not awaits_first_trace(job):
            return False
        _give_way_to_newer_requests()
    return True


def _give_way_to_newer_requests() -> None:
    # Reading the session state is one of the points where Streamlit's script runner
    # looks for a newer rerun or stop request of this session and, if there is one,
    # ends this run by raising (SafeSessionState calls the runner's yield callback;
    # checked on Streamlit 1.67). Unlike drawing an element it sends nothing.
    _ = "train" in st.session_state


@functools.cache
def _placeholder_figure(waiting: bool) -> Any:
    # Built once per process and never changed afterwards: sessions share it.
    reason = ("Training starts: the untrained model's gates appear in a moment." if waiting
              else "Press Train: the loss, the gradient flow, the gates and the states "
                   "are drawn here.")
    fig = figures.empty_figure("Training charts", reason)
    fig.update_layout(height=220)
    return fig


def placeholder_chart(waiting: bool, key: str = "live-placeholder") -> None:
    """One empty chart where the live charts will be, saying when they come.

    Drawing a plotly chart before there is data also has the browser load its
    charting library while the page is idle, so that after a click on Train the first
    real chart is drawn at once instead of after that download (a few seconds on a
    busy two-core server).

    Args:
        waiting: a training has started (its first trace is on the way); otherwise
            none has.
        key: the chart's element key (two in one page run need two). Default:
            `"live-placeholder"`.
    """
    chart(_placeholder_figure(waiting), key)


def chart_theme() -> figures.Theme:
    """The look of this session's charts: Streamlit's light or dark theme, as the
    browser reports it, and presenter mode."""
    dark = getattr(st.context.theme, "type", None) == "dark"
    return figures.Theme(dark=dark, presenter=session().presenter)


PRELOAD_AFTER = 1.5  # seconds after a page is usable before plotly.js loads


def placeholder_or_preload(explorer: ExplorerSession, waiting: bool) -> None:
    """The empty chart that says what comes (`placeholder_chart`), or, on a session's
    first page, a note now and that chart a moment later.

    A page's first plotly chart has the browser load and compile plotly.js (3.5 MB),
    which holds the browser's main thread for seconds on a busy two-core machine: drawn
    in the first page run, it kept Train disabled until then. Drawn `PRELOAD_AFTER`
    seconds later, the page is usable first and the library is still loaded before the
    person's click on Train, so the first real chart is drawn at once.

    Args:
        explorer: the session; `charts_loaded` says whether its browser has the library.
        waiting: a training has started (its first trace is on the way).
    """
    if explorer.charts_loaded or waiting:
        explorer.charts_loaded = True
        placeholder_chart(waiting=waiting)
        return
    state = {"looks": 0}

    def later() -> None:
        state["looks"] += 1
        if state["looks"] == 1:  # the page's own run: words only
            st.caption("Press **Train**: the loss, the gradient flow, the gates and the "
                       "states are drawn here.")
        elif not explorer.charts_loaded:
            explorer.charts_loaded = True
            placeholder_chart(waiting=False)
        else:
            st.rerun()  # a page run draws the chart from now on, and ends this timer

    st.fragment(later, run_every=PRELOAD_AFTER)()


def chart(fig: Any, key: str, height: int | None = None) -> None:
    """Draw a figure in the session's theme (`chart_theme`; the exports use it too).

    The figure itself is left as it is (a page may keep it and draw it again).
    """
    theme = chart_theme()
    if theme != figures.LIGHT:
        # A live chart is redrawn every second from the same figure: style it once.
        styled = session().cache.setdefault("styled", {})
        kept = styled.get(key)
        if kept is None or kept[0] is not fig or kept[1] != theme:
            kept = styled[key] = (fig, theme, figures.style(go.Figure(fig), theme))
        fig = kept[2]
        height = round(height * PRESENTER_HEIGHT) if height and theme.presenter else height
    if height is not None and fig.layout.height != height:
        fig.update_layout(height=height)
    st.plotly_chart(fig, key=key, theme=None, config=CHART_CONFIG)


def charts_panel(charts: dict[str, Any], prefix: str) -> None:
    """Loss, gradient flow, gates and states, one under the other at full width."""
    if "loss" not in charts:
        st.caption("The loss and the gradient flow through time are drawn after the "
                   "first epoch; meanwhile, the gates and states of the untrained model.")
    for name in ("loss", "gradient_flow", "gates", "states"):
        if name in charts:
            chart(charts[name], f"{prefix}-{name}", CHART_HEIGHT)


def charts_every(waiting: int) -> float:
    """Seconds between redraws of a running job's charts, given how many jobs wait.

    >>> charts_every(0), charts_every(12)
    (1.0, 3.0)
    """
    return CHARTS_EVERY if waiting == 0 else BUSY_CHARTS_EVERY


def live(body: Callable[[], None], *, job: TrainingJob | None, running: bool,
         every: float = LIVE_EVERY, until: Callable[[], bool] | None = None,
         rerun_when: Callable[[], bool] | None = None) -> None:
    """Run `body` as a fragment that redraws every `every` seconds while `job` runs.

    When the job ends during a redraw, the whole page reruns once, so the finished run
    is collected and the redraws stop.

    Args:
        body: draws the fragment's content.
        job: the job being watched, if any.
        running: whether it runs (no redraws otherwise).
        every: seconds between redraws. Default: `LIVE_EVERY`.
        until: for a quick cadence that should last only until something has been
            drawn (a new job's first trace): checked after each redraw; once it holds,
            the next redraw reruns the whole page instead, whose run picks the cadence
            anew (a fragment cannot change its own). Default: `None`.
        rerun_when: checked before each redraw; when it holds, the whole page reruns
            at once (e.g. a queued job's turn came, so its charts must start to
            redraw). Default: `None`.
    """
    drawn = {"enough": False}  # kept by the fragment between its redraws

    def fragment() -> None:
        if running and job is not None and job.snapshot().done:
            st.rerun()
        if drawn["enough"] or (rerun_when is not None and rerun_when()):
            st.rerun()
        try:
            body()
        except Exception as error:  # noqa: BLE001 - shown as a message, never a traceback
            logging.getLogger(__name__).exception("drawing a live view failed")
            failure_panel(session(), error, "These charts could not be drawn.")
        if until is not None and until():
            drawn["enough"] = True

    st.fragment(fragment, run_every=every if running else None)()


# --- downloads -----------------------------------------------------------------------


def config_downloads(config: ExperimentConfig) -> None:
    """The config as JSON and as a standalone Keras script."""
    left, right = st.columns(2)
    left.download_button("Config (JSON)", downloads.config_json(config),
                         file_name="lstm_config.json", mime=downloads.MIME["json"],
                         icon=":material/download:", on_click="ignore", key="dl-config")
    right.download_button("Keras script (.py)", lambda: downloads.script_text(config),
                          file_name="train_lstm.py", mime=downloads.MIME["py"],
                          icon=":material/code:", on_click="ignore", key="dl-script")


def run_downloads(explorer: ExplorerSession, run: Run) -> None:
    """The trained model, its history, its trace and every figure of a run."""
    result = run.result
    stem = run.name.split(":")[0].replace(" ", "_")
    columns = st.columns(4)
    columns[0].download_button(
        "Model (.keras)", lambda: downloads.model_keras(result),
        file_name=f"{stem}.keras", mime=downloads.MIME["keras"], icon=":material/download:",
        on_click="ignore", key="dl-model", disabled=result is None)
    columns[1].download_button(
        "History (CSV)", downloads.history_csv(run.history), file_name=f"{stem}_history.csv",
        mime=downloads.MIME["csv"], icon=":material/download:", on_click="ignore",
        key="dl-history")
    columns[2].download_button(
        "Trace (.npz)", lambda: downloads.trace_npz(result), file_name=f"{stem}_trace.npz",
        mime=downloads.MIME["npz"], icon=":material/download:", on_click="ignore",
        key="dl-trace", disabled=result is None or result.trace is None)
    # The same verdict as on the page and in the command line's verdict.txt.
    columns[3].download_button(
        "Verdict (.txt)", readings.verdict(run.config, run.history) + "\n",
        file_name=f"{stem}_verdict.txt", mime="text/plain", icon=":material/download:",
        on_click="ignore", key="dl-verdict")
    st.caption("Figures, rendered at 1200×700 like the command-line export (each file is "
               "made when you click):")
    for name, fig in run_figures(explorer, run).items():
        label, png, svg = st.columns([3, 1, 1])
        label.markdown(f"`{name}`")
        for column, fmt in ((png, "png"), (svg, "svg")):
            column.download_button(
                fmt.upper(), _figure_maker(fig, fmt), file_name=f"{stem}_{name}.{fmt}",
                mime=downloads.MIME[fmt], on_click="ignore", key=f"dl-{name}-{fmt}")


def _figure_maker(fig: Any, fmt: str) -> Callable[[], bytes]:
    return lambda: downloads.figure_file(fig, fmt)


def run_figures(explorer: ExplorerSession, run: Run) -> dict[str, Any]:
    """`figures.all_figures` of a run, built once per run."""
    theme = chart_theme()
    cached = explorer.cache.get("run_figures")
    if cached is not None and cached[0] is run and cached[1] == theme:
        return cached[2]
    built = figures.all_figures(run.history, run.arrays or None, theme=theme)
    explorer.cache["run_figures"] = (run, theme, built)
    return built


def snapshot_of(job: TrainingJob | None) -> Snapshot | None:
    return None if job is None else job.snapshot()
