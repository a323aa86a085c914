"""Presets: valid configs with their lesson text, and the article's examples in Keras 3."""

import pytest

from lstm_explorer import model as model_module
from lstm_explorer import presets


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.key)
def test_every_preset_is_a_valid_config_with_something_to_look_for(preset):
    config = preset.build()
    assert len(preset.look_for) > 150
    model_module.build(config)


def test_the_article_classifier_has_the_lstm_weight_count_its_text_states():
    built = model_module.build(presets.get("article_classifier").build())
    lstm = model_module.recurrent_layers(built)[0]
    assert lstm.count_params() == 98_816 and "98,816" in presets.get(
        "article_classifier").look_for
    assert built.layers[-1].activation.__name__ == "sigmoid"
    assert built.loss == "binary_crossentropy"


def test_the_article_stacked_example_returns_sequences_from_the_first_layer_only():
    built = model_module.build(presets.get("article_stacked").build())
    first, second = model_module.recurrent_layers(built)
    assert (first.units, first.return_sequences) == (128, True)
    assert (second.units, second.return_sequences) == (64, False)


def test_the_article_stateful_example_has_batch_shape_32_10_1():
    built = model_module.build(presets.get("article_stateful").build())
    assert tuple(built.inputs[0].shape) == (32, 10, 1)
    assert model_module.recurrent_layers(built)[0].stateful


def test_an_unknown_preset_names_the_known_ones():
    with pytest.raises(KeyError, match="default, article_classifier"):
        presets.get("nope")
