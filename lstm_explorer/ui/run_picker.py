"""The run picker of the pages that read a run (Gradient Flow, Inside the Cell).

A select box lists the training running now first, then every run the session keeps,
newest first, then the runs of the runs folder the app was started with (`--runs DIR`,
`ui.folder_runs`), and a caption under it names the run the page shows. It shows the newest
by default and follows each new run as it arrives, unless the person picked an older
one: that choice stays, across page switches too, until the run is dropped from the
session (`state.MAX_RUNS`) or the person picks the newest again.

Example (inside a Streamlit page):

    shown = pick_run(explorer, "gradient_run")
    if shown is not None:
        history, arrays = shown.data(explorer)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from lstm_explorer.jobs import DIVERGED, FAILED, FINISHED, STOPPED, Snapshot
from lstm_explorer.own_model.folder import RunEntry
from lstm_explorer.ui import folder_runs, panels
from lstm_explorer.ui.state import ExplorerSession, Run, describe_config

# The option that stands for the training running now. Run names start with "run N:",
# so it never equals one.
RUNNING = "the training running now"


@dataclass(frozen=True)
class ShownRun:
    """The run a page shows: a kept run, a runs folder's run, or the training running now.

    Args:
        name: the run's name (`"run 3: lstm 32 on adding"`, `"folder: mine"`), or
            `RUNNING`.
        run: the kept run. Default: `None`.
        entry: the runs folder's run, as listed when the page ran. Default: `None`.
        With neither, the training running now.
    """

    name: str
    run: Run | None = None
    entry: RunEntry | None = None

    @property
    def running(self) -> bool:
        """Whether this is the training running now (its data changes every epoch)."""
        return self.run is None and self.entry is None

    @property
    def writing(self) -> bool:
        """Whether this is a folder run that another process is still writing."""
        return self.entry is not None and self.entry.writing

    def data(self, explorer: ExplorerSession) -> tuple[dict | None, dict | None]:
        """The history and trace arrays to draw, read now (a running job's move on, a
        folder run being written grows)."""
        if self.run is not None:
            return self.run.history, self.run.arrays
        if self.entry is not None:
            loaded = folder_runs.load(self.entry)
            return loaded.history, loaded.arrays
        return explorer.latest()


def _pinned_key(key: str) -> str:
    # Not a widget's key: Streamlit keeps it while the page that draws the select box
    # is not shown, and forgets the widget's own value then.
    return f"{key}.picked"


def _remember(key: str, newest: str) -> None:
    # Picking the newest means "follow the newest", so a run that arrives later is
    # shown; picking an older one keeps it.
    picked = st.session_state.get(key)
    st.session_state[_pinned_key(key)] = None if picked == newest else picked


def choose(options: list[str], pinned: str | None) -> str:
    """The option to show: the one the person picked while it is offered, else the first
    (the newest).

    >>> choose(["run 3: a", "run 2: b"], "run 2: b"), choose(["run 3: a"], "run 1: c")
    ('run 2: b', 'run 3: a')
    >>> choose([RUNNING, "run 3: a"], None)
    'the training running now'
    """
    return pinned if pinned in options else options[0]


def pick_run(explorer: ExplorerSession, key: str, *, running_too: bool = True,
             usable: Callable[[Run], bool] | None = None,
             folder_usable: Callable[[RunEntry], bool] | None = None, label: str = "Run"
             ) -> ShownRun | None:
    """Draw the run picker and the caption naming the run shown; return that run.

    Args:
        explorer: the session.
        key: the select box's key, one per page (its choice is kept per page).
        running_too: offer the training running now, first. Default: `True`.
        usable: which kept runs this page can show (e.g. only runs with a trace).
            Default: `None`, every kept run.
        folder_usable: which runs of the runs folder this page can show. Default:
            `None`, every one listed.
        label: the select box's label. Default: `"Run"`.

    Returns:
        The run to show, or `None` (nothing drawn) when there is none to offer.
    """
    runs = [run for run in reversed(explorer.runs) if usable is None or usable(run)]
    listed = {folder_runs.option(entry): entry for entry in folder_runs.entries()
              if folder_usable is None or folder_usable(entry)}
    options = ([RUNNING] if running_too and explorer.running else []) + [
        run.name for run in runs] + list(listed)
    if folder_runs.root() is not None:
        _watch_folder(sorted(entry.name for entry in folder_runs.entries()))
    if not options:
        return None
    pinned_key = _pinned_key(key)
    picked = choose(options, st.session_state.get(pinned_key))
    if picked != st.session_state.get(pinned_key):
        # The run picked is gone (dropped beyond MAX_RUNS): follow the newest again.
        st.session_state[pinned_key] = None
    # Written before the select box is drawn, so that it shows the choice after a page
    # switch (which forgets a widget's value) and after a new run moved the newest.
    st.session_state[key] = picked
    job = explorer.job

    def option_text(option: str) -> str:
        if option == RUNNING and job is not None:
            return f"{RUNNING} ({describe_config(job.config)})"
        if option in listed:
            return folder_runs.option_label(listed[option])
        return option

    st.selectbox(
        label, options, key=key, on_change=_remember, args=(key, options[0]),
        format_func=option_text,
        help="The runs this session keeps, newest first"
             + (", then those of the runs folder" if listed else "")
             + ". The newest is shown until you pick an older one; that choice stays "
               "until you pick the newest again.")
    if picked == RUNNING:
        shown = ShownRun(RUNNING)
        st.caption(shown_line(RUNNING, job.snapshot() if job is not None else None,
                              label=describe_config(job.config) if job is not None else ""))
    elif picked in listed:
        entry = listed[picked]
        shown = ShownRun(picked, entry=entry)
        # Drawn once per page run: for a run still being written it says what, not how
        # far (the charts under it follow the files).
        st.caption(f"Showing **{picked}** from the runs folder · " + (
            (f"{entry.label} · " if entry.label else "")
            + "being written by another process: the charts follow it as epochs arrive"
            if entry.writing else folder_runs.option_label(entry).removeprefix(picked + " · ")))
        if entry.problem and not entry.writing:
            st.warning(f"**{picked}**: {entry.problem}. What could be read is shown.",
                       icon=":material/warning:")
    else:
        run = next(run for run in runs if run.name == picked)
        shown = ShownRun(picked, run)
        st.caption(shown_line(picked, history=run.history))
    return shown


def _watch_folder(names: list[str], every: float = 3.0) -> None:
    """Rerun the page when a run appears in (or leaves) the runs folder, so that a
    training started in another process is offered without a reload."""

    def look() -> None:
        if sorted(entry.name for entry in folder_runs.entries()) != names:
            st.rerun()

    st.fragment(look, run_every=every)()


def shown_line(name: str, snapshot: Snapshot | None = None, history: dict | None = None,
               label: str = "") -> str:
    """The caption that names the run a page shows and how far it got.

    Drawn once per page run: for the training running now it says what trains, not how
    far (the charts under it move on, the caption does not).

    Args:
        name: the run's name, or `RUNNING`.
        snapshot: the running job's state, for `RUNNING`. Default: `None`.
        history: a kept run's history. Default: `None`.
        label: what the running job trains (`state.describe_config`). Default: `""`.

    Example:

    >>> shown_line("run 3: lstm 32 on adding", history={"status": "finished",
    ...                                                  "epochs": [{}] * 10})
    'Showing **run 3: lstm 32 on adding** · finished, 10 epochs'
    >>> shown_line(RUNNING, Snapshot(status="running", epochs=10), label="lstm 32 on adding")
    'Showing **the training running now**: lstm 32 on adding, 10 epochs · the charts follow every epoch'
    """
    if name == RUNNING:
        what = f": {label}" if label else ""
        if snapshot is not None and snapshot.epochs:
            what += f"{',' if what else ':'} {snapshot.epochs} epochs"
        return f"Showing **{RUNNING}**{what} · the charts follow every epoch"
    history = history or {}
    epochs = len(history.get("epochs") or [])
    status = history.get("status") or "kept"
    counted = f"{epochs} epoch" + ("" if epochs == 1 else "s")
    how = {FINISHED: f"finished, {counted}", STOPPED: f"stopped after {counted}",
           DIVERGED: f"diverged after {counted}", FAILED: f"failed after {counted}"}
    return f"Showing **{name}** · {how.get(status, f'{status}, {counted}')}"


def traced(run: Run) -> bool:
    """Whether a run has what the cell view reads: a trace and its trained model."""
    return bool(run.arrays) and run.result is not None


def forget_unless_offered(key: str, options: list) -> None:
    """Forget a select box's or radio's value that the run shown now does not offer
    (a layer or quantity of the run shown before), so that it starts from its default.

    Call it before the widget is drawn.

    Args:
        key: the widget's key.
        options: what the widget offers in this run.
    """
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def keep_in_range(key: str, low: int, high: int) -> None:
    """Bring a slider's value into the range the run shown now has (fewer units or
    steps than the run shown before), before the slider is drawn.

    Args:
        key: the slider's key.
        low, high: the slider's bounds in this run.
    """
    value = st.session_state.get(key)
    if isinstance(value, int) and not low <= value <= high:
        st.session_state[key] = min(max(value, low), high)


def rerun_when_training_ends(explorer: ExplorerSession, every: float = 2.0) -> None:
    """While a training runs, look every `every` seconds whether it has ended, and then
    rerun the page, so that its picker offers the new run by name (and shows it, unless
    an older run was picked).

    For a page that is not redrawing the training live (it shows a kept run). Draws
    nothing.

    Args:
        explorer: the session.
        every: seconds between looks. Default: `2.0`.
    """
    if explorer.running:
        panels.live(lambda: None, job=explorer.job, running=True, every=every)
