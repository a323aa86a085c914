"""The registry covers Keras's LSTM exactly and every entry is usable."""

import inspect

import keras
import pytest

from lstm_explorer import model, params


def test_every_lstm_argument_is_in_the_registry():
    signature = inspect.signature(keras.layers.LSTM.__init__)
    arguments = [name for name, parameter in signature.parameters.items()
                 if name != "self" and parameter.kind is not parameter.VAR_KEYWORD]
    missing = [name for name in arguments if name not in params.section_params("layer")]
    assert missing == [], f"keras.layers.LSTM arguments missing from params.py: {missing}"


def test_layer_defaults_are_the_keras_defaults():
    signature = inspect.signature(keras.layers.LSTM.__init__)
    for name, parameter in signature.parameters.items():
        if name in ("self", "units") or parameter.kind is parameter.VAR_KEYWORD:
            continue
        assert params.layer_param(name).default == parameter.default, name


def test_no_registry_layer_entry_is_unknown_to_keras():
    signature = inspect.signature(keras.layers.LSTM.__init__)
    assert set(params.section_params("layer")) <= set(signature.parameters)


@pytest.mark.parametrize("param", params.ALL_PARAMS, ids=lambda param: param.path)
def test_every_entry_has_help_a_group_and_a_default_within_its_bounds(param):
    assert len(param.help) > 30
    assert param.group
    if param.kind in (params.INT, params.FLOAT) and param.default is not None:
        assert param.minimum is None or param.default >= param.minimum
        assert param.maximum is None or param.default <= param.maximum
    if param.kind in (params.CHOICE, params.ACTIVATION):
        assert param.default in param.choices


def test_lstm_arguments_are_grouped_as_structural_or_training():
    for param in params.LAYER_PARAMS:
        assert param.keras_group in ("structural", "training"), param.name


@pytest.mark.parametrize("name", params.ACTIVATIONS)
def test_every_offered_activation_exists_in_keras(name):
    assert callable(keras.activations.get(name))


@pytest.mark.parametrize("kind,spec", [(kind, spec) for kind, catalog in params.CATALOGS.items()
                                       for spec in catalog.values()],
                         ids=lambda value: getattr(value, "class_name", value))
def test_catalog_classes_exist_with_the_declared_arguments(kind, spec):
    module = {params.INITIALIZER: keras.initializers, params.REGULARIZER: keras.regularizers,
              params.CONSTRAINT: keras.constraints}[kind]
    cls = getattr(module, spec.class_name)
    signature = inspect.signature(cls.__init__)
    for argument in spec.args:
        assert argument.name in signature.parameters, (spec.class_name, argument.name)
        assert signature.parameters[argument.name].default == argument.default
    assert ("seed" in signature.parameters) == spec.seeded
    assert type(model.keras_object(kind, spec.identifier, seed=1)).__name__ == spec.class_name
    if spec.class_name != "Constant":  # keras.initializers.get("constant") fails in Keras 3.15
        assert type(module.get(spec.identifier)).__name__ == spec.class_name


def test_get_finds_an_entry_by_dotted_path_and_names_the_section_when_missing():
    assert params.get("training.epochs").default == 10
    with pytest.raises(KeyError, match="training has"):
        params.get("training.epoch")
