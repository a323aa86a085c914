"""Tests for lstm_explorer.tasks: shapes, determinism, target rules, the CSV loader."""

from __future__ import annotations

import ast
import builtins
import doctest
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstm_explorer import tasks
from lstm_explorer.errors import ConfigError


def task(name: str, **overrides) -> dict:
    """A small task config, as the config module would hand it over."""
    return {"name": name, "seq_len": 20, "n_samples": 64, "seed": 0, **overrides}


SERIES = np.round(np.sin(np.arange(60) / 5.0) * 3.0 + 10.0, 4)
WITH_HEADER = "day,price,volume\n" + "".join(
    f"{day},{price},{100 + day}\n" for day, price in enumerate(SERIES))
WITHOUT_HEADER = "".join(f"{day};{price}\n" for day, price in enumerate(SERIES))


def csv_task(text, column="", seq_len=10, **make_options):
    return tasks.make(task("csv", seq_len=seq_len, column=column), csv_text=text,
                      **make_options)


def config_error(text, column="", seq_len=10, **make_options) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        csv_task(text, column, seq_len, **make_options)
    return caught.value


# --- shapes, dtypes and facts per task ------------------------------------------------------

SHAPES = [
    # name, per_step, x shape, x dtype, y shape, y dtype
    ("adding", False, (20, 2), np.float32, (1,), np.float32),
    ("recall", False, (20, 8), np.float32, (), np.int32),
    ("recall", True, (20, 8), np.float32, (20,), np.int32),
    ("sine", False, (20, 1), np.float32, (1,), np.float32),
    ("sine", True, (20, 1), np.float32, (20, 1), np.float32),
    ("tokens", False, (20,), np.int32, (1,), np.float32),
]


@pytest.mark.parametrize("name, per_step, x_shape, x_dtype, y_shape, y_dtype", SHAPES)
def test_each_task_gives_arrays_of_the_documented_shapes_and_dtypes(
        name, per_step, x_shape, x_dtype, y_shape, y_dtype):
    data = tasks.make(task(name), per_step_targets=per_step)
    # 64 samples, validation_split 0.2: Keras's rule keeps int(64 * 0.8) = 51 for training.
    assert data.x_train.shape == (51, *x_shape) and data.x_val.shape == (13, *x_shape)
    assert data.y_train.shape == (51, *y_shape) and data.y_val.shape == (13, *y_shape)
    assert data.probe_x.shape == (tasks.PROBE_SIZE, *x_shape)
    assert data.probe_y.shape == (tasks.PROBE_SIZE, *y_shape)
    for array in (data.x_train, data.x_val, data.probe_x):
        assert array.dtype == x_dtype
    for array in (data.y_train, data.y_val, data.probe_y):
        assert array.dtype == y_dtype
    assert data.per_step is per_step


@pytest.mark.parametrize("per_step, y_shape", [(False, (1,)), (True, (10, 1))])
def test_csv_gives_float32_windows_with_one_or_per_step_targets(per_step, y_shape):
    data = csv_task(WITH_HEADER, "price", per_step_targets=per_step)
    windows = len(SERIES) - 10
    assert data.x_train.shape[1:] == (10, 1) and data.y_train.shape[1:] == y_shape
    assert len(data.x_train) + len(data.x_val) == windows
    assert data.x_train.dtype == data.y_train.dtype == np.float32
    assert data.kind == "regression" and data.n_outputs == 1 and data.input_features == 1


@pytest.mark.parametrize("name, kind, n_outputs, features, vocab", [
    ("adding", "regression", 1, 2, None),
    ("recall", "multiclass", 8, 8, None),
    ("sine", "regression", 1, 1, None),
    ("tokens", "binary", 1, None, 100),
])
def test_task_data_describes_the_head_and_inputs_the_model_needs(
        name, kind, n_outputs, features, vocab):
    data = tasks.make(task(name))
    assert (data.kind, data.n_outputs, data.input_features, data.vocab_size) == (
        kind, n_outputs, features, vocab)
    assert data.input_features is None or data.x_train.shape[-1] == data.input_features
    assert tasks.input_shape(task(name)) == data.x_train.shape[1:]
    assert tasks.n_outputs(task(name)) == n_outputs


def test_recall_uses_n_symbols_for_the_one_hot_width_and_the_head():
    data = tasks.make(task("recall", n_symbols=5, lag=3))
    assert data.x_train.shape[-1] == data.n_outputs == 5
    assert int(data.y_train.max()) < 5


@pytest.mark.parametrize("name, kind, loss, metric, per_step", [
    ("adding", "regression", "mse", "mae", False),
    ("recall", "multiclass", "sparse_categorical_crossentropy", "accuracy", True),
    ("sine", "regression", "mse", "mae", True),
    ("tokens", "binary", "binary_crossentropy", "accuracy", False),
    ("csv", "regression", "mse", "mae", True),
])
def test_kind_loss_metric_and_per_step_support_match_each_task(name, kind, loss, metric,
                                                                 per_step):
    assert tasks.task_kind(name) == kind
    assert tasks.default_loss(name) == loss
    assert tasks.default_metric(name) == metric
    assert tasks.supports_per_step(name) is per_step


def test_every_task_has_a_description_and_a_generator():
    assert set(tasks.DESCRIPTIONS) == set(tasks.GENERATORS) == set(tasks.TASK_NAMES)
    for text in tasks.DESCRIPTIONS.values():
        assert len(text) > 200


def test_an_unknown_task_name_is_a_config_error_listing_the_tasks():
    for call in (lambda: tasks.make(task("spiral")), lambda: tasks.task_kind("spiral")):
        with pytest.raises(ConfigError) as caught:
            call()
        assert caught.value.field == "task.name" and "adding" in str(caught.value)


@pytest.mark.parametrize("name", ["adding", "tokens"])
def test_per_step_targets_are_refused_for_tasks_with_one_target_per_sequence(name):
    with pytest.raises(ConfigError) as caught:
        tasks.make(task(name), per_step_targets=True)
    assert "one target per sequence" in caught.value.message


# --- determinism and the split ---------------------------------------------------------------

DETERMINISM_TASKS = [("adding", False), ("recall", False), ("recall", True), ("sine", False),
                     ("sine", True), ("tokens", False)]


@pytest.mark.parametrize("name, per_step", DETERMINISM_TASKS)
def test_the_same_seed_gives_identical_arrays(name, per_step):
    first = tasks.make(task(name, seed=7), per_step_targets=per_step)
    second = tasks.make(task(name, seed=7), per_step_targets=per_step)
    for field in ("x_train", "y_train", "x_val", "y_val", "probe_x", "probe_y"):
        assert np.array_equal(getattr(first, field), getattr(second, field))


@pytest.mark.parametrize("name, per_step", DETERMINISM_TASKS)
def test_a_different_seed_gives_different_arrays(name, per_step):
    first = tasks.make(task(name, seed=7), per_step_targets=per_step)
    second = tasks.make(task(name, seed=8), per_step_targets=per_step)
    assert not np.array_equal(first.x_train, second.x_train)


def test_generation_does_not_touch_numpy_global_random_state():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    tasks.make(task("sine"))
    assert np.random.random() == expected


def test_validation_is_the_last_part_of_the_generated_samples():
    data = tasks.make(task("adding", n_samples=50), validation_split=0.3)
    x, y = tasks.adding_problem(50, 20, np.random.default_rng(0))
    assert np.array_equal(np.concatenate([data.x_train, data.x_val]), x)
    assert np.array_equal(np.concatenate([data.y_train, data.y_val]), y)
    assert len(data.x_val) == 50 - int(50 * 0.7)


def test_the_probe_batch_is_the_start_of_the_validation_set():
    data = tasks.make(task("recall"))
    assert np.array_equal(data.probe_x, data.x_val[: tasks.PROBE_SIZE])
    assert np.array_equal(data.probe_y, data.y_val[: tasks.PROBE_SIZE])


def test_without_validation_the_probe_batch_comes_from_training_and_val_is_empty():
    data = tasks.make(task("sine"), validation_split=0.0, probe_size=3)
    assert len(data.x_train) == 64 and data.x_val.shape == (0, 20, 1)
    assert data.y_val.shape == (0, 1)
    assert np.array_equal(data.probe_x, data.x_train[:3])


@pytest.mark.parametrize("split", [-0.1, 0.9, 1.5, True])
def test_a_validation_split_outside_0_to_0_9_is_a_config_error(split):
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("adding"), validation_split=split)
    assert caught.value.field == "training.validation_split"


def test_a_split_that_leaves_no_training_sample_is_a_config_error_naming_both_knobs():
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("adding", n_samples=1), validation_split=0.5)
    assert caught.value.field == "training.validation_split"
    assert "no training sample" in caught.value.message
    assert "task.n_samples" in caught.value.message


def test_an_oversized_dataset_is_refused_before_any_memory_is_used():
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("recall", n_samples=200_000, seq_len=2000, n_symbols=64, lag=10))
    assert caught.value.field == "task.n_samples" and "MB" in caught.value.message


# --- adding ---------------------------------------------------------------------------------


def test_adding_marks_exactly_two_steps_one_in_each_half():
    x, _ = tasks.adding_problem(500, 21, np.random.default_rng(1))
    markers = x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :10].sum(axis=1) == 1).all()  # first half: steps 0..9 of 21
    assert (markers[:, 10:].sum(axis=1) == 1).all()
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()


def test_adding_target_is_the_sum_of_the_two_marked_values():
    data = tasks.make(task("adding", seq_len=30, n_samples=200))
    for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val)):
        expected = (x[..., 0] * x[..., 1]).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_adding_needs_two_steps():
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("adding", seq_len=1))
    assert caught.value.field == "task.seq_len"


# --- recall ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lag", [0, 3, 19])
def test_recall_target_is_the_symbol_lag_steps_before_the_end(lag):
    data = tasks.make(task("recall", lag=lag, n_symbols=6))
    symbols = data.x_train.argmax(axis=-1)
    assert np.array_equal(data.y_train, symbols[:, 20 - 1 - lag])
    assert (data.x_train.sum(axis=-1) == 1).all()  # one-hot


def test_recall_per_step_target_is_the_symbol_lag_steps_earlier_then_the_first_symbol():
    lag = 4
    data = tasks.make(task("recall", lag=lag), per_step_targets=True)
    symbols = data.x_train.argmax(axis=-1)
    assert np.array_equal(data.y_train[:, lag:], symbols[:, :-lag])
    assert np.array_equal(data.y_train[:, :lag], np.repeat(symbols[:, :1], lag, axis=1))
    assert any("first symbol" in note for note in data.notes)


def test_recall_last_per_step_target_is_the_single_target():
    single = tasks.make(task("recall", lag=5))
    per_step = tasks.make(task("recall", lag=5), per_step_targets=True)
    assert np.array_equal(per_step.y_train[:, -1], single.y_train)


@pytest.mark.parametrize("lag", [20, 25, -1])
def test_a_recall_lag_outside_the_sequence_is_a_config_error(lag):
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("recall", lag=lag))
    assert caught.value.field == "task.lag" and caught.value.value == lag
    assert "seq_len - 1 = 19" in caught.value.message


def test_recall_takes_the_generator_defaults_for_missing_keys():
    data = tasks.make(task("recall"))
    signature = inspect.signature(tasks.recall_problem).parameters
    assert data.n_outputs == signature["n_symbols"].default == 8
    symbols = data.x_train.argmax(axis=-1)
    assert np.array_equal(data.y_train, symbols[:, 20 - 1 - signature["lag"].default])


# --- sine -----------------------------------------------------------------------------------


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_sine_target_is_the_next_value_of_a_longer_generated_sequence(noise):
    x, y = tasks.sine_forecast(30, 20, np.random.default_rng(5), noise=noise)
    longer, _ = tasks.sine_forecast(30, 21, np.random.default_rng(5), noise=noise)
    assert np.array_equal(x, longer[:, :20])
    assert np.array_equal(y[:, 0], longer[:, 20, 0])


def test_sine_per_step_targets_are_the_inputs_one_step_later():
    data = tasks.make(task("sine"), per_step_targets=True)
    single = tasks.make(task("sine"))
    assert np.array_equal(data.y_train[:, :-1], data.x_train[:, 1:])
    assert np.array_equal(data.y_train[:, -1], single.y_train)


def test_sine_without_noise_is_a_smooth_wave_within_its_amplitude():
    x, _ = tasks.sine_forecast(100, 50, np.random.default_rng(2), noise=0.0)
    assert np.abs(x).max() <= 1.5
    # Periods of 8 steps or more: neighbours differ by at most 2 * pi / 8 * amplitude.
    assert np.abs(np.diff(x, axis=1)).max() <= 2 * np.pi / 8 * 1.5 + 1e-5


def test_sine_notes_give_the_noise_floor_and_the_naive_baseline():
    notes = " ".join(tasks.make(task("sine", noise=0.1)).notes)
    assert "0.01" in notes and "repeating the last input value" in notes


# --- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vocab_size, seq_len", [(100, 50), (4, 3), (7, 1), (5000, 10)])
def test_token_labels_are_1_exactly_when_positives_outnumber_negatives(vocab_size, seq_len):
    x, y = tasks.token_sentiment(400, seq_len, np.random.default_rng(3), vocab_size=vocab_size)
    positive, negative = tasks.sentiment_ids(vocab_size)
    n_positive = np.isin(x, list(positive)).sum(axis=1)
    n_negative = np.isin(x, list(negative)).sum(axis=1)
    assert np.array_equal(y[:, 0] == 1.0, n_positive > n_negative)
    assert ((n_positive + n_negative) >= 1).all()  # every sequence holds some sentiment
    assert x.min() >= 1 and x.max() <= vocab_size - 1


def test_token_classes_are_roughly_balanced():
    data = tasks.make(task("tokens", n_samples=2000, seq_len=50))
    share = float(np.concatenate([data.y_train, data.y_val]).mean())
    assert 0.45 < share < 0.55


def test_tokens_are_mostly_neutral_so_the_model_must_find_the_few_that_matter():
    x, _ = tasks.token_sentiment(500, 50, np.random.default_rng(0))
    positive, negative = tasks.sentiment_ids(100)
    sentiment = np.isin(x, list(positive) + list(negative)).mean()
    assert sentiment < 0.2


def test_a_vocabulary_below_4_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("tokens", vocab_size=3))
    assert caught.value.field == "task.vocab_size"


# --- csv: the happy paths -------------------------------------------------------------------


@pytest.mark.parametrize("text, column", [
    (WITH_HEADER, "price"),
    (WITH_HEADER, "PRICE"),
    (WITH_HEADER, "1"),
    (WITHOUT_HEADER, "1"),
])
def test_csv_column_by_name_or_index_gives_windows_of_the_standardised_series(text, column):
    data = csv_task(text, column, validation_split=0.0)
    n_train = len(SERIES) - 10
    mean, std = SERIES.mean(), SERIES.std()
    scaled = ((SERIES - mean) / std).astype(np.float32)
    np.testing.assert_allclose(data.x_train[0, :, 0], scaled[:10], atol=1e-6)
    np.testing.assert_allclose(data.y_train[:, 0], scaled[10:], atol=1e-6)
    assert len(data.x_train) == n_train
    assert any("standardised" in note and f"{mean:.4g}" in note for note in data.notes)


def test_csv_per_step_targets_are_the_window_shifted_by_one():
    data = csv_task(WITH_HEADER, "price", per_step_targets=True)
    assert np.array_equal(data.y_train[:, :-1], data.x_train[:, 1:])
    # Window i + 1 ends with the value that window i forecasts last.
    assert np.array_equal(data.x_train[1:, -1], data.y_train[:-1, -1])


def test_csv_standardises_with_the_training_part_only():
    data = csv_task(WITH_HEADER, "price")
    n_train = len(data.x_train)
    train_values = SERIES[: n_train + 10]
    expected = (SERIES[0] - train_values.mean()) / train_values.std()
    assert data.x_train[0, 0, 0] == pytest.approx(expected, abs=1e-5)


def test_csv_validation_is_the_most_recent_windows():
    data = csv_task(WITH_HEADER, "price")
    assert data.y_val[-1, 0] == pytest.approx(
        (SERIES[-1] - SERIES[: len(data.x_train) + 10].mean())
        / SERIES[: len(data.x_train) + 10].std(), abs=1e-5)


def test_csv_empty_column_picks_the_first_numeric_column_and_says_so():
    text = "date,price\n" + "".join(f"2024-01-{i + 1:02d},{v}\n" for i, v in
                                    enumerate(SERIES[:31]))
    data = csv_task(text, "")
    assert any("column 'price', the first numeric column" in note for note in data.notes)


def test_csv_n_samples_keeps_the_most_recent_windows():
    data = tasks.make(task("csv", seq_len=10, n_samples=20, column="price"),
                      csv_text=WITH_HEADER, validation_split=0.0)
    assert len(data.x_train) == 20
    assert any("the last 20" in note for note in data.notes)


@pytest.mark.parametrize("source", [
    WITH_HEADER.encode(),
    WITH_HEADER.encode("utf-16"),  # Excel's 'Unicode Text'
    b"\xef\xbb\xbf" + WITH_HEADER.encode(),  # Excel's 'CSV UTF-8' starts with a BOM
    WITH_HEADER.replace("\n", "\r\n"),
    WITH_HEADER.replace(",", "\t"),
    WITH_HEADER + "\n\n",
    '"day","price","volume"\n' + WITH_HEADER.split("\n", 1)[1],
])
def test_csv_accepts_bytes_bom_crlf_tabs_trailing_blank_lines_and_quotes(source):
    data = csv_task(source, "price", validation_split=0.0)
    expected = csv_task(WITH_HEADER, "price", validation_split=0.0)
    assert np.array_equal(data.x_train, expected.x_train)


def test_csv_semicolons_are_detected_and_mentioned():
    data = csv_task(WITHOUT_HEADER, "1")
    assert any("semicolons" in note for note in data.notes)


def test_csv_reads_the_file_at_task_path_when_no_text_is_given(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text(WITH_HEADER)
    from_file = tasks.make(task("csv", seq_len=10, column="price", path=str(path)))
    from_text = csv_task(WITH_HEADER, "price")
    assert np.array_equal(from_file.x_train, from_text.x_train)


def test_read_csv_series_returns_the_column_and_its_name():
    series = tasks.read_csv_series(WITH_HEADER, "volume")
    assert series.column == "column 'volume'"
    assert series.values[:3].tolist() == [100.0, 101.0, 102.0]


# --- csv: every malformed case names the problem ----------------------------------------------

BAD_CSV = [
    # id, csv text, column, seq_len, field, pieces of the message
    ("empty", "", "", 10, "task.csv", ["empty"]),
    ("blank lines only", "\n \n,\n", "", 10, "task.csv", ["empty"]),
    ("NUL bytes", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", 10, "task.csv", ["binary", "NUL"]),
    ("excel workbook", b"PK\x03\x04\x14\x00\x06\x00", "", 10, "task.csv", ["Excel", "CSV"]),
    ("utf-16 without a BOM", "a\n1\n".encode("utf-16-le"), "", 10, "task.csv",
     ["NUL", "CSV UTF-8"]),
    ("broken utf-16", b"\xff\xfea\x00\n\x00\x00\xd8", "", 10, "task.csv", ["not UTF-16"]),
    ("latin-1", "café\n1\n2\n".encode("latin-1"), "", 10, "task.csv",
     ["not UTF-8", "0xe9", "position 3"]),
    ("ragged row", "a,b\n1,2\n3,4\n5\n6,7\n", "a", 2, "task.csv",
     ["row 4 has 1 field", "row 1 has 2"]),
    ("unknown name", WITH_HEADER, "cost", 10, "task.column",
     ["no column named 'cost'", "'day', 'price', 'volume'"]),
    ("index past the end", WITH_HEADER, "3", 10, "task.column",
     ["index 3", "0 to 2"]),
    ("unknown name without header", WITHOUT_HEADER, "price", 10, "task.column",
     ["no header row", "0 to 1"]),
    ("text column", "when,price\nmonday,1\ntuesday,2\n", "when", 1, "task.column",
     ["column 'when' is not numeric", "row 2", "'monday'", "'price'"]),
    ("text in the middle", "price\n1\n2\nthree\n4\n", "price", 1, "task.column",
     ["row 4", "'three'"]),
    ("decimal comma", "a;b\n1,5;2\n2,5;3\n", "a", 1, "task.column",
     ["'1,5'", "decimal comma"]),
    ("empty cell", "a,b\n1,2\n2,\n3,4\n", "b", 1, "task.column",
     ["missing value", "empty cell", "row 3"]),
    ("NA marker", "a\n1\n2\nNA\n4\n", "a", 1, "task.column", ["missing value", "'NA'", "row 4"]),
    ("NaN", "a\n1\nnan\n", "a", 1, "task.column", ["missing", "'nan'", "row 3"]),
    ("infinity", "a\n1\n2\ninf\n4\n", "a", 1, "task.column", ["infinite", "'inf'", "row 4"]),
    ("overflowing number", "a\n1\n1e999\n", "a", 1, "task.column", ["infinite", "row 3"]),
    ("no numeric column", "a,b\nx,y\nz,w\n", "", 1, "task.column",
     ["no numeric column", "'a', 'b'"]),
    ("header only", "a,b\n", "", 1, "task.csv", ["no data rows"]),
    ("too short", "a\n1\n2\n3\n4\n5\n", "a", 10, "task.seq_len",
     ["5 values", "12 rows", "111", "at most 3"]),
    ("one window", "a\n1\n2\n3\n", "a", 2, "task.seq_len",
     ["only 1 window;", "at least 2", "at most 1"]),
    ("constant", "a\n" + "3\n" * 30, "a", 5, "task.column", ["constant", "3"]),
    ("huge values", "a\n1e308\n-1e308\n1e308\n5\n", "a", 1, "task.column",
     ["too large to standardise"]),
    ("a late value beyond float32", "a\n1\n2\n1\n2\n1\n1e300\n", "a", 1, "task.column",
     ["too large to standardise", "1e+300"]),
]


@pytest.mark.parametrize("text, column, seq_len, field, pieces",
                         [case[1:] for case in BAD_CSV], ids=[case[0] for case in BAD_CSV])
def test_a_malformed_csv_is_a_config_error_that_names_the_problem(text, column, seq_len,
                                                                   field, pieces):
    error = config_error(text, column, seq_len)
    assert error.field == field
    for piece in pieces:
        assert piece in error.message, f"{piece!r} not in {error.message!r}"


def test_a_csv_error_about_the_column_echoes_the_column_given():
    error = config_error(WITH_HEADER, "cost")
    assert error.value == "cost" and str(error).startswith("task.column='cost': ")


def test_a_csv_over_the_size_limit_is_refused_with_the_limit(monkeypatch):
    monkeypatch.setattr(tasks, "MAX_CSV_BYTES", 1000)
    for source in ("1\n" * 600, b"1\n" * 600):
        error = config_error(source, "0")
        assert error.field == "task.csv"
        assert "is 1.2 kB, more than the limit of 1000 bytes" in error.message


def test_the_real_size_limit_is_5_mb_and_checked_before_parsing():
    error = config_error("1\n" * (3 * 2**20), "0")
    assert error.field == "task.csv" and "is 6 MB, more than the limit of 5 MB" in error.message


def test_a_csv_with_too_many_rows_is_refused_with_the_limit(monkeypatch):
    monkeypatch.setattr(tasks, "MAX_CSV_ROWS", 50)
    error = config_error("a\n" + "1\n" * 60, "a")
    assert error.field == "task.csv" and "more than 50 rows" in error.message


def test_too_few_windows_for_training_and_validation_is_a_config_error():
    # 12 values, seq_len 10: two windows; a split of 0.6 would leave none for training.
    error = config_error("a\n" + "".join(f"{i}\n" for i in range(12)), "a",
                         validation_split=0.6)
    assert error.field == "training.validation_split" and "windows" in error.message


@pytest.mark.parametrize("path, piece", [("", "needs a CSV file"),
                                         ("/no/such/file.csv", "no such file")])
def test_a_missing_csv_path_is_a_config_error_on_task_path(path, piece):
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("csv", seq_len=5, column="", path=path))
    assert caught.value.field == "task.path" and piece in caught.value.message


def test_a_folder_as_csv_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        tasks.make(task("csv", seq_len=5, column="", path=str(tmp_path)))
    assert caught.value.field == "task.path"


CSV_ALPHABET = st.sampled_from(list("0123456789.,;-+e\n\r\t \"'abn") + ["nan", "inf", "\x00"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.lists(CSV_ALPHABET, max_size=200).map("".join),
    st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True).map(repr), min_size=1,
                      max_size=3).map(",".join), max_size=30).map("\n".join),
), column=st.sampled_from(["", "0", "1", "a"]), seq_len=st.integers(1, 4))
def test_any_bytes_or_text_as_csv_either_parse_or_raise_config_error(source, column, seq_len):
    try:
        data = tasks.make(task("csv", seq_len=seq_len, column=column), csv_text=source)
    except ConfigError as error:
        assert error.field in ("task.csv", "task.column", "task.seq_len",
                               "training.validation_split")
        assert error.message
    else:
        assert data.x_train.shape[1:] == (seq_len, 1)
        for array in (data.x_train, data.y_train, data.x_val, data.y_val):
            assert np.isfinite(array).all()


# --- the generators stand alone ---------------------------------------------------------------

GENERATOR_CALLS = {
    "adding": lambda f: f(5, 12, np.random.default_rng(0)),
    "recall": lambda f: f(5, 12, np.random.default_rng(0), lag=3, n_symbols=4, per_step=True),
    "sine": lambda f: f(5, 12, np.random.default_rng(0), noise=0.1, per_step=True),
    "tokens": lambda f: f(5, 12, np.random.default_rng(0), vocab_size=30),
    "csv": lambda f: f(np.arange(20.0), 12, per_step=True),
}


@pytest.mark.parametrize("name", sorted(GENERATOR_CALLS))
def test_each_generator_source_runs_alone_with_only_numpy(name):
    generator = tasks.GENERATORS[name]
    namespace = {"np": np}
    exec(inspect.getsource(generator), namespace)  # noqa: S102 - our own source
    standalone = namespace[generator.__name__]
    x, y = GENERATOR_CALLS[name](standalone)
    expected_x, expected_y = GENERATOR_CALLS[name](generator)
    assert np.array_equal(x, expected_x) and np.array_equal(y, expected_y)


@pytest.mark.parametrize("name", sorted(GENERATOR_CALLS))
def test_each_generator_refers_to_nothing_but_numpy_and_its_arguments(name):
    tree = ast.parse(inspect.getsource(tasks.GENERATORS[name]))
    function = tree.body[0]
    assigned = {node.id for node in ast.walk(function)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    arguments = {arg.arg for arg in function.args.args}
    python_builtins = set(dir(builtins))
    loaded = {node.id for node in ast.walk(function)
              if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    assert loaded - assigned - arguments - python_builtins <= {"np"}


def test_the_module_imports_only_numpy_and_the_standard_library():
    tree = ast.parse(Path(tasks.__file__).read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"numpy", "lstm_explorer", "__future__"}
    assert modules <= allowed, modules - allowed


def test_the_docstring_examples_run():
    results = doctest.testmod(tasks, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert results.failed == 0 and results.attempted > 10


def test_generator_keyword_defaults_equal_the_registry_defaults():
    from lstm_explorer import params

    for generator in tasks.GENERATORS.values():
        for name, parameter in inspect.signature(generator).parameters.items():
            if parameter.default is not inspect.Parameter.empty and name != "per_step":
                assert parameter.default == params.get(f"task.{name}").default, name


def test_a_sine_stream_is_one_wave_cut_into_consecutive_windows():
    data = tasks.make({"name": "sine", "seq_len": 5, "n_samples": 40, "seed": 2,
                       "stream": True, "noise": 0.0}, validation_split=0.25)
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    np.testing.assert_array_equal(y[:-1, 0], x[1:, 0, 0])
    np.testing.assert_array_equal(x[:-1, 1:, 0], x[:-1, 1:, 0])
    assert any("continuous wave" in note for note in data.notes)


def test_arranging_a_stream_for_state_makes_each_row_continue_itself():
    x, y = tasks.sine_stream(12, 3, np.random.default_rng(0), noise=0.0)
    arranged_x, arranged_y = tasks.arrange_for_state(x, y, batch_size=4)
    batches = arranged_x.reshape(3, 4, 3)
    targets = arranged_y.reshape(3, 4)
    for batch in range(2):
        for row in range(4):
            assert targets[batch, row] == batches[batch + 1, row, 0]


# --- the trivial baseline ------------------------------------------------------------------


def baseline_of(config_dict: dict, **make_options):
    from lstm_explorer.config import ExperimentConfig

    config = ExperimentConfig.from_dict(config_dict)
    validation_split = config.training["validation_split"]
    data = tasks.make(config.task, validation_split=validation_split,
                      per_step_targets=config.per_step_targets, **make_options)
    return tasks.trivial_baseline(config, data), data


def test_the_adding_baseline_is_the_variance_of_the_validation_targets():
    baseline, data = baseline_of({"task": {"n_samples": 300, "seq_len": 12, "seed": 3}})
    targets = data.y_val[:, 0].astype(np.float64)
    squared = (targets - targets.mean()) ** 2
    assert baseline.key == "val_loss" and not baseline.higher_is_better
    assert baseline.value == pytest.approx(targets.var())
    assert baseline.loss == pytest.approx(targets.var())
    assert baseline.samples == 60
    assert baseline.margin == pytest.approx(3 * squared.std() / np.sqrt(60))
    answer = float(baseline.description.removeprefix("always answering "))
    assert answer == pytest.approx(targets.mean(), abs=0.005)


def test_with_mae_the_adding_baseline_answers_the_median():
    baseline, data = baseline_of({"task": {"n_samples": 300, "seq_len": 12},
                                  "training": {"loss": "mae"}})
    targets = data.y_val[:, 0].astype(np.float64)
    assert baseline.value == pytest.approx(np.abs(targets - np.median(targets)).mean())


def test_with_huber_the_adding_baseline_is_quadratic_below_one_and_linear_above():
    baseline, data = baseline_of({"task": {"n_samples": 300, "seq_len": 12},
                                  "training": {"loss": "huber"}})
    errors = np.abs(data.y_val[:, 0].astype(np.float64) - data.y_val.mean(dtype=np.float64))
    expected = np.where(errors <= 1, 0.5 * errors**2, errors - 0.5).mean()
    assert baseline.value == pytest.approx(expected)


def test_without_a_validation_set_the_baseline_is_measured_on_the_training_set():
    baseline, data = baseline_of({"task": {"n_samples": 50, "seq_len": 6},
                                  "training": {"validation_split": 0.0}})
    assert baseline.key == "loss" and baseline.samples == 50
    assert baseline.value == pytest.approx(data.y_train.astype(np.float64).var())


def test_the_recall_baseline_always_answers_the_most_frequent_training_symbol():
    baseline, data = baseline_of({"task": {"name": "recall", "n_samples": 400, "seq_len": 8,
                                           "lag": 3, "n_symbols": 5, "seed": 1}})
    counts = np.bincount(data.y_train, minlength=5)
    majority = int(np.argmax(counts))
    assert baseline.key == "val_accuracy" and baseline.higher_is_better
    assert baseline.value == pytest.approx(np.mean(data.y_val == majority))
    assert f"symbol {majority}" in baseline.description
    frequencies = counts / counts.sum()
    assert baseline.loss == pytest.approx(-np.log(frequencies[data.y_val]).mean())
    accuracy = baseline.value
    assert baseline.margin == pytest.approx(3 * np.sqrt(accuracy * (1 - accuracy) / 80))


def test_with_per_step_targets_the_recall_baseline_counts_every_step():
    baseline, data = baseline_of({"task": {"name": "recall", "n_samples": 100, "seq_len": 8,
                                           "lag": 2},
                                  "model": {"layers": [{"return_sequences": True}]}})
    majority = int(np.argmax(np.bincount(data.y_train.ravel())))
    assert baseline.samples == 20 * 8
    assert baseline.value == pytest.approx(np.mean(data.y_val == majority))


def test_the_tokens_baseline_answers_the_more_frequent_label():
    baseline, data = baseline_of({"task": {"name": "tokens", "n_samples": 300, "seq_len": 10},
                                  "model": {"embedding": {"output_dim": 4}}})
    labels = data.y_train[:, 0]
    majority = int(labels.mean() > 0.5)
    assert baseline.value == pytest.approx(np.mean(data.y_val[:, 0] == majority))
    positive = labels.mean()
    y = data.y_val[:, 0]
    assert baseline.loss == pytest.approx(
        -(y * np.log(positive) + (1 - y) * np.log(1 - positive)).mean())
    assert "label" in baseline.description


def test_the_sine_baseline_repeats_the_last_input_value():
    baseline, data = baseline_of({"task": {"name": "sine", "n_samples": 200, "seq_len": 15,
                                           "noise": 0.1}})
    expected = np.mean((data.y_val[:, 0].astype(np.float64) - data.x_val[:, -1, 0]) ** 2)
    assert baseline.value == pytest.approx(expected)
    assert baseline.description == "repeating the last input value"
    assert any(f"{expected:.3g}" in note for note in data.notes)


def test_the_per_step_csv_baseline_repeats_each_steps_input():
    baseline, data = baseline_of({"task": {"name": "csv", "seq_len": 10},
                                  "model": {"layers": [{"return_sequences": True}]}},
                                 csv_text=WITH_HEADER)
    expected = np.mean((data.y_val.astype(np.float64) - data.x_val) ** 2)
    assert baseline.value == pytest.approx(expected)
    assert baseline.samples == data.y_val.size
