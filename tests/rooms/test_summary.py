"""The summary a student sends: made from a run as the app keeps it, checked, sized."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lstm_explorer import compare, readings
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.rooms.errors import InvalidInput, RunTooLarge
from lstm_explorer.rooms.limits import RoomLimits
from lstm_explorer.rooms.summary import check_summary, encode, summary_of, summary_size
from tests.rooms.helpers import config, history


def test_a_summary_holds_the_config_the_rows_the_final_numbers_and_the_verdict():
    run = history(epochs=4, steps=6)
    made = summary_of(run, config(**{"layer1.units": 8}), "The verdict.")
    assert set(made) == {"format", "config", "history", "final", "verdict"}
    assert made["config"] == config(**{"layer1.units": 8}).to_dict()
    assert made["verdict"] == "The verdict."
    assert set(made["history"]) == {"epochs", "status", "message", "baseline"}
    row = made["history"]["epochs"][-1]
    assert set(row) == {"epoch", "loss", "val_loss", "mae", "val_mae", "seconds", "probe"}
    assert set(row["probe"]) == {"loss", "grad_h", "grad_c", "weight_grad_norms", "saturation"}
    assert made["final"] == {"metric": "val_mae", "value": pytest.approx(run["epochs"][-1]["val_mae"]),
                             "loss": pytest.approx(run["epochs"][-1]["val_loss"]),
                             "layer": "layer0", "step0_ratio": pytest.approx(1e-3, rel=1e-3)}


def test_every_reading_of_the_summary_is_the_reading_of_the_run():
    run = history(epochs=5, steps=8, grad0=3.3e-5)
    settings = config(**{"task.lag": 4})
    made = summary_of(run, settings)
    sent = json.loads(encode(made))  # as the store gives it back
    assert sent["verdict"] == readings.verdict(settings, run)
    assert readings.verdict(settings, sent["history"]) == readings.verdict(settings, run)
    assert readings.run_level(sent["history"]) == readings.run_level(run)
    assert compare.final_metric(sent["history"]) == compare.final_metric(run)
    assert compare.step0_ratio(sent["history"]) == pytest.approx(compare.step0_ratio(run), rel=1e-3)


def test_gradient_norms_keep_four_significant_digits_and_nan_becomes_null():
    run = history(epochs=2, steps=3, status="diverged")
    run["epochs"][0]["probe"]["grad_h"]["layer0"] = np.asarray([1.234567e-7, np.nan, 0.98765])
    run["epochs"][0]["loss"] = np.float32(0.5)
    made = summary_of(run, None)
    first, last = made["history"]["epochs"]
    assert first["probe"]["grad_h"]["layer0"] == [1.235e-07, None, 0.9877]
    assert first["loss"] == 0.5 and type(first["loss"]) is float
    assert last["loss"] is None  # the NaN of the epoch it diverged
    assert made["history"]["status"] == "diverged"
    assert "Diverged in epoch 2" in made["verdict"]
    json.loads(encode(made))  # strict JSON: no NaN


def test_nothing_of_the_session_but_the_summary_goes_in():
    run = history()
    run["epochs"][0]["model_weights"] = np.zeros((3, 3))  # an array, not a number
    run["epochs"][0]["probe"]["states"] = {"layer0/h": [[0.5]]}
    run["notes"] = ["a note"]
    run["trace_arrays"] = {"layer0/h": np.zeros(3)}
    run["csv_text"] = "private,data"
    text = encode(summary_of(run, None, "Learned."))
    for kept_out in ("model_weights", "states", "a note", "trace_arrays", "private"):
        assert kept_out not in text


def test_a_summary_over_the_size_limit_is_refused_with_its_size_and_the_limit():
    run = history(epochs=30, steps=60)
    with pytest.raises(RunTooLarge) as caught:
        summary_of(run, None, limits=RoomLimits(max_run_kb=4))
    size = caught.value.size
    assert size > 4096 and caught.value.limit == 4096
    assert str(caught.value).startswith(f"this run's summary is {size / 1024:,.1f} KB ({size:,} "
                                        "bytes); a run sent to a class room may be at most "
                                        "4.0 KB (4,096 bytes)")
    assert summary_size(summary_of(run, None, limits=RoomLimits(max_run_kb=64))) == size


def test_the_size_limit_comes_from_the_environment(monkeypatch):
    run = history(epochs=10, steps=20)
    monkeypatch.setenv("LSTM_EXPLORER_ROOM_MAX_RUN_KB", "1")
    with pytest.raises(RunTooLarge, match="at most 1.0 KB"):
        summary_of(run, None)
    monkeypatch.setenv("LSTM_EXPLORER_ROOM_MAX_RUN_KB", "100")
    assert summary_of(run, None)["format"] == 1


def test_a_default_run_of_a_class_is_far_under_the_default_limit():
    settings = ExperimentConfig.default()
    steps, epochs = settings.task["seq_len"], settings.training["epochs"]
    size = summary_size(summary_of(history(epochs=epochs, steps=steps), settings))
    assert 5_000 < size < RoomLimits().max_run_bytes / 10


@pytest.mark.parametrize("bad, argument", [
    ("not a dict", "summary"),
    ({"format": 2, "history": {"epochs": []}, "verdict": ""}, r"summary\['format'\]"),
    ({"format": 1, "history": {"rows": []}, "verdict": ""}, r"summary\['history'\]"),
    ({"format": 1, "history": {"epochs": [1]}, "verdict": ""}, r"summary\['history'\]"),
    ({"format": 1, "history": {"epochs": []}, "verdict": None}, r"summary\['verdict'\]"),
    ({"format": 1, "history": {"epochs": []}, "verdict": "", "config": {"task": {"lag": -1}}},
     r"summary\['config'\]"),
    ({"format": 1, "history": {"epochs": [{"loss": math.nan}]}, "verdict": ""}, "summary"),
])
def test_a_malformed_summary_is_refused_naming_the_part(bad, argument):
    with pytest.raises(InvalidInput, match=f"^{argument}="):
        check_summary(bad, RoomLimits())


def test_a_history_that_is_not_one_is_refused_by_name():
    with pytest.raises(InvalidInput, match=r"^history=\[\]: expected a training history"):
        summary_of([], None)
    with pytest.raises(InvalidInput, match=r"^config=.*not a valid config: training.epochs=0"):
        summary_of(history(), {"training": {"epochs": 0}})


def test_the_summary_of_a_real_training_reads_as_the_run_does():
    from lstm_explorer.training import Trainer

    settings = ExperimentConfig.from_dict({"task": {"n_samples": 80, "seq_len": 6, "seed": 4},
                                           "model": {"layers": [{"units": 3}]},
                                           "training": {"epochs": 2}})
    result = Trainer(settings).run()
    made = summary_of(result.history, result.config)
    back = json.loads(encode(made))
    assert back["config"] == settings.to_dict()
    assert len(back["history"]["epochs"]) == 2
    assert back["verdict"] == readings.verdict(settings, result.history)
    assert readings.verdict(settings, back["history"]) == back["verdict"]
    steps = back["history"]["epochs"][-1]["probe"]["grad_h"]["layer0"]
    assert len(steps) == 6
