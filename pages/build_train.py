"""Build & Train: set every argument, see the model, train it and watch it learn.

At the top, a bar: Train, Stop, and how the training goes (or went, with its verdict).
Under it two tabs: the settings with the model summary, and the training charts. A click
on Train opens the charts, so that what changes after the click is in view, even at
1280×720.
"""

import streamlit as st

from lstm_explorer import limits, timeline
from lstm_explorer.ui import frame, panels, room_view, widgets
from lstm_explorer.ui.state import MAX_RUNS, describe_config, job_queue, session, submit

SETTINGS_TAB, CHARTS_TAB = "Settings and model", "Training charts"
TAB_KEY = "build_tab"

timeline.mark("page run")
frame.require_frame()
explorer = session()
explorer.collect()

# Everything Train depends on is known before anything is drawn, so that the bar above
# the settings can say in this run whether (and why not) Train works.
config, error = explorer.config, explorer.draft_error
rows, build_error = (None, None) if error is not None else panels.model_check(explorer)
csv_ready, csv_message = panels.csv_status(explorer)
over_limits = limits.check(config)
buildable = error is None and build_error is None
running = explorer.running
can_train = not running and buildable and csv_ready and not over_limits
# A click on Train is read (from the button's state) before the buttons are drawn, so
# this very run draws the new job: Train disabled, Stop enabled, the charts tab open.
# Rerunning the page for that instead costs the server a whole page run (about 0.3 s
# on two cores) while the job makes its data and model, delaying its first chart.
submitted = bool(st.session_state.get("train")) and can_train
if submitted:
    timeline.mark("click seen", seed=config.training["seed"])
    job_config = config.with_values({"task.path": ""}) if config.task["path"] else config
    csv = explorer.csv_text if config.task["name"] == "csv" else None
    explorer.job = submit(job_config, csv_text=csv, name=describe_config(job_config))
    explorer.cache.pop("live", None)
    timeline.mark("job submitted")
    running = explorer.running
    can_train = False
    st.session_state[TAB_KEY] = CHARTS_TAB

# --- the bar: Train, Stop, progress or the last run's verdict ---------------------------

train_column, stop_column, status_column = st.columns([1, 1, 5], vertical_alignment="top")
train_column.button("Train", type="primary", icon=":material/play_arrow:",
                    disabled=not can_train, key="train", width="stretch")
stop = stop_column.button("Stop", icon=":material/stop:", disabled=not running, key="stop",
                          width="stretch",
                          help="Stops after the current batch; the model keeps what it has "
                               "learned. A training still waiting in the queue is cancelled.")
if stop and explorer.job is not None:
    explorer.job.stop()
    st.rerun()
with status_column:
    if not running and not can_train:
        st.caption(panels.why_not_trainable(error, buildable=buildable, csv_ready=csv_ready,
                                            over_limits=bool(over_limits)))
    # Drawn once the click's wait for the first trace is over (below): by then the job
    # has usually left the queue, and the progress line can take the running cadence.
    progress_slot = st.empty()
    if submitted:
        with progress_slot:
            panels.progress_panel(explorer.job.snapshot())


def progress_view() -> None:
    snapshot = panels.snapshot_of(explorer.job)
    if snapshot is not None and not snapshot.done:
        panels.progress_panel(snapshot)
        return
    if explorer.runs:
        panels.run_panel(explorer.runs[-1])
    if snapshot is not None and (not explorer.runs or snapshot.result is None):
        panels.status_panel(snapshot.status, snapshot.message)  # failed or cancelled
    if snapshot is None and not explorer.runs and can_train:
        st.caption("Press **Train**: the loss, the gradient flow through time, the gates "
                   "and the states are drawn under *Training charts* and redrawn at every "
                   "epoch while the model learns.")
    room_view.send_panel(explorer)  # a student in a class room: "Send to class"


settings_tab, charts_tab = st.tabs([SETTINGS_TAB, CHARTS_TAB], key=TAB_KEY,
                                   on_change="rerun")

# --- settings and the model -------------------------------------------------------------

with settings_tab:
    settings_column, model_column = st.columns([5, 6], gap="medium")
    with settings_column:
        st.caption("Every argument; hover the ? of a setting for its help.")
        with st.container(height=640, border=False):
            error_placed = widgets.config_editor(explorer)
        if error is not None and not error_placed:
            st.error(widgets.error_text(error), icon=":material/error:")
        if config.task["name"] == "csv":
            panels.csv_panel(csv_ready, csv_message)
    with model_column:
        if error is not None:
            panels.draft_panel(explorer)
        else:
            notes = config.notes()
            if notes:
                st.info("\n".join(f"- {note}" for note in notes), icon=":material/info:")
            panels.summary_panel(explorer, rows, build_error)
        if over_limits:
            st.error("**Too big for this server.** Lower these settings to train:\n\n"
                     + "\n".join(f"- {problem.text}" for problem in over_limits),
                     icon=":material/block:")
        with st.expander("Downloads", expanded=False):
            st.caption("This configuration:")
            panels.config_downloads(config)
            if explorer.runs:
                run = explorer.runs[-1]
                st.caption(f"The latest run, {run.name}:")
                panels.run_downloads(explorer, run)
            else:
                st.caption("Train once to download the model, its history, its trace and "
                           "its figures.")
        if explorer.runs:
            st.caption(f"{len(explorer.runs)} run(s) kept in this session (at most "
                       f"{MAX_RUNS}); Inside the Cell and Gradient Flow show them.")

# --- the training charts ----------------------------------------------------------------

job = explorer.job
with charts_tab:
    layer_options = panels.layer_keys(job.config if running and job else
                                      explorer.runs[-1].config if explorer.runs else config)
    if len(layer_options) > 1 and (running or explorer.runs):
        watched = st.selectbox("Layer to watch", layer_options,
                               format_func=panels.layer_label, key="live_layer")
    else:
        watched = layer_options[0]


def charts_view() -> None:
    timeline.mark("charts poll")
    history, arrays = explorer.latest()
    if queued_job is not None:
        charts_show["trace"] = arrays is not None
    if arrays is None and not (history and history["epochs"]):
        # Nothing to draw yet: no training, or a new job before its first trace.
        panels.placeholder_or_preload(explorer, waiting=history is not None)
        return
    explorer.charts_loaded = True
    snapshot = panels.snapshot_of(explorer.job)
    if snapshot is not None and not snapshot.done:
        token = (id(explorer.job), len(snapshot.rows), id(snapshot.trace))
    else:
        token = ("run", id(explorer.runs[-1]) if explorer.runs else None)
    layer = watched if arrays is None or f"{watched}/h" in arrays else "layer0"
    charts = panels.live_figures(explorer, token, history, arrays, layer)
    timeline.mark("figures built", trace=arrays is not None)
    panels.charts_panel(charts, "live")
    timeline.mark("charts sent", trace=arrays is not None,
                  seed=explorer.job.config.training["seed"] if explorer.job else None)


# The progress line redraws often; the charts change once per epoch, so they redraw less
# often (every redraw sends every figure to the browser again), except while a new job
# has no trace yet: its first one comes within a second of the click, and is drawn as
# soon as it is there.
if submitted:
    # The job's first trace is usually there within a second of the click: waiting for
    # it here draws it in this run, sooner than the charts fragment's next look would
    # (everything above is drawn already; the fragment looks on if this times out).
    # Meanwhile the chart area says what is coming, instead of the last run's charts
    # greyed out.
    with charts_tab:
        coming = st.empty()
        with coming:
            panels.placeholder_chart(waiting=True, key="live-coming")
    panels.wait_for_first_trace(explorer.job)
    coming.empty()

# A queued job: only the progress line looks (its place, its wait), and the page reruns
# when the job's turn comes or its untrained trace arrives, to draw them.
queued_job = explorer.job if running and explorer.job.status == "queued" else None
charts_show = {}  # whether the charts below drew the queued job's trace (once drawn)


def queue_changed() -> bool:
    # The job's turn came, or its trace arrived after the charts drew without one: the
    # charts of a queued job do not redraw by themselves, a page run draws them.
    if queued_job.status != "queued":
        return True
    drew_trace = charts_show.get("trace")
    return drew_trace is False and queued_job.snapshot().trace is not None


with progress_slot.container():
    panels.live(progress_view, job=explorer.job, running=running,
                every=panels.QUEUED_EVERY if queued_job is not None else panels.LIVE_EVERY,
                rerun_when=queue_changed if queued_job is not None else None)
waiting_for_trace = running and panels.awaits_first_trace(explorer.job)
# A queued job's charts stay as drawn (the progress line reruns the page when its trace
# arrives or its turn comes), unless it is first in line: that one is watched closely.
# Looking closely for a whole class at once would cost the server that also trains.
if queued_job is not None and queued_job.snapshot().place > 1:
    waiting_for_trace = False
charts_redraw = running and (queued_job is None or waiting_for_trace)
with charts_tab:
    panels.live(charts_view, job=explorer.job, running=charts_redraw,
                every=panels.FIRST_CHARTS_EVERY if waiting_for_trace
                else panels.charts_every(job_queue().waiting),
                until=(lambda: explorer.job.snapshot().trace is not None)
                if waiting_for_trace else None)
timeline.mark("page run end")
