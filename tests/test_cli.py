"""The command line: train writes a run directory, figures exports it, bad input exits 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lstm_explorer import cli, export, readings, tasks
from lstm_explorer.config import ExperimentConfig

TINY = {"task": {"seq_len": 6, "n_samples": 48}, "model": {"layers": [{"units": 3}]},
        "training": {"epochs": 3, "batch_size": 16}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    config_path = folder / "config.json"
    config_path.write_text(json.dumps(TINY))
    status = cli.main(["train", "--config", str(config_path), "--out", str(folder / "run"),
                       "--epochs", "2"])
    assert status == 0
    return folder / "run"


def test_train_writes_the_documented_run_directory(run_dir):
    assert sorted(path.name for path in run_dir.iterdir()) == [
        "config.json", "history.json", "model.keras", "trace.npz", "verdict.txt"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["training"]["epochs"] == 2
    assert config["model"]["layers"][0]["recurrent_initializer"] == "orthogonal"
    history = json.loads((run_dir / "history.json").read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1, 2]
    assert len(history["epochs"][0]["probe"]["grad_h"]["layer0"]) == 6
    with np.load(run_dir / "trace.npz", allow_pickle=False) as trace:
        assert trace["layer0/h"].shape == (8, 6, 3)
        assert trace["layer0/grad_c"].shape == (6,)


def test_the_saved_model_loads_in_keras_safe_mode(run_dir):
    import keras

    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.count_params() == 4 * (3 * (2 + 3) + 3) + 4


def test_train_prints_progress_per_epoch(tmp_path, capsys):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(TINY))
    assert cli.main(["train", "--config", str(config_path), "--out", str(tmp_path / "r")]) == 0
    errors = capsys.readouterr().err
    assert "epoch 1/3" in errors and "epoch 3/3" in errors and "Wrote" in errors


def test_train_prints_the_runs_verdict_as_its_last_line_and_keeps_it_in_the_run(tmp_path,
                                                                                 capsys):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    assert cli.main(["train", "--config", str(config_path), "--out", str(run),
                     "--epochs", "2"]) == 0
    printed = capsys.readouterr()
    last = printed.out.splitlines()[-1]
    config, history, _ = export.read_run(run)
    config = ExperimentConfig.from_dict(config)
    assert last == readings.verdict(config, history)
    assert last == history["verdict"] == (run / "verdict.txt").read_text(encoding="utf-8").strip()
    assert last not in printed.err  # stdout, after the progress on stderr
    # The baseline: always answering the mean of the validation targets scores their
    # variance.
    targets = tasks.make(config.task).y_val.astype(np.float64)
    variance = float(((targets - targets.mean()) ** 2).mean())
    assert history["baseline"]["value"] == pytest.approx(variance)
    assert f"({variance:.3g})" in last
    assert last.startswith(("Learned: ", "Learned a little: ", "Learned nothing: "))


def test_figures_exports_every_figure_of_a_run_as_svg(run_dir, tmp_path):
    out = tmp_path / "figures"
    assert cli.main(["figures", "--run", str(run_dir), "--out", str(out), "--format", "svg"]) == 0
    names = sorted(path.name for path in out.iterdir())
    assert "loss_curves.svg" in names and "layer0_gates.svg" in names
    assert all((out / name).read_text()[:200].lstrip().startswith(("<svg", "<?xml"))
               for name in names)


def test_code_prints_a_script_for_a_preset(capsys):
    assert cli.main(["code", "--preset", "article_stateful"]) == 0
    source = capsys.readouterr().out
    assert "batch_shape=(32, 10, 1)" in source and "reset_state()" in source
    compile(source, "script.py", "exec")


@pytest.mark.parametrize("config,fragment", [
    ({"model": {"layers": [{"units": 0}]}}, "model.layers[0].units=0: must be an integer"),
    ({"training": {"optimiser": "adam"}}, "training.optimiser='adam': unknown key"),
])
def test_an_invalid_config_exits_2_with_one_message_naming_the_field(tmp_path, capsys,
                                                                      config, fragment):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    assert cli.main(["train", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    errors = capsys.readouterr().err
    assert fragment in errors and "Traceback" not in errors


def test_a_missing_config_file_or_run_directory_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["code", "--config", str(tmp_path / "nope.json")]) == 2
    assert cli.main(["figures", "--run", str(tmp_path), "--out", str(tmp_path / "f")]) == 2
    errors = capsys.readouterr().err
    assert "no such file" in errors and "config.json" in errors


def test_the_module_entry_point_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"task": {"name": "adding", "seq_len": "long"}}')
    completed = subprocess.run([sys.executable, "-m", "lstm_explorer", "code", "--config",
                                str(path)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "task.seq_len='long': must be an integer" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_read_run_gives_back_what_train_wrote(run_dir):
    config, history, arrays = export.read_run(run_dir)
    assert config["task"]["seq_len"] == 6
    assert history["status"] == "finished"
    assert set(arrays) >= {"inputs", "targets", "layer0/h", "layer0/c", "layer0/i"}


@pytest.mark.parametrize("argv,fragment", [
    (["code", "--config", "/dev/zero"], "is larger than 1024 KB"),
    (["code", "--config", "{binary}"], "cannot be read as text"),
    (["code", "--config", "{folder}"], "cannot be read as text"),
    (["code", "--preset", "../../etc/passwd"], "preset='../../etc/passwd' does not exist"),
    (["train", "--preset", "default", "--epochs", "-5", "--out", "{folder}/run"],
     "training.epochs=-5: must be an integer from 1 to 1000"),
    (["train", "--preset", "default", "--epochs", "1" + "0" * 30, "--out", "{folder}/run"],
     "training.epochs=1000000000000000000000000000000: must be an integer"),
    (["sweep", "--preset", "default", "--vary", "layer1.units=1e400,2", "--out", "{folder}"],
     "--vary='1e400': is not a valid value of layer1.units"),
    (["sweep", "--preset", "default", "--vary", "__class__=os", "--out", "{folder}"],
     "--vary='__class__': is not a parameter key"),
])
def test_hostile_arguments_exit_2_with_a_message_and_write_nothing(tmp_path, capsys, argv,
                                                                   fragment):
    binary = tmp_path / "binary.json"
    binary.write_bytes(bytes(range(256)) * 8)
    folder = tmp_path / "folder"
    folder.mkdir()
    argv = [part.format(binary=binary, folder=folder) for part in argv]
    assert cli.main(argv) == 2
    errors = capsys.readouterr().err
    assert fragment in errors and "Traceback" not in errors
    assert list(folder.iterdir()) == []


# --- --seeds ---------------------------------------------------------------------------------


def test_train_with_seeds_writes_a_run_per_seed_and_prints_the_verdict_over_them(tmp_path,
                                                                                 capsys):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(TINY))
    out = tmp_path / "seeds"
    assert cli.main(["train", "--config", str(config_path), "--out", str(out), "--epochs", "1",
                     "--seeds", "2"]) == 0
    assert sorted(path.name for path in out.iterdir()) == [
        "seed-0", "seed-1", "seeds.json", "verdict.txt"]
    assert (out / "seed-1" / "history.json").exists() and (out / "seed-1" / "verdict.txt").exists()
    assert json.loads((out / "seed-1" / "config.json").read_text())["training"]["seed"] == 1
    record = json.loads((out / "seeds.json").read_text())
    assert record["seeds"] == [0, 1] and len(record["metrics"]["val_loss"]["median"]) == 1
    captured = capsys.readouterr()
    last = captured.out.strip().splitlines()[-1]
    assert last.startswith("Over 2 seeds (seeds 0 and 1 of training.seed; the same data): ")
    assert last == record["verdict"] == (out / "verdict.txt").read_text().strip()
    assert "== run 2/2: seed 1" in captured.err


@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("count,fragment", [
    ("0", "--seeds=0: must be an integer from 1 to 20"),
    ("21", "--seeds=21: must be an integer from 1 to 20"),
    ("two", "argument --seeds: invalid int value: 'two'"),
])
def test_a_bad_seeds_count_exits_2_naming_seeds_and_writes_nothing(tmp_path, capsys, command,
                                                                   count, fragment):
    folder = tmp_path / "out"
    folder.mkdir()
    argv = [command, "--preset", "default", "--out", str(folder / "run"), "--seeds", count]
    if command == "sweep":
        argv += ["--vary", "layer.units=2,3"]
    assert cli.main(argv) == 2
    errors = capsys.readouterr().err
    assert fragment in errors and "Traceback" not in errors
    assert list(folder.iterdir()) == []
