"""Sweeps: --vary is read through the registry, one run directory per value, comparison
figures with one trace per run, and every bad --vary ends with exit 2 and one message."""

import base64
import json

import numpy as np
import pytest

from lstm_explorer import cli, sweep
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError

TINY = {"task": {"name": "recall", "seq_len": 6, "lag": 3, "n_samples": 40},
        "model": {"layers": [{"units": 3}]},
        "training": {"epochs": 3, "batch_size": 16}}


@pytest.fixture(scope="module")
def tiny_config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep_config") / "config.json"
    path.write_text(json.dumps(TINY))
    return path


@pytest.fixture(scope="module")
def swept(tiny_config_path, tmp_path_factory):
    """`sweep --vary layer.units=2,3 --epochs 1` through the command line, PNG + HTML."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    status = cli.main(["sweep", "--config", str(tiny_config_path), "--vary",
                       "layer.units=2,3", "--out", str(out), "--epochs", "1"])
    return status, out


def array(value):
    """A Plotly JSON array: a plain list, or plotly 6's typed {"dtype", "bdata"} form."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


# --- reading --vary ------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("layer.units=8,32,128", ("layer.units", [8, 32, 128])),
    ("model.cell=simple_rnn,gru,lstm", ("model.cell", ["simple_rnn", "gru", "lstm"])),
    ("training.clipnorm=none,1.0", ("training.clipnorm", [None, 1.0])),
    ("layer2.go_backwards=true,false", ("layer2.go_backwards", [True, False])),
    ("task.lag = 5, 10", ("task.lag", [5, 10])),
])
def test_parse_vary_reads_typed_values_through_the_registry(text, expected):
    assert sweep.parse_vary(text) == expected


def test_parse_vary_keeps_commas_inside_parentheses_with_the_value():
    key, values = sweep.parse_vary(
        "layer.recurrent_initializer=orthogonal(gain=2,seed=1),glorot_uniform")
    assert key == "layer.recurrent_initializer"
    assert values == [{"class_name": "orthogonal", "config": {"gain": 2, "seed": 1}},
                      "glorot_uniform"]


@pytest.mark.parametrize("text,fragment", [
    ("layer.units", "--vary='layer.units': expected KEY=V1,V2"),
    ("layer.unitz=2,3", "--vary='layer.unitz': layer has no parameter 'unitz'"),
    ("units=2,3", "--vary='units': is not a parameter key"),
    ("layer.units=2,many", "--vary='many': is not a valid value of layer.units: expected an integer"),
    ("layer.units=2,,3", "has an empty value"),
    ("layer.units=2", "has 1 value(s); a sweep compares 2 to 6 values"),
    ("layer.units=1,2,3,4,5,6,7", "has 7 value(s)"),
    ("layer.units=2,2", "--vary='2': appears twice among the values of layer.units"),
])
def test_a_bad_vary_is_a_config_error_naming_vary_and_the_bad_part(text, fragment):
    with pytest.raises(ConfigError) as caught:
        sweep.parse_vary(text)
    assert caught.value.field == "--vary"
    assert fragment in str(caught.value)


def test_sweep_configs_validates_each_value_and_names_the_one_that_breaks_the_config():
    base = ExperimentConfig.from_dict(TINY)
    assert [c.task["lag"] for c in sweep.sweep_configs(base, "task.lag", [1, 5])] == [1, 5]
    with pytest.raises(ConfigError, match=r"--vary='task.lag=6': makes an invalid config: "
                                          r"task.lag=6: must be smaller than task.seq_len=6"):
        sweep.sweep_configs(base, "task.lag", [1, 6])
    with pytest.raises(ConfigError, match=r"--vary='layer.units=0'.*model.layers\[0\].units=0"):
        sweep.sweep_configs(base, "layer.units", [0, 2])


def test_sweep_configs_rejects_two_spellings_of_the_same_value():
    base = ExperimentConfig.from_dict(TINY)
    with pytest.raises(ConfigError, match="appears twice"):
        sweep.sweep_configs(base, "layer.recurrent_initializer", ["orthogonal", "Orthogonal"])


def test_run_names_are_safe_folder_names():
    assert sweep.run_name("layer.units", 8) == "layer.units=8"
    assert sweep.run_name("training.clipnorm", None) == "training.clipnorm=none"
    assert "/" not in sweep.run_name("task.path", "../../etc/passwd")


# --- the command line ----------------------------------------------------------------------


def test_the_sweep_command_writes_one_run_directory_per_value(swept):
    status, out = swept
    assert status == 0
    for units in (2, 3):
        run_dir = out / f"layer.units={units}"
        assert sorted(p.name for p in run_dir.iterdir()) == [
            "config.json", "history.json", "model.keras", "trace.npz", "verdict.txt"]
        config = json.loads((run_dir / "config.json").read_text())
        assert config["model"]["layers"][0]["units"] == units
        assert config["training"]["epochs"] == 1
        assert len(json.loads((run_dir / "history.json").read_text())["epochs"]) == 1


def test_the_comparison_figures_have_one_trace_per_run(swept):
    _, out = swept
    comparison = out / "comparison"
    for name in ("gradient_flow", "cell_gradient_flow", "step0_gradient", "saturation"):
        figure = json.loads((comparison / f"{name}.json").read_text())
        assert [trace["name"] for trace in figure["data"]] == ["layer.units=2",
                                                               "layer.units=3"], name
    flow = json.loads((comparison / "gradient_flow.json").read_text())
    assert flow["layout"]["yaxis"]["type"] == "log"
    assert len(array(flow["data"][0]["y"])) == TINY["task"]["seq_len"]
    for name in ("loss_curves", "gradient_flow", "step0_gradient", "saturation",
                 "result_vs_value"):
        assert (comparison / f"{name}.html").read_text()[:15].lower() == "<!doctype html>"
        assert (comparison / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_sweep_record_lists_the_runs_and_what_differs(swept):
    _, out = swept
    record = json.loads((out / sweep.SWEEP_FILE).read_text())
    assert record["key"] == "layer.units" and record["values"] == ["2", "3"]
    assert [run["name"] for run in record["runs"]] == ["layer.units=2", "layer.units=3"]
    assert [row["key"] for row in record["differences"]] == ["layer1.units"]
    assert all(run["status"] == "finished" for run in record["runs"])


def test_the_sweep_command_prints_progress_per_run(tiny_config_path, tmp_path, capsys):
    status = cli.main(["sweep", "--config", str(tiny_config_path), "--vary",
                       "model.cell=simple_rnn,gru", "--out", str(tmp_path / "s"),
                       "--epochs", "1", "--format", "html"])
    assert status == 0
    errors = capsys.readouterr().err
    assert "== run 1/2: model.cell=simple_rnn" in errors
    assert "== run 2/2: model.cell=gru" in errors
    assert "epoch 1/1" in errors
    assert not list((tmp_path / "s" / "comparison").glob("*.png"))
    assert (tmp_path / "s" / "comparison" / "saturation.json").exists()


@pytest.mark.parametrize("vary,fragment", [
    ("layer.unitz=2,3", "--vary='layer.unitz'"),
    ("layer.units=2,x", "--vary='x': is not a valid value of layer.units"),
    ("task.lag=2,9", "--vary='task.lag=9': makes an invalid config: task.lag=9"),
    ("layer.units=2,0", "--vary='layer.units=0'"),
    ("nothing", "--vary='nothing': expected KEY=V1,V2"),
])
def test_a_bad_vary_exits_2_with_one_message_and_trains_nothing(tiny_config_path, tmp_path,
                                                                capsys, vary, fragment):
    out = tmp_path / "never"
    status = cli.main(["sweep", "--config", str(tiny_config_path), "--vary", vary,
                       "--out", str(out)])
    errors = capsys.readouterr().err
    assert status == 2
    assert fragment in errors
    assert errors.count("error:") == 1 and "Traceback" not in errors
    assert not out.exists()


def test_sweep_needs_a_config_or_a_preset_and_names_an_unknown_preset(tmp_path, capsys):
    assert cli.main(["sweep", "--preset", "nope", "--vary", "layer.units=2,3",
                     "--out", str(tmp_path)]) == 2
    assert "--preset='nope'" in capsys.readouterr().err
    assert cli.main(["sweep", "--vary", "layer.units=2,3", "--out", str(tmp_path)]) == 2


# --- the library call ----------------------------------------------------------------------


def test_run_sweep_reports_each_run_and_forwards_training_events_with_the_run_index():
    events = []
    base = ExperimentConfig.from_dict(TINY)
    summaries = sweep.run_sweep(base, "layer.units", [2, 3], on_event=events.append, epochs=1)
    assert [s.name for s in summaries] == ["layer.units=2", "layer.units=3"]
    assert [s.value for s in summaries] == [2, 3]
    kinds = [(event.kind, event.index) for event in events if event.kind != "training"]
    assert kinds == [("run_started", 0), ("run_finished", 0), ("run_started", 1),
                     ("run_finished", 1), ("finished", 2)]
    training = [event for event in events if event.kind == "training"]
    assert {event.index for event in training} == {0, 1}
    assert {event.event.kind for event in training} >= {"started", "epoch", "finished"}
    assert events[-1].fraction == 1.0
    assert summaries[0].readings["gate_means"]["layer0"]["f"] is not None
    assert len(summaries[0].readings["gate_mean_by_step"]["layer0"]["f"]) == 6


def test_a_sweep_over_seeds_compares_the_values_by_their_spread(tiny_config_path, tmp_path,
                                                                capsys):
    out = tmp_path / "seeded"
    status = cli.main(["sweep", "--config", str(tiny_config_path), "--vary", "layer.units=2,3",
                       "--out", str(out), "--epochs", "1", "--seeds", "2", "--format", "html"])
    assert status == 0
    for value in (2, 3):
        assert sorted(p.name for p in (out / f"layer.units={value}").iterdir()) == [
            "seed-0", "seed-1"]
    record = json.loads((out / sweep.SWEEP_FILE).read_text())
    assert record["seeds"] == [0, 1]
    assert [row["seed_run_dirs"] for row in record["runs"]] == [
        ["layer.units=2/seed-0", "layer.units=2/seed-1"],
        ["layer.units=3/seed-0", "layer.units=3/seed-1"]]
    first = record["runs"][0]
    assert first["score_key"] == "val_accuracy" and len(first["scores"]) == 2
    assert first["score_min"] == min(first["scores"]) and first["score_max"] == max(first["scores"])
    assert record["conclusion"].startswith("Final validation accuracy over 2 seeds (seeds 0 "
                                           "and 1), median (min–max): layer.units=2 ")
    # The comparison draws each value's median over its band; the band figure is there too.
    loss = json.loads((out / "comparison" / "loss_curves.json").read_text())
    assert any(trace.get("fill") == "toself" for trace in loss["data"])
    assert (out / "comparison" / "score_over_seeds.html").exists()
    assert capsys.readouterr().out.strip().splitlines()[-1] == record["conclusion"]
