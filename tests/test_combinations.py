"""A config that validates always builds and traces (issue 15).

The structural switches of the model interact: Bidirectional with go_backwards, a
stateful layer that returns its state, an Embedding in front of a task without tokens.
For every combination of them, `ExperimentConfig.from_dict` either refuses it with a
`ConfigError` naming a real key, or the model builds and the probe batch traces, the
way the app starts a training (`Trainer.prepare`). Never any other exception.

The full product (`full_product()`, 26880 combinations) is cheap to validate, so CI
validates all of it. Building and tracing the 5040 that validate takes longer than CI
allows, so CI builds two covering arrays (`covering`): a pairwise one over every
combination, and one over the combinations that validate that holds every three
settings that validate together (a stateful Bidirectional layer returning its state
was a three-way crash). `LSTM_EXPLORER_FULL_SWEEP=1` builds and traces the whole
product.

A hypothesis test then draws configs from the whole registry (`params.py`), every
initializer, regularizer and constraint with its arguments included, for
`LSTM_EXPLORER_FUZZ_SECONDS` (default 90) seconds.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import os
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstm_explorer import params
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from lstm_explorer.training import Trainer

FULL_SWEEP = os.environ.get("LSTM_EXPLORER_FULL_SWEEP") == "1"
FUZZ_SECONDS = float(os.environ.get("LSTM_EXPLORER_FUZZ_SECONDS", "90"))

# The switches that change the model's structure, each with every value it can take.
# `bidirectional` is None (off) or Bidirectional's merge_mode, as merge_mode means
# nothing without it. The per-layer flags go on the layers `flagged` names: a flag on
# the first layer only, or the last only, builds a different stack than on all.
LAYER_FLAGS = ("go_backwards", "stateful", "return_state", "unroll")
KNOBS: dict[str, tuple] = {
    "cell": params.CELLS,
    "bidirectional": (None, *params.get("model.merge_mode").choices),
    **{flag: (False, True) for flag in LAYER_FLAGS},
    "return_sequences": (False, True),  # of the last layer; stacking sets the others
    "embedding": (False, True),
    "task": tuple(name for name in params.TASKS if name != "csv"),  # csv needs a file
    "num_layers": (1, 2, 3),
    "flagged": ("all", "first", "last"),
}
SEQ_LEN, BATCH = 5, 4


def combination(row: Sequence) -> dict[str, Any]:
    """A row of knob values (in `KNOBS` order) as a dict."""
    return dict(zip(KNOBS, row))


def config_data(row: Sequence) -> dict:
    """The config dict of one combination: tiny sizes, one epoch."""
    knobs = combination(row)
    count = knobs["num_layers"]
    flagged = {"all": range(count), "first": [0], "last": [count - 1]}[knobs["flagged"]]
    # Units differ from layer to layer, so a stack that mixed up its layers' shapes fails.
    layers = [{"units": 2 + index} for index in range(count)]
    for index in flagged:
        layers[index].update({flag: knobs[flag] for flag in LAYER_FLAGS})
    layers[-1]["return_sequences"] = knobs["return_sequences"]
    return {
        "task": {"name": knobs["task"], "seq_len": SEQ_LEN, "n_samples": 20, "lag": 2,
                 "vocab_size": 12},
        "model": {"cell": knobs["cell"], "bidirectional": knobs["bidirectional"] is not None,
                  "merge_mode": knobs["bidirectional"] or "concat",
                  "embedding": {"output_dim": 3} if knobs["embedding"] else None,
                  "layers": layers},
        "training": {"epochs": 1, "batch_size": BATCH},
    }


def full_product() -> list[tuple]:
    """Every combination of `KNOBS`; with one layer, first and last are the same as all."""
    return [row for row in itertools.product(*KNOBS.values())
            if combination(row)["num_layers"] > 1 or combination(row)["flagged"] == "all"]


def covering(rows: Sequence[Sequence], strength: int = 2) -> list[tuple]:
    """Rows picked from `rows` that hold every `strength`-tuple of values some row holds.

    With strength 2 (pairwise), every two columns' values that occur together in a row
    of `rows` occur together in a picked row. Greedy: each step picks the row holding
    the most tuples not yet held (the first such row on a tie), so the result is always
    the same for the same `rows`.

    Args:
        rows: candidate rows of equal length, e.g. a full product, or the part of it
            that validates.
        strength: how many columns' values are held together. Default: 2.

    Returns:
        The picked rows, as tuples, in the order picked.
    """
    rows = [tuple(row) for row in rows]
    if not rows:
        return []
    columns = list(zip(*rows))
    codes = [{value: code for code, value in enumerate(dict.fromkeys(column))}
             for column in columns]
    coded = np.array([[codes[i][value] for i, value in enumerate(row)] for row in rows])
    tuple_ids, offset = [], 0
    for chosen in itertools.combinations(range(len(columns)), strength):
        ids = np.zeros(len(rows), np.int64)
        for i in chosen:  # a mixed-radix number: one digit per chosen column
            ids = ids * len(codes[i]) + coded[:, i]
        tuple_ids.append(offset + ids)
        offset += math.prod(len(codes[i]) for i in chosen)
    tuple_ids = np.stack(tuple_ids, axis=1)
    missing = np.zeros(offset, bool)
    missing[tuple_ids] = True
    picked = []
    while missing.any():
        best = int(np.argmax(missing[tuple_ids].sum(axis=1)))
        picked.append(rows[best])
        missing[tuple_ids[best]] = False
    return picked


def pairwise(rows: Sequence[Sequence]) -> list[tuple]:
    """`covering(rows, strength=2)`: every pair of values that occurs in `rows`."""
    return covering(rows, strength=2)


def pairs_in(rows: Sequence[Sequence], strength: int = 2) -> set[tuple]:
    """Every pair (or `strength`-tuple) of (column, value) that occurs in one of `rows`."""
    return {tuple((i, row[i]) for i in chosen) for row in rows
            for chosen in itertools.combinations(range(len(row)), strength)}


# --- what a config must do ----------------------------------------------------------------

_FIELD = re.compile(r"^(task|training|model)\.([a-z_0-9]+)(?:\[(\d+)\]\.([a-z_0-9]+))?"
                    r"(?:\.[a-z_0-9.]+)?$")


def names_a_real_key(field: str, data: dict) -> bool:
    """Whether an error's field is a key of the config: `task.lag`,
    `model.layers[1].go_backwards`, `model.layers[0].kernel_initializer.config.gain`."""
    match = _FIELD.match(field)
    if not match:
        return False
    section, name, index, layer_key = match.groups()
    if section != "model":
        return index is None and name in params.section_params(section)
    if index is None:
        return name == "layers" or name in params.section_params("model")
    layers = data.get("model", {}).get("layers", [])
    return (name == "layers" and int(index) < len(layers)
            and layer_key in params.section_params("layer"))


def refusal(data: dict) -> tuple[ExperimentConfig | None, str | None]:
    """The validated config, or the field of the `ConfigError` that refuses `data`.

    Any other exception propagates; a field that names no key of `data` fails.
    """
    try:
        return ExperimentConfig.from_dict(data), None
    except ConfigError as error:
        assert names_a_real_key(error.field, data), f"{error.field!r} names no key: {error}"
        return None, error.field


def assert_every_layer_traced(config: ExperimentConfig, trainer: Trainer) -> None:
    """The untrained trace holds each direction of each recurrent layer, full length."""
    trace, model = trainer.initial_trace, config.model
    directions = 2 if model["bidirectional"] else 1
    assert len(trace.layers) == directions * len(model["layers"])
    for layer in trace.layers:
        assert layer.values["h"].shape[1:] == (config.task["seq_len"],
                                               model["layers"][layer.index]["units"])


def check(data: dict) -> str | None:
    """Validate, build and trace one config; `None` when it traced, else the refused field."""
    config, field = refusal(data)
    if config is None:
        return field
    trainer = Trainer(config)
    trainer.prepare()
    assert_every_layer_traced(config, trainer)
    # Every sweep config starts from Keras's default initializers: nothing to blow up.
    assert math.isfinite(trainer.initial_trace.loss)
    return None


def sweep(rows: Sequence[Sequence]) -> tuple[collections.Counter, list[str]]:
    """Check every row; the count of each outcome and a line per failure."""
    outcomes: collections.Counter = collections.Counter()
    failures = []
    for row in rows:
        try:
            field = check(config_data(row))
        except Exception as error:  # collected, so one run reports every failing row
            failures.append(f"{combination(row)}: {type(error).__name__}: {error}"[:400])
            outcomes["failed"] += 1
            continue
        outcomes["built and traced" if field is None else f"refused: {field}"] += 1
    return outcomes, failures


@functools.cache
def validation_of_the_full_product() -> tuple[tuple[tuple, ...], dict[str, int], tuple[str, ...]]:
    """The combinations that validate, the count refused under each field, and a line
    for each refusal whose field names no key of the config."""
    valid, refused, unnamed = [], collections.Counter(), []
    for row in full_product():
        data = config_data(row)
        try:
            ExperimentConfig.from_dict(data)
        except ConfigError as error:
            refused[error.field] += 1
            if not names_a_real_key(error.field, data):
                unnamed.append(f"{combination(row)}: {error}")
            continue
        valid.append(row)
    return tuple(valid), dict(refused), tuple(unnamed)


def validating_rows() -> tuple[tuple, ...]:
    return validation_of_the_full_product()[0]


# --- the generator ------------------------------------------------------------------------


def test_pairwise_holds_every_pair_of_a_full_product_in_fewer_rows():
    rows = list(itertools.product("abc", (1, 2, 3), (True, False), "xy"))
    picked = pairwise(rows)
    assert pairs_in(picked) == pairs_in(rows)
    assert 9 <= len(picked) < len(rows)
    assert pairwise(rows) == picked  # the same every time


def test_covering_with_strength_three_holds_every_triple_of_a_full_product():
    rows = list(itertools.product("abc", (1, 2), (True, False), "xyz"))
    picked = covering(rows, strength=3)
    assert pairs_in(picked, strength=3) == pairs_in(rows, strength=3)
    assert 18 <= len(picked) < len(rows)


def test_pairwise_holds_every_pair_that_occurs_and_no_other_when_some_rows_are_missing():
    rows = [row for row in itertools.product("abc", (1, 2, 3), "xy") if row[:2] != ("a", 1)]
    picked = pairwise(rows)
    assert set(picked) <= set(rows)
    assert pairs_in(picked) == pairs_in(rows)
    assert ((0, "a"), (1, 1)) not in pairs_in(picked)
    assert pairwise([]) == []


def test_the_pairwise_array_of_the_switches_holds_every_pair_and_flags_on_one_end_only():
    picked = pairwise(full_product())
    assert pairs_in(picked) == pairs_in(full_product())
    knobs = [combination(row) for row in picked]
    for end in ("first", "last"):
        assert any(k["flagged"] == end and k["num_layers"] > 1 and k["stateful"]
                   for k in knobs), end


# --- the sweep ----------------------------------------------------------------------------


def test_every_combination_of_switches_validates_or_is_refused_naming_a_real_key():
    # from_dict raising anything but ConfigError fails here, out of the cached function.
    valid, refused, unnamed = validation_of_the_full_product()
    assert unnamed == ()
    assert 0 < len(valid) < len(full_product())
    print(f"\n{len(full_product())} combinations: {len(valid)} validate; refused: {refused}")


def test_every_pair_of_switch_settings_builds_and_traces_or_is_refused_by_validation():
    outcomes, failures = sweep(pairwise(full_product()))
    print(f"\npairwise over all combinations: {dict(outcomes)}")
    assert failures == []


def test_every_three_switch_settings_that_validate_together_build_and_trace():
    outcomes, failures = sweep(covering(validating_rows(), strength=3))
    print(f"\nthree-way over the validating combinations: {dict(outcomes)}")
    assert failures == []
    assert set(outcomes) == {"built and traced"}


@pytest.mark.slow
@pytest.mark.skipif(not FULL_SWEEP, reason="the full product takes about 15 minutes; set "
                                           "LSTM_EXPLORER_FULL_SWEEP=1 to run it")
def test_every_combination_of_switches_builds_and_traces_or_is_refused_by_validation():
    start = time.monotonic()
    outcomes, failures = sweep(full_product())
    print(f"\nfull product, {len(full_product())} combinations in "
          f"{time.monotonic() - start:.0f} s: {dict(outcomes)}")
    assert failures == [], f"{len(failures)} failed:\n" + "\n".join(failures[:50])


# --- hypothesis over the whole registry ---------------------------------------------------

# Sizes bound the seconds one example takes, not what is allowed: the registry's own
# bounds reach 1024 units, 2000 steps and 200000 samples.
SIZES = {"task.seq_len": (2, 8), "task.n_samples": (16, 48), "task.lag": (0, 9),
         "task.n_symbols": (2, 8), "task.vocab_size": (4, 30), "layer.units": (1, 6),
         "training.batch_size": (1, 16), "training.epochs": (1, 1)}
_EMBEDDING_SIZES = {"output_dim": (1, 6), "input_dim": (2, 40)}
# Keys drawn like any other, a few per example: most configs change a few knobs, and a
# config that changes every knob at once is almost always refused for one of them.
FREE_KEYS = tuple(param.path for param in params.ALL_PARAMS
                  if param.path not in SIZES and param.path != "model.num_layers")
# Values of the wrong type or out of every bound, one per junk example.
JUNK = (None, -1, 10**9, "nope", float("nan"), True, [], {"class_name": "Lambda"})


def valid_values(param: params.Param, path: str, csv_path: str) -> st.SearchStrategy:
    """Values of one registry entry within its bounds (and `SIZES`)."""
    kind = param.kind
    if path in SIZES:
        values = st.integers(*SIZES[path])
    elif kind == params.INT:
        values = st.integers(int(param.minimum), int(param.maximum))
    elif kind == params.FLOAT:
        values = st.floats(param.minimum, param.maximum, allow_nan=False)
    elif kind == params.BOOL:
        values = st.booleans()
    elif kind in (params.CHOICE, params.ACTIVATION):
        values = st.sampled_from(param.choices)
    elif path == "task.path":
        values = st.sampled_from((csv_path, csv_path, "", "no/such/file.csv"))
    elif path == "task.column":
        values = st.sampled_from(("", "0", "1", "value", "nope"))
    elif kind in params.CATALOGS:
        values = identifiers(kind, csv_path)
    elif kind == params.EMBEDDING:
        values = embeddings()
    else:
        raise AssertionError(f"no strategy for {path} of kind {kind!r}")
    return st.none() | values if param.nullable else values


def embeddings() -> st.SearchStrategy:
    """Embedding arguments; an input_dim below the task's vocabulary is refused."""
    return st.fixed_dictionaries(
        {"output_dim": st.integers(*_EMBEDDING_SIZES["output_dim"])},
        optional={"input_dim": st.none() | st.integers(*_EMBEDDING_SIZES["input_dim"])})


def identifiers(kind: str, csv_path: str) -> st.SearchStrategy:
    """Every class of a catalog: by name, or as a dict with some of its arguments."""
    catalog = list(params.CATALOGS[kind].values())

    def as_dict(spec: params.KerasClass) -> st.SearchStrategy:
        arguments = {argument.name: valid_values(argument, argument.name, csv_path)
                     for argument in spec.args}
        if spec.seeded:
            arguments["seed"] = st.none() | st.integers(0, 2**31 - 1)
        return st.fixed_dictionaries({"class_name": st.just(spec.class_name),
                                      "config": st.fixed_dictionaries({}, optional=arguments)})

    names = st.sampled_from([spec.identifier for spec in catalog])
    return names | st.sampled_from(catalog).flatmap(as_dict)


@st.composite
def registry_configs(draw, csv_path: str) -> dict:
    """A config dict: small sizes, a few other keys of the registry set, sometimes junk."""
    count = draw(st.integers(1, int(params.get("model.num_layers").maximum)))
    units = st.integers(*SIZES["layer.units"])
    data = {"task": {path.split(".")[1]: draw(st.integers(*bounds))
                     for path, bounds in SIZES.items() if path.startswith("task.")},
            "model": {"layers": [{"units": draw(units)} for _ in range(count)]},
            "training": {"batch_size": draw(st.integers(*SIZES["training.batch_size"])),
                         "epochs": 1}}
    if draw(st.booleans()):
        data["model"]["num_layers"] = count
    # From a permutation: hypothesis draws the first elements of a sampled_from far
    # more often than the rest, and every key should be drawn alike.
    for path in draw(st.permutations(FREE_KEYS))[:draw(st.integers(0, 10))]:
        section, name = path.split(".")
        param = params.get(path)
        if section == "layer":
            which = draw(st.sampled_from(("all", "first", "last", "one")))
            chosen = {"all": range(count), "first": [0], "last": [count - 1],
                      "one": [draw(st.integers(0, count - 1))]}[which]
            for index in chosen:
                data["model"]["layers"][index][name] = draw(valid_values(param, path, csv_path))
        else:
            data[section][name] = draw(valid_values(param, path, csv_path))
    task, model = data["task"], data["model"]
    # Nudges towards configs that validate, so that most examples build.
    if task.get("name") in ("tokens", "chars") and "embedding" not in model:
        model["embedding"] = draw(embeddings())
    if task.get("name") == "csv" and "path" not in task:
        task["path"] = csv_path
    if draw(st.sampled_from(range(8))) == 7:  # one example in eight, not the simplest
        path = draw(st.permutations(FREE_KEYS + tuple(SIZES)))[0]
        section, name = path.split(".")
        target = data["model"]["layers"][0] if section == "layer" else data[section]
        target[name] = draw(st.sampled_from(JUNK))
    return data


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("fuzz") / "series.csv"
    steps = np.arange(300)
    rows = "\n".join(f"{step},{math.sin(step / 5):.4f}" for step in steps)
    path.write_text("step,value\n" + rows + "\n")
    return str(path)


def test_the_fuzz_draws_every_entry_of_the_registry():
    drawn = set(FREE_KEYS) | set(SIZES) | {"model.num_layers"}
    assert drawn == {param.path for param in params.ALL_PARAMS}


@pytest.mark.slow
def test_any_config_from_the_whole_registry_builds_traces_and_trains_or_names_a_field(
        csv_path):
    outcomes: collections.Counter = collections.Counter()
    strategy = registry_configs(csv_path)

    def run(examples: int) -> None:
        @settings(max_examples=examples, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(strategy, st.sampled_from((False, False, False, True)))
        def check_examples(data, compiled):
            outcomes[one_example(data, compiled=compiled)] += 1

        check_examples()

    # Hypothesis has no time limit of its own: run it in rounds sized to what is left,
    # so it stops near the budget and a failure still shrinks within its round.
    start, examples = time.monotonic(), 10
    while True:
        before = time.monotonic()
        run(examples)
        elapsed, left = time.monotonic() - start, FUZZ_SECONDS - (time.monotonic() - start)
        if left <= 0:
            break
        seconds_each = (time.monotonic() - before) / examples
        if left < seconds_each:
            break
        # Half of what is left: examples vary (a compiled step takes ten times longer),
        # and rounds that shrink as the budget runs out end close to it.
        examples = max(1, min(100, int(0.5 * left / seconds_each)))
    print(f"\nwhole-registry fuzz, {sum(outcomes.values())} examples in {elapsed:.0f} s: "
          f"{dict(outcomes)}")
    assert sum(count for outcome, count in outcomes.items() if outcome.startswith("built"))


def one_example(data: dict, *, compiled: bool) -> str:
    """Check one drawn config; the outcome, for the counts.

    Args:
        data: the config dict.
        compiled: take the training step as `fit` does, in a traced graph (about 1 s
            more), rather than eagerly; some failures show only there.
    """
    config, _ = refusal(data)
    if config is None:
        return "refused by validation"
    trainer = Trainer(config)
    try:
        trainer.prepare()
    except ConfigError as error:
        # Only what validation cannot know: the CSV file's content, and whether this
        # machine has a GPU for use_cudnn=True.
        assert config.task["name"] == "csv" or error.field.endswith(".use_cudnn"), str(error)
        assert names_a_real_key(error.field, data), f"{error.field!r} names no key: {error}"
        return "refused by the data or the machine"
    assert_every_layer_traced(config, trainer)
    # One training step as well: regularizers and constraints act only there, and the
    # trace replays the layers without calling them.
    model, (x, y) = trainer.model, trainer._probe()
    model.run_eagerly = not compiled
    logs = model.train_on_batch(x, y, return_dict=True)
    assert "loss" in logs
    return f"built, traced and trained ({'compiled' if compiled else 'eagerly'})"



@pytest.mark.parametrize("layer,task,batch_size", [
    ({"activity_regularizer": "orthogonal_regularizer", "stateful": True}, "adding", 4),
    ({"kernel_regularizer": "orthogonal_regularizer"}, "adding", 4),
    ({"kernel_regularizer": {"class_name": "OrthogonalRegularizer",
                             "config": {"mode": "columns"}}}, "sine", 4),
    ({"activity_regularizer": {"class_name": "OrthogonalRegularizer",
                               "config": {"mode": "columns"}}}, "sine", 1),
], ids=["activity-rows-stateful", "kernel-rows", "kernel-columns-one-input", "activity-columns"])
def test_an_orthogonal_regularizer_that_validates_trains_to_a_finite_loss(layer, task, batch_size):
    config = ExperimentConfig.from_dict({
        "task": {"name": task, "seq_len": SEQ_LEN, "n_samples": 20},
        "model": {"layers": [{"units": 3, **layer}]},
        "training": {"epochs": 1, "batch_size": batch_size}})
    result = Trainer(config, trace=False).run()
    assert result.status == "finished"
    assert math.isfinite(result.history["epochs"][-1]["loss"])
