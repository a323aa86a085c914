"""Tests for lstm_explorer.own_model.callback: ExplorerCallback in a person's own fit."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from lstm_explorer import export, trace
from lstm_explorer.own_model import callback as callback_module
from lstm_explorer.own_model.callback import ExplorerCallback
from lstm_explorer.own_model.support import UnsupportedModelError
from tests.own_model.keras_reference import layer_outputs, unrolled

STEPS, FEATURES, SAMPLES, PROBE = 8, 3, 32, 6
EXACT = 1e-5
L = keras.layers


def sequences(seed: int = 0, samples: int = SAMPLES, padded: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, STEPS, FEATURES)).astype("float32")
    if padded:  # right padding with zero rows, as Masking(0.0) expects
        lengths = rng.integers(3, STEPS + 1, size=samples)
        x[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0.0
    return x


def token_ids(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 12, size=(SAMPLES, STEPS))
    lengths = rng.integers(3, STEPS + 1, size=SAMPLES)
    ids[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0  # 0 pads, mask_zero masks it
    return ids.astype("int32")


def targets(shape, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def stacked_sequential():
    model = keras.Sequential([keras.Input((STEPS, FEATURES)),
                              L.LSTM(6, return_sequences=True), L.Dropout(0.1),
                              L.LSTM(5), L.Dense(1)])
    return model, "mse", sequences(), targets((SAMPLES, 1)), {}


def sequential_without_input():
    model = keras.Sequential([L.GRU(5, return_sequences=True), L.LSTM(4), L.Dense(1)])
    return model, "mse", sequences(), targets((SAMPLES, 1)), {}


def bidirectional_functional():
    inputs = keras.Input((STEPS, FEATURES))
    hidden = L.Bidirectional(L.LSTM(4, return_sequences=True))(inputs)
    hidden = L.LSTM(4)(hidden)
    model = keras.Model(inputs, L.Dense(2)(hidden))
    return model, "mse", sequences(), targets((SAMPLES, 2)), {}


def embedding_mask_zero_functional():
    inputs = keras.Input((STEPS,), dtype="int32")
    hidden = L.Embedding(12, 4, mask_zero=True)(inputs)
    hidden = L.LSTM(6, return_sequences=True)(hidden)
    hidden = L.LSTM(5)(hidden)
    model = keras.Model(inputs, L.Dense(1, activation="sigmoid")(hidden))
    y = (np.random.default_rng(2).random((SAMPLES, 1)) > 0.5).astype("float32")
    return model, "binary_crossentropy", token_ids(), y, {}


def masking_gru_sequential():
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), L.Masking(0.0),
                              L.GRU(5, return_sequences=True), L.SimpleRNN(4), L.Dense(1)])
    return model, "mse", sequences(padded=True), targets((SAMPLES, 1)), {}


def per_step_head_functional():
    inputs = keras.Input((STEPS, FEATURES))
    hidden = L.LSTM(5, return_sequences=True, go_backwards=True)(inputs)
    hidden = L.LayerNormalization()(hidden)
    model = keras.Model(inputs, L.TimeDistributed(L.Dense(2))(hidden))
    return model, "mse", sequences(), targets((SAMPLES, STEPS, 2)), {}


def stateful_functional():
    inputs = keras.Input(batch_shape=(PROBE, STEPS, FEATURES))
    hidden = L.LSTM(5, stateful=True, return_sequences=True)(inputs)
    hidden = L.LSTM(4, stateful=True)(hidden)
    model = keras.Model(inputs, L.Dense(1)(hidden))
    x = sequences(samples=4 * PROBE)
    return model, "mse", x, targets((len(x), 1)), {"batch_size": PROBE, "shuffle": False}


MODELS = {
    "sequential stacked LSTM": stacked_sequential,
    "sequential without an Input, built by fit": sequential_without_input,
    "functional Bidirectional then LSTM": bidirectional_functional,
    "functional Embedding mask_zero": embedding_mask_zero_functional,
    "sequential Masking GRU SimpleRNN": masking_gru_sequential,
    "functional go_backwards LayerNormalization TimeDistributed": per_step_head_functional,
    "functional stateful": stateful_functional,
}


def train(make, run_dir: Path, *, epochs: int = 2, every: int = 1, callbacks=()):
    model, loss, x, y, fit_arguments = make()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    probe = (x[:PROBE], y[:PROBE])
    explorer = ExplorerCallback(run_dir, probe=probe, every=every)
    fit_arguments = {"batch_size": 8, **fit_arguments}
    model.fit(x, y, epochs=epochs, verbose=0, callbacks=[explorer, *callbacks],
              **fit_arguments)
    return model, explorer, probe


def expected_output(arrays, index: int, layer) -> np.ndarray:
    """What recurrent layer `index` outputs, rebuilt from the trace's h."""
    if isinstance(layer, L.Bidirectional):
        forward = arrays[f"layer{index}/h"]
        backward = arrays[f"layer{index}/backward/h"]
        if not layer.return_sequences:
            return np.concatenate([forward[:, -1], backward[:, -1]], axis=-1)
        return np.concatenate([forward, backward[:, ::-1]], axis=-1)
    h = arrays[f"layer{index}/h"]
    return h if layer.return_sequences else h[:, -1]


@pytest.mark.parametrize("name", list(MODELS))
def test_the_run_holds_keras_own_states_and_the_gradients_of_an_eager_tape(name, tmp_path):
    model, explorer, (x, y) = train(MODELS[name], tmp_path / "run")
    run = tmp_path / "run"
    assert sorted(path.name for path in run.iterdir()) == [
        "history.json", "model.json", "model.keras", "trace.npz"]
    history = export.read_history(run)
    assert history["status"] == "finished" and history["trace_epoch"] == 2
    assert [row["epoch"] for row in history["epochs"]] == [1, 2]
    assert all("probe" in row and row["loss"] > 0 for row in history["epochs"])
    traced = trace.load_npz(run / "trace.npz")
    np.testing.assert_array_equal(traced.inputs, x)

    # Keras's own cells, unrolled under a tape, from the weights (and states) fit ended with.
    reference = unrolled(model, x, y)
    np.testing.assert_allclose(traced.loss, reference["loss"], rtol=1e-5)
    for layer in traced.layers:
        expected = reference[layer.key]
        np.testing.assert_allclose(layer.values["h"], expected["h"], atol=EXACT, rtol=0)
        np.testing.assert_allclose(layer.grad_h, expected["grad_h"], rtol=1e-4, atol=1e-8)
        if layer.cell == "lstm":
            np.testing.assert_allclose(layer.values["c"], expected["c"], atol=EXACT, rtol=0)
            np.testing.assert_allclose(layer.grad_c, expected["grad_c"], rtol=1e-4, atol=1e-8)
        assert np.all(np.isfinite(layer.grad_h)) and np.any(layer.grad_h > 0)
    # The history's last row holds the same per-step gradients as trace.npz.
    last = history["epochs"][-1]["probe"]
    for layer in traced.layers:
        np.testing.assert_allclose(last["grad_h"][layer.key], layer.grad_h, rtol=1e-12)

    # What each recurrent layer outputs inside the model, by Keras's own layer call
    # (last: it moves a stateful model's states on).
    arrays = traced.to_arrays()
    recurrent = [layer for layer in model.layers if isinstance(layer, (L.RNN, L.Bidirectional))]
    for index, (layer, output) in enumerate(zip(recurrent, layer_outputs(model, x))):
        np.testing.assert_allclose(expected_output(arrays, index, layer), output,
                                   atol=EXACT, rtol=0)


def test_model_json_describes_the_layers_loss_and_optimizer(tmp_path):
    train(embedding_mask_zero_functional, tmp_path / "run", epochs=1)
    description = json.loads((tmp_path / "run" / "model.json").read_text())
    assert description["source"] == "callback" and description["class_name"] == "Functional"
    assert description["input"] == {"shape": [None, STEPS], "dtype": "int32"}
    assert description["loss"] == "binary_crossentropy"
    assert description["optimizer"] == {"class_name": "Adam", "learning_rate": 0.01,
                                        "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07}
    assert [(layer["class_name"], layer.get("trace")) for layer in description["layers"]] == [
        ("Embedding", None), ("LSTM", ["layer0"]), ("LSTM", ["layer1"]), ("Dense", None)]
    assert description["layers"][0]["arguments"]["mask_zero"] is True
    assert description["layers"][1]["arguments"]["units"] == 6
    assert description["probe"] == {"inputs": [PROBE, STEPS], "targets": [PROBE, 1]}
    assert description["epochs"] == 1


def test_the_saved_model_predicts_as_the_trained_one(tmp_path):
    model, _, (x, _) = train(stacked_sequential, tmp_path / "run", epochs=1)
    loaded = keras.saving.load_model(tmp_path / "run" / "model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def test_every_traces_each_nth_epoch_and_always_the_last(tmp_path):
    _, explorer, _ = train(stacked_sequential, tmp_path / "run", epochs=3, every=2)
    rows = export.read_history(tmp_path / "run")["epochs"]
    assert [("probe" in row) for row in rows] == [False, True, True]
    assert explorer.rows == rows


def test_a_training_stopped_early_traces_the_epoch_it_stopped_at(tmp_path):
    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    train(stacked_sequential, tmp_path / "run", epochs=4, every=3,
          callbacks=[StopAfterFirstEpoch()])
    history = export.read_history(tmp_path / "run")
    assert history["status"] == "stopped" and "epoch 1 of 4" in history["message"]
    assert len(history["epochs"]) == 1 and "probe" in history["epochs"][0]
    assert history["trace_epoch"] == 1


def test_epoch_ends_are_traced_on_a_thread_of_their_own(tmp_path, monkeypatch):
    threads = []
    original = trace.Tracer.__call__

    def recording(self, *arguments, **keywords):
        threads.append(threading.current_thread().name)
        return original(self, *arguments, **keywords)

    monkeypatch.setattr(trace.Tracer, "__call__", recording)
    train(stacked_sequential, tmp_path / "run", epochs=2)
    # The untrained trace checks the probe before fit's first step, on fit's thread;
    # each epoch end is traced while the next epoch trains.
    assert threads[0] == threading.current_thread().name
    assert len(threads) == 3 and all(name.startswith("explorer-trace") for name in threads[1:])


def test_a_reader_polling_history_json_during_fit_always_reads_a_whole_file(tmp_path):
    run = tmp_path / "run"
    seen, errors, done = [], [], threading.Event()

    def poll():
        while not done.is_set():
            try:
                text = (run / "history.json").read_text()
            except FileNotFoundError:
                continue
            try:
                seen.append(len(json.loads(text)["epochs"]))
            except ValueError as error:
                errors.append(error)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        train(stacked_sequential, run, epochs=3)
    finally:
        done.set()
        reader.join()
    assert not errors
    assert seen == sorted(seen) and seen[-1] == 3
    assert not [path.name for path in run.iterdir() if path.name.startswith(".")]


def conv1d_between_lstms():
    inputs = keras.Input((STEPS, FEATURES))
    hidden = L.LSTM(4, return_sequences=True)(inputs)
    hidden = L.Conv1D(4, 3, name="the_conv")(hidden)
    return keras.Model(inputs, L.Dense(1)(L.LSTM(4)(hidden))), "the_conv", "Conv1D", sequences()


def attention_over_lstm():
    inputs = keras.Input((STEPS, FEATURES))
    hidden = L.LSTM(4, return_sequences=True)(inputs)
    hidden = L.Attention(name="the_attention")([hidden, hidden])
    hidden = L.GlobalAveragePooling1D()(hidden)
    return (keras.Model(inputs, L.Dense(1)(hidden)), "the_attention", "2 input tensors",
            sequences())


def parallel_lstm_branches():
    inputs = keras.Input((STEPS, FEATURES))
    left, right = L.LSTM(4)(inputs), L.GRU(4)(inputs)
    merged = L.Concatenate(name="the_merge")([left, right])
    return keras.Model(inputs, L.Dense(1)(merged)), "the_merge", "2 input tensors", sequences()


def lstm_inside_time_distributed():
    inputs = keras.Input((2, STEPS, FEATURES))
    hidden = L.TimeDistributed(L.LSTM(4), name="the_wrapper")(inputs)
    return (keras.Model(inputs, L.Dense(1)(L.LSTM(4)(hidden))), "the_wrapper",
            "TimeDistributed of a LSTM", np.zeros((SAMPLES, 2, STEPS, FEATURES), "float32"))


def subclassed_model():
    class Mine(keras.Model):
        def __init__(self):
            super().__init__(name="mine")
            self.lstm, self.dense = L.LSTM(4), L.Dense(1)

        def call(self, x):
            return self.dense(self.lstm(x))

    model = Mine()
    model(np.zeros((1, STEPS, FEATURES), "float32"))
    return model, None, "subclass", sequences()


UNSUPPORTED = {
    "a Conv1D between two LSTMs": conv1d_between_lstms,
    "an Attention layer": attention_over_lstm,
    "two parallel recurrent branches": parallel_lstm_branches,
    "an LSTM inside TimeDistributed": lstm_inside_time_distributed,
    "a subclassed model": subclassed_model,
}


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_an_unsupported_model_is_refused_by_layer_before_the_first_step(name, tmp_path):
    model, layer, words, x = UNSUPPORTED[name]()
    model.compile(optimizer="sgd", loss="mse")
    y = targets((SAMPLES, 1))
    before = [weight.copy() for weight in model.get_weights()]
    explorer = ExplorerCallback(tmp_path / "run", probe=(x[:PROBE], y[:PROBE]))
    with pytest.raises(UnsupportedModelError) as raised:
        model.fit(x, y, epochs=1, verbose=0, callbacks=[explorer])
    message = str(raised.value)
    assert raised.value.layer == layer
    assert words in message and "supported" in message
    if layer is not None:
        assert repr(layer) in message
    assert int(model.optimizer.iterations) == 0  # not one step trained
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert not (tmp_path / "run").exists()


def test_a_probe_that_does_not_fit_the_model_is_refused_before_the_first_step(tmp_path):
    model, loss, x, y, _ = stacked_sequential()
    model.compile(optimizer="sgd", loss=loss)
    wrong = np.zeros((PROBE, STEPS, FEATURES + 1), "float32")
    with pytest.raises(ValueError, match=r"probe=\(x of shape \(6, 8, 4\)") as raised:
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[ExplorerCallback(tmp_path / "run", probe=(wrong, y[:PROBE]))])
    assert "cannot be traced" in str(raised.value)
    assert int(model.optimizer.iterations) == 0
    assert not (tmp_path / "run").exists()


def test_a_stateful_probe_of_another_batch_size_is_refused_before_the_first_step(tmp_path):
    model, loss, x, y, fit_arguments = stateful_functional()
    model.compile(optimizer="sgd", loss=loss)
    explorer = ExplorerCallback(tmp_path / "run", probe=(x[:PROBE - 1], y[:PROBE - 1]))
    with pytest.raises(ValueError, match="stateful with batch size 6"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[explorer], **fit_arguments)
    assert int(model.optimizer.iterations) == 0


@pytest.mark.parametrize("arguments, message", [
    (dict(log_dir="", probe=(np.zeros((2, 3, 1)), np.zeros(2))), r"log_dir=''"),
    (dict(log_dir="r", probe=np.zeros((2, 3, 1))), r"probe=<ndarray of shape \(2, 3, 1\)>: expected \(x, y\)"),
    (dict(log_dir="r", probe=(np.zeros((2, 3, 1)), np.zeros(3))),
     r"probe=\(x of shape \(2, 3, 1\), y of shape \(3,\)\): x and y need the same number"),
    (dict(log_dir="r", probe=(np.zeros((300, 3, 1)), np.zeros(300))), r"from 1 to 256"),
    (dict(log_dir="r", probe=(np.zeros((2, 3, 1)), np.zeros(2)), every=0), r"every=0"),
    (dict(log_dir="r", probe=(np.zeros((2, 3, 1)), np.zeros(2)), every=1.5), r"every=1.5"),
])
def test_bad_arguments_are_refused_by_name_with_their_value(arguments, message):
    with pytest.raises(ValueError, match=message):
        ExplorerCallback(**arguments)


def test_a_folder_holding_a_train_run_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    model, loss, x, y, _ = stacked_sequential()
    model.compile(optimizer="sgd", loss=loss)
    with pytest.raises(ValueError, match=r"log_dir=.*holds a run of `python -m lstm_explorer "
                                         r"train`"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[ExplorerCallback(tmp_path / "run", probe=(x[:2], y[:2]))])


def test_a_diverged_training_is_recorded_and_not_traced(tmp_path, monkeypatch):
    model, loss, x, y, _ = stacked_sequential()
    model.compile(optimizer="sgd", loss=loss)
    explorer = ExplorerCallback(tmp_path / "run", probe=(x[:PROBE], y[:PROBE]))
    explorer.set_model(model)
    explorer.set_params({"epochs": 2})
    explorer.on_train_begin()
    explorer.on_epoch_begin(0)
    explorer.on_epoch_end(0, {"loss": float("nan")})
    explorer.on_train_end()
    history = export.read_history(tmp_path / "run")
    assert history["status"] == "diverged" and "epoch 1" in history["message"]
    assert "probe" not in history["epochs"][0] and history["trace_epoch"] == 0


def test_lstm_explorer_exports_the_callback_without_importing_tensorflow_first():
    code = ("import sys, lstm_explorer\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
            "from lstm_explorer import ExplorerCallback\n"
            "import keras\n"
            "assert issubclass(ExplorerCallback, keras.callbacks.Callback)\n"
            "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
    assert callback_module.ExplorerCallback is ExplorerCallback
