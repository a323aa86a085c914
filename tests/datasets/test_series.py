"""Tests for lstm_explorer.datasets.series and the series task: split by time, scaling,
the naive baseline, config checks, the code export and a tiny training."""

from __future__ import annotations

import runpy

import numpy as np
import pytest

from lstm_explorer import codegen, params, presets, readings, tasks
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.datasets import series
from lstm_explorer.errors import ConfigError

NILE = series.series_values("nile")  # 100 yearly values: the shortest real series


def series_task(**overrides) -> dict:
    return {"name": "series", "dataset": "nile", "seq_len": 10, "horizon": 1,
            "relative": False, "n_samples": 2000, "seed": 0, **overrides}


def expected_split(length, seq_len, horizon, split, per_step):
    """Window start indexes for training and validation, written out plainly."""
    starts = list(range(length - seq_len - horizon + 1))
    gap = seq_len - 1 if per_step else 0
    usable = len(starts) - gap
    n_train = int(usable * (1 - split))
    return starts[:n_train], starts[n_train + gap:]


def targets_of(start, seq_len, horizon, per_step):
    if per_step:
        return list(range(start + horizon, start + seq_len + horizon))
    return [start + seq_len + horizon - 1]


# --- the catalog -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", series.NAMES)
def test_each_catalog_series_loads_offline_with_the_length_the_catalog_states(name):
    values = series.series_values(name)
    info = series.SERIES[name]
    assert values.shape == (info.length,) and np.isfinite(values).all()
    assert not values.flags.writeable  # shared by every caller
    assert len(info.description) > 150 and info.title


def test_the_registry_offers_exactly_the_catalog_series():
    assert params.SERIES == series.NAMES
    assert params.get("task.dataset").choices == series.NAMES


def test_time_labels_follow_each_series_calendar():
    assert series.SERIES["sunspots"].time_label(308) == "2008"
    assert series.SERIES["co2"].time_label(0) == "1958-03"
    assert series.SERIES["co2"].time_label(525) == "2001-12"
    assert series.SERIES["elnino"].time_label(731) == "2010-12"
    assert series.SERIES["unemployment"].time_label(202) == "2009Q3"


def test_co2_is_the_monthly_mean_of_the_weekly_readings():
    from statsmodels import datasets

    weekly = datasets.co2.load_pandas().data["co2"]
    march_1958 = weekly["1958-03"].mean()
    assert series.series_values("co2")[0] == pytest.approx(march_1958)


# --- windows and the split by time -----------------------------------------------------------


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("horizon", [1, 3])
def test_the_nile_windows_are_the_series_values_in_order_split_by_time(per_step, horizon):
    data = tasks.make(series_task(horizon=horizon), per_step_targets=per_step)
    train_starts, val_starts = expected_split(100, 10, horizon, 0.2, per_step)
    last_train = max(targets_of(train_starts[-1], 10, horizon, per_step))
    period = NILE[: last_train + 1]
    mean, std = period.mean(), period.std()

    def unscaled(array):
        return array.astype(np.float64) * std + mean

    assert len(data.x_train) == len(train_starts) and len(data.x_val) == len(val_starts)
    for row, start in enumerate(train_starts):
        np.testing.assert_allclose(unscaled(data.x_train[row, :, 0]), NILE[start:start + 10],
                                   rtol=1e-5)
        wanted = NILE[targets_of(start, 10, horizon, per_step)]
        np.testing.assert_allclose(unscaled(data.y_train[row]).ravel(), wanted, rtol=1e-5)
    for row, start in enumerate(val_starts):
        wanted = NILE[targets_of(start, 10, horizon, per_step)]
        np.testing.assert_allclose(unscaled(data.y_val[row]).ravel(), wanted, rtol=1e-5)


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("horizon", [1, 4])
def test_no_training_window_reads_or_forecasts_a_value_that_validation_forecasts(
        per_step, horizon):
    train_starts, val_starts = expected_split(100, 10, horizon, 0.2, per_step)
    # The arrays themselves: cut an index series the way the task cuts the Nile.
    x_train, y_train, x_val, y_val, _, _ = series.split_series(
        np.arange(100.0), 10, horizon, False, 2000, 0.2, per_step)
    std, mean = np.arange(100.0)[: len(train_starts) + 10 + horizon - 1].std(), None
    del mean
    touched_by_training = set()
    for array in (x_train, y_train):
        indexes = np.rint(array * std + np.arange(100.0)[: len(train_starts) + 10 + horizon - 1]
                          .mean()).astype(int)
        touched_by_training.update(indexes.ravel().tolist())
    forecast_in_validation = set(np.rint(
        y_val * std + np.arange(100.0)[: len(train_starts) + 10 + horizon - 1].mean()
    ).astype(int).ravel().tolist())
    assert touched_by_training and forecast_in_validation
    assert max(touched_by_training) < min(forecast_in_validation)
    assert forecast_in_validation == {target for start in val_starts
                                      for target in targets_of(start, 10, horizon, per_step)}
    assert max(forecast_in_validation) == 99


def test_the_scaling_comes_from_the_training_period_only():
    counts = series.SeriesSplit(*series.split_counts(100, 10, 1, 2000, 0.2, False))
    changed = NILE.copy()
    changed[counts.boundary:] *= 100.0  # every value after the training period
    original = series.split_series(NILE, 10, 1, False, 2000, 0.2, False)
    altered = series.split_series(changed, 10, 1, False, 2000, 0.2, False)
    np.testing.assert_array_equal(original[0], altered[0])  # x_train
    np.testing.assert_array_equal(original[1], altered[1])  # y_train
    assert original[4:] == altered[4:] == (NILE[:82].mean(), NILE[:82].std())
    assert not np.array_equal(original[3], altered[3])  # validation sees the change


def test_n_samples_keeps_the_most_recent_windows():
    data = tasks.make(series_task(n_samples=30))
    assert len(data.x_train) + len(data.x_val) == 30
    # The last validation target is the last year, 1970.
    period = NILE[60:60 + 24 + 10]  # windows 60..89: 24 train, targets up to index 60+33
    unscaled = data.y_val[-1, 0] * period.std() + period.mean()
    assert unscaled == pytest.approx(NILE[-1], rel=1e-5)


def test_relative_windows_start_at_zero_and_keep_the_targets_offset_from_the_start():
    plain = tasks.make(series_task())
    relative = tasks.make(series_task(relative=True))
    assert (relative.x_train[:, 0, 0] == 0).all()
    np.testing.assert_allclose(relative.x_train, plain.x_train - plain.x_train[:, :1],
                               atol=1e-6)
    np.testing.assert_allclose(relative.y_val, plain.y_val - plain.x_val[:, 0], atol=1e-6)


def test_the_same_config_gives_the_same_arrays():
    first, second = tasks.make(series_task()), tasks.make(series_task())
    for field in ("x_train", "y_train", "x_val", "y_val", "probe_x", "probe_y"):
        assert np.array_equal(getattr(first, field), getattr(second, field))


# --- the naive baseline ----------------------------------------------------------------------


@pytest.mark.parametrize("per_step, relative", [(False, False), (True, False), (False, True)])
def test_the_baseline_is_the_naive_last_value_forecast_measured_on_validation(
        per_step, relative):
    horizon = 2
    config = ExperimentConfig.from_dict({
        "task": series_task(horizon=horizon, relative=relative),
        "model": {"layers": [{"units": 3, "return_sequences": per_step}]}})
    baseline = tasks.trivial_baseline(config, tasks.make(config.task,
                                                         per_step_targets=per_step))
    train_starts, val_starts = expected_split(100, 10, horizon, 0.2, per_step)
    last_train = max(targets_of(train_starts[-1], 10, horizon, per_step))
    std = NILE[: last_train + 1].std()
    errors = []
    for start in val_starts:
        for target in targets_of(start, 10, horizon, per_step):
            errors.append(((NILE[target] - NILE[target - horizon]) / std) ** 2)
    assert baseline.key == "val_loss" and baseline.samples == len(errors)
    assert baseline.value == pytest.approx(np.mean(errors), rel=1e-4)
    assert "naive forecast" in baseline.description


# --- config checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("task, field", [
    ({"seq_len": 99}, "task.seq_len"),
    ({"seq_len": 5, "horizon": 97}, "task.horizon"),
    ({"seq_len": 60, "horizon": 1}, None),
])
def test_windows_longer_than_the_series_are_refused_when_the_config_is_built(task, field):
    data = {"task": series_task(**task)}
    if field is None:
        assert ExperimentConfig.from_dict(data).task["seq_len"] == 60
        return
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.from_dict(data)
    assert caught.value.field == field and "nile" in caught.value.message


def test_per_step_targets_need_room_for_the_gap_between_training_and_validation():
    data = {"task": series_task(seq_len=50),
            "model": {"layers": [{"units": 3, "return_sequences": True}]}}
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.from_dict(data)
    assert caught.value.field == "task.seq_len" and "per-step" in caught.value.message
    data["model"]["layers"][0]["return_sequences"] = False
    ExperimentConfig.from_dict(data)


def test_a_stateful_batch_larger_than_the_series_training_windows_is_refused():
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.from_dict({"task": series_task(), "training": {"batch_size": 80},
                                    "model": {"layers": [{"units": 3, "stateful": True}]}})
    assert caught.value.field == "training.batch_size" and "only 72" in caught.value.message


def test_a_missing_statsmodels_is_a_config_error_on_the_dataset(monkeypatch):
    def no_statsmodels(name):
        raise ImportError("No module named 'statsmodels'")

    monkeypatch.setattr(series, "_cached_series", no_statsmodels)
    with pytest.raises(ConfigError) as caught:
        series.series_values("nile")
    assert caught.value.field == "task.dataset" and "statsmodels" in caught.value.message


# --- share link, code export, presets, a tiny training ---------------------------------------


def test_the_series_settings_travel_in_the_share_link():
    config = ExperimentConfig.from_dict({"task": series_task(dataset="co2", horizon=2,
                                                             relative=True)})
    query = config.to_query()
    assert {key: query[key] for key in ("task.name", "task.dataset", "task.horizon",
                                        "task.relative")} == {
        "task.name": "series", "task.dataset": "co2", "task.horizon": "2",
        "task.relative": "true"}
    assert ExperimentConfig.from_query(query) == (config, [])


@pytest.mark.parametrize("per_step", [False, True])
def test_the_exported_script_loads_and_splits_the_series_as_the_app_does(per_step, tmp_path):
    config = ExperimentConfig.from_dict({
        "task": series_task(dataset="co2", seq_len=6, horizon=2, relative=True,
                            n_samples=60),
        "model": {"layers": [{"units": 2, "return_sequences": per_step}]},
        "training": {"epochs": 1}})
    path = tmp_path / "script.py"
    path.write_text(codegen.script(config))
    namespace = runpy.run_path(str(path), run_name="__main__")
    data = tasks.make(config.task, per_step_targets=per_step)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(namespace[name], getattr(data, name))
    assert "import lstm_explorer" not in path.read_text()


SERIES_PRESETS = [preset for preset in presets.PRESETS if preset.build().task["name"] == "series"]


def test_there_are_presets_that_forecast_three_different_series():
    assert len({preset.build().task["dataset"] for preset in SERIES_PRESETS}) >= 3


@pytest.mark.parametrize("preset", SERIES_PRESETS, ids=lambda preset: preset.key)
def test_each_series_preset_makes_its_data_with_a_validation_period(preset):
    config = preset.build()
    data = tasks.make(config.task, validation_split=config.training["validation_split"],
                      per_step_targets=config.per_step_targets)
    assert len(data.x_val) >= 50 and "naive" in preset.look_for


def test_one_tiny_epoch_of_the_series_task_trains_and_is_judged_against_the_naive_forecast():
    from lstm_explorer.training import Trainer

    config = ExperimentConfig.from_dict({
        "task": series_task(dataset="sunspots", seq_len=8, n_samples=60),
        "model": {"layers": [{"units": 4}]}, "training": {"epochs": 1}})
    result = Trainer(config).run()
    assert result.status == "finished"
    assert result.history["baseline"]["key"] == "val_loss"
    assert "naive forecast" in readings.verdict(config, result.history)
