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


# Where Keras's own default would make the class do nothing, the catalog starts elsewhere.
STARTS_OFF_KERAS_DEFAULT = {("L1L2", "l1"): 0.01, ("L1L2", "l2"): 0.01}


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
        expected = STARTS_OFF_KERAS_DEFAULT.get((spec.class_name, argument.name),
                                                signature.parameters[argument.name].default)
        assert argument.default == expected, (spec.class_name, argument.name)
    assert ("seed" in signature.parameters) == spec.seeded
    assert type(model.keras_object(kind, spec.identifier, seed=1)).__name__ == spec.class_name
    if spec.class_name != "Constant":  # keras.initializers.get("constant") fails in Keras 3.15
        assert type(module.get(spec.identifier)).__name__ == spec.class_name


def test_get_finds_an_entry_by_dotted_path_and_names_the_section_when_missing():
    assert params.get("training.epochs").default == 10
    with pytest.raises(KeyError, match="training has"):
        params.get("training.epoch")


@pytest.mark.parametrize("spec", params.REGULARIZERS.values(), ids=lambda spec: spec.class_name)
def test_no_regularizer_starts_with_every_strength_at_zero(spec):
    strengths = {name: value for name, value in spec.defaults().items()
                 if isinstance(value, float)}
    assert strengths and any(strengths.values()), (spec.class_name, strengths)


@pytest.mark.parametrize("kind,spec", [(kind, spec) for kind, catalog in params.CATALOGS.items()
                                       for spec in catalog.values()],
                         ids=lambda value: getattr(value, "class_name", value))
def test_a_plain_class_name_builds_what_the_dict_with_the_catalog_defaults_builds(kind, spec):
    from_name = model.keras_object(kind, spec.identifier, seed=1)
    from_dict = model.keras_object(
        kind, {"class_name": spec.class_name, "config": spec.defaults()}, seed=1)
    assert from_name.get_config() == from_dict.get_config()


def test_l1l2_by_name_penalises_both_ways_as_keras_documents_for_the_name():
    penalty = model.keras_object(params.REGULARIZER, "l1l2")
    assert float(penalty(keras.ops.ones((2, 2)))) == pytest.approx(4 * 0.01 + 4 * 0.01)
