"""Tests for lstm_explorer.own_model.folder: listing and reading a runs folder, safely."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lstm_explorer import export, figures
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.own_model import folder
from lstm_explorer.own_model.folder import CONFIG_KIND, OWN_MODEL_KIND, load, scan

REPOSITORY = Path(__file__).resolve().parents[2]
OLD = time.time() - 3 * 3600  # long before "now": nothing is settling any more


def trace_arrays(steps: int = 5, units: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {"inputs": rng.normal(size=(2, steps, 1)), "targets": rng.normal(size=(2, 1))}
    for name in ("h", "c", "i", "f", "g", "o"):
        arrays[f"layer0/{name}"] = rng.random((2, steps, units)).astype("float32")
    arrays["layer0/grad_h"] = np.linspace(1e-4, 1.0, steps)
    arrays["layer0/grad_c"] = np.linspace(1e-3, 1.0, steps)
    return arrays


def rows(count: int) -> list[dict]:
    return [{"epoch": epoch, "loss": 1.0 / epoch, "val_loss": None,
             "probe": {"grad_h": {"layer0": [1e-3, 1e-2, 0.1, 0.5, 1.0]}}}
            for epoch in range(1, count + 1)]


def own_run(path: Path, *, epochs: int = 2, status: str = "finished", writer=None,
            source: str = "callback", when: float = OLD) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    description = {"format": 1, "source": source, "name": "mine", "layers": [
        {"class_name": "Embedding", "arguments": {"input_dim": 20, "output_dim": 8}},
        {"class_name": "LSTM", "arguments": {"units": 8}, "trace": ["layer0"]},
        {"class_name": "Dense", "arguments": {"units": 1}}]}
    (path / "model.json").write_text(json.dumps(description))
    np.savez(path / "trace.npz", **trace_arrays())
    history = {"epochs": rows(epochs), "status": status, "message": "", "source": source,
               "epochs_planned": 4}
    if writer is not None:
        history["writer"] = writer
    export.write_history(path, history)
    age(path, when)
    return path


def config_run(path: Path, *, units: int = 8, when: float = OLD, files=None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    config = ExperimentConfig.from_dict({"model": {"layers": [{"units": units}]}})
    files = files or ("config.json", "model.keras", "history.json", "trace.npz")
    if "config.json" in files:
        (path / "config.json").write_text(config.to_json())
    if "model.keras" in files:
        (path / "model.keras").write_bytes(b"PK")
    if "history.json" in files:
        export.write_history(path, {"epochs": rows(3), "status": "finished"})
    if "trace.npz" in files:
        np.savez(path / "trace.npz", **trace_arrays())
    age(path, when)
    return path


def age(path: Path, when: float) -> None:
    for item in path.iterdir():
        os.utime(item, (when, when))


def by_name(entries) -> dict[str, folder.RunEntry]:
    return {entry.name: entry for entry in entries}


def test_scan_lists_the_runs_of_every_writer_with_kind_source_epochs_and_label(tmp_path):
    config_run(tmp_path / "adding", when=OLD)
    sweep = tmp_path / "sweeps" / "units"
    config_run(sweep / "layer.units=8", when=OLD + 10)
    config_run(sweep / "layer.units=32", units=32, when=OLD + 20)
    (sweep / "sweep.json").write_text("{}")
    (sweep / "comparison").mkdir()
    (sweep / "comparison" / "loss.html").write_text("<html>")
    lab = tmp_path / "lab"
    config_run(lab / "forget bias 0", when=OLD + 30)
    (lab / "conclusion.txt").write_text("It vanished.\n")
    own_run(tmp_path / "mine", when=OLD + 40)
    own_run(tmp_path / "saved", epochs=1, status="inspected", source="inspect", when=OLD + 50)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "config.json").write_text("{}")  # a config file is not a run

    entries = scan(tmp_path)
    assert [entry.name for entry in entries] == [  # newest first
        "saved", "mine", "lab/forget bias 0", "sweeps/units/layer.units=32",
        "sweeps/units/layer.units=8", "adding"]
    found = by_name(entries)
    assert [(e.kind, e.source) for e in entries] == [
        (OWN_MODEL_KIND, "inspect"), (OWN_MODEL_KIND, "callback"), (CONFIG_KIND, "lab"),
        (CONFIG_KIND, "sweep"), (CONFIG_KIND, "sweep"), (CONFIG_KIND, "train")]
    assert found["sweeps/units/layer.units=32"].label == "lstm 32 on adding"
    assert found["mine"].label == "Embedding 20×8 → LSTM 8 → Dense 1"
    assert (found["mine"].epochs, found["mine"].epochs_planned, found["mine"].status) == (
        2, 4, "finished")
    assert found["adding"].epochs == 3
    assert all(entry.problem is None and not entry.writing for entry in entries)
    assert found["mine"].path == (tmp_path / "mine").resolve()
    assert found["mine"].modified == pytest.approx(OLD + 40)


def test_the_root_itself_can_be_a_run(tmp_path):
    own_run(tmp_path / "only")
    (entry,) = scan(tmp_path / "only")
    assert entry.name == "only" and entry.kind == OWN_MODEL_KIND


def test_a_half_written_run_is_listed_with_what_is_missing(tmp_path):
    config_run(tmp_path / "saving", files=("config.json", "model.keras"), when=time.time())
    config_run(tmp_path / "abandoned", files=("config.json", "model.keras", "history.json"))
    found = by_name(scan(tmp_path))
    assert found["saving"].writing is True
    assert found["saving"].problem == "being written: history.json, trace.npz not there yet"
    assert found["abandoned"].writing is False
    assert found["abandoned"].problem == "half-written: trace.npz missing"
    assert found["abandoned"].epochs == 3


@pytest.mark.parametrize("damage, problem", [
    (lambda run: (run / "history.json").write_text('{"epochs": [{"epoch": 1}, {"ep'),
     "history.json is not valid JSON (line 1 column 28): the file is cut short or damaged"),
    (lambda run: (run / "history.json").write_text("[1, 2]"),
     "history.json is not a training history (no 'epochs' list)"),
    (lambda run: (run / "history.json").write_bytes(b"\xff\xfe{}"),
     "history.json is not UTF-8 text"),
    (lambda run: (run / "trace.npz").write_bytes(b"PK\x03\x04 not really a zip"),
     "trace.npz is not a readable npz file"),
    (lambda run: np.savez(run / "trace.npz", weights=np.zeros(3)),
     "trace.npz is not a trace: it lacks ['inputs', 'targets', 'layer0/h']"),
    (lambda run: (run / "model.json").write_text('"a string"'),
     "model.json is not a model description (not a JSON object)"),
])
def test_a_malformed_run_is_listed_with_what_is_wrong_and_load_still_returns(
        tmp_path, damage, problem):
    run = own_run(tmp_path / "run")
    damage(run)
    age(run, OLD)
    (entry,) = scan(tmp_path)
    assert entry.problem is not None and entry.problem.startswith(problem)
    shown = load(entry, tmp_path)
    assert shown.problem is not None and problem in shown.problem


def test_a_running_run_is_writing_while_its_process_lives(tmp_path):
    here = {"pid": os.getpid(), "host": socket.gethostname()}
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    gone = {"pid": int(ended.stdout), "host": socket.gethostname()}
    elsewhere = {"pid": 1, "host": socket.gethostname() + ".elsewhere"}
    own_run(tmp_path / "live", status="running", writer=here)
    own_run(tmp_path / "killed", status="running", writer=gone)
    own_run(tmp_path / "remote recent", status="running", writer=elsewhere, when=time.time())
    own_run(tmp_path / "remote stale", status="running", writer=elsewhere,
            when=time.time() - folder.STALE_SECONDS - 60)
    found = by_name(scan(tmp_path))
    assert (found["live"].writing, found["live"].problem) == (True, None)
    assert found["killed"].writing is False
    assert found["killed"].problem == ("the training that wrote it ended before finishing the "
                                       "run (its process is gone; it got to epoch 2)")
    assert (found["remote recent"].writing, found["remote recent"].problem) == (True, None)
    assert found["remote stale"].writing is False
    assert "nothing was written for 6 hours" in found["remote stale"].problem


def test_a_growing_run_is_read_again_when_its_files_change(tmp_path):
    run = own_run(tmp_path / "run", epochs=1, status="running",
                  writer={"pid": os.getpid(), "host": socket.gethostname()})
    assert scan(tmp_path)[0].epochs == 1
    before = load(tmp_path / "run", tmp_path)
    export.write_history(run, {"epochs": rows(2), "status": "finished"})
    entry = scan(tmp_path)[0]
    assert (entry.epochs, entry.status, entry.writing) == (2, "finished", False)
    after = load(entry, tmp_path)
    assert len(after.history["epochs"]) == 2 and len(before.history["epochs"]) == 1
    assert entry.version != before.entry.version


def test_load_returns_what_the_figures_draw_read_only(tmp_path):
    own_run(tmp_path / "mine")
    config_run(tmp_path / "adding")
    found = by_name(scan(tmp_path))
    mine = load(found["mine"], tmp_path)
    assert mine.problem is None and mine.drawable and mine.config is None
    assert mine.description["name"] == "mine" and mine.experiment_config() is None
    assert sorted(mine.arrays) == sorted(trace_arrays())
    with pytest.raises(ValueError, match="read-only"):
        mine.arrays["layer0/h"][0, 0, 0] = 1.0
    drawn = figures.all_figures(mine.history, mine.arrays)
    assert {"layer0_gates", "layer0_states", "layer0_gradient_flow"} <= set(drawn)
    mine.history["epochs"].clear()  # a copy of its own: the next load is whole again
    assert len(load(found["mine"], tmp_path).history["epochs"]) == 2

    adding = load(found["adding"], tmp_path)
    assert adding.description is None and adding.config["model"]["layers"][0]["units"] == 8
    assert adding.experiment_config().model["layers"][0]["units"] == 8


def test_links_out_of_the_runs_folder_are_neither_listed_nor_read(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    own_run(outside / "secret")
    (outside / "secret.json").write_text('{"epochs": [], "status": "secret"}')
    root.mkdir()
    (root / "link to outside").symlink_to(outside, target_is_directory=True)
    run = own_run(root / "run")
    (run / "history.json").unlink()
    (run / "history.json").symlink_to(outside / "secret.json")
    own_run(root / "real")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)

    found = by_name(scan(root))
    assert sorted(found) == ["real", "run"]  # the alias is the same run, listed once
    assert "history.json links to" in found["run"].problem
    assert "outside the runs folder" in found["run"].problem
    assert found["run"].status is None
    assert load(found["run"], root).history is None
    for escape in (outside / "secret", "../outside/secret", root / "link to outside" / "secret"):
        shown = load(escape, root)
        assert shown.history is None and shown.arrays is None
        assert "outside the runs folder" in shown.problem


def test_nothing_raises_for_a_missing_root_or_a_missing_run(tmp_path):
    assert scan(tmp_path / "nope") == []
    assert folder.root_problem(tmp_path / "nope") == (
        f"the runs folder {str(tmp_path / 'nope')!r} does not exist")
    (tmp_path / "file").write_text("x")
    assert scan(tmp_path / "file") == []
    assert "is a file, not a folder" in folder.root_problem(tmp_path / "file")
    assert folder.root_problem(tmp_path) is None
    assert "cannot be read" in load("gone", tmp_path).problem
    assert "cannot be read" in load("run", tmp_path / "nope").problem


def test_the_runs_folder_comes_from_the_argument_then_the_environment():
    environ = {folder.ENV_VAR: "/srv/runs"}
    assert folder.configured_root(["--runs", "a"], environ) == Path("a")
    assert folder.configured_root(["--runs=b"], environ) == Path("b")
    assert folder.configured_root([], environ) == Path("/srv/runs")
    assert folder.configured_root(["--runs"], {}) is None
    assert folder.configured_root([], {folder.ENV_VAR: "  "}) is None


def test_the_folder_module_imports_neither_tensorflow_nor_streamlit():
    code = ("import sys\n"
            "from lstm_explorer.own_model import folder, description\n"
            "folder.scan('.')\n"
            "print([m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPOSITORY, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr[-2000:]


WRITER = """
import sys, time, keras, numpy as np
from lstm_explorer import ExplorerCallback

class Slow(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.7)  # time for the reader to see each epoch

x = np.random.default_rng(0).normal(size=(16, 5, 2)).astype("float32")
y = x.sum(axis=(1, 2))[:, None]
inputs = keras.Input((5, 2))
model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(3)(inputs)))
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, verbose=0,
          callbacks=[ExplorerCallback(sys.argv[1], probe=(x[:4], y[:4])), Slow()])
"""


def test_a_run_written_by_another_process_is_seen_growing_epoch_by_epoch(tmp_path):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "live")],
                              cwd=REPOSITORY, env=environment, stderr=subprocess.PIPE)
    seen = []
    try:
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            for entry in scan(tmp_path):
                assert entry.problem is None, entry.problem
                shown = load(entry, tmp_path)
                assert shown.problem is None and shown.arrays is not None
                state = (entry.epochs, entry.writing)
                if not seen or seen[-1] != state:
                    seen.append(state)
            time.sleep(0.05)
        assert writer.wait(timeout=60) == 0, writer.stderr.read().decode()[-2000:]
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stderr.close()
    (entry,) = scan(tmp_path)
    seen.append((entry.epochs, entry.writing))
    assert (0, True) in seen and seen[-1] == (3, False)
    growing = [epochs for epochs, writing in seen if writing]
    assert growing == sorted(growing) and len(set(growing)) >= 3  # 0, 1, 2 at least
    assert entry.status == "finished"
