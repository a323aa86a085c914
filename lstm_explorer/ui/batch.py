"""Sweeps, repeats and lab experiments in the background: several runs, one after another.

"Vary one parameter" and "Repeat over seeds" (Compare Runs) and the guided experiments
(The Lab) train several models in a row. Like a single training (`jobs.TrainingJob`), that never happens inside a
script run: a `BatchJob` runs the library's engine (`sweep.run_configs`,
`lab.run_experiment`) on a thread of its own and keeps a snapshot (which run, which
epoch, the runs done so far) that a live fragment reads. Stop only sets a flag; the
engine stops after the current batch and starts no further run.

Each session owns at most one batch at a time (`BatchState.job`); across sessions at
most `state.default_max_running()` batches train at once (`batch_slots`), the others
wait their turn. When a batch is done, `ExplorerSession.collect` keeps its runs as the
session's runs (named `run N: ...`), so every page can show them.

Any batch can train each setting over several training seeds (`seeds.repeat_configs`).
Then the session keeps one run per setting, not per seed: the `seeds.SeedGroup`
(`Run.group`), named `"..., median of N seeds"`, with the median seed's model and trace.
Ten seeds of three values are three runs of the session's `MAX_RUNS`, not thirty, and
what a page draws of the run (its history) is the median over the seeds.

Nothing here imports Streamlit except through `state`; the pure helpers
(`progress_text`, `run_labels`) are tested without a browser session.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lstm_explorer import lab, sweep
from lstm_explorer import seeds as seeds_module
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.seeds import SeedGroup

QUEUED, RUNNING, FINISHED, STOPPED, FAILED = (
    "queued", "running", "finished", "stopped", "failed")
DONE = (FINISHED, STOPPED, FAILED)
SWEEP, LAB, REPEAT = "sweep", "lab", "repeat"

# `work(on_event, stop, keep_result)` runs the engine and returns (summaries, conclusion).
Work = Callable[[Callable, threading.Event, Callable], tuple[list[RunSummary], str | None]]


@dataclass
class BatchSnapshot:
    """What a page needs to draw a batch, copied under the batch's lock.

    Args:
        status: queued, running, finished, stopped or failed.
        index: 0-based index of the run being trained.
        total: how many runs the batch has.
        name: the name of the run being trained.
        epoch, epochs, batch, batches, loss: the running trainer's latest progress.
        fraction: how much of the whole batch is done, from 0 to 1.
        elapsed: seconds since the batch started training.
        message: how it ended, or what it is doing.
        done_runs: how many runs have finished.
    """

    status: str = QUEUED
    index: int = 0
    total: int = 0
    name: str = ""
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    loss: float | None = None
    fraction: float = 0.0
    elapsed: float = 0.0
    message: str = ""
    done_runs: int = 0

    @property
    def done(self) -> bool:
        return self.status in DONE


def progress_text(snapshot: BatchSnapshot) -> str:
    """One line: which run, which epoch and batch, the loss, the time so far.

    >>> progress_text(BatchSnapshot(status="running", index=1, total=3, name="layer.units=32",
    ...                             epoch=4, epochs=10, batch=5, batches=25, loss=0.1234,
    ...                             elapsed=12.0))
    'Run 2 of 3 (layer.units=32) · epoch 4 of 10 · batch 5 of 25 · loss 0.1234 · 12 s so far'
    >>> progress_text(BatchSnapshot(status="queued", total=2))
    'Waiting for a free trainer: other sweeps or experiments are training on this server.'
    """
    if snapshot.status == QUEUED:
        return ("Waiting for a free trainer: other sweeps or experiments are training on "
                "this server.")
    parts = [f"Run {min(snapshot.index + 1, snapshot.total)} of {snapshot.total}"
             + (f" ({snapshot.name})" if snapshot.name else "")]
    if snapshot.epochs:
        parts.append(f"epoch {max(snapshot.epoch, 1)} of {snapshot.epochs}")
    else:
        parts.append("generating data and building the model")
    if snapshot.batches and snapshot.batch:
        parts.append(f"batch {snapshot.batch} of {snapshot.batches}")
    if snapshot.loss is not None:
        parts.append(f"loss {snapshot.loss:.4g}")
    seconds = max(0.0, snapshot.elapsed)
    parts.append(f"{seconds:.0f} s so far" if seconds < 120 else f"{seconds / 60:.1f} min so far")
    return " · ".join(parts)


class BatchJob:
    """Several trainings, one after another, on a background thread.

    Args:
        kind: `"sweep"`, `"repeat"` or `"lab"`.
        key: the swept flat key (`"layer.units"`), the experiment key (`"cells"`), or
            the repeated settings' description.
        names: the runs' names, in order (what the progress line shows): with seeds,
            one per seed run (`"layer.units=8, seed 1"`).
        work: runs the engine: `work(on_event, stop, keep_result)` returns
            `(summaries, conclusion or None)`; `on_event` takes `sweep.SweepEvent`s,
            `keep_result(measure)` wraps an engine's `measure` so the trained models
            are kept.
        label: how each run is named in the session: `label(summary) -> str`.
            Default: the summary's name.
        epochs: the epochs override the runs use, if any (shown with the result).
        slots: a semaphore bounding how many batches train at once on the server.
            Default: `None` (no bound).
        seeds: how many training seeds each setting is trained with. Default: `1`.
    """

    def __init__(self, kind: str, key: str, names: Sequence[str], work: Work, *,
                 label: Callable[[RunSummary], str] | None = None,
                 epochs: int | None = None,
                 slots: threading.Semaphore | None = None,
                 seeds: int = 1):
        self.kind = kind
        self.key = key
        self.names = list(names)
        self.epochs = epochs
        self.seeds = seeds
        self._work = work
        self._label = label or (lambda summary: summary.name)
        self._slots = slots
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._state = BatchSnapshot(total=len(self.names),
                                    name=self.names[0] if self.names else "")
        self._started: float | None = None
        self.summaries: list[RunSummary] = []
        self._results: list[Any] = []
        self._pending: list[Any] = []  # the seed runs of the setting being trained
        self.conclusion: str | None = None
        self.run_names: list[str] = []  # the session's names of the collected runs
        self.collected = False
        self.figures: dict[str, Any] | None = None  # the page's memo of its figures
        self._thread = threading.Thread(target=self._main, daemon=True,
                                        name=f"lstm-explorer-{kind}-{key}")

    # --- control ------------------------------------------------------------------------

    def start(self) -> BatchJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current batch of the running training; start no further run."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> BatchSnapshot:
        self._done.wait(timeout)
        return self.snapshot()

    def snapshot(self) -> BatchSnapshot:
        with self._lock:
            state = dataclasses.replace(self._state)
        if self._started is not None and not state.done:
            state.elapsed = time.perf_counter() - self._started
        return state

    # --- the thread ---------------------------------------------------------------------

    def _main(self) -> None:
        acquired = False
        try:
            if self._slots is not None:
                while not (acquired := self._slots.acquire(timeout=0.2)):
                    if self._stop.is_set():
                        self._finish(STOPPED, "Stopped before the first run started.")
                        return
            self._started = time.perf_counter()
            self._update(status=RUNNING, message="Generating data and building the model...")
            summaries, conclusion = self._work(self._on_event, self._stop, self._keeper)
            with self._lock:
                self.summaries = list(summaries)
                self.conclusion = conclusion
            trained = len(summaries)
            if self._stop.is_set():
                started = sum(len(getattr(summary, "runs", [summary])) for summary in summaries)
                self._finish(STOPPED, f"Stopped by request after {started} of "
                                      f"{len(self.names)} runs started.")
            elif self.seeds > 1:
                self._finish(FINISHED, f"Trained {len(self.names)} runs: {trained} "
                                       f"settings over {self.seeds} seeds each.")
            else:
                self._finish(FINISHED, f"Trained {trained} runs.")
        except Exception as error:  # noqa: BLE001 - a failed batch must say why, not vanish
            self._finish(FAILED, f"The runs failed: {type(error).__name__}: {error}")
        finally:
            if acquired:
                self._slots.release()

    def _keeper(self, measure: Callable[[Any], dict] | None) -> Callable[[Any], dict]:
        """Wrap an engine's `measure` so each run's `TrainingResult` is kept, in order."""
        def keep(result: Any) -> dict:
            found = (measure(result) or {}) if measure is not None else {}
            with self._lock:
                if self.seeds == 1:
                    self._results.append(result)
                    return found
                # Over seeds the session keeps one model per setting, the median seed's:
                # the others are let go as soon as the setting's seeds are all trained,
                # not at the end (ten seeds of six values would hold sixty models).
                self._pending.append(result)
                if len(self._pending) == self.seeds:
                    self._results.extend(_only_median(self._pending))
                    self._pending = []
            return found
        return keep

    def _on_event(self, event: sweep.SweepEvent) -> None:
        changes: dict[str, Any] = {"index": min(event.index, max(0, len(self.names) - 1)),
                                   "fraction": event.fraction}
        if event.kind == sweep.RUN_STARTED:
            changes.update(name=event.name, epoch=0, epochs=0, batch=0, batches=0,
                           loss=None, message=event.message)
        elif event.kind == sweep.TRAINING and event.event is not None:
            inner = event.event
            changes.update(epoch=inner.epoch, epochs=inner.epochs, batch=inner.batch,
                           batches=inner.batches)
            if inner.loss is not None:
                changes["loss"] = inner.loss
        elif event.kind == sweep.RUN_FINISHED and event.summary is not None:
            with self._lock:
                self.summaries.append(event.summary)
                changes["done_runs"] = len(self.summaries)
            changes["message"] = event.message
        self._update(**changes)

    def _update(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self._state, name, value)

    def _finish(self, status: str, message: str) -> None:
        elapsed = time.perf_counter() - self._started if self._started is not None else 0.0
        self._update(status=status, message=message, elapsed=elapsed,
                     fraction=1.0 if status == FINISHED else self._state.fraction)
        self._done.set()

    # --- keeping the runs ---------------------------------------------------------------

    def collect(self, explorer: Any) -> list[Any]:
        """Keep the finished runs as the session's runs (once); returns the new `Run`s."""
        if self.collected or not self._done.is_set():
            return []
        self.collected = True
        with self._lock:
            summaries = list(self.summaries)
            results = list(self._results) + list(self._pending)  # a stopped setting's too
            self._results, self._pending = [], []  # the session's runs hold them now
        if self.seeds > 1:
            # A batch that failed half-way has the seed runs it finished, not groups yet.
            summaries = as_groups(summaries)
        kept = []
        position = 0  # the results come one per seed run, groups in order
        for summary in summaries:
            group = summary if isinstance(summary, SeedGroup) else None
            count = len(group.runs) if group is not None else 1
            mine = results[position:position + count]
            position += count
            index = median_seed(group) if group is not None else 0
            result = mine[index] if index < len(mine) else None
            trace = getattr(result, "trace", None)
            arrays = trace.to_arrays() if trace is not None else {}
            config = summary.config if isinstance(summary.config, ExperimentConfig) else \
                ExperimentConfig.from_dict(summary.config)
            kept.append(explorer.add_run(self._label(summary), config, dict(summary.history),
                                         arrays, result, group=group))
        self.run_names = [run.name for run in kept]
        return kept


@dataclass
class BatchState:
    """A session's sweeps and lab experiments (kept in `ExplorerSession.batch`).

    Args:
        job: the latest batch (running or done), if any.
        lab: the latest batch of each lab experiment, by experiment key.
        sweep: the latest "Vary one parameter" batch.
        select: run names the Compare Runs page should select next (a finished sweep).
        repeat: the latest "Repeat over seeds" batch.
    """

    job: BatchJob | None = None
    lab: dict[str, BatchJob] = field(default_factory=dict)
    sweep: BatchJob | None = None
    select: list[str] | None = None
    repeat: BatchJob | None = None

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.snapshot().done

    def start(self, job: BatchJob) -> BatchJob:
        """Make `job` the session's batch and start it."""
        self.job = job
        if job.kind == LAB:
            self.lab[job.key] = job
        elif job.kind == REPEAT:
            self.repeat = job
        else:
            self.sweep = job
        return job.start()

    def collect(self, explorer: Any) -> None:
        """Keep the finished batch's runs (`ExplorerSession.collect` calls this)."""
        job = self.job
        if job is None or job.collected or not job.snapshot().done:
            return
        kept = job.collect(explorer)
        if job.kind in (SWEEP, REPEAT) and len(kept) >= 2:
            self.select = [run.name for run in kept]


def state_of(explorer: Any) -> BatchState:
    """The session's `BatchState`, created on first use."""
    if explorer.batch is None:
        explorer.batch = BatchState()
    return explorer.batch


# --- seed groups ----------------------------------------------------------------------------


def seed_label(summary: RunSummary) -> str:
    """A run's name in the session: a seed group's says over how many seeds.

    >>> run = lambda seed: RunSummary(f"seed {seed}", None, {"epochs": []})
    >>> seed_label(SeedGroup.of("layer.units=8", [run(0), run(1)], [0, 1]))
    'layer.units=8, median of 2 seeds'
    >>> seed_label(SeedGroup.of("LSTM", [run(3)], [3])), seed_label(run(0))
    ('LSTM, seed 3', 'seed 0')
    """
    if not isinstance(summary, SeedGroup):
        return summary.name
    if len(summary.runs) == 1:
        return f"{summary.name}, seed {summary.seeds[0]}"
    return f"{summary.name}, median of {len(summary.runs)} seeds"


def seed_run_names(named: Sequence[tuple[str, ExperimentConfig]], n: int) -> list[str]:
    """The progress line's name of every run of `n` seeds per config, in training order,
    as `seeds.repeat_configs` names them (`"<name>, seed K"`).

    >>> base = ExperimentConfig.default().with_values({"training.seed": 4})
    >>> seed_run_names([("a", base), ("b", base)], 2)
    ['a, seed 4', 'a, seed 5', 'b, seed 4', 'b, seed 5']
    >>> seed_run_names([("a", base)], 1)
    ['a']
    """
    if n == 1:
        return [name for name, _ in named]
    return [f"{name}, seed {seed}" if name else f"seed {seed}"
            for name, config in named for seed in seeds_module.seed_values(config, n)]


def median_seed(group: SeedGroup) -> int:
    """The index of the seed whose final score is nearest the group's median: the one run
    of the group whose model and trace the session keeps. A seed without a score (it
    diverged) is chosen only when no seed has one.

    >>> run = lambda seed, loss: RunSummary(f"seed {seed}", None,
    ...                                     {"epochs": [{"val_loss": loss}]})
    >>> median_seed(SeedGroup.of("a", [run(0, 0.3), run(1, 0.1), run(2, 0.2)]))
    2
    >>> median_seed(SeedGroup.of("a", [run(0, 0.3), run(1, 0.1)]))  # a tie: the first
    0
    """
    score = group.score()
    centre = score.median if score.median is not None else (
        score.worst() if score.finite else None)
    if centre is None:
        return 0
    distances = [abs(value - centre) if value is not None else float("inf")
                 for value in score.values]
    return distances.index(min(distances))


def _only_median(results: Sequence[Any]) -> list[Any]:
    """The results of one setting's seed runs with only the median seed's kept (`None`
    in the others' places), chosen as `median_seed` chooses from their histories."""
    group = SeedGroup.of("", [RunSummary("", result.config, result.history)
                              for result in results], list(range(len(results))))
    index = median_seed(group)
    return [result if place == index else None for place, result in enumerate(results)]


def as_groups(summaries: Sequence[RunSummary]) -> list[RunSummary]:
    """Seed runs named `"<name>, seed K"` grouped per name into `SeedGroup`s, in order
    (what a seeded batch that failed half-way finished); groups stay as they are.

    >>> run = lambda name: RunSummary(name, None, {"epochs": []})
    >>> [(g.name, g.seeds) for g in as_groups([run("a, seed 0"), run("a, seed 1"),
    ...                                        run("b, seed 0")])]
    [('a', [0, 1]), ('b', [0])]
    """
    out: list[RunSummary] = []
    pending: dict[str, tuple[list[RunSummary], list[int]]] = {}
    for summary in summaries:
        name, marker, seed = summary.name.rpartition(", seed ")
        if isinstance(summary, SeedGroup) or not marker or not seed.isdigit():
            out.append(summary)
            continue
        if name not in pending:
            pending[name] = ([], [])
            out.append(name)  # its place; the group replaces it below
        pending[name][0].append(summary)
        pending[name][1].append(int(seed))
    return [SeedGroup.of(item, *pending[item]) if isinstance(item, str) else item
            for item in out]


# --- the kinds of batch ------------------------------------------------------------------


def sweep_job(key: str, configs: Sequence[ExperimentConfig], *, seeds: int = 1,
              slots: threading.Semaphore | None = None) -> BatchJob:
    """A batch that trains one run per config of a sweep of `key` (from `sweep_configs`).

    Args:
        key: the swept flat key.
        configs: one config per value.
        seeds: training seeds per value; with more than 1, each value's summary is a
            `seeds.SeedGroup`. Default: `1`.
        slots: the server's bound on batches at once. Default: `None`.
    """
    values = [config.get(key) for config in configs]
    named = [(sweep.run_name(key, value), config) for value, config in zip(values, configs)]

    def work(on_event, stop, keep_result):
        if seeds > 1:
            return seeds_module.repeat_configs(named, seeds, None, on_event,
                                               measure=keep_result(None), values=values,
                                               stop=stop), None
        summaries = sweep.run_configs(named, None, on_event, measure=keep_result(None),
                                      values=values, stop=stop)
        return summaries, None

    return BatchJob(SWEEP, key, seed_run_names(named, seeds), work, slots=slots,
                    label=seed_label, seeds=seeds)


def repeat_job(config: ExperimentConfig, n: int, name: str, *,
               slots: threading.Semaphore | None = None) -> BatchJob:
    """A batch that trains one config once per seed (`seeds.repeat_configs`) and states
    the verdict over the seeds (`seeds.verdict`) as its conclusion.

    Args:
        config: the settings; its `training.seed` is the first seed.
        n: how many seeds, 2 to `seeds.MAX_SEEDS`.
        name: the group's name, e.g. `"lstm 32 on adding"`.
        slots: the server's bound on batches at once. Default: `None`.
    """
    named = [(name, config)]

    def work(on_event, stop, keep_result):
        groups = seeds_module.repeat_configs(named, n, None, on_event,
                                             measure=keep_result(None), stop=stop)
        return groups, (seeds_module.verdict(groups[0]) if groups else None)

    return BatchJob(REPEAT, name, seed_run_names(named, n), work, slots=slots,
                    label=seed_label, seeds=n)


def repeat_selection_job(named: Sequence[tuple[str, ExperimentConfig]], n: int, *,
                         slots: threading.Semaphore | None = None) -> BatchJob:
    """A batch that trains each of several configs once per seed (the runs chosen on
    Compare Runs) and concludes whether they differ beyond the spread between seeds
    (`seeds.conclusion`).

    Args:
        named: `(name, config)` per run chosen; each config's `training.seed` is its
            first seed.
        n: how many seeds, 2 to `seeds.MAX_SEEDS`.
        slots: the server's bound on batches at once. Default: `None`.
    """
    def work(on_event, stop, keep_result):
        groups = seeds_module.repeat_configs(list(named), n, None, on_event,
                                             measure=keep_result(None), stop=stop)
        return groups, (seeds_module.conclusion(groups) if groups else None)

    return BatchJob(REPEAT, "the runs chosen", seed_run_names(named, n), work, slots=slots,
                    label=seed_label, seeds=n)


def lab_job(experiment: lab.Experiment, *, epochs: int | None = None, seeds: int = 1,
            slots: threading.Semaphore | None = None) -> BatchJob:
    """A batch that runs one guided experiment and concludes from its runs.

    Args:
        experiment: the experiment.
        epochs: overrides every run's epochs. Default: `None`.
        seeds: training seeds per variant (`lab.run_experiment(seeds=...)`); the Lab
            passes the experiment's own `seeds` unless the person changed it.
            Default: `1`.
        slots: the server's bound on batches at once. Default: `None`.
    """
    number = run_number(experiment)

    def work(on_event, stop, keep_result):
        keeping = dataclasses.replace(experiment, measure=keep_result(experiment.measure))
        return lab.run_experiment(keeping, on_event, epochs=epochs, stop=stop, seeds=seeds)

    return BatchJob(LAB, experiment.key, seed_run_names(experiment.configs(epochs), seeds),
                    work, label=lambda summary: f"{seed_label(summary)} (lab {number})",
                    epochs=epochs, slots=slots, seeds=seeds)


def run_number(experiment: lab.Experiment) -> int:
    """The experiment's 1-based place in `lab.EXPERIMENTS`.

    >>> run_number(lab.get("cells")), run_number(lab.get("direction"))
    (1, 7)
    """
    return [item.key for item in lab.EXPERIMENTS].index(experiment.key) + 1


def run_labels(names: Sequence[str]) -> str:
    """The session runs of a batch, briefly: `run 4`, `runs 4 to 6`, or `runs 4, 7`.

    >>> run_labels(["run 4: a"]), run_labels(["run 4: a", "run 5: b", "run 6: c"])
    ('run 4', 'runs 4 to 6')
    >>> run_labels(["run 4: a", "run 5: b"]), run_labels(["run 4: a", "run 7: b", "run 8: c"])
    ('runs 4 and 5', 'runs 4, 7 and 8')
    >>> run_labels([])
    ''
    """
    numbers = []
    for name in names:
        head = name.split(":")[0].split()
        numbers.append(head[-1] if head else name)
    if not numbers:
        return ""
    if len(numbers) == 1:
        return f"run {numbers[0]}"
    if len(numbers) > 2 and all(text.isdigit() for text in numbers) and \
            [int(text) for text in numbers] == list(range(int(numbers[0]),
                                                          int(numbers[0]) + len(numbers))):
        return f"runs {numbers[0]} to {numbers[-1]}"
    return "runs " + ", ".join(numbers[:-1]) + " and " + numbers[-1]
