"""What the Compare Runs and Lab pages share about batches: the server-wide bound, the
live progress line, Stop, how a batch ended, and how a result over seeds reads."""

from __future__ import annotations

import threading

import streamlit as st

from lstm_explorer.seeds import SeedGroup
from lstm_explorer.ui import batch, panels
from lstm_explorer.ui.batch import BatchJob, BatchState
from lstm_explorer.ui.state import ExplorerSession, default_max_running


@st.cache_resource(show_spinner=False)
def batch_slots() -> threading.Semaphore:
    """How many sweeps and lab experiments may train at once on this server (shared by
    every session, like the job queue): one per two cores unless
    `LSTM_EXPLORER_MAX_TRAININGS` says otherwise."""
    return threading.BoundedSemaphore(default_max_running())


def collect(explorer: ExplorerSession) -> None:
    """Keep finished runs (a training, a sweep, an experiment) as the session's runs.

    When that dropped old runs, the page reruns once so the frame shows the notice.
    """
    before = len(explorer.notices)
    explorer.collect()
    if len(explorer.notices) > before:
        st.rerun()


def busy_reason(explorer: ExplorerSession, state: BatchState, kind: str) -> str:
    """Why a new sweep or experiment cannot start now (empty when it can).

    Args:
        kind: what the page would start, `"sweep"`, `"repeat"` or `"lab"`.
    """
    if state.running and state.job is not None:
        if state.job.kind == batch.LAB:
            where = "An experiment is running" if kind == batch.LAB else \
                "The Lab is running an experiment"
            return f"{where}; wait for it to finish, or press its Stop."
        if state.job.kind == batch.REPEAT:
            where = "A repeat over seeds" + (" (on Compare Runs)" if kind == batch.LAB else "")
        else:
            where = "A sweep" + (" (Vary one parameter, on Compare Runs)"
                                 if kind == batch.LAB else "")
        return f"{where} is running; wait for it to finish, or press its Stop."
    if explorer.running:
        return ("A training started on Build & Train is running; start this when it has "
                "finished (or stop it there).")
    return ""


def progress_view(job: BatchJob) -> None:
    """The progress bar of a running batch, with the line of numbers under it."""
    snapshot = job.snapshot()
    text = batch.progress_text(snapshot)
    if job.stop_requested:
        text = "Stopping after the current batch... · " + text
    st.progress(min(1.0, max(0.0, snapshot.fraction)), text=text)


def live_progress(job: BatchJob) -> None:
    """Redraw the progress of a running batch twice a second; when it ends, the page
    reruns once, so its runs are kept and its result is drawn."""
    running = not job.snapshot().done
    panels.live(lambda: progress_view(job) if not job.snapshot().done else None,
                job=job, running=running)


def ending_panel(job: BatchJob) -> None:
    """How a finished batch ended, when that was not plainly "finished"."""
    snapshot = job.snapshot()
    if snapshot.status == batch.STOPPED:
        st.info(snapshot.message, icon=":material/stop_circle:")
    elif snapshot.status == batch.FAILED:
        st.error(snapshot.message, icon=":material/error:")
    diverged = [summary.name for summary in job.summaries if summary.status == "diverged"]
    if diverged:
        ends = "Its curves end" if len(diverged) == 1 else "Their curves end"
        st.caption("Diverged (the loss became NaN or infinite): " + ", ".join(diverged)
                   + f". {ends} where the numbers overflowed.")
    # A group's median run can finish while some of its seeds diverged or stopped.
    problems = [f"{summary.name}: {problem}" for summary in job.summaries
                if isinstance(summary, SeedGroup) and summary.status != "diverged"
                for problem in summary.problems]
    if problems:
        st.caption("Over the seeds: " + "; ".join(problems) + ".")
