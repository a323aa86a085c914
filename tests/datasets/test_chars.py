"""Tests for lstm_explorer.datasets.chars and the chars task: the encoding, the text, the
windows, the unigram baseline, the code export and a tiny training."""

from __future__ import annotations

import collections
import math
import pathlib
import runpy
import string
import sysconfig

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_explorer import codegen, presets, tasks
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.datasets import chars
from lstm_explorer.errors import ConfigError

READABLE = string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "")


def chars_task(**overrides) -> dict:
    return {"name": "chars", "seq_len": 12, "n_samples": 20, "seed": 0, **overrides}


# --- the encoding ----------------------------------------------------------------------------


def test_the_vocabulary_is_tab_newline_printable_ascii_and_one_other_symbol():
    assert chars.VOCABULARY == "\t\n" + "".join(map(chr, range(32, 127)))
    assert chars.VOCAB_SIZE == 98 and chars.OTHER == 97
    assert set(READABLE) == set(chars.VOCABULARY)


@given(st.text(alphabet=READABLE, max_size=200))
def test_any_text_of_the_vocabulary_round_trips_through_its_ids(text):
    ids = chars.encode(text)
    assert ids.dtype == np.int32 and ids.shape == (len(text),)
    assert chars.decode(ids) == text


@given(st.text(max_size=100))
def test_characters_outside_the_vocabulary_become_the_other_symbol(text):
    ids = chars.encode(text)
    for character, index in zip(text, ids.tolist(), strict=True):
        if character in chars.VOCABULARY:
            assert chars.VOCABULARY[index] == character
        else:
            assert index == chars.OTHER
    assert chars.decode(ids) == "".join(c if c in chars.VOCABULARY else chars.OTHER_SHOWN
                                        for c in text)


def test_decode_refuses_ids_outside_the_vocabulary_naming_them():
    with pytest.raises(ValueError, match="ids="):
        chars.decode([3, 98])


def test_windows_are_consecutive_with_the_next_character_as_target():
    text = "def add(a, b):\n    return a + b\n\n"  # 33 characters: 4 windows of 8, +1
    x, y = chars.char_windows(chars.encode(text), 4, 8, per_step=True)
    assert chars.texts_of_inputs(x) == [text[i * 8:(i + 1) * 8] for i in range(4)]
    assert [chars.decode(row) for row in y] == [text[i * 8 + 1:(i + 1) * 8 + 1]
                                                for i in range(4)]
    _, last = chars.char_windows(chars.encode(text), 4, 8)
    assert chars.decode(last) == "".join(text[(i + 1) * 8] for i in range(4))
    assert x.dtype == y.dtype == last.dtype == np.int32


def test_texts_of_inputs_reads_one_hot_as_well_as_ids_and_refuses_other_shapes():
    ids = chars.encode("ab\ncd").reshape(1, 5)
    one_hot = np.eye(chars.VOCAB_SIZE, dtype=np.float32)[ids]
    assert chars.texts_of_inputs(ids) == chars.texts_of_inputs(one_hot) == ["ab\ncd"]
    with pytest.raises(ValueError, match="inputs of shape"):
        chars.texts_of_inputs(np.zeros((2, 3, 4)))


# --- the text --------------------------------------------------------------------------------


def test_the_text_is_standard_library_files_in_a_seeded_order():
    text, names = chars.stdlib_text(50_000, 3)
    folder = pathlib.Path(sysconfig.get_paths()["stdlib"])
    whole = "".join((folder / name).read_text(encoding="utf-8", errors="replace")
                    for name in names)
    assert len(text) == 50_000 and whole.startswith(text)
    assert chars.stdlib_text(50_000, 3) == (text, names)
    assert chars.stdlib_text(50_000, 4)[1] != names
    assert all(name.endswith(".py") and "/" not in name for name in names)


def test_the_task_windows_are_the_text_in_order_and_the_last_ones_validate():
    data = tasks.make(chars_task(), per_step_targets=True)
    text, _ = chars.stdlib_text(20 * 12 + 1, 0)
    windows = chars.texts_of_inputs(np.concatenate([data.x_train, data.x_val]))
    assert "".join(windows) == text[:-1].translate(
        {ord(c): chars.OTHER_SHOWN for c in set(text) if c not in chars.VOCABULARY})
    assert (len(data.x_train), len(data.x_val)) == (16, 4)
    assert data.kind == "multiclass" and data.n_outputs == data.vocab_size == 98
    assert data.input_features is None and data.x_train.dtype == np.int32
    assert chars.probe_texts(data) == windows[16:16 + tasks.PROBE_SIZE]
    assert data.y_train.shape == (16, 12) and data.y_train.dtype == np.int32


def test_asking_for_more_text_than_the_library_holds_is_a_config_error(monkeypatch):
    monkeypatch.setattr(chars, "_cached_text", lambda n_chars, seed: ("short", ("a.py",)))
    with pytest.raises(ConfigError) as caught:
        tasks.make(chars_task())
    assert caught.value.field == "task.n_samples" and "lower" in caught.value.message


# --- the baseline ----------------------------------------------------------------------------


def test_the_baseline_is_the_most_frequent_training_character_and_its_unigram_loss():
    config = ExperimentConfig.from_dict({
        "task": chars_task(n_samples=60, seq_len=20), "model": {
            "embedding": {"output_dim": 2}, "layers": [{"units": 3, "return_sequences": True}]}})
    data = tasks.make(config.task, per_step_targets=True)
    baseline = tasks.trivial_baseline(config, data)
    text, _ = chars.stdlib_text(60 * 20 + 1, 0)
    targets = [c if c in chars.VOCABULARY else "other" for c in text[1:]]
    train, val = targets[:48 * 20], targets[48 * 20:]
    counts = collections.Counter(train)
    majority = max(counts, key=lambda c: (counts[c], -chars.VOCABULARY.find(c)))
    assert baseline.key == "val_accuracy" and baseline.higher_is_better
    assert baseline.value == pytest.approx(sum(c == majority for c in val) / len(val))
    # The unigram model, counted from one so that an unseen character has a finite cost.
    total = len(train) + chars.VOCAB_SIZE
    loss = -sum(math.log((counts[c] + 1) / total) for c in val) / len(val)
    assert baseline.loss == pytest.approx(loss)
    assert chars.symbol_name(chars.encode(majority)[0]) in baseline.description


# --- share link, code export, presets, a tiny training ---------------------------------------


def test_the_chars_task_travels_in_the_share_link():
    config = ExperimentConfig.from_dict({"task": chars_task(),
                                         "model": {"embedding": {"output_dim": 8}}})
    query = config.to_query()
    assert query["task.name"] == "chars" and query["model.embedding"] == "output_dim=8"
    assert ExperimentConfig.from_query(query) == (config, [])


def test_the_chars_task_needs_an_embedding_that_takes_all_98_ids():
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.from_dict({"task": chars_task()})
    assert caught.value.field == "model.embedding" and "character ids" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.from_dict({"task": chars_task(),
                                    "model": {"embedding": {"output_dim": 4, "input_dim": 97}}})
    assert caught.value.field == "model.embedding.input_dim" and "98" in str(caught.value)
    config = ExperimentConfig.from_dict({"task": chars_task(),
                                         "model": {"embedding": {"output_dim": 4}}})
    from lstm_explorer import model as model_module

    embedding = model_module.build(config).get_layer("embedding")
    assert embedding.input_dim == 98 and embedding.output_dim == 4


@pytest.mark.parametrize("per_step", [False, True])
def test_the_exported_script_reads_and_encodes_the_same_text(per_step, tmp_path):
    config = ExperimentConfig.from_dict({
        "task": chars_task(seed=5), "training": {"epochs": 1},
        "model": {"embedding": {"output_dim": 2},
                  "layers": [{"units": 2, "return_sequences": per_step}]}})
    path = tmp_path / "script.py"
    path.write_text(codegen.script(config))
    namespace = runpy.run_path(str(path), run_name="__main__")
    data = tasks.make(config.task, per_step_targets=per_step)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(namespace[name], getattr(data, name))
    assert "import lstm_explorer" not in path.read_text()


CHAR_PRESETS = [preset for preset in presets.PRESETS if preset.build().task["name"] == "chars"]


def test_a_chars_preset_predicts_every_next_character_within_the_servers_limits():
    from lstm_explorer import limits

    assert CHAR_PRESETS
    for preset in CHAR_PRESETS:
        config = preset.build()
        assert config.per_step_targets
        assert limits.check(config, limits.Limits()) == []


def test_one_tiny_epoch_of_the_chars_task_trains_and_traces_the_probe_text():
    from lstm_explorer.training import Trainer

    config = ExperimentConfig.from_dict({
        "task": chars_task(n_samples=40), "training": {"epochs": 1},
        "model": {"embedding": {"output_dim": 3},
                  "layers": [{"units": 4, "return_sequences": True}]}})
    result = Trainer(config).run()
    assert result.status == "finished"
    assert result.history["baseline"]["key"] == "val_accuracy"
    trace = result.traces[-1]
    texts = chars.texts_of_inputs(trace.inputs)
    assert len(texts) == tasks.PROBE_SIZE and all(len(text) == 12 for text in texts)
    assert trace.layers[0].values["c"].shape == (tasks.PROBE_SIZE, 12, 4)
