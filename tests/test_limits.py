"""Per-session limits: read from the environment, checked before training, with clear
messages; the parameter count and the memory estimate behind them; TF thread pools."""

from __future__ import annotations

import pytest

from lstm_explorer import lab, limits, presets, tasks
from lstm_explorer import model as model_module
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.limits import ENV_NAMES, Limits, check, count_params, estimate

DEFAULTS = Limits()


def test_every_limit_has_one_documented_variable():
    fields = [field.name for field in limits.dataclasses.fields(Limits)]
    assert sorted(fields) == sorted(ENV_NAMES)
    for variable in ENV_NAMES.values():
        assert variable in limits.__doc__, variable


def test_limits_come_from_the_environment_and_bad_values_name_the_variable():
    environ = {"LSTM_EXPLORER_MAX_EPOCHS": "20", "LSTM_EXPLORER_MAX_UPLOAD_MB": "0.5",
               "LSTM_EXPLORER_SESSION_TIMEOUT": "90", "LSTM_EXPLORER_MAX_TRAININGS": " 3 "}
    configured = Limits.from_env(environ)
    assert (configured.max_epochs, configured.max_upload_mb, configured.session_timeout,
            configured.trainings) == (20, 0.5, 90.0, 3)
    assert configured.max_units == DEFAULTS.max_units  # unset: the default
    for text in ("-1", "0", "lots", "1.5", "nan"):
        with pytest.raises(ValueError, match="LSTM_EXPLORER_MAX_RUNS="):
            Limits.from_env({"LSTM_EXPLORER_MAX_RUNS": text})
    with pytest.raises(ValueError, match="at most 5, the CSV reader's own cap"):
        Limits.from_env({"LSTM_EXPLORER_MAX_UPLOAD_MB": "50"})
    assert Limits.from_env({}).trainings >= 1


def test_presets_and_lab_experiments_fit_the_default_limits():
    configs = [preset.build() for preset in presets.PRESETS]
    configs += [config for experiment in lab.EXPERIMENTS for _, config in experiment.configs()]
    for config in configs:
        assert check(config, DEFAULTS) == [], config.to_query()


@pytest.mark.parametrize(("values", "name", "field", "variable"), [
    ({"layer1.units": 600}, "units", "layer.units", "LSTM_EXPLORER_MAX_UNITS"),
    ({"model.num_layers": 4, "layer.units": 200}, "units", "layer.units",
     "LSTM_EXPLORER_MAX_UNITS"),
    ({"layer1.units": 300, "model.bidirectional": True}, "units", "layer.units",
     "LSTM_EXPLORER_MAX_UNITS"),
    ({"task.name": "tokens", "model.embedding": {"output_dim": 512, "input_dim": 2000}},
     "params", "layer.units", "LSTM_EXPLORER_MAX_PARAMS"),
    ({"task.seq_len": 501}, "seq_len", "task.seq_len", "LSTM_EXPLORER_MAX_SEQ_LEN"),
    ({"task.n_samples": 20001}, "samples", "task.n_samples", "LSTM_EXPLORER_MAX_SAMPLES"),
    ({"training.epochs": 101}, "epochs", "training.epochs", "LSTM_EXPLORER_MAX_EPOCHS"),
    ({"training.batch_size": 4096, "layer1.units": 256, "task.seq_len": 200}, "training_mb",
     "memory", "LSTM_EXPLORER_MAX_TRAINING_MB"),
    ({"training.epochs": 100, "layer1.units": 128, "task.seq_len": 100}, "run_mb", "memory",
     "LSTM_EXPLORER_MAX_RUN_MB"),
])
def test_each_limit_is_named_with_its_value_and_how_to_raise_it(values, name, field,
                                                               variable):
    config = ExperimentConfig.default().with_values(values)
    problems = {problem.name: problem for problem in check(config, DEFAULTS)}
    assert name in problems, [p.text for p in problems.values()]
    problem = problems[name]
    assert problem.field == field and problem.variable == variable
    assert problem.value > problem.maximum
    text = problem.text
    assert field in text and variable in text and "at most" in text
    assert f"{problem.maximum:,.0f}" in text


def test_memory_messages_say_what_to_lower():
    config = ExperimentConfig.default().with_values(
        {"training.batch_size": 4096, "layer1.units": 256, "task.seq_len": 200})
    (problem,) = [p for p in check(config, DEFAULTS) if p.name == "training_mb"]
    assert "activations of one batch" in problem.text and "smaller batch size" in problem.text
    assert problem.unit == " MB"


def test_a_raised_limit_lets_the_config_train():
    config = ExperimentConfig.default().with_values({"training.epochs": 150})
    assert any(p.name == "epochs" for p in check(config, DEFAULTS))
    raised = Limits.from_env({"LSTM_EXPLORER_MAX_EPOCHS": "200",
                              "LSTM_EXPLORER_MAX_RUN_MB": "100"})
    assert check(config, raised) == []


def test_uploads_over_the_limit_get_a_message_with_the_size_and_the_variable():
    assert limits.check_upload(1000, DEFAULTS) is None
    problem = limits.check_upload(3 * 2**20, DEFAULTS)
    assert problem is not None
    assert "3 MB" in problem.text and "at most 2 MB" in problem.text
    assert "LSTM_EXPLORER_MAX_UPLOAD_MB" in problem.text
    assert DEFAULTS.upload_bytes <= tasks.MAX_CSV_BYTES


@pytest.mark.parametrize("values", [
    {},
    {"model.cell": "gru", "layer1.units": 7},
    {"model.cell": "simple_rnn", "model.num_layers": 2, "layer2.units": 3},
    {"model.bidirectional": True, "model.merge_mode": "concat", "model.num_layers": 2},
    {"model.bidirectional": True, "model.merge_mode": "sum", "model.cell": "gru"},
    {"layer1.use_bias": False, "model.cell": "gru"},
    {"layer1.use_bias": False},
    {"task.name": "recall", "task.n_symbols": 5, "layer1.units": 6},
    {"task.name": "tokens", "model.embedding": {"output_dim": 9, "input_dim": None},
     "task.vocab_size": 30},
    {"task.name": "tokens", "model.embedding": {"output_dim": 4, "input_dim": 150},
     "model.bidirectional": True, "model.merge_mode": "ave"},
])
def test_the_parameter_count_matches_keras(values):
    config = ExperimentConfig.default().with_values(values)
    assert count_params(config) == model_module.build(config).count_params()


def test_the_estimate_grows_with_what_holds_memory():
    base = estimate(ExperimentConfig.default())
    bigger_batch = estimate(ExperimentConfig.default().with_values({"training.batch_size": 512}))
    more_epochs = estimate(ExperimentConfig.default().with_values({"training.epochs": 50}))
    more_samples = estimate(ExperimentConfig.default().with_values({"task.n_samples": 20000}))
    default_batch = ExperimentConfig.default().training["batch_size"]
    assert bigger_batch.activations == 512 // default_batch * base.activations
    assert bigger_batch.kept == base.kept  # activations are freed once training ends
    assert more_epochs.kept > base.kept and more_epochs.training > base.training
    assert more_samples.data == 10 * base.data
    stateful = estimate(ExperimentConfig.default().with_values(
        {"layer1.stateful": True, "training.batch_size": 32}))
    assert stateful.trace == 4 * base.trace  # a stateful probe is a whole batch


def test_thread_pools_share_the_cores_among_the_trainings_and_the_preparer():
    assert limits.thread_pools(2, 1) == (2, 2)
    assert limits.thread_pools(16, 8) == (2, 9)
    assert limits.thread_pools(16, 3) == (5, 4)
    assert limits.thread_pools(1, 4) == (1, 5)  # never zero threads
    assert limits.thread_pools(8, 0) == (8, 2)


def test_configure_threads_sets_the_pools_before_tensorflow_starts():
    import subprocess
    import sys

    script = ("from lstm_explorer import limits\n"
              "print(limits.configure_threads(limits.Limits(max_trainings=2)))\n"
              "print(limits.configure_threads())\n"  # once per process
              "import tensorflow as tf\n"
              "print(tf.config.threading.get_intra_op_parallelism_threads(),"
              " tf.config.threading.get_inter_op_parallelism_threads())\n")
    environment = {key: value for key, value in limits.os.environ.items()
                   if not key.startswith("TF_NUM_")}
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, env=environment, cwd=limits.os.path.dirname(
                                limits.os.path.dirname(limits.__file__))).stdout.split("\n")
    intra, inter = limits.thread_pools(limits.cores(), 2)
    assert output[:3] == [f"({intra}, {inter})", "None", f"{intra} {inter}"]
