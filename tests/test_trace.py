"""Tests for lstm_explorer.trace: exact replay, per-step gradients, arrays, retracing."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstm_explorer import trace as trace_module
from lstm_explorer.trace import (
    SATURATION_BOUNDS,
    LayerTrace,
    Trace,
    Tracer,
    clear_shared_graphs,
    load_npz,
    save_npz,
    trace_model,
)

BATCH, STEPS, FEATURES = 3, 6, 2
EXACT = 1e-5


def randomize(model: keras.Model, seed: int = 0, scale: float = 0.5) -> None:
    """Non-zero biases and weights of a fixed size, so every term of the cell matters."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_weights:
        variable.assign(rng.normal(scale=scale, size=variable.shape).astype(variable.dtype))


def build(
    make_layer,
    *,
    layers: int = 1,
    merge_mode: str | None = "none",
    embedding: bool = False,
    mask_zero: bool = False,
    stateful: bool = False,
    return_state: bool = True,
    units_out: int = 2,
    dropout_head: bool = False,
    loss="mse",
):
    """A chain model plus a probe model exposing every recurrent layer's outputs.

    Each recurrent layer is built with return_sequences and (by default) return_state,
    so the probe shows Keras's own sequence and final states; the head reads output[0].
    """
    if embedding:
        inputs = keras.Input(shape=(STEPS,), dtype="int32")
    elif stateful:
        inputs = keras.Input(batch_shape=(BATCH, STEPS, FEATURES))
    else:
        inputs = keras.Input(shape=(STEPS, FEATURES))
    x = inputs
    if embedding:
        x = keras.layers.Embedding(7, FEATURES, mask_zero=mask_zero)(x)
    exposed = []
    for _ in range(layers):
        layer = make_layer(return_sequences=True, return_state=return_state, stateful=stateful)
        if merge_mode != "none":
            layer = keras.layers.Bidirectional(layer, merge_mode=merge_mode)
        outputs = layer(x)
        if not return_state:
            outputs = [outputs]
        exposed.append(outputs)
        x = outputs[0]
    if dropout_head:
        x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(units_out)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=loss)
    randomize(model)
    return model, keras.Model(inputs, exposed)


def probe_batch(embedding: bool = False, seed: int = 1, units_out: int = 2):
    rng = np.random.default_rng(seed)
    if embedding:
        x = rng.integers(1, 7, size=(BATCH, STEPS)).astype("int32")
    else:
        x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    y = rng.normal(size=(BATCH, STEPS, units_out)).astype("float32")
    return x, y


def keras_loss(model, x, y):
    return float(model.compute_loss(x=x, y=y, y_pred=model(x, training=False)))


def lstm(**kwargs):
    return lambda **flags: keras.layers.LSTM(4, **kwargs, **flags)


def gru(**kwargs):
    return lambda **flags: keras.layers.GRU(4, **kwargs, **flags)


def simple_rnn(**kwargs):
    return lambda **flags: keras.layers.SimpleRNN(4, **kwargs, **flags)


CONFIGURATIONS = {
    "lstm": dict(make_layer=lstm()),
    "lstm relu/hard_sigmoid": dict(
        make_layer=lstm(activation="relu", recurrent_activation="hard_sigmoid")
    ),
    "lstm elu/sigmoid": dict(make_layer=lstm(activation="elu", recurrent_activation="sigmoid")),
    "lstm softsign/hard_silu": dict(
        make_layer=lstm(activation="softsign", recurrent_activation="hard_silu")
    ),
    "lstm linear/tanh": dict(make_layer=lstm(activation="linear", recurrent_activation="tanh")),
    "lstm use_bias=False": dict(make_layer=lstm(use_bias=False)),
    "lstm unit_forget_bias=False": dict(make_layer=lstm(unit_forget_bias=False)),
    "lstm implementation=1 unroll": dict(make_layer=lstm(implementation=1, unroll=True)),
    "lstm go_backwards": dict(make_layer=lstm(go_backwards=True)),
    "lstm stateful": dict(make_layer=lstm(), stateful=True),
    "lstm stateful go_backwards": dict(make_layer=lstm(go_backwards=True), stateful=True),
    "lstm bidirectional concat": dict(make_layer=lstm(), merge_mode="concat"),
    "lstm bidirectional sum": dict(make_layer=lstm(), merge_mode="sum"),
    "lstm bidirectional ave": dict(make_layer=lstm(), merge_mode="ave"),
    "lstm bidirectional mul": dict(make_layer=lstm(), merge_mode="mul"),
    # Keras 3.15 cannot build a stateful Bidirectional with return_state (its
    # compute_mask multiplies a generator), so this one exposes the sequence only.
    "lstm bidirectional stateful": dict(
        make_layer=lstm(), merge_mode="concat", stateful=True, return_state=False
    ),
    "lstm dropout (inference)": dict(
        make_layer=lstm(dropout=0.5, recurrent_dropout=0.5), dropout_head=True
    ),
    "lstm embedding": dict(make_layer=lstm(), embedding=True),
    "rnn of lstm cell": dict(
        make_layer=lambda **flags: keras.layers.RNN(keras.layers.LSTMCell(4), **flags)
    ),
    "lstm stacked": dict(make_layer=lstm(), layers=2),
    "lstm stacked bidirectional": dict(make_layer=lstm(), layers=2, merge_mode="concat"),
    "gru reset_after": dict(make_layer=gru(reset_after=True)),
    "gru reset_before": dict(make_layer=gru(reset_after=False)),
    "gru reset_before use_bias=False": dict(make_layer=gru(reset_after=False, use_bias=False)),
    "gru go_backwards relu": dict(make_layer=gru(go_backwards=True, activation="relu")),
    "gru bidirectional": dict(make_layer=gru(), merge_mode="concat"),
    "simple_rnn": dict(make_layer=simple_rnn()),
    "simple_rnn relu go_backwards": dict(
        make_layer=simple_rnn(activation="relu", go_backwards=True)
    ),
    "simple_rnn stacked on lstm": dict(make_layer=simple_rnn(), layers=2),
}


def expected_sequence(trace: Trace, index: int, merge_mode: str, mask=None) -> np.ndarray:
    """What the k-th recurrent layer outputs as a sequence, rebuilt from the trace."""
    forward = trace.layer(f"layer{index}").values["h"]
    if merge_mode == "none":
        return forward
    # The backward half is traced in processing order; Bidirectional flips it back.
    backward = trace.layer(f"layer{index}/backward").values["h"][:, ::-1]
    if mask is not None:
        # Bidirectional sets zero_output_for_mask when it returns sequences.
        forward = forward * mask[..., None]
        backward = backward * mask[..., None]
    return {
        "concat": lambda: np.concatenate([forward, backward], axis=-1),
        "sum": lambda: forward + backward,
        "ave": lambda: (forward + backward) / 2,
        "mul": lambda: forward * backward,
    }[merge_mode]()


def assert_matches_keras(trace, probe, x, merge_mode, layers, mask=None):
    outputs = probe(x)
    if layers == 1 or not isinstance(outputs[0], (list, tuple)):
        outputs = [outputs]
    for index in range(layers):
        sequence, *states = (np.asarray(tensor) for tensor in outputs[index])
        np.testing.assert_allclose(
            expected_sequence(trace, index, merge_mode, mask), sequence, atol=EXACT, rtol=0
        )
        keys = [f"layer{index}"] + ([f"layer{index}/backward"] if merge_mode != "none" else [])
        final = []
        for key in keys:
            layer = trace.layer(key)
            final.append(layer.values["h"][:, -1])
            if layer.cell == "lstm":
                final.append(layer.values["c"][:, -1])
        if not states:
            continue
        assert len(final) == len(states)
        for replayed, returned in zip(final, states):
            np.testing.assert_allclose(replayed, returned, atol=EXACT, rtol=0)


def recurrent_state_variables(model):
    variables = []
    for layer in model.layers:
        inner_layers = (
            [layer.forward_layer, layer.backward_layer]
            if isinstance(layer, keras.layers.Bidirectional)
            else [layer]
        )
        for inner in inner_layers:
            variables.extend(getattr(inner, "states", None) or [])
    return variables


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_replayed_states_equal_keras_outputs(name):
    config = CONFIGURATIONS[name]
    embedding = config.get("embedding", False)
    model, probe = build(**config)
    x, y = probe_batch(embedding)
    states = recurrent_state_variables(model)
    if config.get("stateful"):
        # Start from a non-zero state: the replay must begin where the layer stands.
        probe(probe_batch(embedding, seed=7)[0])
        assert states and all(np.abs(state.numpy()).max() > 0 for state in states)
    snapshot = [state.numpy() for state in states]

    trace = Tracer(model)(x, y)

    for state, before in zip(states, snapshot):
        np.testing.assert_array_equal(state.numpy(), before)  # tracing leaves them
    np.testing.assert_allclose(trace.loss, keras_loss(model, x, y), rtol=1e-5)
    for state, before in zip(states, snapshot):
        state.assign(before)  # model(x) above moved a stateful layer on
    assert_matches_keras(trace, probe, x, config.get("merge_mode", "none"), config.get("layers", 1))


def masked_ids(seed: int = 3) -> np.ndarray:
    """Token ids with right padding, left padding and no padding (0 is the pad id)."""
    ids = np.random.default_rng(seed).integers(1, 7, size=(BATCH, STEPS)).astype("int32")
    ids[0, 4:] = 0
    ids[1, :2] = 0
    return ids


@pytest.mark.parametrize("merge_mode", ["none", "concat"])
@pytest.mark.parametrize("make_layer", [lstm(), gru()], ids=["lstm", "gru"])
def test_masked_steps_carry_states_and_loss_like_keras(make_layer, merge_mode):
    model, probe = build(make_layer, embedding=True, mask_zero=True, merge_mode=merge_mode)
    x = masked_ids()
    y = probe_batch(embedding=True)[1]
    trace = Tracer(model)(x, y)
    np.testing.assert_allclose(trace.loss, keras_loss(model, x, y), rtol=1e-5)
    mask = (x != 0).astype("float32")
    assert_matches_keras(trace, probe, x, merge_mode, 1, mask=mask)
    h = trace.layer("layer0").values["h"]
    np.testing.assert_array_equal(h[0, 4:], np.broadcast_to(h[0, 3], (2, 4)))  # carried
    np.testing.assert_array_equal(h[1, :2], 0.0)  # still the initial state


def test_head_reads_the_output_of_a_return_state_layer_without_sequences():
    inputs = keras.Input(shape=(STEPS, FEATURES))
    output, _h, _c = keras.layers.LSTM(4, return_state=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(output))
    model.compile(loss="mse")
    randomize(model)
    x, _ = probe_batch()
    y = np.ones((BATCH, 1), "float32")
    trace = Tracer(model)(x, y)
    np.testing.assert_allclose(trace.loss, keras_loss(model, x, y), rtol=1e-5)


def test_keras_go_backwards_returns_its_sequence_in_processing_order():
    inputs = keras.Input(shape=(STEPS, FEATURES))
    backward = keras.layers.LSTM(4, return_sequences=True, go_backwards=True)
    forward = keras.layers.LSTM(4, return_sequences=True)
    model = keras.Model(inputs, [backward(inputs), forward(inputs)])
    forward.set_weights(backward.get_weights())
    x, _ = probe_batch()
    from_backward, _ = model(x)
    _, from_reversed_input = model(x[:, ::-1])
    # Step 0 of the output belongs to the last input step: it is not flipped back.
    np.testing.assert_allclose(from_backward, from_reversed_input, atol=EXACT)


def test_keras_bidirectional_flips_the_backward_sequence_back_before_merging():
    inputs = keras.Input(shape=(STEPS, FEATURES))
    layer = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))
    model = keras.Model(inputs, layer(inputs))
    x, _ = probe_batch()
    merged = np.asarray(model(x))
    backward_alone = np.asarray(layer.backward_layer(x))
    np.testing.assert_allclose(merged[..., 4:], backward_alone[:, ::-1], atol=EXACT)


# ---------------------------------------------------------------------------- gradients


def unrolled_state_gradients(model, x, y):
    """Per-step norms of dL/dh_t (and dL/dc_t) from Keras's own cells, one step at a time.

    Every h_t is a separate eager tensor used both by the next step and by what follows
    the layer, so the tape's gradient with respect to it is the total derivative.
    """
    loss_fn = keras.losses.MeanSquaredError()
    tensors: dict[str, dict[str, list]] = {}

    def unroll(layer, key, sequence):
        cell = layer.cell
        inputs = tf.unstack(tf.cast(sequence, cell.compute_dtype), axis=1)
        if layer.go_backwards:
            inputs = inputs[::-1]
        size = 2 if isinstance(cell, keras.layers.LSTMCell) else 1
        states = [tf.zeros((x.shape[0], cell.units))] * size
        record = tensors[key] = {"h": [], "c": []}
        for x_t in inputs:
            output, states = cell(x_t, states, training=False)
            states = [output, *list(states)[1:]] if isinstance(states, (list, tuple)) else [output]
            record["h"].append(output)
            if size == 2:
                record["c"].append(states[1])
        return tf.stack(record["h"], axis=1)

    with tf.GradientTape() as tape:
        value = tf.constant(x)
        index = 0
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.Bidirectional):
                forward = unroll(layer.forward_layer, f"layer{index}", value)
                backward = unroll(layer.backward_layer, f"layer{index}/backward", value)
                assert layer.merge_mode == "concat" and layer.return_sequences
                value = tf.concat([forward, tf.reverse(backward, [1])], axis=-1)
                index += 1
            elif isinstance(layer, keras.layers.RNN):
                sequence = unroll(layer, f"layer{index}", value)
                value = sequence if layer.return_sequences else sequence[:, -1]
                index += 1
            else:
                value = layer(value, training=False)
        loss = loss_fn(y, value)
    flat = [(key, name, t) for key, rec in tensors.items() for name in rec for t in rec[name]]
    grads = tape.gradient(loss, [t for _key, _name, t in flat])
    norms: dict[str, dict[str, list]] = {key: {"h": [], "c": []} for key in tensors}
    for (key, name, _t), grad in zip(flat, grads):
        norms[key][name].append(float(np.linalg.norm(np.asarray(grad, dtype=np.float64))))
    return float(loss), norms


@pytest.mark.parametrize(
    "name",
    [
        "lstm",
        "lstm go_backwards",
        "lstm bidirectional concat",
        "lstm stacked",
        "lstm embedding",
        "gru reset_after",
        "gru reset_before",
        "simple_rnn",
    ],
)
def test_per_step_gradients_equal_a_tape_through_keras_cells_unrolled(name):
    config = CONFIGURATIONS[name]
    model, _ = build(**config)
    x, y = probe_batch(config.get("embedding", False))
    trace = Tracer(model)(x, y)
    if config.get("embedding"):
        # The unrolled reference starts after the embedding.
        x = np.asarray(model.layers[1](x))
        model = keras.Model(model.layers[2].input, model.output)
    loss, norms = unrolled_state_gradients(model, x, y)
    np.testing.assert_allclose(trace.loss, loss, rtol=1e-5)
    for layer in trace.layers:
        np.testing.assert_allclose(layer.grad_h, norms[layer.key]["h"], rtol=1e-4, atol=1e-8)
        if layer.cell == "lstm":
            np.testing.assert_allclose(layer.grad_c, norms[layer.key]["c"], rtol=1e-4, atol=1e-8)
        else:
            assert layer.grad_c is None
        assert layer.grad_h.shape == (STEPS,)
        assert np.all(layer.grad_h > 0)


def numpy_lstm_loss(weights, x, y, delta_h=None, delta_c=None):
    """LSTM (tanh/sigmoid) + Dense on the last h + MSE in float64 NumPy, with additive
    perturbations of h_t and c_t so that finite differences give dL/dh_t and dL/dc_t."""
    kernel, recurrent_kernel, bias, dense_kernel, dense_bias = weights
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        if delta_c is not None:
            c = c + delta_c[t]
        h = sigmoid(o) * np.tanh(c)
        if delta_h is not None:
            h = h + delta_h[t]
    prediction = h @ dense_kernel + dense_bias
    return np.mean((prediction - y) ** 2)


def test_per_step_gradients_equal_finite_differences_in_float64():
    steps, units = 5, 3
    inputs = keras.Input(shape=(steps, FEATURES), dtype="float64")
    hidden = keras.layers.LSTM(units, dtype="float64")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, dtype="float64")(hidden))
    model.compile(loss=keras.losses.MeanSquaredError(dtype="float64"))
    randomize(model, scale=0.8)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, steps, FEATURES))
    y = rng.normal(size=(2, 1))
    weights = [w.numpy() for w in model.layers[1].weights + model.layers[2].weights]

    trace = Tracer(model)(x, y)

    np.testing.assert_allclose(trace.loss, numpy_lstm_loss(weights, x, y), rtol=1e-12)
    epsilon = 1e-6
    for name, expected in (("h", trace.layers[0].grad_h), ("c", trace.layers[0].grad_c)):
        gradient = np.zeros((steps, 2, units))
        for index in np.ndindex(gradient.shape):
            delta = np.zeros_like(gradient)
            delta[index] = epsilon
            up = numpy_lstm_loss(weights, x, y, **{f"delta_{name}": delta})
            down = numpy_lstm_loss(weights, x, y, **{f"delta_{name}": -delta})
            gradient[index] = (up - down) / (2 * epsilon)
        norms = np.sqrt((gradient**2).sum(axis=(1, 2)))
        np.testing.assert_allclose(expected, norms, rtol=1e-6)


# The whole matrix, plus padded sequences (masked steps carry states and outputs).
BACKWARD_CASES = {
    **CONFIGURATIONS,
    "lstm masked": dict(make_layer=lstm(), embedding=True, mask_zero=True),
    "gru masked bidirectional": dict(
        make_layer=gru(), embedding=True, mask_zero=True, merge_mode="concat"
    ),
    "lstm masked zero_output_for_mask": dict(
        make_layer=lstm(zero_output_for_mask=True), embedding=True, mask_zero=True
    ),
}


@pytest.mark.parametrize("name", list(BACKWARD_CASES))
def test_the_hand_written_backward_pass_equals_tensorflows_gradient_of_the_loop(
    name, monkeypatch
):
    config = BACKWARD_CASES[name]
    model, probe = build(**config)
    embedding = config.get("embedding", False)
    x, y = probe_batch(embedding)
    if config.get("mask_zero"):
        x = masked_ids()
    if config.get("stateful"):
        probe(probe_batch(embedding, seed=7)[0])  # a non-zero state to start from

    traced = Tracer(model)(x, y)
    # The reference: the same forward loop, differentiated by TensorFlow itself.
    monkeypatch.setattr(trace_module, "_recurrence", trace_module._run_steps)
    reference = Tracer(model)(x, y, eager=True)

    assert [layer.key for layer in traced.layers] == [layer.key for layer in reference.layers]
    for layer, expected in zip(traced.layers, reference.layers):
        np.testing.assert_allclose(layer.grad_h, expected.grad_h, rtol=1e-4, atol=1e-9)
        if layer.cell == "lstm":
            np.testing.assert_allclose(layer.grad_c, expected.grad_c, rtol=1e-4, atol=1e-9)
        assert np.all(layer.grad_h[-1] > 0)
    assert traced.weight_grad_norms.keys() == reference.weight_grad_norms.keys()
    for owner, norms in reference.weight_grad_norms.items():
        for weight, norm in norms.items():
            np.testing.assert_allclose(
                traced.weight_grad_norms[owner][weight], norm, rtol=1e-4, atol=1e-9,
                err_msg=f"{owner}/{weight}",
            )


@pytest.mark.parametrize(
    "make_layer, masked",
    [
        (lstm(), False),  # the backward pass written out by hand
        (lstm(activation="relu"), False),  # one step's tape at a time, as for all others
        (lstm(), True),
        (gru(reset_after=True), True),
        (simple_rnn(), False),
    ],
    ids=["lstm", "lstm relu", "lstm masked", "gru masked", "simple_rnn"],
)
def test_the_recurrence_gradient_is_the_whole_vector_jacobian_product(make_layer, masked):
    # Through the tracer only h and c reach the loss; here every record does, gates too.
    layer = make_layer()
    layer.build((BATCH, STEPS, FEATURES))
    kind = {keras.layers.LSTM: "lstm", keras.layers.GRU: "gru"}.get(type(layer), "simple_rnn")
    step = trace_module._CellStep(layer, kind, masked, has_recurrent_bias=kind == "gru")
    rng = np.random.default_rng(4)
    packed = rng.normal(size=(STEPS, BATCH, sum(step.part_sizes))).astype("float32")
    if masked:
        packed[..., -1] = rng.integers(0, 2, size=(STEPS, BATCH))
    initial = [rng.normal(size=(BATCH, 4)).astype("float32") for _ in step.state_slots]
    weights = [layer.cell.recurrent_kernel.numpy()]
    if kind == "gru":
        weights.append(layer.cell.bias.numpy()[1])
    width = 4 * (len(step.state_slots) + len(trace_module.GATES[kind]))  # [h | c | gates | out]
    record_weights = tf.constant(rng.normal(size=(STEPS, BATCH, width)), tf.float32)

    def gradients(recurrence):
        @tf.function(autograph=False)
        def compute(packed, initial, weights):
            with tf.GradientTape() as tape:
                tape.watch([packed, *initial, *weights])
                records = recurrence(step, packed, initial, weights)
                loss = tf.reduce_sum(tf.sin(records) * record_weights)
            return tape.gradient(loss, [packed, *initial, *weights])

        return [np.asarray(grad) for grad in compute(packed, initial, weights)]

    expected = gradients(trace_module._run_steps)
    for got, want in zip(gradients(trace_module._recurrence), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_gradients_vanish_backwards_through_a_long_simple_rnn_with_small_weights():
    steps = 20  # 0.1 ** 19 still fits float32; much longer underflows to 0
    inputs = keras.Input(shape=(steps, 1))
    layer = keras.layers.SimpleRNN(4)
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(loss="mse")
    orthogonal = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]
    layer.cell.recurrent_kernel.assign(0.1 * orthogonal)
    x = np.random.default_rng(1).normal(size=(4, steps, 1)).astype("float32")
    trace = Tracer(model)(x, np.ones((4, 1), "float32"))
    grad_h = trace.layers[0].grad_h
    assert grad_h[0] < 1e-12 * grad_h[-1]
    assert np.all(np.diff(grad_h) > 0)


# ----------------------------------------------------------------- norms and saturation


def test_weight_grad_norms_equal_norms_of_the_tape_gradient_of_the_loss():
    inputs = keras.Input(shape=(STEPS,), dtype="int32")
    x = keras.layers.Embedding(7, FEATURES, name="embed")(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(x)
    x = keras.layers.GRU(3, kernel_regularizer="l2")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    model.compile(loss="mse")
    randomize(model)
    ids, _ = probe_batch(embedding=True)
    y = np.random.default_rng(2).normal(size=(BATCH, 2)).astype("float32")
    trace = Tracer(model)(ids, y)

    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(ids, training=False))  # no penalty
    gradients = tape.gradient(loss, model.trainable_weights)
    owners = {}
    bidirectional, gru_layer = model.layers[2], model.layers[3]
    for owner, layer in (
        ("layer0", bidirectional.forward_layer),
        ("layer0/backward", bidirectional.backward_layer),
        ("layer1", gru_layer),
    ):
        for name in ("kernel", "recurrent_kernel", "bias"):
            owners[id(getattr(layer.cell, name))] = (owner, name)
    for variable in model.layers[1].weights + model.layers[4].weights:
        owners[id(variable)] = (
            {"embed": "embed", "head": "head"}[variable.path.split("/")[0]],
            variable.name,
        )
    assert sum(len(norms) for norms in trace.weight_grad_norms.values()) == (
        len(gradients) + 2 * 3 * 4 + 3 * 3  # per-gate blocks of the LSTM halves and the GRU
    )
    for variable, gradient in zip(model.trainable_weights, gradients):
        owner, name = owners[id(variable)]
        dense = np.asarray(tf.convert_to_tensor(gradient), dtype=np.float64)
        np.testing.assert_allclose(
            trace.weight_grad_norms[owner][name], np.linalg.norm(dense), rtol=1e-4
        )
        if owner.startswith("layer"):
            blocks = ("i", "f", "c", "o") if owner.startswith("layer0") else ("z", "r", "h")
            width = dense.shape[-1] // len(blocks)
            for number, block in enumerate(blocks):
                np.testing.assert_allclose(
                    trace.weight_grad_norms[owner][f"{name}/{block}"],
                    np.linalg.norm(dense[..., number * width : (number + 1) * width]),
                    rtol=1e-4,
                    atol=1e-9,
                )
    assert trace.weight_grad_norms["layer1"]["bias"] > 0  # (2, 3u) reset_after bias


def test_loss_leaves_out_regularization_penalties():
    inputs = keras.Input(shape=(STEPS, FEATURES))
    hidden = keras.layers.LSTM(4, kernel_regularizer=keras.regularizers.L2(10.0))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(loss="mae")
    x, _ = probe_batch()
    y = np.zeros((BATCH, 1), "float32")
    trace = Tracer(model)(x, y)
    predictions = model(x, training=False)
    np.testing.assert_allclose(trace.loss, np.mean(np.abs(np.asarray(predictions))), rtol=1e-5)
    assert keras_loss(model, x, y) > trace.loss + 1.0  # Keras's own adds the penalty


@pytest.mark.parametrize(
    "loss, activation, units_out, sparse",
    [
        ("sparse_categorical_crossentropy", "softmax", 3, True),
        ("crossentropy", "softmax", 3, True),
        ("binary_crossentropy", "sigmoid", 1, False),
        (keras.losses.Huber(delta=0.5), None, 2, False),
    ],
    ids=["sparse_cce", "crossentropy alias", "bce", "huber object"],
)
def test_trace_loss_equals_the_compiled_loss(loss, activation, units_out, sparse):
    inputs = keras.Input(shape=(STEPS, FEATURES))
    hidden = keras.layers.GRU(4)(inputs)
    outputs = keras.layers.Dense(units_out, activation=activation)(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(loss=loss)
    randomize(model)
    x, _ = probe_batch()
    rng = np.random.default_rng(4)
    y = (
        rng.integers(0, units_out, size=(BATCH,))
        if sparse
        else rng.uniform(size=(BATCH, units_out))
    )
    trace = Tracer(model)(x, y)
    np.testing.assert_allclose(trace.loss, keras_loss(model, x, y), rtol=1e-5)


def test_saturation_is_the_fraction_of_gate_values_outside_the_bounds():
    model, _ = build(lstm(activation="relu", recurrent_activation="hard_sigmoid"), merge_mode="sum")
    randomize(model, scale=1.5)
    x, y = probe_batch()
    trace = Tracer(model)(x, y)
    low, high = SATURATION_BOUNDS
    assert set(trace.saturation) == {"layer0", "layer0/backward"}
    for layer in trace.layers:
        assert set(trace.saturation[layer.key]) == {"i", "f", "o"}
        for gate, fraction in trace.saturation[layer.key].items():
            values = layer.values[gate]
            expected = ((values < low) | (values > high)).sum() / values.size
            assert 0.0 <= fraction <= 1.0
            assert fraction == pytest.approx(expected)
    assert any(0 < f < 1 for gates in trace.saturation.values() for f in gates.values())


# -------------------------------------------------------------------- arrays and files


@pytest.fixture(scope="module")
def mixed_trace():
    """Bidirectional LSTM, then GRU, then SimpleRNN: every cell kind and direction."""
    inputs = keras.Input(shape=(STEPS, FEATURES))
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(inputs)
    x = keras.layers.GRU(3, return_sequences=True, go_backwards=True)(x)
    x = keras.layers.SimpleRNN(5)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(loss="mse")
    randomize(model)
    x, _ = probe_batch()
    return model, trace_model(model, x, np.zeros((BATCH, 1), "float32"))


def test_to_arrays_has_exactly_the_trace_npz_keys_shapes_and_dtypes(mixed_trace):
    _, trace = mixed_trace
    arrays = trace.to_arrays()
    lstm_names = ["h", "c", "i", "f", "g", "o"]
    expected = {"inputs", "targets"}
    expected |= {f"layer0/{n}" for n in [*lstm_names, "grad_h", "grad_c"]}
    expected |= {f"layer0/backward/{n}" for n in [*lstm_names, "grad_h", "grad_c"]}
    expected |= {f"layer1/{n}" for n in ["h", "z", "r", "g", "grad_h"]}
    expected |= {"layer2/h", "layer2/grad_h"}
    assert set(arrays) == expected
    units = {"layer0": 4, "layer1": 3, "layer2": 5}
    for key, value in arrays.items():
        if key in ("inputs", "targets"):
            continue
        layer_key, name = key.rsplit("/", 1)
        if name.startswith("grad_"):
            assert value.shape == (STEPS,) and np.issubdtype(value.dtype, np.floating)
        else:
            assert value.dtype == np.float32
            assert value.shape == (BATCH, STEPS, units[layer_key.split("/")[0]])
    assert arrays["inputs"].shape == (BATCH, STEPS, FEATURES)
    assert [layer.go_backwards for layer in trace.layers] == [False, True, True, False]
    assert [layer.key for layer in trace.layers] == [
        "layer0",
        "layer0/backward",
        "layer1",
        "layer2",
    ]


def test_from_arrays_inverts_to_arrays(mixed_trace):
    _, trace = mixed_trace
    rebuilt = Trace.from_arrays(trace.to_arrays())
    for key, value in trace.to_arrays().items():
        np.testing.assert_array_equal(rebuilt.to_arrays()[key], value)
    assert [layer.cell for layer in rebuilt.layers] == ["lstm", "lstm", "gru", "simple_rnn"]
    assert rebuilt.saturation == trace.saturation
    assert np.isnan(rebuilt.loss) and rebuilt.weight_grad_norms == {}


def test_from_arrays_names_an_unknown_key(mixed_trace):
    _, trace = mixed_trace
    arrays = trace.to_arrays() | {"layer0/hidden": np.zeros(3)}
    with pytest.raises(ValueError, match="layer0/hidden"):
        Trace.from_arrays(arrays)


def test_save_npz_and_load_npz_round_trip(mixed_trace, tmp_path):
    _, trace = mixed_trace
    path = tmp_path / "trace.npz"
    save_npz(trace, path)
    loaded = load_npz(path)
    assert loaded.loss == trace.loss
    assert loaded.weight_grad_norms == trace.weight_grad_norms
    assert loaded.saturation == trace.saturation
    for original, again in zip(trace.layers, loaded.layers):
        assert (again.name, again.key, again.cell, again.go_backwards) == (
            original.name,
            original.key,
            original.cell,
            original.go_backwards,
        )
    for key, value in trace.to_arrays().items():
        np.testing.assert_array_equal(loaded.to_arrays()[key], value)
    with np.load(path) as data:  # the contract keys are readable without this module
        assert data["layer1/z"].dtype == np.float32


def test_summary_is_json_ready_with_null_for_non_finite_values(mixed_trace):
    _, trace = mixed_trace
    summary = trace.summary()
    assert set(summary) == {"loss", "grad_h", "grad_c", "weight_grad_norms", "saturation"}
    assert set(summary["grad_c"]) == {"layer0", "layer0/backward"}
    assert len(summary["grad_h"]["layer2"]) == STEPS
    json.dumps(summary, allow_nan=False)
    broken = Trace(trace.inputs, trace.targets, float("nan"), trace.layers[:1])
    assert broken.summary()["loss"] is None


# ------------------------------------------------------------------ tracing and errors


def test_a_tracer_called_again_does_not_retrace_and_reads_current_weights():
    clear_shared_graphs()  # other tests trace this architecture too
    model, probe = build(lstm())
    x, y = probe_batch()
    tracer = Tracer(model)
    first = tracer(x, y)
    randomize(model, seed=9)
    second = tracer(x, y)
    tracer(x + 1, y)
    assert tracer.trace_count == 1
    assert not np.allclose(first.layers[0].values["h"], second.layers[0].values["h"])
    assert_matches_keras(second, probe, x, "none", 1)
    tracer(x[:2], y[:2])  # a new batch shape is a new graph
    assert tracer.trace_count == 2


SHARED = ["lstm stateful", "lstm embedding", "lstm stacked bidirectional",
          "gru reset_after", "simple_rnn stacked on lstm"]


def assert_same_trace(actual: Trace, expected: Trace, atol: float = 0.0) -> None:
    assert [layer.key for layer in actual.layers] == [layer.key for layer in expected.layers]
    np.testing.assert_allclose(actual.loss, expected.loss, atol=atol, rtol=0)
    for mine, theirs in zip(actual.layers, expected.layers):
        assert sorted(mine.values) == sorted(theirs.values)
        for name in mine.values:
            np.testing.assert_allclose(mine.values[name], theirs.values[name], atol=atol, rtol=0)
        np.testing.assert_allclose(mine.grad_h, theirs.grad_h, atol=atol, rtol=1e-6)
        if theirs.grad_c is not None:
            np.testing.assert_allclose(mine.grad_c, theirs.grad_c, atol=atol, rtol=1e-6)
    assert actual.weight_grad_norms.keys() == expected.weight_grad_norms.keys()
    for owner, norms in expected.weight_grad_norms.items():
        assert actual.weight_grad_norms[owner].keys() == norms.keys()
        for name, value in norms.items():
            np.testing.assert_allclose(actual.weight_grad_norms[owner][name], value,
                                       atol=atol, rtol=1e-6)


@pytest.mark.parametrize("name", SHARED)
def test_a_second_model_of_the_same_architecture_reuses_the_graph_with_its_own_weights(name):
    config = CONFIGURATIONS[name]
    embedding = config.get("embedding", False)
    x, y = probe_batch(embedding)
    clear_shared_graphs()
    first_model, _ = build(**config)
    first = Tracer(first_model)
    first(x, y)
    assert first.trace_count == 1
    second_model, second_probe = build(**config)
    randomize(second_model, seed=5, scale=0.7)  # other weights than the first model's
    states = recurrent_state_variables(second_model)
    if config.get("stateful"):
        second_probe(probe_batch(embedding, seed=7)[0])  # and another starting state
    snapshot = [state.numpy() for state in states]
    second = Tracer(second_model)
    assert second.ready(x, y)

    shared = second(x, y)

    assert second.trace_count == 0  # the first model's graph, fed the second's weights
    clear_shared_graphs()
    alone = Tracer(second_model)(x, y)  # traced for the second model on its own
    assert_same_trace(shared, alone)
    np.testing.assert_allclose(shared.loss, keras_loss(second_model, x, y), rtol=1e-5)
    for state, before in zip(states, snapshot):
        state.assign(before)  # keras_loss moved a stateful layer on
    assert_matches_keras(shared, second_probe, x, config.get("merge_mode", "none"),
                         config.get("layers", 1))
    assert not np.allclose(shared.layers[0].values["h"], first(x, y).layers[0].values["h"])


@pytest.mark.parametrize("name", SHARED)
def test_an_eager_trace_equals_the_graph_trace(name):
    config = CONFIGURATIONS[name]
    embedding = config.get("embedding", False)
    model, _ = build(**config)
    if config.get("stateful"):
        model(probe_batch(embedding, seed=7)[0])  # start from a non-zero state
    x, y = probe_batch(embedding)
    tracer = Tracer(model)
    eager = tracer(x, y, eager=True)
    assert tracer.trace_count == 0
    assert_same_trace(eager, tracer(x, y), atol=1e-6)


def test_different_architectures_do_not_share_a_graph_and_seeds_do():
    x, y = probe_batch()
    clear_shared_graphs()
    tanh_model, _ = build(lstm())
    Tracer(tanh_model)(x, y)
    relu_model, relu_probe = build(lstm(activation="relu"))
    relu = Tracer(relu_model)
    assert not relu.ready(x, y)
    assert_matches_keras(relu(x, y), relu_probe, x, "none", 1)
    assert relu.trace_count == 1
    seeded_model, _ = build(lambda **flags: keras.layers.LSTM(
        4, kernel_initializer=keras.initializers.GlorotUniform(seed=11), seed=3, **flags))
    assert Tracer(seeded_model).ready(x, y)  # initializers and seeds do not change it


def test_a_layer_outside_keras_gets_a_graph_of_its_own():
    class Doubling(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    def make():
        inputs = keras.Input(shape=(STEPS, FEATURES))
        hidden = keras.layers.LSTM(4)(Doubling()(inputs))
        model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
        model.compile(loss="mse")
        return model

    x, y = probe_batch()
    clear_shared_graphs()
    Tracer(make())(x, y[:, -1])
    second = Tracer(make())
    assert not second.ready(x, y[:, -1])
    second(x, y[:, -1])
    assert second.trace_count == 1


def test_a_shared_graph_does_not_keep_its_model_alive():
    import gc
    import weakref

    clear_shared_graphs()
    model, _ = build(lstm())
    x, y = probe_batch()
    tracer = Tracer(model)
    tracer(x, y)
    reference = weakref.ref(model)
    del model, tracer, _
    gc.collect()
    assert reference() is None
    other, _ = build(lstm())
    assert Tracer(other).ready(x, y)


def test_a_model_without_a_recurrent_layer_is_refused_by_name():
    inputs = keras.Input(shape=(STEPS, FEATURES))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs), name="dense_only")
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="model='dense_only'.*no recurrent layer"):
        Tracer(model)


def test_an_uncompiled_model_is_refused_by_name():
    inputs = keras.Input(shape=(STEPS, FEATURES))
    model = keras.Model(inputs, keras.layers.LSTM(2)(inputs), name="raw")
    with pytest.raises(ValueError, match="model='raw'.*compile"):
        Tracer(model)


def test_a_stateful_probe_batch_of_the_wrong_size_is_refused():
    model, _ = build(lstm(), stateful=True)
    x, y = probe_batch()
    with pytest.raises(ValueError, match=r"inputs has shape \(2, 6, 2\).*batch size 3"):
        Tracer(model)(x[:2], y[:2])


def test_layer_trace_key_names_the_direction():
    values = {"h": np.zeros((1, 2, 3), "float32")}
    forward = LayerTrace(1, "bi", "simple_rnn", "forward", False, values, np.zeros(2))
    backward = LayerTrace(1, "bi", "simple_rnn", "backward", True, values, np.zeros(2))
    assert (forward.key, backward.key) == ("layer1", "layer1/backward")


def test_a_recurrent_layer_with_another_cell_is_refused_by_name():
    inputs = keras.Input(shape=(STEPS, FEATURES))
    cells = keras.layers.StackedRNNCells([keras.layers.LSTMCell(2), keras.layers.LSTMCell(2)])
    hidden = keras.layers.RNN(cells, name="stacked_cells")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(loss="mse")
    with pytest.raises(
        ValueError, match="layer 'stacked_cells' is a RNN with cell StackedRNNCells"
    ):
        Tracer(model)
