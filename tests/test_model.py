"""The model builder: every registry value reaches Keras, and the summary tells the truth."""

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstm_explorer import model as model_module
from lstm_explorer import params
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from tests.test_config import COMBINATION_NEEDED, non_default_value

SMALL_TASK = {"seq_len": 6, "n_samples": 32}


def small(**sections):
    data = {"task": dict(SMALL_TASK), "training": {"epochs": 1, "batch_size": 8}}
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return ExperimentConfig.from_dict(data)


def recurrent(model, index=0):
    return model_module.recurrent_layers(model)[index]


def assert_keras_shows(keras_value, value):
    """A registry value equals what Keras's get_config reports for it."""
    if isinstance(value, dict):
        assert keras_value["class_name"] == value["class_name"]
        for name, argument in value["config"].items():
            assert keras_value["config"][name] == argument
    elif isinstance(keras_value, dict):
        assert params.identifier_class("initializer", value) or params.identifier_class(
            "regularizer", value) or params.identifier_class("constraint", value)
        spec = next(catalog[keras_value["class_name"]] for catalog in params.CATALOGS.values()
                    if keras_value["class_name"] in catalog)
        assert spec.identifier == value
    else:
        assert keras_value == value


@pytest.mark.parametrize("param", [param for param in params.LAYER_PARAMS
                                   if param.name not in COMBINATION_NEEDED | {"use_cudnn"}],
                         ids=lambda param: param.name)
def test_every_layer_argument_reaches_the_keras_layer_config(param):
    value = non_default_value(param)
    config = small(model={"layers": [{param.name: value}]})
    layer = recurrent(model_module.build(config))
    assert_keras_shows(layer.get_config()[param.name], value)


def test_stacking_sets_return_sequences_and_unroll_reaches_keras():
    config = small(model={"layers": [{"units": 4, "unroll": True}, {"units": 3}]})
    built = model_module.build(config)
    first, second = recurrent(built, 0), recurrent(built, 1)
    assert first.get_config()["return_sequences"] is True
    assert first.get_config()["unroll"] is True
    assert second.get_config()["return_sequences"] is False
    assert built.output_shape == (None, 1)


def test_use_cudnn_reaches_the_layer_and_true_is_refused_without_a_gpu():
    layer = recurrent(model_module.build(small(model={"layers": [{"use_cudnn": False}]})))
    assert layer.use_cudnn is False
    with pytest.raises(ConfigError, match="no GPU is visible"):
        model_module.build(small(model={"layers": [{"use_cudnn": True}]}), gpu_present=False)


@pytest.mark.parametrize("cell,keras_class", [("gru", keras.layers.GRU),
                                              ("simple_rnn", keras.layers.SimpleRNN)])
def test_baseline_cells_build_without_the_lstm_only_arguments(cell, keras_class):
    config = small(model={"cell": cell, "layers": [{"unit_forget_bias": False, "units": 5}]})
    layer = recurrent(model_module.build(config))
    assert isinstance(layer, keras_class) and layer.units == 5


def test_identical_seeds_give_identical_weights_and_other_seeds_do_not():
    first = model_module.build(small()).get_weights()
    again = model_module.build(small()).get_weights()
    other = model_module.build(small(training={"seed": 1})).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_a_stateful_layer_gets_a_fixed_batch_shape():
    built = model_module.build(small(model={"layers": [{"stateful": True}]},
                                     training={"batch_size": 4}))
    assert built.inputs[0].shape == (4, 6, 2)


def test_return_state_keeps_the_chain_and_its_states_are_reachable():
    config = small(model={"layers": [{"units": 3, "return_state": True}]})
    built = model_module.build(config)
    states = model_module.state_model(built)
    x = np.random.default_rng(0).random((2, 6, 2)).astype("float32")
    h, c = states(x)
    _, keras_h, keras_c = recurrent(built)(x)
    np.testing.assert_allclose(h, keras_h, atol=1e-6)
    np.testing.assert_allclose(c, keras_c, atol=1e-6)
    assert built.output_shape == (None, 1)


def test_embedding_front_reads_token_ids_for_the_tokens_task():
    config = small(task={"name": "tokens", "vocab_size": 30},
                   model={"embedding": {"output_dim": 8}})
    built = model_module.build(config)
    assert built.get_layer("embedding").input_dim == 30
    assert built.output_shape == (None, 1)


@pytest.mark.parametrize("layers,cell,bidirectional", [
    ([{"units": 5}], "lstm", False),
    ([{"units": 5, "use_bias": False}], "lstm", False),
    ([{"units": 4}, {"units": 3}], "lstm", True),
    ([{"units": 5}], "gru", False),
    ([{"units": 5, "use_bias": False}], "gru", False),
    ([{"units": 5}], "simple_rnn", False),
])
def test_described_parameter_counts_match_keras_and_the_formula(layers, cell, bidirectional):
    config = small(model={"layers": layers, "cell": cell, "bidirectional": bidirectional})
    built = model_module.build(config)
    rows = model_module.describe(built)
    assert sum(row["params"] for row in rows) == built.count_params()
    for row in rows:
        if row["formula"]:
            result = int(row["formula"].rsplit("= ", 1)[1].rstrip(")"))
            factor = 2 if bidirectional else 1
            assert result * factor == row["params"], row


def test_cudnn_verdict_names_each_setting_that_prevents_the_fused_kernel():
    config = small(model={"layers": [{"recurrent_dropout": 0.2, "unroll": True},
                                     {"use_bias": False}]})
    verdict = model_module.cudnn_eligible(config, gpu_present=True)
    assert not verdict.eligible
    assert verdict.reasons == ("layer1: recurrent_dropout=0.2 (cuDNN needs 0)",
                               "layer1: unroll=True (cuDNN needs False)",
                               "layer2: use_bias=False (cuDNN needs True)")
    assert model_module.cudnn_eligible(small(), gpu_present=True).eligible
    cpu = model_module.cudnn_eligible(small(), gpu_present=False)
    assert not cpu.eligible and "no GPU" in cpu.reasons[0]


def test_the_device_label_says_cpu_when_no_gpu_is_visible():
    assert model_module.device_label() == "CPU (no GPU visible)"


# --- hypothesis: any config either trains a step or fails with a field-named error -----

_layer_values = st.fixed_dictionaries({}, optional={
    "units": st.integers(-2, 12),
    "activation": st.sampled_from(params.ACTIVATIONS + ("softmax", "nope")),
    "recurrent_activation": st.sampled_from(("sigmoid", "hard_sigmoid", "tanh", "relu")),
    "use_bias": st.booleans(),
    "unit_forget_bias": st.booleans(),
    "dropout": st.one_of(st.floats(-0.1, 1.0), st.just(float("nan"))),
    "recurrent_dropout": st.floats(0, 0.9),
    "go_backwards": st.booleans(),
    "return_state": st.booleans(),
    "return_sequences": st.booleans(),
    "stateful": st.booleans(),
    "unroll": st.booleans(),
    "use_cudnn": st.sampled_from(("auto", True, False, "yes")),
    "kernel_initializer": st.sampled_from(
        [spec.identifier for spec in params.INITIALIZERS.values()] + ["Lambda", 3]),
    "recurrent_regularizer": st.sampled_from(
        [None, "l2", {"class_name": "L1L2", "config": {"l1": 0.01}}, {"class_name": "Eval"}]),
    "kernel_constraint": st.sampled_from([None, "non_neg", "max_norm", "unit_norm"]),
})

_configs = st.fixed_dictionaries({
    "task": st.fixed_dictionaries({
        "name": st.sampled_from(("adding", "recall", "sine", "tokens")),
        "seq_len": st.integers(1, 8),
        "n_samples": st.integers(10, 40),
    }, optional={"lag": st.integers(0, 9)}),
    "model": st.fixed_dictionaries({
        "cell": st.sampled_from(params.CELLS),
        "layers": st.lists(_layer_values, min_size=1, max_size=2),
    }, optional={"bidirectional": st.booleans(),
                 "embedding": st.sampled_from([None, {"output_dim": 4}])}),
    "training": st.fixed_dictionaries({"epochs": st.just(1), "batch_size": st.integers(1, 16)},
                                      optional={"optimizer": st.sampled_from(
                                          ("adam", "sgd", "rmsprop", "adamw", "adagrad")),
                                          "clipnorm": st.sampled_from([None, 1.0])}),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_configs)
def test_any_config_either_trains_one_step_or_fails_with_a_field_named_error(data):
    try:
        config = ExperimentConfig.from_dict(data)
        built = model_module.build(config, gpu_present=False)
        from lstm_explorer import tasks

        task_data = tasks.make(config.task, per_step_targets=config.per_step_targets)
    except ConfigError as error:
        assert "=" in str(error) and error.field
        return
    batch = config.training["batch_size"]
    x, y = task_data.x_train[:batch], task_data.y_train[:batch]
    if built.inputs[0].shape[0] is not None:  # stateful: exactly one full batch
        if len(task_data.x_train) < batch:
            return
        x, y = task_data.x_train[:batch], task_data.y_train[:batch]
    logs = built.train_on_batch(x, y, return_dict=True)
    assert "loss" in logs
