"""Results over seeds, as the pages show them: the seed box's help, the conclusion in a
box that says whether a difference is larger than the spread between seeds, each seed's
outcome, and "Repeat over seeds" (Compare Runs), which trains one setting once per seed.

The numbers and the sentences come from `lstm_explorer.seeds` (`verdict`,
`compare_groups`, `metric_band`); the pure helpers here (`outcome_rows`, `repeat_plan`,
`repeat_options`) are tested without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import streamlit as st

from lstm_explorer import readings
from lstm_explorer import seeds as seeds_module
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from lstm_explorer.seeds import SeedGroup
from lstm_explorer.ui import batch, batch_view, panels
from lstm_explorer.ui.state import ExplorerSession, Run, describe_config

# The app's seed boxes stop at ten: each seed is a whole training, one after another, on
# a server that others share (the command line goes to `seeds.MAX_SEEDS`).
MAX_APP_SEEDS = 10
SEEDS_HELP = (
    "Each seed is a training of its own from a different `training.seed` (consecutive, "
    "from the settings' own). A seed draws the initial weights, the dropout masks and the "
    "order of the training batches; the data stay the same. With 2 or more, each setting "
    "is shown as the median of its seeds with a band from the lowest to the highest seed, "
    "and the conclusion says whether a difference is larger than the spread between "
    "seeds or may be one seed's luck.")

REPEAT_WHAT_KEY, REPEAT_SEEDS_KEY = "repeat_what", "repeat_seeds"
REPEAT_KNOWN_KEY = "repeat_known"
REPEAT_BUTTON, REPEAT_STOP = "repeat_run", "repeat_stop"
SETTINGS = "settings"  # the option "the Build & Train settings" of the repeat box


# --- pure helpers -------------------------------------------------------------------------


def _score_text(value: float | None, key: str) -> str:
    if value is None or not math.isfinite(value):
        return "no score"
    return f"{value * 100:.3g}%" if "accuracy" in key else f"{value:.3g}"


def outcome_rows(groups: Sequence[Any]) -> tuple[list[str], list[list[str]]]:
    """Each seed's outcome, one row per group: whether it learned and its final score.

    Args:
        groups: `seeds.SeedGroup`s (a plain run counts as a group of one seed).

    Returns:
        `(header, rows)`: the header is `""` then `"seed K"` for every seed any group
        has; each row is the group's name, then per seed its run's level (learned,
        learned a little, learned nothing, diverged...) and final score, `"—"` where
        the group has no such seed.

    Example:

    >>> from lstm_explorer.compare import RunSummary
    >>> base = {"value": 0.167, "key": "val_loss", "higher_is_better": False,
    ...         "margin": 0.02}
    >>> run = lambda seed, loss: RunSummary(f"seed {seed}", None, {
    ...     "epochs": [{"epoch": 1, "val_loss": loss}], "baseline": base,
    ...     "status": "finished"})
    >>> header, rows = outcome_rows([SeedGroup.of("LSTM", [run(0, 0.01), run(1, 0.17)],
    ...                                           [0, 1])])
    >>> header, rows
    (['', 'seed 0', 'seed 1'], [['LSTM', 'learned · 0.01', 'learned nothing · 0.17']])
    """
    scores = [seeds_module.as_group(group).score() for group in groups]
    seeds = sorted({seed for score in scores for seed in score.seeds})
    rows = []
    for score in scores:
        by_seed = {}
        for seed, value, level, reason in zip(score.seeds, score.values, score.levels,
                                              score.reasons, strict=True):
            outcome = level or reason
            shown = _score_text(value, score.key) if value is not None else ""
            by_seed[seed] = " · ".join(part for part in (outcome, shown) if part) or "—"
        rows.append([score.name, *[by_seed.get(seed, "—") for seed in seeds]])
    return [""] + [f"seed {seed}" for seed in seeds], rows


def learned_everywhere(group: SeedGroup) -> bool:
    """Whether every seed of the group learned (as each run's own verdict judges it)."""
    return all(level == readings.LEARNED for level in group.score().levels)


def repeat_options(runs: Sequence[Run]) -> list[str]:
    """What "Repeat over seeds" can repeat: the session's single-seed runs, newest
    first, then the Build & Train settings (`SETTINGS`).

    >>> from lstm_explorer.ui.state import Run
    >>> config = ExperimentConfig.default()
    >>> runs = [Run("run 1: a", config, {}, {}), Run("run 2: b", config, {}, {}),
    ...         Run("run 3: c", config, {}, {}, group="a seed group")]
    >>> repeat_options(runs)
    ['run 2: b', 'run 1: a', 'settings']
    """
    return [run.name for run in reversed(runs) if run.group is None
            and run.config is not None] + [SETTINGS]


def repeat_plan(config: ExperimentConfig, n: int) -> str:
    """What "Repeat over seeds" will train, in one sentence.

    Raises:
        ConfigError: naming "Seeds" when `n` is out of range or the seeds would pass
            the largest seed.

    >>> repeat_plan(ExperimentConfig.default(), 5)
    'Trains seeds 0 to 4 of training.seed: 5 runs of 10 epochs, one after another, on the same data.'
    """
    values = seeds_module.seed_values(config, n, "Seeds")
    epochs = config.training["epochs"]
    return (f"Trains seeds {values[0]} to {values[-1]} of training.seed: {n} runs of "
            f"{epochs} epoch{'s' * (epochs != 1)}, one after another, on the same data.")


# --- drawing ------------------------------------------------------------------------------


def spread_box(text: str, beyond: bool | None) -> None:
    """A conclusion over seeds: green when the difference is larger than the spread
    between seeds, amber when it is within it, grey when there is one seed per run."""
    if beyond is True:
        st.success(text, icon=":material/verified:")
    elif beyond is False:
        st.warning(text, icon=":material/casino:")
    else:
        st.info(text, icon=":material/casino:")


def outcome_table(groups: Sequence[Any], caption: str = "Each seed") -> None:
    """The seeds' outcomes (`outcome_rows`) as a Markdown table under a caption."""
    header, rows = outcome_rows(groups)
    st.caption(f"**{caption}** (whether the run learned, judged as a single run's "
               "verdict judges it, and its final score):")
    st.markdown(panels.markdown_table(header, rows))


def seeds_input(key: str, label: str, *, minimum: int = 1, maximum: int = MAX_APP_SEEDS,
                default: int = 1, help_text: str = SEEDS_HELP) -> int:
    """A number box for a count of seeds, its value kept within `minimum`..`maximum`
    (an older value beyond a smaller maximum is lowered before the box is drawn)."""
    kept = st.session_state.get(key)
    if isinstance(kept, (int, float)) and not minimum <= kept <= maximum:
        st.session_state[key] = min(max(int(kept), minimum), maximum)
    return int(st.number_input(label, min_value=minimum, max_value=maximum, value=default,
                               step=1, key=key, help=help_text))


def repeat_section(explorer: ExplorerSession, state: batch.BatchState) -> None:
    """"Repeat over seeds": a run's settings (or Build & Train's) trained once per seed,
    then the verdict over the seeds, the validation loss as median and band, and each
    seed's outcome."""
    runs = {run.name: run for run in explorer.runs}
    options = repeat_options(explorer.runs)
    newest = options[0]
    # A run trained since the box was last drawn is what a person comes to repeat (the
    # link under Build & Train's verdict leads here): choose it before the box is drawn.
    if st.session_state.get(REPEAT_KNOWN_KEY) != newest or \
            st.session_state.get(REPEAT_WHAT_KEY) not in options:
        st.session_state[REPEAT_WHAT_KEY] = newest
    st.session_state[REPEAT_KNOWN_KEY] = newest

    with st.container(border=True):
        st.markdown("**Repeat over seeds** · the same settings trained once per training "
                    "seed: does the result hold, or was it one seed's luck?")
        what_column, seeds_column = st.columns([4, 1], vertical_alignment="bottom")
        settings_label = f"Build & Train settings ({describe_config(explorer.config)})"
        what = what_column.selectbox(
            "Settings to repeat", options, key=REPEAT_WHAT_KEY,
            format_func=lambda name: settings_label if name == SETTINGS else name,
            help="One of this session's runs (its settings and its first seed), or the "
                 "settings as they are on Build & Train now.")
        with seeds_column:
            count = seeds_input(REPEAT_SEEDS_KEY, "Seeds", minimum=2, default=5)
        config = explorer.config if what == SETTINGS else runs[what].config
        name = describe_config(config)

        job = state.repeat
        running = job is not None and state.job is job and state.running
        busy = batch_view.busy_reason(explorer, state, batch.REPEAT)
        # The buttons on a row of their own, as in "Vary one parameter": beside the
        # choices, "Repeat over seeds" was cut short in a window zoomed to 150 %.
        run_column, stop_column, note_column = st.columns([2, 1, 2],
                                                          vertical_alignment="center")
        start = run_column.button("Repeat over seeds", type="primary", key=REPEAT_BUTTON,
                                  icon=":material/replay:", disabled=bool(busy),
                                  width="stretch")
        stop = stop_column.button("Stop", key=REPEAT_STOP, icon=":material/stop:",
                                  disabled=not running, width="stretch",
                                  help="Stops the running training after its current "
                                       "batch and starts no further seed; the seeds "
                                       "trained so far are kept.")
        try:
            plan = repeat_plan(config, count)
        except ConfigError as error:
            plan = ""
            st.error(f"**{error.field}**: {error.message}", icon=":material/error:")
        if busy and not running:
            note_column.caption(busy)
        elif plan:
            note_column.caption(plan)
        if stop and job is not None:
            job.stop()
            st.rerun()
        if start and plan:
            state.start(batch.repeat_job(config, count, name, slots=batch_view.batch_slots()))
            st.rerun()
        if running:
            batch_view.live_progress(job)
        elif job is not None and job.collected:
            repeat_result(explorer, job)


def repeat_result(explorer: ExplorerSession, job: batch.BatchJob) -> None:
    """The verdict over the seeds of a finished repeat, the band figure, each seed."""
    batch_view.ending_panel(job)
    groups = [summary for summary in job.summaries if isinstance(summary, SeedGroup)]
    if not groups:
        return
    group = groups[0]
    if job.conclusion and len(groups) > 1:  # the runs chosen on Compare Runs, repeated
        spread_box(job.conclusion, seeds_module.compare_groups(groups).beyond_spread)
    elif job.conclusion:
        box = st.success if learned_everywhere(group) else st.warning
        box(f"**Over the seeds.** {job.conclusion}", icon=":material/casino:")
    if job.run_names:
        st.caption(f"Added to this session's runs as {batch.run_labels(job.run_names)} "
                   "(one run per setting: the median over the seeds, with the median "
                   "seed's model); "
                   + ("they are compared below." if len(groups) > 1
                      else "pick it below to compare it with another run."))
    cached = job.figures
    if cached is None:
        cached = job.figures = {"band": seeds_module.metric_band(groups)}
    panels.chart(cached["band"], "repeat-band", 380)
    outcome_table(groups)


def selection_names(runs: Sequence[Run]) -> list[str]:
    """Names for the runs chosen on Compare Runs, repeated over seeds: what differs
    between their settings, else their own names.

    >>> from lstm_explorer.ui.state import Run
    >>> base = ExperimentConfig.default()
    >>> selection_names([Run("run 1: a", base, {}, {}),
    ...                  Run("run 2: b", base.with_values({"layer.units": 8}), {}, {})])
    ['layer1.units=32', 'layer1.units=8']
    """
    from lstm_explorer import compare

    rows = compare.differing_parameters([run.config for run in runs])
    names = [", ".join(f"{row['key']}={row['values'][index]}" for row in rows)
             for index in range(len(runs))]
    if not rows or len(set(names)) < len(names):
        return [run.name.split(": ", 1)[-1] + f" ({run.name.split(':')[0]})" for run in runs]
    return names


def repeat_selection(explorer: ExplorerSession, state: batch.BatchState,
                     selected: Sequence[Run]) -> None:
    """"Repeat these runs over seeds", under the runs chosen on Compare Runs: each run's
    settings trained once per seed (the count of the *Repeat over seeds* box above);
    the groups then replace the runs in the comparison, with bands and the spread."""
    repeatable = [run for run in selected if run.config is not None and run.group is None]
    count = int(st.session_state.get(REPEAT_SEEDS_KEY) or 5)
    busy = batch_view.busy_reason(explorer, state, batch.REPEAT)
    why_not = ("" if len(repeatable) == len(selected) else
               "a run chosen is a median over seeds already, or a model of your own "
               "without explorer settings")
    button, note = st.columns([2, 3], vertical_alignment="center")
    start = button.button(f"Repeat these {len(selected)} runs over {count} seeds",
                          key="repeat_selection", icon=":material/replay:",
                          disabled=bool(busy or why_not), width="stretch",
                          help="Trains each chosen run's settings once per training seed "
                               "(the count is the Seeds box of Repeat over seeds above), "
                               "then compares the medians and says whether they differ "
                               "beyond the spread between seeds.")
    if busy or why_not:
        note.caption(busy or f"Nothing to repeat here: {why_not}.")
    else:
        note.caption(f"{len(selected)} × {count} trainings, one after another, each on its "
                     "own data as before.")
    if start and not busy and not why_not:
        named = list(zip(selection_names(selected), [run.config for run in selected],
                         strict=True))
        state.start(batch.repeat_selection_job(named, count,
                                               slots=batch_view.batch_slots()))
        st.rerun()
