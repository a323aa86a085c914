"""The exported script runs on its own and builds exactly the configured model."""

import runpy
import subprocess
import sys

import pytest

from lstm_explorer import codegen
from lstm_explorer import model as model_module
from lstm_explorer.config import ExperimentConfig

CONFIGS = {
    "default_small": {"task": {"seq_len": 6, "n_samples": 40}, "training": {"epochs": 1}},
    "recall_stacked_bidirectional": {
        "task": {"name": "recall", "seq_len": 8, "lag": 3, "n_samples": 40},
        "model": {"bidirectional": True, "merge_mode": "sum",
                  "layers": [{"units": 5, "kernel_regularizer": "l2"},
                             {"units": 3, "recurrent_initializer":
                              {"class_name": "RandomNormal", "config": {"stddev": 0.2}}}]},
        "training": {"epochs": 1, "optimizer": "rmsprop", "clipnorm": 1.0}},
    "tokens_gru": {
        "task": {"name": "tokens", "seq_len": 7, "n_samples": 40, "vocab_size": 20},
        "model": {"cell": "gru", "embedding": {"output_dim": 4},
                  "layers": [{"units": 3, "return_state": True}]},
        "training": {"epochs": 1}},
    "sine_stateful_per_step": {
        "task": {"name": "sine", "seq_len": 5, "n_samples": 48},
        "model": {"layers": [{"units": 3, "stateful": True, "return_sequences": True,
                              "go_backwards": True}]},
        "training": {"epochs": 1, "batch_size": 8}},
}


def layer_configs(model):
    return [layer.get_config() for layer in model.layers]


@pytest.mark.parametrize("name", CONFIGS)
def test_the_script_builds_the_same_layers_and_parameter_count_as_the_app(name, tmp_path):
    config = ExperimentConfig.from_dict(CONFIGS[name])
    path = tmp_path / "script.py"
    path.write_text(codegen.script(config))
    namespace = runpy.run_path(str(path), run_name="__main__")
    scripted = namespace["model"]
    built = model_module.build(config)
    assert layer_configs(scripted) == layer_configs(built)
    assert scripted.count_params() == built.count_params()
    assert scripted.loss == built.loss


def test_the_script_runs_standalone_without_lstm_explorer_installed(tmp_path):
    config = ExperimentConfig.from_dict(CONFIGS["default_small"])
    path = tmp_path / "script.py"
    path.write_text(codegen.script(config))
    completed = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True,
                               text=True, timeout=300,
                               env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "import lstm_explorer" not in path.read_text()
    assert "Total params" in completed.stdout


def test_a_csv_script_reads_the_configured_file(tmp_path):
    csv_path = tmp_path / "series.csv"
    csv_path.write_text("t,value\n" + "".join(f"{t},{(t % 7) * 0.5}\n" for t in range(60)))
    config = ExperimentConfig.from_dict({
        "task": {"name": "csv", "path": str(csv_path), "column": "value", "seq_len": 5},
        "model": {"layers": [{"units": 3}]}, "training": {"epochs": 1}})
    script_path = tmp_path / "script.py"
    script_path.write_text(codegen.script(config))
    namespace = runpy.run_path(str(script_path), run_name="__main__")
    from lstm_explorer import tasks

    data = tasks.make(config.task)
    assert namespace["x_train"].shape == data.x_train.shape
    assert namespace["x_train"] == pytest.approx(data.x_train, abs=1e-5)
