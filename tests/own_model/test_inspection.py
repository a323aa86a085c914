"""Tests for lstm_explorer.own_model.inspection: `python -m lstm_explorer inspect`."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from lstm_explorer import cli, export, trace
from tests.own_model.keras_reference import layer_outputs, unrolled

STEPS, FEATURES = 6, 3
L = keras.layers


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Saved models and arrays, made once for the module's tests."""
    folder = tmp_path_factory.mktemp("inspect")
    rng = np.random.default_rng(0)

    def save(model, name, loss="mse"):
        if loss is not None:
            model.compile(optimizer="adam", loss=loss)
        path = folder / name
        model.save(path)
        return str(path)

    inputs = keras.Input((STEPS, FEATURES))
    hidden = L.Masking(0.0)(inputs)
    hidden = L.LSTM(4, return_sequences=True)(hidden)
    model = keras.Model(inputs, L.Dense(1)(L.LSTM(3)(hidden)))
    x = rng.normal(size=(20, STEPS, FEATURES)).astype("float32")
    x[:, 4:][np.arange(20) % 2 == 0] = 0.0  # every other sequence padded after 4 steps
    y = rng.normal(size=(20, 1)).astype("float32")
    paths = {"model": save(model, "masked.keras"),
             "uncompiled": save(keras.Sequential([keras.Input((STEPS, FEATURES)), L.LSTM(3),
                                                  L.Dense(1)]), "no_loss.keras", loss=None),
             "dense": save(keras.Sequential([keras.Input((STEPS, FEATURES)), L.Flatten(),
                                             L.Dense(1)]), "dense.keras"),
             "lambda": save(keras.Sequential([keras.Input((STEPS, FEATURES)),
                                              L.Lambda(lambda t: t * 2), L.LSTM(2)]),
                            "lambda.keras"),
             "series": save(keras.Sequential([keras.Input((STEPS, 1)), L.GRU(3),
                                              L.Dense(1)]), "series.keras"),
             "stateful": save(keras.Sequential([keras.Input(batch_shape=(4, STEPS, FEATURES)),
                                                L.LSTM(3, stateful=True), L.Dense(1)]),
                              "stateful.keras")}
    for name, array in {"x": x, "y": y, "y_short": y[:10],
                        "x_steps": np.zeros((5, STEPS + 1, FEATURES), "float32"),
                        "objects": np.array([[1], [1, 2]], dtype=object)}.items():
        np.save(folder / f"{name}.npy", array, allow_pickle=True)
        paths[name] = str(folder / f"{name}.npy")
    np.savez(folder / "data.npz", x=x, y=y)
    paths["npz"] = str(folder / "data.npz")
    (folder / "series.csv").write_text("day,value\n" + "".join(
        f"{day},{np.sin(day / 3):.4f}\n" for day in range(30)))
    paths["csv"] = str(folder / "series.csv")
    (folder / "not_a_model.keras").write_text("just text")
    paths["text"] = str(folder / "not_a_model.keras")
    paths["x_array"], paths["y_array"] = x, y
    return paths


def inspect(capsys, *arguments):
    status = cli.main(["inspect", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_inspect_traces_a_saved_model_as_keras_computes_it(files, tmp_path, capsys):
    run = tmp_path / "run"
    status, out, err = inspect(capsys, files["model"], "--inputs", files["x"], "--targets",
                               files["y"], "--samples", 8, "--out", run)
    assert status == 0, err
    assert sorted(path.name for path in run.iterdir()) == [
        "history.json", "model.json", "trace.npz"]
    assert "Traced 8 sequences" in err
    assert out.strip().splitlines()[-1].startswith("At epoch 0 the gradient reaching step 0")
    history = export.read_history(run)
    assert history["status"] == "inspected" and len(history["epochs"]) == 1
    assert history["epochs"][0]["epoch"] == 0
    description = json.loads((run / "model.json").read_text())
    assert description["source"] == "inspect" and description["samples"] == 8
    assert description["inputs"] == files["x"] and description["loss"] == "mse"

    traced = trace.load_npz(run / "trace.npz")
    model = keras.saving.load_model(files["model"])
    x, y = files["x_array"][:8], files["y_array"][:8]
    np.testing.assert_array_equal(traced.inputs, x)
    reference = unrolled(model, x, y)
    np.testing.assert_allclose(traced.loss, reference["loss"], rtol=1e-5)
    for layer in traced.layers:
        expected = reference[layer.key]
        np.testing.assert_allclose(layer.values["h"], expected["h"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(layer.values["c"], expected["c"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(layer.grad_h, expected["grad_h"], rtol=1e-4, atol=1e-8)
        np.testing.assert_allclose(layer.grad_c, expected["grad_c"], rtol=1e-4, atol=1e-8)
    sequence, last = layer_outputs(model, x)
    np.testing.assert_allclose(traced.layers[0].values["h"], sequence, atol=1e-5, rtol=0)
    np.testing.assert_allclose(traced.layers[1].values["h"][:, -1], last, atol=1e-5, rtol=0)
    np.testing.assert_allclose(history["epochs"][0]["probe"]["grad_h"]["layer1"],
                               traced.layers[1].grad_h)


def test_inspect_reads_the_first_or_a_named_array_of_an_npz(files, tmp_path, capsys):
    status, _, err = inspect(capsys, files["model"], "--inputs", files["npz"], "--targets",
                             files["npz"] + ":y", "--out", tmp_path / "run")
    assert status == 0, err
    traced = trace.load_npz(tmp_path / "run" / "trace.npz")
    np.testing.assert_array_equal(traced.inputs, files["x_array"])  # all 20: fewer than 32
    np.testing.assert_array_equal(traced.targets, files["y_array"])


def test_inspect_cuts_a_csv_into_windows_of_the_model_steps(files, tmp_path, capsys):
    status, _, err = inspect(capsys, files["series"], "--inputs", files["csv"], "--column",
                             "value", "--out", tmp_path / "run")
    assert status == 0, err
    assert "Cut 24 windows of 6 steps from column 'value'" in err
    traced = trace.load_npz(tmp_path / "run" / "trace.npz")
    values = np.round(np.sin(np.arange(30) / 3), 4)
    assert traced.inputs.shape == (24, STEPS, 1)
    np.testing.assert_allclose(traced.inputs[1, :, 0], values[1:7], atol=1e-6)
    np.testing.assert_allclose(traced.targets[:, 0], values[6:], atol=1e-6)
    assert traced.layers[0].cell == "gru" and np.all(traced.layers[0].grad_h > 0)


def test_inspect_without_targets_records_gates_and_states_only(files, tmp_path, capsys):
    status, out, err = inspect(capsys, files["model"], "--inputs", files["x"], "--out",
                               tmp_path / "run")
    assert status == 0, err
    history = export.read_history(tmp_path / "run")
    assert history["epochs"] == [] and "without targets" in out
    traced = trace.load_npz(tmp_path / "run" / "trace.npz")
    assert traced.layers[0].values["h"].shape == (20, STEPS, 4)
    assert np.all(np.isnan(traced.layers[0].grad_h)) and np.isnan(traced.loss)


def test_a_model_saved_without_a_loss_takes_the_one_given(files, tmp_path, capsys):
    status, _, err = inspect(capsys, files["uncompiled"], "--inputs", files["x"], "--targets",
                             files["y"], "--loss", "mae", "--out", tmp_path / "run")
    assert status == 0, err
    assert json.loads((tmp_path / "run" / "model.json").read_text())["loss"] == "mae"


@pytest.mark.parametrize("with_targets", [True, False])
def test_a_stateful_model_traces_its_batch_size_from_its_saved_states(
        files, tmp_path, capsys, with_targets):
    targets = ["--targets", files["y"]] if with_targets else []
    status, _, err = inspect(capsys, files["stateful"], "--inputs", files["x"], *targets,
                             "--out", tmp_path / "run")
    assert status == 0, err
    traced = trace.load_npz(tmp_path / "run" / "trace.npz")
    assert traced.inputs.shape[0] == 4
    model = keras.saving.load_model(files["stateful"])  # states as saved: zeros
    (last,) = layer_outputs(model, files["x_array"][:4])
    np.testing.assert_allclose(traced.layers[0].values["h"][:, -1], last, atol=1e-5, rtol=0)


ERRORS = {
    "a file that is not a model": (
        lambda f: [f["text"], "--inputs", f["x"]],
        "MODEL='{text}': is not a Keras model file that can be loaded safely"),
    "a model file that does not exist": (
        lambda f: [f["text"] + ".gone", "--inputs", f["x"]],
        "MODEL='{text}.gone': no such file"),
    "a model that would run code from the file": (
        lambda f: [f["lambda"], "--inputs", f["x"]],
        "MODEL='{lambda}': is not a Keras model file that can be loaded safely"),
    "a model with no recurrent layer": (
        lambda f: [f["dense"], "--inputs", f["x"]],
        "MODEL='{dense}': model='sequential"),
    "inputs whose shape does not fit": (
        lambda f: [f["model"], "--inputs", f["x_steps"]],
        "--inputs='{x_steps}': holds an array of shape (5, 7, 3), but the model takes "
        "(batch, 6, 3)"),
    "inputs of Python objects": (
        lambda f: [f["model"], "--inputs", f["objects"]],
        "--inputs='{objects}': cannot be read as a NumPy array file"),
    "inputs that do not exist": (
        lambda f: [f["model"], "--inputs", f["x"] + ".gone"],
        "--inputs='{x}.gone': no such file"),
    "an npz without the array named": (
        lambda f: [f["model"], "--inputs", f["npz"] + ":z"],
        "--inputs='{npz}:z': has no array 'z'; it holds ['x', 'y']"),
    "fewer targets than inputs": (
        lambda f: [f["model"], "--inputs", f["x"], "--targets", f["y_short"]],
        "--targets='{y_short}': hold 10 targets for 20 input sequences"),
    "targets that do not fit the output": (
        lambda f: [f["model"], "--inputs", f["x"], "--targets", f["x"]],
        "--targets='{x}': do not fit the model (inputs (batch, 6, 3), outputs (batch, 1)"),
    "a model without a loss and no --loss": (
        lambda f: [f["uncompiled"], "--inputs", f["x"], "--targets", f["y"]],
        "--loss=None: the model was saved without a loss"),
    "a loss Keras does not know": (
        lambda f: [f["model"], "--inputs", f["x"], "--targets", f["y"], "--loss", "nosuch"],
        "--loss='nosuch': is not a Keras loss"),
    "more samples than sequences": (
        lambda f: [f["model"], "--inputs", f["x"], "--samples", "21"],
        "--samples=21: the inputs hold only 20 sequences"),
    "another batch size for a stateful model": (
        lambda f: [f["stateful"], "--inputs", f["x"], "--samples", "3"],
        "--samples=3: the model is stateful with batch size 4"),
    "a CSV for a model of several features": (
        lambda f: [f["model"], "--inputs", f["csv"]],
        "--inputs='{csv}': a CSV gives windows of one column"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_a_bad_argument_ends_with_status_2_and_one_line_naming_it(name, files, tmp_path,
                                                                  capsys):
    arguments, expected = ERRORS[name]
    status, out, err = inspect(capsys, *arguments(files), "--out", tmp_path / "run")
    assert status == cli.EXIT_USAGE
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: " + expected.format(**{
        key: value for key, value in files.items() if isinstance(value, str)})), last
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "run").exists()
