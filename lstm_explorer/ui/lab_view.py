"""The Lab: the seven guided experiments of `lab.EXPERIMENTS`, each one click.

Each experiment has a tab: its title, what to look for, Run and Stop. While it runs, a
progress line (run 2 of 3, epoch 4 of 10); when done, the conclusion that
`lab.run_experiment` computed from the measured numbers, then the figures the experiment
names. Its runs join the session's runs, so Compare Runs, Gradient Flow and Inside the
Cell can open them.
"""

from __future__ import annotations

import streamlit as st

from lstm_explorer import compare, lab
from lstm_explorer.ui import batch, batch_view, panels
from lstm_explorer.ui.state import ExplorerSession, session

EPOCHS_KEY = "lab_epochs"
# Tab labels: the experiments' titles are too long for a row of seven tabs.
SHORT_TITLES = {
    "cells": "SimpleRNN vs GRU vs LSTM",
    "lag": "Sweeping the lag",
    "forget_bias": "Forget-gate bias",
    "exploding": "Exploding gradients",
    "dropout": "Dropout",
    "stateful": "Stateful",
    "direction": "Direction",
}


def tab_label(number: int, experiment: lab.Experiment) -> str:
    """`"1 · SimpleRNN vs GRU vs LSTM"`.

    >>> tab_label(4, lab.get("exploding"))
    '4 · Exploding gradients'
    """
    return f"{number} · {SHORT_TITLES.get(experiment.key, experiment.title)}"


def plan_text(experiment: lab.Experiment, epochs: int | None = None) -> str:
    """What pressing Run will do: the runs, the epochs, the usual time.

    >>> plan_text(lab.get("cells"))
    '3 runs (SimpleRNN, GRU, LSTM), 10 epochs each; about 43 s on a 2-core CPU.'
    >>> plan_text(lab.get("exploding"), epochs=2)
    '2 runs (No clipping, With clipnorm=1.0), 2 epochs each (the experiment has 6).'
    """
    names = [name for name, _ in experiment.variants]
    own = experiment.base_config().training["epochs"]
    varied = any("training.epochs" in values for _, values in experiment.variants)
    text = f"{len(names)} runs ({', '.join(names)}), "
    if epochs is not None and epochs != own:
        return text + f"{epochs} epochs each (the experiment has {own})."
    text += "epochs as set per run" if varied else f"{own} epochs each"
    if experiment.seconds:
        text += f"; about {experiment.seconds:.0f} s on a 2-core CPU"
    return text + "."


def page() -> None:
    """The whole Lab page."""
    explorer = session()
    batch_view.collect(explorer)
    state = batch.state_of(explorer)

    intro, options = st.columns([3, 1], gap="large")
    intro.caption(
        "Seven guided experiments on vanishing and exploding gradients. Each one trains a "
        "few models one after another with everything else held equal, then states what "
        "the runs measured; the numbers in the conclusion are read from this training, "
        "not written in advance. The runs are added to this session's runs, so Compare "
        "Runs and Gradient Flow can show them too.")
    epochs = options.number_input(
        "Epochs per run", min_value=1, max_value=200, value=None, step=1, key=EPOCHS_KEY,
        placeholder="default",
        help="Leave empty for each experiment's own number of epochs (what its text was "
             "measured with). Fewer epochs finish sooner, for a slow machine or a quick "
             "look, but give the cells less time to learn.")
    epochs = int(epochs) if epochs is not None else None

    numbered = list(enumerate(lab.EXPERIMENTS, start=1))
    labels = [tab_label(number, experiment) for number, experiment in numbered]
    active = state.job.key if state.job is not None and state.job.kind == batch.LAB else None
    default = next((label for label, (_, experiment) in zip(labels, numbered)
                    if experiment.key == active), None)
    tabs = st.tabs(labels, default=default)
    for tab, (number, experiment) in zip(tabs, numbered):
        with tab:
            experiment_panel(explorer, state, number, experiment, epochs)


def experiment_panel(explorer: ExplorerSession, state: batch.BatchState, number: int,
                     experiment: lab.Experiment, epochs: int | None) -> None:
    """One experiment: what it is, Run and Stop, its progress or its result."""
    st.subheader(f"{number}. {experiment.title}")
    st.caption(plan_text(experiment, epochs))
    st.markdown(f"**What to look for.** {experiment.look_for}")

    job = state.lab.get(experiment.key)
    running = job is not None and state.job is job and state.running
    busy = batch_view.busy_reason(explorer, state, batch.LAB)
    run_column, stop_column, open_column, note_column = st.columns([1, 1, 1.7, 2.3])
    start = run_column.button("Run", type="primary", icon=":material/play_arrow:",
                              key=f"lab_run_{experiment.key}", disabled=bool(busy),
                              width="stretch")
    stop = stop_column.button("Stop", icon=":material/stop:", key=f"lab_stop_{experiment.key}",
                              disabled=not running, width="stretch",
                              help="Stops the running training after its current batch and "
                                   "starts no further run; the runs trained so far are kept "
                                   "and concluded from.")
    if open_column.button("Open in Build & Train", icon=":material/open_in_new:",
                          key=f"lab_open_{experiment.key}", width="stretch",
                          help="Loads this experiment's base settings into Build & Train, "
                               "to change them and train them one at a time."):
        # Loaded before Build & Train draws anything, so its widgets show it at once.
        explorer.load(experiment.base_config())
        st.switch_page("pages/build_train.py")
    if busy and not running:
        note_column.caption(busy)
    if stop and job is not None:
        job.stop()
        st.rerun()
    if start:
        state.start(batch.lab_job(experiment, epochs=epochs, slots=batch_view.batch_slots()))
        st.rerun()
    if running:
        batch_view.live_progress(job)
    elif job is not None and job.collected:
        result_panel(experiment, job)


def result_panel(experiment: lab.Experiment, job: batch.BatchJob) -> None:
    """The conclusion (prominently), how the runs ended, and the experiment's figures."""
    snapshot = job.snapshot()
    if job.conclusion and job.summaries:
        shortened = (f" Each run trained for {job.epochs} epochs instead of the experiment's "
                     f"{experiment.base_config().training['epochs']}."
                     if job.epochs is not None else "")
        partial = (" Stopped early: this reads only the runs that trained."
                   if snapshot.status == batch.STOPPED else "")
        st.success(f"**What the runs measured.** {job.conclusion}"
                   + (f"\n\n*{(shortened + partial).strip()}*" if shortened or partial else ""),
                   icon=":material/lightbulb:")
    batch_view.ending_panel(job)
    if job.run_names:
        left, right = st.columns([3, 1])
        left.caption(f"Added to this session's runs as {batch.run_labels(job.run_names)}: "
                     "compare them side by side, or open one in Gradient Flow or Inside the "
                     "Cell.")
        right.page_link("pages/compare_runs.py", label="Compare Runs",
                        icon=":material/compare_arrows:")
    if not compare.MIN_RUNS <= len(job.summaries) <= compare.MAX_RUNS:
        st.info("The figures compare two or more runs; fewer than two trained.",
                icon=":material/info:")
        return
    if job.figures is None:
        job.figures = experiment.make_figures(job.summaries)
    for name, fig in job.figures.items():
        panels.chart(fig, f"lab-{experiment.key}-{name}", 440)
