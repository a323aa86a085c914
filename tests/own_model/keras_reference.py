"""What Keras itself computes for a chain model, to hold traces against.

`unrolled(model, x, y)` runs the model eagerly under a `tf.GradientTape`, each recurrent
layer unrolled step by step through Keras's own cell (`LSTMCell.__call__` ...), with
Keras's masking rules (a masked step keeps the states; the output keeps the previous
output, or zeros with `zero_output_for_mask`), every other layer called as Keras calls
it. Every h_t and c_t is a tensor of its own that both the next step and what follows
the layer use, so the tape's gradient with respect to it is the total derivative dL/dh_t.

`layer_outputs(model, x)` is what each recurrent layer outputs inside the model,
computed by Keras's own (fused) layer implementation.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _is_recurrent(layer) -> bool:
    return isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))


def unrolled(model: keras.Model, x, y) -> dict:
    """Per direction key: `h`, `c` `(batch, steps, units)` in processing order, and the
    per-step norms `grad_h`, `grad_c`; plus the `loss` and the model `output`."""
    records: dict[str, dict[str, list]] = {}

    def unroll(layer, key, sequence, mask):
        cell = layer.cell
        steps = tf.unstack(tf.cast(sequence, cell.compute_dtype), axis=1)
        keeps = tf.unstack(mask, axis=1) if mask is not None else [None] * len(steps)
        if layer.go_backwards:
            steps, keeps = steps[::-1], keeps[::-1]
        size = 2 if isinstance(cell, keras.layers.LSTMCell) else 1
        if layer.stateful and layer.states is not None:
            states = [tf.convert_to_tensor(state) for state in layer.states]
        else:
            states = [tf.zeros((sequence.shape[0], cell.units))] * size
        record = records[key] = {"h": [], "c": [], "c_cell": [], "keep": []}
        output = tf.zeros_like(states[0])
        outputs = []
        for x_t, keep in zip(steps, keeps):
            new_output, cell_states = cell(x_t, states, training=False)
            cell_states = list(cell_states) if isinstance(cell_states, (list, tuple)) \
                else [cell_states]
            new_states = cell_states
            if keep is not None:
                keep = tf.cast(keep, tf.bool)[:, None]
                new_states = [tf.where(keep, new, old) for new, old in zip(cell_states, states)]
                fallback = tf.zeros_like(output) if layer.zero_output_for_mask else output
                output = tf.where(keep, new_states[0], fallback)
            else:
                output = new_states[0]
            states = new_states
            record["h"].append(states[0])
            if size == 2:
                record["c"].append(states[1])
                # The cell computes h_t from its own c_t, upstream of the masked copy: a
                # kept step's dL/dc_t is the gradient of that tensor.
                record["c_cell"].append(cell_states[1])
                record["keep"].append(keep)
            outputs.append(output)
        return tf.stack(outputs, axis=1), output

    with tf.GradientTape() as tape:
        value, mask, index = tf.constant(x), None, 0
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.Bidirectional):
                forward, forward_last = unroll(layer.forward_layer, f"layer{index}", value, mask)
                backward, backward_last = unroll(layer.backward_layer,
                                                 f"layer{index}/backward", value, mask)
                assert layer.merge_mode == "concat"
                if layer.return_sequences:
                    value = tf.concat([forward, tf.reverse(backward, [1])], axis=-1)
                else:
                    value, mask = tf.concat([forward_last, backward_last], axis=-1), None
                index += 1
            elif _is_recurrent(layer):
                sequence, last = unroll(layer, f"layer{index}", value, mask)
                if layer.return_sequences:
                    value = sequence
                else:
                    value, mask = last, None
                index += 1
            else:
                previous = value
                if mask is not None and layer._call_has_mask_arg:
                    value = layer(value, training=False, mask=mask)
                else:
                    value = layer(value, training=False)
                mask = layer.compute_mask(previous, mask) if layer.supports_masking else None
        # compile()'s default reduction: the mean over every element of the loss.
        loss = tf.reduce_mean(keras.losses.get(model.loss)(y, value))
    names = ("h", "c", "c_cell")
    flat = [(key, name, step) for key, record in records.items() for name in names
            for step in range(len(record[name]))]
    gradients = tape.gradient(loss, [records[key][name][step] for key, name, step in flat],
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
    grads = {(key, name, step): np.asarray(gradient, dtype=np.float64)
             for (key, name, step), gradient in zip(flat, gradients)}
    result: dict = {"loss": float(loss), "output": np.asarray(value)}
    for key, record in records.items():
        result[key] = {name: np.stack([np.asarray(t) for t in record[name]], axis=1)
                       for name in ("h", "c") if record[name]}
        steps = range(len(record["h"]))
        result[key]["grad_h"] = [float(np.linalg.norm(grads[key, "h", t])) for t in steps]
        if record["c"]:
            result[key]["grad_c"] = [
                float(np.linalg.norm(grads[key, "c", t] if record["keep"][t] is None else
                                     np.where(np.asarray(record["keep"][t]),
                                              grads[key, "c_cell", t], grads[key, "c", t])))
                for t in steps]
    return result


def layer_outputs(model: keras.Model, x) -> list[np.ndarray]:
    """Each recurrent layer's own output inside the model, in model order."""
    layers = [layer for layer in model.layers if _is_recurrent(layer)]
    outputs = [layer.output[0] if layer.return_state else layer.output for layer in layers]
    values = keras.Model(model.inputs[0], outputs)(x)
    values = values if isinstance(values, (list, tuple)) else [values]
    return [np.asarray(value) for value in values]
