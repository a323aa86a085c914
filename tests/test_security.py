"""Hostile input on a shared server: configs, share links and uploads.

- `from_dict` / `from_json` raise nothing but `ConfigError`; `from_query` and the app's
  link reader never raise at all;
- building a model from any config that survives instantiates only allow-listed Keras
  classes, imports nothing, deserializes nothing outside the catalogs, evaluates nothing
  and opens no file; a link never names a file the server would read;
- CSV uploads that are too big or binary get a clear message;
- sessions do not see each other's runs, configs or jobs;
- no code calls `keras.backend.clear_session()`, and a `.keras` file is only ever loaded
  with `safe_mode=True`.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import io
import json
import math
import os
import tokenize
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstm_explorer import model as model_module
from lstm_explorer import params, tasks
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from lstm_explorer.jobs import JobQueue
from lstm_explorer.ui.frame import config_from_link
from lstm_explorer.ui.state import ExplorerSession

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- hostile values ---------------------------------------------------------------------

HOSTILE_TEXT = [
    "os.system", "__import__", "__import__('os').system('touch /tmp/pwned')",
    "eval('1')", "exec", "builtins.eval", "subprocess.Popen", "keras.layers.Lambda",
    "Lambda", "keras.src.ops.numpy", "keras.src.saving.serialization_lib",
    "keras.src.layers.core.lambda_layer.Lambda", "tensorflow.io.gfile.GFile",
    "/etc/passwd", "../../../../etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa",
    "orthogonal(gain=__import__('os'))", "l2(l2=1e309)", "constant(value=nan)",
    "Orthogonal(seed=-1)", "random_uniform(minval=1, maxval=0)", "lambda: 0",
    "{{7*7}}", "${jndi:ldap://x}", "\x00", "\ud800", "ＯＲＴＨＯＧＯＮＡＬ", "",
]
HUGE_TEXT = st.integers(1_000, 20_000).map(lambda n: "x" * n)  # oversized strings
HOSTILE_NUMBERS = [math.nan, math.inf, -math.inf, 10**400, -10**400, 2**63, -1, 0, -0.0,
                   1e308, 5e-324, True, False]
CLASS_NAMES = ["Orthogonal", "L2", "MaxNorm", "Lambda", "Layer", "Sequential", "Functional",
               "os.system", "__import__", "TFSMLayer", "Model", "eval"]
MODULES = ["keras.initializers", "keras.regularizers", "keras.constraints", "builtins", "os",
           "keras.src.initializers", "keras.layers", "__main__", "subprocess", None]

scalars = st.one_of(st.sampled_from(HOSTILE_TEXT), st.sampled_from(HOSTILE_NUMBERS), HUGE_TEXT,
                    st.text(max_size=30), st.integers(), st.floats(), st.none(),
                    st.booleans())
identifier_dicts = st.fixed_dictionaries(
    {"class_name": st.sampled_from(CLASS_NAMES + HOSTILE_TEXT[:12])},
    optional={"config": st.dictionaries(st.sampled_from(["gain", "seed", "l2", "value",
                                                         "function", "module", "fn"]),
                                        scalars, max_size=3),
              "module": st.sampled_from(MODULES),
              "registered_name": st.sampled_from(["os>system", "Custom>Lambda", None]),
              "build_config": st.just({"input_shape": [None, 2]})})
json_values = st.recursive(
    st.one_of(scalars, identifier_dicts),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(st.text(max_size=12),
                                                         st.sampled_from(HOSTILE_TEXT[:8])),
                                               children, max_size=4)),
    max_leaves=12)

DEFAULT = ExperimentConfig.default()
SECTION_KEYS = {section: list(params.section_params(section)) for section in
                ("task", "model", "training")}
LAYER_KEYS = list(params.section_params("layer"))


@st.composite
def mutated_configs(draw):
    """The default config with a few values, keys or sections replaced by hostile ones:
    a layer argument, an unknown key, a section value, a whole section (in that order,
    so that each reaches as deep as the ones before left it)."""
    data = DEFAULT.to_dict()
    layer = data["model"]["layers"][0]
    if draw(st.booleans()):
        layer[draw(st.sampled_from(LAYER_KEYS))] = draw(json_values)
    if draw(st.booleans()):
        target = draw(st.sampled_from([data, data["task"], data["model"], layer]))
        target[draw(st.text(min_size=1, max_size=20))] = draw(json_values)
    if draw(st.booleans()):
        section = draw(st.sampled_from(["task", "model", "training"]))
        keys = SECTION_KEYS[section] + (["layers", "num_layers"] if section == "model" else [])
        data[section][draw(st.sampled_from(keys))] = draw(json_values)
    if draw(st.booleans()):
        data[draw(st.sampled_from(["task", "model", "training"]))] = draw(json_values)
    return data


FLAT_KEYS = sorted(DEFAULT.values()) + ["layer.units", "layer4.units", "layer5.units",
                                        "model.num_layers", "preset", "task.path"]
query_keys = st.one_of(st.sampled_from(FLAT_KEYS), st.sampled_from(HOSTILE_TEXT),
                       st.text(max_size=20))
query_texts = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=40), HUGE_TEXT,
                        st.sampled_from(["64", "-1", "1e400", "nan", "inf", "0x10", "1_000",
                                         "true", "None", "null", "[]", "{}",
                                         '{"class_name": "Lambda"}', "orthogonal",
                                         "glorot_uniform(seed=3)", "l1_l2(l1=0.1,l2=0.2)",
                                         "max_norm(max_value=2)", "gru", "recall", "tokens"]),
                        st.integers().map(str), st.floats().map(repr))
queries = st.dictionaries(query_keys, st.one_of(query_texts, st.lists(query_texts,
                                                                      max_size=3)),
                          max_size=8)


# --- configs: only ConfigError, never anything else ---------------------------------------


@FAST
@given(data=st.one_of(mutated_configs(), json_values))
def test_from_dict_raises_only_config_errors(data):
    try:
        config = ExperimentConfig.from_dict(data)
    except ConfigError as error:
        assert error.field and len(error.field) < 200 and str(error)
    else:
        assert ExperimentConfig.from_dict(config.to_dict()) == config


@FAST
@given(text=st.one_of(st.text(max_size=200), mutated_configs().map(json.dumps),
                      json_values.map(json.dumps),
                      st.sampled_from(["[" * 100_000, "{" * 50_000, '{"task":' * 20_000,
                                       "\x00", "NaN", "1e999999", "9" * 5000, '"' + "x" * 100_000]),
                      st.binary(max_size=100)))
def test_from_json_raises_only_config_errors(text):
    try:
        ExperimentConfig.from_json(text)
    except ConfigError as error:
        assert error.field


@FAST
@given(query=queries)
def test_share_links_never_raise(query):
    config, problems = ExperimentConfig.from_query(query)
    assert isinstance(config, ExperimentConfig)
    assert all(isinstance(problem, ConfigError) for problem in problems)
    config, preset, messages = config_from_link(query)
    assert isinstance(config, ExperimentConfig)
    assert config.task["path"] == ""  # a link never names a file on the server
    if "task.path" in query:
        assert any("task.path" in message for message in messages)


# --- building a surviving config: nothing outside the allow-list ---------------------------

ALLOWED_LAYERS = {"Embedding", "LSTM", "GRU", "SimpleRNN", "Dense"}
ALLOWED_CALLS = {
    "initializers": set(params.INITIALIZERS),
    "regularizers": set(params.REGULARIZERS),
    "constraints": set(params.CONSTRAINTS),
    "optimizers": set(model_module.OPTIMIZERS.values()),
}
ALLOWED_IDENTIFIERS = {name for catalog in params.CATALOGS.values() for spec in catalog.values()
                       for name in (spec.class_name, spec.identifier)}
SAFE_MODULES = ("keras", "tensorflow", "numpy", "ml_dtypes", "h5py", "absl", "google", "optree")


class Spy:
    """Records what a model build creates, imports, deserializes, evaluates and opens."""

    def __init__(self, monkeypatch):
        self.calls, self.layers, self.imports, self.deserialized = [], [], [], []
        self.evaluated, self.opened = [], []
        create_call, create_layer = model_module.KerasCall.create, model_module.LayerPlan.create

        def call(this):
            self.calls.append((this.module, this.class_name))
            return create_call(this)

        def layer(this):
            self.layers.append(this.class_name)
            return create_layer(this)

        from keras.src.saving import serialization_lib
        deserialize = serialization_lib.deserialize_keras_object

        def deserialized(config, *args, **kwargs):
            self.deserialized.append(config)
            return deserialize(config, *args, **kwargs)

        import_module = importlib.import_module

        def imported(name, *args, **kwargs):
            self.imports.append(name)
            return import_module(name, *args, **kwargs)

        def recorder(store, original):
            def record(*args, **kwargs):
                store.append(args[0] if args else kwargs)
                return original(*args, **kwargs)
            return record

        monkeypatch.setattr(model_module.KerasCall, "create", call)
        monkeypatch.setattr(model_module.LayerPlan, "create", layer)
        monkeypatch.setattr(serialization_lib, "deserialize_keras_object", deserialized)
        monkeypatch.setattr(importlib, "import_module", imported)
        monkeypatch.setattr(builtins, "eval", recorder(self.evaluated, builtins.eval))
        monkeypatch.setattr(builtins, "exec", recorder(self.evaluated, builtins.exec))
        monkeypatch.setattr(builtins, "open", recorder(self.opened, builtins.open))
        monkeypatch.setattr(io, "open", recorder(self.opened, io.open))
        monkeypatch.setattr(os, "open", recorder(self.opened, os.open))

    def check(self):
        for module, class_name in self.calls:
            assert class_name in ALLOWED_CALLS[module], (module, class_name)
        assert set(self.layers) <= ALLOWED_LAYERS, self.layers
        for name in self.imports:
            assert name.startswith(SAFE_MODULES), name
        for config in self.deserialized:
            name = config if isinstance(config, str) else (config or {}).get("class_name")
            assert name in ALLOWED_IDENTIFIERS, config
            if isinstance(config, dict):
                assert config.get("module") in (None, "keras.initializers", "keras.regularizers",
                                                "keras.constraints"), config
        assert self.evaluated == [], self.evaluated
        assert self.opened == [], self.opened


@pytest.fixture(scope="module", autouse=True)
def _warm_keras():
    """Build once before spying, so Keras's own lazy imports are done."""
    model_module.build(DEFAULT)


IDENTIFIER_KEYS = [f"layer1.{name}" for name, param in params.section_params("layer").items()
                   if param.kind in params.CATALOGS]
identifier_texts = st.one_of(
    st.sampled_from(sorted(ALLOWED_IDENTIFIERS)),
    st.sampled_from([f"{spec.identifier}({arg.name}={value})"
                     for catalog in params.CATALOGS.values() for spec in catalog.values()
                     for arg in spec.args for value in ("0.5", "2", "-1", "1e9", "nan")]),
    st.sampled_from(HOSTILE_TEXT))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query=st.one_of(queries, st.dictionaries(st.sampled_from(IDENTIFIER_KEYS),
                                                identifier_texts, min_size=1, max_size=4)),
       data=mutated_configs())
def test_a_surviving_config_builds_only_allow_listed_objects_and_opens_nothing(
        monkeypatch, query, data):
    with monkeypatch.context() as patch:
        spy = Spy(patch)
        configs = [config_from_link(query)[0], ExperimentConfig.from_query(query)[0]]
        try:
            configs.append(ExperimentConfig.from_dict(data))
        except ConfigError:
            pass
        for config in configs:
            try:
                model_module.build(config, gpu_present=False)
            except ConfigError:
                pass  # e.g. use_cudnn=True without a GPU: named, nothing built
    spy.check()


def test_the_spy_sees_a_forbidden_class(monkeypatch):
    """The spy is not blind: a class outside the allow-list is caught."""
    with monkeypatch.context() as patch:
        spy = Spy(patch)
        model_module.KerasCall("layers", "Lambda", {"function": abs})
        model_module.LayerPlan("Lambda", {"function": abs}).create()
    with pytest.raises(AssertionError):
        spy.check()


# --- uploads --------------------------------------------------------------------------------


def test_oversized_and_binary_uploads_get_a_clear_message():
    too_big = b"1\n" * (tasks.MAX_CSV_BYTES // 2 + 1)
    with pytest.raises(ConfigError, match="more than the limit of 5 MB"):
        tasks.read_csv_series(too_big)
    with pytest.raises(ConfigError, match="binary file"):
        tasks.read_csv_series(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    with pytest.raises(ConfigError, match="zip archive"):
        tasks.read_csv_series(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ConfigError, match="UTF-8"):
        tasks.read_csv_series(b"\xff\xd8\xff\xe0JFIF")


@FAST
@given(content=st.one_of(st.binary(max_size=2000), st.text(max_size=2000)),
       column=st.one_of(st.just(""), st.text(max_size=10), st.sampled_from(["0", "9", "-1"])))
def test_any_upload_reads_or_fails_with_a_config_error(content, column):
    try:
        series = tasks.read_csv_series(content, column)
    except ConfigError as error:
        assert error.field in ("task.csv", "task.column")
    else:
        assert series.values.ndim == 1


# --- isolation ------------------------------------------------------------------------------


def test_two_sessions_share_the_queue_but_nothing_else():
    queue = JobQueue(max_running=1)
    first, second = ExplorerSession(), ExplorerSession()
    first.config = DEFAULT.with_values({"layer1.units": 5, "task.seq_len": 6,
                                        "task.n_samples": 48, "training.epochs": 1})
    first.job = queue.submit(first.config)
    first.job.wait(timeout=300)
    assert first.collect() is not None and second.collect() is None
    assert second.runs == [] and second.job is None and second.config == DEFAULT
    assert first.runs[0].result.model is not None
    second.config = DEFAULT.with_values({"layer1.units": 9})
    assert first.config.model["layers"][0]["units"] == 5
    assert first.notices == second.notices == []
    assert first.cache is not second.cache and first.runs is not second.runs


# --- grep tests over the code ---------------------------------------------------------------

CODE = [*sorted((ROOT / "lstm_explorer").rglob("*.py")), *sorted((ROOT / "pages").glob("*.py")),
        ROOT / "app.py"]


def _names_called(path: Path) -> list[tuple[str, int]]:
    """(name, line) of every call in a file: `f(...)`, `a.b.f(...)`; never comments or
    strings."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found.append((name, node.lineno))
    return found


def test_no_code_calls_clear_session():
    """`keras.backend.clear_session()` is global to the process (DESIGN §4)."""
    callers = [f"{path.relative_to(ROOT)}:{line}" for path in CODE
               for name, line in _names_called(path) if name == "clear_session"]
    assert callers == []
    # Not even a reference to it outside comments and strings (a getattr, an alias...).
    for path in CODE:
        with path.open("rb") as file:
            names = [token.string for token in tokenize.tokenize(file.readline)
                     if token.type == tokenize.NAME]
        assert "clear_session" not in names, path


def test_keras_files_are_loaded_only_in_safe_mode():
    """Uploaded `.keras` models are not supported (README); any load must be safe."""
    loaders = {"load_model", "load_weights", "deserialize_keras_object", "from_config",
               "model_from_json"}
    for path in CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in loaders:
                continue
            safe = [keyword for keyword in node.keywords if keyword.arg == "safe_mode"
                    and isinstance(keyword.value, ast.Constant) and keyword.value.value is True]
            assert name == "load_model" and safe, (
                f"{path.relative_to(ROOT)}:{node.lineno} calls {name} without "
                "safe_mode=True")
