"""Compare Runs: two to six of the session's runs overlaid, what differs between them, and
"Vary one parameter", which trains one run per value and shows them compared.

The figures and the table come from `compare.py`; the sweep is `sweep.parse_vary`,
`sweep.sweep_configs` and `sweep.run_configs`, run in the background by `ui.batch`.
With "Seeds per value" above 1 each value is trained once per seed
(`seeds.repeat_configs`): its run is the median of its seeds, drawn with a band, and
the table's result row and conclusion say whether the values differ by more than the
spread between seeds. "Repeat over seeds" (`seeds_view`) does the same for one setting.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import streamlit as st

from lstm_explorer import compare, figures, params, seeds, sweep
from lstm_explorer import model as model_module
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig, format_text, param_for_key
from lstm_explorer.errors import ConfigError
from lstm_explorer.ui import batch, batch_view, folder_runs, panels, seeds_view
from lstm_explorer.ui.state import MAX_RUNS, ExplorerSession, Run, describe_config, session

RUNS_KEY = "compare_runs"
LAYER_KEY = "compare_layer"
KNOWN_KEY = "compare_known_runs"
VARY_KEY, VALUES_KEY, SEEDS_KEY = "vary_key", "vary_values", "vary_seeds"
RUN_BUTTON, STOP_BUTTON = "vary_run", "vary_stop"
FIGURES = ("loss_curves", "gradient_flow", "step0_gradient", "saturation")

# Keys the app does not vary: a CSV is uploaded, never read from the server's disk, and
# the csv task (with its column) needs that upload, which a sweep does not carry.
NOT_VARIED = ("task.path", "task.column")
EXAMPLES = {
    "layer.units": "8,32,128",
    "layer.activation": "tanh,relu",
    "layer.unit_forget_bias": "true,false",
    "layer.recurrent_dropout": "0,0.3",
    "model.cell": "lstm,gru,simple_rnn",
    "task.lag": "5,20,50",
    "layer.dropout": "0,0.3",
    "layer.use_cudnn": "auto,false",
    "layer.bias_initializer": "zeros,ones",
    "model.embedding": "output_dim=16,output_dim=64",
}
VALUES_HELP = (
    "Two to six values, separated by commas, written as in a share link. Examples: "
    "Units `8,32,128`; activation `tanh,relu`; unit_forget_bias `true,false`; "
    "recurrent_dropout `0,0.3`; cell `lstm,gru,simple_rnn`; task lag `5,20,50` (on the "
    "recall task, with a sequence longer than the largest lag). Initializers take "
    "arguments in brackets: `orthogonal(gain=2.0),glorot_uniform`; `none` clears an "
    "optional setting."
)


# --- pure helpers ---------------------------------------------------------------------


def vary_keys() -> list[str]:
    """The flat keys "Vary one parameter" offers, in registry order; a layer argument
    as `layer.NAME` (every layer).

    >>> keys = vary_keys()
    >>> keys[:2], "layer.units" in keys, "task.path" in keys
    (['task.name', 'task.seq_len'], True, False)
    """
    keys = []
    for param in params.ALL_PARAMS:
        key = f"layer.{param.name}" if param.section == "layer" else param.path
        if key not in NOT_VARIED:
            keys.append(key)
    return keys


def vary_label(key: str) -> str:
    """How a key is listed: the setting's label, then its key.

    >>> vary_label("layer.units"), vary_label("training.learning_rate")
    ('Units · layer.units (every layer)', 'Learning rate · training.learning_rate')
    """
    param = param_for_key(key)
    return f"{param.label} · {key}" + (" (every layer)" if key.startswith("layer.") else "")


def example_values(key: str, config: ExperimentConfig | None = None) -> str:
    """Values to start from for a key: the help's examples, else the choices, else the
    current value and a neighbour.

    >>> example_values("model.cell"), example_values("layer.use_bias")
    ('lstm,gru,simple_rnn', 'true,false')
    >>> example_values("training.batch_size")
    '32,128'
    """
    if key in EXAMPLES:
        return EXAMPLES[key]
    param = param_for_key(key)
    config = config or ExperimentConfig.default()
    current = config.get(key.replace("layer.", "layer1.", 1))
    if param.kind == params.BOOL:
        return "true,false"
    if param.kind == params.CHOICE:
        choices = [choice for choice in param.choices if choice != "csv"]
        return ",".join(format_text(param, choice) for choice in choices[:3])
    if param.kind == params.ACTIVATION:
        return "tanh,relu" if current != "sigmoid" else "sigmoid,hard_sigmoid"
    if param.kind == params.INITIALIZER:
        return "glorot_uniform,orthogonal"
    if param.kind in (params.REGULARIZER, params.CONSTRAINT):
        return "none," + ("l2" if param.kind == params.REGULARIZER else "max_norm")
    if param.kind in (params.INT, params.FLOAT) and current is not None:
        cast = int if param.kind == params.INT else float
        candidates = ([0.2 if (param.maximum or 2) <= 1 else 1] if current == 0 else
                      [current * 4, current / 4] if param.log and cast is int else
                      [current * 10, current / 10] if param.log else
                      [current * 2, current / 2, current + 1])
        for candidate in candidates:
            candidate = cast(round(candidate)) if cast is int else float(f"{candidate:.2g}")
            low = param.minimum if param.minimum is not None else candidate
            high = param.maximum if param.maximum is not None else candidate
            if low <= candidate <= high and candidate != current:
                return f"{format_text(param, current)},{format_text(param, candidate)}"
    if param.nullable:
        return "none," + (format_text(param, current) if current is not None else "1")
    return ""


def plan_sweep(config: ExperimentConfig, key: str, text: str, *,
               gpu_present: bool = False) -> list[ExperimentConfig]:
    """Check a sweep before anything trains: one buildable config per value.

    Args:
        config: the base (the Build & Train settings).
        key: the flat key to vary, e.g. `"layer.units"`.
        text: the values as typed, e.g. `"8,32,128"`.
        gpu_present: whether a GPU is visible (for `use_cudnn=True`).

    Raises:
        ConfigError: with `field` "Values of KEY" (the input to fix), the bad part as
            `value`, and what is wrong as `message`.

    Example:

    >>> [c.model["layers"][0]["units"] for c in plan_sweep(ExperimentConfig.default(),
    ...                                                      "layer.units", "8, 32")]
    [8, 32]
    >>> plan_sweep(ExperimentConfig.default(), "layer.units", "8,many")
    Traceback (most recent call last):
    ...
    lstm_explorer.errors.ConfigError: Values of layer.units='many': is not a valid value \
of layer.units: expected an integer
    """
    field = f"Values of {key}"
    if not str(text).strip():
        raise ConfigError(field, "", f"type {compare.MIN_RUNS} to {compare.MAX_RUNS} values "
                                     f"separated by commas, e.g. {example_values(key)}")
    try:
        parsed_key, values = sweep.parse_vary(f"{key}={text}")
        configs = sweep.sweep_configs(config, parsed_key, values)
    except ConfigError as error:
        raise ConfigError(field, error.value, error.message) from None
    for built in configs:
        shown = f"{key}={format_text(param_for_key(key), built.get(_first(key)))}"
        if built.task["name"] == "csv":
            raise ConfigError(field, shown, "the csv task trains on an uploaded file, which "
                                            "a sweep does not use; vary a synthetic task")
        try:
            model_module.plan(built, gpu_present=gpu_present)
        except ConfigError as error:
            raise ConfigError(field, shown, f"cannot be built here: {error}") from None
    return configs


def _first(key: str) -> str:
    return key.replace("layer.", "layer1.", 1) if key.startswith("layer.") else key


def error_text(error: ConfigError) -> str:
    """A sweep error as the page shows it: the field in bold, the bad part, the fix.

    >>> error_text(ConfigError("Values of layer.units", "many", "expected an integer"))
    '**Values of layer.units**: `many`: expected an integer'
    """
    value = f"`{error.value}`: " if error.value not in ("", None) else ""
    return f"**{error.field}**: {value}{error.message}"


def choose_runs(names: Sequence[str], current: Sequence[str] | None,
                known: Sequence[str] | None, preferred: Sequence[str] | None = None
                ) -> list[str]:
    """Which runs to show compared.

    A finished sweep's runs (`preferred`) win; new runs since the page last looked
    (`known`) bring back the default, the last two; otherwise the person's choice stays,
    less runs no longer kept (the default again if fewer than two are left of it).

    >>> choose_runs(["a", "b", "c"], None, None)
    ['b', 'c']
    >>> choose_runs(["a", "b", "c"], ["a", "c"], ["a", "b", "c"])
    ['a', 'c']
    >>> choose_runs(["a", "b", "c", "d"], ["a", "c"], ["a", "b", "c"])
    ['c', 'd']
    >>> choose_runs(["b", "c", "d"], ["a", "c"], ["b", "c", "d"])
    ['c', 'd']
    >>> choose_runs(["a", "b", "c", "d"], ["a"], ["a", "b", "c", "d"], ["b", "c", "d"])
    ['b', 'c', 'd']
    """
    names = list(names)
    default = names[-2:]
    if preferred:
        chosen = [name for name in preferred if name in names][-compare.MAX_RUNS:]
        if len(chosen) >= compare.MIN_RUNS:
            return chosen
    if current is None or known is None:
        return default
    if any(name not in known for name in names):
        return default
    kept = [name for name in current if name in names]
    if len(kept) < len(current) and len(kept) < compare.MIN_RUNS:
        return default
    return kept[:compare.MAX_RUNS]


def differences_table(configs: Sequence[ExperimentConfig], names: Sequence[str]
                      ) -> list[dict[str, str]]:
    """One row per setting that differs: its key, its label, and each run's value.

    >>> base = ExperimentConfig.default()
    >>> differences_table([base, base.with_values({"layer.units": 8})], ["a", "b"])
    [{'parameter': 'layer1.units', 'setting': 'Units', 'a': '32', 'b': '8'}]
    """
    rows = []
    for row in compare.differing_parameters(list(configs)):
        entry = {"parameter": row["key"], "setting": row["label"]}
        entry.update(zip(names, row["values"]))
        rows.append(entry)
    return rows


def folder_run(entry: Any) -> Run:
    """A runs folder's run as the comparison reads a session's run (read from its files)."""
    loaded = folder_runs.load(entry)
    return Run(name=folder_runs.option(entry), config=loaded.experiment_config(),
               history=loaded.history or {"epochs": []}, arrays=loaded.arrays or {})


def summaries_of(runs: Sequence[Run]) -> list[RunSummary]:
    """The runs as the comparison reads them: a run over several seeds as its
    `seeds.SeedGroup` (under the session's name), so the figures draw its spread."""
    return [dataclasses.replace(run.group, name=run.name) if run.group is not None
            else RunSummary(run.name, run.config, run.history) for run in runs]


def sentence_names(names: Sequence[str]) -> list[str]:
    """Shorter run names for the conclusion's sentence, which names each run twice or
    more and says over how many seeds itself: `"run 3: layer.units=8, median of 2
    seeds"` is `"layer.units=8"` there, unless that would name two runs alike.

    >>> sentence_names(["run 1: layer.units=2, median of 2 seeds", "run 2: layer.units=3"])
    ['layer.units=2', 'layer.units=3']
    >>> sentence_names(["run 1: lstm 4 on adding", "run 2: lstm 4 on adding, median of 5 seeds"])
    ['run 1 (lstm 4 on adding)', 'run 2 (lstm 4 on adding)']
    """
    parts = []
    for name in names:
        head, colon, label = name.partition(": ")
        if not (colon and head.startswith("run ")):
            head, label = "", name
        label = re.sub(r", median of \d+ seeds|, seed \d+", "", label)
        parts.append((head, label))
    labels = [label for _, label in parts]
    if len(set(labels)) == len(labels):
        return labels
    shorter = [f"{head} ({label})" if head else label for head, label in parts]
    return shorter if len(set(shorter)) == len(shorter) else list(names)


def what_differs(summaries: Sequence[RunSummary]) -> dict[str, Any]:
    """The "What differs" table of 2 to 6 runs and its conclusion over seeds.

    The settings that differ among the runs whose settings are known (a model of one's
    own has none), then the result row of `compare.difference_table`: each run's final
    score, as median (min–max) for a run over several seeds.

    Returns:
        `{"header": ["parameter", "setting", *names], "rows": [[...], ...],
        "settings": number of setting rows, "conclusion": str, "beyond_spread":
        True | False | None}`.

    Example:

    >>> from lstm_explorer.seeds import SeedGroup
    >>> base = ExperimentConfig.default()
    >>> def group(name, config, losses):
    ...     return SeedGroup.of(name, [RunSummary(f"{name}, seed {s}", config,
    ...                         {"epochs": [{"val_loss": v}]}) for s, v in enumerate(losses)])
    >>> table = what_differs([group("a", base, [0.1, 0.2]),
    ...                       group("b", base.with_values({"layer.units": 8}), [0.15, 0.3])])
    >>> table["rows"]
    [['layer1.units', 'Units', '32', '8'], ['result', 'final validation loss, median (min–max) over 2 seeds', '0.15 (0.1–0.2)', '0.225 (0.15–0.3)']]
    >>> table["beyond_spread"], "may be one seed's luck" in table["conclusion"]
    (False, True)
    >>> table["conclusion"].split(":")[1]
    ' a 0.15 (0.1–0.2); b 0.225 (0.15–0.3). The ranges of a and b overlap'
    """
    names = [summary.name for summary in summaries]
    known = [summary for summary in summaries if summary.config is not None]
    rows = []
    if len(known) >= 2:
        settings = differences_table([summary.config for summary in known],
                                     [summary.name for summary in known])
        rows = [[row["parameter"], row["setting"],
                 *[row.get(name, compare._MISSING) for name in names]] for row in settings]
    short = sentence_names(names)
    table = compare.difference_table([dataclasses.replace(summary, name=name)
                                      for summary, name in zip(summaries, short)])
    result = table["rows"][-1]
    return {"header": ["parameter", "setting", *names],
            "rows": rows + [[result["key"], result["label"], *result["values"]]],
            "settings": len(rows), "conclusion": table["conclusion"],
            "beyond_spread": table["beyond_spread"]}


def run_layers(runs: Sequence[Run]) -> list[str]:
    """The recurrent layers any of the runs recorded gradients for (`layer0` first)."""
    found: list[str] = []
    for run in runs:
        for layer in figures.layers_in(history=run.history):
            if layer not in found:
                found.append(layer)
    return sorted(found, key=lambda name: (int(name.split("/")[0][5:]), name)) or ["layer0"]


def comparison(runs: Sequence[Run], layer: str, sweep_job: batch.BatchJob | None = None
               ) -> dict[str, Any]:
    """The comparison figures of 2 to 6 runs; with "result against value" when the runs
    are exactly a sweep's."""
    summaries = summaries_of(runs)
    built = compare.comparison_figures(summaries, layer, FIGURES)
    if (sweep_job is not None and sweep_job.run_names
            and sorted(run.name for run in runs) == sorted(sweep_job.run_names)):
        order = {name: index for index, name in enumerate(sweep_job.run_names)}
        ordered = sorted(summaries, key=lambda summary: order[summary.name])
        param = param_for_key(sweep_job.key)
        values = [summary.value for summary in sweep_job.summaries]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            values = [format_text(param, value) for value in values]
        if len(values) == len(ordered):
            built["result_vs_value"] = compare.compare_sweep(ordered, values,
                                                             label=sweep_job.key, layer=layer)
    return built


# --- drawing ----------------------------------------------------------------------------


def page() -> None:
    """The whole Compare Runs page."""
    explorer = session()
    batch_view.collect(explorer)
    state = batch.state_of(explorer)
    vary_section(explorer, state)
    seeds_view.repeat_section(explorer, state)
    comparison_section(explorer, state)


def _new_key_values() -> None:
    key = st.session_state.get(VARY_KEY)
    if key:
        st.session_state[VALUES_KEY] = example_values(key, session().config)


def vary_section(explorer: ExplorerSession, state: batch.BatchState) -> None:
    """The "Vary one parameter" form, its progress, and how the last sweep ended."""
    box = st.container(border=True)
    config = explorer.config
    with box:
        st.markdown("**Vary one parameter** · one run per value, trained one after another "
                    "from the settings on Build & Train, then shown compared below")
        keys = vary_keys()
        if VARY_KEY not in st.session_state:
            st.session_state[VARY_KEY] = "layer.units"
        if VALUES_KEY not in st.session_state:
            st.session_state[VALUES_KEY] = example_values(st.session_state[VARY_KEY], config)
        # Aligned at the bottom: a narrow window wraps "Seeds per value" onto two lines.
        pick, type_values, seeds_column = st.columns([2, 2.4, 1], vertical_alignment="bottom")
        key = pick.selectbox("Parameter", keys, format_func=vary_label, key=VARY_KEY,
                             on_change=_new_key_values,
                             help="Any setting of the parameter registry. A layer argument "
                                  "(layer.NAME) is set on every layer.")
        text = type_values.text_input("Values (comma separated)", key=VALUES_KEY,
                                      help=VALUES_HELP,
                                      placeholder=example_values(key, config) or "e.g. 1,2")
        with seeds_column:
            per_value = seeds_view.seeds_input(SEEDS_KEY, "Seeds per value")
        param = param_for_key(key)
        current = format_text(param, config.get(_first(key)))
        base = (f"Base: {describe_config(config)}, {config.training['epochs']} epochs per "
                f"run; {key} is {current} there.")
        if per_value > 1:
            base += (f" Each value is trained over {per_value} seeds (one run per value "
                     f"and seed), shown as the median of its seeds with their spread.")
        context = config.task["name"] if param.section == "task" else config.model["cell"]
        if not param.applies(context):
            base += (f" Note: {key} only matters for {' or '.join(param.applies_to)}, not "
                     f"for {context}: these runs would differ only in a value left unused.")
        st.caption(base)

        sweep_job = state.sweep
        running = sweep_job is not None and state.job is sweep_job and state.running
        busy = batch_view.busy_reason(explorer, state, batch.SWEEP)
        run_column, stop_column, note_column = st.columns([1, 1, 3])
        start = run_column.button("Train the runs", type="primary", key=RUN_BUTTON,
                                  icon=":material/play_arrow:", disabled=bool(busy),
                                  width="stretch")
        stop = stop_column.button("Stop", key=STOP_BUTTON, icon=":material/stop:",
                                  disabled=not running, width="stretch",
                                  help="Stops the running training after its current batch "
                                       "and starts no further run; the runs trained so far "
                                       "are kept.")
        if busy and not running:
            note_column.caption(busy)
        if stop and sweep_job is not None:
            sweep_job.stop()
            st.rerun()
        if start:
            try:
                configs = plan_sweep(config, key, text, gpu_present=panels.gpu_present())
                for built in configs:
                    seeds.seed_values(built, per_value, "Seeds per value")
            except ConfigError as error:
                st.error(error_text(error), icon=":material/error:")
            else:
                state.start(batch.sweep_job(key, configs, seeds=per_value,
                                            slots=batch_view.batch_slots()))
                st.rerun()
        if running:
            batch_view.live_progress(sweep_job)
        elif sweep_job is not None and sweep_job.collected:
            batch_view.ending_panel(sweep_job)
            if sweep_job.run_names:
                st.caption(f"The last sweep of {sweep_job.key} added "
                           f"{batch.run_labels(sweep_job.run_names)} to this session's runs.")


def comparison_section(explorer: ExplorerSession, state: batch.BatchState) -> None:
    """Pick runs, see what differs, see them overlaid."""
    listed = {folder_runs.option(entry): entry for entry in folder_runs.entries()
              if entry.epochs}
    runs = explorer.runs
    names = [run.name for run in runs] + list(listed)
    if len(names) < compare.MIN_RUNS:
        have = "No run yet" if not runs else f"Only one run so far ({runs[0].name})"
        if state.running and state.job is not None and state.job.kind == batch.SWEEP:
            st.info(f"{have}. The runs of the sweep above appear here, compared, when it "
                    "has finished.", icon=":material/hourglass_top:")
            st.session_state[KNOWN_KEY] = names
            return
        st.info(f"{have}: comparing needs at least two. Train twice on Build & Train "
                "(change a setting in between), or use **Vary one parameter** above, "
                "which trains one run per value. Every finished training of this session "
                "is kept as a named run.", icon=":material/compare_arrows:")
        st.page_link("pages/build_train.py", label="Go to Build & Train",
                     icon=":material/model_training:")
        st.session_state[KNOWN_KEY] = names
        return

    chosen = choose_runs(names, st.session_state.get(RUNS_KEY),
                         st.session_state.get(KNOWN_KEY), state.select)
    state.select = None
    st.session_state[KNOWN_KEY] = names
    if st.session_state.get(RUNS_KEY) != chosen:
        st.session_state[RUNS_KEY] = chosen
    picked = st.multiselect(
        "Runs to compare", names, key=RUNS_KEY, max_selections=compare.MAX_RUNS,
        format_func=lambda name: (folder_runs.option_label(listed[name]) if name in listed
                                  else name),
        help=f"{compare.MIN_RUNS} to {compare.MAX_RUNS} of this session's runs"
             + (" and the runs folder's" if listed else "") + f". The session keeps its "
             f"last {MAX_RUNS} runs; when an older one is dropped, a notice says so.")
    selected = [run for run in runs if run.name in picked] + [
        folder_run(listed[name]) for name in picked if name in listed]
    if len(selected) < compare.MIN_RUNS:
        st.info("Pick at least two runs to compare.", icon=":material/info:")
        return

    seeds_view.repeat_selection(explorer, state, selected)
    layers = run_layers(selected)
    layer = layers[0]
    if len(layers) > 1:
        layer = st.selectbox("Layer", layers, format_func=panels.layer_label, key=LAYER_KEY)

    st.markdown("**What differs** between these runs (every other setting is the same), "
                "and how they ended:")
    with_config = [run for run in selected if run.config is not None]
    for run in selected:
        if run.config is None:
            what = listed[run.name].label if run.name in listed else ""
            st.caption(f"**{run.name}** is a model of your own"
                       + (f" ({what})" if what else "")
                       + ": it has no explorer settings to set side by side.")
    summaries = summaries_of(selected)
    table = what_differs(summaries)
    if not table["settings"] and len(with_config) >= 2:
        over = any(run.group is not None for run in selected)
        st.caption("No setting differs: " + (
            "these runs have the same settings, the first seed included." if over else
            "these runs have the same settings, seed included, so they differ only by "
            "what the machine does in a different order (or not at all)."))
    # A Markdown table, not a data grid: it wraps long run names, and its text can be
    # read (and copied) like the conclusion under it.
    st.markdown(panels.markdown_table(table["header"], table["rows"]))
    seeds_view.spread_box(table["conclusion"], table["beyond_spread"])

    # Run names are numbered and never reused in a session, so they identify the data.
    # A folder run's version changes with its files (a run another process still writes).
    cache_key = ("compare", tuple(run.name for run in selected), layer,
                 tuple(listed[name].version for name in picked if name in listed),
                 tuple(state.sweep.run_names) if state.sweep is not None else ())
    cached = explorer.cache.get("compare")
    if cached is not None and cached[0] == cache_key:
        built = cached[1]
    else:
        built = comparison(selected, layer, state.sweep)
        explorer.cache["compare"] = (cache_key, built)
    if "result_vs_value" in built:
        panels.chart(built["result_vs_value"], "compare-result_vs_value", 440)
    for name in FIGURES:
        panels.chart(built[name], f"compare-{name}", 440)
