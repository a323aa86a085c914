"""The Lab: the guided experiments of `lab.EXPERIMENTS`, each one click.

Each experiment has a tab: its title, what to look for, Seeds, Run and Stop. Run trains
each variant over the experiment's own number of seeds (`Experiment.seeds`, what its
time budget allows) unless the Seeds box says otherwise; the plan above says how long
that usually takes. While it runs, a progress line (run 2 of 9, epoch 4 of 10); when
done, the conclusion that `lab.run_experiment` computed from the measured numbers (over
the seeds: the medians, and whether the variants differ by more than the spread between
seeds), each seed's outcome, then the figures the experiment names, with bands over the
seeds. Its runs (one per variant) join the session's runs, so Compare Runs, Gradient
Flow and Inside the Cell can open them.
"""

from __future__ import annotations

import math

import streamlit as st

from lstm_explorer import compare, lab, limits
from lstm_explorer.seeds import SeedGroup
from lstm_explorer.ui import batch, batch_view, panels, seeds_view
from lstm_explorer.ui.state import ExplorerSession, session

EPOCHS_KEY = "lab_epochs"
SEEDS_KEY = "lab_seeds_{key}"  # one box per experiment
LAB_SEEDS_HELP = (
    "Each variant is trained once per training seed, from the experiment's own "
    "(consecutive). A seed draws the initial weights, the dropout masks and the order of "
    "the training batches; the data stay the same. The conclusion then reads each "
    "variant's median run and says whether the variants differ by more than the spread "
    "between seeds, and which seeds learned. The default is what the experiment's time "
    "budget (about a minute on a 2-core CPU) allows; more seeds take proportionally "
    "longer.")
# Tab labels: the experiments' titles are too long for a row of eight tabs.
SHORT_TITLES = {
    "cells": "SimpleRNN vs GRU vs LSTM",
    "lag": "Sweeping the lag",
    "forget_bias": "Forget-gate bias",
    "exploding": "Exploding gradients",
    "dropout": "Dropout",
    "stateful": "Stateful",
    "direction": "Direction",
    "units": "Character units",
}


def tab_label(number: int, experiment: lab.Experiment) -> str:
    """`"1 · SimpleRNN vs GRU vs LSTM"`.

    >>> tab_label(4, lab.get("exploding"))
    '4 · Exploding gradients'
    """
    return f"{number} · {SHORT_TITLES.get(experiment.key, experiment.title)}"


def estimate_seconds(experiment: lab.Experiment, seeds: int | None = None,
                     epochs: int | None = None) -> float | None:
    """The usual wall time of a Run: the experiment's measured `seconds` (over its own
    seeds and epochs) scaled to `seeds` seeds and `epochs` epochs; `None` when unmeasured.

    Each seed is a whole training of every variant, so the time grows in proportion;
    fewer epochs shorten each training about in proportion (making the data and the
    model takes a little more than that share).

    >>> estimate_seconds(lab.get("cells")), estimate_seconds(lab.get("cells"), seeds=6)
    (59.5, 119.0)
    >>> estimate_seconds(lab.get("cells"), seeds=1, epochs=5)
    9.916666666666666
    """
    if not experiment.seconds:
        return None
    seeds = experiment.seeds if seeds is None else seeds
    seconds = experiment.seconds * seeds / experiment.seeds
    own = experiment.base_config().training["epochs"]
    varied = any("training.epochs" in values for _, values in experiment.variants)
    if epochs is not None and not varied:
        seconds *= epochs / own
    return seconds


def max_seeds(experiment: lab.Experiment, limit_seconds: float | None = None) -> int:
    """The most seeds the Seeds box offers: what fits in the server's time limit of one
    training (`LSTM_EXPLORER_MAX_TRAINING_MINUTES`) at the experiment's usual time per
    seed, at most `seeds_view.MAX_APP_SEEDS`, at least the experiment's own.

    >>> max_seeds(lab.get("cells")), max_seeds(lab.get("cells"), limit_seconds=60)
    (10, 3)
    """
    limit = limits.current().training_seconds if limit_seconds is None else limit_seconds
    per_seed = estimate_seconds(experiment, 1)
    fits = math.floor(limit / per_seed) if per_seed else seeds_view.MAX_APP_SEEDS
    return max(experiment.seeds, min(seeds_view.MAX_APP_SEEDS, fits))


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def plan_text(experiment: lab.Experiment, epochs: int | None = None,
              seeds: int | None = None) -> str:
    """What pressing Run will do: the runs, the seeds, the epochs, the usual time.

    >>> plan_text(lab.get("cells"))
    '3 runs (SimpleRNN, GRU, LSTM) × 3 seeds, 10 epochs each; about 60 s on a 2-core CPU.'
    >>> plan_text(lab.get("cells"), seeds=1)
    '3 runs (SimpleRNN, GRU, LSTM), 10 epochs each; about 20 s on a 2-core CPU.'
    >>> plan_text(lab.get("exploding"), epochs=2, seeds=5)
    '2 runs (No clipping, With clipnorm=1.0) × 5 seeds, 2 epochs each (the experiment has 6); about 12 s on a 2-core CPU.'
    """
    seeds = experiment.seeds if seeds is None else seeds
    names = [name for name, _ in experiment.variants]
    own = experiment.base_config().training["epochs"]
    varied = any("training.epochs" in values for _, values in experiment.variants)
    text = f"{len(names)} runs ({', '.join(names)})"
    text += f" × {seeds} seeds, " if seeds > 1 else ", "
    if epochs is not None and epochs != own and not varied:
        text += f"{epochs} epochs each (the experiment has {own})"
    elif epochs is not None and varied:
        text += f"{epochs} epochs each (the experiment sets them per run)"
    else:
        text += "epochs as set per run" if varied else f"{own} epochs each"
    seconds = estimate_seconds(experiment, seeds, epochs)
    if seconds:
        text += f"; about {_duration(seconds)} on a 2-core CPU"
    return text + "."


def page() -> None:
    """The whole Lab page."""
    explorer = session()
    batch_view.collect(explorer)
    state = batch.state_of(explorer)

    intro, options = st.columns([3, 1], gap="large")
    intro.caption(
        f"{len(lab.EXPERIMENTS)} guided experiments on vanishing and exploding gradients "
        "and on what units learn. Each one trains a "
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
    seeds_key = SEEDS_KEY.format(key=experiment.key)
    most = max_seeds(experiment)
    st.subheader(f"{number}. {experiment.title}")
    # The plan is drawn above the Seeds box and reads the box's value as it stands
    # (a change of the box reruns the page with the new value already in place).
    shown = st.session_state.get(seeds_key, experiment.seeds)
    st.caption(plan_text(experiment, epochs, min(max(int(shown), 1), most)))
    st.markdown(f"**What to look for.** {experiment.look_for}")

    job = state.lab.get(experiment.key)
    running = job is not None and state.job is job and state.running
    busy = batch_view.busy_reason(explorer, state, batch.LAB)
    seeds_column, run_column, stop_column, open_column, note_column = st.columns(
        [0.9, 1, 1, 1.7, 1.6], vertical_alignment="bottom")
    with seeds_column:
        count = seeds_view.seeds_input(
            seeds_key, "Seeds", maximum=most, default=experiment.seeds,
            help_text=LAB_SEEDS_HELP + f" At most {most} here.")
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
        state.start(batch.lab_job(experiment, epochs=epochs, seeds=count,
                                  slots=batch_view.batch_slots()))
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
    groups = [summary for summary in job.summaries
              if isinstance(summary, SeedGroup) and len(summary.runs) > 1]
    if groups:
        seeds_view.outcome_table(groups, "Which seeds learned")
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
