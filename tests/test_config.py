"""ExperimentConfig: defaults, exact round trips, share-link keys and field-named errors."""

import json

import pytest

from lstm_explorer import params, presets
from lstm_explorer.config import ExperimentConfig, format_text, param_for_key, parse_text
from lstm_explorer.errors import ConfigError


def non_default_value(param):
    """A valid value different from the default, for every kind in the registry."""
    if param.kind == params.INT:
        return int(param.default or 0) + 1 if param.name != "units" else 7
    if param.kind == params.FLOAT:
        return 0.25 if param.default in (None, 0.0) else param.default / 2
    if param.kind == params.BOOL:
        return not param.default
    if param.kind in (params.CHOICE, params.ACTIVATION):
        return next(choice for choice in param.choices if choice != param.default)
    if param.kind == params.INITIALIZER and param.name == "bias_initializer":
        return {"class_name": "RandomNormal", "config": {"mean": 0.5, "stddev": 0.1, "seed": 3}}
    if param.kind == params.INITIALIZER:
        return {"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 3}}
    if param.kind == params.REGULARIZER:
        return {"class_name": "L1L2", "config": {"l1": 0.001, "l2": 0.01}}
    if param.kind == params.CONSTRAINT:
        return {"class_name": "MaxNorm", "config": {"max_value": 3.0, "axis": 0}}
    raise AssertionError(param.kind)


# Values that the per-entry round trip cannot use alone because they need a partner.
COMBINATION_NEEDED = {"return_sequences", "use_cudnn", "unroll"}


def test_an_empty_dict_gives_the_documented_defaults():
    config = ExperimentConfig.from_dict({})
    assert config.task["name"] == "adding" and config.task["seq_len"] == 20
    assert config.model["cell"] == "lstm" and config.model["embedding"] is None
    assert config.model["layers"][0]["units"] == 32
    assert config.training == {**params.defaults("training")}


def test_the_design_doc_example_config_is_accepted_as_written():
    # DESIGN §3's example, written before the defaults changed (issue 16): the old
    # default, now the preset "vanishing_adding".
    example = {
        "task": {"name": "adding", "seq_len": 50, "n_samples": 2000, "seed": 0},
        "model": {"cell": "lstm", "embedding": None, "bidirectional": False,
                  "layers": [{"units": 32}]},
        "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 64,
                     "epochs": 10, "clipnorm": None, "validation_split": 0.2, "seed": 0},
    }
    config = ExperimentConfig.from_dict(example)
    for section in ("task", "training"):
        assert getattr(config, section).items() >= example[section].items()
    assert config.model["layers"][0]["units"] == 32
    assert config == presets.get("vanishing_adding").build()


@pytest.mark.parametrize("param", [param for param in params.LAYER_PARAMS
                                   if param.name not in COMBINATION_NEEDED],
                         ids=lambda param: param.name)
def test_every_layer_argument_round_trips_through_dict_json_and_share_link(param):
    value = non_default_value(param)
    config = ExperimentConfig.from_dict({"model": {"layers": [{param.name: value}]}})
    assert config.model["layers"][0][param.name] == value
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    assert ExperimentConfig.from_json(config.to_json()) == config
    restored, problems = ExperimentConfig.from_query(config.to_query())
    assert problems == []
    assert restored == config
    assert f"layer1.{param.name}" in config.to_query()


@pytest.mark.parametrize("param", [param for param in params.TASK_PARAMS + params.TRAINING_PARAMS
                                   if param.name not in ("name", "loss", "column", "path")],
                         ids=lambda param: param.path)
def test_every_task_and_training_value_round_trips_through_share_link(param):
    value = non_default_value(param)
    if param.path == "training.clipvalue":
        value = 0.5
    config = ExperimentConfig.from_dict({param.section: {param.name: value}})
    restored, problems = ExperimentConfig.from_query(config.to_query())
    assert problems == [] and restored == config
    assert config.to_query() == {param.path: format_text(param, value)}


def test_identifier_names_are_normalized_to_keras_snake_case():
    config = ExperimentConfig.from_dict(
        {"model": {"layers": [{"kernel_initializer": "HeNormal", "kernel_regularizer": "l2"}]}})
    layer = config.model["layers"][0]
    assert layer["kernel_initializer"] == "he_normal"
    assert layer["kernel_regularizer"] == "l2"


def test_keras_serialized_identifier_dicts_are_accepted_and_filled_with_defaults():
    value = {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l2": 0.5},
             "registered_name": None}
    config = ExperimentConfig.from_dict({"model": {"layers": [{"bias_regularizer": value}]}})
    assert config.model["layers"][0]["bias_regularizer"] == {
        "class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.5}}


def test_a_regularizer_serialized_by_keras_keeps_its_values_even_where_they_are_zero():
    import keras

    value = keras.regularizers.serialize(keras.regularizers.L1L2(l2=0.5))
    config = ExperimentConfig.from_dict({"model": {"layers": [{"bias_regularizer": value}]}})
    assert config.model["layers"][0]["bias_regularizer"] == {
        "class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.5}}


@pytest.mark.parametrize("data,field,fragment", [
    ({"training": {"epochs": 0}}, "training.epochs", "from 1 to 1000"),
    ({"training": {"epochs": True}}, "training.epochs", "integer"),
    ({"training": {"learning_rate": float("nan")}}, "training.learning_rate", "finite"),
    ({"training": {"optimizer": "lion"}}, "training.optimizer", "adam, sgd"),
    ({"model": {"layers": [{"units": -3}]}}, "model.layers[0].units", "from 1 to 1024"),
    ({"model": {"layers": [{"activation": "softmax"}]}}, "model.layers[0].activation", "tanh"),
    ({"model": {"layers": [{"kernel_initializer": "os.system"}]}},
     "model.layers[0].kernel_initializer", "glorot_uniform"),
    ({"model": {"layers": [{"kernel_initializer": {"class_name": "Lambda", "config": {}}}]}},
     "model.layers[0].kernel_initializer.class_name", "not an allowed initializer"),
    ({"model": {"layers": [{"kernel_initializer": {"class_name": "Orthogonal",
                                                   "module": "os", "config": {}}}]}},
     "model.layers[0].kernel_initializer.module", "keras.initializers"),
    ({"model": {"layers": [{"kernel_constraint": {"class_name": "MaxNorm",
                                                  "config": {"max_value": 1, "evil": 2}}}]}},
     "model.layers[0].kernel_constraint.config.evil", "unknown key"),
    ({"model": {"layers": [{"unitz": 3}]}}, "model.layers[0].unitz", "unknown key"),
    ({"model": {"layers": []}}, "model.layers", "1 to 4 layers"),
    ({"model": {"cell": "transformer"}}, "model.cell", "lstm, gru, simple_rnn"),
    ({"tasks": {}}, "tasks", "unknown key"),
    ({"task": {"name": "recall", "lag": 50, "seq_len": 50}}, "task.lag", "smaller than"),
    ({"task": {"name": "tokens"}}, "model.embedding", "Embedding"),
    ({"model": {"embedding": {"output_dim": 8}}}, "model.embedding", "token ids"),
    ({"model": {"layers": [{"return_sequences": True}]}},
     "model.layers[0].return_sequences", "one target per sequence"),
    ({"model": {"layers": [{"use_cudnn": True, "activation": "relu"}]}},
     "model.layers[0].use_cudnn", "activation='relu'"),
    ({"task": {"seq_len": 500}, "model": {"layers": [{"unroll": True}]}},
     "model.layers[0].unroll", "200 steps"),
    ({"training": {"loss": "binary_crossentropy"}}, "training.loss", "mse"),
    ({"training": {"clipnorm": 1.0, "clipvalue": 1.0}}, "training.clipvalue", "only one"),
    ({"model": {"layers": [{"stateful": True}]}, "training": {"batch_size": 4000}},
     "training.batch_size", "stateful"),
    ({"model": {"layers": [{"kernel_initializer": {"class_name": "RandomUniform",
                                                   "config": {"minval": 1, "maxval": 0}}}]}},
     "model.layers[0].kernel_initializer.config.minval", "must not exceed"),
    ({"model": {"layers": [{"kernel_initializer": {"class_name": "VarianceScaling",
                                                   "config": {"scale": 0.0}}}]}},
     "model.layers[0].kernel_initializer.config.scale", "must be above 0"),
    ([], "config", "expected an object"),
    ({"model": {"layers": [{"bias_initializer": "orthogonal"}]}},
     "model.layers[0].bias_initializer", "the bias is a vector"),
    ({"model": {"layers": [{"bias_constraint": {"class_name": "UnitNorm",
                                                "config": {"axis": 1}}}]}},
     "model.layers[0].bias_constraint.config.axis", "only axis 0"),
    ({"training": {"validation_split": 0.9}}, "training.validation_split", "from 0.0 to 0.8"),
    # Combinations Keras refuses or fails on (tests/test_combinations.py finds them).
    ({"model": {"bidirectional": True, "layers": [{"units": 2}, {"go_backwards": True}]}},
     "model.layers[1].go_backwards", "turn off go_backwards or model.bidirectional"),
    ({"model": {"bidirectional": True, "layers": [{"stateful": True, "return_state": True}]},
      "training": {"batch_size": 8}},
     "model.layers[0].return_state", "turn off return_state, stateful or model.bidirectional"),
    ({"task": {"name": "sine"}, "model": {"layers": [
        {"activity_regularizer": "orthogonal_regularizer", "return_sequences": True}]}},
     "model.layers[0].activity_regularizer", "as return_sequences is true"),
    ({"model": {"layers": [{"activity_regularizer": "orthogonal_regularizer", "stateful": True},
                           {"units": 2}]}, "training": {"batch_size": 8}},
     "model.layers[0].activity_regularizer", "as it feeds the next layer"),
    ({"model": {"layers": [{"activity_regularizer": "orthogonal_regularizer"}]}},
     "model.layers[0].activity_regularizer", "only when the batch size is fixed"),
    ({"task": {"name": "sine"}, "model": {"layers": [
        {"units": 2, "kernel_regularizer": "orthogonal_regularizer"}]}},
     "model.layers[0].kernel_regularizer", "the kernel W, which is 1×8 here"),
    ({"model": {"cell": "gru", "layers": [
        {"units": 1, "recurrent_regularizer": "orthogonal_regularizer"}]}},
     "model.layers[0].recurrent_regularizer", "the recurrent kernel U, which is 1×3 here"),
    ({"model": {"layers": [{"units": 1, "activity_regularizer": {
        "class_name": "OrthogonalRegularizer", "config": {"mode": "columns"}}}]},
      "training": {"batch_size": 8}},
     "model.layers[0].activity_regularizer", "the output, which is 8×1 here"),
    ({"model": {"layers": [{"units": 2, "stateful": True,
                            "activity_regularizer": "orthogonal_regularizer"}]},
      "training": {"batch_size": 1}},
     "model.layers[0].activity_regularizer", "NaN from the first step; use mode 'columns'"),
])
def test_bad_values_raise_an_error_naming_the_field_the_value_and_the_fix(data, field, fragment):
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.from_dict(data)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(field + "=")


def test_invalid_json_text_is_reported_as_a_config_error():
    with pytest.raises(ConfigError, match="not valid JSON"):
        ExperimentConfig.from_json("{'task': ")


def test_stacking_sets_return_sequences_on_every_layer_but_the_last_and_says_so():
    config = ExperimentConfig.from_dict({"model": {"layers": [{"units": 8}, {"units": 4}]}})
    assert [layer["return_sequences"] for layer in config.model["layers"]] == [True, False]
    assert any("layer1.return_sequences is True" in note for note in config.notes())


def test_shrinking_the_stack_clears_the_return_sequences_that_stacking_set():
    stacked = ExperimentConfig.default().with_values({"model.num_layers": 2})
    single = stacked.with_values({"model.num_layers": 1})
    assert single.model["layers"][0]["return_sequences"] is False


def test_settings_that_mean_nothing_for_the_cell_are_kept_and_noted():
    config = ExperimentConfig.from_dict(
        {"model": {"cell": "gru", "layers": [{"unit_forget_bias": False}]}})
    assert config.model["layers"][0]["unit_forget_bias"] is False
    assert any("unit_forget_bias has no effect on a gru" in note for note in config.notes())


def test_share_link_holds_only_what_differs_from_the_defaults():
    assert ExperimentConfig.default().to_query() == {}
    config = ExperimentConfig.default().with_values(
        {"task.name": "recall", "task.lag": 15, "layer1.units": 64, "model.num_layers": 2})
    assert config.to_query() == {"task.name": "recall", "task.lag": "15",
                                 "model.num_layers": "2", "layer1.units": "64"}


def test_a_hostile_share_link_keeps_the_good_keys_and_reports_each_bad_one():
    query = {"layer1.units": "16", "layer1.kernel_initializer": "__import__('os')",
             "training.epochs": "1e9", "x" * 300: "1", "layer9.units": "3",
             "training.learning_rate": "nan"}
    config, problems = ExperimentConfig.from_query(query)
    assert config.model["layers"][0]["units"] == 16
    assert config.model["layers"][0]["kernel_initializer"] == "glorot_uniform"
    assert config.training["epochs"] == 10
    assert len(problems) == 5
    assert all(isinstance(problem, ConfigError) for problem in problems)


def test_a_share_link_whose_values_clash_falls_back_to_defaults_with_a_message():
    config, problems = ExperimentConfig.from_query(
        {"task.name": "recall", "task.lag": "40", "task.seq_len": "20"})
    assert config == ExperimentConfig.default()
    assert problems and problems[-1].field == "task.lag"


def test_identifier_text_form_reads_back_what_it_writes():
    param = param_for_key("layer1.recurrent_initializer")
    value = {"class_name": "VarianceScaling",
             "config": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"}}
    text = format_text(param, value)
    assert text == "variance_scaling(scale=2.0,mode=fan_avg,distribution=uniform)"
    config = ExperimentConfig.default().with_values({"layer1.recurrent_initializer":
                                                     parse_text(param, text)})
    assert config.model["layers"][0]["recurrent_initializer"] == value


def test_to_json_is_plain_json_with_the_three_sections():
    data = json.loads(ExperimentConfig.default().to_json())
    assert list(data) == ["task", "model", "training"]
    assert list(data["model"]) == ["cell", "bidirectional", "merge_mode", "embedding", "layers"]
